//! `claw chat -m MESSAGE`: one turn with the agent, the reply on stdout
//! (for scripts). The session continues across calls unless `--new`.

use super::Printer;
use crate::agent::Agent;
use crate::home::Home;
use crate::problem::Problem;
use crate::runtime::Runtime;
use anyhow::Result;

/// The channel name sessions from `claw chat` are stored under.
pub const CHANNEL: &str = "cli";

#[derive(Debug, clap::Args)]
pub(super) struct ChatArgs {
    /// The message to send.
    #[arg(short, long)]
    message: String,
    /// The conversation to continue (each has its own session).
    #[arg(long, default_value = "default")]
    conversation: String,
    /// Start a new session first.
    #[arg(long)]
    new: bool,
}

pub(super) async fn run(args: ChatArgs, printer: &Printer) -> Result<()> {
    let runtime = Runtime::open(&Home::from_env()?)?;
    let sync = runtime.sync()?;
    for (name, why) in &sync.failed {
        printer.note(format!("warning: {name} could not be loaded: {why}"));
    }
    let agent = Agent::new(runtime)?;
    if args.new {
        agent.new_session(CHANNEL, &args.conversation).await?;
    }
    // Progress goes to stderr: stdout is the reply, for scripts.
    let progress = |call: &crate::llm::ToolCall| printer.note(crate::agent::describe_call(call));
    let reply = agent.turn_with(CHANNEL, &args.conversation, &args.message, &progress).await.map_err(|e| {
        let mut p = Problem::new(e.to_string());
        if let Some(h) = e.hint() {
            p = p.hint(h);
        }
        p
    })?;
    for note in &reply.redacted {
        printer.note(format!("warning: redacted from the LLM's context: {note}"));
    }
    if printer.json {
        printer.value(&serde_json::json!({
            "redacted": reply.redacted,
            "text": reply.text,
            "tool_calls": reply.tool_calls,
            "llm_requests": reply.llm_requests,
            "usage": { "input_tokens": reply.usage.0, "output_tokens": reply.usage.1 },
        }));
    } else {
        printer.line(reply.text);
    }
    Ok(())
}
