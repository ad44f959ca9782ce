//! `memory-search`: search the agent's long-term memory (hybrid full-text
//! and vector search over its notes and documents).

use claw_sdk::{Context, Error, Tool, export_tool, memory, schemars, serde};

/// Hits returned when the caller does not say.
const DEFAULT_LIMIT: u32 = 5;
/// The most hits one call returns, whatever `limit` says.
const MAX_LIMIT: u32 = 20;

/// Parameters of `memory-search`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Search {
    /// What to look for: a question, a topic or keywords.
    query: String,
    /// How many passages to return (default 5, at most 20).
    #[serde(default)]
    limit: Option<u32>,
}

/// One passage found in memory.
#[derive(serde::Serialize)]
#[serde(crate = "claw_sdk::serde")]
struct Hit {
    /// The document it comes from.
    path: String,
    /// The passage itself.
    text: String,
    /// How well it matches; higher is better.
    score: f64,
}

impl Tool for Search {
    const DESCRIPTION: &'static str = "Search the agent's long-term memory (notes, documents) by meaning and keywords; \
         returns the best matching passages with their document path and a relevance score.";
    type Output = Vec<Hit>;

    fn execute(self, _ctx: &Context) -> Result<Vec<Hit>, Error> {
        let query = self.query.trim();
        if query.is_empty() {
            return Err(Error::invalid_params("query is empty: say what to search for"));
        }
        let hits = memory::search(query, effective_limit(self.limit))?;
        Ok(hits.into_iter().map(|h| Hit { path: h.path, text: h.chunk, score: h.score }).collect())
    }
}

/// The number of hits to ask for: the default when unset, 1 to 20 otherwise.
fn effective_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

export_tool!(Search);

#[cfg(test)]
mod tests {
    use super::*;
    use claw_sdk::serde_json;

    #[test]
    fn limit_defaults_to_five_and_stays_within_one_to_twenty() {
        assert_eq!(effective_limit(None), 5);
        assert_eq!(effective_limit(Some(0)), 1);
        assert_eq!(effective_limit(Some(12)), 12);
        assert_eq!(effective_limit(Some(500)), 20);
    }

    #[test]
    fn parameters_parse_strictly() {
        let p: Search = serde_json::from_str(r#"{"query": "tea"}"#).unwrap();
        assert_eq!((p.query.as_str(), p.limit), ("tea", None));
        let p: Search = serde_json::from_str(r#"{"query": "tea", "limit": 3}"#).unwrap();
        assert_eq!(p.limit, Some(3));
        assert!(serde_json::from_str::<Search>(r#"{"query": "tea", "top": 3}"#).is_err());
        assert!(serde_json::from_str::<Search>(r#"{"limit": 3}"#).is_err());
    }
}
