//! Snapshot tests of the condition language, in the style of Tera 2: one
//! condition per input file under `tests/dsl/ok/` (must compile) and
//! `tests/dsl/err/` (must fail), one snapshot per file.
//!
//! `ok/` snapshots show the canonical printed AST, the compiled typed nodes, the
//! `count(...)` patterns and the dependencies; `err/` snapshots show every error
//! of the condition rendered the way rustc does, with a caret line under the span.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use pesim::dsl::{Compiler, DslError, DslErrorKind, Names, Span, parse};

fn compiler() -> Compiler {
    Compiler::new(Names {
        segments: vec!["cart_visitor".into(), "vip".into(), "returning".into()],
        outcomes: vec!["purchase".into(), "signup".into()],
    })
}

/// The condition of an input file: its content without the trailing newline.
fn read_condition(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(&text).to_string()
}

/// The text a span covers, for showing dependency locations.
fn slice(src: &str, span: Span) -> &str {
    src.get(span.start..span.end).unwrap_or("<span out of range>")
}

fn render_ok(src: &str) -> String {
    let expr = parse(src).unwrap_or_else(|e| panic!("{src}\ndoes not parse:\n{}", render_errors(src, &[e])));
    let printed = expr.to_string();
    // The canonical form must read back as the same tree.
    let again = parse(&printed).unwrap_or_else(|e| panic!("printed form {printed} does not parse: {e:?}"));
    assert_eq!(again.without_spans(), expr.without_spans(), "printed form {printed} reads back differently");

    let mut c = compiler();
    let compiled =
        c.compile_bool(src).unwrap_or_else(|errs| panic!("{src}\ndoes not compile:\n{}", render_errors(src, &errs)));

    let mut out = String::new();
    writeln!(out, "condition: {src}").unwrap();
    writeln!(out, "printed:   {printed}").unwrap();
    writeln!(out, "\ncompiled:\n{:#?}", compiled.node).unwrap();

    writeln!(out, "\ncounts:").unwrap();
    if c.counts.is_empty() {
        writeln!(out, "  (none)").unwrap();
    }
    for (i, p) in c.counts.iter().enumerate() {
        let event = p.event.map_or("*", |s| c.interner.name(s));
        writeln!(out, "  #{i} {:?} event={event} text={}", p.scope, p.text).unwrap();
    }

    writeln!(out, "\nsymbols:").unwrap();
    if c.interner.is_empty() {
        writeln!(out, "  (none)").unwrap();
    }
    for i in 0..c.interner.len() {
        let sym = pesim::dsl::Sym(i as u32);
        writeln!(out, "  {i} = {}", c.interner.name(sym)).unwrap();
    }

    let d = &compiled.deps;
    writeln!(out, "\ndeps:").unwrap();
    for (id, span) in &d.segments {
        writeln!(out, "  segment  {} at {}", c.names.segments[id.0 as usize], slice(src, *span)).unwrap();
    }
    for (id, span) in &d.outcomes {
        writeln!(out, "  outcome  {} at {}", c.names.outcomes[id.0 as usize], slice(src, *span)).unwrap();
    }
    for (id, span) in &d.scores {
        writeln!(out, "  score    {} at {}", c.names.outcomes[id.0 as usize], slice(src, *span)).unwrap();
    }
    if d.segments.is_empty() && d.outcomes.is_empty() && d.scores.is_empty() {
        writeln!(out, "  (none)").unwrap();
    }
    out
}

fn kind_name(kind: DslErrorKind) -> &'static str {
    match kind {
        DslErrorKind::Syntax => "syntax",
        DslErrorKind::Type => "type",
        DslErrorKind::Unknown => "unknown",
        DslErrorKind::Regex => "regex",
    }
}

/// Renders errors like rustc:
///
/// ```text
/// error[type]: cannot compare text with a number using `==`
///  --> 1:13
///   |
/// 1 | geo.country == 1
///   |             ^^
///   = help: ...
/// ```
///
/// Byte spans become character columns; a span over several lines is underlined
/// to the end of its first line; an empty span gets one caret.
fn render_errors(src: &str, errors: &[DslError]) -> String {
    let mut out = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        writeln!(out, "error[{}]: {}", kind_name(e.kind), e.message).unwrap();
        let Span { start, end } = e.span;
        assert!(
            start <= end && end <= src.len() && src.is_char_boundary(start) && src.is_char_boundary(end),
            "bad span {start}..{end} in {src:?}"
        );
        let line_start = src[..start].rfind('\n').map_or(0, |p| p + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |p| start + p);
        let line_no = src[..line_start].matches('\n').count() + 1;
        let line = &src[line_start..line_end];
        let col = src[line_start..start].chars().count();
        let width = src[start..end.min(line_end)].chars().count().max(1);
        let gutter = " ".repeat(line_no.to_string().len());
        writeln!(out, "{gutter}--> {line_no}:{}", col + 1).unwrap();
        writeln!(out, "{gutter} |").unwrap();
        writeln!(out, "{line_no} | {line}").unwrap();
        writeln!(out, "{gutter} | {}{}", " ".repeat(col), "^".repeat(width)).unwrap();
        if let Some(help) = &e.help {
            writeln!(out, "{gutter} = help: {help}").unwrap();
        }
    }
    out
}

fn render_err(src: &str) -> String {
    let errors = match compiler().compile_bool(src) {
        Ok(c) => panic!("{src}\nshould not compile, got {:#?}", c.node),
        Err(errors) => errors,
    };
    assert!(!errors.is_empty(), "{src}: an error result without errors");
    format!("condition: {src}\n\n{}", render_errors(src, &errors))
}

#[test]
fn dsl_ok() {
    insta::glob!("dsl/ok/*.txt", |path| {
        let src = read_condition(path);
        insta::assert_snapshot!(render_ok(&src));
    });
}

#[test]
fn dsl_err() {
    insta::glob!("dsl/err/*.txt", |path| {
        let src = read_condition(path);
        insta::assert_snapshot!(render_err(&src));
    });
}
