//! The structured error a tool returns: [`Error`] lives in `claw-client`
//! (channels and adapters use it too); its mapping to the `tool-error` of
//! the tool world lives here, with the tool world's bindings.

use crate::bindings::claw::runtime::types::{ErrorKind as WitKind, ToolError};
use claw_client::{Error, ErrorKind};

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        let kind = match e.kind {
            ErrorKind::InvalidParams => WitKind::InvalidParams,
            ErrorKind::Denied => WitKind::Denied,
            ErrorKind::NotFound => WitKind::NotFound,
            ErrorKind::Limit => WitKind::Limit,
            ErrorKind::Unavailable => WitKind::Unavailable,
            ErrorKind::Failed => WitKind::Failed,
        };
        ToolError { kind, message: e.message }
    }
}

impl From<ToolError> for Error {
    fn from(e: ToolError) -> Self {
        let kind = match e.kind {
            WitKind::InvalidParams => ErrorKind::InvalidParams,
            WitKind::Denied => ErrorKind::Denied,
            WitKind::NotFound => ErrorKind::NotFound,
            WitKind::Limit => ErrorKind::Limit,
            WitKind::Unavailable => ErrorKind::Unavailable,
            WitKind::Failed => ErrorKind::Failed,
        };
        Error { kind, message: e.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_the_tool_error() {
        for kind in [
            ErrorKind::InvalidParams,
            ErrorKind::Denied,
            ErrorKind::NotFound,
            ErrorKind::Limit,
            ErrorKind::Unavailable,
            ErrorKind::Failed,
        ] {
            let back = Error::from(ToolError::from(Error::new(kind, "m")));
            assert_eq!((back.kind, back.message.as_str()), (kind, "m"));
        }
    }
}
