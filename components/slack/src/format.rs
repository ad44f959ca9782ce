//! The agent's Markdown as Slack's mrkdwn, and a long reply cut into
//! messages Slack shows whole.

/// Characters per message (Slack shows up to about 4,000 before it cuts).
pub const LIMIT: usize = 3_000;

/// Escape what Slack reads as markup, then `**bold**` → `*bold*` and
/// `[text](url)` → `<url|text>`; code spans and fences as they are.
pub fn to_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence = false;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            out.push_str(&escape(line));
            continue;
        }
        if in_fence {
            out.push_str(&escape(line));
        } else {
            out.push_str(&inline(line));
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One line outside a fence: code spans kept, the rest converted. An
/// unpaired last backtick opens nothing.
fn inline(line: &str) -> String {
    let paired = line.matches('`').count() / 2 * 2;
    let mut out = String::new();
    let mut code = false;
    for (k, part) in line.split('`').enumerate() {
        if k > 0 {
            out.push('`');
            if k <= paired {
                code = !code;
            }
        }
        out.push_str(&if code { escape(part) } else { words(part) });
    }
    out
}

/// Bold and links in text with no code in it.
fn words(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let bold = rest.find("**");
        let link = rest.find('[');
        match (bold, link) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                let Some(end) = rest[b + 2..].find("**") else { break };
                out.push_str(&escape(&rest[..b]));
                let inner = &rest[b + 2..b + 2 + end];
                if inner.trim().is_empty() {
                    out.push_str("**");
                    rest = &rest[b + 2..];
                    continue;
                }
                out.push('*');
                out.push_str(&words(inner));
                out.push('*');
                rest = &rest[b + 2 + end + 2..];
            }
            (_, Some(l)) => {
                let parsed = rest[l + 1..].split_once("](").and_then(|(label, tail)| {
                    let (url, after) = tail.split_once(')')?;
                    (url.starts_with("https://") || url.starts_with("http://")).then_some((label, url, after))
                });
                out.push_str(&escape(&rest[..l]));
                match parsed {
                    Some((label, url, after)) if !label.contains('[') => {
                        out.push_str(&format!("<{}|{}>", escape(url).replace('|', "%7C"), escape(label)));
                        rest = after;
                    }
                    _ => {
                        out.push('[');
                        rest = &rest[l + 1..];
                    }
                }
            }
            _ => break,
        }
    }
    out.push_str(&escape(rest));
    out
}

/// Cut `text` into pieces of at most `limit` characters, at a blank line,
/// else a newline, else a space, else anywhere.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim_end();
    while rest.chars().count() > limit {
        let cut = rest.char_indices().nth(limit).map_or(rest.len(), |(i, _)| i);
        let head = &rest[..cut];
        let at = head
            .rfind("\n\n")
            .or_else(|| head.rfind('\n'))
            .or_else(|| head.rfind(' '))
            .filter(|i| *i > 0)
            .unwrap_or(cut);
        out.push(rest[..at].trim_end().to_string());
        rest = rest[at..].trim_start();
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_mrkdwn_and_markup_is_escaped() {
        assert_eq!(to_mrkdwn("a **big** deal"), "a *big* deal");
        assert_eq!(to_mrkdwn("<@U1> & <!channel>"), "&lt;@U1&gt; &amp; &lt;!channel&gt;");
        assert_eq!(
            to_mrkdwn("see [the docs](https://docs.rs/x?a=1&b=2)"),
            "see <https://docs.rs/x?a=1&amp;b=2|the docs>"
        );
        assert_eq!(to_mrkdwn("run `cargo **build**` now"), "run `cargo **build**` now");
        assert_eq!(to_mrkdwn("```\n**x** <y>\n```"), "```\n**x** &lt;y&gt;\n```");
        for literal in ["**half", "[t](ftp://x)", "[t](https://x", "2 ** 3"] {
            assert_eq!(to_mrkdwn(literal), escape(literal), "{literal}");
        }
    }

    #[test]
    fn a_long_reply_is_cut_at_line_ends_into_pieces_that_fit() {
        let text = "word ".repeat(700) + "\n\n" + &"line\n".repeat(400);
        let pieces = split(&text, 1000);
        assert!(pieces.len() >= 4);
        assert!(pieces.iter().all(|p| p.chars().count() <= 1000 && !p.is_empty()));
        let joined: String = pieces.concat().split_whitespace().collect();
        assert_eq!(joined, text.split_whitespace().collect::<String>());
        assert_eq!(split("short", 10), ["short"]);
        assert_eq!(split(&"x".repeat(25), 10).len(), 3, "no space: cut anywhere");
    }
}
