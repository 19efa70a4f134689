//! Collect, repository: a small block-YAML reader that keeps line numbers, enough for GitHub
//! Actions workflows (block maps, block sequences, quoted and plain scalars, block scalars, flow
//! sequences of scalars). Anchors, aliases and multi-document files are read as plain text;
//! the caller reports what it could not read rather than guessing.

/// A node with the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar's text, unquoted; a block scalar's lines joined by `\n`.
    Scalar(String),
    /// Keys in file order, each with the line of the key.
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Null,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone)]
struct Line {
    no: u32,
    indent: usize,
    text: String,
}

/// Parses a document. Never fails: what it cannot structure stays a scalar.
pub fn parse(text: &str) -> Node {
    let lines = logical_lines(text);
    let mut reader = Reader { lines, at: 0 };
    match reader.lines.first().map(|l| l.indent) {
        Some(indent) => reader.node(indent),
        None => Node {
            line: 1,
            value: Value::Null,
        },
    }
}

/// Non-blank, non-comment lines with trailing comments removed; `---` and `...` dropped.
fn logical_lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let body = strip_comment(raw).trim_end();
        let trimmed = body.trim_start();
        if trimmed.is_empty() || trimmed == "---" || trimmed == "..." {
            continue;
        }
        let indent = body.len() - trimmed.len();
        out.push(Line {
            no: index as u32 + 1,
            indent,
            text: trimmed.to_string(),
        });
    }
    out
}

/// Removes a `#` comment that is outside quotes and starts a word.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

struct Reader {
    lines: Vec<Line>,
    at: usize,
}

impl Reader {
    fn peek(&self) -> Option<&Line> {
        self.lines.get(self.at)
    }

    fn node(&mut self, indent: usize) -> Node {
        let Some(line) = self.peek().cloned() else {
            return Node {
                line: 0,
                value: Value::Null,
            };
        };
        if is_seq_item(&line.text) {
            self.seq(indent)
        } else if split_key(&line.text).is_some() {
            self.map(indent)
        } else {
            self.at += 1;
            Node {
                line: line.no,
                value: scalar(&line.text),
            }
        }
    }

    fn map(&mut self, indent: usize) -> Node {
        let start = self.peek().map(|l| l.no).unwrap_or(0);
        let mut entries = Vec::new();
        while let Some(line) = self.peek().cloned() {
            if line.indent != indent || is_seq_item(&line.text) {
                break;
            }
            let Some((key, rest)) = split_key(&line.text) else {
                break;
            };
            self.at += 1;
            let value = self.value_after_key(&line, rest);
            entries.push((key, value));
        }
        Node {
            line: start,
            value: Value::Map(entries),
        }
    }

    /// The value of `key: rest`: inline, a block scalar, or the indented block below.
    fn value_after_key(&mut self, line: &Line, rest: &str) -> Node {
        if rest.starts_with('|') || rest.starts_with('>') {
            return self.block_scalar(line);
        }
        if !rest.is_empty() {
            return Node {
                line: line.no,
                value: scalar(rest),
            };
        }
        match self.peek().cloned() {
            // A nested block starts, for line numbers, at its key.
            Some(next) if next.indent > line.indent => Node {
                line: line.no,
                ..self.node(next.indent)
            },
            // A sequence may sit at its key's own indent.
            Some(next) if next.indent == line.indent && is_seq_item(&next.text) => Node {
                line: line.no,
                ..self.seq(next.indent)
            },
            _ => Node {
                line: line.no,
                value: Value::Null,
            },
        }
    }

    fn block_scalar(&mut self, owner: &Line) -> Node {
        let mut text = Vec::new();
        while let Some(next) = self.peek() {
            if next.indent <= owner.indent {
                break;
            }
            text.push(next.text.clone());
            self.at += 1;
        }
        Node {
            line: owner.no,
            value: Value::Scalar(text.join("\n")),
        }
    }

    fn seq(&mut self, indent: usize) -> Node {
        let start = self.peek().map(|l| l.no).unwrap_or(0);
        let mut items = Vec::new();
        while let Some(line) = self.peek().cloned() {
            if line.indent != indent || !is_seq_item(&line.text) {
                break;
            }
            let rest = line.text[1..].trim_start();
            if rest.is_empty() {
                self.at += 1;
                match self.peek().cloned() {
                    Some(next) if next.indent > indent => items.push(self.node(next.indent)),
                    _ => items.push(Node {
                        line: line.no,
                        value: Value::Null,
                    }),
                }
                continue;
            }
            // `- key: v` opens a map whose other keys align with `key`: re-read the rest of
            // the line as if it started at that column.
            let column = indent + (line.text.len() - rest.len());
            self.lines[self.at] = Line {
                no: line.no,
                indent: column,
                text: rest.to_string(),
            };
            items.push(self.node(column));
        }
        Node {
            line: start,
            value: Value::Seq(items),
        }
    }
}

fn is_seq_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// `key: rest` or `key:` outside quotes; the key unquoted.
fn split_key(text: &str) -> Option<(String, &str)> {
    let (mut single, mut double) = (false, false);
    let bytes = text.as_bytes();
    if matches!(bytes.first(), Some(b'[' | b'{')) {
        return None;
    }
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            ':' if !single && !double => {
                let after = bytes.get(i + 1);
                if after.is_none() || after == Some(&b' ') || after == Some(&b'\t') {
                    let key = unquote(text[..i].trim());
                    return Some((key, text[i + 1..].trim()));
                }
            }
            _ => {}
        }
    }
    None
}

fn scalar(text: &str) -> Value {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let items = inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Node {
                line: 0,
                value: Value::Scalar(unquote(s)),
            })
            .collect();
        return Value::Seq(items);
    }
    if text == "{}" {
        return Value::Map(Vec::new());
    }
    if text == "~" || text == "null" {
        return Value::Null;
    }
    Value::Scalar(unquote(text))
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return t[1..t.len() - 1].to_string();
        }
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = "name: ci # build\non: [push, pull_request]\npermissions:\n  contents: read\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          fetch-depth: 0\n      - name: test\n        run: |\n          cargo test\n          echo '# not a comment'\n      -\n        uses: x/y@v1\n";

    #[test]
    fn reads_maps_sequences_and_lines() {
        let doc = parse(WORKFLOW);
        assert_eq!(doc.get("name").and_then(Node::as_str), Some("ci"));
        let on = doc.get("on").unwrap();
        assert_eq!(on.items().len(), 2);
        assert_eq!(on.line, 2);
        let steps = doc
            .get("jobs")
            .unwrap()
            .get("build")
            .unwrap()
            .get("steps")
            .unwrap();
        assert_eq!(steps.items().len(), 3);
        let first = &steps.items()[0];
        assert_eq!(first.line, 9);
        assert_eq!(
            first.get("uses").and_then(Node::as_str),
            Some("actions/checkout@v4")
        );
        assert_eq!(
            first.get("with").unwrap().get("fetch-depth").unwrap().line,
            11
        );
        let run = steps.items()[1].get("run").and_then(Node::as_str).unwrap();
        assert!(run.contains("cargo test") && run.contains("# not a comment"));
        assert_eq!(
            steps.items()[2].get("uses").and_then(Node::as_str),
            Some("x/y@v1")
        );
    }

    #[test]
    fn sequence_at_key_indent_and_quoted_keys() {
        let doc = parse("\"on\":\n- push\nenv:\n  'A': \"x: y\"\n");
        assert_eq!(doc.get("on").unwrap().items().len(), 1);
        assert_eq!(
            doc.get("env").unwrap().get("A").and_then(Node::as_str),
            Some("x: y")
        );
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "-",
            ":",
            "- - -",
            "a:\n  - b: c\n d",
            "\u{feff}x: y",
            "key: |\n",
            "[a",
        ] {
            let _ = parse(text);
        }
    }
}
