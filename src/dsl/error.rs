//! Errors of the condition language, located by a span inside the condition text.

use super::ast::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DslErrorKind {
    /// The text does not follow the grammar.
    Syntax,
    /// Operands of the wrong type for an operator or function.
    Type,
    /// A field, function, segment or outcome that does not exist.
    Unknown,
    /// A `matches` pattern that is not a valid regular expression.
    Regex,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DslError {
    pub kind: DslErrorKind,
    pub span: Span,
    pub message: String,
    /// A hint on how to fix it ("did you mean ...").
    pub help: Option<String>,
}

impl DslError {
    pub fn new(kind: DslErrorKind, span: Span, message: impl Into<String>) -> Self {
        DslError { kind, span, message: message.into(), help: None }
    }
    pub fn syntax(span: Span, message: impl Into<String>) -> Self {
        Self::new(DslErrorKind::Syntax, span, message)
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// "did you mean `x`?" for the closest of `candidates`, if any is close enough.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
