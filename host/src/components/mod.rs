//! Installed components: the digest store on disk, the world check, the
//! live table that hot-swap replaces atomically, and the quarantine list.

mod compose;
mod digest;
mod live;
mod quarantine;
pub mod registry;
mod store;
mod world;

pub use compose::{Plug, compose};
pub use digest::Digest;
pub use live::{LiveTable, LoadedComponent, Pre};
pub use quarantine::{Hold, Quarantine};
pub use store::{ComponentStore, Index, Record, now_ms as store_now_ms};
pub use world::{Shape, World, inspect, sniff};
