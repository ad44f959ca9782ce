//! The gitleaks measurement: claw's credential patterns scored against the
//! true and false positives of gitleaks' rule definitions.
//!
//! The cases come from `scripts/gitleaks-cases`, which reads them from a
//! gitleaks repository at measurement time and writes JSONL lines
//! `{rule_id, family, kind: "tp"|"fp", text, source: "literal"|"generated"}`;
//! they are never committed. Recall is counted per family, only for the
//! gitleaks rules the script maps onto one of our families, and only a
//! finding of that family counts. Every fp, whatever its rule, counts
//! against precision when anything at all is found in it.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// Detected / total, for one family and one source of cases.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Cases found.
    pub found: usize,
    /// Cases in all.
    pub total: usize,
}

impl Count {
    fn add(&mut self, hit: bool) {
        self.total += 1;
        self.found += usize::from(hit);
    }

    /// found / total, as a percentage (100 when there is nothing to find).
    pub fn percent(&self) -> f64 {
        if self.total == 0 { 100.0 } else { 100.0 * self.found as f64 / self.total as f64 }
    }
}

/// Recall of one family.
#[derive(Debug, Default, Clone)]
pub struct Family {
    /// Cases written literally in gitleaks' rules.
    pub literal: Count,
    /// Cases the extractor synthesised from a `secrets.NewSecret` regex.
    pub generated: Count,
}

/// A case the detector got wrong.
#[derive(Debug, Clone)]
pub struct Miss {
    /// The gitleaks rule it came from.
    pub rule_id: String,
    /// "literal" or "generated".
    pub source: String,
    /// What was found in it (for a flagged fp), as "family/name".
    pub found: Vec<String>,
    /// The case itself.
    pub text: String,
}

/// The measurement.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Recall per family.
    pub families: BTreeMap<String, Family>,
    /// The fps: how many had a finding (`found`) out of all.
    pub fps: Count,
    /// tps of our families that were detected (literal + generated) and the
    /// fps flagged: precision = tp / (tp + fp).
    pub precision: f64,
    /// tps missed.
    pub missed: Vec<Miss>,
    /// fps flagged.
    pub flagged: Vec<Miss>,
}

/// Score `detect` (input -> every (family, name) found in it) on the JSONL
/// cases at `jsonl`.
///
/// # Errors
///
/// When the file cannot be read or a line is not a case.
pub fn measure(jsonl: &Path, detect: impl Fn(&[u8]) -> Vec<(String, String)>) -> std::io::Result<Report> {
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let mut report = Report::default();
    let file = std::io::BufReader::new(std::fs::File::open(jsonl)?);
    let mut tp_found = 0usize;
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let case: serde_json::Value = serde_json::from_str(&line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
        let field = |k: &str| case.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let (rule_id, family, kind, text, source) =
            (field("rule_id"), field("family"), field("kind"), field("text"), field("source"));
        let found = detect(text.as_bytes());
        let names = || found.iter().map(|(f, n)| format!("{f}/{n}")).collect::<Vec<_>>();
        match kind.as_str() {
            "tp" if !family.is_empty() => {
                let hit = found.iter().any(|(f, _)| *f == family);
                let fam = report.families.entry(family).or_default();
                if source == "generated" {
                    fam.generated.add(hit)
                } else {
                    fam.literal.add(hit)
                }
                if hit {
                    tp_found += 1;
                } else {
                    report.missed.push(Miss { rule_id, source, found: names(), text });
                }
            }
            "tp" => {}
            "fp" => {
                report.fps.add(!found.is_empty());
                if !found.is_empty() {
                    report.flagged.push(Miss { rule_id, source, found: names(), text });
                }
            }
            other => return Err(bad(format!("line {}: unknown kind `{other}`", n + 1))),
        }
    }
    let flagged = report.fps.found;
    report.precision =
        if tp_found + flagged == 0 { 100.0 } else { 100.0 * tp_found as f64 / (tp_found + flagged) as f64 };
    Ok(report)
}

/// Shorten a case for display.
fn clip(s: &str) -> String {
    let one_line = s.replace('\n', "\\n");
    if one_line.chars().count() > 140 {
        format!("{}…", one_line.chars().take(140).collect::<String>())
    } else {
        one_line
    }
}

impl Report {
    /// Write the report, human-readable, to `out`.
    ///
    /// # Errors
    ///
    /// When `out` fails.
    pub fn write(&self, out: &mut impl Write, details: bool) -> std::io::Result<()> {
        writeln!(out, "{:14} {:>18} {:>18}", "family", "recall literal", "recall generated")?;
        for (name, f) in &self.families {
            let cell = |c: &Count| {
                if c.total == 0 { "-".to_string() } else { format!("{}/{} {:.1}%", c.found, c.total, c.percent()) }
            };
            writeln!(out, "{name:14} {:>18} {:>18}", cell(&f.literal), cell(&f.generated))?;
        }
        writeln!(
            out,
            "fps flagged: {}/{} (clean {:.1}%); precision tp/(tp+fp) {:.2}%",
            self.fps.found,
            self.fps.total,
            100.0 - self.fps.percent(),
            self.precision
        )?;
        if details {
            for m in &self.missed {
                writeln!(out, "missed  {} [{}] {}", m.rule_id, m.source, clip(&m.text))?;
            }
            for m in &self.flagged {
                writeln!(out, "flagged {} [{}] {:?} {}", m.rule_id, m.source, m.found, clip(&m.text))?;
            }
        }
        Ok(())
    }

    /// Print the report to stdout.
    pub fn print(&self, details: bool) {
        let _ = self.write(&mut std::io::stdout().lock(), details);
    }
}
