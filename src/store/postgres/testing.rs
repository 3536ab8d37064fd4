//! Throwaway PostgreSQL databases for tests (the store's own tests and the
//! integration suite): `CREATE DATABASE tg_<random>` on the server named by
//! `TOLLGATE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`,
//! trust auth), dropped when the guard drops, also when the test panics. Nothing
//! else on the server is touched.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

/// The server tests use, as an admin URL (its database is only used to connect).
pub fn admin_url() -> String {
    std::env::var("TOLLGATE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh, empty database; dropped (with its connections) on drop.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin: String,
}

impl TestDatabase {
    /// Creates `tg_<random>` on the [`admin_url`] server.
    pub async fn create() -> Result<TestDatabase, sqlx::Error> {
        Self::create_on(&admin_url()).await
    }

    /// Creates `tg_<random>` on the server of `admin` (a `postgres://` URL).
    pub async fn create_on(admin: &str) -> Result<TestDatabase, sqlx::Error> {
        let name = format!("tg_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let _ = conn.close().await;
        Ok(TestDatabase {
            url: with_database(admin, &name),
            name,
            admin: admin.to_owned(),
        })
    }
}

/// `url` with its database path replaced by `db` (query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{db}{query}", &base[..host_end])
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside (or outside) a runtime; a thread of its own with its
        // own runtime works in both.
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let attempt = async {
                    let mut conn = PgConnection::connect(&admin).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await?;
                    conn.close().await
                };
                match tokio::time::timeout(Duration::from_secs(20), attempt).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("could not drop test database {name}: {e}"),
                    Err(_) => eprintln!("dropping test database {name} timed out"),
                }
            });
        });
        let _ = dropper.join();
    }
}
