//! Hybrid retrieval over the store: full-text and vector rankings fused by
//! RRF, and the embedding of chunks the current embedder has not seen
//! (new writes, or everything after the embedder changed — done in the
//! background by `claw run` and by `claw memory reindex`; search keeps
//! answering from whatever is embedded meanwhile).

use super::embed;
use super::rrf::{self, Hit, Ranked};
use crate::store::Store;
use serde::Serialize;
use tokio::sync::Mutex;

/// How many candidates each ranker contributes to the fusion.
const CANDIDATES: i64 = 40;

/// Vector candidates less similar than this are noise for the offline
/// embedder (hash collisions), and are left out.
const OFFLINE_MIN_SIMILARITY: f64 = 0.08;

/// Turns text into vectors.
#[derive(Debug, Clone)]
pub enum Embedder {
    /// The offline hashing embedder (no network).
    Offline,
    /// An OpenAI-compatible endpoint, through the boundary.
    Remote(super::remote::Remote),
}

impl Embedder {
    /// The id stored beside each vector.
    pub fn id(&self) -> String {
        match self {
            Embedder::Offline => embed::OFFLINE_ID.to_string(),
            Embedder::Remote(r) => r.id(),
        }
    }

    /// Its name in messages: `offline`, or the remote model.
    pub fn name(&self) -> &str {
        match self {
            Embedder::Offline => "offline",
            Embedder::Remote(r) => r.model(),
        }
    }

    /// Embed a batch.
    ///
    /// # Errors
    ///
    /// Why the embedder failed (remote embedders).
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        match self {
            Embedder::Offline => Ok(texts.iter().map(|t| embed::offline(t)).collect()),
            Embedder::Remote(r) => r.embed(texts).await,
        }
    }
}

/// In-process vector index for SQLite: every vector of the current
/// embedder, reloaded when the index generation moves.
struct VectorCache {
    generation: i64,
    ids: Vec<i64>,
    paths: Vec<String>,
    dims: usize,
    data: Vec<f32>,
}

/// What a search returns.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    /// Fused hits, best first.
    pub hits: Vec<Hit>,
    /// Set when a ranker could not run (the reason); the other still did.
    pub degraded: Option<String>,
    /// Chunks the current embedder has not embedded yet.
    pub pending: i64,
}

/// The memory over one store.
pub struct Memory {
    store: Store,
    embedder: Embedder,
    k: f64,
    cache: Mutex<Option<VectorCache>>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("store", &self.store.url())
            .field("embedder", &self.embedder)
            .field("k", &self.k)
            .finish()
    }
}

impl Memory {
    /// Memory over `store` with `embedder`, fusing with RRF constant `k`.
    pub fn new(store: Store, embedder: Embedder, k: f64) -> Memory {
        Memory { store, embedder, k, cache: Mutex::new(None) }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The embedder.
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// How many chunks the embedder has not embedded yet.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn pending(&self) -> Result<i64, String> {
        self.store.pending_count(&self.embedder.id()).await.map_err(|e| e.to_string())
    }

    /// The embedder configured for a home (`[embedder]` in config.toml).
    ///
    /// # Errors
    ///
    /// A [`crate::problem::Problem`] for settings that cannot work.
    pub fn configured(
        config: &crate::config::Config,
        boundary: std::sync::Arc<crate::boundary::Boundary>,
    ) -> Result<Embedder, crate::problem::Problem> {
        match &config.embedder {
            None => Ok(Embedder::Offline),
            Some(e) if e.kind == "offline" => Ok(Embedder::Offline),
            Some(e) if e.kind == "openai" => {
                let url = e.url.as_deref().ok_or_else(|| {
                    crate::problem::Problem::new("[embedder] kind = \"openai\" needs url")
                        .hint("e.g. url = \"http://127.0.0.1:11434/v1/embeddings\"")
                })?;
                let model = e.model.as_deref().ok_or_else(|| {
                    crate::problem::Problem::new("[embedder] kind = \"openai\" needs model")
                        .hint("e.g. model = \"nomic-embed-text\"")
                })?;
                Ok(Embedder::Remote(super::remote::Remote::new(boundary, url, model, e.credential.as_deref())?))
            }
            Some(e) => Err(crate::problem::Problem::new(format!(
                "[embedder] kind = {:?} is not an embedder claw knows",
                e.kind
            ))
            .hint("use \"offline\" or \"openai\"")),
        }
    }

    /// Embed up to `batch` pending chunks; how many were embedded.
    ///
    /// # Errors
    ///
    /// The embedder's or the database's failure.
    pub async fn embed_pending(&self, batch: i64) -> Result<usize, String> {
        let id = self.embedder.id();
        let pending = self.store.pending_embeddings(&id, batch).await.map_err(|e| e.to_string())?;
        if pending.is_empty() {
            return Ok(0);
        }
        let texts: Vec<String> = pending.iter().map(|(_, t)| t.clone()).collect();
        let vectors = self.embedder.embed(&texts).await?;
        if vectors.len() != pending.len() {
            return Err(format!("the embedder returned {} vectors for {} texts", vectors.len(), pending.len()));
        }
        let pairs: Vec<(i64, Vec<f32>)> = pending.iter().map(|(i, _)| *i).zip(vectors).collect();
        self.store.set_embeddings(&id, &pairs).await.map_err(|e| e.to_string())?;
        Ok(pairs.len())
    }

    /// Embed everything pending, calling `progress(done, total)` per batch.
    ///
    /// # Errors
    ///
    /// As [`Memory::embed_pending`].
    pub async fn embed_all(&self, progress: impl Fn(i64, i64)) -> Result<i64, String> {
        let (_, total) = self.store.index_counts(&self.embedder.id()).await.map_err(|e| e.to_string())?;
        let mut done = 0;
        loop {
            let n = self.embed_pending(256).await?;
            if n == 0 {
                if done >= 1000 {
                    self.store.analyze().await.map_err(|e| e.to_string())?;
                }
                return Ok(done);
            }
            done += n as i64;
            progress(done, total);
        }
    }

    /// Hybrid search: full-text and vector candidates fused by RRF.
    ///
    /// # Errors
    ///
    /// A database failure (an embedder failure only degrades the result).
    pub async fn search(&self, query: &str, limit: usize, prefix: &str) -> Result<SearchResult, sqlx::Error> {
        let fulltext = self.store.fulltext(query, prefix, CANDIDATES).await?;
        let (vector, degraded) = match self.embedder.embed(&[query.to_string()]).await {
            Ok(mut v) if !v.is_empty() => {
                let mut near = self.nearest(&v.remove(0), prefix).await?;
                if matches!(self.embedder, Embedder::Offline) {
                    near.retain(|r| r.score >= OFFLINE_MIN_SIMILARITY);
                }
                (near, None)
            }
            Ok(_) => (Vec::new(), Some("the embedder returned no vector; full-text results only".to_string())),
            Err(e) => (Vec::new(), Some(format!("vector search unavailable ({e}); full-text results only"))),
        };
        let pending = self.store.pending_count(&self.embedder.id()).await?;
        Ok(SearchResult { hits: rrf::fuse(fulltext, vector, self.k, limit), degraded, pending })
    }

    async fn nearest(&self, query: &[f32], prefix: &str) -> Result<Vec<Ranked>, sqlx::Error> {
        let id = self.embedder.id();
        if self.store.backend() == "postgres" {
            return self.store.pg_nearest(&id, query, prefix, CANDIDATES).await;
        }
        let generation = self.store.index_generation().await?;
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_none_or(|c| c.generation != generation) {
            let rows = self.store.sqlite_vectors(&id).await?;
            let dims = rows.first().map_or(0, |r| r.2.len());
            let mut c = VectorCache {
                generation,
                ids: Vec::new(),
                paths: Vec::new(),
                dims,
                data: Vec::with_capacity(rows.len() * dims),
            };
            for (i, path, v) in rows.into_iter().filter(|r| r.2.len() == dims) {
                c.ids.push(i);
                c.paths.push(path);
                c.data.extend_from_slice(&v);
            }
            *cache = Some(c);
        }
        let Some(c) = cache.as_ref().filter(|c| c.dims == query.len() && c.dims > 0) else { return Ok(Vec::new()) };
        // Brute force over contiguous rows; keep the best CANDIDATES.
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(CANDIDATES as usize + 1);
        for (row, v) in c.data.chunks_exact(c.dims).enumerate() {
            let s = embed::dot(v, query);
            if best.len() == CANDIDATES as usize && s <= best[best.len() - 1].0 {
                continue;
            }
            if !prefix.is_empty() && !c.paths[row].starts_with(prefix) {
                continue;
            }
            let at = best.partition_point(|(b, _)| *b >= s);
            best.insert(at, (s, row));
            best.truncate(CANDIDATES as usize);
        }
        let ids: Vec<i64> = best.iter().map(|(_, r)| c.ids[*r]).collect();
        let scores: Vec<f32> = best.iter().map(|(s, _)| *s).collect();
        drop(cache);
        let rows = self.store.sqlite_chunks(&ids).await?;
        Ok(ids
            .iter()
            .zip(scores)
            .filter_map(|(id, s)| {
                rows.iter().find(|r| r.0 == *id).map(|r| Ranked {
                    id: *id,
                    path: r.1.clone(),
                    content: r.2.clone(),
                    score: f64::from(s),
                })
            })
            .collect())
    }
}

/// The memory of a home, opened on first use (its store and embedder).
pub struct LazyMemory {
    home: crate::home::Home,
    store: std::sync::Arc<crate::store::LazyStore>,
    boundary: std::sync::Arc<crate::boundary::Boundary>,
    cell: tokio::sync::OnceCell<Result<Memory, String>>,
}

impl std::fmt::Debug for LazyMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyMemory").field("store", &self.store).finish_non_exhaustive()
    }
}

impl LazyMemory {
    /// For a home, over its (lazily opened) store, embedding through `boundary`.
    pub fn new(
        home: &crate::home::Home,
        store: std::sync::Arc<crate::store::LazyStore>,
        boundary: std::sync::Arc<crate::boundary::Boundary>,
    ) -> LazyMemory {
        LazyMemory { home: home.clone(), store, boundary, cell: tokio::sync::OnceCell::new() }
    }

    /// The memory, opening it the first time.
    ///
    /// # Errors
    ///
    /// Why the store or the embedder cannot be set up.
    pub async fn get(&self) -> Result<&Memory, String> {
        self.cell
            .get_or_init(|| async {
                let config = crate::config::Config::load(&self.home).map_err(|e| e.to_string())?;
                let store = self.store.get().await?.clone();
                let embedder = Memory::configured(&config, self.boundary.clone()).map_err(|e| e.to_string())?;
                Ok(Memory::new(store, embedder, config.memory.rrf_k))
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }
}
