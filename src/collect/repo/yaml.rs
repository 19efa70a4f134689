//! Collect, repository: turns YAML text into a small tree with line numbers, for GitHub Actions
//! workflows, local or fetched from GitHub.
//!
//! The grammar is `saphyr-parser`'s (a maintained YAML 1.2 event parser with spans, the parser
//! behind `saphyr`): its event loop is iterative, so a deeply nested file cannot overflow the stack,
//! and it reports anchors as ids, so aliases can be counted before they are expanded. The tree is
//! built here, iteratively, because what a workflow reader needs is not what a generic document
//! loader gives: every node keeps its line; a node reached through an alias takes the alias's line
//! (where a reader of the file sees it) and remembers the anchor's line; and what GitHub refuses
//! or reads differently (merge keys `<<`, several documents, duplicate keys, complex keys) is an
//! error naming the line rather than a guess. Limits on size, depth, node count and alias
//! expansion turn a hostile file into an error (a coverage gap for the caller), never a crash.

use std::collections::HashSet;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Largest workflow read, in bytes (GitHub's own limit on a workflow file is far lower).
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of collections; real workflows stay below ten.
pub const MAX_DEPTH: usize = 64;
/// Nodes in the tree, aliases expanded.
pub const MAX_NODES: usize = 2_000_000;
/// Nodes added by expanding aliases: a billion-laughs file stops here.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// A node with the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    /// Set when the node was reached through an alias: the line of its anchor. `line` is then
    /// the alias's line.
    pub anchor_line: Option<u32>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar's text, unquoted; a block scalar's lines joined by `\n`.
    Scalar(String),
    /// Keys in file order. A collection value carries the line of its key.
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Null,
}

/// Why a text is not one readable YAML document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("line {line}: {message}")]
    Syntax { line: u32, message: String },
    #[error("{bytes} bytes, more than the {MAX_BYTES}-byte limit")]
    TooLarge { bytes: usize },
    #[error("line {line}: nested deeper than {MAX_DEPTH} levels")]
    TooDeep { line: u32 },
    #[error("line {line}: more than {limit} nodes once aliases are expanded")]
    TooManyNodes { line: u32, limit: usize },
    #[error("line {line}: merge key `<<` (GitHub Actions does not merge mappings)")]
    MergeKey { line: u32 },
    #[error("line {line}: a second YAML document (GitHub Actions reads one)")]
    MultiDocument { line: u32 },
    #[error("line {line}: key `{key}` is defined twice")]
    DuplicateKey { line: u32, key: String },
    #[error("line {line}: a key that is not a scalar")]
    ComplexKey { line: u32 },
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

    /// Every scalar below this node (keys excluded), depth first, without recursion.
    pub fn scalars(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            match &node.value {
                Value::Scalar(s) => out.push(s.as_str()),
                Value::Map(entries) => stack.extend(entries.iter().rev().map(|(_, v)| v)),
                Value::Seq(items) => stack.extend(items.iter().rev()),
                Value::Null => {}
            }
        }
        out
    }
}

/// A collection being built.
struct Frame {
    line: u32,
    anchor: usize,
    /// Nodes in this collection so far, itself included, aliases expanded.
    size: usize,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<(String, Node)>,
        /// Keys so far: a duplicate is found in constant time (a workflow may hold 100k jobs).
        keys: HashSet<String>,
        /// A key read, waiting for its value.
        key: Option<(String, u32)>,
    },
}

/// An anchored node, kept to expand its aliases.
struct Anchored {
    node: Node,
    size: usize,
}

struct Builder {
    stack: Vec<Frame>,
    anchors: Vec<Option<Anchored>>,
    root: Option<Node>,
    documents: u32,
    nodes: usize,
    alias_nodes: usize,
}

/// Parses one YAML document. An empty text is a `Null` root.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.len() > MAX_BYTES {
        return Err(YamlError::TooLarge { bytes: text.len() });
    }
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
        documents: 0,
        nodes: 0,
        alias_nodes: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError::Syntax {
            line: e.marker().line() as u32,
            message: e.info().to_string(),
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root.unwrap_or(Node {
        line: 1,
        anchor_line: None,
        value: Value::Null,
    }))
}

fn line_of(span: &Span) -> u32 {
    span.start.line().max(1) as u32
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let line = line_of(&span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError::MultiDocument { line });
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let value = match style {
                    ScalarStyle::Plain if is_null(&text) => Value::Null,
                    _ => Value::Scalar(text.into_owned()),
                };
                let node = Node {
                    line,
                    anchor_line: None,
                    value,
                };
                self.complete(node, 1, anchor, line)?;
            }
            Event::Alias(id) => {
                let Some(Some(anchored)) = self.anchors.get(id) else {
                    // The parser rejects unknown anchors; an anchor still open (an alias to
                    // its own ancestor) is a cycle.
                    return Err(YamlError::Syntax {
                        line,
                        message: "alias to an enclosing node".into(),
                    });
                };
                let size = anchored.size;
                self.alias_nodes = self.alias_nodes.saturating_add(size);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(YamlError::TooManyNodes {
                        line,
                        limit: MAX_ALIAS_NODES,
                    });
                }
                let node = relocate(&anchored.node, line);
                self.complete(node, size, 0, line)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.open(line, anchor, FrameKind::Seq(Vec::new()))?
            }
            Event::MappingStart(anchor, _) => self.open(
                line,
                anchor,
                FrameKind::Map {
                    entries: Vec::new(),
                    keys: HashSet::new(),
                    key: None,
                },
            )?,
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let value = match frame.kind {
                    FrameKind::Seq(items) => Value::Seq(items),
                    FrameKind::Map { entries, .. } => Value::Map(entries),
                };
                let node = Node {
                    line: frame.line,
                    anchor_line: None,
                    value,
                };
                self.complete(node, frame.size, frame.anchor, frame.line)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn open(&mut self, line: u32, anchor: usize, kind: FrameKind) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::TooDeep { line });
        }
        // Reserve the anchor: an alias met before the collection closes points into itself.
        if anchor > 0 {
            if self.anchors.len() <= anchor {
                self.anchors.resize_with(anchor + 1, || None);
            }
            self.anchors[anchor] = None;
        }
        self.stack.push(Frame {
            line,
            anchor,
            size: 1,
            kind,
        });
        Ok(())
    }

    /// Hands a finished node of `size` nodes to its parent (or makes it the root).
    fn complete(
        &mut self,
        mut node: Node,
        size: usize,
        anchor: usize,
        line: u32,
    ) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(size);
        if self.nodes > MAX_NODES {
            return Err(YamlError::TooManyNodes {
                line,
                limit: MAX_NODES,
            });
        }
        if anchor > 0 {
            if self.anchors.len() <= anchor {
                self.anchors.resize_with(anchor + 1, || None);
            }
            self.anchors[anchor] = Some(Anchored {
                node: node.clone(),
                size,
            });
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        parent.size = parent.size.saturating_add(size);
        match &mut parent.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map { entries, keys, key } => match key.take() {
                None => {
                    let text = match &node.value {
                        Value::Scalar(s) => s.clone(),
                        Value::Null => String::new(),
                        _ => return Err(YamlError::ComplexKey { line: node.line }),
                    };
                    if text == "<<" {
                        return Err(YamlError::MergeKey { line: node.line });
                    }
                    if !keys.insert(text.clone()) {
                        return Err(YamlError::DuplicateKey {
                            line: node.line,
                            key: text,
                        });
                    }
                    *key = Some((text, node.line));
                }
                Some((text, key_line)) => {
                    // A block collection starts on the line after its key; readers look for
                    // the key.
                    if matches!(node.value, Value::Map(_) | Value::Seq(_))
                        && node.anchor_line.is_none()
                    {
                        node.line = key_line;
                    }
                    entries.push((text, node));
                }
            },
        }
        Ok(())
    }
}

/// YAML 1.2 core schema nulls (plain scalars only).
fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A copy of an anchored node as reached through an alias at `line`: every node points at the
/// alias and remembers where its anchor put it.
fn relocate(node: &Node, line: u32) -> Node {
    let mut copy = node.clone();
    let mut stack = vec![&mut copy];
    while let Some(n) = stack.pop() {
        n.anchor_line = Some(n.anchor_line.unwrap_or(n.line));
        n.line = line;
        match &mut n.value {
            Value::Map(entries) => stack.extend(entries.iter_mut().map(|(_, v)| v)),
            Value::Seq(items) => stack.extend(items.iter_mut()),
            Value::Scalar(_) | Value::Null => {}
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_keys(node: &Node) -> Vec<(&str, u32)> {
        node.entries()
            .iter()
            .map(|(k, v)| (k.as_str(), v.line))
            .collect()
    }

    #[test]
    fn reads_block_flow_and_lines() {
        let text = "on: {pull_request_target: {types: [opened]}}\n\"permissions\": {contents: write}\njobs:\n  a:\n    steps:\n      - uses: x\n        with: {k: v}\n";
        let root = parse(text).unwrap();
        assert_eq!(
            map_keys(&root),
            vec![("on", 1), ("permissions", 2), ("jobs", 3)]
        );
        let on = root.get("on").unwrap();
        assert_eq!(on.entries()[0].0, "pull_request_target");
        let perms = root.get("permissions").unwrap();
        assert_eq!(perms.get("contents").unwrap().as_str(), Some("write"));
        let step = &root
            .get("jobs")
            .unwrap()
            .get("a")
            .unwrap()
            .get("steps")
            .unwrap()
            .items()[0];
        assert_eq!(step.line, 6);
        assert_eq!(
            step.get("with").unwrap().get("k").unwrap().as_str(),
            Some("v")
        );
    }

    #[test]
    fn alias_points_at_itself_and_remembers_its_anchor() {
        let text = "x: &creds\n  key: ${{ secrets.K }}\ny: *creds\n";
        let root = parse(text).unwrap();
        let y = root.get("y").unwrap();
        assert_eq!((y.line, y.anchor_line), (3, Some(1)));
        let key = y.get("key").unwrap();
        assert_eq!((key.line, key.anchor_line), (3, Some(2)));
    }

    #[test]
    fn what_github_refuses_is_an_error_with_its_line() {
        let merge = parse("a: &a {x: 1}\nb:\n  <<: *a\n").unwrap_err();
        assert_eq!(merge, YamlError::MergeKey { line: 3 });
        let docs = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(docs, YamlError::MultiDocument { line: 2 });
        let dup = parse("a: 1\na: 2\n").unwrap_err();
        assert!(matches!(dup, YamlError::DuplicateKey { line: 2, .. }));
        assert!(matches!(parse("a: [\n"), Err(YamlError::Syntax { .. })));
    }

    #[test]
    fn hostile_files_hit_a_limit() {
        let deep = "- ".repeat(4500) + "x\n";
        assert!(matches!(parse(&deep), Err(YamlError::TooDeep { .. })));
        let flow = "[".repeat(10_000);
        assert!(parse(&flow).is_err());
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            laughs.push_str(&format!(
                "{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
                (b'a' + i) as char,
                (b'a' + i) as char,
                p = (b'a' + i - 1) as char
            ));
        }
        assert!(matches!(
            parse(&laughs),
            Err(YamlError::TooManyNodes {
                limit: MAX_ALIAS_NODES,
                ..
            })
        ));
    }

    #[test]
    fn yaml_1_2_scalars_stay_text() {
        let root = parse("on: push\nyes: no\nn: ~\n").unwrap();
        assert_eq!(root.get("on").unwrap().as_str(), Some("push"));
        assert_eq!(root.get("yes").unwrap().as_str(), Some("no"));
        assert_eq!(root.get("n").unwrap().value, Value::Null);
    }
}
