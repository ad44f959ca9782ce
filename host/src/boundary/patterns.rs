//! Credential patterns: the table in `patterns.txt`, parsed once, and the
//! confirmation of an anchor hit found by the leak detector's single pass
//! (`needles.rs`).
//!
//! The search looks only for each row's literal anchor; [`Patterns::confirm`]
//! then decides, from the bytes around the hit, whether a credential is
//! really there: the anchor's case, a token boundary before it, the shape
//! (character classes and lengths) before and after it, a checksum or
//! structure rule, and that the value is no documentation placeholder.
//! The shape language is described in the header of `patterns.txt`.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// The table, compiled into the binary.
const TABLE: &str = include_str!("patterns.txt");

/// Open-ended lengths (`{n,}`) stop here: a credential is never longer, and
/// confirmation stays bounded whatever the input.
const MAX_RUN: usize = 8192;

/// Backtracking steps one confirmation may take (shapes are short lists of
/// runs; this only guards against a pathological row).
const MAX_STEPS: usize = 4096;

/// A set of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Class([u64; 4]);

impl Class {
    fn empty() -> Class {
        Class([0; 4])
    }
    fn add(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }
    fn has(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }
}

/// One element of a shape.
#[derive(Clone, Debug)]
enum Seg {
    /// These exact bytes.
    Lit(Vec<u8>),
    /// Between `min` and `max` bytes of the class.
    Run { class: Class, min: usize, max: usize },
}

/// The checksum or structure rule of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    None,
    /// The last 6 characters are the base62 CRC32 of the random part
    /// (GitHub's and npm's token formats).
    GithubCrc32,
    /// Three base64url parts; the header decodes to a JSON object with "alg".
    Jwt,
    /// A JWT, base64-encoded once more.
    JwtBase64,
    /// A PEM / OpenSSH / PGP armoured private key: a real body follows.
    Pem,
    /// `scheme://user:password@host` with a real password.
    UrlPassword,
    /// A bech32 string with a valid checksum (age secret keys).
    Bech32,
    /// An Azure SAS signature: percent-encoded base64 of a 32-byte HMAC.
    AzureSas,
}

impl Check {
    fn parse(s: &str) -> Option<Check> {
        Some(match s {
            "none" | "-" => Check::None,
            "github-crc32" => Check::GithubCrc32,
            "jwt" => Check::Jwt,
            "jwt-base64" => Check::JwtBase64,
            "pem" => Check::Pem,
            "url-password" => Check::UrlPassword,
            "bech32" => Check::Bech32,
            "azure-sas" => Check::AzureSas,
            _ => return None,
        })
    }
}

/// One row of the table.
#[derive(Debug)]
struct Row {
    name: String,
    family: String,
    anchor: Vec<u8>,
    /// The anchor as written, and for a keyword its lower- and upper-case
    /// forms.
    anchors: Vec<Vec<u8>>,
    /// The anchor may appear in any ASCII case (keywords).
    any_case: bool,
    /// The byte before the credential must not be a token byte.
    boundary: bool,
    /// Fixed-length shape before the anchor, and its length.
    before: Vec<Seg>,
    before_len: usize,
    after: Vec<Seg>,
    check: Check,
    /// Read by the unit tests: each row must detect its own example.
    #[cfg_attr(not(test), allow(dead_code))]
    example: String,
}

/// The parsed table of credential patterns.
#[derive(Debug)]
pub struct Patterns {
    rows: Vec<Row>,
}

/// Where a confirmed credential lies in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// First byte of the credential.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}

static BUILTIN: LazyLock<Patterns> = LazyLock::new(|| match Patterns::parse(TABLE) {
    Ok(p) => p,
    // The unit tests parse the same table, so this cannot happen in a
    // tested build.
    Err(e) => panic!("{e}"),
});

/// A byte that can continue a token: a credential must not start right
/// after one, or end right before one.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

impl Patterns {
    /// The table shipped with claw, parsed on first use.
    ///
    /// # Panics
    ///
    /// If `patterns.txt` is malformed, which the unit tests rule out.
    pub fn builtin() -> &'static Patterns {
        &BUILTIN
    }

    /// Parse a table; an error names the line.
    fn parse(text: &str) -> Result<Patterns, String> {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            rows.push(parse_row(trimmed).map_err(|e| format!("patterns.txt line {line_no}: {e}"))?);
        }
        if rows.is_empty() {
            return Err("patterns.txt: no rows".into());
        }
        Ok(Patterns { rows })
    }

    /// Every (row index, literal anchor) to feed the automaton. A keyword row
    /// whose anchor may appear in any case yields its lower- and upper-case
    /// forms as well, for an automaton built case-sensitively; build it
    /// ASCII-case-insensitive to catch every mixed case.
    pub fn anchors(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.rows.iter().enumerate().flat_map(|(i, r)| r.anchors.iter().map(move |a| (i, a.as_slice())))
    }

    /// Whether the anchor of `row` found at `anchor_start..anchor_end` is a
    /// real credential, and where the credential lies.
    pub fn confirm(&self, row: usize, input: &[u8], anchor_start: usize, anchor_end: usize) -> Option<Hit> {
        let r = self.rows.get(row)?;
        let anchor = input.get(anchor_start..anchor_end)?;
        // The search matches without regard to case.
        let same = if r.any_case { anchor.eq_ignore_ascii_case(&r.anchor) } else { anchor == r.anchor.as_slice() };
        if !same {
            return None;
        }
        if r.check == Check::UrlPassword {
            return url_password(input, anchor_start, anchor_end);
        }
        let start = anchor_start.checked_sub(r.before_len)?;
        if !match_before(&r.before, input, start) {
            return None;
        }
        if r.boundary && start > 0 && is_token(input[start - 1]) {
            return None;
        }
        let mut steps = 0;
        let mut end = match_after(&r.after, input, anchor_end, 0, &mut steps)?;
        let secret = || {
            let mut s = input[start..anchor_start].to_vec();
            s.extend_from_slice(&input[anchor_end..end]);
            s
        };
        match r.check {
            Check::Pem => {
                let (body_end, base64_chars, full_end) = pem_body(input, anchor_end);
                let body = &input[anchor_end..body_end];
                if base64_chars < 64 || has_doc_word(body) || distinct(body) < 12 {
                    return None;
                }
                end = full_end;
            }
            _ => {
                if looks_like_placeholder(&secret()) {
                    return None;
                }
                let ok = match r.check {
                    Check::None => true,
                    Check::GithubCrc32 => github_crc32(&input[anchor_end..end]),
                    Check::Jwt => jwt(&input[start..end]),
                    Check::JwtBase64 => jwt_base64(&input[start..end]),
                    Check::Bech32 => bech32(&input[start..end]),
                    Check::AzureSas => azure_sas(&input[anchor_end..end]),
                    Check::Pem | Check::UrlPassword => unreachable!("handled above"),
                };
                if !ok {
                    return None;
                }
            }
        }
        Some(Hit { start, end })
    }

    /// The row's pattern name, e.g. "GitHub fine-grained token".
    pub fn name(&self, row: usize) -> &str {
        &self.rows[row].name
    }

    /// The row's family, e.g. "github".
    pub fn family(&self, row: usize) -> &str {
        &self.rows[row].family
    }

    /// How many rows the table has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table is empty (never, for the built-in one).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

fn parse_row(line: &str) -> Result<Row, String> {
    let cols: Vec<&str> = line.splitn(7, '|').map(str::trim).collect();
    if cols.len() != 7 {
        return Err(format!("expected 7 `|`-separated columns, found {}", cols.len()));
    }
    let [name, family, anchor, flags, shape, check, example] =
        [cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6]];
    if name.is_empty() || family.is_empty() || anchor.is_empty() || example.is_empty() {
        return Err("name, family, anchor and example must not be empty".into());
    }
    let (mut any_case, mut boundary) = (false, true);
    for flag in flags.split(',').map(str::trim).filter(|f| !f.is_empty() && *f != "-") {
        match flag {
            "ci" => any_case = true,
            "nb" => boundary = false,
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    let check = Check::parse(check).ok_or_else(|| format!("unknown check `{check}`"))?;
    let (before, after) = parse_shape(shape)?;
    let mut before_len = 0;
    for seg in &before {
        before_len += match seg {
            Seg::Lit(l) => l.len(),
            Seg::Run { min, max, .. } if min == max => *min,
            Seg::Run { .. } => return Err("segments before the anchor `^` must have a fixed length".into()),
        };
    }
    let mut anchors = vec![anchor.as_bytes().to_vec()];
    if any_case {
        for v in [anchor.to_ascii_lowercase(), anchor.to_ascii_uppercase()] {
            if !anchors.iter().any(|a| a == v.as_bytes()) {
                anchors.push(v.into_bytes());
            }
        }
    }
    Ok(Row {
        name: name.into(),
        family: family.into(),
        anchor: anchor.as_bytes().to_vec(),
        anchors,
        any_case,
        boundary,
        before,
        before_len,
        after,
        check,
        example: example.replace("\\n", "\n"),
    })
}

/// Parse a shape into the segments before and after the anchor.
fn parse_shape(shape: &str) -> Result<(Vec<Seg>, Vec<Seg>), String> {
    let mut before = None;
    let mut segs = Vec::new();
    if shape == "-" {
        return Ok((Vec::new(), Vec::new()));
    }
    let b = shape.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'^' => {
                if before.is_some() {
                    return Err("more than one `^` in the shape".into());
                }
                before = Some(std::mem::take(&mut segs));
                i += 1;
            }
            b'\'' => {
                let mut lit = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated literal".into()),
                        Some(b'\'') => break,
                        Some(b'\\') => {
                            lit.push(*b.get(i + 1).ok_or("dangling `\\`")?);
                            i += 2;
                        }
                        Some(c) => {
                            lit.push(*c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                if lit.is_empty() {
                    return Err("empty literal".into());
                }
                segs.push(Seg::Lit(lit));
            }
            b'[' => {
                let (class, next) = parse_class(b, i)?;
                let (min, max, next) = parse_count(b, next)?;
                segs.push(Seg::Run { class, min, max });
                i = next;
            }
            c => return Err(format!("unexpected `{}` in shape", c as char)),
        }
    }
    Ok(match before {
        Some(before) => (before, segs),
        None => (Vec::new(), segs),
    })
}

/// `[...]` starting at `b[i]`: ranges `a-z`, escapes `\t`, `\s` (space),
/// `\\`, `\]`, `\-`.
fn parse_class(b: &[u8], mut i: usize) -> Result<(Class, usize), String> {
    let mut class = Class::empty();
    i += 1;
    let mut prev: Option<u8> = None;
    loop {
        let c = *b.get(i).ok_or("unterminated class")?;
        let lit = match c {
            b']' => break,
            b'\\' => {
                i += 1;
                match b.get(i).ok_or("dangling `\\` in class")? {
                    b't' => b'\t',
                    b's' => b' ',
                    b'n' => b'\n',
                    b'r' => b'\r',
                    other => *other,
                }
            }
            b'-' if prev.is_some() && b.get(i + 1).is_some_and(|n| *n != b']') => {
                let lo = prev.take().unwrap_or(0);
                let hi = b[i + 1];
                if hi < lo {
                    return Err(format!("bad range `{}-{}`", lo as char, hi as char));
                }
                for x in lo..=hi {
                    class.add(x);
                }
                i += 2;
                continue;
            }
            other => other,
        };
        class.add(lit);
        prev = Some(lit);
        i += 1;
    }
    if class == Class::empty() {
        return Err("empty class".into());
    }
    Ok((class, i + 1))
}

/// `{n}`, `{n,m}` or `{n,}` at `b[i]` (absent: exactly one).
fn parse_count(b: &[u8], i: usize) -> Result<(usize, usize, usize), String> {
    if b.get(i) != Some(&b'{') {
        return Ok((1, 1, i));
    }
    let close = b[i..].iter().position(|c| *c == b'}').ok_or("unterminated `{`")? + i;
    let spec = std::str::from_utf8(&b[i + 1..close]).map_err(|_| "bad count")?;
    let num = |s: &str| s.trim().parse::<usize>().map_err(|_| format!("bad count `{{{spec}}}`"));
    let (min, max) = match spec.split_once(',') {
        None => {
            let n = num(spec)?;
            (n, n)
        }
        Some((lo, "")) => (num(lo)?, MAX_RUN),
        Some((lo, hi)) => (num(lo)?, num(hi)?),
    };
    if max < min || max == 0 || max > MAX_RUN {
        return Err(format!("bad count `{{{spec}}}`"));
    }
    Ok((min, max, close + 1))
}

/// The fixed-length segments before the anchor, read forwards from `start`.
fn match_before(segs: &[Seg], input: &[u8], start: usize) -> bool {
    let mut p = start;
    for seg in segs {
        match seg {
            Seg::Lit(l) => {
                if input.get(p..p + l.len()) != Some(l.as_slice()) {
                    return false;
                }
                p += l.len();
            }
            Seg::Run { class, min, .. } => {
                if !input.get(p..p + min).is_some_and(|s| s.iter().all(|b| class.has(*b))) {
                    return false;
                }
                p += min;
            }
        }
    }
    true
}

/// Match `segs` at `pos` (longest runs first); the end of the match.
fn match_after(segs: &[Seg], input: &[u8], pos: usize, k: usize, steps: &mut usize) -> Option<usize> {
    *steps += 1;
    if *steps > MAX_STEPS {
        return None;
    }
    let Some(seg) = segs.get(k) else {
        return ends_cleanly(segs, input, pos).then_some(pos);
    };
    match seg {
        Seg::Lit(l) => {
            if input.get(pos..pos + l.len()) == Some(l.as_slice()) {
                match_after(segs, input, pos + l.len(), k + 1, steps)
            } else {
                None
            }
        }
        Seg::Run { class, min, max } => {
            let avail = input[pos.min(input.len())..].iter().take(*max).take_while(|b| class.has(**b)).count();
            if avail < *min {
                return None;
            }
            (*min..=avail).rev().find_map(|n| match_after(segs, input, pos + n, k + 1, steps))
        }
    }
}

/// A credential ends where its alphabet ends: the next byte is neither
/// alphanumeric nor one the last (non-empty) segment could have taken, so a
/// longer run is a wrong length, not a match.
fn ends_cleanly(segs: &[Seg], input: &[u8], end: usize) -> bool {
    let Some(&next) = input.get(end) else {
        return true;
    };
    if next.is_ascii_alphanumeric() {
        return false;
    }
    for seg in segs.iter().rev() {
        match seg {
            Seg::Lit(_) => return !is_token(next),
            Seg::Run { class, min, .. } => {
                if class.has(next) {
                    return false;
                }
                if *min > 0 {
                    return true;
                }
            }
        }
    }
    true
}

/// Words that mark a documentation or template value.
const DOC_WORDS: &[&[u8]] = &[
    b"example",
    b"sample",
    b"dummy",
    b"placeholder",
    b"redacted",
    b"changeme",
    b"xxxxxx",
    b"your_",
    b"your-",
    b"yourtoken",
    b"yourkey",
    b"${",
    b"{{",
    b"****",
];

fn has_doc_word(s: &[u8]) -> bool {
    DOC_WORDS.iter().any(|w| s.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w)))
}

fn distinct(s: &[u8]) -> usize {
    let mut seen = Class::empty();
    let mut n = 0;
    for &b in s {
        if !seen.has(b) {
            seen.add(b);
            n += 1;
        }
    }
    n
}

/// Whether a credential's variable part is a documentation placeholder
/// rather than a secret. The rules:
/// - it contains a documentation word (`example`, `sample`, `dummy`,
///   `placeholder`, `redacted`, `changeme`, `xxxxxx`, `your_`, a template
///   marker like `${` or `{{`, `****`), in any case;
/// - it uses too few distinct characters for its length (fewer than 2 under
///   8 bytes, fewer than 4 under 16, fewer than 6 from 16 on): random
///   secrets of any alphabet use many more;
/// - it has a run of 6 or more of one character (`000000`, `xxxxxxx`), or
///   of 7 or more consecutive characters (`abcdefg`, `1234567`): a random
///   secret does so about once in tens of thousands.
pub fn looks_like_placeholder(tail: &[u8]) -> bool {
    if tail.is_empty() {
        return false;
    }
    if has_doc_word(tail) {
        return true;
    }
    let d = distinct(tail);
    let too_few = match tail.len() {
        0..8 => d < 2,
        8..16 => d < 4,
        _ => d < 6,
    };
    if too_few {
        return true;
    }
    let (mut same, mut up) = (1, 1);
    for w in tail.windows(2) {
        same = if w[1] == w[0] { same + 1 } else { 1 };
        up = if w[0].is_ascii_alphanumeric() && w[1] == w[0].wrapping_add(1) { up + 1 } else { 1 };
        if same >= 6 || up >= 7 {
            return true;
        }
    }
    false
}

/// CRC-32 (IEEE, reflected), bit by bit: it runs only on confirmed
/// candidates, a few dozen bytes each.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// `0-9A-Za-z` base62 digits, most significant first.
fn base62(s: &[u8]) -> Option<u64> {
    s.iter().try_fold(0u64, |acc, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => return None,
        };
        Some(acc * 62 + u64::from(d))
    })
}

/// The last 6 characters of `tail` are the base62 CRC32 of the rest.
fn github_crc32(tail: &[u8]) -> bool {
    if tail.len() <= 6 {
        return false;
    }
    let (body, sum) = tail.split_at(tail.len() - 6);
    base62(sum) == Some(u64::from(crc32(body)))
}

fn b64url(part: &[u8]) -> Option<Vec<u8>> {
    let trimmed: Vec<u8> = part.iter().copied().filter(|b| *b != b'=').collect();
    URL_SAFE_NO_PAD.decode(&trimmed).ok()
}

/// A JWS compact serialisation: `header.payload.signature`, the header a
/// JSON object with a string "alg", the payload JSON, and a signature unless
/// the algorithm is "none".
fn jwt(token: &[u8]) -> bool {
    let mut parts = token.split(|b| *b == b'.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Some(header) = b64url(h).and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok()) else {
        return false;
    };
    let Some(alg) = header.get("alg").and_then(|a| a.as_str()) else {
        return false;
    };
    if b64url(p).is_none_or(|d| d.first() != Some(&b'{')) {
        return false;
    }
    let unsigned = alg.eq_ignore_ascii_case("none");
    if unsigned { s.is_empty() } else { s.len() >= 16 && b64url(s).is_some() }
}

/// A JWT, base64-encoded (standard or URL alphabet).
fn jwt_base64(text: &[u8]) -> bool {
    let unpadded: Vec<u8> = text.iter().copied().filter(|b| *b != b'=').collect();
    let decoded = STANDARD_NO_PAD.decode(&unpadded).or_else(|_| URL_SAFE_NO_PAD.decode(&unpadded));
    decoded.is_ok_and(|d| {
        let end = d.iter().position(|b| !(b.is_ascii_alphanumeric() || b"-_.=".contains(b))).unwrap_or(d.len());
        end > 0 && jwt(&d[..end])
    })
}

/// The body of an armoured key after its BEGIN line: where the body ends,
/// how many base64 characters it holds, and where the whole block ends (past
/// the END line when there is one).
fn pem_body(input: &[u8], from: usize) -> (usize, usize, usize) {
    let limit = input.len().min(from + 64 * 1024);
    let mut i = from;
    let mut chars = 0;
    while i < limit {
        if input[i..].starts_with(b"-----") {
            break;
        }
        let b = input[i];
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
            chars += 1;
        } else if !b" \t\r\n=\\:,-".contains(&b) {
            break;
        }
        i += 1;
    }
    let body_end = i;
    let mut end = body_end;
    if input[body_end..].starts_with(b"-----END") {
        let rest = &input[body_end + 8..input.len().min(body_end + 100)];
        if let Some(p) = rest.windows(5).position(|w| w == b"-----") {
            end = body_end + 8 + p + 5;
        }
    }
    (body_end, chars, end)
}

/// Bech32 (BIP 173) checksum over the lower-cased string.
fn bech32(s: &[u8]) -> bool {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let lower = s.to_ascii_lowercase();
    let Some(sep) = lower.iter().rposition(|b| *b == b'1') else {
        return false;
    };
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    if hrp.is_empty() || data.len() < 6 {
        return false;
    }
    let polymod = |values: &mut dyn Iterator<Item = u8>| {
        const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
        let mut chk = 1u32;
        for v in values {
            let top = chk >> 25;
            chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
            for (i, g) in GEN.iter().enumerate() {
                if (top >> i) & 1 != 0 {
                    chk ^= g;
                }
            }
        }
        chk
    };
    let Some(digits) =
        data.iter().map(|c| CHARSET.iter().position(|x| x == c).map(|p| p as u8)).collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut values = hrp.iter().map(|c| c >> 5).chain([0]).chain(hrp.iter().map(|c| c & 31)).chain(digits);
    polymod(&mut values) == 1
}

/// An Azure SAS `sig=` value: percent-decoded, the base64 of 32 bytes.
fn azure_sas(v: &[u8]) -> bool {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut decoded = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match (v[i], v.get(i + 1).and_then(|b| hex(*b)), v.get(i + 2).and_then(|b| hex(*b))) {
            (b'%', Some(h), Some(l)) => {
                decoded.push(h << 4 | l);
                i += 3;
            }
            (b, ..) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    decoded.len() == 44 && STANDARD.decode(&decoded).is_ok_and(|d| d.len() == 32)
}

/// Passwords that stand for "a password goes here".
const DOC_PASSWORDS: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"pass",
    b"pwd",
    b"secret",
    b"changeit",
    b"mypassword",
    b"yourpassword",
    b"pass123",
    b"hunter2",
];

/// `scheme://user:password@host`, anchored on `://`: the scheme before, a
/// user (possibly empty), a real password and a host after.
fn url_password(input: &[u8], anchor_start: usize, anchor_end: usize) -> Option<Hit> {
    let scheme_len = input[..anchor_start]
        .iter()
        .rev()
        .take(33)
        .take_while(|b| b.is_ascii_alphanumeric() || b"+.-".contains(b))
        .count();
    let start = anchor_start - scheme_len;
    if !(2..=32).contains(&scheme_len) || !input[start].is_ascii_alphabetic() {
        return None;
    }
    let authority_len = input[anchor_end..]
        .iter()
        .take(512)
        .take_while(|b| !b" \t\r\n/?#\"'<>`\\,;".contains(b) && b.is_ascii_graphic())
        .count();
    let authority = &input[anchor_end..anchor_end + authority_len];
    let at = authority.iter().rposition(|b| *b == b'@')?;
    let (userinfo, host) = (&authority[..at], &authority[at + 1..]);
    let colon = userinfo.iter().position(|b| *b == b':')?;
    let (user, pass) = (&userinfo[..colon], &userinfo[colon + 1..]);
    let host_ok = host.first().is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'[')
        && host.iter().all(|b| b.is_ascii_alphanumeric() || b".-_[]:%".contains(b));
    if !host_ok || pass.len() < 3 || user.contains(&b'@') {
        return None;
    }
    let templated = |s: &[u8]| s.first().is_some_and(|b| b"$<{[%*".contains(b)) || s.contains(&b'$');
    if templated(pass)
        || templated(user)
        || DOC_PASSWORDS.iter().any(|w| pass.eq_ignore_ascii_case(w))
        || has_doc_word(pass)
        || has_doc_word(host)
        || distinct(pass) < 2
    {
        return None;
    }
    Some(Hit { start, end: anchor_end + authority_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every hit of every row in `text`, found as the detector will: each
    /// occurrence of each anchor (in any case), confirmed by its row.
    fn scan(p: &Patterns, text: &[u8]) -> Vec<(usize, Hit)> {
        let mut out = Vec::new();
        for (row, anchor) in p.anchors() {
            let mut from = 0;
            while from + anchor.len() <= text.len() {
                let hay = &text[from..];
                let Some(at) = hay.windows(anchor.len()).position(|w| w.eq_ignore_ascii_case(anchor)) else {
                    break;
                };
                let s = from + at;
                if let Some(hit) = p.confirm(row, text, s, s + anchor.len()) {
                    out.push((row, hit));
                }
                from = s + 1;
            }
        }
        out
    }

    fn families(text: &str) -> Vec<String> {
        let p = Patterns::builtin();
        let mut f: Vec<String> = scan(p, text.as_bytes()).iter().map(|(r, _)| p.family(*r).to_string()).collect();
        f.sort();
        f.dedup();
        f
    }

    #[test]
    fn the_table_parses() {
        let p = Patterns::parse(TABLE).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.len() >= 60, "{} rows", p.len());
        assert!(!p.is_empty());
    }

    #[test]
    fn a_malformed_row_is_named_by_its_line() {
        let bad =
            "# header\nA | fam | ABC | - | [A-Z]{4} | none | ABCDEFGH\nB | fam | XYZ | - | [A-Z{4} | none | XYZ\n";
        let e = Patterns::parse(bad).unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        for (row, why) in [
            ("A | f | X | - | [a-z]{3} | nope | Xabc", "unknown check"),
            ("A | f | X | zz | [a-z]{3} | none | Xabc", "unknown flag"),
            ("A | f | X | - | [a-z]{3,} ^ [a-z]{2} | none | Xabc", "fixed length"),
            ("A | f | X | - | [a-z]{3}", "7"),
            ("A | f | X | - | [a-z]{5,2} | none | Xabc", "bad count"),
        ] {
            let e = Patterns::parse(row).unwrap_err();
            assert!(e.contains("line 1") && e.contains(why), "{row}: {e}");
        }
    }

    #[test]
    fn every_example_is_detected_by_its_own_row() {
        let p = Patterns::builtin();
        for (i, r) in p.rows.iter().enumerate() {
            for text in [r.example.clone(), format!("x = \"{}\";", r.example), format!("{}\n", r.example)] {
                let hits = scan(p, text.as_bytes());
                assert!(hits.iter().any(|(row, _)| *row == i), "row {i} ({}) misses its example in {text:?}", r.name);
            }
            // The whole example is the credential.
            let hit = scan(p, r.example.as_bytes()).into_iter().find(|(row, _)| *row == i).map(|(_, h)| h);
            assert_eq!(hit, Some(Hit { start: 0, end: r.example.len() }), "row {i} ({}) span", r.name);
        }
    }

    #[test]
    fn examples_are_not_placeholders() {
        for r in &Patterns::builtin().rows {
            assert!(!has_doc_word(r.example.as_bytes()), "{}: example reads as documentation", r.name);
        }
    }

    #[test]
    fn documentation_and_placeholder_values_are_not_findings() {
        for text in [
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "key = AKIAXXXXXXXXXXXXXXXX",
            "STRIPE=sk_live_000000000000000000000000000000",
            "sk_test_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "glpat-XXXXXXXXXXX-XXXXXXXX",
            "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AIzaSyabcdefghijklmnopqrstuvwxyz1234567",
            "SKexampleexampleexampleexample12",
            "xoxb-000000000000-0000000000000-aaaaaaaaaaaaaaaaaaaaaaaa",
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
            "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
            "-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----",
            "postgres://user:password@db.internal/app",
            "https://admin:<password>@host.internal/",
            "redis://:${REDIS_PASS}@cache:6379",
            "mysql://root:changeit@localhost/db",
            "https://user@host.internal/path",
            "https://:@host.internal/",
            "https://bob:Zq8vLw3pR@example.com/",
        ] {
            assert_eq!(families(text), Vec::<String>::new(), "false positive on {text:?}");
        }
    }

    #[test]
    fn placeholder_rules() {
        for p in ["EXAMPLEKEY123", "000000000000", "xxxxxxxx", "abcdefgh12", "a1b2a1b2a1b2a1b2a1", "YOUR_KEY_HERE"] {
            assert!(looks_like_placeholder(p.as_bytes()), "{p}");
        }
        for p in ["q8ZrT3vLw9Xk2Hn5", "9f86d081884c7d659a2feaa0c55ad015", "wq4Kp7Zx"] {
            assert!(!looks_like_placeholder(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn checksums_are_checked() {
        let p = Patterns::builtin();
        let gh = p.rows.iter().find(|r| r.anchor == b"ghp_").map(|r| r.example.clone()).unwrap_or_default();
        assert_eq!(families(&gh), vec!["github".to_string()]);
        // One character changed in the random part: the CRC no longer holds.
        let mut bad = gh.into_bytes();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(families(std::str::from_utf8(&bad).unwrap_or_default()), Vec::<String>::new());
        // A JWT whose header is not JSON, or has no "alg".
        let not_json =
            format!("{}.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ", URL_SAFE_NO_PAD.encode(b"{\"alg\":HS256"));
        let no_alg =
            format!("{}.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ", URL_SAFE_NO_PAD.encode(b"{\"typ\":\"JWT\"}"));
        let good = format!(
            "{}.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
            URL_SAFE_NO_PAD.encode(b"{\"typ\":\"JWT\",\"alg\":\"HS256\"}")
        );
        assert_eq!(families(&not_json), Vec::<String>::new());
        assert_eq!(families(&no_alg), Vec::<String>::new());
        assert_eq!(families(&good), vec!["jwt".to_string()]);
        // An age key with a broken bech32 checksum.
        let age = p.rows.iter().find(|r| r.family == "age").map(|r| r.example.clone()).unwrap_or_default();
        let broken = age.replace(&age[20..21], if &age[20..21] == "Q" { "P" } else { "Q" });
        assert_eq!(families(&broken), Vec::<String>::new());
    }

    #[test]
    fn wrong_lengths_are_not_findings() {
        let p = Patterns::builtin();
        for (i, r) in p.rows.iter().enumerate() {
            let Some(Seg::Run { class, min, max }) = r.after.last() else { continue };
            if *min == 0 || *max >= 2048 || matches!(r.check, Check::Pem | Check::UrlPassword) {
                continue;
            }
            // The last run's length in the example, at most the part after
            // the anchor (a class that also takes the bytes before the run
            // overcounts: then the short case is not tried).
            let after = r.example.len() - r.before_len - r.anchor.len();
            let trailing = r.example.bytes().rev().take_while(|b| class.has(*b)).count().min(after);
            let extra = (b'0'..=b'z').find(|b| class.has(*b) && b.is_ascii_alphanumeric()).unwrap_or(b'a') as char;
            let longer = format!("{}{}", r.example, extra.to_string().repeat(max + 1));
            assert!(
                !scan(p, longer.as_bytes()).iter().any(|(row, h)| *row == i && h.start == 0),
                "{}: too long still matches",
                r.name
            );
            if trailing == *min {
                let shorter = &r.example[..r.example.len() - 1];
                assert!(
                    !scan(p, shorter.as_bytes()).iter().any(|(row, _)| *row == i),
                    "{}: too short still matches",
                    r.name
                );
            }
        }
    }

    #[test]
    fn a_credential_starts_at_a_token_boundary() {
        let p = Patterns::builtin();
        for r in p.rows.iter().filter(|r| r.boundary) {
            for glue in ["x", "7", "_", "-"] {
                let text = format!("{glue}{}", r.example);
                assert!(
                    !scan(p, text.as_bytes()).iter().any(|(row, h)| p.rows[*row].name == r.name && h.start == 1),
                    "{}: found right after {glue:?}",
                    r.name
                );
            }
            for glue in [" ", "\"", "=", ":", "(", "\n", "'"] {
                let text = format!("{glue}{}", r.example);
                assert!(
                    scan(p, text.as_bytes()).iter().any(|(row, _)| p.rows[*row].name == r.name),
                    "{}: missed after {glue:?}",
                    r.name
                );
            }
        }
    }

    #[test]
    fn the_anchor_case_is_checked() {
        let p = Patterns::builtin();
        for (i, r) in p.rows.iter().enumerate() {
            if !r.anchor.iter().any(u8::is_ascii_alphabetic) {
                continue;
            }
            let pos = r.before_len;
            let mut flipped = r.example.clone().into_bytes();
            for b in &mut flipped[pos..pos + r.anchor.len()] {
                *b = if b.is_ascii_lowercase() { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() };
            }
            let got = p.confirm(i, &flipped, pos, pos + r.anchor.len());
            if r.any_case {
                assert!(got.is_some(), "{}: keyword in another case missed", r.name);
            } else {
                assert_eq!(got, None, "{}: anchor in the wrong case accepted", r.name);
            }
        }
    }

    #[test]
    fn keyword_anchors_come_in_both_cases() {
        let p = Patterns::builtin();
        let all: Vec<&[u8]> = p.anchors().map(|(_, a)| a).collect();
        assert!(all.contains(&b"aws_secret_access_key".as_slice()));
        assert!(all.contains(&b"AWS_SECRET_ACCESS_KEY".as_slice()));
    }

    #[test]
    fn url_passwords() {
        assert_eq!(families("DATABASE_URL=postgres://app:q8Zr-T3vLw9@db.internal:5432/app"), vec!["url".to_string()]);
        assert_eq!(families("redis://:Kp7xW2qZ9d@cache.internal:6379"), vec!["url".to_string()]);
        let text = b"see https://app:q8ZrT3vLw9@db.internal/x";
        let hits = scan(Patterns::builtin(), text);
        assert_eq!(hits.len(), 1);
        assert_eq!(&text[hits[0].1.start..hits[0].1.end], b"https://app:q8ZrT3vLw9@db.internal");
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
