//! What a line typed at the terminal means, and how output is printed.
//! Pure functions, unit-tested natively.

/// The help `/help` prints.
pub const HELP: &str = "\
Type a message and press Enter to talk to the agent.

Commands:
  /tool NAME JSON   call a tool directly, e.g. /tool echo {\"text\": \"hi\"}
  /new              start a new session
  /help             show this help
  /quit             leave (or /exit)
";

/// What `/tool` without a name answers.
pub const TOOL_USAGE: &str = "usage: /tool NAME JSON, e.g. /tool echo {\"text\": \"hi\"}";

/// What one typed line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An empty line: nothing to do.
    Nothing,
    /// Print the help.
    Help,
    /// Stop the channel.
    Quit,
    /// Start a new session.
    NewSession,
    /// Call a tool directly with a JSON parameters object (not checked here).
    CallTool {
        /// The tool's name.
        tool: String,
        /// Its parameters, as typed; `{}` when none were.
        params_json: String,
    },
    /// A message for the agent.
    Message(String),
}

/// Parse one line typed at the terminal.
///
/// # Errors
///
/// A message for the operator: `/tool` without a name, or an unknown command.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Command::Nothing);
    }
    if !line.starts_with('/') {
        return Ok(Command::Message(line.to_string()));
    }
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    };
    match word {
        "/quit" | "/exit" => Ok(Command::Quit),
        "/help" => Ok(Command::Help),
        "/new" => Ok(Command::NewSession),
        "/tool" => {
            if rest.is_empty() {
                return Err(TOOL_USAGE.to_string());
            }
            let (tool, params) = match rest.split_once(char::is_whitespace) {
                Some((tool, params)) => (tool, params.trim()),
                None => (rest, ""),
            };
            let params_json = if params.is_empty() { "{}" } else { params };
            Ok(Command::CallTool { tool: tool.to_string(), params_json: params_json.to_string() })
        }
        other => Err(format!("unknown command {other}; /help lists the commands")),
    }
}

/// Decode the bytes of one line.
///
/// # Errors
///
/// When they are not UTF-8.
pub fn decode(input: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(input).map_err(|_| "the input is not valid UTF-8 text".to_string())
}

/// What is printed for output from the agent or the host: a reply as it
/// is, ending with one newline; a notice with `! ` before each line.
pub fn render(text: &str, notice: bool) -> String {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if !notice {
        return format!("{body}\n");
    }
    let mut out = String::with_capacity(body.len() + 8);
    for line in body.split('\n') {
        out.push_str("! ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Command {
        Command::Message(text.to_string())
    }

    fn tool(name: &str, params: &str) -> Command {
        Command::CallTool { tool: name.to_string(), params_json: params.to_string() }
    }

    #[test]
    fn blank_lines_do_nothing() {
        assert_eq!(parse(""), Ok(Command::Nothing));
        assert_eq!(parse("   \t \r\n"), Ok(Command::Nothing));
    }

    #[test]
    fn text_is_a_trimmed_message() {
        assert_eq!(parse("hello"), Ok(message("hello")));
        assert_eq!(parse("  what is /new for?  \n"), Ok(message("what is /new for?")));
    }

    #[test]
    fn commands() {
        assert_eq!(parse("/quit"), Ok(Command::Quit));
        assert_eq!(parse("/exit"), Ok(Command::Quit));
        assert_eq!(parse("  /quit \r\n"), Ok(Command::Quit));
        assert_eq!(parse("/help"), Ok(Command::Help));
        assert_eq!(parse("/new"), Ok(Command::NewSession));
    }

    #[test]
    fn tool_calls() {
        assert_eq!(parse(r#"/tool echo {"text": "hi"}"#), Ok(tool("echo", r#"{"text": "hi"}"#)));
        assert_eq!(parse("/tool   echo   {\"a\": 1}  "), Ok(tool("echo", "{\"a\": 1}")));
        assert_eq!(parse("/tool clock"), Ok(tool("clock", "{}")));
        assert_eq!(parse("/tool\tclock\t"), Ok(tool("clock", "{}")));
        // The JSON is passed on as typed; the host checks it.
        assert_eq!(parse("/tool echo not json"), Ok(tool("echo", "not json")));
    }

    #[test]
    fn tool_without_a_name_shows_usage() {
        assert_eq!(parse("/tool"), Err(TOOL_USAGE.to_string()));
        assert_eq!(parse("/tool   "), Err(TOOL_USAGE.to_string()));
        assert_eq!(TOOL_USAGE, r#"usage: /tool NAME JSON, e.g. /tool echo {"text": "hi"}"#);
    }

    #[test]
    fn unknown_commands_point_at_help() {
        let err = parse("/frobnicate now").unwrap_err();
        assert_eq!(err, "unknown command /frobnicate; /help lists the commands");
        assert!(parse("/tools").unwrap_err().contains("/tools"));
        assert!(parse("/").is_err());
    }

    #[test]
    fn help_lists_every_command() {
        for needle in ["talk to the agent", "/tool NAME JSON", "/new", "/help", "/quit"] {
            assert!(HELP.contains(needle), "{needle}");
        }
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert_eq!(decode(b"hi"), Ok("hi"));
        assert!(decode(&[0x68, 0xff, 0x69]).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn replies_end_with_one_newline() {
        assert_eq!(render("hello", false), "hello\n");
        assert_eq!(render("two\nlines\n", false), "two\nlines\n");
        assert_eq!(render("", false), "\n");
    }

    #[test]
    fn notices_prefix_every_line() {
        assert_eq!(render("tool failed", true), "! tool failed\n");
        assert_eq!(render("first\nsecond\n", true), "! first\n! second\n");
        assert_eq!(render("", true), "! \n");
    }
}
