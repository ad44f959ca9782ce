//! Cutting documents into overlapping chunks for the index. Prose is cut at
//! paragraph and sentence boundaries (about 1,200 characters, 200 of
//! overlap); code at line boundaries, preferring blank lines (about 60
//! lines, 8 of overlap). Each chunk starts with the document's path so a
//! search for a file name finds it.

/// Prose chunks aim at this many bytes.
pub const PROSE_TARGET: usize = 1200;
/// Bytes of prose carried into the next chunk.
pub const PROSE_OVERLAP: usize = 200;
/// Code chunks aim at this many lines.
pub const CODE_LINES: usize = 60;
/// Lines of code carried into the next chunk.
pub const CODE_OVERLAP: usize = 8;

const CODE_EXTENSIONS: &[&str] = &[
    "rs", "py", "js", "ts", "tsx", "jsx", "go", "java", "kt", "c", "h", "cc", "cpp", "hpp", "cs", "rb", "php", "swift",
    "scala", "sh", "bash", "sql", "toml", "yaml", "yml", "json", "wit", "lua", "zig", "hs", "ml", "ex", "exs",
];

/// Whether `path` names source code.
pub fn is_code(path: &str) -> bool {
    path.rsplit_once('.').is_some_and(|(_, ext)| CODE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// The chunks of a document.
pub fn chunk(path: &str, text: &str) -> Vec<String> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    let pieces = if is_code(path) { code(text) } else { prose(text) };
    pieces.into_iter().map(|p| format!("{path}\n{p}")).collect()
}

fn code(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < lines.len() {
        let mut end = (start + CODE_LINES).min(lines.len());
        if end < lines.len() {
            // Prefer to end after a blank line in the last quarter.
            let floor = start + CODE_LINES * 3 / 4;
            if let Some(blank) = (floor..end).rev().find(|&i| lines[i].trim().is_empty()) {
                end = blank + 1;
            }
        }
        out.push(lines[start..end].join("\n"));
        if end == lines.len() {
            break;
        }
        start = end.saturating_sub(CODE_OVERLAP).max(start + 1);
    }
    out
}

/// Split into units no longer than the target: paragraphs, then sentences,
/// then whitespace-separated runs.
fn units(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if para.len() <= PROSE_TARGET {
            out.push(para);
            continue;
        }
        let mut rest = para;
        while rest.len() > PROSE_TARGET {
            let window = &rest[..floor_boundary(rest, PROSE_TARGET)];
            let cut = window
                .rfind(". ")
                .map(|i| i + 2)
                .or_else(|| window.rfind(char::is_whitespace).map(|i| i + 1))
                .filter(|&i| i > 0)
                .unwrap_or(window.len());
            out.push(rest[..cut].trim());
            rest = rest[cut..].trim_start();
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn prose(text: &str) -> Vec<String> {
    let units = units(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < units.len() {
        let mut len = 0;
        let mut j = i;
        while j < units.len() && (j == i || len + units[j].len() <= PROSE_TARGET) {
            len += units[j].len() + 2;
            j += 1;
        }
        out.push(units[i..j].join("\n\n"));
        if j == units.len() {
            break;
        }
        // Carry trailing units (up to the overlap) into the next chunk.
        let mut back = j;
        let mut carried = 0;
        while back > i + 1 && carried + units[back - 1].len() <= PROSE_OVERLAP {
            carried += units[back - 1].len();
            back -= 1;
        }
        i = back;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_prose_is_one_chunk_with_its_path() {
        let c = chunk("notes/a.md", "Hello.\n\nWorld.");
        assert_eq!(c, vec!["notes/a.md\nHello.\n\nWorld."]);
        assert!(chunk("empty.md", "  \n").is_empty());
    }

    #[test]
    fn long_prose_is_cut_near_the_target_with_overlap() {
        let para = |i: usize| format!("Paragraph {i} says something about topic {i}. ").repeat(4);
        let text: Vec<String> = (0..40).map(para).collect();
        let chunks = chunk("doc.md", &text.join("\n\n"));
        assert!(chunks.len() > 5);
        for c in &chunks {
            assert!(c.len() <= PROSE_TARGET + 300, "{}", c.len());
        }
        // Consecutive chunks share a paragraph.
        let shared = chunks.windows(2).filter(|w| w[0].lines().last().is_some_and(|l| w[1].contains(l))).count();
        assert!(shared > 0);
        // Every paragraph is somewhere.
        for i in 0..40 {
            assert!(chunks.iter().any(|c| c.contains(&format!("Paragraph {i} "))), "{i}");
        }
    }

    #[test]
    fn one_huge_paragraph_is_cut_at_sentences_and_utf8_is_safe() {
        let text = "Ünïcödé sentence here. ".repeat(400);
        let chunks = chunk("x.md", &text);
        assert!(chunks.len() > 3);
        assert!(chunks.iter().all(|c| c.len() <= PROSE_TARGET + 20));
    }

    #[test]
    fn code_is_cut_at_lines_preferring_blank_lines() {
        let mut src = String::new();
        for f in 0..30 {
            src.push_str(&format!("fn f{f}() {{\n    let x = {f};\n    x + 1\n}}\n\n"));
        }
        let chunks = chunk("src/lib.rs", &src);
        assert!(chunks.len() >= 2);
        for c in &chunks[..chunks.len() - 1] {
            assert!(c.lines().count() <= CODE_LINES + 1);
            assert!(
                c.ends_with("\n") || c.ends_with('}') || c.lines().last().is_some_and(|l| l.trim().is_empty()),
                "{c}"
            );
        }
        assert!(src.lines().filter(|l| l.starts_with("fn ")).all(|l| chunks.iter().any(|c| c.contains(l))));
    }
}
