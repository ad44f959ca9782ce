//! How much of a streamed reply's tail must wait for the next chunk: only
//! the bytes that could still begin a secret (one of its forms, or its
//! spelling in escapes). Holding a fixed window instead made every token
//! of a streamed reply wait for the one after it.

use super::leak::{Redactor, json_unescape, percent_decode};

/// What a redactor can find, seen from the start of a match.
#[derive(Debug)]
pub struct Starts {
    /// Every form of every value, lowercased (the redactor is case-blind).
    forms: Vec<Vec<u8>>,
    /// Bytes a form can begin with, lowercased.
    first: [bool; 256],
    /// How far back from the end a match in progress can reach: the
    /// longest form, or the longest value spelled `\u00XX` per byte.
    reach: usize,
}

impl Starts {
    /// The starts of what `redactor` replaces.
    pub fn new(redactor: &Redactor) -> Starts {
        let forms: Vec<Vec<u8>> = redactor.forms.iter().map(|f| f.to_ascii_lowercase()).collect();
        let mut first = [false; 256];
        for f in &forms {
            if let Some(b) = f.first() {
                first[*b as usize] = true;
            }
        }
        let longest_form = forms.iter().map(Vec::len).max().unwrap_or(0);
        let longest_value = redactor.values.iter().map(Vec::len).max().unwrap_or(0);
        Starts { forms, first, reach: longest_form.max(longest_value * 6) }
    }

    /// How many leading bytes of `held` may be passed on now: all before
    /// the earliest byte that could begin a match once more bytes arrive.
    pub fn safe_len(&self, held: &[u8]) -> usize {
        if self.forms.is_empty() {
            return held.len();
        }
        let from = held.len().saturating_sub(self.reach);
        let escapes = held[from..].iter().any(|b| matches!(b, b'%' | b'\\'));
        for at in from..held.len() {
            let b = held[at];
            let may_begin = self.first[b.to_ascii_lowercase() as usize];
            if may_begin && self.is_proper_prefix(&held[at..]) {
                return at;
            }
            if escapes && (may_begin || matches!(b, b'%' | b'\\')) && self.spells_in_escapes(&held[at..]) {
                return at;
            }
        }
        held.len()
    }

    /// `tail` is the beginning of a form, not yet whole.
    fn is_proper_prefix(&self, tail: &[u8]) -> bool {
        self.forms.iter().any(|f| f.len() > tail.len() && f[..tail.len()].eq_ignore_ascii_case(tail))
    }

    /// `tail`, decoded, could be the beginning of a value spelled in
    /// escapes (what a residue check refuses once it is whole); an escape
    /// cut off at the end could still decode to anything.
    fn spells_in_escapes(&self, tail: &[u8]) -> bool {
        let whole = &tail[..tail.len() - partial_escape(tail)];
        if whole.is_empty() {
            return true;
        }
        [percent_decode(whole), json_unescape(whole)].iter().any(|d| d.is_empty() || self.is_proper_prefix(d))
    }
}

/// How many bytes at the end of `tail` are an escape not yet complete:
/// `%`, `%X`, `\`, `\u` with fewer than four hex digits, or a high
/// surrogate `\uD8XX` waiting for its low half.
fn partial_escape(tail: &[u8]) -> usize {
    let hex = |s: &[u8]| s.iter().all(u8::is_ascii_hexdigit);
    let n = tail.len();
    let ends = |len: usize, ok: &dyn Fn(&[u8]) -> bool| n >= len && ok(&tail[n - len..]);
    for len in (1..=2).rev() {
        if ends(len, &|s| s[0] == b'%' && hex(&s[1..])) {
            return len;
        }
    }
    // `\uD8XX` then up to a whole `\uXXX` of its low half.
    for len in (6..=11).rev() {
        if ends(len, &|s| is_high_surrogate(&s[..6]) && partial_json(&s[6..])) {
            return len;
        }
    }
    (1..=5).rev().find(|&len| ends(len, &|s| partial_json(s))).unwrap_or(0)
}

/// `\`, `\u`, `\uX`, `\uXX`, `\uXXX`, or nothing.
fn partial_json(s: &[u8]) -> bool {
    match s {
        [] => true,
        [b'\\'] => true,
        [b'\\', b'u', rest @ ..] => rest.len() < 4 && rest.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

fn is_high_surrogate(s: &[u8]) -> bool {
    s.len() == 6
        && s.starts_with(b"\\u")
        && std::str::from_utf8(&s[2..])
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .is_some_and(|u| (0xd800..0xdc00).contains(&u))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live-9f8e7d6c5b4a3210";

    fn starts() -> Starts {
        Starts::new(&Redactor::new([("api_key", KEY.as_bytes())]))
    }

    #[test]
    fn text_that_cannot_begin_a_secret_passes_whole() {
        let s = starts();
        for text in ["data: {\"delta\":\"Hello there\"}\n\n", "}\n\n", ""] {
            assert_eq!(s.safe_len(text.as_bytes()), text.len(), "{text:?}");
        }
    }

    #[test]
    fn the_beginning_of_a_form_waits_in_any_case() {
        let s = starts();
        for (text, held) in [("tok sk-li", "sk-li"), ("tok SK-LI", "SK-LI"), ("x 736b2d6c", "736b2d6c"), ("a s", "s")] {
            assert_eq!(s.safe_len(text.as_bytes()), text.len() - held.len(), "{text:?}");
        }
        // Whole, it is no longer a beginning: the redactor replaces it.
        let whole = format!("a {KEY}");
        assert_eq!(s.safe_len(whole.as_bytes()), whole.len());
    }

    #[test]
    fn a_spelling_in_escapes_waits_and_so_does_an_escape_cut_off() {
        let s = starts();
        for (text, held) in [
            ("say \\u0073\\u006b", "\\u0073\\u006b"),
            ("say %73%6B-li", "%73%6B-li"),
            ("say sk%2d", "sk%2d"),
            ("say \\u00", "\\u00"),
            ("say %7", "%7"),
            ("say \\", "\\"),
            ("emoji \\ud83d", "\\ud83d"),
            ("emoji \\ud83d\\ude", "\\ud83d\\ude"),
        ] {
            assert_eq!(s.safe_len(text.as_bytes()), text.len() - held.len(), "{text:?}");
        }
        // An escape that cannot begin the value passes.
        let text = "line\\nnext %20 done";
        assert_eq!(s.safe_len(text.as_bytes()), text.len());
    }
}
