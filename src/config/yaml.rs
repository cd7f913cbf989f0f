//! YAML text → a tree of [`Node`]s that remember their byte spans.
//!
//! The only module that knows the YAML crate (saphyr-parser, a maintained YAML 1.2
//! parser that reports positions). Scalars stay text: the schema decoder decides
//! what they mean, so `yes` is never silently `true` and `08:00` never a number.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::diag::{Diagnostic, FileId};

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Scalar { value: String, style: Style },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub file: FileId,
    /// Byte range in the file. For quoted scalars it includes the quotes.
    pub span: Range<usize>,
}

impl Node {
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
    /// `null`, `~` or nothing at all, unquoted.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, style: Style::Plain } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            _ if self.is_null() => "nothing",
            NodeKind::Scalar { .. } => "a single value",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document. An empty file is an empty mapping.
pub fn parse(file: FileId, text: &str) -> Result<Node, Diagnostic> {
    let chars = CharIndex::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let at = chars.byte(e.marker().index());
                return Err(Diagnostic::error(format!("invalid YAML: {}", e.info()))
                    .at(file, at..(at + 1).min(text.len()).max(at))
                    .label("here"));
            }
        };
        let start = chars.byte(span.start.index());
        let end = chars.byte(span.end.index());
        let (node, anchor) = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                if root.is_some() {
                    return Err(Diagnostic::error("a scenario file holds one YAML document, found a second")
                        .at(file, start..end.max(start + 1).min(text.len()))
                        .help("split the documents into separate files and use `include:`"));
                }
                continue;
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame { start, anchor, kind: FrameKind::Seq(Vec::new()) });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame { start, anchor, kind: FrameKind::Map(Vec::new(), None) });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().expect("the parser balances start and end events");
                let kind = match frame.kind {
                    FrameKind::Seq(items) => NodeKind::Seq(items),
                    FrameKind::Map(pairs, _) => NodeKind::Map(pairs),
                };
                let end = end.max(frame.start);
                (Node { kind, file, span: frame.start..end }, frame.anchor)
            }
            Event::Scalar(value, style, anchor, _) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                (Node { kind: NodeKind::Scalar { value: value.into_owned(), style }, file, span: start..end }, anchor)
            }
            Event::Alias(id) => match anchors.iter().rev().find(|(a, _)| *a == id) {
                Some((_, n)) => (n.clone(), 0),
                None => {
                    return Err(Diagnostic::error("unknown YAML alias").at(file, start..end.max(start + 1)));
                }
            },
        };
        if anchor != 0 {
            anchors.push((anchor, node.clone()));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame { kind: FrameKind::Seq(items), .. }) => items.push(node),
            Some(Frame { kind: FrameKind::Map(pairs, pending), .. }) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => pairs.push((key, node)),
            },
        }
    }
    Ok(root.unwrap_or(Node { kind: NodeKind::Map(Vec::new()), file, span: 0..0 }))
}

struct Frame {
    start: usize,
    anchor: usize,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>, Option<Node>),
}

/// saphyr counts positions in characters; diagnostics need bytes.
struct CharIndex {
    /// Byte offset of each char, or empty when the text is ASCII.
    offsets: Vec<usize>,
    len: usize,
}

impl CharIndex {
    fn new(text: &str) -> Self {
        let offsets = if text.is_ascii() { Vec::new() } else { text.char_indices().map(|(i, _)| i).collect() };
        CharIndex { offsets, len: text.len() }
    }
    fn byte(&self, char_index: usize) -> usize {
        if self.offsets.is_empty() {
            char_index.min(self.len)
        } else {
            self.offsets.get(char_index).copied().unwrap_or(self.len)
        }
    }
}

/// Maps each byte offset of a scalar's *value* to the byte offset in the file
/// where that character was written, so that an error inside a condition string
/// points at the exact character even through quotes, escapes and line folding.
pub fn value_offset_map(source: &str, node: &Node) -> Vec<usize> {
    let NodeKind::Scalar { value, style } = &node.kind else {
        return Vec::new();
    };
    let raw = source.get(node.span.clone()).unwrap_or("");
    let base = node.span.start;
    let mut map = Vec::with_capacity(value.len() + 1);
    let raw_chars: Vec<(usize, char)> = raw.char_indices().collect();
    let mut r = match style {
        Style::SingleQuoted | Style::DoubleQuoted => 1,
        // saphyr's span of a block scalar starts at its content, after the header.
        Style::Literal | Style::Folded | Style::Plain => 0,
    };
    for vc in value.chars() {
        let pos = match style {
            Style::DoubleQuoted => next_double_quoted(&raw_chars, &mut r, vc),
            Style::SingleQuoted if vc == '\'' => {
                // `''` stands for one quote.
                let p = raw_chars.get(r).map(|(i, _)| *i);
                r += 2;
                p
            }
            _ => next_matching(&raw_chars, &mut r, vc),
        };
        let pos = pos.unwrap_or(raw.len());
        for _ in 0..vc.len_utf8() {
            map.push(base + pos);
        }
    }
    map.push(base + raw_chars.get(r).map_or(raw.len(), |(i, _)| *i));
    map
}

/// Advances to the raw character that produced `vc`: the same character, or a
/// line break folded into a space or newline.
fn next_matching(raw: &[(usize, char)], r: &mut usize, vc: char) -> Option<usize> {
    while let Some((i, c)) = raw.get(*r).copied() {
        *r += 1;
        if c == vc || (c == '\n' && (vc == ' ' || vc == '\n')) {
            return Some(i);
        }
    }
    None
}

fn next_double_quoted(raw: &[(usize, char)], r: &mut usize, vc: char) -> Option<usize> {
    let (i, c) = raw.get(*r).copied()?;
    if c == '\\' {
        let width = match raw.get(*r + 1).map(|(_, c)| *c) {
            Some('x') => 4,
            Some('u') => 6,
            Some('U') => 10,
            Some('\n') => {
                // An escaped line break produces nothing: skip it and go on.
                *r += 2;
                return next_double_quoted(raw, r, vc);
            }
            _ => 2,
        };
        *r += width;
        return Some(i);
    }
    next_matching(raw, r, vc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_of(text: &str) -> (Node, Vec<usize>) {
        let root = parse(FileId(0), text).unwrap();
        let NodeKind::Map(pairs) = &root.kind else { panic!() };
        let v = pairs[0].1.clone();
        let m = value_offset_map(text, &v);
        (v, m)
    }

    #[test]
    fn spans_point_into_the_file() {
        let text = "a: 1\nb:\n  - x\n  - {c: \"d\"}\n";
        let root = parse(FileId(0), text).unwrap();
        let NodeKind::Map(pairs) = &root.kind else { panic!() };
        assert_eq!(&text[pairs[0].0.span.clone()], "a");
        assert_eq!(&text[pairs[0].1.span.clone()], "1");
        let NodeKind::Seq(items) = &pairs[1].1.kind else { panic!() };
        assert_eq!(&text[items[0].span.clone()], "x");
        let NodeKind::Map(inner) = &items[1].kind else { panic!() };
        assert_eq!(&text[inner[0].1.span.clone()], "\"d\"");
    }

    #[test]
    fn offsets_through_quotes_and_escapes() {
        let text = "w: \"a \\\"b\\\" \\u00e9 c\"\n";
        let (v, m) = map_of(text);
        let value = v.as_scalar().unwrap();
        let c_at = value.find('c').unwrap();
        assert_eq!(&text[m[c_at]..m[c_at] + 1], "c");
        let b_at = value.find('b').unwrap();
        assert_eq!(&text[m[b_at]..m[b_at] + 1], "b");

        let text = "w: 'it''s x'\n";
        let (v, m) = map_of(text);
        let x_at = v.as_scalar().unwrap().find('x').unwrap();
        assert_eq!(&text[m[x_at]..m[x_at] + 1], "x");

        let text = "w: >\n  one\n  two z\n";
        let (v, m) = map_of(text);
        let z_at = v.as_scalar().unwrap().find('z').unwrap();
        assert_eq!(&text[m[z_at]..m[z_at] + 1], "z");

        let text = "w: é plain q\n";
        let (v, m) = map_of(text);
        let q_at = v.as_scalar().unwrap().find('q').unwrap();
        assert_eq!(&text[m[q_at]..m[q_at] + 1], "q");
    }

    #[test]
    fn syntax_errors_are_located() {
        let e = parse(FileId(0), "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
        assert!(e.location.is_some());
    }

    #[test]
    fn anchors_and_aliases() {
        let root = parse(FileId(0), "a: &x {k: 1}\nb: *x\n").unwrap();
        let NodeKind::Map(pairs) = &root.kind else { panic!() };
        assert_eq!(pairs[0].1.kind, pairs[1].1.kind);
    }
}
