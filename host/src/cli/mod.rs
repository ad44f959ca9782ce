//! The `claw` command line: one module per command group.

mod approvals;
mod audit;
mod chat;
mod component;
mod jobs;
mod key;
mod mcp;
mod mcp_conformance;
mod memory;
mod new;
mod output;
mod pairing;
mod policy;
mod provider;
mod registry;
mod routine;
mod run;
mod scan;
mod secret;
mod status;
mod tool;
mod toolgen;
mod trust;
mod user;

pub use output::Printer;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// claw: a security-first runtime for AI agents.
#[derive(Debug, Parser)]
#[command(name = "claw", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON instead of text (where a command has output).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add, upgrade, inspect and remove components.
    #[command(subcommand)]
    Component(component::ComponentCommand),
    /// Run tools directly; generate new ones and approve them.
    #[command(subcommand)]
    Tool(tool::ToolCommand),
    /// Start claw: load the components and serve the terminal, picking up changes live.
    Run(run::RunArgs),
    /// Send the agent one message and print its reply (for scripts).
    Chat(chat::ChatArgs),
    /// Create a new component project from a template.
    #[command(subcommand)]
    New(new::NewCommand),
    /// Signing keys for publishing components (the private half stays in the vault).
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Whose signatures to accept, for which registry repositories.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Manage the vault's secrets (values are never shown).
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Show and verify the boundary's audit log.
    Audit(audit::AuditArgs),
    /// Scan text for vault secrets and credentials, as the boundary does.
    Scan(scan::ScanArgs),
    /// Read and write the agent's workspace (memory documents).
    #[command(subcommand)]
    Memory(memory::MemoryCommand),
    /// Configure the LLM providers (the order is the failover order).
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Explain a component's effective policy.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Add and manage routines: what the agent does on its own, and when.
    #[command(subcommand)]
    Routine(routine::RoutineCommand),
    /// List the job queue; show, retry or cancel a job.
    Jobs(jobs::JobsArgs),
    /// The runtime at a glance: processes, workers, the queue, routines that need attention.
    Status(status::StatusArgs),
    /// Who may use the gateway: people and API clients, each with tokens of their own.
    #[command(subcommand)]
    User(user::UserCommand),
    /// MCP servers whose tools the agent may use (each started in a jail).
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
    /// Who on a channel is the operator's own: approve the code a person was shown.
    #[command(subcommand)]
    Pairing(pairing::PairingCommand),
    /// Tool calls waiting for a person: approve once or always, or deny with a reason.
    #[command(subcommand)]
    Approvals(approvals::ApprovalsCommand),
}

/// Entry point of the `claw` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The jail must run on this one thread, before any runtime starts
    // threads: namespaces and Landlock apply to the thread that asks.
    if let Command::Mcp(mcp::McpCommand::Jail(args)) = &cli.command {
        return ExitCode::from(crate::mcp::jail::run(args));
    }
    output::init_logging();
    let printer = Printer::new(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            return printer.error(&anyhow::Error::from(e).context("starting the async runtime"));
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Component(c) => component::run(c, &printer).await,
            Command::Tool(c) => tool::run(c, &printer).await,
            Command::Run(a) => run::run(a, &printer).await,
            Command::Chat(a) => chat::run(a, &printer).await,
            Command::New(c) => new::run(c, &printer),
            Command::Secret(c) => secret::run(c, &printer),
            Command::Key(c) => key::run(c, &printer),
            Command::Trust(c) => trust::run(c, &printer),
            Command::Audit(a) => audit::run(a, &printer),
            Command::Policy(c) => policy::run(c, &printer),
            Command::Provider(c) => provider::run(c, &printer),
            Command::Memory(c) => memory::run(c, &printer).await,
            Command::Routine(c) => routine::run(c, &printer).await,
            Command::Jobs(a) => jobs::run(a, &printer).await,
            Command::Status(a) => status::run(a, &printer).await,
            Command::User(c) => user::run(c, &printer).await,
            Command::Pairing(c) => pairing::run(c, &printer).await,
            Command::Approvals(c) => approvals::run(c, &printer).await,
            Command::Mcp(c) => mcp::run(c, &printer).await,
            Command::Scan(a) => {
                return scan::run(a, &printer).map(|found| if found { ExitCode::from(1) } else { ExitCode::SUCCESS });
            }
        }
        .map(|()| ExitCode::SUCCESS)
    });
    match result {
        Ok(code) => code,
        Err(e) => printer.error(&e),
    }
}

/// Record an operator's decision (a pairing, an approval) in the audit log.
fn audit_operator(
    home: &crate::home::Home,
    component: &str,
    method: &str,
    decision: &str,
    rule: String,
) -> anyhow::Result<()> {
    let log = crate::boundary::audit::AuditLog::new(&home.data.join("audit.jsonl"));
    log.append(crate::boundary::audit::Record {
        time_ms: crate::components::store_now_ms(),
        component: component.to_string(),
        method: method.into(),
        decision: decision.into(),
        rule,
        ..Default::default()
    })?;
    Ok(())
}
