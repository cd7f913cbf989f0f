//! Typed reading of YAML nodes that records every problem as a located
//! diagnostic and carries on, so that one `pesim check` reports them all.

use std::ops::Range;

use jiff::Timestamp;

use super::model::Millis;
use super::yaml::{Node, NodeKind, Style, value_offset_map};
use crate::diag::{Diagnostic, Diagnostics, Location, Sources};
use crate::dsl::error::did_you_mean;
use crate::dsl::{DslError, parse_duration_ms};

/// The reading context: sources (to map condition offsets) and the diagnostics found.
pub struct Cx<'s> {
    pub sources: &'s Sources,
    pub diags: Diagnostics,
}

/// The keys of one YAML mapping, checked against the keys it may have.
pub struct Fields<'n> {
    pub node: &'n Node,
    pairs: Vec<(&'n str, &'n Node, &'n Node)>,
    /// Keys already reported as unknown, with the "did you mean" given for each.
    unknown: Vec<(&'n str, Option<String>)>,
    what: String,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.pairs.iter().find(|(k, _, v)| *k == key && !v.is_null()).map(|(_, _, v)| *v)
    }
    /// The key node itself (for pointing at a key rather than its value).
    pub fn key_node(&self, key: &str) -> Option<&'n Node> {
        self.pairs.iter().find(|(k, _, _)| *k == key).map(|(_, k, _)| *k)
    }
    /// A required key. Reports it empty (`key:` with no value) at the key, or
    /// missing, unless an unknown key of this mapping was reported as its typo.
    pub fn req(&self, cx: &mut Cx<'_>, key: &str) -> Option<&'n Node> {
        let v = self.get(key);
        if v.is_some() {
            return v;
        }
        if let Some(k) = self.key_node(key) {
            cx.error(k, format!("`{key}` is empty")).label("no value").help(format!("write a value after `{key}:`"));
            return None;
        }
        let typo = format!("did you mean `{key}`?");
        if self.unknown.iter().any(|(_, hint)| hint.as_deref() == Some(typo.as_str())) {
            return None;
        }
        cx.push(
            Diagnostic::error(format!("{} is missing the required key `{key}`", self.what))
                .at(self.node.file, first_line(cx.sources, self.node))
                .label(format!("`{key}` missing here")),
        );
        None
    }
    /// Whether this mapping had keys that were reported as unknown.
    pub fn has_unknown(&self) -> bool {
        !self.unknown.is_empty()
    }
    /// Key/value pairs in file order, for mappings whose keys are names (pages, weights...).
    pub fn entries(&self) -> impl Iterator<Item = (&'n str, &'n Node, &'n Node)> + '_ {
        self.pairs.iter().copied()
    }
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// The span of the first line of a node, for "missing key" errors on large mappings.
fn first_line(sources: &Sources, node: &Node) -> std::ops::Range<usize> {
    let text = &sources.get(node.file).text;
    let start = node.span.start.min(text.len());
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i).min(node.span.end.max(start + 1));
    start..end.max(start)
}

impl<'s> Cx<'s> {
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn error(&mut self, node: &Node, message: impl Into<String>) -> Diag<'_, 's> {
        let d = Diagnostic::error(message).at(node.file, node.span.clone());
        Diag { cx: self, d: Some(d) }
    }

    pub fn warning(&mut self, node: &Node, message: impl Into<String>) -> Diag<'_, 's> {
        let d = Diagnostic::warning(message).at(node.file, node.span.clone());
        Diag { cx: self, d: Some(d) }
    }

    pub fn location(node: &Node) -> Location {
        Location { file: node.file, span: node.span.clone() }
    }

    /// Reads a mapping, reporting keys it may not have (with a "did you mean")
    /// and duplicate keys.
    pub fn fields<'n>(&mut self, node: &'n Node, what: &str, known: &[&str]) -> Option<Fields<'n>> {
        let NodeKind::Map(pairs) = &node.kind else {
            self.error(node, format!("{what} must be a mapping (`key: value` lines), found {}", node.describe()));
            return None;
        };
        let mut out: Vec<(&str, &Node, &Node)> = Vec::with_capacity(pairs.len());
        let mut unknown = Vec::new();
        for (k, v) in pairs {
            let Some(key) = k.as_scalar() else {
                self.error(k, format!("keys of {what} must be plain names"));
                continue;
            };
            if !known.is_empty() && !known.contains(&key) {
                let hint = did_you_mean(key, known.iter().copied());
                let help = hint.clone().unwrap_or_else(|| format!("the keys of {what} are: {}", known.join(", ")));
                self.error(k, format!("unknown key `{key}` in {what}")).help(help).label("unknown key");
                unknown.push((key, hint));
                continue;
            }
            if let Some((_, first, _)) = out.iter().find(|(name, _, _)| *name == key) {
                let (line, _) = self.sources.line_col(first.file, first.span.start);
                self.error(k, format!("duplicate key `{key}` in {what}")).help(format!("first given on line {line}"));
                continue;
            }
            out.push((key, k, v));
        }
        Some(Fields { node, pairs: out, unknown, what: what.to_string() })
    }

    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Seq(items) => Some(items),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.error(node, format!("{what} must be a list, found {}", node.describe()))
                    .help("write it as `- item` lines or `[a, b]`");
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_scalar() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(node, format!("{what} must be a single value, found {}", node.describe()));
                None
            }
        }
    }

    /// An identifier: letters, digits, `_`, `-` and `.`.
    pub fn id(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            self.error(node, format!("`{s}` is not a valid {what}"))
                .help("use letters, digits, `_`, `-` and `.` only, e.g. `cart_visitor`");
            return None;
        }
        Some(s)
    }

    /// An event name: letters, digits and `_` (SPEC §4).
    pub fn event_name(&mut self, node: &Node) -> Option<String> {
        let s = self.string(node, "an event name")?;
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.error(node, format!("`{s}` is not a valid event name")).help("use letters, digits and `_` only");
            return None;
        }
        Some(s)
    }

    /// YAML 1.2 booleans only: `yes`/`on` are not silently true.
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.as_scalar() {
            Some("true") if plain(node) => Some(true),
            Some("false") if plain(node) => Some(false),
            Some(s @ ("true" | "false")) => {
                self.quoted(node, what, "true or false", s);
                None
            }
            Some(s) => {
                let help = match s.to_ascii_lowercase().as_str() {
                    "yes" | "on" | "y" | "true" => "write `true`",
                    "no" | "off" | "n" | "false" => "write `false`",
                    _ => "write `true` or `false`",
                };
                self.error(node, format!("{what} must be true or false, found `{s}`")).help(help);
                None
            }
            None => {
                self.error(node, format!("{what} must be true or false, found {}", node.describe()));
                None
            }
        }
    }

    pub fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        let s = self.string(node, what)?;
        match s.parse::<f64>() {
            Ok(n) if n.is_finite() && plain(node) => Some(n),
            Ok(n) if n.is_finite() => {
                self.quoted(node, what, "a number", &s);
                None
            }
            _ => {
                self.error(node, format!("{what} must be a number, found `{s}`"));
                None
            }
        }
    }

    /// A number within `[lo, hi]`.
    pub fn number_in(&mut self, node: &Node, what: &str, lo: f64, hi: f64) -> Option<f64> {
        let n = self.number(node, what)?;
        if n < lo || n > hi {
            self.error(node, format!("{what} must be between {lo} and {hi}, found {n}"));
            return None;
        }
        Some(n)
    }

    pub fn uint(&mut self, node: &Node, what: &str) -> Option<u64> {
        let s = self.string(node, what)?;
        let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match s.parse::<u64>() {
            Ok(n) if plain(node) => Some(n),
            Ok(_) => {
                self.quoted(node, what, "a whole number", &s);
                None
            }
            Err(_) if digits && plain(node) => {
                self.error(node, format!("{what} is too large: {s}")).help(format!("the largest is {}", u64::MAX));
                None
            }
            Err(_) => {
                self.error(node, format!("{what} must be a whole number of at least 0, found `{s}`"));
                None
            }
        }
    }

    /// A value of the right form, but quoted, so YAML reads it as text.
    fn quoted(&mut self, node: &Node, what: &str, expected: &str, s: &str) {
        let raw = self.sources.get(node.file).text.get(node.span.clone()).filter(|r| !r.contains('\n'));
        let shown = raw.map_or_else(|| format!("\"{s}\""), str::to_string);
        self.error(node, format!("{what} must be {expected}, found the quoted text `{shown}`"))
            .help(format!("remove the quotes (quoted values are text): write `{s}`"));
    }

    pub fn u32(&mut self, node: &Node, what: &str) -> Option<u32> {
        let n = self.uint(node, what)?;
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(node, format!("{what} is too large: {n}"));
                None
            }
        }
    }

    pub fn duration(&mut self, node: &Node, what: &str) -> Option<Millis> {
        let s = self.string(node, what)?;
        if s == "0" {
            return Some(Millis(0));
        }
        match parse_duration_ms(&s) {
            Some(ms) => Some(Millis(ms)),
            None if s.strip_prefix('-').is_some_and(|rest| rest == "0" || parse_duration_ms(rest).is_some()) => {
                self.error(node, format!("{what} cannot be `{s}`: durations cannot be negative"))
                    .help(format!("write a duration of 0 or more, e.g. `{}`", &s[1..]));
                None
            }
            None => {
                let help = if s.parse::<f64>().is_ok() {
                    format!("add a unit, e.g. `{s}s` or `{s}m`")
                } else {
                    "write a duration such as `500ms`, `30s`, `5m`, `2h`, `1d` or `1h30m`".to_string()
                };
                self.error(node, format!("{what} must be a duration, found `{s}`")).help(help);
                None
            }
        }
    }

    pub fn timestamp(&mut self, node: &Node, what: &str) -> Option<Timestamp> {
        let s = self.string(node, what)?;
        match s.parse::<Timestamp>() {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(node, format!("{what} must be an RFC 3339 time, found `{s}`"))
                    .help(format!("e.g. `2026-11-27T08:00:00Z` ({e})"));
                None
            }
        }
    }

    /// Reports the errors of a condition at their exact characters in the file.
    pub fn dsl_errors(&mut self, node: &Node, errors: Vec<DslError>) {
        let text = &self.sources.get(node.file).text;
        let map = value_offset_map(text, node);
        for e in errors {
            let span = file_span(text, node, &map, e.span.start..e.span.end);
            let d = Diagnostic::error(e.message).at(node.file, span).help_opt(e.help);
            self.push(d);
        }
    }

    /// An error at part of a scalar's value (`range`: byte offsets in the value),
    /// located at the characters that wrote it, through quotes and escapes.
    pub fn error_in(&mut self, node: &Node, range: Range<usize>, message: impl Into<String>) -> Diag<'_, 's> {
        let text = &self.sources.get(node.file).text;
        let span = file_span(text, node, &value_offset_map(text, node), range);
        let d = Diagnostic::error(message).at(node.file, span);
        Diag { cx: self, d: Some(d) }
    }
}

/// The file span of `range`, byte offsets in the value of `node` (`map`: see
/// [`value_offset_map`]).
fn file_span(text: &str, node: &Node, map: &[usize], range: Range<usize>) -> Range<usize> {
    let at = |i: usize| map.get(i).copied().unwrap_or(node.span.end);
    let start = at(range.start);
    let end = if range.end > range.start {
        // One past the last character of the range, in the file.
        let last = at(range.end - 1);
        last + text[last..].chars().next().map_or(1, char::len_utf8)
    } else {
        start
    };
    start..end.max(start)
}

fn plain(node: &Node) -> bool {
    matches!(node.kind, NodeKind::Scalar { style: Style::Plain, .. })
}

/// A diagnostic being built; pushed when dropped.
pub struct Diag<'c, 's> {
    cx: &'c mut Cx<'s>,
    d: Option<Diagnostic>,
}

impl Diag<'_, '_> {
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.d = self.d.take().map(|d| d.help(help));
        self
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.d = self.d.take().map(|d| d.label(label));
        self
    }
}

impl Drop for Diag<'_, '_> {
    fn drop(&mut self) {
        if let Some(d) = self.d.take() {
            self.cx.diags.push(d);
        }
    }
}
