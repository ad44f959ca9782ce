//! `claw:runtime/secrets`: whether a secret exists — never its value.
//!
//! A component may ask only about secrets its grant names; the answer for
//! any other name is `false`, the same as for a missing one, so a tool
//! cannot probe the vault.

use super::{CallState, HostServices};
use crate::boundary::Boundary;
use crate::grant::Grant;
use crate::wit::claw::runtime::secrets::{Host, add_to_linker};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Link `claw:runtime/secrets`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.secrets)
}

/// The secret names the grant lets the component ask about.
#[derive(Debug)]
pub struct Config {
    names: Vec<String>,
}

impl Config {
    pub(super) fn from_grant(grant: &Grant) -> Config {
        Config { names: grant.secrets.iter().map(|s| s.name.clone()).collect() }
    }
}

/// One instance's view of the vault.
pub struct Instance {
    config: Arc<Config>,
    boundary: Arc<Boundary>,
}

impl Instance {
    pub(super) fn prepare(config: &Arc<Config>, host: &HostServices) -> Instance {
        Instance { config: config.clone(), boundary: host.boundary.clone() }
    }
}

impl Host for Instance {
    fn exists(&mut self, name: String) -> wasmtime::Result<bool> {
        Ok(self.config.names.contains(&name) && self.boundary.secrets().contains(&name))
    }
}
