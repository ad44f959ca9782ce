//! The memory index's queries: full-text ranking, vector ranking, and the
//! bookkeeping of which chunks the current embedder has embedded. Chunks
//! themselves are kept in step with documents by the workspace.

use super::{Db, Store};
use crate::memory::embed;
use crate::memory::rrf::Ranked;
use crate::on_db;
use crate::store::BeginWrite as _;

/// Full-text without a prefix: rank inside FTS5 alone, then fetch only the
/// winners' rows (joining every match to read its path costs a row read
/// per match).
const FTS_SQLITE_IDS: &str =
    "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH $1 ORDER BY bm25(chunks_fts) LIMIT $2";
/// Full-text: SQLite FTS5 with BM25 (negated so that higher is better).
const FTS_SQLITE: &str =
    "SELECT c.id, c.path, c.content, -bm25(chunks_fts) FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
    WHERE chunks_fts MATCH $1 AND substr(c.path, 1, length($2)) = $2 ORDER BY bm25(chunks_fts) LIMIT $3";
/// Full-text: PostgreSQL tsvector with ts_rank_cd, over at most 500
/// matching chunks (ranking every match of a very common word costs a
/// detoast per row, and such words carry little signal anyway).
const FTS_PG: &str = "SELECT id, path, content, CAST(ts_rank_cd(tsv, q) AS DOUBLE PRECISION) FROM
    (SELECT id, path, content, tsv FROM chunks, to_tsquery('english', $1) q0
     WHERE tsv @@ q0 AND substr(path, 1, length($2)) = $2 LIMIT 500) m,
    to_tsquery('english', $1) q ORDER BY ts_rank_cd(tsv, q) DESC, id LIMIT $3";
/// The same without a prefix: a filter the planner cannot estimate makes
/// it prefer a sequential scan over the GIN index.
const FTS_PG_ALL: &str = "SELECT id, path, content, CAST(ts_rank_cd(tsv, q) AS DOUBLE PRECISION) FROM
    (SELECT id, path, content, tsv FROM chunks, to_tsquery('english', $1) q0 WHERE tsv @@ q0 AND $2 = '' LIMIT 500) m,
    to_tsquery('english', $1) q ORDER BY ts_rank_cd(tsv, q) DESC, id LIMIT $3";
const GENERATION: &str = "SELECT generation FROM memory_state WHERE id = 1";
const PENDING: &str = "SELECT id, content FROM chunks WHERE embedder IS NULL OR embedder <> $1 ORDER BY id LIMIT $2";
/// Three index range counts rather than one scan of the table: cheap when
/// nothing (or little) is pending, which is the usual case at search time.
const COUNT_PENDING: &str = "SELECT (SELECT COUNT(*) FROM chunks WHERE embedder IS NULL)
    + (SELECT COUNT(*) FROM chunks WHERE embedder < $1) + (SELECT COUNT(*) FROM chunks WHERE embedder > $1)";
const COUNT: &str = "SELECT COUNT(*) FROM chunks";
const SET_SQLITE: &str = "UPDATE chunks SET embedder = $1, dims = $2, embedding = $3 WHERE id = $4";
const SET_PG: &str = "UPDATE chunks SET embedder = $1, dims = $2, embedding = CAST($3 AS vector) WHERE id = $4";
const VECTORS_SQLITE: &str = "SELECT id, path, embedding FROM chunks WHERE embedder = $1";
const BY_IDS_SQLITE: &str = "SELECT id, path, content FROM chunks WHERE id IN (SELECT value FROM json_each($1))";
const BUMP: &str = "UPDATE memory_state SET generation = generation + 1 WHERE id = 1";

/// The words of a query, safe to splice into either full-text syntax.
fn words(query: &str) -> Vec<String> {
    query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).take(32).collect()
}

/// pgvector's text form of a vector.
fn pg_vector(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    format!("[{}]", parts.join(","))
}

impl Store {
    /// The index generation: changes whenever chunks or embeddings change.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn index_generation(&self) -> Result<i64, sqlx::Error> {
        Ok(on_db!(self.db(), p, GENERATION, GENERATION, |sql| sqlx::query_scalar(sql).fetch_one(p).await?))
    }

    /// How many chunks `embedder` has not embedded (index range counts only).
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn pending_count(&self, embedder: &str) -> Result<i64, sqlx::Error> {
        Ok(on_db!(self.db(), p, COUNT_PENDING, COUNT_PENDING, |sql| sqlx::query_scalar(sql)
            .bind(embedder)
            .fetch_one(p)
            .await?))
    }

    /// How many chunks there are, and how many `embedder` has not embedded.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn index_counts(&self, embedder: &str) -> Result<(i64, i64), sqlx::Error> {
        let total: i64 = on_db!(self.db(), p, COUNT, COUNT, |sql| sqlx::query_scalar(sql).fetch_one(p).await?);
        let pending: i64 = on_db!(self.db(), p, COUNT_PENDING, COUNT_PENDING, |sql| sqlx::query_scalar(sql)
            .bind(embedder)
            .fetch_one(p)
            .await?);
        Ok((total, pending))
    }

    /// Full-text ranking of `query` under `prefix`, best first.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn fulltext(&self, query: &str, prefix: &str, limit: i64) -> Result<Vec<Ranked>, sqlx::Error> {
        let words = words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        // All words first (precise and cheap); any word when that finds too little.
        let mut rows: Vec<(i64, String, String, f64)> = Vec::new();
        for all in [true, false] {
            if !all && (rows.len() as i64 >= limit || words.len() == 1) {
                break;
            }
            let (sqlite_join, pg_join) = if all { (" AND ", " & ") } else { (" OR ", " | ") };
            let sqlite_q = words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(sqlite_join);
            let pg_q = words.join(pg_join);
            let found: Vec<(i64, String, String, f64)> = match self.db() {
                Db::Sqlite(p) if prefix.is_empty() => {
                    let ranked: Vec<(i64, f64)> =
                        sqlx::query_as(FTS_SQLITE_IDS).bind(sqlite_q).bind(limit).fetch_all(p).await?;
                    let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
                    let rows = self.sqlite_chunks(&ids).await?;
                    ranked
                        .into_iter()
                        .filter_map(|(id, score)| {
                            rows.iter().find(|r| r.0 == id).map(|r| (id, r.1.clone(), r.2.clone(), score))
                        })
                        .collect()
                }
                Db::Sqlite(p) => {
                    sqlx::query_as(FTS_SQLITE).bind(sqlite_q).bind(prefix).bind(limit).fetch_all(p).await?
                }
                Db::Postgres(p) => {
                    let sql = if prefix.is_empty() { FTS_PG_ALL } else { FTS_PG };
                    sqlx::query_as(sql).bind(pg_q).bind(prefix).bind(limit).fetch_all(p).await?
                }
            };
            for row in found {
                if rows.len() as i64 >= limit {
                    break;
                }
                if !rows.iter().any(|r| r.0 == row.0) {
                    rows.push(row);
                }
            }
        }
        Ok(rows.into_iter().map(|(id, path, content, score)| Ranked { id, path, content, score }).collect())
    }

    /// Chunks `embedder` has not embedded yet (id, text), oldest first.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn pending_embeddings(&self, embedder: &str, limit: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
        Ok(on_db!(self.db(), p, PENDING, PENDING, |sql| sqlx::query_as(sql)
            .bind(embedder)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// Store vectors made by `embedder`, in one transaction.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn set_embeddings(&self, embedder: &str, vectors: &[(i64, Vec<f32>)]) -> Result<(), sqlx::Error> {
        match self.db() {
            Db::Sqlite(p) => {
                let mut tx = p.begin_write().await?;
                for (id, v) in vectors {
                    sqlx::query(SET_SQLITE)
                        .bind(embedder)
                        .bind(v.len() as i64)
                        .bind(embed::to_bytes(v))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(BUMP).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Db::Postgres(p) => {
                if let Some((_, v)) = vectors.first() {
                    self.ensure_hnsw(v.len()).await?;
                }
                let mut tx = p.begin_write().await?;
                for (id, v) in vectors {
                    sqlx::query(SET_PG)
                        .bind(embedder)
                        .bind(v.len() as i32)
                        .bind(pg_vector(v))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(BUMP).execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Refresh the planner's statistics after bulk changes (so PostgreSQL
    /// keeps choosing the GIN and HNSW indexes as the index grows).
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn analyze(&self) -> Result<(), sqlx::Error> {
        on_db!(self.db(), p, "ANALYZE chunks", "ANALYZE chunks", |sql| sqlx::query(sql)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// PostgreSQL: an HNSW index for vectors of `dims` dimensions.
    async fn ensure_hnsw(&self, dims: usize) -> Result<(), sqlx::Error> {
        if let Db::Postgres(p) = self.db() {
            let sql = format!(
                "CREATE INDEX IF NOT EXISTS chunks_hnsw_{dims} ON chunks USING hnsw ((CAST(embedding AS vector({dims}))) vector_cosine_ops) WHERE dims = {dims}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await?;
        }
        Ok(())
    }

    /// SQLite: every vector `embedder` made (id, path, vector), for the
    /// in-process index.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn sqlite_vectors(&self, embedder: &str) -> Result<Vec<(i64, String, Vec<f32>)>, sqlx::Error> {
        match self.db() {
            Db::Sqlite(p) => {
                let rows: Vec<(i64, String, Vec<u8>)> =
                    sqlx::query_as(VECTORS_SQLITE).bind(embedder).fetch_all(p).await?;
                Ok(rows.into_iter().map(|(id, path, b)| (id, path, embed::from_bytes(&b))).collect())
            }
            Db::Postgres(_) => Ok(Vec::new()),
        }
    }

    /// SQLite: chunks by id (for the in-process vector index's hits).
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn sqlite_chunks(&self, ids: &[i64]) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
        match self.db() {
            Db::Sqlite(p) => {
                let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
                sqlx::query_as(BY_IDS_SQLITE).bind(list).fetch_all(p).await
            }
            Db::Postgres(_) => Ok(Vec::new()),
        }
    }

    /// PostgreSQL: nearest chunks to `query` by cosine similarity (HNSW).
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn pg_nearest(
        &self,
        embedder: &str,
        query: &[f32],
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<Ranked>, sqlx::Error> {
        let Db::Postgres(p) = self.db() else { return Ok(Vec::new()) };
        let d = query.len();
        // Only `dims` (the partial index's predicate) and the prefix go in the
        // WHERE clause, so the planner walks the HNSW index; the embedder is
        // checked on what it yields. Iterative scanning keeps a narrow prefix
        // from starving the list.
        let filter = if prefix.is_empty() { "$2 = ''" } else { "substr(path, 1, length($2)) = $2" };
        let sql = format!(
            "SELECT id, path, content, embedder,
                    CAST(1 - (CAST(embedding AS vector({d})) <=> CAST($1 AS vector({d}))) AS DOUBLE PRECISION)
             FROM chunks WHERE dims = {d} AND {filter}
             ORDER BY CAST(embedding AS vector({d})) <=> CAST($1 AS vector({d})) LIMIT $3"
        );
        let mut tx = p.begin().await?;
        sqlx::query("SET LOCAL hnsw.ef_search = 64").execute(&mut *tx).await?;
        sqlx::query("SET LOCAL hnsw.iterative_scan = relaxed_order").execute(&mut *tx).await?;
        let rows: Vec<(i64, String, String, Option<String>, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(pg_vector(query))
            .bind(prefix)
            .bind(limit + 10)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut out: Vec<Ranked> = rows
            .into_iter()
            .filter(|r| r.3.as_deref() == Some(embedder))
            .map(|(id, path, content, _, score)| Ranked { id, path, content, score })
            .collect();
        // relaxed_order may leave neighbours slightly out of order.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.truncate(limit as usize);
        Ok(out)
    }
}
