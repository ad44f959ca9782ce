//! Deny stubs: a component whose imports are wider than the grant the
//! operator gives is composed (wac-graph) with claw's stubs for the
//! capabilities the grant leaves out, so it installs with the narrower
//! grant and every call there fails with `denied` inside the component,
//! never reaching the host. The stubs are the `deny` guest
//! (components/deny, the `deny-stubs` world), carried in the binary.

use super::compose::{Plug, compose};
use crate::grant::{Grant, ungranted};
use crate::problem::Problem;

/// The stubs' component, as `scripts/dev components` last built it.
pub const STUBS: &[u8] = include_bytes!("../../assets/deny-stubs.wasm");

/// What stubbing did: the component to install and the imports filled.
#[derive(Debug)]
pub struct Stubbed {
    /// The composed component.
    pub bytes: Vec<u8>,
    /// The imports the stubs now fill.
    pub imports: Vec<String>,
}

/// The import names of the component `bytes`, read without compiling it.
fn imports_of(bytes: &[u8], file: &str) -> Result<Vec<String>, Problem> {
    let mut types = wac_graph::types::Types::default();
    let pkg = wac_graph::types::Package::from_bytes("claw:inspect", None, bytes.to_vec(), &mut types)
        .map_err(|e| Problem::new(format!("{file} is not a component: {e:#}")))?;
    Ok(types[pkg.ty()].imports.keys().cloned().collect())
}

/// Fill the imports of `bytes` (from `file`) that `grant` does not cover
/// with deny stubs. Nothing to stub gives the bytes back.
///
/// # Errors
///
/// When it is not a component, or composition fails (it was built
/// against another version of an interface than the stubs export, say).
pub fn stub(bytes: Vec<u8>, file: &str, grant: &Grant) -> Result<Stubbed, Problem> {
    let missing = ungranted(&imports_of(&bytes, file)?, grant);
    if missing.is_empty() {
        return Ok(Stubbed { bytes, imports: missing });
    }
    let plug = Plug { import: None, only: missing.clone(), file: "claw's deny stubs".into(), bytes: STUBS.to_vec() };
    let composed = compose(&bytes, file, &[plug]).map_err(|e| {
        Problem::new(format!("{file} cannot be given deny stubs for {}: {e}", missing.join(", "))).hint(
            "grant what it imports instead, or rebuild it against claw's WIT (claw:runtime@0.1.0, wasi:http@0.2.12)",
        )
    })?;
    // Whatever the stubs did not fill (another version than theirs) stays
    // an import, and the grant check then names it.
    Ok(Stubbed { bytes: composed, imports: missing })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stubs carried in the binary export every capability the
    /// `deny-stubs` world names, at the WIT's current versions.
    #[test]
    fn the_carried_stubs_match_the_deny_stubs_world() {
        let engine = wasmtime::Engine::default();
        let component = wasmtime::component::Component::new(&engine, STUBS).expect("the carried stubs load");
        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
        let wit = include_str!("../../../wit/worlds.wit");
        let world = wit.split("world deny-stubs {").nth(1).expect("the world is in worlds.wit");
        let world = &world[..world.find('}').expect("the world ends")];
        let mut wanted: Vec<String> = world
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export ")?.strip_suffix(';').map(String::from))
            .map(|n| if n.contains(':') { n } else { format!("claw:runtime/{n}@0.1.0") })
            .collect();
        let mut have = exports.clone();
        wanted.sort();
        have.sort();
        assert_eq!(have, wanted, "refresh host/assets/deny-stubs.wasm: `bash scripts/dev components`");
        for (name, _) in ty.imports(&engine) {
            let class = crate::grant::classify_import(name);
            assert!(
                matches!(
                    class,
                    crate::grant::ImportClass::Sandbox
                        | crate::grant::ImportClass::Types
                        | crate::grant::ImportClass::HttpTypes
                ),
                "the stubs import {name} ({class:?}): they must need no grant"
            );
        }
    }
}
