//! Calling another tool by the alias this tool's grant gives it.

use crate::Error;

/// Call the tool the grant names `alias` with JSON parameters and parse its
/// JSON output.
///
/// # Errors
///
/// The callee's error, `Denied` for an alias outside the grant, or `Limit`
/// when the chain of tool-to-tool calls is too deep.
pub fn call<P: serde::Serialize, O: serde::de::DeserializeOwned>(alias: &str, params: &P) -> Result<O, Error> {
    let params = serde_json::to_string(params)
        .map_err(|e| Error::failed(format!("cannot encode parameters for `{alias}`: {e}")))?;
    let out = crate::bindings::claw::runtime::invoke::call(alias, &params)?;
    serde_json::from_str(&out).map_err(|e| Error::failed(format!("`{alias}` returned invalid JSON: {e}")))
}
