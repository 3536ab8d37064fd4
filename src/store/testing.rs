//! Fresh, empty stores for the store's own tests: one per backend this build can
//! reach, so every store test runs through the traits against each backend. SQLite
//! (a temp file) is always there; the PostgreSQL backend adds its entry here, and
//! every test in `usage/tests.rs` and beside the SQL then runs against both.

use std::future::Future;

use super::Store;

/// An opened store and whatever keeps its database alive (a temp dir).
pub struct FreshStore {
    pub backend: &'static str,
    pub store: Store,
    _keep: tempfile::TempDir,
}

/// One fresh store per backend, each with migrations applied and no rows.
pub async fn fresh_stores() -> Vec<FreshStore> {
    let dir = tempfile::tempdir().expect("a temp dir for the test database");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::open(&url).await.expect("open a fresh SQLite store");
    vec![FreshStore {
        backend: "sqlite",
        store,
        _keep: dir,
    }]
}

/// Runs `test` once against a fresh store of every backend, after `seed`.
pub async fn on_every_backend<S, SF, T, TF>(seed: S, test: T)
where
    S: Fn(Store) -> SF,
    SF: Future<Output = ()>,
    T: Fn(Store) -> TF,
    TF: Future<Output = ()>,
{
    for fresh in fresh_stores().await {
        eprintln!("store test on {}", fresh.backend);
        seed(fresh.store.clone()).await;
        test(fresh.store.clone()).await;
    }
}
