//! Databases for tests: a SQLite file in a temporary directory, or a fresh
//! database on the PostgreSQL server (with pgvector) that `scripts/pg`
//! starts — `CLAW_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`. PostgreSQL tests are
//! never skipped: without a server they fail and say how to start one.

use claw::store::{DatabaseUrl, Store};
use std::sync::atomic::{AtomicU32, Ordering};

/// One test database, dropped at the end of the test.
pub struct TestDb {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

fn admin_url() -> String {
    std::env::var("CLAW_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("claw.db").display())).unwrap();
        TestDb { url, _dir: Some(dir), pg_name: None }
    }

    pub async fn postgres() -> TestDb {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("claw_test_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let admin = admin_url();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL tests need a server at {admin} ({e}); run `bash scripts/pg` or set CLAW_TEST_POSTGRES_URL"
            )
        });
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut conn).await.unwrap();
        let create = format!("CREATE DATABASE {name}");
        sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut conn).await.unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
        TestDb { url: DatabaseUrl::parse(&format!("{base}/{name}")).unwrap(), _dir: None, pg_name: Some(name) }
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }

    pub async fn cleanup(self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url()).await
        {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut conn).await;
        }
    }
}

/// Run `async fn $name(db: &TestDb)` once per backend: `$name::sqlite` and
/// `$name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::db::TestDb::sqlite();
                super::$name(&db).await;
                db.cleanup().await;
            }
            #[tokio::test]
            async fn postgres() {
                let db = $crate::db::TestDb::postgres().await;
                super::$name(&db).await;
                db.cleanup().await;
            }
        }
    )*};
}
