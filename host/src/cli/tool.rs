//! `claw tool call NAME JSON`: run a tool directly and print its output.

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
}

pub(super) async fn run(cmd: ToolCommand, printer: &Printer) -> Result<()> {
    let ToolCommand::Call { name, params } = cmd;
    let params = if params == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        params
    };
    let runtime = Runtime::open(&Home::from_env()?)?;
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
