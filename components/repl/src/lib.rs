//! `repl`: the terminal channel. The host reads what the operator types,
//! one line per `receive`; this channel turns it into events for the host
//! (a message for the agent, a direct tool call, a new session, quit) and
//! prints what comes back on stdout, which the host connects to the
//! operator's terminal when the grant says `[terminal] output = true`.

mod parse;

#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "claw:runtime/channel",
        generate_all,
    });
}

use bindings::claw::runtime::channel_types::{DirectCall, Event, Inbound, Outbound};
use parse::Command;
use std::io::Write;

/// The one conversation a terminal has.
const CONVERSATION: &str = "terminal";
/// Who is typing.
const SENDER: &str = "operator";

struct Repl;

impl bindings::Guest for Repl {
    fn receive(input: Vec<u8>) -> Result<Vec<Event>, String> {
        let line = parse::decode(&input)?;
        let events = match parse::parse(line)? {
            Command::Nothing => Vec::new(),
            Command::Help => {
                print(parse::HELP)?;
                Vec::new()
            }
            Command::Quit => vec![Event::Quit],
            Command::NewSession => vec![Event::NewSession(CONVERSATION.to_string())],
            Command::CallTool { tool, params_json } => {
                vec![Event::CallTool(DirectCall { conversation: CONVERSATION.to_string(), tool, params_json })]
            }
            Command::Message(text) => vec![Event::Message(Inbound {
                conversation: CONVERSATION.to_string(),
                sender: SENDER.to_string(),
                text,
            })],
        };
        Ok(events)
    }

    fn deliver(message: Outbound) -> Result<(), String> {
        print(&parse::render(&message.text, message.notice))
    }

    /// The terminal has nothing to fetch.
    fn poll() -> Result<(), String> {
        Ok(())
    }
}

/// The terminal takes no HTTP: a request routed here is a 404.
impl bindings::exports::wasi::http::incoming_handler::Guest for Repl {
    fn handle(
        _request: bindings::wasi::http::types::IncomingRequest,
        out: bindings::wasi::http::types::ResponseOutparam,
    ) {
        use bindings::wasi::http::types::{Fields, OutgoingResponse, ResponseOutparam};
        let response = OutgoingResponse::new(Fields::new());
        // 404 is a valid status: setting it cannot fail.
        let _ = response.set_status_code(404);
        ResponseOutparam::set(out, Ok(response));
    }
}

/// Write to stdout (the operator's terminal) and flush.
fn print(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("could not write to the terminal: {e}"))
}

bindings::export!(Repl with_types_in bindings);
