//! Version 2 of a tool that sleeps, then reports its version: two builds
//! to swap under load in the hot-swap tests.

const VERSION: u32 = 2;

include!("../../versioned-common.rs");
