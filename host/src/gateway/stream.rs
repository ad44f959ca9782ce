//! Streaming to the gateway's clients: a conversation's events for the web
//! chat (server-sent events, resumed after a reconnect from the last event
//! id), and a streamed completion for the OpenAI API. Both read the
//! conversation's feed, which the turn fills as it runs in this process;
//! when the turn runs elsewhere, the reply still comes whole from the store.

use super::GatewayError;
use super::serve::{Body, State};
use crate::agent::events::{self, Event, Numbered};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// A comment this often keeps proxies and browsers from closing an idle stream.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Frames written to a client not yet read before the stream is dropped:
/// a client that does not read is not buffered for without end.
const UNREAD: usize = 256;

/// A response body fed from a channel of ready-made frames.
struct Frames(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// A `text/event-stream` response and the sender that writes it.
pub(super) fn response() -> (http::Response<Body>, mpsc::Sender<Bytes>) {
    let (tx, rx) = mpsc::channel(UNREAD);
    let mut r = http::Response::new(Frames(rx).boxed_unsync());
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/event-stream"));
    h.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    (r, tx)
}

/// One event as the web chat reads it: its number as the event id.
fn frame(e: &Numbered) -> Bytes {
    let data = serde_json::to_string(e).unwrap_or_default();
    Bytes::from(format!("id: {}\ndata: {data}\n\n", e.seq))
}

/// Tell the client to reload the history since its last message: events
/// it missed are no longer held.
const RESET: &[u8] = b"event: reset\ndata: {}\n\n";

/// The last event id the client saw: `Last-Event-ID` (a reconnecting
/// `EventSource` sends it), or `?after=N`.
fn last_seen(headers: &http::HeaderMap, query: Option<&str>) -> Option<u64> {
    let header = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    header.or_else(|| query?.split('&').find_map(|kv| kv.strip_prefix("after=")).and_then(|v| v.parse().ok()))
}

/// `GET /api/conversations/ID/events`: the person's conversation as it
/// happens. Only their own: the feed is keyed by their id.
pub(super) async fn events(
    state: &State,
    headers: &http::HeaderMap,
    id: &str,
    query: Option<&str>,
) -> Result<http::Response<Body>, GatewayError> {
    let user = super::chat::user(state, headers, false, "GET /api/conversations/…/events").await?;
    let feed = events::key(super::chat::CHANNEL, &format!("{}/{id}", user.id));
    let sub = state.runtime.feeds().subscribe(&feed, last_seen(headers, query));
    let (response, tx) = response();
    tokio::spawn(async move {
        let events::Subscription { missed, gap, mut live } = sub;
        // After a gap the held events would be a turn seen in part: the
        // client reloads what was stored instead, then follows live.
        let missed = if gap { vec![] } else { missed };
        if gap && tx.send(Bytes::from_static(RESET)).await.is_err() {
            return;
        }
        for e in &missed {
            if tx.send(frame(e)).await.is_err() {
                return;
            }
        }
        loop {
            let next = tokio::select! {
                e = live.recv() => match e {
                    Ok(e) => frame(&e),
                    Err(broadcast::error::RecvError::Lagged(_)) => Bytes::from_static(RESET),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = tokio::time::sleep(KEEPALIVE) => Bytes::from_static(b": keepalive\n\n"),
                () = tx.closed() => return,
            };
            if tx.send(next).await.is_err() {
                return;
            }
        }
    });
    Ok(response)
}

/// A streamed completion in OpenAI's chunks: the text as the LLM writes
/// it, then the end and `[DONE]`. `live` was subscribed before the turn
/// was queued, so nothing of it is missed.
pub(super) struct Completion {
    /// The chunk id (`chatcmpl-JOB`).
    pub id: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// The turn's job.
    pub job: i64,
    /// The conversation's feed, from before the turn was queued.
    pub live: broadcast::Receiver<Numbered>,
    /// Held until the stream ends: the turn's place among those waited on.
    pub place: tokio::sync::OwnedSemaphorePermit,
}

impl Completion {
    fn chunk(&self, delta: serde_json::Value, finish: Option<&str>) -> Bytes {
        let c = serde_json::json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": super::openai::MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        Bytes::from(format!("data: {c}\n\n"))
    }

    /// Write the stream to `tx` until the turn ends (or the client goes).
    pub(super) async fn run(mut self, state: Arc<State>, tx: mpsc::Sender<Bytes>) {
        let turn = format!("job:{}", self.job);
        let send = |b: Bytes| {
            let tx = tx.clone();
            async move { tx.send(b).await.is_ok() }
        };
        if !send(self.chunk(serde_json::json!({"role": "assistant", "content": ""}), None)).await {
            return;
        }
        // The text streamed in this round of the turn: the last round's is
        // the reply, so the reply's rest (if any came whole) follows it.
        let mut round = String::new();
        let mut any = false;
        let store = state.store.clone();
        let job = self.job;
        let whole = store.wait_reply(job);
        tokio::pin!(whole);
        let end = loop {
            let event = tokio::select! {
                e = self.live.recv() => e,
                reply = &mut whole => break if reply.notice { Err(reply.text) } else { Ok(reply.text) },
                () = tx.closed() => return,
            };
            let event = match event {
                Ok(e) if e.turn == turn => e.event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                // The feed went away: the reply comes from the store.
                Err(broadcast::error::RecvError::Closed) => break Ok(whole.await.text),
            };
            match event {
                Event::Text { delta } => {
                    round.push_str(&delta);
                    any = true;
                    if !send(self.chunk(serde_json::json!({"content": delta}), None)).await {
                        return;
                    }
                }
                Event::Round { .. } => {
                    if !round.is_empty() && !send(self.chunk(serde_json::json!({"content": "\n\n"}), None)).await {
                        return;
                    }
                    round.clear();
                }
                Event::Done { text } => break Ok(text),
                Event::Failed { error } => break Err(error),
                Event::Started | Event::ToolStarted { .. } | Event::ToolFinished { .. } => {}
            }
        };
        match end {
            Ok(text) => {
                // What of the reply did not stream (a provider that answered
                // whole, a turn run by another process).
                let rest = match text.strip_prefix(round.as_str()) {
                    Some(rest) => rest.to_string(),
                    None if !any => text,
                    None => String::new(),
                };
                if !rest.is_empty() && !send(self.chunk(serde_json::json!({"content": rest}), None)).await {
                    return;
                }
                if !send(self.chunk(serde_json::json!({}), Some("stop"))).await {
                    return;
                }
            }
            Err(error) => {
                let message = error.trim_start_matches("error: ").to_string();
                let e =
                    serde_json::json!({"error": {"message": message, "type": "agent_error", "code": "agent_error"}});
                if !send(Bytes::from(format!("data: {e}\n\n"))).await {
                    return;
                }
            }
        }
        let _ = send(Bytes::from_static(b"data: [DONE]\n\n")).await;
        drop(self.place);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_event_id_comes_from_the_header_or_the_query() {
        let mut h = http::HeaderMap::new();
        assert_eq!(last_seen(&h, None), None);
        assert_eq!(last_seen(&h, Some("x=1&after=42")), Some(42));
        assert_eq!(last_seen(&h, Some("after=nope")), None);
        h.insert("last-event-id", http::HeaderValue::from_static(" 7 "));
        assert_eq!(last_seen(&h, Some("after=42")), Some(7), "the header wins: EventSource sends it on reconnect");
    }
}
