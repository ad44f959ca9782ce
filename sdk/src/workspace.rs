//! The agent's workspace, limited to the paths the tool's grant names.

use crate::Error;
use crate::bindings::claw::runtime::workspace as ws;

pub use ws::Entry;

/// Read a document.
///
/// # Errors
///
/// `NotFound` when it does not exist, `Denied` outside the grant.
pub fn read(path: &str) -> Result<String, Error> {
    ws::read(path).map_err(Error::from)
}

/// Create or replace a document.
///
/// # Errors
///
/// `Denied` outside the grant's write paths; `Limit` when too large.
pub fn write(path: &str, content: &str) -> Result<(), Error> {
    ws::write(path, content).map_err(Error::from)
}

/// Append to a document, creating it if needed.
///
/// # Errors
///
/// As [`write()`].
pub fn append(path: &str, content: &str) -> Result<(), Error> {
    ws::append(path, content).map_err(Error::from)
}

/// List documents under a path prefix.
///
/// # Errors
///
/// `Denied` outside the grant's read paths.
pub fn list(prefix: &str) -> Result<Vec<Entry>, Error> {
    ws::list(prefix).map_err(Error::from)
}

/// Delete a document.
///
/// # Errors
///
/// `NotFound` or `Denied`.
pub fn delete(path: &str) -> Result<(), Error> {
    ws::delete(path).map_err(Error::from)
}
