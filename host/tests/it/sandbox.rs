//! The sandbox: no environment variables, no files, whatever the host has.

use crate::common::{TestHome, add};

#[tokio::test]
async fn a_tool_sees_no_environment_and_no_files() {
    // SAFETY-free: the variable is set for this process, which hosts the tool.
    let h = TestHome::new();
    let rt = h.runtime();
    // (misbehave imports wasi:http for a signal it sends only when asked.)
    add(&rt, "misbehave", "misbehave", "[[http]]\nurl = \"http://127.0.0.1:9/hello\"\n").await.unwrap();
    assert!(std::env::var("PATH").is_ok(), "the host itself has an environment");
    let env = rt.call("misbehave", r#"{"how":"env"}"#).await.unwrap();
    assert_eq!(env, "\"[]\"", "no host environment variable reaches the tool");
    let file = rt.call("misbehave", r#"{"how":"file"}"#).await.unwrap();
    assert!(file.starts_with("\"no file:"), "{file}");
}
