//! Generated tools: the source an LLM writes, held to what it may contain, and built offline in a box.
//!
//! - [`source`]: the LLM's files, as plain data — only the tool's own
//!   `src/*.rs`, bounded, never a manifest or a build script;
//! - [`build`]: the project around them (the template's manifest, the SDK
//!   that travels with claw) and `cargo build --offline` with a cleared
//!   environment, in its own directory, under a timeout.
//!
//! The LLM round trips, the conformance checks and the operator's approval
//! build on these.

pub mod build;
pub mod source;

pub use build::{Builder, Outcome};
pub use source::{GeneratedSource, SourceError};
