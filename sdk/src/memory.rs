//! Search of the agent's memory (hybrid full-text and vector), for tools
//! whose grant says `[memory] search = true`.

use crate::Error;
use crate::bindings::claw::runtime::memory as mem;

pub use mem::Hit;

/// The best `limit` chunks for `query` (at most 50).
///
/// # Errors
///
/// `Denied` without the grant; `Unavailable` when the store cannot be reached.
pub fn search(query: &str, limit: u32) -> Result<Vec<Hit>, Error> {
    mem::search(query, limit).map_err(Error::from)
}
