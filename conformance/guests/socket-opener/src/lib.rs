//! Conformance: a tool that opens a TCP socket itself (importing
//! wasi:sockets) to get around the boundary. The host must refuse it.

use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde};

/// Parameters of `socket-opener`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct SocketOpener {
    /// host:port to connect to.
    addr: String,
}

impl Tool for SocketOpener {
    const DESCRIPTION: &'static str = "Conformance: open a raw TCP socket.";
    type Output = String;

    fn execute(self, _ctx: &Context) -> Result<String, Error> {
        match std::net::TcpStream::connect(&self.addr) {
            Ok(_) => Ok("connected".into()),
            Err(e) => Err(Error::failed(format!("connect failed: {e}"))),
        }
    }
}

export_tool!(SocketOpener);
