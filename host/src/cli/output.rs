//! All terminal output goes through the [`Printer`]: results to stdout,
//! progress and errors to stderr, JSON when asked.

use crate::problem::Problem;
use crate::runtime::CallError;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Writes results, progress and errors.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Whether results are JSON.
    pub json: bool,
}

impl Printer {
    /// A printer; `json` selects machine-readable results.
    pub fn new(json: bool) -> Printer {
        Printer { json }
    }

    /// A line of result on stdout.
    pub fn line(&self, text: impl AsRef<str>) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", crate::terminal::clean(text.as_ref()));
    }

    /// A JSON value on stdout.
    pub fn value(&self, value: &serde_json::Value) {
        self.line(serde_json::to_string_pretty(value).unwrap_or_default());
    }

    /// A status note on stderr (not part of the result).
    pub fn note(&self, text: impl AsRef<str>) {
        let _ = writeln!(std::io::stderr().lock(), "{}", crate::terminal::clean(text.as_ref()));
    }

    /// `yes`, or a `y` typed at the terminal to `question`; anything else
    /// is a refusal that starts with `refused` (e.g. "x was not installed").
    ///
    /// # Errors
    ///
    /// When nobody confirmed: declined, or no terminal and no `--yes`.
    pub fn confirm(&self, yes: bool, question: &str, refused: &str) -> anyhow::Result<()> {
        if yes {
            return Ok(());
        }
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(Problem::new(format!("{refused}: nobody confirmed what it may do"))
                .hint("read the capabilities above, then pass --yes (scripts) or run it at a terminal to answer the prompt")
                .into());
        }
        self.note(format!("{question} [y/N] "));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdin.lock(), &mut line)?;
        if matches!(line.trim(), "y" | "Y" | "yes") {
            Ok(())
        } else {
            Err(Problem::new(format!("{refused}: declined")).into())
        }
    }

    /// Show progress for a long step; the returned guard finishes it.
    pub fn progress(&self, message: String) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(message.clone());
            bar.enable_steady_tick(Duration::from_millis(80));
            Some(bar)
        } else {
            self.note(format!("{message}..."));
            None
        };
        Progress { bar, message, started: Instant::now() }
    }

    /// A progress bar for a transfer of bytes (a push or a pull).
    pub fn transfer(&self, message: String) -> Transfer {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(message.clone());
            bar
        });
        Transfer { bar, message, quarter: std::sync::Mutex::new(None), started: Instant::now() }
    }

    /// Print an error as `error:`, its causes, and a `hint:`; exit code 2
    /// (1 is `claw scan`'s "found something").
    pub fn error(&self, err: &anyhow::Error) -> ExitCode {
        let mut out = std::io::stderr().lock();
        let _ = writeln!(out, "error: {}", crate::terminal::clean(&err.to_string()));
        let mut hint = hint_of(err.as_ref());
        for cause in err.chain().skip(1) {
            let _ = writeln!(out, "  caused by: {}", crate::terminal::clean(&cause.to_string()));
            hint = hint.or_else(|| hint_of(cause));
        }
        if let Some(h) = hint {
            let _ = writeln!(out, "hint: {}", crate::terminal::clean(&h).replace('\n', "\n      "));
        }
        ExitCode::from(2)
    }
}

fn hint_of(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(p) = e.downcast_ref::<Problem>() {
        return p.hint_text().map(str::to_string);
    }
    if let Some(c) = e.downcast_ref::<CallError>() {
        return c.hint();
    }
    if let Some(g) = e.downcast_ref::<crate::grant::GrantError>() {
        return g.hint.clone();
    }
    None
}

/// A running progress indicator.
#[derive(Debug)]
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    message: String,
    started: Instant,
}

impl Progress {
    /// Finish with a closing word (e.g. "done").
    pub fn finish(self, word: &str) {
        finish(self.bar, &self.message, self.started, word);
    }
}

/// The closing line of a progress bar or a transfer: what, how it ended, how long.
fn finish(bar: Option<indicatif::ProgressBar>, message: &str, started: Instant, word: &str) {
    let text = format!("{message} {word} in {} ms", started.elapsed().as_millis());
    match bar {
        Some(bar) => bar.finish_with_message(text),
        None => {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }
}

/// A transfer's progress: a bar on a terminal, otherwise a line at each
/// quarter.
#[derive(Debug)]
pub struct Transfer {
    bar: Option<indicatif::ProgressBar>,
    message: String,
    quarter: std::sync::Mutex<Option<(String, u64)>>,
    started: Instant,
}

impl claw_registry::Progress for Transfer {
    fn bytes(&self, what: &str, done: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(format!("{} {what}", self.message));
            return;
        }
        let q = (done * 4).checked_div(total).unwrap_or(4);
        let Ok(mut last) = self.quarter.lock() else { return };
        if last.as_ref().is_some_and(|(w, l)| w == what && *l == q) {
            return;
        }
        *last = Some((what.to_string(), q));
        let _ = writeln!(
            std::io::stderr().lock(),
            "{} {what}: {} of {} KiB",
            self.message,
            done.div_ceil(1024),
            total.div_ceil(1024)
        );
    }
}

impl Transfer {
    /// Finish with a closing word.
    pub fn finish(self, word: &str) {
        finish(self.bar, &self.message, self.started, word);
    }
}

/// Logs go to stderr; `CLAW_LOG` (or `RUST_LOG`) sets the filter, default `warn`.
pub fn init_logging() {
    let filter = std::env::var("CLAW_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
