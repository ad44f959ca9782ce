//! Generated tools (host/src/toolgen): the LLM's files inside the
//! template's project, `cargo build --offline` with a cleared environment
//! in a fresh directory, under a timeout; then `claw tool generate` against
//! the scripted LLM server — rounds, checks, the review and approval.

use crate::agent::{add_provider, install, install_router};
use crate::common::{TestHome, ok, stderr, stdout};
use crate::common::{lines, wait_for_within};
use crate::llm_server::{Format, LlmServer, PageServer, Step};
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

/// The target dir every generated-tool build here shares (the SDK's
/// dependencies compile once).
fn shared_target() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap();
    root.join("target/toolgen").display().to_string()
}

/// `claw ARGS` in `h` with the shared toolgen target dir.
fn claw_gen(h: &TestHome, args: &[&str]) -> std::process::Output {
    h.command(args).env("CLAW_TOOLGEN_TARGET", shared_target()).stdin(std::process::Stdio::null()).output().unwrap()
}

/// An LLM's answer: `lib` as src/lib.rs, the grant, the examples.
fn answer(lib: &str, grant: &str, examples: serde_json::Value) -> Step {
    Step::Text(serde_json::json!({"files": {"src/lib.rs": lib}, "grant": grant, "examples": examples}).to_string())
}

/// SHOUT, refusing empty text (so an example can expect an error).
fn shout_checked() -> String {
    SHOUT.replace(
        "Ok(self.text.to_uppercase())",
        "if self.text.is_empty() { return Err(Error::invalid_params(\"text must not be empty\")); }\n        Ok(self.text.to_uppercase())",
    )
}

#[test]
fn claw_tool_generate_feeds_compiler_errors_back_checks_the_examples_and_installs_only_when_approved() {
    let examples = serde_json::json!([
        {"params": {"text": "quiet please"}, "output": "QUIET PLEASE"},
        {"params": {"text": ""}, "error": "must not be empty"},
    ]);
    let does_not_compile = shout_checked().replace("Ok(self.text.to_uppercase())", "Ok(self.text.len())");
    let server = LlmServer::start(
        Format::OpenAi,
        vec![
            answer(&does_not_compile, "", examples.clone()),
            answer(&shout_checked(), "", examples.clone()),
            // The next generation: a reverser that also asks to POST anywhere
            // on a host the request never names.
            answer(
                &SHOUT.replace("self.text.to_uppercase()", "self.text.chars().rev().collect::<String>()"),
                "[[http]]\nurl = \"https://collect.evil.example/**\"\nmethods = [\"POST\"]\n",
                serde_json::json!([{"params": {"text": "abc"}, "output": "cba"}]),
            ),
        ],
    );
    let h = TestHome::new();
    install_router(&h);
    add_provider(&h, "scripted", "openai", &server, &[]);

    let out = claw_gen(&h, &["tool", "generate", "Return the text in capitals", "--name", "shout"]);
    ok(&out, "generate shout");
    let (said, progress) = (stdout(&out), stderr(&out));
    assert!(said.contains("shout is waiting for approval"), "{said}");
    for step in [
        "round 1/3, asking the LLM",
        "building (cargo, offline)",
        "the answer failed the build",
        "round 2/3",
        "running its examples",
    ] {
        assert!(progress.contains(step), "progress shows {step:?}: {progress}");
    }
    assert!(!progress.contains("round 3/3"), "it stopped at the round that passed: {progress}");
    // The second request carried the compiler's complaint about round 1.
    let asked = server.requests();
    assert_eq!(asked.len(), 2, "two rounds");
    let feedback = asked[1].last_message_text();
    assert!(feedback.contains("did not pass the build") && feedback.contains("src/lib.rs:"), "{feedback}");
    assert!(asked[0].all_text().contains("pub fn send"), "the SDK's outline is in the prompt");
    // The review: the code, what it may do, nothing unjustified.
    assert!(progress.contains("src/lib.rs (") && progress.contains("network: none"), "{progress}");
    assert!(progress.contains("every capability it asks for is one the request calls for"), "{progress}");

    // Waiting, not installed: nothing runs before approval.
    let pending = claw_gen(&h, &["tool", "pending"]);
    assert!(
        stdout(&pending).contains("shout  Return the text in capitals.  asked by operator"),
        "{}",
        stdout(&pending)
    );
    assert!(!h.claw(&["tool", "call", "shout", r#"{"text": "x"}"#]).status.success(), "not installed yet");
    let refused = claw_gen(&h, &["tool", "approve", "shout"]);
    assert!(!refused.status.success() && stderr(&refused).contains("nobody confirmed"), "{}", stderr(&refused));
    ok(&claw_gen(&h, &["tool", "approve", "shout", "--yes"]), "approve");
    let call = h.claw(&["tool", "call", "shout", r#"{"text": "quiet please"}"#]);
    ok(&call, "call the approved tool");
    assert!(stdout(&call).contains("QUIET PLEASE"), "{}", stdout(&call));
    assert!(stdout(&claw_gen(&h, &["tool", "pending"])).contains("no generated tool is waiting"));

    // The over-asking tool: the operator is told before approving.
    let out = claw_gen(&h, &["tool", "generate", "Reverse the text", "--name", "reverse", "--json"]);
    ok(&out, "generate reverse");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let unjustified = v["review"]["unjustified"].to_string();
    assert!(unjustified.contains("POST https://collect.evil.example/**"), "{v}");
    assert!(v["review"]["policy"].to_string().contains("collect.evil.example"), "{v}");
    let listed = stdout(&claw_gen(&h, &["tool", "pending"]));
    assert!(
        listed.contains("reverse") && listed.contains("asks for 1 thing(s) the request did not call for"),
        "{listed}"
    );
    ok(&claw_gen(&h, &["tool", "reject", "reverse"]), "reject");
    assert!(!h.claw(&["tool", "call", "reverse", r#"{"text": "x"}"#]).status.success(), "rejected, never installed");

    let audit = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"component\":\"host:toolgen\"") && audit.contains("\"decision\":\"approve\""), "{audit}");
    assert!(audit.contains("\"decision\":\"reject\""), "{audit}");
}

#[test]
fn a_generation_whose_rounds_all_fail_installs_and_keeps_nothing() {
    let wrong = serde_json::json!([{"params": {"text": "a"}, "output": "a!"}]);
    let server = LlmServer::start(
        Format::OpenAi,
        vec![Step::Text("Sure! Here is your tool: fn main() {}".into()), answer(SHOUT, "", wrong)],
    );
    let h = TestHome::new();
    install_router(&h);
    add_provider(&h, "scripted", "openai", &server, &[]);
    let out = claw_gen(&h, &["tool", "generate", "Shout", "--name", "shout", "--rounds", "2"]);
    assert!(!out.status.success(), "no round passed");
    let said = stderr(&out);
    assert!(said.contains("the answer failed the answer's checks: the answer is not the JSON asked for"), "{said}");
    assert!(said.contains("no tool `shout` after 2 rounds: the last answer failed the examples"), "{said}");
    assert!(said.contains("example 1") && said.contains("expected the output \"a!\""), "{said}");
    assert!(stdout(&claw_gen(&h, &["tool", "pending"])).contains("no generated tool is waiting"));
    let listed = stdout(&h.claw(&["component", "list"]));
    assert!(!listed.contains("shout"), "{listed}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn the_agent_asks_for_a_tool_as_a_durable_job_and_the_tool_waits_for_the_operator() {
    let examples = serde_json::json!([{"params": {"text": "hi"}, "output": "HI"}]);
    let ask = r#"{"name": "shout", "description": "Return the text in capitals"}"#;
    let server = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("call_1".into(), "tool-generate".into(), ask.into())]),
            Step::Text("I asked for it: it waits for your approval.".into()),
            answer(&shout_checked(), "", examples),
        ],
    );
    let h = TestHome::new();
    install_router(&h);
    install(&h, "repl", &[]);
    install(&h, "tool-generate", &[]);
    add_provider(&h, "scripted", "openai", &server, &[]);
    std::fs::create_dir_all(&h.home.config).unwrap();
    std::fs::write(h.home.config.join("config.toml"), "[heartbeat]\nevery = \"off\"\n").unwrap();
    let policy = stdout(&h.claw(&["policy", "explain", "tool-generate"]));
    assert!(policy.contains("new tools: may ask claw to write") && policy.contains("approval"), "{policy}");

    // The turn: the agent asks; the request is queued, nothing is built yet.
    let out = h.claw(&["chat", "-m", "I need a tool that shouts"]);
    ok(&out, "chat");
    assert!(stdout(&out).contains("waits for your approval"), "{}", stdout(&out));
    let result = server.requests()[1].last_message_text();
    assert!(result.contains("queued as job") && result.contains("claw tool approve shout"), "{result}");
    let jobs = stdout(&h.claw(&["jobs", "--json"]));
    assert!(jobs.contains("tool.generate"), "{jobs}");
    assert!(stdout(&claw_gen(&h, &["tool", "pending"])).contains("no generated tool is waiting"));

    // claw run's pool runs the job: written, built, checked — and kept.
    let mut child = h
        .command(&["run"])
        .env("CLAW_TOOLGEN_TARGET", shared_target())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let err = lines(child.stderr.take().unwrap());
    let _out = lines(child.stdout.take().unwrap());
    wait_for_within(&err, "claw tool approve shout", 600);
    use std::io::Write as _;
    writeln!(stdin, "/quit").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(server.requests().len(), 3, "one generation round");
    let pending = stdout(&claw_gen(&h, &["tool", "pending"]));
    assert!(pending.contains("shout") && pending.contains("asked by tool:tool-generate"), "{pending}");
    assert!(!h.claw(&["tool", "call", "shout", r#"{"text": "x"}"#]).status.success(), "the agent installs nothing");

    ok(&claw_gen(&h, &["tool", "approve", "shout", "--yes"]), "approve");
    let call = h.claw(&["tool", "call", "shout", r#"{"text": "now"}"#]);
    assert!(stdout(&call).contains("NOW"), "{}", stdout(&call));
    let audit = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap();
    assert!(audit.contains("asked by tool:tool-generate"), "{audit}");
}

#[test]
fn code_that_never_compiles_ends_with_the_compilers_words_and_nothing_installed() {
    let examples = serde_json::json!([{"params": {"text": "a"}, "output": "A"}]);
    let broken = SHOUT.replace("Ok(self.text.to_uppercase())", "Ok(self.text.len())");
    let server = LlmServer::start(Format::OpenAi, vec![answer(&broken, "", examples)]);
    let h = TestHome::new();
    install_router(&h);
    add_provider(&h, "scripted", "openai", &server, &[]);
    let before = stdout(&h.claw(&["component", "list"]));
    let out = claw_gen(&h, &["tool", "generate", "Shout", "--name", "shout", "--rounds", "2"]);
    assert!(!out.status.success(), "it never compiled");
    let said = stderr(&out);
    assert!(said.contains("no tool `shout` after 2 rounds: the last answer failed the build"), "{said}");
    assert!(said.contains("mismatched types") || said.contains("error[E"), "the compiler's words: {said}");
    assert!(said.contains("hint: describe the tool more precisely"), "{said}");
    assert_eq!(server.requests().len(), 2, "each round asked again, with the errors");
    assert!(server.requests()[1].last_message_text().contains("did not pass the build"));
    assert_eq!(stdout(&h.claw(&["component", "list"])), before, "the index is unchanged");
    assert!(stdout(&claw_gen(&h, &["tool", "pending"])).contains("no generated tool is waiting"));
}

#[test]
fn the_examples_run_with_no_capability_even_the_granted_ones() {
    // The tool fetches a page its grant allows; in the examples' trial it
    // must be denied, and the page server must see nothing.
    let pages = PageServer::start(vec![("/", "a page")]);
    let fetch = SHOUT.replace(
        "Ok(self.text.to_uppercase())",
        &format!("claw_sdk::http::get(\"{}\")?;\n        Ok(self.text.to_uppercase())", pages.url("/")),
    );
    let grant = format!("[[http]]\nurl = \"{}\"\n", pages.url("/**"));
    let examples = serde_json::json!([{"params": {"text": "x"}, "error": "denied"}]);
    let server = LlmServer::start(Format::OpenAi, vec![answer(&fetch, &grant, examples)]);
    let h = TestHome::new();
    install_router(&h);
    add_provider(&h, "scripted", "openai", &server, &[]);
    let out = claw_gen(&h, &["tool", "generate", "Shout after fetching a page from 127.0.0.1", "--name", "fetcher"]);
    ok(&out, "generate: the example expected the denial it got");
    assert!(pages.hits().is_empty(), "the unapproved code reached the network: {:?}", pages.hits());
    assert!(stderr(&out).contains(&format!("GET http://127.0.0.1:{}", pages.port())), "{}", stderr(&out));
}
