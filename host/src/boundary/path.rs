//! Step 1, first half: the path as a server would read it. A path whose
//! meaning could change between our check and the server — dot segments,
//! empty segments, backslashes, `;` parameters, control bytes, or an
//! escape that spells a structural byte (`%2e` `.`, `%2f` `/`, `%5c` `\`,
//! `%3b` `;`, `%25` `%`, any case) — is refused, not normalised. What the
//! allow rules matched is then exactly what is sent, and no decoding a
//! server does (once or twice) can lead outside a path glob.

/// Why `path` is refused, or `None` when it means what it says.
pub fn refusal(path: &str) -> Option<String> {
    let b = path.as_bytes();
    if let Some(c) = b.iter().find(|c| **c < 0x20 || **c == 0x7f) {
        return Some(format!("the path holds the control byte 0x{c:02x}"));
    }
    if path.contains('\\') {
        return Some("the path holds a backslash (some servers read it as `/`)".into());
    }
    if path.contains(';') {
        return Some("the path holds `;` (a path parameter some servers strip before routing)".into());
    }
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|c| *c == b'%') {
        let at = i + off;
        let escape = b.get(at + 1..at + 3).and_then(|h| std::str::from_utf8(h).ok());
        let Some(byte) = escape.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
            return Some("the path holds a `%` that starts no escape".into());
        };
        if matches!(byte, b'.' | b'/' | b'\\' | b';' | b'%') || byte < 0x20 || byte == 0x7f {
            return Some(format!(
                "the path holds `%{}`, an escape of {} that a server may decode into the path's structure",
                escape.unwrap_or(""),
                describe(byte)
            ));
        }
        i = at + 3;
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (n, seg) in segments.iter().enumerate() {
        if *seg == "." || *seg == ".." {
            return Some(format!("the path holds the dot segment `{seg}`"));
        }
        if seg.is_empty() && n + 1 < segments.len() {
            return Some("the path holds an empty segment (`//`), which some servers merge".into());
        }
    }
    None
}

fn describe(byte: u8) -> String {
    match byte {
        b'.' => "`.`".into(),
        b'/' => "`/`".into(),
        b'\\' => "a backslash".into(),
        b';' => "`;`".into(),
        b'%' => "`%` (a double encoding)".into(),
        b => format!("the control byte 0x{b:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn every_spelling_of_a_way_out_is_refused() {
        // Written by hand: each is a way a server could read the path as
        // something outside `/api/**`.
        for path in [
            "/api/../admin",
            "/api/./x",
            "/api/..",
            "/api/%2e%2e/admin",
            "/api/%2E%2E/admin",
            "/api/.%2e/admin",
            "/api/%2e./admin",
            "/api/%252e%252e/admin",
            "/api%2fadmin",
            "/api%2Fadmin",
            "/api/..%2fadmin",
            "/api\\..\\admin",
            "/api/%5c../admin",
            "/api/%5C../admin",
            "/api;x=1/../admin",
            "/api/..;/admin",
            "/api/%3b/admin",
            "/api//admin",
            "/api/%00",
            "/api/\u{1}",
            "/api/%zz",
            "/api/%2",
        ] {
            assert!(refusal(path).is_some(), "{path} was let through");
        }
    }

    #[test]
    fn ordinary_paths_pass() {
        for path in [
            "/",
            "/api/",
            "/api/v1/users/42",
            "/api/search/caf%C3%A9",
            "/api/a%20b",
            "/api/file.tar.gz",
            "/api/...",
            "/api/.well-known",
            "/bot{secret:t}/sendMessage",
            "/v1/projects/p:batchGet",
        ] {
            assert_eq!(refusal(path), None, "{path}");
        }
    }
}
