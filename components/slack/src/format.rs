//! The agent's Markdown as Slack's mrkdwn, and a long reply cut into
//! messages Slack shows whole.

/// Characters per message of mrkdwn (Slack shows up to about 4,000
/// before it cuts).
pub const LIMIT: usize = 3_000;

const FENCE: &str = "```";

/// `text` as mrkdwn, starting inside a fence or not; and whether it ends
/// inside one. Slack's markup characters are escaped first, then
/// `**bold**` → `*bold*` and `[text](url)` → `<url|text>`; code spans and
/// fences stay as they are, nothing converted inside them.
fn convert(text: &str, mut in_fence: bool) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if is_fence(line) {
            in_fence = !in_fence;
            out.push_str(&escape(line));
        } else if in_fence {
            out.push_str(&escape(line));
        } else {
            out.push_str(&inline(line));
        }
    }
    (out, in_fence)
}

/// A line that opens or closes a fenced block (```` ```x``` ```` on one
/// line is a code span instead).
fn is_fence(line: &str) -> bool {
    line.trim_start().strip_prefix(FENCE).is_some_and(|rest| !rest.contains(FENCE))
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

/// `text` as mrkdwn messages of at most [`LIMIT`] characters each, in
/// order; none for blank text (Slack refuses an empty message). A code
/// block cut between two messages is closed at the end of the first and
/// reopened in the next, so neither shows code as prose.
pub fn chunks(text: &str) -> Vec<String> {
    // Room for the closing and the reopening marker of a cut fence.
    let room = LIMIT - 2 * (FENCE.len() + 1);
    let mut out = Vec::new();
    let mut fenced = false;
    for piece in fit(text, room) {
        let mut lines: Vec<&str> = piece.split('\n').collect();
        // The previous message closed the block already.
        let reopen = if fenced && is_fence(lines[0]) {
            lines.remove(0);
            false
        } else {
            fenced
        };
        let (mut md, open) = convert(&lines.join("\n"), reopen);
        // A block opened on the last line starts in the next message.
        if open && lines.last().is_some_and(|l| is_fence(l)) {
            lines.pop();
            md = convert(&lines.join("\n"), reopen).0;
        } else if open {
            md.push('\n');
            md.push_str(FENCE);
        }
        if reopen {
            md.insert_str(0, &format!("{FENCE}\n"));
        }
        fenced = open;
        if !md.trim().is_empty() {
            out.push(md);
        }
    }
    out
}

/// `text` cut so that each piece's mrkdwn fits `limit`: escaping makes it
/// longer than the piece (`&` five times), so a dense piece is cut again
/// at half the length.
fn fit(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for piece in split(text, limit) {
        if longest_mrkdwn(&piece) > limit && limit > 256 {
            out.extend(fit(&piece, limit / 2));
        } else {
            out.push(piece);
        }
    }
    out
}

/// An upper bound of the length of `s` as mrkdwn, inside a fence or not:
/// every escape counted, a `|` in a link's URL as `%7C`; bold and links
/// only get shorter.
fn longest_mrkdwn(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '&' => 5,
            '<' | '>' | '|' => 4,
            _ => 1,
        })
        .sum()
}

/// Cut `text` into pieces of at most `limit` characters: at a blank line
/// in the second half of the room, else a newline there, else a space,
/// else where the room ends. The whitespace cut at is dropped, as are
/// pieces of whitespace alone.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > limit {
        let room = rest.char_indices().nth(limit.max(1)).map_or(rest.len(), |(i, _)| i);
        let (cut, skip) = cut_point(&rest[..room]);
        out.push(&rest[..cut]);
        rest = &rest[cut + skip..];
    }
    out.push(rest);
    out.into_iter().filter(|p| !p.trim().is_empty()).map(str::to_string).collect()
}

/// Where to cut `window`, and how many bytes of separator to drop there.
fn cut_point(window: &str) -> (usize, usize) {
    // A cut early in the window would make a needlessly short message.
    let half = (window.len() / 2).max(1);
    for separator in ["\n\n", "\n", " "] {
        if let Some(i) = window.rfind(separator).filter(|i| *i >= half) {
            return (i, separator.len());
        }
    }
    (window.len(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_mrkdwn(text: &str) -> String {
        convert(text, false).0
    }

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
        assert_eq!(to_mrkdwn("```a **b**```\n**c**"), "```a **b**```\n*c*", "a one-line block opens no fence");
        for literal in ["**half", "[t](ftp://x)", "[t](https://x", "2 ** 3", "a ` b"] {
            assert_eq!(to_mrkdwn(literal), escape(literal), "{literal}");
        }
    }

    #[test]
    fn a_long_reply_is_cut_at_blank_lines_then_newlines_into_pieces_that_fit() {
        let para = |c: &str| format!("{}\n", format!("{c} ").repeat(60).trim_end()).repeat(5);
        let text = format!("{}\n{}\n{}", para("a"), para("b"), para("c"));
        let pieces = split(&text, 1000);
        assert!(pieces.iter().all(|p| p.chars().count() <= 1000 && !p.is_empty()));
        assert!(pieces[0].ends_with('a') && pieces[1].starts_with('b'), "cut at the blank line: {pieces:?}");
        let lines = "line of words\n".repeat(100);
        assert!(
            split(&lines, 100).iter().all(|p| p.trim_end().ends_with("words") && p.starts_with("line")),
            "at newlines"
        );
        let joined: String = split(&text, 1000).concat().split_whitespace().collect();
        assert_eq!(joined, text.split_whitespace().collect::<String>(), "nothing lost but whitespace");
        assert_eq!(split("short", 10), ["short"]);
        assert_eq!(
            split(&"x".repeat(25), 10),
            ["x".repeat(10), "x".repeat(10), "x".repeat(5)],
            "no space: cut anywhere"
        );
        assert!(split(" \n ", 10).is_empty());
    }

    #[test]
    fn every_message_fits_as_mrkdwn_and_cut_code_blocks_are_reopened() {
        let dense = "a<b&c ".repeat(2000);
        let messages = chunks(&dense);
        assert!(messages.len() > 4);
        assert!(messages.iter().all(|m| m.chars().count() <= LIMIT), "escaping counted");
        let code = format!("intro\n```\n{}```\n**after**", "let x = **y** < z;\n".repeat(400));
        let messages = chunks(&code);
        assert!(messages.len() >= 3);
        assert!(messages.iter().all(|m| m.chars().count() <= LIMIT));
        for m in &messages[1..messages.len() - 1] {
            assert!(m.starts_with("```\n") && m.ends_with("\n```"), "{m}");
            assert!(!m.contains(" *y* ") && m.contains(" **y** "), "code stays code");
        }
        assert!(messages.last().unwrap().ends_with("*after*"), "prose after the block is converted");
        assert!(chunks("  \n").is_empty());
    }
}
