//! The structured error a component reports: the same kinds as the WIT
//! `error-kind`, so that `claw-sdk` maps it to a `tool-error` one to one.

use std::fmt;

/// Why a call failed; the host and the LLM react to the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The parameters do not match the schema.
    InvalidParams,
    /// The host refused a capability outside the tool's grant.
    Denied,
    /// A named thing does not exist.
    NotFound,
    /// A size, depth or time limit was hit.
    Limit,
    /// An outside service failed or could not be reached.
    Unavailable,
    /// The tool failed doing its job.
    Failed,
}

/// A tool error: a kind and a message for people and the LLM.
#[derive(Debug, Clone)]
pub struct Error {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// What went wrong, in words.
    pub message: String,
}

impl Error {
    /// A failure of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }
    /// The parameters do not match the schema.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParams, message)
    }
    /// The tool failed doing its job.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }
    /// An outside service failed.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}
