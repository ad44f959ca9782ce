//! `claw audit` and `claw audit verify` over a rotated log, no guests needed.

use crate::common::{TestHome, stderr, stdout};
use claw::boundary::audit::{AuditLog, Record};

fn denial(path: &str) -> Record {
    Record {
        time_ms: 1,
        component: "fetch".into(),
        method: "GET".into(),
        scheme: "https".into(),
        host: "x.com".into(),
        port: 443,
        path: path.into(),
        decision: "deny".into(),
        rule: "no rule allows it".into(),
        ..Record::default()
    }
}

#[test]
fn audit_cli_reads_every_segment_and_verify_names_file_and_line() {
    let h = TestHome::new();
    let live = h.home.data.join("audit.jsonl");
    let log = AuditLog::with_max_bytes(&live, 2000);
    for i in 0..12 {
        log.append(denial(&format!("/{i}"))).unwrap();
    }
    log.append(Record { repeats: Some(3), ..denial("/11") }).unwrap();
    let mut outcome = log.append(Record { decision: "allow".into(), ..denial("/ok") }).unwrap().outcome();
    outcome.status = Some(200);
    log.append(outcome).unwrap();

    let out = h.claw(&["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("15 record(s) in"), "{}", stdout(&out));
    assert!(log.segment_path(2).exists(), "the log rotated");

    let out = h.claw(&["audit", "-n", "100"]);
    let text = stdout(&out);
    assert!(text.lines().next().unwrap_or("").starts_with("#1 "), "{text}");
    assert!(text.contains("/11 ×3 more"), "{text}");
    assert!(text.contains("→ 200 (outcome of #14)"), "{text}");

    // Damage the first segment's second record.
    let first = log.segment_path(1);
    let body = std::fs::read_to_string(&first).unwrap().replacen("\"/1\"", "\"/x\"", 1);
    std::fs::write(&first, body).unwrap();
    let out = h.claw(&["audit", "verify"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&format!("broken at record 2 ({}:2):", first.display())), "{}", stderr(&out));
}
