//! The CNCF Wasm OCI artifact: an image manifest with one
//! `application/wasm` layer (the component's bytes) and a
//! `application/vnd.wasm.config.v0+json` config that lists its imports and
//! exports — the layout `wkg oci push` writes and reads. claw adds its own
//! facts as manifest annotations (the shipped grant, the description),
//! which other tools carry along unread.

use crate::{Error, Sha256Digest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The Wasm config media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The component layer's media type.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Annotation: what the component does.
pub const DESCRIPTION: &str = "org.opencontainers.image.description";
/// Annotation: when it was published.
pub const CREATED: &str = "org.opencontainers.image.created";
/// Annotation: the grant its author ships (TOML), shown before install.
pub const GRANT: &str = "dev.claw.grant";

/// A blob's descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Sha256Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Annotations (a cosign signature layer carries its signature here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI image manifest (the fields claw reads and writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers: exactly one, the component.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// An OCI image manifest of a config (`config_media_type`, its bytes)
    /// and `layers`, and its bytes as sent and digested.
    pub fn build(
        config_media_type: &str,
        config_bytes: &[u8],
        layers: Vec<Descriptor>,
        annotations: BTreeMap<String, String>,
    ) -> (Manifest, Vec<u8>) {
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.into()),
            config: Descriptor {
                media_type: config_media_type.into(),
                digest: Sha256Digest::of(config_bytes),
                size: config_bytes.len() as u64,
                annotations: BTreeMap::new(),
            },
            layers,
            annotations,
        };
        let bytes = serde_json::to_vec(&manifest).expect("a manifest always encodes");
        (manifest, bytes)
    }
}

/// What the config says about the component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentInfo {
    /// Its exports.
    pub exports: Vec<String>,
    /// Its imports.
    pub imports: Vec<String>,
    /// Its target world, if named.
    pub target: Option<String>,
}

/// The `application/vnd.wasm.config.v0+json` config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmConfig {
    /// RFC 3339.
    pub created: String,
    /// Who published it.
    pub author: Option<String>,
    /// Always `wasm`.
    pub architecture: String,
    /// `wasip2` for a component.
    pub os: String,
    /// The layers' digests, in order.
    pub layer_digests: Vec<String>,
    /// Imports and exports.
    pub component: Option<ComponentInfo>,
}

/// What a publisher says about the component beside its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Its imports (interface names).
    pub imports: Vec<String>,
    /// Its exports.
    pub exports: Vec<String>,
    /// What it does.
    pub description: String,
    /// The grant it ships, TOML (empty: none).
    pub grant: String,
}

/// A whole artifact: the manifest (bytes and parsed), its config and the
/// component.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The manifest as sent and digested.
    pub manifest_bytes: Vec<u8>,
    /// The manifest, parsed.
    pub manifest: Manifest,
    /// The config blob.
    pub config_bytes: Vec<u8>,
    /// The component's bytes.
    pub wasm: Vec<u8>,
}

impl Artifact {
    /// The artifact of `wasm` with what its publisher says of it.
    pub fn build(wasm: Vec<u8>, facts: &Facts) -> Artifact {
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let layer = Descriptor {
            media_type: LAYER_MEDIA_TYPE.into(),
            digest: Sha256Digest::of(&wasm),
            size: wasm.len() as u64,
            annotations: BTreeMap::new(),
        };
        let config = WasmConfig {
            created: created.clone(),
            author: None,
            architecture: "wasm".into(),
            os: "wasip2".into(),
            layer_digests: vec![layer.digest.to_string()],
            component: Some(ComponentInfo {
                exports: facts.exports.clone(),
                imports: facts.imports.clone(),
                target: None,
            }),
        };
        let config_bytes = serde_json::to_vec(&config).expect("a config always encodes");
        let mut annotations = BTreeMap::from([(CREATED.to_string(), created)]);
        if !facts.description.is_empty() {
            annotations.insert(DESCRIPTION.into(), facts.description.clone());
        }
        if !facts.grant.is_empty() {
            annotations.insert(GRANT.into(), facts.grant.clone());
        }
        let (manifest, manifest_bytes) = Manifest::build(CONFIG_MEDIA_TYPE, &config_bytes, vec![layer], annotations);
        Artifact { manifest_bytes, manifest, config_bytes, wasm }
    }

    /// The manifest's digest: what pins this artifact.
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of(&self.manifest_bytes)
    }

    /// The grant its publisher ships, if any.
    pub fn grant(&self) -> Option<&str> {
        self.manifest.annotations.get(GRANT).map(String::as_str)
    }

    /// Its description, if the publisher gave one.
    pub fn description(&self) -> Option<&str> {
        self.manifest.annotations.get(DESCRIPTION).map(String::as_str)
    }

    /// The imports its config lists.
    pub fn config(&self) -> Option<WasmConfig> {
        serde_json::from_slice(&self.config_bytes).ok()
    }
}

/// Parse a manifest the registry sent for `what` (with the `Content-Type`
/// it came with) and check it is a Wasm component artifact.
///
/// # Errors
///
/// An [`Error`] naming the media type or the field that is wrong.
pub fn parse_manifest(bytes: &[u8], content_type: Option<&str>, what: &str) -> Result<Manifest, Error> {
    let content_type = content_type.map(|c| c.split(';').next().unwrap_or(c).trim());
    if let Some(ct) = content_type
        && ct != MANIFEST_MEDIA_TYPE
        && ct != "application/json"
    {
        return Err(wrong_kind(what, ct));
    }
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
        let mt = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(String::from));
        match mt {
            Some(mt) if mt != MANIFEST_MEDIA_TYPE => wrong_kind(what, &mt),
            _ => Error::new(format!("the manifest of {what} is not a valid OCI image manifest: {e}")),
        }
    })?;
    if let Some(mt) = &manifest.media_type
        && mt != MANIFEST_MEDIA_TYPE
    {
        return Err(wrong_kind(what, mt));
    }
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(Error::new(format!(
            "{what} is not a Wasm component: its config is `{}`, not `{CONFIG_MEDIA_TYPE}`",
            manifest.config.media_type
        ))
        .hint("it may be a container image; publish components with `claw component publish` or `wkg oci push`"));
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == LAYER_MEDIA_TYPE => Ok(manifest),
        [layer] => Err(Error::new(format!(
            "{what} is not a Wasm component: its layer is `{}`, not `{LAYER_MEDIA_TYPE}`",
            layer.media_type
        ))),
        layers => Err(Error::new(format!(
            "{what} has {} layers; a Wasm component artifact has exactly one, `{LAYER_MEDIA_TYPE}`",
            layers.len()
        ))),
    }
}

fn wrong_kind(what: &str, media_type: &str) -> Error {
    Error::new(format!("{what} is a `{media_type}`, not an OCI image manifest (`{MANIFEST_MEDIA_TYPE}`)"))
        .hint("name a single Wasm component, pushed with `claw component publish` or `wkg oci push`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            imports: vec!["wasi:http/outgoing-handler@0.2.6".into()],
            exports: vec!["claw:tool/tool@0.1.0".into()],
            description: "fetch a page".into(),
            grant: "[[http]]\nurl = \"https://example.com/**\"\n".into(),
        }
    }

    #[test]
    fn a_built_artifact_has_the_cncf_layout_and_reads_back() {
        let a = Artifact::build(b"\0asm\x0d\0\x01\0".to_vec(), &facts());
        let json: serde_json::Value = serde_json::from_slice(&a.manifest_bytes).unwrap();
        assert_eq!(json["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(json["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["mediaType"], LAYER_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["digest"], Sha256Digest::of(&a.wasm).to_string());
        let config: serde_json::Value = serde_json::from_slice(&a.config_bytes).unwrap();
        assert_eq!(config["os"], "wasip2");
        assert_eq!(config["layerDigests"][0], json["layers"][0]["digest"]);
        assert_eq!(config["component"]["imports"][0], "wasi:http/outgoing-handler@0.2.6");
        assert!(chrono::DateTime::parse_from_rfc3339(config["created"].as_str().unwrap()).is_ok());
        let m = parse_manifest(&a.manifest_bytes, Some(MANIFEST_MEDIA_TYPE), "x").unwrap();
        assert_eq!(m, a.manifest);
        assert_eq!(a.grant(), Some(facts().grant.as_str()));
        assert_eq!(a.description(), Some("fetch a page"));
    }

    #[test]
    fn other_kinds_of_artifact_are_named_and_refused() {
        let a = Artifact::build(b"wasm".to_vec(), &facts());
        let e = parse_manifest(&a.manifest_bytes, Some("application/vnd.docker.distribution.manifest.v2+json"), "x:1")
            .unwrap_err();
        assert!(e.message.contains("vnd.docker.distribution.manifest.v2+json"), "{}", e.message);
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(parse_manifest(index, None, "x:1").unwrap_err().message.contains("image.index"));
        let mut m = a.manifest.clone();
        m.config.media_type = "application/vnd.oci.image.config.v1+json".into();
        let e = parse_manifest(&serde_json::to_vec(&m).unwrap(), None, "x:1").unwrap_err();
        assert!(e.message.contains("not a Wasm component") && e.hint.is_some());
        let mut m = a.manifest.clone();
        m.layers[0].media_type = "application/vnd.oci.image.layer.v1.tar+gzip".into();
        assert!(
            parse_manifest(&serde_json::to_vec(&m).unwrap(), None, "x:1").unwrap_err().message.contains("tar+gzip")
        );
        let mut m = a.manifest;
        m.layers.push(m.layers[0].clone());
        assert!(
            parse_manifest(&serde_json::to_vec(&m).unwrap(), None, "x:1").unwrap_err().message.contains("2 layers")
        );
        assert!(parse_manifest(b"{", None, "x:1").unwrap_err().message.contains("not a valid OCI image manifest"));
    }
}
