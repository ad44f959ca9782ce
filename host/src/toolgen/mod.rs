//! Generated tools: the LLM writes a tool's source, claw builds it offline in a box, checks it, and keeps it for the operator's approval.
//!
//! - [`source`]: the LLM's files, as plain data — only the tool's own
//!   `src/*.rs`, bounded, never a manifest or a build script;
//! - [`proposal`]: the whole answer — the files, the grant it asks for,
//!   the examples that are its tests;
//! - [`prompt`]: what the LLM is told (the template, the grant format, an
//!   outline of the SDK claw carries) and what goes back after a failure;
//! - [`build`]: the project around the files (the template's manifest, the
//!   SDK) and `cargo build --offline` with a cleared environment, in its
//!   own directory, under a timeout;
//! - [`generate`]: the rounds — answer, build, conformance checks
//!   (`Runtime::prepare`: world, imports against the grant, description
//!   and schema), examples run with no capability (`Runtime::trial`);
//! - [`review`]: what the operator reads — the code's summary, the grant
//!   in plain words, what the request did not call for;
//! - [`pending`]: tools waiting for `claw tool approve`, in the home;
//! - [`approve`]: the reviewed bytes installed under the grant they asked for;
//! - [`job`]: the agent's request (`claw:runtime/toolgen`) as a durable
//!   `tool.generate` job, ending where the CLI's does — waiting for approval;
//! - [`sdk`]: the SDK and WIT that travel inside the binary, written into
//!   the home once per version (`claw new` and generated tools build on it).

pub mod approve;
pub mod build;
pub mod generate;
pub mod job;
pub mod pending;
pub mod prompt;
pub mod proposal;
pub mod review;
pub mod sdk;
pub mod source;

pub use build::{Builder, Outcome};
pub use generate::{Event, Generator};
pub use proposal::{Example, Expect, Proposal};
pub use review::Review;
pub use source::{GeneratedSource, SourceError};
