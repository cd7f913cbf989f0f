//! Located diagnostics: the source files a run read, the problems found in them
//! (errors and warnings with byte spans), and one renderer (miette) that prints
//! `file:line:col` and a caret under the offending text.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, ThemeCharacters, ThemeStyles};

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it (or as an include resolved it).
    pub name: String,
    pub text: String,
}

/// Every file read while loading, so that diagnostics can quote them.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file. A leading byte order mark is dropped, so that it counts as no
    /// column and every span (all taken from the stored text) stays consistent.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let mut text = text.into();
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        self.files.push(SourceFile { name: name.into(), text });
        FileId(self.files.len() as u32 - 1)
    }
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }
    pub fn find(&self, name: &Path) -> Option<FileId> {
        self.files.iter().position(|f| Path::new(&f.name) == name).map(|i| FileId(i as u32))
    }
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        text_line_col(&self.get(id).text, offset)
    }
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn text_line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// Where a diagnostic points: a byte range of a file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: FileId,
    pub span: Range<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// `None` for problems that belong to no file (e.g. a file that cannot be read).
    pub location: Option<Location>,
    /// Text shown at the caret.
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, message: message.into(), location: None, label: None, help: None }
    }
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Self::error(message) }
    }
    pub fn at(mut self, file: FileId, span: Range<usize>) -> Self {
        self.location = Some(Location { file, span });
        self
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// The diagnostics of one load, in the order they were found.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn error_count(&self) -> usize {
        self.list.iter().filter(|d| d.severity == Severity::Error).count()
    }
    pub fn warning_count(&self) -> usize {
        self.list.iter().filter(|d| d.severity == Severity::Warning).count()
    }
    /// Sorts by file and position, so that output follows the file top to bottom,
    /// and drops repeats (same severity, message and place): a node reached
    /// twice, e.g. through a YAML alias, is reported once.
    pub fn sort(&mut self) {
        self.list.sort_by_key(|d| {
            let loc = d.location.as_ref().map(|l| (l.file, l.span.start, l.span.end));
            (loc.is_some(), loc)
        });
        let mut seen = HashSet::new();
        self.list.retain(|d| seen.insert((d.severity, d.message.clone(), d.location.clone())));
    }
}

/// Renders one diagnostic, rustc-style: a header, `file:line:col`, the source
/// line and a caret under the span. Plain ASCII without colour, so that logs,
/// CI and snapshot tests see exactly what a terminal shows.
///
/// The header and the `-->` line are ours; miette draws only the snippet (its
/// frame without a location, which would count bytes) and the help.
pub fn render(sources: &Sources, d: &Diagnostic) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme {
        characters: ThemeCharacters::ascii(),
        styles: ThemeStyles::none(),
    })
    .with_width(100)
    .with_links(false)
    .without_primary_span_start();
    let report = Rendered { sources, d };
    let mut out = String::new();
    let prefix = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    out.push_str(&format!("{prefix}: {}\n", d.message));
    let snippet = match &d.location {
        Some(loc) => {
            let (line, col) = sources.line_col(loc.file, loc.span.start);
            out.push_str(&format!("  --> {}:{line}:{col}\n", sources.get(loc.file).name));
            // An empty file has no line to quote.
            !sources.get(loc.file).text.is_empty()
        }
        None => false,
    };
    let mut body = String::new();
    if snippet && handler.render_report(&mut body, &report).is_ok() {
        // miette's own header line holds the (empty) message: drop it.
        out.push_str(body.split_once('\n').map_or("", |(_, rest)| rest));
    } else if let Some(h) = &d.help {
        out.push_str(&format!("  help: {h}\n"));
    }
    out
}

struct Rendered<'a> {
    sources: &'a Sources,
    d: &'a Diagnostic,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}
/// Empty: `render` prints the message itself, so that miette's header is one
/// line that never wraps, whatever the message.
impl fmt::Display for Rendered<'_> {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}
impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.d.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        let loc = self.d.location.as_ref()?;
        Some(&self.sources.get(loc.file).text as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let loc = self.d.location.as_ref()?;
        let len = loc.span.end.saturating_sub(loc.span.start);
        let label = LabeledSpan::new(self.d.label.clone(), loc.span.start, len);
        Some(Box::new(std::iter::once(label)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(text: &str) -> (Sources, FileId) {
        let mut s = Sources::default();
        let id = s.add("f.yaml", text);
        (s, id)
    }

    #[test]
    fn long_messages_are_printed_once_on_one_line() {
        let (s, id) = sources("key: value\n");
        let message = "word ".repeat(60);
        let out = render(&s, &Diagnostic::error(message.trim()).at(id, 5..10).help("h"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], format!("error: {}", message.trim()));
        assert_eq!(lines[1], "  --> f.yaml:1:6");
        assert_eq!(lines[2], "   ,----", "{out}");
        assert_eq!(out.matches("word").count(), 60, "{out}");
        assert!(out.contains(" 1 | key: value\n   :      ^^^^^\n"), "{out}");
        assert!(out.ends_with("  help: h\n"), "{out}");
    }

    #[test]
    fn columns_count_characters_and_ignore_a_bom() {
        let (s, id) = sources("\u{feff}é: x\n");
        assert_eq!(s.get(id).text, "é: x\n");
        assert_eq!(s.line_col(id, 4), (1, 4));
        let out = render(&s, &Diagnostic::error("m").at(id, 4..5));
        assert!(out.contains("--> f.yaml:1:4\n   ,----\n"), "{out}");
    }

    #[test]
    fn an_empty_file_has_no_snippet() {
        let (s, id) = sources("");
        let out = render(&s, &Diagnostic::error("the file is empty").at(id, 0..0).help("h"));
        assert_eq!(out, "error: the file is empty\n  --> f.yaml:1:1\n  help: h\n");
    }

    #[test]
    fn repeats_are_dropped() {
        let (_, id) = sources("a: b\n");
        let mut d = Diagnostics::default();
        d.push(Diagnostic::error("x").at(id, 3..4));
        d.push(Diagnostic::error("y").at(id, 0..1));
        d.push(Diagnostic::error("x").at(id, 3..4));
        d.push(Diagnostic::warning("x").at(id, 3..4));
        d.sort();
        let got: Vec<(&str, usize)> =
            d.list.iter().map(|d| (d.message.as_str(), d.location.as_ref().unwrap().span.start)).collect();
        assert_eq!(got, [("y", 0), ("x", 3), ("x", 3)]);
        assert_eq!((d.error_count(), d.warning_count()), (2, 1));
    }
}
