//! The workspace: a filesystem-like tree of text documents in the store —
//! read, write, append, list by prefix, move, delete, with modification
//! times. External content is checked for prompt-injection markers as it is
//! written and keeps its flag.

use super::{Db, Store};
use crate::agent::injection;
use crate::store::BeginWrite as _;

/// The largest document, in bytes.
pub const MAX_DOCUMENT: usize = 8 << 20;

/// A document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its path, e.g. `notes/today.md`.
    pub path: String,
    /// Its text.
    pub content: String,
    /// Last change, ms since the Unix epoch.
    pub modified_ms: i64,
    /// Injection markers found when external content was written.
    pub flagged: Option<String>,
    /// Who last wrote it: `operator` or `component:NAME`.
    pub written_by: String,
}

impl Document {
    /// Whether the operator wrote it last (else a component did).
    pub fn by_operator(&self) -> bool {
        self.written_by == OPERATOR
    }
}

/// How the operator is recorded as a writer.
pub const OPERATOR: &str = "operator";

/// A listing entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Its path.
    pub path: String,
    /// Size in bytes.
    pub size: i64,
    /// Last change, ms since the Unix epoch.
    pub modified_ms: i64,
    /// Whether it holds flagged external content.
    pub flagged: bool,
}

/// Who is writing: the operator's own text is trusted; anything a
/// component writes (a tool's output, a page, a message) is external, and
/// the document records which component wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// The operator (CLI).
    Operator,
    /// The named component: checked for injection markers.
    Component(&'a str),
    /// The named routine's report (the agent's text, from tool output and
    /// a trigger's payload): external, checked like a component's.
    Routine(&'a str),
}

impl Origin<'_> {
    /// As recorded in `written_by`.
    pub fn writer(&self) -> String {
        match self {
            Origin::Operator => OPERATOR.to_string(),
            Origin::Component(name) => format!("component:{name}"),
            Origin::Routine(name) => crate::jobs::writer(name),
        }
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// Not a valid path.
    #[error("`{0}` is not a workspace path (use a/b/c.md: relative, no `..`, `.` or empty parts)")]
    InvalidPath(String),
    /// Nothing there.
    #[error("`{0}` does not exist")]
    NotFound(String),
    /// Something already there.
    #[error("`{0}` already exists")]
    Exists(String),
    /// Over [`MAX_DOCUMENT`].
    #[error("`{0}` would be larger than {MAX_DOCUMENT} bytes")]
    TooLarge(String),
    /// The database failed.
    #[error("the store failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// Check and normalise a path: relative, `/`-separated, no `..`, `.` or
/// empty segments, no backslash or NUL.
///
/// # Errors
///
/// [`WorkspaceError::InvalidPath`].
pub fn normalize(path: &str) -> Result<String, WorkspaceError> {
    let trimmed = path.trim_start_matches('/');
    let bad = trimmed.is_empty()
        || trimmed.len() > 1024
        || trimmed.contains('\\')
        || trimmed.contains('\0')
        || trimmed.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(WorkspaceError::InvalidPath(path.to_string()));
    }
    Ok(trimmed.to_string())
}

/// Run the same statement on whichever backend, with SQL per dialect.
#[macro_export]
#[doc(hidden)]
macro_rules! on_db {
    ($db:expr, $pool:ident, $sqlite:expr, $pg:expr, |$sql:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => {
                let $sql = $sqlite;
                $body
            }
            Db::Postgres($pool) => {
                let $sql = $pg;
                $body
            }
        }
    };
}

/// Re-cut `$path`'s chunks from its current content inside transaction
/// `$tx` (no chunks when the document is gone), and bump the index
/// generation. The same SQL serves both dialects.
macro_rules! rechunk {
    ($tx:ident, $path:expr) => {{
        let content: Option<String> = sqlx::query_scalar(CONTENT).bind($path).fetch_optional(&mut *$tx).await?;
        sqlx::query(DELETE_CHUNKS).bind($path).execute(&mut *$tx).await?;
        if let Some(content) = content {
            for (seq, text) in crate::memory::chunk::chunk($path, &content).into_iter().enumerate() {
                sqlx::query(INSERT_CHUNK).bind($path).bind(seq as i64).bind(text).execute(&mut *$tx).await?;
            }
        }
        sqlx::query(BUMP).execute(&mut *$tx).await?;
    }};
}

const CONTENT: &str = "SELECT content FROM documents WHERE path = $1";
const DELETE_CHUNKS: &str = "DELETE FROM chunks WHERE path = $1";
const INSERT_CHUNK: &str = "INSERT INTO chunks (path, seq, content) VALUES ($1, $2, $3)";
const BUMP: &str = "UPDATE memory_state SET generation = generation + 1 WHERE id = 1";

const READ: &str = "SELECT path, content, modified_ms, flagged, written_by FROM documents WHERE path = $1";
const WRITE: &str = "INSERT INTO documents (path, content, modified_ms, flagged, written_by) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (path) DO UPDATE SET content = excluded.content, modified_ms = excluded.modified_ms, flagged = excluded.flagged,
    written_by = excluded.written_by";
const APPEND: &str = "INSERT INTO documents (path, content, modified_ms, flagged, written_by) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (path) DO UPDATE SET content = documents.content || excluded.content, modified_ms = excluded.modified_ms,
    flagged = CASE WHEN excluded.flagged IS NULL THEN documents.flagged
                   WHEN documents.flagged IS NULL THEN excluded.flagged
                   ELSE documents.flagged || ',' || excluded.flagged END,
    written_by = CASE WHEN excluded.written_by = 'operator' THEN documents.written_by ELSE excluded.written_by END";
const SIZE_SQLITE: &str = "SELECT length(CAST(content AS BLOB)) FROM documents WHERE path = $1";
const SIZE_PG: &str = "SELECT CAST(octet_length(content) AS BIGINT) FROM documents WHERE path = $1";
const LIST_SQLITE: &str = "SELECT path, length(CAST(content AS BLOB)), modified_ms, flagged IS NOT NULL FROM documents
    WHERE substr(path, 1, length($1)) = $1 ORDER BY path";
const LIST_PG: &str =
    "SELECT path, CAST(octet_length(content) AS BIGINT), modified_ms, flagged IS NOT NULL FROM documents
    WHERE substr(path, 1, length($1)) = $1 ORDER BY path";
const MOVE: &str = "UPDATE documents SET path = $2, modified_ms = $3 WHERE path = $1";
const EXISTS: &str = "SELECT COUNT(*) FROM documents WHERE path = $1";
const DELETE: &str = "DELETE FROM documents WHERE path = $1";

fn now_ms() -> i64 {
    crate::components::store_now_ms() as i64
}

fn flags(content: &str, origin: Origin<'_>) -> Option<String> {
    match origin {
        Origin::Operator => None,
        Origin::Component(_) | Origin::Routine(_) => {
            let found = injection::markers(content);
            (!found.is_empty()).then(|| found.join(","))
        }
    }
}

/// The workspace of a store.
#[derive(Debug, Clone, Copy)]
pub struct Workspace<'a> {
    store: &'a Store,
}

impl Store {
    /// The workspace.
    pub fn workspace(&self) -> Workspace<'_> {
        Workspace { store: self }
    }
}

impl Workspace<'_> {
    /// Read a document.
    ///
    /// # Errors
    ///
    /// An invalid path or a database failure.
    pub async fn read(&self, path: &str) -> Result<Option<Document>, WorkspaceError> {
        let path = normalize(path)?;
        let row: Option<(String, String, i64, Option<String>, String)> =
            on_db!(self.store.db(), p, READ, READ, |sql| sqlx::query_as(sql).bind(&path).fetch_optional(p).await?);
        Ok(row.map(|(path, content, modified_ms, flagged, written_by)| Document {
            path,
            content,
            modified_ms,
            flagged,
            written_by,
        }))
    }

    /// Create or replace a document. Returns the injection markers found
    /// (for external content).
    ///
    /// # Errors
    ///
    /// An invalid path, a document over [`MAX_DOCUMENT`], or a database failure.
    pub async fn write(&self, path: &str, content: &str, origin: Origin<'_>) -> Result<Option<String>, WorkspaceError> {
        let path = normalize(path)?;
        if content.len() > MAX_DOCUMENT {
            return Err(WorkspaceError::TooLarge(path));
        }
        self.put(WRITE, &path, content, origin).await
    }

    /// Append to a document, creating it if needed.
    ///
    /// # Errors
    ///
    /// As [`Workspace::write`].
    pub async fn append(
        &self,
        path: &str,
        content: &str,
        origin: Origin<'_>,
    ) -> Result<Option<String>, WorkspaceError> {
        let path = normalize(path)?;
        let size: Option<i64> = on_db!(self.store.db(), p, SIZE_SQLITE, SIZE_PG, |sql| sqlx::query_scalar(sql)
            .bind(&path)
            .fetch_optional(p)
            .await?);
        if size.unwrap_or(0) as usize + content.len() > MAX_DOCUMENT {
            return Err(WorkspaceError::TooLarge(path));
        }
        self.put(APPEND, &path, content, origin).await
    }

    /// Run `sql` (the write or append upsert) for `path` in one transaction
    /// with its chunks; the injection markers found, for external content.
    async fn put(
        &self,
        upsert: &'static str,
        path: &str,
        content: &str,
        origin: Origin<'_>,
    ) -> Result<Option<String>, WorkspaceError> {
        let flagged = flags(content, origin);
        let writer = origin.writer();
        on_db!(self.store.db(), p, upsert, upsert, |sql| {
            let mut tx = p.begin_write().await?;
            sqlx::query(sql)
                .bind(path)
                .bind(content)
                .bind(now_ms())
                .bind(&flagged)
                .bind(&writer)
                .execute(&mut *tx)
                .await?;
            rechunk!(tx, path);
            tx.commit().await?;
        });
        Ok(flagged)
    }

    /// Documents whose path starts with `prefix` (`""` lists all), by path.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Entry>, WorkspaceError> {
        let prefix = prefix.trim_start_matches('/');
        let rows: Vec<(String, i64, i64, bool)> =
            on_db!(self.store.db(), p, LIST_SQLITE, LIST_PG, |sql| sqlx::query_as(sql)
                .bind(prefix)
                .fetch_all(p)
                .await?);
        Ok(rows
            .into_iter()
            .map(|(path, size, modified_ms, flagged)| Entry { path, size, modified_ms, flagged })
            .collect())
    }

    /// Move a document; the target must not exist.
    ///
    /// # Errors
    ///
    /// `NotFound`, `Exists`, an invalid path or a database failure.
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), WorkspaceError> {
        let (from, to) = (normalize(from)?, normalize(to)?);
        let taken: i64 =
            on_db!(self.store.db(), p, EXISTS, EXISTS, |sql| sqlx::query_scalar(sql).bind(&to).fetch_one(p).await?);
        if taken > 0 {
            return Err(WorkspaceError::Exists(to));
        }
        let moved: Result<u64, sqlx::Error> = on_db!(self.store.db(), p, MOVE, MOVE, |sql| async {
            let mut tx = p.begin_write().await?;
            let n = sqlx::query(sql).bind(&from).bind(&to).bind(now_ms()).execute(&mut *tx).await?.rows_affected();
            rechunk!(tx, &from);
            rechunk!(tx, &to);
            tx.commit().await?;
            Ok(n)
        }
        .await);
        match moved {
            Ok(0) => Err(WorkspaceError::NotFound(from)),
            Ok(_) => Ok(()),
            // Another writer created `to` meanwhile: the primary key refuses.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(WorkspaceError::Exists(to)),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete a document.
    ///
    /// # Errors
    ///
    /// `NotFound`, an invalid path or a database failure.
    pub async fn delete(&self, path: &str) -> Result<(), WorkspaceError> {
        let path = normalize(path)?;
        let n = on_db!(self.store.db(), p, DELETE, DELETE, |sql| {
            let mut tx = p.begin_write().await?;
            let n = sqlx::query(sql).bind(&path).execute(&mut *tx).await?.rows_affected();
            rechunk!(tx, &path);
            tx.commit().await?;
            n
        });
        if n == 0 {
            return Err(WorkspaceError::NotFound(path));
        }
        Ok(())
    }
}
