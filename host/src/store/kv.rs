//! A component's key-value state in the store: its own keys only, the
//! total (keys plus values) held to its grant's cap. Both backends run the
//! same statements; a write checks the cap in the same transaction.

use super::{Db, Store};

/// The longest key, in bytes.
pub const MAX_KEY: usize = 256;

/// Why a key-value operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The key is empty, too long, or has control characters.
    #[error("`{0}` is not a key: keys are 1 to 256 bytes without control characters")]
    BadKey(String),
    /// The write would pass the grant's cap.
    #[error("the state would hold {would} bytes, over the grant's {max} ([kv] max_kib)")]
    Full {
        /// Bytes the state would hold.
        would: u64,
        /// The cap.
        max: u64,
    },
    /// The store failed.
    #[error("the store failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// One component's state.
#[derive(Clone, Copy)]
pub struct Kv<'a> {
    store: &'a Store,
    owner: &'a str,
}

impl Store {
    /// The key-value state of component `owner`.
    pub fn kv<'a>(&'a self, owner: &'a str) -> Kv<'a> {
        Kv { store: self, owner }
    }
}

fn check(key: &str) -> Result<(), KvError> {
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        let shown: String = key.chars().filter(|c| !c.is_control()).take(64).collect();
        return Err(KvError::BadKey(shown));
    }
    Ok(())
}

impl Kv<'_> {
    /// The value of `key`, if set.
    ///
    /// # Errors
    ///
    /// A bad key; the store failing.
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        check(key)?;
        const GET: &str = "SELECT value FROM kv WHERE owner = $1 AND key = $2";
        Ok(match self.store.db() {
            Db::Sqlite(p) => sqlx::query_scalar(GET).bind(self.owner).bind(key).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(GET).bind(self.owner).bind(key).fetch_optional(p).await?,
        })
    }

    /// Set `key` to `value`, unless the state would pass `max` bytes
    /// (then nothing changes).
    ///
    /// # Errors
    ///
    /// A bad key, [`KvError::Full`], the store failing.
    pub async fn set(&self, key: &str, value: &str, max: u64) -> Result<(), KvError> {
        check(key)?;
        const OTHERS: &str = "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM kv WHERE owner = $1 AND key <> $2";
        const PUT: &str = "INSERT INTO kv (owner, key, value, size, updated_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (owner, key) DO UPDATE SET value = excluded.value, size = excluded.size, updated_ms = excluded.updated_ms";
        let size = (key.len() + value.len()) as i64;
        let now = self.store.now_ms();
        macro_rules! put {
            ($begin:expr, $lock:expr) => {{
                let mut tx = $begin.await?;
                if let Some(lock) = $lock {
                    // One writer per owner at a time, so two writes cannot
                    // both pass the cap.
                    sqlx::query(lock).bind(self.owner).execute(&mut *tx).await?;
                }
                let others: i64 = sqlx::query_scalar(OTHERS).bind(self.owner).bind(key).fetch_one(&mut *tx).await?;
                let would = (others + size) as u64;
                if would > max {
                    return Err(KvError::Full { would, max });
                }
                sqlx::query(PUT).bind(self.owner).bind(key).bind(value).bind(size).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
            }};
        }
        match self.store.db() {
            Db::Sqlite(p) => put!(p.begin_with("BEGIN IMMEDIATE"), None::<&str>),
            Db::Postgres(p) => put!(p.begin(), Some("SELECT pg_advisory_xact_lock(hashtext('kv:' || $1))")),
        }
        Ok(())
    }

    /// Remove `key`; whether it was set.
    ///
    /// # Errors
    ///
    /// A bad key; the store failing.
    pub async fn delete(&self, key: &str) -> Result<bool, KvError> {
        check(key)?;
        const DELETE: &str = "DELETE FROM kv WHERE owner = $1 AND key = $2";
        let n = match self.store.db() {
            Db::Sqlite(p) => sqlx::query(DELETE).bind(self.owner).bind(key).execute(p).await?.rows_affected(),
            Db::Postgres(p) => sqlx::query(DELETE).bind(self.owner).bind(key).execute(p).await?.rows_affected(),
        };
        Ok(n > 0)
    }

    /// The keys that start with `prefix`, in order.
    ///
    /// # Errors
    ///
    /// The store failing.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        // The state is small (capped by the grant): filtering and sorting
        // here keep LIKE's escaping and the collations, which differ per
        // backend, out of it.
        const KEYS: &str = "SELECT key FROM kv WHERE owner = $1";
        let all: Vec<String> = match self.store.db() {
            Db::Sqlite(p) => sqlx::query_scalar(KEYS).bind(self.owner).fetch_all(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(KEYS).bind(self.owner).fetch_all(p).await?,
        };
        let mut keys: Vec<String> = all.into_iter().filter(|k| k.starts_with(prefix)).collect();
        keys.sort();
        Ok(keys)
    }
}
