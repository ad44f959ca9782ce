//! `claw tool call NAME JSON`: run a tool directly and print its output;
//! `generate`, `approve`, `pending` and `reject` are `toolgen.rs`'s.

use super::Printer;
use crate::home::Home;
use crate::runtime::Runtime;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(super) enum ToolCommand {
    /// Call a tool with JSON parameters and print its JSON output.
    Call {
        /// The installed tool name.
        name: String,
        /// The parameters, a JSON object (e.g. '{"text": "hi"}'); `-` reads stdin.
        params: String,
    },
    /// Have the LLM write a tool: built offline, checked, its examples run,
    /// then shown to you; it is installed only when you approve it.
    Generate {
        /// What the tool should do, in plain words.
        description: String,
        /// Its name (default: from the description's first words).
        #[arg(long)]
        name: Option<String>,
        /// The most LLM rounds (each failed build or check goes back to it).
        #[arg(long, default_value_t = crate::toolgen::generate::DEFAULT_ROUNDS)]
        rounds: u32,
        /// How long one build may take, in seconds.
        #[arg(long, default_value_t = 600)]
        build_timeout: u64,
    },
    /// Install a generated tool after reading what it is and may do.
    Approve {
        /// The generated tool's name.
        name: String,
        /// Approve without the prompt (scripts).
        #[arg(long)]
        yes: bool,
    },
    /// List the generated tools waiting for approval.
    Pending,
    /// Throw a generated tool away.
    Reject {
        /// The generated tool's name.
        name: String,
    },
}

pub(super) async fn run(cmd: ToolCommand, printer: &Printer) -> Result<()> {
    let (name, params) = match cmd {
        ToolCommand::Call { name, params } => (name, params),
        ToolCommand::Generate { description, name, rounds, build_timeout } => {
            return super::toolgen::generate(printer, description, name, rounds, build_timeout).await;
        }
        ToolCommand::Approve { name, yes } => return super::toolgen::approve(printer, &name, yes).await,
        ToolCommand::Pending => return super::toolgen::list(printer),
        ToolCommand::Reject { name } => return super::toolgen::reject(printer, &name).await,
    };
    let params = if params == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        params
    };
    let runtime = Runtime::open(&Home::from_env()?)?;
    if runtime.named(&name).is_none() && crate::mcp::result::split(&name).is_some() && runtime.mcp().any() {
        // An MCP server's output is outside text: vault values are cut from it here too.
        let (text, failed) = runtime.mcp().call(&name, &params).await.map_err(crate::problem::Problem::from)?;
        let text = runtime.boundary().secrets().detector().cut(&text);
        if failed {
            return Err(crate::problem::Problem::new(format!("MCP tool `{name}` failed: {text}")).into());
        }
        printer.line(text);
        return Ok(());
    }
    let output = runtime.call(&name, &params).await?;
    print_output(printer, &output);
    Ok(())
}

/// Print a tool's JSON output: as JSON with `--json`, else [`render`]ed.
pub(super) fn print_output(printer: &Printer, output: &str) {
    match serde_json::from_str::<serde_json::Value>(output) {
        Ok(v) if printer.json => printer.value(&v),
        _ => printer.line(render(output)),
    }
}

/// A tool's JSON output for a person: a JSON string as its plain text,
/// anything else pretty-printed.
pub(super) fn render(output: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(output) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| output.to_string()),
        Err(_) => output.to_string(),
    }
}
