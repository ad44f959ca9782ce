//! `claw user add|list|rm|token`: who may use the gateway. A token is
//! printed once, when it is made, and stored only as its digest.

use super::Printer;
use crate::gateway::users::UserKind;
use crate::home::Home;
use crate::jobs::trigger::describe_ms;
use crate::store::{DatabaseUrl, Store};
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Add a user and print its first token (shown once).
    Add {
        /// Its name (lowercase letters, digits, `-`, `_`).
        name: String,
        /// An API client (the OpenAI-compatible API) rather than a person.
        #[arg(long)]
        client: bool,
    },
    /// List the users and their tokens (never the tokens themselves).
    List,
    /// Remove a user and every token of it.
    Rm {
        /// The user.
        name: String,
    },
    /// Set a person's web chat password, read from stdin (or a hidden prompt).
    Password {
        /// The person.
        name: String,
    },
    /// Make another token for a user and print it (shown once).
    Token {
        /// The user.
        name: String,
        /// What the token is for.
        #[arg(long, default_value = "token")]
        label: String,
    },
}

pub(super) async fn run(command: UserCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let store = Store::connect(&DatabaseUrl::resolve(&home)?).await?;
    let users = store.users();
    match command {
        UserCommand::Add { name, client } => {
            let kind = if client { UserKind::Client } else { UserKind::Person };
            let token = users.add(&name, kind).await?;
            shown_once(printer, &name, &token, &format!("added {} {name}", kind.as_str()));
        }
        UserCommand::Token { name, label } => {
            let token = users.new_token(&name, &label).await?;
            shown_once(printer, &name, &token, &format!("a new token `{label}` for {name}"));
        }
        UserCommand::Password { name } => {
            let password = read_password(&name)?;
            users.set_password(&name, &password).await?;
            if printer.json {
                printer.value(&serde_json::json!({"user": name, "password": "set"}));
            } else {
                printer.line(format!("set the password of {name}; its earlier web chat sessions ended"));
            }
        }
        UserCommand::Rm { name } => {
            users.remove(&name).await?;
            if printer.json {
                printer.value(&serde_json::json!({"removed": name}));
            } else {
                printer.line(format!("removed {name} and its tokens"));
            }
        }
        UserCommand::List => {
            let all = users.list().await?;
            if printer.json {
                let v: Vec<_> = all
                    .iter()
                    .map(|(u, tokens)| {
                        serde_json::json!({"name": u.name, "kind": u.kind.as_str(), "created_ms": u.created_ms,
                            "tokens": tokens.iter().map(|t| serde_json::json!({"prefix": t.prefix, "label": t.label,
                                "created_ms": t.created_ms, "last_used_ms": t.last_used_ms})).collect::<Vec<_>>()})
                    })
                    .collect();
                printer.value(&serde_json::Value::Array(v));
            } else if all.is_empty() {
                printer.line("no users yet: `claw user add NAME` adds one (`--client` for a program using the API)");
            } else {
                for (u, tokens) in &all {
                    printer.line(format!("{} ({})", u.name, u.kind.as_str()));
                    for t in tokens {
                        let used = t
                            .last_used_ms
                            .map_or("never used".to_string(), |ms| format!("last used {}", describe_ms(ms)));
                        printer.line(format!(
                            "  {}…  {}  made {}, {used}",
                            t.prefix,
                            t.label,
                            describe_ms(t.created_ms)
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The password, from a hidden prompt at a terminal, else the first line of stdin.
fn read_password(name: &str) -> Result<String> {
    use std::io::IsTerminal as _;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(rpassword::prompt_password(format!("password for {name} (hidden): "))?);
    }
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdin.lock(), &mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Print a new token: the only time it is shown.
fn shown_once(printer: &Printer, name: &str, token: &str, what: &str) {
    if printer.json {
        printer.value(&serde_json::json!({"user": name, "token": token}));
    } else {
        printer.line(format!("{what}; its token (shown only now, claw keeps only a digest):"));
        printer.line(token);
    }
}
