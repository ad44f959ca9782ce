//! The agent's memory: the workspace's documents, indexed for search.
//! (This build: prompt-injection flagging of external content; the
//! chunker, full-text and vector indexes and RRF land with the memory index.)

pub mod injection;
