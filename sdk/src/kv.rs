//! A small durable state of the tool's own (cursors, ids seen), kept by
//! the host in its store, for tools whose grant has a `[kv]` section; the
//! grant's `max_kib` caps keys and values together.

use crate::Error;
use crate::bindings::claw::runtime::kv as state;

/// The value of `key`, if set.
///
/// # Errors
///
/// `InvalidParams` for a key that is empty, over 256 bytes or has control
/// characters; `Unavailable` when the store cannot be reached.
pub fn get(key: &str) -> Result<Option<String>, Error> {
    state::get(key).map_err(Error::from)
}

/// Set `key` to `value`.
///
/// # Errors
///
/// As [`get`], and `Limit` when the state would pass the grant's cap
/// (then nothing changes).
pub fn set(key: &str, value: &str) -> Result<(), Error> {
    state::set(key, value).map_err(Error::from)
}

/// Remove `key`; whether it was set.
///
/// # Errors
///
/// As [`get`].
pub fn delete(key: &str) -> Result<bool, Error> {
    state::delete(key).map_err(Error::from)
}

/// The keys that start with `prefix`, sorted.
///
/// # Errors
///
/// `Unavailable` when the store cannot be reached.
pub fn keys(prefix: &str) -> Result<Vec<String>, Error> {
    state::keys(prefix).map_err(Error::from)
}
