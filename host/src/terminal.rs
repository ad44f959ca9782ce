//! Text bound for a terminal, with its control sequences removed: answers,
//! tool output, notices and progress lines carry text from outside (an
//! LLM, a page, a tool), and an escape sequence in it could rewrite what
//! the operator sees, set the window title or worse.

use std::borrow::Cow;

/// `text` without escape sequences (CSI, OSC, and the rest), C0 controls
/// other than newline and tab, DEL, and C1 controls.
pub fn clean(text: &str) -> Cow<'_, str> {
    let bad = |c: char| (c < ' ' && c != '\n' && c != '\t') || ('\u{7f}'..='\u{9f}').contains(&c);
    if !text.chars().any(bad) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            if !bad(c) {
                out.push(c);
            }
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            // OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \).
            Some(']' | 'P' | 'X' | '^' | '_') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || c == '\u{9c}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Any other escape is two characters long.
            _ => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        for (dirty, want) in [
            ("a\u{1b}[2J\u{1b}[1;31mred\u{1b}[0m b", "ared b"),
            ("title\u{1b}]0;pwned\u{7} next", "title next"),
            ("link \u{1b}]8;;http://evil\u{1b}\\text\u{1b}]8;;\u{1b}\\ end", "link text end"),
            ("bell\u{7} cr\r back\u{8}space", "bell cr backspace"),
            ("c1 \u{9b}31m csi", "c1 31m csi"),
            ("keep\ttabs\nand lines", "keep\ttabs\nand lines"),
            ("unicode é ✓ stays", "unicode é ✓ stays"),
            ("trailing \u{1b}", "trailing "),
        ] {
            assert_eq!(clean(dirty), want, "{dirty:?}");
        }
    }
}
