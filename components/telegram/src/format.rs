//! Fitting the agent's text to Telegram: cut into messages that each fit
//! its limit, and a small Markdown subset written as Telegram's HTML.

/// Telegram's limit on one message's text, in UTF-16 code units.
pub const LIMIT: usize = 4096;
/// Where raw text is cut. A chunk's HTML is longer than the chunk (escapes,
/// tags), and it is the HTML that must fit `LIMIT`.
const RAW_LIMIT: usize = 3500;

/// The length Telegram counts: UTF-16 code units (an emoji is two).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `text` in raw chunks whose HTML each fits one message; none for blank
/// text (Telegram refuses an empty message).
pub fn chunks(text: &str) -> Vec<String> {
    fit(text, RAW_LIMIT)
}

fn fit(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in split(text, limit) {
        // Text dense with `&`, `<` and `>` grows the most when escaped
        // (five times at worst), so halving the cut a few times ends this.
        if utf16_len(&to_html(&chunk)) > LIMIT && limit > 256 {
            out.extend(fit(&chunk, limit / 2));
        } else {
            out.push(chunk);
        }
    }
    out
}

/// `text` cut into chunks of at most `limit` UTF-16 units: at a blank line
/// if there is one in the second half of the room, else at a newline, else
/// at a space, else wherever it fills. The whitespace cut at is dropped,
/// as are chunks of whitespace alone.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest = text;
    while utf16_len(rest) > limit {
        let window = &rest[..room(rest, limit)];
        let (cut, skip) = cut_point(window);
        chunks.push(&rest[..cut]);
        rest = &rest[cut + skip..];
    }
    chunks.push(rest);
    chunks.into_iter().filter(|c| !c.trim().is_empty()).map(str::to_string).collect()
}

/// The byte length of the longest prefix of `s` within `limit` units (at
/// least one character, so that cutting always moves on).
fn room(s: &str, limit: usize) -> usize {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > limit {
            return if i == 0 { c.len_utf8() } else { i };
        }
    }
    s.len()
}

/// Where to cut `window`, and how many bytes of separator to drop there.
fn cut_point(window: &str) -> (usize, usize) {
    // A cut early in the window would make a needlessly short message.
    let half = (window.len() / 2).max(1);
    for separator in ["\n\n", "\n", " "] {
        if let Some(i) = window.rfind(separator)
            && i >= half
        {
            return (i, separator.len());
        }
    }
    (window.len(), 0)
}

/// `text` as Telegram HTML: everything escaped, then fenced code blocks as
/// `<pre>`, inline code as `<code>`, `**bold**` as `<b>` and
/// `[text](https://…)` as links. A marker without its closing half stays
/// as it was written.
pub fn to_html(text: &str) -> String {
    let s = escape(text);
    let mut out = String::with_capacity(s.len() + 32);
    // `plain` is where the text not yet written starts; code is found
    // first so that nothing inside it is read as Markdown.
    let (mut plain, mut at) = (0, 0);
    while let Some(found) = s[at..].find('`') {
        let start = at + found;
        let run = s[start..].bytes().take_while(|&b| b == b'`').count();
        let code = match run {
            1 => inline_code(&s[start..]),
            2 => None,
            _ => fence(&s[start..]),
        };
        match code {
            Some((html, len)) => {
                inline(&s[plain..start], &mut out);
                out.push_str(&html);
                at = start + len;
                plain = at;
            }
            None => at = start + run,
        }
    }
    inline(&s[plain..], &mut out);
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A fenced block at the start of `s`: its HTML and how long it is.
fn fence(s: &str) -> Option<(String, usize)> {
    let body = &s[3..];
    let close = body.find("```")?;
    let mut code = &body[..close];
    // The opening line may name the language (```rust); <pre> needs none.
    if let Some(newline) = code.find('\n')
        && !code[..newline].contains(char::is_whitespace)
    {
        code = &code[newline + 1..];
    }
    let code = code.strip_suffix('\n').unwrap_or(code);
    if code.is_empty() {
        return None;
    }
    Some((format!("<pre>{code}</pre>"), 3 + close + 3))
}

/// Inline code at the start of `s`, closed on the same line.
fn inline_code(s: &str) -> Option<(String, usize)> {
    let body = &s[1..];
    let close = body.find(['`', '\n'])?;
    if close == 0 || !body[close..].starts_with('`') {
        return None;
    }
    Some((format!("<code>{}</code>", &body[..close]), close + 2))
}

/// Bold and links in (escaped) text outside code.
fn inline(s: &str, out: &mut String) {
    let mut at = 0;
    while let Some(c) = s[at..].chars().next() {
        let rest = &s[at..];
        let marked = match c {
            '*' => bold(rest),
            '[' => link(rest),
            _ => None,
        };
        match marked {
            Some((html, len)) => {
                out.push_str(&html);
                at += len;
            }
            None => {
                out.push(c);
                at += c.len_utf8();
            }
        }
    }
}

/// `**bold**` at the start of `s`. Whitespace just inside the markers
/// (`2 ** 3`) is arithmetic, not emphasis.
fn bold(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("**")?;
    let close = body.find("**")?;
    let inner = &body[..close];
    if inner.is_empty() || inner.starts_with(char::is_whitespace) || inner.ends_with(char::is_whitespace) {
        return None;
    }
    let mut html = String::from("<b>");
    inline(inner, &mut html);
    html.push_str("</b>");
    Some((html, close + 4))
}

/// `[text](http…)` at the start of `s`.
fn link(s: &str) -> Option<(String, usize)> {
    let close = s.find(']')?;
    let text = &s[1..close];
    if text.is_empty() || text.contains(['[', '\n']) {
        return None;
    }
    let after = s[close + 1..].strip_prefix('(')?;
    let end = after.find(')')?;
    let url = &after[..end];
    let web = url.starts_with("http://") || url.starts_with("https://");
    if !web || url.contains(char::is_whitespace) {
        return None;
    }
    let mut html = format!("<a href=\"{}\">", url.replace('"', "&quot;"));
    inline(text, &mut html);
    html.push_str("</a>");
    Some((html, close + 2 + end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each chunk is found in `text` in order, with only whitespace between.
    fn assert_pieces_of(text: &str, chunks: &[String], limit: usize) {
        let mut at = 0;
        for chunk in chunks {
            assert!(utf16_len(chunk) <= limit, "a chunk of {} units", utf16_len(chunk));
            let found = text[at..].find(chunk.as_str()).expect("a chunk that is not in the text") + at;
            assert!(text[at..found].trim().is_empty(), "text lost between chunks: {:?}", &text[at..found]);
            at = found + chunk.len();
        }
        assert!(text[at..].trim().is_empty(), "text lost at the end: {:?}", &text[at..]);
    }

    #[test]
    fn short_text_is_one_chunk_and_blank_text_none() {
        assert_eq!(split("hello", 10), vec!["hello"]);
        assert!(split("  \n ", 10).is_empty() && chunks("").is_empty());
    }

    #[test]
    fn ascii_is_cut_at_spaces_within_the_limit() {
        let text = "one two three four five six seven eight nine ten";
        let chunks = split(text, 12);
        assert_eq!(chunks[0], "one two");
        assert_pieces_of(text, &chunks, 12);
    }

    #[test]
    fn a_newline_wins_over_a_space_and_a_blank_line_over_both() {
        assert_eq!(split("aaaa bbbb\ncc dd", 12), vec!["aaaa bbbb", "cc dd"]);
        assert_eq!(split("aaaa\nbbbb\n\ncc dd", 14), vec!["aaaa\nbbbb", "cc dd"]);
    }

    #[test]
    fn text_without_whitespace_is_cut_hard() {
        let text = "x".repeat(25);
        let chunks = split(&text, 10);
        assert_eq!(chunks.iter().map(String::len).collect::<Vec<_>>(), vec![10, 10, 5]);
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn emoji_count_as_two_units_and_are_never_cut_in_half() {
        let text = "😀".repeat(7);
        let chunks = split(&text, 4);
        assert_eq!(chunks, vec!["😀😀", "😀😀", "😀😀", "😀"]);
        assert_eq!(utf16_len("😀é"), 3);
        // A limit below one character still moves on.
        assert_eq!(split("😀😀", 1).len(), 2);
    }

    #[test]
    fn a_long_reply_fits_telegram_in_every_chunk() {
        let paragraph = "Lorem ipsum dolor sit amet, 😀 consectetur <adipiscing> & elit.\n".repeat(12);
        let text = format!("{}\n\n", paragraph).repeat(10);
        let parts = chunks(&text);
        assert!(parts.len() > 2);
        assert_pieces_of(&text, &parts, RAW_LIMIT);
        assert!(parts.iter().all(|c| utf16_len(&to_html(c)) <= LIMIT));
        // Text that grows five times when escaped is cut smaller.
        let dense = "&".repeat(5000);
        let pieces = chunks(&dense);
        assert!(pieces.iter().all(|c| utf16_len(&to_html(c)) <= LIMIT), "{}", pieces.len());
        assert_eq!(pieces.concat(), dense);
    }

    #[test]
    fn html_in_the_text_is_escaped_not_obeyed() {
        assert_eq!(to_html("<b>x</b> & y"), "&lt;b&gt;x&lt;/b&gt; &amp; y");
    }

    #[test]
    fn code_blocks_become_pre_without_their_language() {
        assert_eq!(to_html("see:\n```rust\nlet a = 1 < 2;\n```\ndone"), "see:\n<pre>let a = 1 &lt; 2;</pre>\ndone");
        assert_eq!(to_html("```\n**not bold**\n```"), "<pre>**not bold**</pre>");
        assert_eq!(to_html("run `cargo **build**` now"), "run <code>cargo **build**</code> now");
    }

    #[test]
    fn bold_and_links_become_tags() {
        assert_eq!(to_html("a **big** deal"), "a <b>big</b> deal");
        assert_eq!(
            to_html("[the docs](https://docs.rs/a?x=1&y=\"2\") and **[b](http://b)**"),
            "<a href=\"https://docs.rs/a?x=1&amp;y=&quot;2&quot;\">the docs</a> and <b><a href=\"http://b\">b</a></b>"
        );
    }

    #[test]
    fn unclosed_markers_stay_literal() {
        for text in ["**half", "`half", "```rust\nfn x", "[t](https://x", "[t](ftp://x)", "2 ** 3 ** 4", "``"] {
            assert_eq!(to_html(text), escape(text), "{text}");
        }
        assert_eq!(to_html("`a\nb` c"), "`a\nb` c");
    }
}
