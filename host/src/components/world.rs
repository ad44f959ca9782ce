//! Which world a component implements, and what it imports.

use crate::problem::Problem;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The worlds claw knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    /// `claw:runtime/tool`.
    Tool,
    /// `claw:runtime/channel`.
    Channel,
    /// `claw:runtime/llm`: the router with its adapters plugged in.
    Llm,
}

impl World {
    /// The WIT name.
    pub fn wit_name(self) -> &'static str {
        match self {
            World::Tool => "claw:runtime/tool@0.1.0",
            World::Channel => "claw:runtime/channel@0.1.0",
            World::Llm => "claw:runtime/llm@0.1.0",
        }
    }

    fn exports(self) -> &'static [&'static str] {
        match self {
            World::Tool => &["description", "parameters-schema", "execute"],
            World::Channel => &["receive", "deliver", "poll", "wasi:http/incoming-handler@0.2.12"],
            World::Llm => &["complete"],
        }
    }
}

/// A component's world, imports and exports.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The world it implements.
    pub world: World,
    /// Its import names, e.g. `wasi:http/outgoing-handler@0.2.12`.
    pub imports: Vec<String>,
    /// Its export names.
    pub exports: Vec<String>,
}

/// Check the bytes look like a component before handing them to wasmtime,
/// so the error says what the file is.
///
/// # Errors
///
/// A [`Problem`] for a non-wasm file or a core module.
pub fn sniff(bytes: &[u8], file: &str) -> Result<(), Problem> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(Problem::new(format!("{file} is not a WebAssembly file (no \\0asm header)"))
            .hint("build a component with `cargo build --target wasm32-wasip2 --release` and add target/wasm32-wasip2/release/NAME.wasm"));
    }
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(Problem::new(format!("{file} is a core WebAssembly module, not a component"))
            .hint("claw runs WASI 0.2 components: build for the wasm32-wasip2 target (not wasm32-unknown-unknown or wasip1), or wrap the module with `wasm-tools component new`"));
    }
    Ok(())
}

/// Find the world, imports and exports of a compiled component.
///
/// # Errors
///
/// A [`Problem`] when it exports none of the known worlds.
pub fn inspect(engine: &wasmtime::Engine, component: &Component, file: &str) -> Result<Shape, Problem> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let mut exports = Vec::new();
    let mut funcs = Vec::new();
    for (name, item) in ty.exports(engine) {
        if matches!(item.ty, ComponentItem::ComponentFunc(_)) {
            funcs.push(name.to_string());
        }
        exports.push(name.to_string());
    }
    let world = [World::Tool, World::Channel, World::Llm]
        .into_iter()
        .find(|w| w.exports().iter().all(|e| funcs.iter().chain(&exports).any(|f| f == e)));
    match world {
        Some(world) => Ok(Shape { world, imports, exports }),
        None => {
            let found = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
            let what = if exports.iter().any(|e| e.starts_with("wasi:cli/run")) {
                " (it is a WASI command program)"
            } else if exports.iter().any(|e| e.starts_with("wasi:http/incoming-handler")) {
                " (it is a wasi:http proxy)"
            } else {
                ""
            };
            Err(Problem::new(format!(
                "{file} does not implement a claw world{what}: it exports {found}; a tool exports description, parameters-schema and execute ({}), the LLM router complete ({}), a channel receive, deliver, poll and wasi:http/incoming-handler ({})",
                World::Tool.wit_name(),
                World::Llm.wit_name(),
                World::Channel.wit_name()
            ))
            .hint("write tools with claw-sdk (`claw new tool NAME` starts one) so the export matches the tool world"))
        }
    }
}
