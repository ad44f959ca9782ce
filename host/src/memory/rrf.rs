//! Reciprocal Rank Fusion: each ranker contributes 1 / (k + rank) for each
//! chunk it ranked; the sum orders the fused list. Plain data in, plain
//! data out.

use serde::Serialize;
use std::collections::HashMap;

/// The default k (as in the original RRF paper).
pub const DEFAULT_K: f64 = 60.0;

/// One ranker's result, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The chunk's id.
    pub id: i64,
    /// Its document.
    pub path: String,
    /// Its text.
    pub content: String,
    /// The ranker's own score (BM25/ts_rank, or cosine similarity).
    pub score: f64,
}

/// What one ranker contributed to a hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// 1-based rank in that ranker's list.
    pub rank: usize,
    /// The ranker's own score.
    pub score: f64,
    /// 1 / (k + rank).
    pub rrf: f64,
}

/// A fused search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The document.
    pub path: String,
    /// The chunk's text.
    pub chunk: String,
    /// The fused score.
    pub score: f64,
    /// The full-text ranker's contribution, if it ranked this chunk.
    pub fulltext: Option<Contribution>,
    /// The vector ranker's contribution, if it ranked this chunk.
    pub vector: Option<Contribution>,
}

/// Fuse the full-text and vector lists.
pub fn fuse(fulltext: Vec<Ranked>, vector: Vec<Ranked>, k: f64, limit: usize) -> Vec<Hit> {
    let mut by_id: HashMap<i64, Hit> = HashMap::new();
    let mut add = |list: Vec<Ranked>, is_vector: bool| {
        for (i, r) in list.into_iter().enumerate() {
            let c = Contribution { rank: i + 1, score: r.score, rrf: 1.0 / (k + (i + 1) as f64) };
            let hit = by_id.entry(r.id).or_insert_with(|| Hit {
                path: r.path,
                chunk: r.content,
                score: 0.0,
                fulltext: None,
                vector: None,
            });
            hit.score += c.rrf;
            if is_vector {
                hit.vector = Some(c);
            } else {
                hit.fulltext = Some(c);
            }
        }
    };
    add(fulltext, false);
    add(vector, true);
    let mut hits: Vec<Hit> = by_id.into_values().collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.path.cmp(&b.path)));
    hits.truncate(limit);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: i64) -> Ranked {
        Ranked { id, path: format!("p{id}"), content: String::new(), score: 1.0 }
    }

    #[test]
    fn agreement_between_rankers_wins() {
        let hits = fuse(vec![r(1), r(2), r(3)], vec![r(3), r(4), r(1)], 60.0, 10);
        assert_eq!(hits[0].path, "p1", "ranked 1st and 3rd beats 3rd and 1st by the tie-break on path");
        assert!((hits[0].score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-12);
        assert_eq!(hits[0].fulltext.as_ref().unwrap().rank, 1);
        assert_eq!(hits[0].vector.as_ref().unwrap().rank, 3);
        let p4 = hits.iter().find(|h| h.path == "p4").unwrap();
        assert!(p4.fulltext.is_none() && p4.vector.is_some());
        assert_eq!(hits.len(), 4);
        assert_eq!(fuse(vec![r(1), r(2)], vec![], 60.0, 1).len(), 1);
    }

    #[test]
    fn k_controls_how_fast_ranks_decay() {
        let small = fuse(vec![r(1), r(2)], vec![r(2)], 1.0, 10);
        assert_eq!(small[0].path, "p2");
        let h1 = small.iter().find(|h| h.path == "p1").unwrap();
        assert!((h1.score - 0.5).abs() < 1e-12);
    }
}
