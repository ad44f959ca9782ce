//! Asking claw to write a new tool, for tools whose grant says
//! `[toolgen] request = true`. The request is queued; claw has the LLM
//! write, build and check the tool, which then waits for the operator's
//! approval. Nothing is installed by asking.

use crate::Error;
use crate::bindings::claw::runtime::toolgen as gen_;

/// Queue the generation of the tool `name` doing what `description` says;
/// the answer says where it waits.
///
/// # Errors
///
/// `Denied` without the grant; `InvalidParams` for a bad name or an empty
/// or oversized description; `Unavailable` when the queue cannot be reached.
pub fn request(name: &str, description: &str) -> Result<String, Error> {
    gen_::request(name, description).map_err(Error::from)
}
