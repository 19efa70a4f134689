//! Text: the two sanitisers for attacker-controlled strings (identity names, tags, file data,
//! rule files from a shared repository), one for the terminal and one for Markdown. Every
//! message or report line that quotes such data goes through one of them, so a new escape
//! trick is fixed here once.

use std::fmt::Write as _;

/// Characters that change how the text around them is shown without being seen themselves:
/// bidirectional overrides and isolates (which reorder what the reader sees, "Trojan Source")
/// and zero-width characters (which hide a difference between two names that look the same).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// Makes a string safe to print on a terminal, on one line: control characters (ESC, CR, LF,
/// C1 controls) and invisible characters become visible escapes (`\u{1b}`), so a name cannot
/// repaint the screen, forge a line, or hide a character.
pub fn terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_terminal(&mut out, c);
    }
    out
}

/// [`terminal`] for a message of several lines (an error listing every bad file): each line is
/// cleaned, the line breaks between them are kept.
pub fn terminal_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        for c in line.chars() {
            push_terminal(&mut out, c);
        }
    }
    out
}

fn push_terminal(out: &mut String, c: char) {
    if c.is_control() || is_invisible(c) {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

/// Makes a string safe inside GitHub-flavoured Markdown (a table cell, a list item), cut to
/// `max_chars` characters: a `|` cannot split a cell, `<` cannot open HTML, `[`, `]`, `(` and
/// `:` cannot form a link, `www.` cannot become an autolink, `@` cannot mention a user or team,
/// a newline cannot end the table, and invisible characters are dropped.
pub fn markdown(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut kept = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_invisible(c) {
            continue;
        }
        if kept == max_chars {
            out.push('…');
            break;
        }
        kept += 1;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '@' => out.push_str("&#64;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '~' | '!' | '$' | ':' => {
                out.push('\\');
                out.push(c);
            }
            // GitHub links `www.host` with no scheme; an escaped dot breaks the pattern.
            '.' if ends_with_www(&out) => out.push_str("\\."),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Whether `out` ends with `www` (any case) at the start of a word.
fn ends_with_www(out: &str) -> bool {
    let Some(head) = out.len().checked_sub(3).and_then(|at| out.get(at..)) else {
        return false;
    };
    head.eq_ignore_ascii_case("www")
        && out[..out.len() - 3]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_sees_escapes_bidi_and_zero_width_characters() {
        let shown = terminal("a\x1b[31mb\u{202e}c\u{200b}d\u{feff}e\nf");
        assert_eq!(shown, "a\\u{1b}[31mb\\u{202e}c\\u{200b}d\\u{feff}e\\u{a}f");
    }

    #[test]
    fn terminal_lines_keeps_line_breaks_only() {
        assert_eq!(terminal_lines("a\x1b\nb\r"), "a\\u{1b}\nb\\u{d}");
    }

    #[test]
    fn markdown_drops_bidi_and_zero_width_and_defeats_autolinks() {
        let shown = markdown("x\u{202e}y\u{200b}z www.evil.example WWW.evil wwwx.ok", 120);
        assert!(
            !shown.contains('\u{202e}') && !shown.contains('\u{200b}'),
            "{shown}"
        );
        assert!(!shown.contains("www."), "{shown}");
        assert!(!shown.contains("WWW."), "{shown}");
        assert!(shown.contains("wwwx.ok"), "{shown}");
    }

    #[test]
    fn markdown_cuts_by_characters() {
        assert_eq!(markdown(&"é".repeat(10), 4), "éééé…");
    }
}
