//! Where a retried turn picks up: its job's key finds what it stored
//! before claw stopped, and nothing it did is done twice.

use super::INTERRUPTED;
use crate::store::sessions::{Sessions, StoredMessage};

/// What the stored steps of a turn say.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Resumed {
    /// Nothing stored: a new turn.
    Fresh,
    /// The turn had answered: this is its answer (deliver it, do not ask again).
    Answered(String),
    /// The turn had started with this message; go on from its steps (a
    /// call that left no result now has [`INTERRUPTED`] as its result).
    Continue(String),
}

/// Look up turn `key`'s stored steps in a session and close any call that
/// left no result.
pub(super) async fn resume(sessions: &Sessions<'_>, session: &str, key: Option<&str>) -> Result<Resumed, sqlx::Error> {
    let Some(key) = key else { return Ok(Resumed::Fresh) };
    let steps = sessions.turn_messages(session, key).await?;
    let (decision, missing) = decide(&steps);
    if !missing.is_empty() {
        let results = missing
            .into_iter()
            .map(|id| {
                let mut m = StoredMessage::new("tool", INTERRUPTED);
                m.tool_call_id = Some(id);
                m.turn = Some(key.to_string());
                m
            })
            .collect();
        sessions.append(session, results).await?;
    }
    Ok(decision)
}

/// The decision, and the ids of calls without a result (plain data, so
/// the rule has its own tests).
fn decide(steps: &[StoredMessage]) -> (Resumed, Vec<String>) {
    let Some(first) = steps.iter().find(|m| m.role == "user") else { return (Resumed::Fresh, Vec::new()) };
    if let Some(last) = steps.last()
        && last.role == "assistant"
        && last.tool_calls.is_empty()
    {
        return (Resumed::Answered(last.content.clone()), Vec::new());
    }
    let answered: std::collections::HashSet<&str> = steps.iter().filter_map(|m| m.tool_call_id.as_deref()).collect();
    let missing = steps
        .iter()
        .flat_map(|m| &m.tool_calls)
        .filter(|c| !answered.contains(c.id.as_str()))
        .map(|c| c.id.clone())
        .collect();
    (Resumed::Continue(first.content.clone()), missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sessions::StoredCall;

    fn call(id: &str) -> StoredCall {
        StoredCall { id: id.into(), name: "send".into(), arguments: "{}".into() }
    }

    #[test]
    fn a_turn_with_no_steps_is_fresh_and_an_answered_one_returns_its_answer() {
        assert_eq!(decide(&[]), (Resumed::Fresh, vec![]));
        let steps = [StoredMessage::new("user", "hi"), StoredMessage::new("assistant", "hello")];
        assert_eq!(decide(&steps), (Resumed::Answered("hello".into()), vec![]));
    }

    #[test]
    fn calls_that_left_no_result_are_closed_not_run_again() {
        let mut asked = StoredMessage::new("assistant", "");
        asked.tool_calls = vec![call("a"), call("b")];
        let mut done = StoredMessage::new("tool", "sent");
        done.tool_call_id = Some("a".into());
        let steps = [StoredMessage::new("user", "send it"), asked, done];
        assert_eq!(decide(&steps), (Resumed::Continue("send it".into()), vec!["b".to_string()]));
        // All answered: go on to ask the LLM again, nothing to close.
        let mut done_b = StoredMessage::new("tool", "sent");
        done_b.tool_call_id = Some("b".into());
        let mut steps = steps.to_vec();
        steps.push(done_b);
        assert_eq!(decide(&steps), (Resumed::Continue("send it".into()), vec![]));
    }
}
