//! An OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, vLLM,
//! LM Studio ...), called through the egress boundary like every other
//! outbound request: the host's own policy names exactly that URL (POST),
//! and the API key, if any, is injected from the vault for that host only.

use crate::boundary::{Boundary, Policy};
use crate::grant::Grant;
use crate::problem::Problem;
use http_body_util::{BodyExt as _, Full};
use std::sync::Arc;

/// The component name the host's embedding calls carry in the audit log.
pub const AUDIT_NAME: &str = "host:embedder";

/// A remote embedder.
#[derive(Debug, Clone)]
pub struct Remote {
    boundary: Arc<Boundary>,
    policy: Arc<Policy>,
    url: String,
    model: String,
}

#[derive(serde::Deserialize)]
struct Reply {
    data: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

impl Remote {
    /// An embedder for `url` and `model`, its key (if any) the vault
    /// secret `credential`.
    ///
    /// # Errors
    ///
    /// A [`Problem`] when the URL cannot be turned into an allow rule.
    pub fn new(boundary: Arc<Boundary>, url: &str, model: &str, credential: Option<&str>) -> Result<Remote, Problem> {
        let path = url.split("://").nth(1).and_then(|r| r.find('/').map(|i| &r[i..])).unwrap_or("/");
        let scheme_host = url.trim_end_matches(path);
        let mut grant = format!("[[http]]\nurl = {:?}\nmethods = [\"POST\"]\n", format!("{scheme_host}{path}"));
        if let Some(name) = credential {
            grant.push_str(&format!(
                "[[secrets]]\nname = {name:?}\norigins = [{scheme_host:?}]\ninject = \"header\"\nheader = \"Authorization\"\nformat = \"Bearer {{secret}}\"\n"
            ));
        }
        let grant = Grant::parse(&grant, "[embedder] in config.toml").map_err(|e| {
            Problem::new(format!("the [embedder] settings do not make a valid egress policy: {e}"))
                .hint("url must be http(s)://host[:port]/path, e.g. http://127.0.0.1:11434/v1/embeddings")
        })?;
        Ok(Remote {
            boundary,
            policy: Arc::new(Policy { quarantine: false, ..Policy::from_grant(AUDIT_NAME, &grant) }),
            url: url.to_string(),
            model: model.to_string(),
        })
    }

    /// The model's name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The id stored beside each vector.
    pub fn id(&self) -> String {
        format!("openai:{}@{}", self.model, self.url)
    }

    /// Embed a batch, in order.
    ///
    /// # Errors
    ///
    /// Why the endpoint failed (never echoing a credential).
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let body = serde_json::to_vec(&serde_json::json!({ "model": self.model, "input": texts }))
            .map_err(|e| e.to_string())?;
        let request = http::Request::post(&self.url)
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body)).map_err(|never| match never {}).boxed_unsync())
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let (response, _io) = Box::into_pin(self.boundary.send(&self.policy, request, None, &Default::default()))
            .await
            .map_err(|e| format!("the embedding endpoint {} failed: {e}", self.url))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the embedding reply failed: {e}"))?
            .to_bytes();
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            return Err(format!("the embedding endpoint {} answered {status}: {text}", self.url));
        }
        let reply: Reply =
            serde_json::from_slice(&bytes).map_err(|e| format!("the embedding endpoint sent invalid JSON: {e}"))?;
        if reply.data.len() != texts.len() {
            return Err(format!(
                "the embedding endpoint returned {} vectors for {} inputs",
                reply.data.len(),
                texts.len()
            ));
        }
        let mut items = reply.data;
        items.sort_by_key(|i| i.index.unwrap_or(usize::MAX));
        Ok(items
            .into_iter()
            .map(|mut i| {
                super::embed::normalize(&mut i.embedding);
                i.embedding
            })
            .collect())
    }
}
