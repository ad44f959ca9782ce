//! Composition: plug components into another's imports with wac-graph,
//! producing one component (the LLM router with its provider adapters).
//!
//! A plug is `IMPORT=FILE` (the plug's one exported instance satisfies the
//! socket's import named IMPORT) or just `FILE` (each export satisfies the
//! socket import of the same name, as `wac plug` does). Whatever the plugs
//! import themselves becomes an import of the result, so the composed
//! component is checked against its grant like any other.

use crate::problem::Problem;
use wac_graph::types::{ItemKind, Package};
use wac_graph::{CompositionGraph, EncodeOptions};

/// One component to plug in.
#[derive(Debug, Clone)]
pub struct Plug {
    /// The socket import it fills; `None` to match export names to imports.
    pub import: Option<String>,
    /// When matching by name, fill only these imports (empty: every match).
    pub only: Vec<String>,
    /// Where it came from, for errors.
    pub file: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Plug {
    /// Parse a `--plug` argument, `IMPORT=FILE` or `FILE`, and read the file.
    ///
    /// # Errors
    ///
    /// When the file cannot be read.
    pub fn from_arg(arg: &str) -> Result<Plug, Problem> {
        let (import, file) = match arg.split_once('=') {
            Some((i, f)) if !i.is_empty() && !i.contains('/') => (Some(i.to_string()), f.to_string()),
            _ => (None, arg.to_string()),
        };
        let bytes = std::fs::read(&file).map_err(|e| {
            Problem::new(format!("cannot read the plug {file}: {e}"))
                .hint("pass --plug IMPORT=FILE.wasm or --plug FILE.wasm")
        })?;
        Ok(Plug { import, only: Vec::new(), file, bytes })
    }
}

/// Plug `plugs` into `socket` and encode the result.
///
/// # Errors
///
/// A [`Problem`] when a file is not a component, a named import does not
/// exist, types do not match, or a plug fills nothing.
pub fn compose(socket: &[u8], socket_file: &str, plugs: &[Plug]) -> Result<Vec<u8>, Problem> {
    let mut graph = CompositionGraph::new();
    let register = |graph: &mut CompositionGraph, name: &str, bytes: &[u8], file: &str| {
        let pkg = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
            .map_err(|e| Problem::new(format!("{file} cannot be composed: {e:#}")))?;
        graph.register_package(pkg).map_err(|e| Problem::new(format!("{file} cannot be composed: {e:#}")))
    };
    let socket_pkg = register(&mut graph, "claw:socket", socket, socket_file)?;
    let socket_world = graph[socket_pkg].ty();
    let socket_imports: Vec<(String, ItemKind)> =
        graph.types()[socket_world].imports.iter().map(|(n, k)| (n.clone(), *k)).collect();
    let socket_exports: Vec<String> = graph.types()[socket_world].exports.keys().cloned().collect();
    let socket_node = graph.instantiate(socket_pkg);

    for (i, plug) in plugs.iter().enumerate() {
        let pkg = register(&mut graph, &format!("claw:plug{i}"), &plug.bytes, &plug.file)?;
        let exports: Vec<String> = graph.types()[graph[pkg].ty()].exports.keys().cloned().collect();
        let pairs: Vec<(String, String)> = match &plug.import {
            Some(import) => {
                if !socket_imports.iter().any(|(n, _)| n == import) {
                    let names: Vec<&str> = socket_imports.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(Problem::new(format!("{socket_file} has no import named `{import}`"))
                        .hint(format!("its imports are: {}", names.join(", "))));
                }
                let [only] = exports.as_slice() else {
                    return Err(Problem::new(format!(
                        "{} exports {} items; with --plug {import}=FILE it must export exactly one",
                        plug.file,
                        exports.len()
                    ))
                    .hint("plug it without `IMPORT=` to match its exports to imports by name"));
                };
                vec![(only.clone(), import.clone())]
            }
            None => exports
                .iter()
                .filter(|e| socket_imports.iter().any(|(n, _)| n == *e))
                .filter(|e| plug.only.is_empty() || plug.only.contains(e))
                .map(|e| (e.clone(), e.clone()))
                .collect(),
        };
        if pairs.is_empty() {
            return Err(Problem::new(format!("{} provides nothing {socket_file} imports", plug.file))
                .hint("name the import it fills: --plug IMPORT=FILE"));
        }
        let node = graph.instantiate(pkg);
        for (export, import) in pairs {
            let alias = graph
                .alias_instance_export(node, &export)
                .map_err(|e| Problem::new(format!("{}: export `{export}`: {e:#}", plug.file)))?;
            graph.set_instantiation_argument(socket_node, &import, alias).map_err(|e| {
                Problem::new(format!("{} does not fit the import `{import}` of {socket_file}: {e:#}", plug.file))
                    .hint("build the plug against the same WIT as the socket")
            })?;
        }
    }
    for name in socket_exports {
        let alias = graph
            .alias_instance_export(socket_node, &name)
            .map_err(|e| Problem::new(format!("{socket_file}: export `{name}`: {e:#}")))?;
        graph.export(alias, &name).map_err(|e| Problem::new(format!("{socket_file}: export `{name}`: {e:#}")))?;
    }
    graph.encode(EncodeOptions::default()).map_err(|e| Problem::new(format!("encoding the composition failed: {e:#}")))
}
