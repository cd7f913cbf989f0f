//! YAML text → a tree of [`Node`]s that remember their byte spans.
//!
//! The only module that knows the YAML crate (saphyr-parser, a maintained YAML 1.2
//! parser that reports positions). Scalars stay text: the schema decoder decides
//! what they mean, so `yes` is never silently `true` and `08:00` never a number.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::diag::{Diagnostic, FileId, text_line_col};

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

/// How many nodes aliases may add to a file, in all. Each `*alias` copies its
/// anchor's whole value, so aliases of aliases grow exponentially: nine
/// levels of nine (a "billion laughs") would be 387 million nodes, gigabytes
/// before the first check ran. A scenario reuses a schedule or a list of
/// targets with aliases: dozens of nodes, not a hundred thousand.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Parses one YAML document. An empty file is an empty mapping.
///
/// Spans cover the node's own text: a scalar's starts after its `&anchor` and
/// `!tag` (at the quote of a quoted scalar, at the first content line of a block
/// scalar) and a block scalar's ends at its last character; a block collection
/// ends with its last child, a flow collection at its closing bracket.
pub fn parse(file: FileId, text: &str) -> Result<Node, Diagnostic> {
    let chars = CharIndex::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchor's node and its size in nodes, for aliases to copy and count.
    let mut anchors: Vec<(usize, Node, usize)> = Vec::new();
    let mut aliased = 0usize;
    let mut root: Option<Node> = None;
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => return Err(syntax_error(file, text, chars.byte(e.marker().index()), e.info(), &stack)),
        };
        let start = chars.byte(span.start.index());
        let end = chars.byte(span.end.index()).max(start);
        let (node, anchor, size) = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                if root.is_some() {
                    return Err(Diagnostic::error("a scenario file holds one YAML document, found a second")
                        .at(file, start..end.max(start + 1).min(text.len()))
                        .help("split the documents into separate files and use `include:`"));
                }
                continue;
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                let has_props = anchor != 0 || tag.is_some();
                let start = if has_props { skip_properties(text, start, text.len()) } else { start };
                let flow = matches!(text.as_bytes().get(start), Some(b'[' | b'{'));
                let kind = match event {
                    Event::SequenceStart(..) => FrameKind::Seq(Vec::new()),
                    _ => FrameKind::Map(Vec::new(), None),
                };
                stack.push(Frame { start, anchor, flow, kind, size: 1 });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().expect("the parser balances start and end events");
                // A flow collection's end event is its closing bracket; a block
                // collection's is empty, at the next token.
                let end = if end > start { end } else { block_end(text, &frame.kind).unwrap_or(frame.start) };
                let kind = match frame.kind {
                    FrameKind::Seq(items) => NodeKind::Seq(items),
                    FrameKind::Map(pairs, _) => NodeKind::Map(pairs),
                };
                (Node { kind, file, span: frame.start..end.max(frame.start) }, frame.anchor, frame.size)
            }
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                let mut start = start;
                if anchor != 0 || tag.is_some() {
                    start = skip_properties(text, start, end);
                    if matches!(style, Style::Literal | Style::Folded) {
                        start = block_content_start(text, start, end);
                    }
                }
                let mut end = end;
                if matches!(style, Style::Literal | Style::Folded) {
                    end = start + text[start..end].trim_end().len();
                }
                (
                    Node { kind: NodeKind::Scalar { value: value.into_owned(), style }, file, span: start..end },
                    anchor,
                    1,
                )
            }
            Event::Alias(id) => match anchors.iter().rev().find(|(a, ..)| *a == id) {
                Some((_, n, size)) => {
                    aliased += size;
                    if aliased > MAX_ALIAS_NODES {
                        return Err(Diagnostic::error(format!(
                            "YAML aliases expand this file by more than {MAX_ALIAS_NODES} nodes"
                        ))
                        .at(file, alias_span(text, start))
                        .label(format!("this alias alone copies {size} nodes"))
                        .help("each `*alias` copies its anchor's whole value, aliases within it included: write the repeated part out, or alias less deeply"));
                    }
                    (n.clone(), 0, *size)
                }
                None => {
                    return Err(Diagnostic::error("unknown YAML alias").at(file, alias_span(text, start)));
                }
            },
        };
        if anchor != 0 {
            anchors.push((anchor, node.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(frame) => {
                frame.size += size;
                match &mut frame.kind {
                    FrameKind::Seq(items) => items.push(node),
                    FrameKind::Map(pairs, pending) => match pending.take() {
                        None => *pending = Some(node),
                        Some(key) => pairs.push((key, node)),
                    },
                }
            }
        }
    }
    Ok(root.unwrap_or(Node { kind: NodeKind::Map(Vec::new()), file, span: 0..0 }))
}

/// `*name` at `start`: the star and the name, which ends at a blank or a flow indicator.
fn alias_span(text: &str, start: usize) -> Range<usize> {
    let name = text.get(start + 1..).unwrap_or("");
    let len = name.find(|c: char| c.is_whitespace() || ",[]{}".contains(c)).unwrap_or(name.len());
    start..(start + 1 + len).min(text.len())
}

/// A located syntax error: at the tab for tab errors, with a hint when a flow
/// collection opened on an earlier line is still open.
fn syntax_error(file: FileId, text: &str, at: usize, info: &str, stack: &[Frame]) -> Diagnostic {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let at = match text[line_start..line_end].find('\t') {
        Some(tab) if info.contains("tab") => line_start + tab,
        _ => at,
    };
    let mut d =
        Diagnostic::error(format!("invalid YAML: {info}")).at(file, at..(at + 1).min(text.len()).max(at)).label("here");
    if let Some(open) = stack.iter().rev().find(|f| f.flow) {
        let (line, col) = text_line_col(text, open.start);
        let (error_line, _) = text_line_col(text, at);
        if line < error_line {
            let (bracket, close) = if text[open.start..].starts_with('[') { ('[', ']') } else { ('{', '}') };
            d = d.help(format!("the `{bracket}` on line {line}, column {col} is still open: is a `{close}` missing?"));
        }
    }
    d
}

/// Skips node properties (`&anchor`, `!tag`, `!<verbatim>`) at `at`, and the
/// blanks and comments after them: where the node's own text starts.
fn skip_properties(text: &str, mut at: usize, end: usize) -> usize {
    let b = text.as_bytes();
    let end = end.min(b.len());
    loop {
        match b.get(at) {
            Some(b'&' | b'!') if at < end => {
                while at < end && !matches!(b[at], b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}') {
                    at += 1;
                }
            }
            _ => return at,
        }
        while at < end && matches!(b[at], b' ' | b'\t' | b'\r' | b'\n') {
            at += 1;
            if at < end && b[at] == b'#' {
                at = text[at..end].find('\n').map_or(end, |i| at + i);
            }
        }
    }
}

/// From a block scalar's `|`/`>` header to its first content character, as
/// saphyr places an untagged block scalar.
fn block_content_start(text: &str, at: usize, end: usize) -> usize {
    if !matches!(text.as_bytes().get(at), Some(b'|' | b'>')) {
        return at;
    }
    let after_header = text[at..end].find('\n').map_or(end, |i| at + i + 1);
    let content = &text[after_header..end];
    after_header + (content.len() - content.trim_start().len())
}

/// Where a block collection ends: with its last child (saphyr's end event is
/// at the next token, possibly lines further).
fn block_end(text: &str, kind: &FrameKind) -> Option<usize> {
    match kind {
        FrameKind::Seq(items) => items.last().map(|n| n.span.end),
        FrameKind::Map(pairs, pending) => {
            let last = pairs.last().map(|(k, v)| (k, Some(v))).or(pending.as_ref().map(|k| (k, None)))?;
            match last {
                (k, Some(v)) if !(v.is_null() && v.span.is_empty()) => Some(v.span.end.max(k.span.end)),
                // `key:` with nothing after it: end after the colon.
                (k, _) => Some(k.span.end + usize::from(text[k.span.end..].starts_with(':'))),
            }
        }
    }
}

struct Frame {
    start: usize,
    anchor: usize,
    /// `[...]` or `{...}` rather than block style.
    flow: bool,
    kind: FrameKind,
    /// Nodes in the collection so far, itself included (aliased values in full).
    size: usize,
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
    let block = matches!(style, Style::Literal | Style::Folded);
    // A plain or quoted scalar never starts with `&` or `!`: these are properties.
    let start = if block { node.span.start } else { skip_properties(source, node.span.start, node.span.end) };
    let raw = source.get(start..node.span.end).unwrap_or("");
    let base = start;
    let mut map = Vec::with_capacity(value.len() + 1);
    let raw_chars: Vec<(usize, char)> = raw.char_indices().collect();
    // Spans start at the scalar's text (after any anchor or tag, see `parse`):
    // at the opening quote, or at the first content character of a block scalar.
    let mut r = match style {
        Style::SingleQuoted | Style::DoubleQuoted => 1,
        Style::Literal | Style::Folded | Style::Plain => 0,
    };
    let mut leading = true;
    for vc in value.chars() {
        // A block scalar's leading blank lines come before its span.
        let blank_line = block && leading && vc == '\n';
        leading &= blank_line;
        let pos = match style {
            _ if blank_line => Some(0),
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
    fn aliases_copy_up_to_the_node_budget() {
        // 1 + 3 nodes anchored, copied twice: 8 aliased nodes.
        let text = "a: &x [1, 2, 3]\nb: *x\nc: [*x]\n";
        let root = parse(FileId(0), text).expect("within the budget");
        let NodeKind::Map(pairs) = &root.kind else { panic!("a mapping") };
        assert_eq!(pairs[1].1.kind, pairs[0].1.kind);
        // Each level copies the one below ten times: the budget runs out at the alias
        // whose copy passes it, named with its size.
        let mut text = String::from("l0: &l0 [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n");
        for level in 1..8 {
            let below = format!("*l{}", level - 1);
            text.push_str(&format!("l{level}: &l{level} [{}]\n", [below.as_str(); 10].join(", ")));
        }
        let err = parse(FileId(0), &text).expect_err("over the budget");
        let message = format!("{err:?}");
        assert!(message.contains("more than 100000 nodes"), "{message}");
        assert!(message.contains("this alias alone copies 11111 nodes"), "{message}");
    }

    #[test]
    fn scalar_spans_skip_anchors_and_tags() {
        let text = "a: &x !!str foo bar\nb: !t 'q'\nc: &y \"d\"\ne: !!str |\n  lit z\n\nf: &b >-\n\n  fold w\ng: |\n  &notanchor\n";
        let root = parse(FileId(0), text).unwrap();
        let NodeKind::Map(pairs) = &root.kind else { panic!() };
        let spans: Vec<&str> = pairs.iter().map(|(_, v)| &text[v.span.clone()]).collect();
        assert_eq!(spans, ["foo bar", "'q'", "\"d\"", "lit z", "fold w", "&notanchor"]);
        // Offsets inside tagged and anchored scalars, of every style.
        for (i, needle) in [(0, "bar"), (1, "q"), (2, "d"), (3, "z"), (4, "w")] {
            let v = &pairs[i].1;
            let m = value_offset_map(text, v);
            let at = v.as_scalar().unwrap().find(needle).unwrap();
            assert_eq!(&text[m[at]..m[at] + needle.len()], needle, "{i}");
        }
    }

    #[test]
    fn collection_spans_end_at_their_last_child() {
        let text = "a:\n  - x\n  - k: v\n    j:\n\n# c\nb: &f {k: v}\nc: [1, 2]\nd: &m\n  e: 1\nz: 1\n";
        let root = parse(FileId(0), text).unwrap();
        let NodeKind::Map(pairs) = &root.kind else { panic!() };
        assert_eq!(&text[pairs[0].1.span.clone()], "- x\n  - k: v\n    j:");
        assert_eq!(&text[pairs[1].1.span.clone()], "{k: v}");
        assert_eq!(&text[pairs[2].1.span.clone()], "[1, 2]");
        assert_eq!(&text[pairs[3].1.span.clone()], "e: 1");
        assert_eq!(&text[root.span.clone()], text.trim_end());
        // A block mapping whose first key is a flow sequence is still a block mapping.
        let text = "x:\n  [a, b]: c\n  d: e\nz: 1\n";
        let root = parse(FileId(0), text).unwrap();
        let NodeKind::Map(pairs) = &root.kind else { panic!() };
        assert_eq!(&text[pairs[0].1.span.clone()], "[a, b]: c\n  d: e");
    }

    #[test]
    fn tab_errors_point_at_the_tab() {
        let text = "name: t\nsettings:\n\tsession_timeout: 20m\n";
        let e = parse(FileId(0), text).unwrap_err();
        let span = e.location.unwrap().span;
        assert_eq!(&text[span], "\t", "{}", e.message);
    }

    #[test]
    fn unclosed_flow_collections_are_named() {
        let e = parse(FileId(0), "a:\n  b: [{c: 1}\nd: 2\n").unwrap_err();
        let help = e.help.unwrap_or_default();
        assert!(help.contains("`[` on line 2, column 6"), "{help}");
    }

    #[test]
    fn anchors_and_aliases() {
        let root = parse(FileId(0), "a: &x {k: 1}\nb: *x\n").unwrap();
        let NodeKind::Map(pairs) = &root.kind else { panic!() };
        assert_eq!(pairs[0].1.kind, pairs[1].1.kind);
    }
}
