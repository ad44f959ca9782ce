//! `claw pairing list|approve|deny|rm`: which people on a channel are the
//! operator's own. A person asks in the channel (Telegram: `/start`) and
//! is shown a code; approving that code here pairs them. Everything an
//! unpaired sender says reaches the agent as external content. Each
//! change of trust is written to the audit log.

use super::Printer;
use crate::home::Home;
use crate::jobs::trigger::describe_ms;
use crate::store::{DatabaseUrl, Store};
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(super) enum PairingCommand {
    /// Paired senders, and the codes still waiting for approval.
    List,
    /// Pair the sender who was shown CODE on CHANNEL.
    Approve {
        /// The channel (its component's name, e.g. `telegram`).
        channel: String,
        /// The code the person was shown (any case; spaces and dashes ignored).
        code: String,
    },
    /// Refuse the pairing request with CODE on CHANNEL.
    Deny {
        /// The channel.
        channel: String,
        /// The code.
        code: String,
    },
    /// Unpair SENDER on CHANNEL (their messages become external content again).
    Rm {
        /// The channel.
        channel: String,
        /// The sender, as `claw pairing list` shows it.
        sender: String,
    },
}

/// Record a change of trust in the audit log (shared with `claw run`).
fn audit(home: &Home, channel: &str, decision: &str, rule: String) -> Result<()> {
    super::audit_operator(home, channel, "PAIR", decision, rule)
}

pub(super) async fn run(command: PairingCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let store = Store::connect(&DatabaseUrl::resolve(&home)?).await?;
    let pairings = store.pairings();
    let hint = |e: crate::store::pairing::PairingError| -> anyhow::Error {
        crate::problem::Problem::new(e.to_string())
            .hint("`claw pairing list` shows the codes still valid; a code lasts an hour, then the person asks again")
            .into()
    };
    match command {
        PairingCommand::Approve { channel, code } => {
            let sender = pairings.approve(&channel, &code).await.map_err(hint)?;
            audit(&home, &channel, "allow", format!("claw pairing approve: sender {sender} is the operator's own"))?;
            if printer.json {
                printer.value(&serde_json::json!({"channel": channel, "sender": sender, "paired": true}));
            } else {
                printer
                    .line(format!("paired {sender} on {channel}: their messages are now yours, not external content"));
            }
        }
        PairingCommand::Deny { channel, code } => {
            let sender = pairings.deny(&channel, &code).await.map_err(hint)?;
            audit(&home, &channel, "deny", format!("claw pairing deny: sender {sender} refused"))?;
            if printer.json {
                printer.value(&serde_json::json!({"channel": channel, "sender": sender, "denied": true}));
            } else {
                printer.line(format!("refused the pairing of {sender} on {channel}"));
            }
        }
        PairingCommand::Rm { channel, sender } => {
            if !pairings.remove(&channel, &sender).await? {
                return Err(crate::problem::Problem::new(format!("{sender} is not paired on {channel}"))
                    .hint("`claw pairing list` shows who is")
                    .into());
            }
            audit(&home, &channel, "deny", format!("claw pairing rm: sender {sender} unpaired"))?;
            if printer.json {
                printer.value(&serde_json::json!({"channel": channel, "sender": sender, "removed": true}));
            } else {
                printer.line(format!("unpaired {sender} on {channel}"));
            }
        }
        PairingCommand::List => {
            let all = pairings.list().await?;
            if printer.json {
                printer.value(&serde_json::to_value(&all)?);
            } else if all.is_empty() {
                printer.line("nobody is paired: a person asks in the channel (Telegram: /start) and is shown a code");
            } else {
                for p in &all {
                    match (&p.code, p.expires_ms) {
                        (Some(code), Some(until)) => printer.line(format!(
                            "{}  {}  waiting: code {code} (until {}; `claw pairing approve {} {code}`)",
                            p.channel,
                            p.sender,
                            describe_ms(until),
                            p.channel
                        )),
                        _ => printer.line(format!(
                            "{}  {}  paired (asked {})",
                            p.channel,
                            p.sender,
                            describe_ms(p.created_ms)
                        )),
                    }
                }
            }
        }
    }
    Ok(())
}
