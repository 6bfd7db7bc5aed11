//! Text wrapping for the human views: at spaces, after commas and `/`, never inside a word
//! when a break point exists, keeping each line's indentation (dependency trees stay
//! trees), to the terminal's width (`COLUMNS`, else 100 columns).

use comfy_table::{Cell, Table};

/// The width human output is laid out for: `COLUMNS` when it is set to a sane value.
pub fn columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| (40..=1000).contains(&c))
        .unwrap_or(100)
}

/// Wraps every line of `text` to `width` columns. A continuation line keeps the
/// original line's indentation (and `- ` marker) plus two spaces.
pub fn wrap(text: &str, width: usize) -> String {
    text.lines()
        .map(|line| wrap_line(line, width))
        .collect::<Vec<_>>()
        .join("\n")
}

fn wrap_line(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let indent_len = line.len() - line.trim_start_matches(' ').len();
    let (indent, body) = line.split_at(indent_len);
    // A list or tree item (`- `) hangs its continuation under its text.
    let marker = if body.starts_with("- ") { 2 } else { 0 };
    let follow = " ".repeat(indent_len + marker + 2);
    let prefix = |done: usize| if done == 0 { indent } else { follow.as_str() };
    let room = |done: usize| width.saturating_sub(prefix(done).len()).max(8);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in pieces(body) {
        let len = piece.trim_end().chars().count();
        if !current.is_empty() && current.chars().count() + len > room(lines.len()) {
            lines.push(format!("{}{}", prefix(lines.len()), current.trim_end()));
            current.clear();
        }
        // A piece longer than a whole line has no break point: cut it.
        let mut rest = piece;
        while current.is_empty() && rest.trim_end().chars().count() > room(lines.len()) {
            let cut = rest
                .char_indices()
                .nth(room(lines.len()))
                .map_or(rest.len(), |(i, _)| i);
            lines.push(format!("{}{}", prefix(lines.len()), &rest[..cut]));
            rest = &rest[cut..];
        }
        current.push_str(rest);
    }
    if !current.trim().is_empty() || lines.is_empty() {
        lines.push(format!("{}{}", prefix(lines.len()), current.trim_end()));
    }
    lines.join("\n")
}

/// Splits after every space, comma and `/` (paths break between their elements),
/// keeping the separators.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' || c == ',' || c == '/' {
            out.push(&text[start..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Re-flows a paragraph: `text`'s words joined with single spaces and broken at spaces
/// to `width` columns, every line prefixed by `indent` (`explain`'s long text).
pub fn paragraph(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A two-column table (label, text) rebuilt with its text wrapped to fit `width` once
/// the label column's width is known, so that comfy-table never breaks inside a word.
pub fn two_columns(table: &Table, fresh: impl Fn() -> Table, width: usize) -> Table {
    let label_width = table
        .row_iter()
        .filter_map(|row| row.cell_iter().next())
        .map(|cell| cell.content().chars().count())
        .max()
        .unwrap_or(0);
    // Each column is padded by one space on both sides.
    let text_width = width.saturating_sub(label_width + 4).max(20);
    let mut out = fresh();
    for row in table.row_iter() {
        let mut cells = row.cell_iter();
        let (Some(label), Some(text)) = (cells.next(), cells.next()) else {
            continue;
        };
        out.add_row(vec![
            label.clone(),
            Cell::new(wrap(&text.content(), text_width)),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_after_commas_not_inside_words() {
        let text = "DefaultGODEBUG=asynctimerchan=1,containermaxprocs=0,cryptocustomrand=1,decoratemappings=0";
        let wrapped = wrap(text, 40);
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 40, "{line:?}");
        }
        assert_eq!(wrapped.replace("\n  ", ""), text);
        assert!(wrapped.lines().all(|l| !l.trim().starts_with(',')));
    }

    #[test]
    fn keeps_tree_indentation() {
        let text = "root\n    libfoo.so.1 => /a/very/long/directory/name/libfoo.so.1 [runpath of something]";
        let wrapped = wrap(text, 40);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert_eq!(lines[0], "root");
        assert!(lines[1].starts_with("    libfoo.so.1"));
        assert!(
            lines[2..].iter().all(|l| l.starts_with("      ")),
            "{lines:?}"
        );
    }

    #[test]
    fn a_word_without_break_points_is_cut_to_fit() {
        let wrapped = wrap(&"x".repeat(100), 30);
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 30),
            "{wrapped}"
        );
        assert_eq!(wrapped.replace("\n  ", ""), "x".repeat(100));
    }

    #[test]
    fn paragraphs_keep_every_word() {
        let text = "one two three four five six seven eight nine ten";
        let wrapped = paragraph(text, "  ", 16);
        assert!(wrapped.lines().all(|l| l.len() <= 16), "{wrapped}");
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>().join(" "),
            text
        );
    }
}
