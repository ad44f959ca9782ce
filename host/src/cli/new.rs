//! `claw new tool|provider|channel NAME`: a new project from templates/, embedded in the binary, built against the SDK the
//! binary carries (`sdk`).

use super::Printer;
use crate::problem::Problem;
use anyhow::{Context as _, Result};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(super) enum NewCommand {
    /// A tool: a Rust crate that builds to a claw tool component.
    Tool {
        /// The tool's name (letters, digits, `-`, `_`); also the directory created.
        name: String,
        /// Create the project here instead of ./NAME.
        #[arg(long)]
        path: Option<PathBuf>,
    },
    /// An LLM provider adapter: a Rust crate that builds to an `llm-adapter`
    /// component, plugged into the LLM router for one wire format.
    Provider {
        /// The adapter's name (letters, digits, `-`, `_`); also the directory created.
        name: String,
        /// Create the project here instead of ./NAME.
        #[arg(long)]
        path: Option<PathBuf>,
    },
    /// A channel: a Rust crate that builds to a claw channel component (a
    /// wasi:http handler the host verifies requests for, with an inbox, a
    /// state and a `deliver`), the same world as the first-party channels.
    Channel {
        /// The channel's name (letters, digits, `-`, `_`); also the directory created.
        name: String,
        /// Create the project here instead of ./NAME.
        #[arg(long)]
        path: Option<PathBuf>,
    },
}

/// The tool template, embedded so `claw new` works from any directory.
const TOOL_TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../templates/tool/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("../../../templates/tool/src/lib.rs.tmpl")),
    ("grant.toml", include_str!("../../../templates/tool/grant.toml")),
    ("README.md", include_str!("../../../templates/tool/README.md.tmpl")),
    (".gitignore", "target/\n"),
];

/// The provider adapter template.
const PROVIDER_TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../templates/provider/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("../../../templates/provider/src/lib.rs.tmpl")),
    ("README.md", include_str!("../../../templates/provider/README.md.tmpl")),
    (".gitignore", "target/\n"),
];

/// The channel template.
const CHANNEL_TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../templates/channel/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("../../../templates/channel/src/lib.rs.tmpl")),
    ("grant.toml", include_str!("../../../templates/channel/grant.toml")),
    (".gitignore", "target/\n"),
];

pub(super) fn run(cmd: NewCommand, printer: &Printer) -> Result<()> {
    let (kind, template, name, path) = match cmd {
        NewCommand::Tool { name, path } => ("tool", TOOL_TEMPLATE, name, path),
        NewCommand::Channel { name, path } => ("channel", CHANNEL_TEMPLATE, name, path),
        NewCommand::Provider { name, path } => ("provider", PROVIDER_TEMPLATE, name, path),
    };
    if !crate::grant::valid_name(&name) || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Problem::new(format!("`{name}` is not a valid {kind} name"))
            .hint("use letters, digits, `-` and `_`, starting with a letter")
            .into());
    }
    let dir = path.unwrap_or_else(|| PathBuf::from(&name));
    if dir.exists() {
        return Err(Problem::new(format!("{} already exists", dir.display()))
            .hint("pick another name or --path")
            .into());
    }
    let sdk = crate::toolgen::sdk::locate(&crate::home::Home::from_env()?)?;
    let crate_name = name.replace('-', "_");
    let type_name: String = name
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    for (file, text) in template {
        let text = text
            .replace("{{name}}", &name)
            .replace("{{crate_name}}", &crate_name)
            .replace("{{type_name}}", &type_name)
            .replace("{{sdk_path}}", &sdk.sdk.display().to_string())
            .replace("{{wit_path}}", &sdk.wit.display().to_string());
        let target = dir.join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    }
    printer.line(format!("created {kind} `{name}` in {}", dir.display()));
    printer.note(format!("it builds against {}", sdk.origin));
    let add = if kind == "provider" {
        format!(
            "claw component upgrade llm-router ROUTER.wasm --plug openai=target/wasm32-wasip2/release/{crate_name}.wasm (see README.md)"
        )
    } else {
        format!("claw component add target/wasm32-wasip2/release/{crate_name}.wasm --grant grant.toml --name {name}")
    };
    printer.note(format!("next:\n  cd {}\n  cargo build --target wasm32-wasip2 --release\n  {add}", dir.display()));
    Ok(())
}
