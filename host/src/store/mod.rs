//! The store: everything claw persists beyond components, in SQLite (the
//! embedded default: a file under the data directory, nothing to install)
//! or PostgreSQL 15+ with pgvector (for production and for several claw
//! processes sharing one database). One interface over both; each backend
//! keeps its own SQL where the dialects differ.

pub mod approvals;
pub mod index;
pub mod kv;
pub mod pairing;
pub mod sessions;
mod url;
pub mod workspace;

pub use url::{DatabaseUrl, redact};

use crate::problem::Problem;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::str::FromStr as _;
use std::time::Duration;

static SQLITE: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("../migrations/postgres");

/// A connection pool to one of the two backends.
#[derive(Debug, Clone)]
pub enum Db {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// PostgreSQL with pgvector.
    Postgres(PgPool),
}

/// The open, migrated store.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    url: DatabaseUrl,
    /// The database's clock minus this machine's (ms): on PostgreSQL,
    /// where processes on several machines compare leases, every lease is
    /// on the database's clock; SQLite is one machine (0).
    clock_offset: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Store {
    /// Connect, apply pending migrations, and refuse a database written by
    /// a newer claw.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the URL (never its password) and the fix.
    pub async fn connect(url: &DatabaseUrl) -> Result<Store, Problem> {
        let shown = url.redacted();
        let unreachable = |e: sqlx::Error| {
            Problem::new(format!("cannot open the database {shown}: {e}")).hint(if url.is_postgres() {
                "is PostgreSQL running and reachable? (`bash scripts/pg` starts a local one); check the host, port, user and database in database_url / CLAW_DATABASE_URL"
            } else {
                "check that the directory exists and is writable, or set database_url in config.toml"
            })
        };
        let db = if url.is_postgres() {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url.as_str())
                .await
                .map_err(unreachable)?;
            Db::Postgres(pool)
        } else {
            if let Some(dir) = url.sqlite_path().and_then(|p| p.parent().map(ToOwned::to_owned)) {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Problem::new(format!("cannot create {}: {e}", dir.display())))?;
            }
            let options = SqliteConnectOptions::from_str(url.as_str())
                .map_err(unreachable)?
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            Db::Sqlite(SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(unreachable)?)
        };
        let store = Store { db, url: url.clone(), clock_offset: Default::default() };
        store.migrate().await?;
        store.sync_clock().await;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), Problem> {
        let shown = self.url.redacted();
        let (migrator, applied): (&Migrator, Vec<i64>) = match &self.db {
            Db::Sqlite(p) => (&SQLITE, applied_versions_sqlite(p).await),
            Db::Postgres(p) => (&POSTGRES, applied_versions_pg(p).await),
        };
        let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        if let Some(newer) = applied.iter().find(|v| !known.contains(v)) {
            return Err(Problem::new(format!(
                "the database {shown} has migration {newer}, which this claw does not know: it was written by a newer claw"
            ))
            .hint("upgrade claw, or point database_url at another database"));
        }
        let result = match &self.db {
            Db::Sqlite(p) => migrator.run(p).await,
            Db::Postgres(p) => migrator.run(p).await,
        };
        result.map_err(|e| {
            let text = e.to_string();
            if pgvector_missing(&text) {
                Problem::new(format!("the PostgreSQL server behind {shown} does not have the pgvector extension"))
                    .hint("install pgvector on the server (Debian: build it from the `pgvector` source package against postgresql-server-dev; `bash scripts/pg` does this), then run claw again")
            } else {
                Problem::new(format!("migrating the database {shown} failed: {text}"))
            }
        })
    }

    /// The pool.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Now (ms since the epoch) on the store's clock: the database's on
    /// PostgreSQL (this machine's plus the last measured offset), this
    /// machine's on SQLite.
    pub fn now_ms(&self) -> i64 {
        crate::components::store_now_ms() as i64 + self.clock_offset.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Measure the database's clock against this machine's again (the
    /// worker pool does, with each heartbeat). A failed measurement keeps
    /// the last offset.
    pub async fn sync_clock(&self) {
        let Db::Postgres(p) = &self.db else { return };
        const NOW: &str = "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
        let before = crate::components::store_now_ms() as i64;
        let Ok(db_now) = sqlx::query_scalar::<_, i64>(NOW).fetch_one(p).await else { return };
        let after = crate::components::store_now_ms() as i64;
        let offset = db_now - (before + after) / 2;
        self.clock_offset.store(offset, std::sync::atomic::Ordering::Relaxed);
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// The URL, password redacted.
    pub fn url(&self) -> String {
        self.url.redacted()
    }
}

/// Whether a migration error means the server lacks pgvector.
fn pgvector_missing(error: &str) -> bool {
    error.contains("extension \"vector\" is not available") || error.contains("vector.control")
}

async fn applied_versions_sqlite(p: &SqlitePool) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(p).await.unwrap_or_default()
}

async fn applied_versions_pg(p: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(p).await.unwrap_or_default()
}

/// The store, connected on first use: commands that never touch it never
/// open it, and the runtime can start before the database is reachable.
#[derive(Debug)]
pub struct LazyStore {
    url: Result<DatabaseUrl, String>,
    cell: tokio::sync::OnceCell<Result<Store, String>>,
}

impl LazyStore {
    /// For this home's configured database.
    pub fn new(home: &crate::home::Home) -> LazyStore {
        LazyStore { url: DatabaseUrl::resolve(home).map_err(|e| e.to_string()), cell: tokio::sync::OnceCell::new() }
    }

    /// The store, connecting (and migrating) the first time.
    ///
    /// # Errors
    ///
    /// Why it cannot be opened (the URL redacted).
    pub async fn get(&self) -> Result<&Store, String> {
        let url = self.url.as_ref().map_err(Clone::clone)?;
        self.cell
            .get_or_init(|| async { Store::connect(url).await.map_err(|e| e.to_string()) })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A transaction that will write. On SQLite it takes the write lock at
/// `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes
/// fails at once with "database is locked" when another writer committed
/// in between (WAL cannot upgrade a stale snapshot; the busy timeout does
/// not apply), which several workers writing at once make likely.
pub(crate) trait BeginWrite {
    /// The database.
    type Db: sqlx::Database;
    /// Begin a transaction that will write.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

#[cfg(test)]
mod tests {
    use super::pgvector_missing;

    #[test]
    fn a_server_without_pgvector_is_recognised() {
        // PostgreSQL 15's message when the extension's files are absent.
        let msg = "error returned from database: extension \"vector\" is not available";
        assert!(pgvector_missing(msg));
        assert!(pgvector_missing(
            "could not open extension control file \"/usr/share/postgresql/15/extension/vector.control\""
        ));
        assert!(!pgvector_missing("relation \"documents\" already exists"));
    }
}
