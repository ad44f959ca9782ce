//! The leak detector, shared by the boundary and `claw scan`: every vault
//! value in the encodings a request can carry it in, and high-precision
//! credential patterns, found in one pass ([`super::needles`]: linear in
//! the input, whatever the number of secrets).
//!
//! Findings carry the secret's *name* or the pattern's name and an offset,
//! never the matched bytes.

use super::needles::NeedleIndex;
use super::patterns::Patterns;
use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Vault values shorter than this are matched only raw: their encodings
/// are too short to be evidence.
pub const MIN_ENCODED_LEN: usize = 8;

/// What a finding matched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A vault value, in some encoding.
    Secret {
        /// The secret's name.
        name: String,
        /// How it was encoded.
        encoding: &'static str,
        /// Byte offset in the scanned input.
        offset: usize,
    },
    /// A credential pattern.
    Pattern {
        /// The pattern's name.
        name: &'static str,
        /// Byte offset in the scanned input.
        offset: usize,
    },
}

impl Finding {
    /// The secret's or pattern's name.
    pub fn name(&self) -> &str {
        match self {
            Finding::Secret { name, .. } => name,
            Finding::Pattern { name, .. } => name,
        }
    }

    /// Where it starts.
    pub fn offset(&self) -> usize {
        match self {
            Finding::Secret { offset, .. } | Finding::Pattern { offset, .. } => *offset,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Secret { name, encoding, offset } => {
                write!(f, "vault secret `{name}` ({encoding}) at byte {offset}")
            }
            Finding::Pattern { name, offset } => write!(f, "{name} at byte {offset}"),
        }
    }
}

/// What one needle stands for.
#[derive(Debug, Clone)]
enum Needle {
    Secret { index: usize, encoding: &'static str },
    Pattern { row: usize },
}

/// The compiled detector. Build it once per vault change; scanning is
/// read-only and can run on many threads at once.
pub struct Detector {
    /// Each needle's bytes, found whatever their ASCII case (for hex in any
    /// mix of cases); other needles are confirmed byte for byte.
    index: NeedleIndex,
    needles: Vec<Needle>,
    names: Vec<String>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").field("secrets", &self.names.len()).field("needles", &self.needles.len()).finish()
    }
}

/// Every encoding of `value` a request could carry, labelled.
pub fn encodings(value: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out: Vec<(&'static str, Vec<u8>)> = vec![("raw", value.to_vec())];
    if value.len() >= MIN_ENCODED_LEN {
        out.push(("hex", hex::encode(value).into_bytes()));
        out.push(("hex", hex::encode_upper(value).into_bytes()));
        // base64 at each byte alignment: the characters that depend only on
        // the value itself, whatever bytes come before or after it.
        for align in 0..3usize {
            let mut shifted = vec![0u8; align];
            shifted.extend_from_slice(value);
            let n = shifted.len();
            let skip = (align * 8).div_ceil(6);
            let keep = n * 8 / 6;
            for (label, engine) in [("base64", &STANDARD_NO_PAD), ("base64url", &URL_SAFE_NO_PAD)] {
                let enc = engine.encode(&shifted);
                if keep > skip + 4 {
                    out.push((label, enc.as_bytes()[skip..keep].to_vec()));
                }
            }
        }
        let pct_upper = percent(value, true);
        let pct_lower = percent(value, false);
        out.push(("percent", pct_upper));
        out.push(("percent", pct_lower));
        if let Ok(s) = std::str::from_utf8(value) {
            let json = serde_json::to_string(s).unwrap_or_default();
            out.push(("json", json.as_bytes()[1..json.len() - 1].to_vec()));
            out.push(("json", json_escape_all(s).into_bytes()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|(_, v)| !v.is_empty() && seen.insert(v.clone()));
    out
}

/// Decode every `%XX` escape; anything else is kept as is.
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && let (Some(h), Some(l)) = (input.get(i + 1).and_then(|b| hex(*b)), input.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// The input's decoded forms that differ from it: percent-decoded where it
/// has `%`, JSON-unescaped where it has `\`.
pub fn decodings(input: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    if input.contains(&b'%') {
        let d = percent_decode(input);
        if d.len() != input.len() {
            out.push(("percent-decoded", d));
        }
    }
    if input.contains(&b'\\') {
        let d = json_unescape(input);
        if d.len() != input.len() {
            out.push(("json-unescaped", d));
        }
    }
    out
}

/// Decode JSON string escapes (`\n`, `\"`, `\u0041`, surrogate pairs);
/// anything else is kept as is.
pub fn json_unescape(input: &[u8]) -> Vec<u8> {
    let hex4 = |at: usize| -> Option<u32> {
        let h = input.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let simple = match input[i + 1] {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
            continue;
        }
        if input[i + 1] == b'u'
            && let Some(unit) = hex4(i + 2)
        {
            let mut len = 6;
            let mut code = unit;
            if (0xd800..0xdc00).contains(&unit)
                && input.get(i + 6..i + 8) == Some(b"\\u")
                && let Some(low) = hex4(i + 8).filter(|l| (0xdc00..0xe000).contains(l))
            {
                code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                len = 12;
            }
            let c = char::from_u32(code).unwrap_or('\u{fffd}');
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            i += len;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

fn percent(value: &[u8], upper: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else if upper {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.extend_from_slice(format!("%{b:02x}").as_bytes());
        }
    }
    out
}

/// JSON with `/` and non-ASCII escaped too (as some encoders do).
fn json_escape_all(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

impl Detector {
    /// A detector for these vault values (name, value) and the credential
    /// patterns.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Detector {
        let mut needles = Vec::new();
        let mut bytes: Vec<Vec<u8>> = Vec::new();
        let mut names = Vec::new();
        for (index, (name, value)) in secrets.into_iter().enumerate() {
            names.push(name.to_string());
            for (encoding, enc) in encodings(value) {
                needles.push(Needle::Secret { index, encoding });
                bytes.push(enc);
            }
        }
        // The search is case-blind already: one needle per row and anchor.
        let mut seen = std::collections::HashSet::new();
        for (row, anchor) in Patterns::builtin().anchors() {
            if seen.insert((row, anchor.to_ascii_lowercase())) {
                needles.push(Needle::Pattern { row });
                bytes.push(anchor.to_vec());
            }
        }
        Detector { index: NeedleIndex::new(bytes), needles, names }
    }

    /// A detector with the credential patterns only (no vault).
    pub fn patterns_only() -> Detector {
        Detector::new(std::iter::empty())
    }

    /// Every finding in `input`, in order of offset.
    pub fn scan(&self, input: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        self.each(input, |f, _| {
            out.push(f);
            true
        });
        out.sort_by_key(Finding::offset);
        out.dedup();
        out
    }

    /// Like [`Detector::first`], and also over the input's decodings
    /// (percent escapes, JSON string escapes): escapes can spell any byte
    /// (`%2D` or `\u002d` for `-`), so no list of encodings covers them.
    pub fn first_decoded(&self, input: &[u8]) -> Option<Finding> {
        self.first(input).or_else(|| decodings(input).into_iter().find_map(|(_, d)| self.first(&d)))
    }

    /// Every finding in the input and in its decodings (offsets there
    /// refer to the decoded text).
    pub fn scan_decoded(&self, input: &[u8]) -> Vec<Finding> {
        let mut found = self.scan(input);
        for (label, decoded) in decodings(input) {
            for f in self.scan(&decoded) {
                if !found.iter().any(|g| g.name() == f.name()) {
                    found.push(match f {
                        Finding::Secret { name, offset, .. } => Finding::Secret { name, encoding: label, offset },
                        other => other,
                    });
                }
            }
        }
        found
    }

    /// `text` with every vault value (in any encoding) and credential
    /// pattern replaced by a marker naming it (`[redacted: secret NAME]`,
    /// `[redacted: AWS access key id]`): what records, logs, errors and the
    /// LLM's context may show of text from outside. Where only a decoding
    /// reveals a value, the decoded text is shown, cut.
    pub fn cut(&self, text: &str) -> String {
        self.cut_named(text).map_or_else(|| text.to_string(), |(t, _)| t)
    }

    /// [`Detector::cut`], with the names of what was cut; `None` when
    /// nothing was.
    pub fn cut_named(&self, text: &str) -> Option<(String, Vec<String>)> {
        let input = text.as_bytes();
        std::iter::once(input.to_vec())
            .chain(decodings(input).into_iter().map(|(_, d)| d))
            .find_map(|candidate| self.cut_bytes(&candidate))
            .map(|(out, names)| (String::from_utf8_lossy(&out).into_owned(), names))
    }

    /// `input` with its findings replaced, and their names; `None` when it
    /// has none.
    fn cut_bytes(&self, input: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
        let mut spans: Vec<(usize, usize, String)> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        self.each(input, |f, end| {
            let (label, name) = match &f {
                Finding::Secret { name, .. } => (format!("[redacted: secret {name}]"), format!("secret {name}")),
                Finding::Pattern { name, .. } => (format!("[redacted: {name}]"), name.to_string()),
            };
            if !names.contains(&name) {
                names.push(name);
            }
            spans.push((f.offset(), end, label));
            true
        });
        if spans.is_empty() {
            return None;
        }
        spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
        let mut out = Vec::with_capacity(input.len());
        let mut at = 0;
        for (start, end, label) in spans {
            if end <= at {
                continue;
            }
            if start >= at {
                out.extend_from_slice(&input[at..start]);
                out.extend_from_slice(label.as_bytes());
            }
            at = end;
        }
        out.extend_from_slice(&input[at.min(input.len())..]);
        Some((out, names))
    }

    /// The first finding, if any (stops at it).
    pub fn first(&self, input: &[u8]) -> Option<Finding> {
        let mut found = None;
        self.each(input, |f, _| {
            found = Some(f);
            false
        });
        found
    }

    /// Call `on` for each finding and where it ends, until it returns false.
    fn each(&self, input: &[u8], mut on: impl FnMut(Finding, usize) -> bool) {
        self.index.each(input, |needle, start| {
            let bytes = self.index.needle(needle);
            let end = start + bytes.len();
            let exact = &input[start..end] == bytes;
            let finding = match &self.needles[needle] {
                Needle::Secret { index, encoding } => (exact || *encoding == "hex")
                    .then(|| (Finding::Secret { name: self.names[*index].clone(), encoding, offset: start }, end)),
                // The table's rule confirms it: anchor case, boundary, shape,
                // checksum, not a documentation placeholder.
                Needle::Pattern { row } => {
                    let p = Patterns::builtin();
                    p.confirm(*row, input, start, end)
                        .map(|hit| (Finding::Pattern { name: p.name(*row), offset: hit.start }, hit.end))
                }
            };
            match finding {
                Some((f, end)) => on(f, end),
                None => true,
            }
        });
    }
}

/// Replaces vault values (in every encoding) with `[REDACTED:name]`: used
/// on responses, for the values the boundary injected into the request.
pub struct Redactor {
    automaton: Option<AhoCorasick>,
    owners: Vec<usize>,
    names: Vec<String>,
    /// Every form of every value it replaces (what the automaton finds).
    pub(super) forms: Vec<Vec<u8>>,
    /// The values themselves, for spellings in escapes.
    pub(super) values: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("secrets", &self.names).finish()
    }
}

impl Redactor {
    /// A redactor for these (name, value) pairs.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Redactor {
        let mut owners = Vec::new();
        let mut bytes: Vec<Vec<u8>> = Vec::new();
        let mut names = Vec::new();
        let mut values = Vec::new();
        for (index, (name, value)) in secrets.into_iter().enumerate() {
            names.push(name.to_string());
            values.push(value.to_vec());
            for (_, enc) in encodings(value) {
                owners.push(index);
                bytes.push(enc);
            }
        }
        // Case-blind: hex in any mix of cases is redacted too (redacting a
        // look-alike costs nothing; missing one leaks).
        let automaton = (!bytes.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(true)
                .build(&bytes)
                .expect("literal needles always build")
        });
        Redactor { automaton, owners, names, forms: bytes, values }
    }

    /// Replace what `held` holds up to `safe` (and any match that begins
    /// before `safe`, wholly): the redacted bytes, and how many of `held`
    /// they stand for. A stream's redactor calls it on each window.
    pub(super) fn redact_prefix(&self, held: &[u8], safe: usize, names: &mut Vec<String>) -> (Vec<u8>, usize) {
        let Some(automaton) = &self.automaton else {
            return (held[..safe].to_vec(), safe);
        };
        let mut out = Vec::with_capacity(safe);
        let (mut last, mut cut) = (0, safe);
        for m in automaton.find_iter(held) {
            if m.start() >= safe {
                break;
            }
            let name = &self.names[self.owners[m.pattern().as_usize()]];
            out.extend_from_slice(&held[last..m.start()]);
            out.extend_from_slice(format!("[REDACTED:{name}]").as_bytes());
            last = m.end();
            cut = cut.max(m.end());
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        out.extend_from_slice(&held[last..cut.max(last)]);
        (out, cut.max(last))
    }

    /// A secret still readable in a decoding of `redacted` (escapes that
    /// spell it byte by byte, which cannot be redacted in place): the
    /// boundary then refuses the reply rather than pass it on.
    pub fn residue(&self, redacted: &[u8]) -> Option<&str> {
        let automaton = self.automaton.as_ref()?;
        decodings(redacted)
            .into_iter()
            .find_map(|(_, d)| automaton.find(&d[..]).map(|m| self.names[self.owners[m.pattern().as_usize()]].as_str()))
    }

    /// `input` with every occurrence replaced, and the names replaced.
    pub fn redact(&self, input: &[u8]) -> (Vec<u8>, Vec<String>) {
        let Some(automaton) = &self.automaton else {
            return (input.to_vec(), Vec::new());
        };
        let mut out = Vec::with_capacity(input.len());
        let mut names: Vec<String> = Vec::new();
        let mut last = 0;
        for m in automaton.find_iter(input) {
            let name = &self.names[self.owners[m.pattern().as_usize()]];
            out.extend_from_slice(&input[last..m.start()]);
            out.extend_from_slice(format!("[REDACTED:{name}]").as_bytes());
            last = m.end();
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        out.extend_from_slice(&input[last..]);
        (out, names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-V4lue/with+odd=chars\"q";

    fn detector() -> Detector {
        Detector::new([("api_key", SECRET.as_bytes())])
    }

    #[test]
    fn finds_the_value_in_every_encoding_at_every_alignment() {
        // Carriers written out by hand (not made with the encoders under
        // test) for the value `s3cr3t-V4lue/w+q`.
        let d = Detector::new([("api_key", b"s3cr3t-V4lue/w+q".as_slice())]);
        for c in [
            "x=s3cr3t-V4lue/w+q",
            "7333637233742d56346c75652f772b71",
            "7333637233742D56346C75652F772B71",
            "7333637233742d56346C75652f772B71",
            "q=s3cr3t-V4lue%2Fw%2Bq",
            "q=s3cr3t-V4lue%2fw%2bq",
            "q=%73%33cr3t%2DV4lue%2Fw%2Bq",
            r#"{"k":"s3cr3t-V4lue\/w+q"}"#,
            r#"{"k":"\u0073\u0033cr3t-V4lue\u002fw\u002bq"}"#,
            // base64 and base64url after 0, 1 and 2 bytes (`a`, `ab`), padded or not
            "czNjcjN0LVY0bHVlL3crcXRhaWw=",
            "czNjcjN0LVY0bHVlL3crcXRhaWw",
            "YXMzY3IzdC1WNGx1ZS93K3F0YWls",
            "YWJzM2NyM3QtVjRsdWUvdytxdGFpbA==",
            "YWJzM2NyM3QtVjRsdWUvdytxdGFpbA",
        ] {
            let f = d.first_decoded(c.as_bytes());
            assert!(matches!(&f, Some(Finding::Secret { name, .. }) if name == "api_key"), "missed in {c}");
        }
        // And the production encoders agree with the hand-written forms.
        let v = SECRET.as_bytes();
        for c in [hex::encode(v), percent_str(v, true), percent_str(v, false), json_escape_all(SECRET)] {
            assert!(detector().first(c.as_bytes()).is_some(), "missed in {c}");
        }
    }

    fn percent_str(v: &[u8], upper: bool) -> String {
        String::from_utf8(percent(v, upper)).unwrap()
    }

    #[test]
    fn credential_patterns_need_the_right_shape() {
        let d = Detector::patterns_only();
        for (text, name) in [
            ("key=AKIAZQADLC4K2G733XDX;", "AWS access key id"),
            ("token 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", "GitHub personal access token"),
            ("xoxb-220710716997-3852057976210-lRnbXOUQYuNWMcI0ZuqcAUV0", "Slack bot token"),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\nc2gtZWQyNTUxOe392A20mftINRLJZ+rBXykyiy+bhkJ8V97Lf7mNlql7sStrCE6A\n-----END OPENSSH PRIVATE KEY-----",
                "OpenSSH private key",
            ),
        ] {
            assert_eq!(d.first(text.as_bytes()).map(|f| f.name().to_string()), Some(name.to_string()), "{text}");
        }
        for benign in [
            "AKIA is a word",
            "ghp_short",
            "my-task-ask-ant-",
            "the sk-proj- prefix",
            "XAKIAZQADLC4K2G733XDX1",
            "xoxb-short",
            // documentation examples and placeholders are not evidence
            "aws=AKIAIOSFODNN7EXAMPLE",
            "sk_live_000000000000000000000000",
            // a GitHub token whose checksum is wrong
            "ghp_dJ2PslPE6oUU5FcOBoxF4dlJ4DUqPX0UwD5Q",
            // the anchor in the wrong case (the automaton is case-blind)
            "GHP_dJ2PslPE6oUU5FcOBoxF4dlJ4DUqPX0UwD5P",
        ] {
            assert_eq!(d.first(benign.as_bytes()), None, "false positive on {benign}");
        }
    }

    #[test]
    fn hex_in_any_mix_of_cases_and_json_escapes_are_seen() {
        let d = detector();
        // Written by hand, not with the encoders under test.
        let v = "s3cr3t-V4lue";
        let d2 = Detector::new([("k", v.as_bytes())]);
        assert!(d2.first(b"x=7333637233742D56346c7565").is_some(), "mixed-case hex");
        assert!(d2.first_decoded(br#"{"a":"\u0073\u0033cr3t-\u0056\u0034lue"}"#).is_some(), "\\u escapes");
        assert!(d2.first_decoded(b"q=s3cr3t%2dV4lue").is_some(), "%2d for -");
        assert!(d2.first(b"S3CR3T-v4LUE").is_none(), "a raw value is matched in its own case only");
        let _ = d;
    }

    #[test]
    fn cut_replaces_values_and_patterns_with_their_names() {
        let d = Detector::new([("k", b"s3cr3t-V4lue".as_slice())]);
        assert_eq!(d.cut("/x/s3cr3t-V4lue/y"), "/x/[redacted: secret k]/y");
        assert_eq!(d.cut("/x/7333637233742D56346c7565"), "/x/[redacted: secret k]");
        assert_eq!(
            d.cut("/x/s3cr3t%2dV4lue"),
            "/x/[redacted: secret k]",
            "shown decoded when only the decoding reveals it"
        );
        assert_eq!(
            d.cut("a 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 b"),
            "a [redacted: GitHub personal access token] b"
        );
        assert_eq!(d.cut("nothing here"), "nothing here");
    }

    #[test]
    fn findings_name_the_secret_never_its_value() {
        let d = detector();
        let body = format!("{{\"leak\":\"{}\"}}", hex::encode(SECRET));
        let f = d.scan(body.as_bytes());
        assert_eq!(f.len(), 1);
        let shown = format!("{} {:?} {}", f[0], f[0], serde_json::to_string(&f[0]).unwrap());
        assert!(shown.contains("api_key"));
        assert!(!shown.contains(SECRET) && !shown.contains(&hex::encode(SECRET)));
    }

    #[test]
    fn percent_escapes_of_any_byte_are_seen_through() {
        let d = detector();
        let over: String = SECRET.bytes().map(|b| format!("%{b:02x}")).collect();
        assert!(d.first(over.as_bytes()).is_none(), "a fully escaped value is no literal needle");
        assert!(matches!(d.first_decoded(format!("q={over}").as_bytes()), Some(Finding::Secret { .. })));
        assert!(
            d.scan_decoded(over.as_bytes())
                .iter()
                .any(|f| matches!(f, Finding::Secret { encoding: "percent-decoded", .. }))
        );
        assert_eq!(percent_decode(b"a%2Fb%zz%4"), b"a/b%zz%4");
    }

    #[test]
    fn short_values_match_only_raw() {
        let d = Detector::new([("pin", b"1234".as_slice())]);
        assert!(d.first(b"code 1234").is_some());
        assert!(d.first(hex::encode("1234").as_bytes()).is_none());
    }

    #[test]
    fn redaction_replaces_values_and_keeps_the_rest() {
        let r = Redactor::new([("api_key", SECRET.as_bytes())]);
        let body = format!("echo: {SECRET} and {}", hex::encode(SECRET));
        let (out, names) = r.redact(body.as_bytes());
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "echo: [REDACTED:api_key] and [REDACTED:api_key]");
        assert_eq!(names, vec!["api_key".to_string()]);
    }
}
