//! The queue as the operator reads it: jobs by state and kind, and the
//! depth of the queue per kind and state (`claw jobs`, `claw status`).

use super::queue::{COLUMNS, Row, job};
use super::{Job, JobState};
use crate::store::{Db, Store};

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// At most this many, newest first (0: 50).
    pub limit: u32,
}

/// How many jobs of a kind are in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    /// The kind.
    pub kind: String,
    /// The state.
    pub state: JobState,
    /// How many.
    pub count: i64,
}

impl Store {
    /// Jobs matching `filter`, newest first.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, sqlx::Error> {
        // Built from constants only: the filter values are bound.
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR kind = $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let state = filter.state.map(JobState::as_str);
        let limit = i64::from(if filter.limit == 0 { 50 } else { filter.limit });
        let rows: Vec<Row> = match self.db() {
            Db::Sqlite(p) => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(state).bind(&filter.kind).bind(limit).fetch_all(p).await?
            }
            // PostgreSQL must know the parameters' type where they stand alone.
            Db::Postgres(p) => {
                let sql = sql.replace("$1 IS NULL", "$1::text IS NULL").replace("$2 IS NULL", "$2::text IS NULL");
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(state).bind(&filter.kind).bind(limit).fetch_all(p).await?
            }
        };
        Ok(rows.into_iter().map(job).collect())
    }

    /// The queue's depth: jobs per kind and state, by kind then state.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn queue_depth(&self) -> Result<Vec<Depth>, sqlx::Error> {
        const SQL: &str = "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state";
        let rows: Vec<(String, String, i64)> = match self.db() {
            Db::Sqlite(p) => sqlx::query_as(SQL).fetch_all(p).await?,
            Db::Postgres(p) => sqlx::query_as(SQL).fetch_all(p).await?,
        };
        Ok(rows
            .into_iter()
            .filter_map(|(kind, state, count)| Some(Depth { kind, state: JobState::parse(&state)?, count }))
            .collect())
    }
}
