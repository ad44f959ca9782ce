//! Installed components: the digest store on disk, the world check, the
//! live table that hot-swap replaces atomically, the quarantine list,
//! composition and the deny stubs.

mod compose;
pub mod deny;
mod live;
mod quarantine;
pub mod registry;
mod store;
mod world;

/// A component is named by the sha256 of its bytes, spelt as OCI spells it
/// (one digest type for the store and the registry).
pub use claw_registry::Sha256Digest as Digest;
pub use compose::{Plug, compose};
pub use live::{LiveTable, LoadedComponent, Pre};
pub use quarantine::{Hold, Quarantine};
pub use store::{ComponentStore, Index, Record, now_ms as store_now_ms};
pub use world::{Shape, World, inspect, sniff};
