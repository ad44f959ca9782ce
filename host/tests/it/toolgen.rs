//! Building a generated tool (host/src/toolgen): the LLM's files inside the
//! template's project, `cargo build --offline` with a cleared environment
//! in a fresh directory, under a timeout; then the component added and run.

use crate::common::{TestHome, ok, stdout};
use claw::toolgen::{Builder, GeneratedSource, Outcome};
use std::path::Path;
use std::time::Duration;

const SHOUT: &str = r#"
use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde};

/// Parameters of `shout`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Shout {
    /// The text to shout.
    text: String,
}

impl Tool for Shout {
    const DESCRIPTION: &'static str = "Return the text in capitals.";
    type Output = String;

    fn execute(self, _ctx: &Context) -> Result<String, Error> {
        Ok(self.text.to_uppercase())
    }
}

export_tool!(Shout);
"#;

fn source(lib: &str) -> GeneratedSource {
    GeneratedSource::parse(&serde_json::json!({"files": {"src/lib.rs": lib}}).to_string()).unwrap()
}

fn builder(timeout: Duration) -> Builder {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap();
    // Its own target dir: a cleared environment means other flags than the
    // guests' build, and sharing would rebuild both in turn.
    Builder { sdk: root.join("sdk"), target_dir: root.join("target/toolgen"), timeout }
}

/// Write `lib` as the tool `name` into a fresh project under `dir` and build it.
fn generate(rt: &tokio::runtime::Runtime, b: &Builder, dir: &Path, name: &str, lib: &str) -> Outcome {
    let project = dir.join(name);
    b.write_project(&project, name, &source(lib)).unwrap();
    rt.block_on(b.build(&project, name)).unwrap()
}

#[test]
fn generated_source_builds_offline_in_a_box_and_failures_come_back_as_compiler_errors() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let b = builder(Duration::from_secs(600));

    // A good answer builds, installs and runs.
    let project = dir.path().join("shout");
    b.write_project(&project, "shout", &source(SHOUT)).unwrap();
    assert!(b.write_project(&project, "shout", &source(SHOUT)).is_err(), "a fresh directory each time");
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("claw-sdk = { path = ") && !manifest.contains("build ="), "{manifest}");
    let Outcome::Built { wasm, .. } = rt.block_on(b.build(&project, "shout")).unwrap() else {
        panic!("the good source did not build");
    };
    let h = TestHome::new();
    let file = dir.path().join("shout.wasm");
    std::fs::write(&file, wasm).unwrap();
    ok(&h.claw(&["component", "add", file.to_str().unwrap(), "--name", "shout"]), "add the generated tool");
    let out = h.claw(&["tool", "call", "shout", r#"{"text": "quiet please"}"#]);
    ok(&out, "call");
    assert!(stdout(&out).contains("QUIET PLEASE"), "{}", stdout(&out));

    // A type error comes back as the compiler's words, file and line.
    let broken = SHOUT.replace("Ok(self.text.to_uppercase())", "Ok(self.text.len())");
    let Outcome::Failed { errors } = generate(&rt, &b, dir.path(), "broken", &broken) else {
        panic!("a type error built");
    };
    assert!(errors.contains("src/lib.rs:") && errors.contains("error"), "{errors}");
    assert!(errors.len() <= (8 << 10) + 4, "bounded: {} bytes", errors.len());

    // The operator's environment does not reach the build: this test
    // process has CLAW_GUEST_DIR set (scripts/dev test sets it), and code
    // that reads it at compile time fails to build.
    assert!(std::env::var_os("CLAW_GUEST_DIR").is_some(), "run under scripts/dev test (CLAW_GUEST_DIR set)");
    let reads_env = SHOUT.replace("\"Return the text in capitals.\"", "env!(\"CLAW_GUEST_DIR\")");
    let Outcome::Failed { errors } = generate(&rt, &b, dir.path(), "envy", &reads_env) else {
        panic!("the build saw the caller's environment");
    };
    assert!(errors.contains("CLAW_GUEST_DIR") && errors.contains("not defined"), "{errors}");
}

#[test]
fn a_build_past_its_timeout_is_killed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let b = builder(Duration::from_millis(1));
    let started = std::time::Instant::now();
    assert!(matches!(generate(&rt, &b, dir.path(), "slow", SHOUT), Outcome::TimedOut));
    assert!(started.elapsed() < Duration::from_secs(10), "it returned at its timeout");
}
