//! The channel's kv state, with errors as strings. Keys: `offset` (the next
//! update to fetch), `webhook` (the URL registered with Telegram), `me`
//! (the bot's id and username), `draft/{reply id}` (the message a reply
//! is being written into).

use crate::bindings::claw::runtime::kv;

pub fn get(key: &str) -> Result<Option<String>, String> {
    kv::get(key).map_err(|e| format!("reading `{key}` from the channel's state: {}", e.message))
}

pub fn set(key: &str, value: &str) -> Result<(), String> {
    kv::set(key, value).map_err(|e| format!("writing `{key}` to the channel's state: {}", e.message))
}

pub fn delete(key: &str) -> Result<(), String> {
    kv::delete(key).map(|_| ()).map_err(|e| format!("deleting `{key}` from the channel's state: {}", e.message))
}
