//! The agent's memory: the workspace's documents, cut into chunks and
//! indexed for full-text and vector search, fused by Reciprocal Rank Fusion.
//! External content is flagged for prompt-injection markers on the way in.

pub mod chunk;
pub mod embed;
pub mod index;
pub mod remote;
pub mod rrf;
