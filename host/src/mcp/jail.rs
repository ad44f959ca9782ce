//! The launcher of a stdio MCP server: `claw mcp jail [OPTIONS] -- PROGRAM
//! ARGS`, run by claw itself as the server's first process. On its one
//! thread, before any async runtime starts, it limits what the process may
//! use, closes the network and the file system to what the server's
//! configuration gives, reports on one stderr line what it could enforce,
//! then `exec`s the server, which inherits every restriction.
//!
//! Where the kernel refuses a layer, the report says so in plain words:
//! nothing is claimed that is not in force.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The first stderr line of a launched server begins so, followed by the
/// [`Isolation`] as JSON.
pub const REPORT_PREFIX: &str = "claw-jail: ";

/// A launch that failed before the server ran prints this, then the reason.
pub const ERROR_PREFIX: &str = "claw-jail error: ";

/// Directories every server may read and execute: the system's programs,
/// libraries and configuration. Nothing under a home directory.
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc",
    "/proc",
    "/sys/fs/cgroup",
    "/sys/devices/system/cpu",
];

/// Devices every server may read and write.
const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"];

/// Open files a server may hold.
const MAX_FILES: u64 = 1024;

/// The largest file a server may write.
const MAX_FILE_BYTES: u64 = 1 << 30;

/// What the launcher is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct JailArgs {
    /// A directory the server may read and write (repeatable).
    #[arg(long = "dir")]
    pub dirs: Vec<PathBuf>,
    /// A directory the server may only read (repeatable).
    #[arg(long = "read")]
    pub read: Vec<PathBuf>,
    /// Leave the network open.
    #[arg(long)]
    pub network: bool,
    /// The address-space limit, in MiB.
    #[arg(long, default_value_t = super::config::DEFAULT_MEMORY_MB)]
    pub memory_mb: u64,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// What was enforced, layer by layer, in words for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// The network: closed by a namespace, by Landlock, open, or not closable.
    pub network: String,
    /// The file system.
    pub files: String,
    /// Resource limits.
    pub limits: String,
    /// Whether every layer asked for is in force.
    pub complete: bool,
}

impl Isolation {
    /// Parse a report line.
    pub fn from_line(line: &str) -> Option<Isolation> {
        serde_json::from_str(line.strip_prefix(REPORT_PREFIX)?).ok()
    }

    /// The report line.
    pub fn to_line(&self) -> String {
        format!("{REPORT_PREFIX}{}", serde_json::to_string(self).unwrap_or_default())
    }
}

/// Apply every layer, report, and become the server. Returns only when the
/// server could not be started (the exit code to use).
pub fn run(args: &JailArgs) -> u8 {
    use std::io::Write;
    let limits = limit(args.memory_mb);
    let (mut network, net_closed) =
        if args.network { ("open (the configuration allows it)".to_string(), true) } else { close_network() };
    let (files, files_closed, tcp_closed) = close_files(args, net_closed);
    if !net_closed {
        network = network_fallback(tcp_closed);
    }
    let report = Isolation {
        complete: (net_closed || tcp_closed) && files_closed && limits.1,
        network,
        files,
        limits: limits.0,
    };
    let mut stderr = std::io::stderr();
    let _ = writeln!(stderr, "{}", report.to_line());
    let Some((program, rest)) = args.command.split_first() else {
        let _ = writeln!(stderr, "{ERROR_PREFIX}no program to run");
        return 2;
    };
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(program).args(rest).exec();
    let _ = writeln!(stderr, "{ERROR_PREFIX}cannot start `{program}`: {err}");
    127
}

/// Address space, open files, file size, no core dumps.
fn limit(memory_mb: u64) -> (String, bool) {
    use nix::sys::resource::{Resource, setrlimit};
    let bytes = memory_mb.saturating_mul(1 << 20);
    let set = [
        (Resource::RLIMIT_AS, bytes),
        (Resource::RLIMIT_NOFILE, MAX_FILES),
        (Resource::RLIMIT_FSIZE, MAX_FILE_BYTES),
        (Resource::RLIMIT_CORE, 0),
    ];
    let failed: Vec<String> =
        set.iter().filter_map(|(r, v)| setrlimit(*r, *v, *v).err().map(|e| format!("{r:?}: {e}"))).collect();
    if failed.is_empty() {
        (format!("{memory_mb} MiB of address space, {MAX_FILES} open files, files up to 1 GiB, no core dumps"), true)
    } else {
        (format!("not all set ({})", failed.join("; ")), false)
    }
}

/// An empty network namespace of its own: no interface but a loopback
/// that is down. Unprivileged, through a user namespace.
fn close_network() -> (String, bool) {
    use nix::sched::{CloneFlags, unshare};
    if unshare(CloneFlags::CLONE_NEWNET).is_ok() {
        return ("none (an empty network namespace of its own)".into(), true);
    }
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    if unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET).is_ok() {
        // Keep its own uid and gid inside, so its files stay its own.
        let _ = std::fs::write("/proc/self/setgroups", "deny");
        let _ = std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"));
        let _ = std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"));
        return ("none (an empty network namespace, in a user namespace of its own)".into(), true);
    }
    // Landlock's TCP rules are the fallback, applied with the file rules.
    (String::new(), false)
}

/// Landlock: the system's read-only directories, the devices, the
/// configured directories, and nothing else. Where namespaces were
/// refused, Landlock also refuses TCP connects and binds (the third value:
/// whether that is in force; claimed only when every right asked for is).
fn close_files(args: &JailArgs, net_closed: bool) -> (String, bool, bool) {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, path_beneath_rules,
    };
    let abi = ABI::V6;
    let tcp_asked = !net_closed && !args.network;
    let build = || -> Result<landlock::RestrictionStatus, landlock::RulesetError> {
        let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(abi))?;
        if tcp_asked {
            ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
        }
        ruleset
            .create()?
            .add_rules(path_beneath_rules(SYSTEM_READ, AccessFs::from_read(abi)))?
            .add_rules(path_beneath_rules(&args.read, AccessFs::from_read(abi)))?
            .add_rules(path_beneath_rules(DEVICES, AccessFs::from_all(abi)))?
            .add_rules(path_beneath_rules(&args.dirs, AccessFs::from_all(abi)))?
            .restrict_self()
    };
    let given = |v: &[PathBuf]| v.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    match build() {
        Ok(status) if status.ruleset == RulesetStatus::NotEnforced => {
            ("not limited: this kernel has no Landlock (the server sees the whole file system)".into(), false, false)
        }
        Ok(status) => {
            let mut text = format!(
                "limited by Landlock: read-write {}; read-only {}system directories",
                if args.dirs.is_empty() { "nothing".to_string() } else { given(&args.dirs) },
                if args.read.is_empty() { String::new() } else { format!("{} and ", given(&args.read)) }
            );
            if status.ruleset == RulesetStatus::PartiallyEnforced {
                text.push_str(" (partially: this kernel's Landlock lacks some rights)");
            }
            (text, true, tcp_asked && status.ruleset == RulesetStatus::FullyEnforced)
        }
        Err(e) => (format!("not limited: Landlock failed ({e})"), false, false),
    }
}

/// The network line when the namespaces were refused.
fn network_fallback(landlock_tcp: bool) -> String {
    if landlock_tcp {
        "TCP closed by Landlock (namespaces were refused; UDP and Unix sockets stay open)".into()
    } else {
        "open: this system allows neither a network namespace nor Landlock's network rules".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips_through_its_line() {
        let r =
            Isolation { network: "none".into(), files: "limited".into(), limits: "2048 MiB".into(), complete: true };
        let line = r.to_line();
        assert!(line.starts_with(REPORT_PREFIX));
        assert_eq!(Isolation::from_line(&line), Some(r));
        assert_eq!(Isolation::from_line("some other stderr"), None);
        assert_eq!(Isolation::from_line("claw-jail: {not json"), None);
    }
}
