//! Fresh, empty stores for the store's own tests: one per backend this build can
//! reach, so every store test runs through the traits against each backend. SQLite
//! (a temp file) is always there, and PostgreSQL (a fresh database on the server of
//! `TOLLGATE_TEST_PG_URL`, default 127.0.0.1:5432, dropped afterwards): every test
//! in `usage/tests.rs` and beside the SQL runs against both.

use std::future::Future;

use super::Store;

/// An opened store and whatever keeps its database alive (a temp dir, or the
/// guard that drops the PostgreSQL database).
pub struct FreshStore {
    pub backend: &'static str,
    pub store: Store,
    _keep: Keep,
}

enum Keep {
    Dir(#[allow(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    Pg(#[allow(dead_code, reason = "held for its Drop")] super::pg_testing::TestDatabase),
}

/// One fresh store per backend, each with migrations applied and no rows.
pub async fn fresh_stores() -> Vec<FreshStore> {
    let dir = tempfile::tempdir().expect("a temp dir for the test database");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::open(&url).await.expect("open a fresh SQLite store");
    let db = super::pg_testing::TestDatabase::create()
        .await
        .expect("PostgreSQL for the store tests (TOLLGATE_TEST_PG_URL, default 127.0.0.1:5432)");
    let pg = Store::open(&db.url)
        .await
        .expect("open a fresh PostgreSQL store");
    vec![
        FreshStore {
            backend: "sqlite",
            store,
            _keep: Keep::Dir(dir),
        },
        FreshStore {
            backend: "postgres",
            store: pg,
            _keep: Keep::Pg(db),
        },
    ]
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
        // Closed before the guard drops the database (which would force it anyway).
        fresh.store.close().await;
    }
}
