//! Component references: `oci://HOST[:PORT]/NS/NAME[:TAG][@sha256:…]`, or
//! `NAME@VERSION` through the configured default registry.

use crate::{Error, Sha256Digest};
use std::fmt;

/// Where a component lives in a registry, and which version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `HOST[:PORT]`, lowercase.
    pub registry: String,
    /// `NS/NAME`: one or more path components.
    pub repository: String,
    /// The tag (a version), when one was named.
    pub tag: Option<String>,
    /// The manifest digest, when pinned.
    pub digest: Option<Sha256Digest>,
}

const HINT: &str = "write oci://HOST[:PORT]/NS/NAME:VERSION (e.g. oci://ghcr.io/acme/http-fetch:1.2.0), or NAME@VERSION with [registry] default set in config.toml";

impl Reference {
    /// Parse `text`. `default` is the `[registry] default` prefix
    /// (`HOST[:PORT]/NS`) that a bare `NAME@VERSION` goes to.
    ///
    /// # Errors
    ///
    /// An [`Error`] that names the part that does not parse and shows the
    /// forms that do.
    pub fn parse(text: &str, default: Option<&str>) -> Result<Reference, Error> {
        let bad = |what: String| Error::new(format!("`{text}` is not a component reference: {what}")).hint(HINT);
        if let Some(rest) = text.strip_prefix("oci://") {
            return Reference::parse_full(rest).map_err(bad);
        }
        if text.contains("://") {
            return Err(bad("only oci:// references are pulled".into()));
        }
        // NAME@VERSION (or NAME@sha256:…): a single name, through the default.
        let Some((name, version)) = text.split_once('@') else {
            return Err(bad("name a registry (oci://…) or a version (NAME@VERSION)".into()));
        };
        if !valid_component(name) {
            return Err(bad(format!("`{name}` is not a component name (lowercase letters, digits, . _ -)")));
        }
        let Some(prefix) = default else {
            return Err(Error::new(format!("`{text}` names no registry and no default registry is configured"))
                .hint("set [registry] default = \"HOST/NS\" in config.toml, or write oci://HOST/NS/NAME:VERSION"));
        };
        let full = if version.starts_with("sha256:") {
            format!("{}/{name}@{version}", prefix.trim_end_matches('/'))
        } else {
            format!("{}/{name}:{version}", prefix.trim_end_matches('/'))
        };
        Reference::parse_full(&full).map_err(|why| bad(format!("{why} (through [registry] default = {prefix:?})")))
    }

    fn parse_full(rest: &str) -> Result<Reference, String> {
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => {
                let d = Sha256Digest::parse(d)
                    .ok_or_else(|| format!("`{d}` is not a digest (sha256: and 64 lowercase hex digits)"))?;
                (r, Some(d))
            }
            None => (rest, None),
        };
        let (registry, path) = rest.split_once('/').ok_or("it has a registry but no repository")?;
        if !valid_registry(registry) {
            return Err(format!("`{registry}` is not a registry host (HOST or HOST:PORT)"));
        }
        // A tag follows the last `:` after the last `/`.
        let last = path.rsplit('/').next().unwrap_or(path);
        let (repository, tag) = match last.split_once(':') {
            Some((_, t)) => (&path[..path.len() - t.len() - 1], Some(t)),
            None => (path, None),
        };
        if let Some(bad) = repository.split('/').find(|c| !valid_component(c)) {
            return Err(format!(
                "`{bad}` is not a repository path component (lowercase letters and digits, joined by . _ __ or -)"
            ));
        }
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(format!("`{t}` is not a tag (letters, digits, _ . -, at most 128, not starting with . or -)"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(Reference { registry: registry.to_ascii_lowercase(), repository: repository.to_string(), tag, digest })
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// The same reference pinned to `digest`.
    pub fn pinned(&self, digest: &Sha256Digest) -> Reference {
        Reference { digest: Some(digest.clone()), ..self.clone() }
    }

    /// Whether the registry is this machine (plain HTTP is allowed there).
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
            _ => &self.registry,
        };
        host == "localhost" || host.starts_with("127.") || host == "[::1]"
    }

    /// The last path component: the default installed name.
    pub fn name(&self) -> &str {
        self.repository.rsplit('/').next().unwrap_or(&self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, as the distribution spec has it.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|x| x.is_ascii_alphanumeric() || b"_.-".contains(x))
}

fn valid_registry(r: &str) -> bool {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) if !r.ends_with(']') => (h, Some(p)),
        _ => (r, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = if host.starts_with('[') {
        host.ends_with(']') && host[1..host.len() - 1].parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn full_references_parse_into_their_parts() {
        let r = Reference::parse("oci://127.0.0.1:5000/claw/http-fetch:1.2.0", None).unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "claw/http-fetch", Some("1.2.0"))
        );
        assert!(r.is_loopback());
        assert_eq!(r.name(), "http-fetch");
        assert_eq!(r.manifest_ref(), "1.2.0");
        let r = Reference::parse(&format!("oci://GHCR.io/acme/tools/fetch@{D}"), None).unwrap();
        assert_eq!((r.registry.as_str(), r.tag.as_deref()), ("ghcr.io", None));
        assert_eq!(r.manifest_ref(), D);
        assert!(!r.is_loopback());
        let r = Reference::parse(&format!("oci://ghcr.io/acme/fetch:2@{D}"), None).unwrap();
        assert_eq!(r.to_string(), format!("oci://ghcr.io/acme/fetch:2@{D}"));
        assert_eq!(Reference::parse("oci://localhost:5000/a/b", None).unwrap().tag.as_deref(), Some("latest"));
    }

    #[test]
    fn a_bare_name_goes_through_the_default_registry() {
        let r = Reference::parse("http-fetch@1.2.0", Some("127.0.0.1:5000/claw/")).unwrap();
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/claw/http-fetch:1.2.0");
        let r = Reference::parse(&format!("http-fetch@{D}"), Some("ghcr.io/acme")).unwrap();
        assert_eq!(r.digest.unwrap().to_string(), D);
        let e = Reference::parse("http-fetch@1.2.0", None).unwrap_err();
        assert!(e.message.contains("no default registry") && e.hint.unwrap().contains("[registry] default"));
    }

    #[test]
    fn what_does_not_parse_is_named() {
        for (text, says) in [
            ("oci://ghcr.io", "no repository"),
            ("oci://ghcr.io/Acme/x:1", "`Acme`"),
            ("oci://ghcr.io/a/x:-1", "`-1` is not a tag"),
            ("oci://ghcr.io/a/x@sha256:12", "not a digest"),
            ("oci://bad_host/a/x:1", "`bad_host`"),
            ("oci://ghcr.io:99999x/a/x:1", "not a registry host"),
            ("https://ghcr.io/a/x:1", "only oci://"),
            ("http-fetch", "name a registry"),
            ("Http-Fetch@1", "`Http-Fetch`"),
            ("oci://ghcr.io/a--b/x..y:1", "`x..y`"),
        ] {
            let e = Reference::parse(text, Some("ghcr.io/acme")).unwrap_err();
            assert!(e.message.contains(says), "{text}: {}", e.message);
            assert!(e.hint.is_some());
        }
    }
}
