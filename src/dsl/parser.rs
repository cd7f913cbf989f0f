//! Condition text → [`Expr`], with pest and a Pratt parser for precedence.

use std::sync::LazyLock;

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::{BinOp, CountScope, Expr, ExprKind, Span, StrOp, UnaryOp};
use super::error::DslError;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/condition.pest"]
struct ConditionParser;

/// Loosest first, as SPEC §3 lists them: `or`; `and`; `not`; comparisons; `+ -`; `* /`.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or, Assoc::Left))
        .op(Op::infix(Rule::and, Assoc::Left))
        .op(Op::prefix(Rule::not_op))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left)
            | Op::infix(Rule::contains, Assoc::Left)
            | Op::infix(Rule::contains_any, Assoc::Left)
            | Op::infix(Rule::contains_all, Assoc::Left)
            | Op::infix(Rule::starts_with, Assoc::Left)
            | Op::infix(Rule::ends_with, Assoc::Left)
            | Op::infix(Rule::matches, Assoc::Left)
            | Op::infix(Rule::in_op, Assoc::Left)
            | Op::infix(Rule::not_contains, Assoc::Left)
            | Op::infix(Rule::not_contains_any, Assoc::Left)
            | Op::infix(Rule::not_contains_all, Assoc::Left)
            | Op::infix(Rule::not_starts_with, Assoc::Left)
            | Op::infix(Rule::not_ends_with, Assoc::Left)
            | Op::infix(Rule::not_matches, Assoc::Left)
            | Op::infix(Rule::not_in, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg))
});

/// Parses one condition. Syntax errors carry the span of the offending text.
pub fn parse(src: &str) -> Result<Expr, DslError> {
    let mut pairs = ConditionParser::parse(Rule::condition, src).map_err(|e| syntax_error(src, e))?;
    let condition = pairs.next().expect("the condition rule always yields one pair");
    let expr = condition.into_inner().next().expect("condition = SOI ~ expr ~ EOI");
    build_expr(expr.into_inner())
}

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn build_expr(pairs: Pairs<'_, Rule>) -> Result<Expr, DslError> {
    PRATT
        .map_primary(build_postfix)
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let op_kind = match op.as_rule() {
                Rule::not_op => UnaryOp::Not,
                _ => UnaryOp::Neg,
            };
            let span = span_of(&op).to(rhs.span);
            Ok(Expr::new(ExprKind::Unary { op: op_kind, expr: Box::new(rhs) }, span))
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let str_op = |op, negated| BinOp::Str { op, negated };
            let bin = match op.as_rule() {
                Rule::or => BinOp::Or,
                Rule::and => BinOp::And,
                Rule::eq => BinOp::Eq,
                Rule::ne => BinOp::Ne,
                Rule::lt => BinOp::Lt,
                Rule::le => BinOp::Le,
                Rule::gt => BinOp::Gt,
                Rule::ge => BinOp::Ge,
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                Rule::mul => BinOp::Mul,
                Rule::div => BinOp::Div,
                Rule::contains => str_op(StrOp::Contains, false),
                Rule::contains_any => str_op(StrOp::ContainsAny, false),
                Rule::contains_all => str_op(StrOp::ContainsAll, false),
                Rule::starts_with => str_op(StrOp::StartsWith, false),
                Rule::ends_with => str_op(StrOp::EndsWith, false),
                Rule::matches => str_op(StrOp::Matches, false),
                Rule::in_op => str_op(StrOp::In, false),
                Rule::not_contains => str_op(StrOp::Contains, true),
                Rule::not_contains_any => str_op(StrOp::ContainsAny, true),
                Rule::not_contains_all => str_op(StrOp::ContainsAll, true),
                Rule::not_starts_with => str_op(StrOp::StartsWith, true),
                Rule::not_ends_with => str_op(StrOp::EndsWith, true),
                Rule::not_matches => str_op(StrOp::Matches, true),
                Rule::not_in => str_op(StrOp::In, true),
                other => unreachable!("the Pratt table lists every infix rule, got {other:?}"),
            };
            let span = lhs.span.to(rhs.span);
            Ok(Expr::new(
                ExprKind::Binary { op: bin, op_span: span_of(&op), lhs: Box::new(lhs), rhs: Box::new(rhs) },
                span,
            ))
        })
        .parse(pairs)
}

fn build_postfix(pair: Pair<'_, Rule>) -> Result<Expr, DslError> {
    debug_assert_eq!(pair.as_rule(), Rule::postfix_expr);
    let mut inner = pair.into_inner();
    let primary = inner.next().expect("postfix_expr starts with a primary");
    let mut expr = build_primary(primary)?;
    for member in inner {
        let name = member.into_inner().next().expect("member = . ident");
        let name_span = span_of(&name);
        let span = expr.span.to(name_span);
        expr = Expr::new(
            ExprKind::Member { target: Box::new(expr), name: name.as_str().to_string(), name_span },
            span,
        );
    }
    Ok(expr)
}

fn build_args(pairs: Pairs<'_, Rule>) -> Result<Vec<Expr>, DslError> {
    pairs.filter(|p| p.as_rule() == Rule::expr).map(|p| build_expr(p.into_inner())).collect()
}

fn build_primary(pair: Pair<'_, Rule>) -> Result<Expr, DslError> {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::paren => {
            let inner = pair.into_inner().next().expect("paren = ( expr )");
            // Parentheses only group: the node keeps the span of its contents
            // widened to the parentheses so that errors underline all of it.
            let mut e = build_expr(inner.into_inner())?;
            e.span = span;
            return Ok(e);
        }
        Rule::list => ExprKind::List(build_args(pair.into_inner())?),
        Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
        Rule::number => ExprKind::Number(
            pair.as_str()
                .parse()
                .map_err(|_| DslError::syntax(span, format!("`{}` is not a number", pair.as_str())))?,
        ),
        Rule::duration => ExprKind::Duration(parse_duration_ms(pair.as_str()).ok_or_else(|| {
            DslError::syntax(span, format!("`{}` is not a valid duration", pair.as_str()))
        })?),
        Rule::string => {
            let raw = pair.as_str();
            let s: String = serde_json::from_str(raw)
                .map_err(|e| DslError::syntax(span, format!("invalid string literal: {e}")))?;
            ExprKind::Str(s)
        }
        Rule::path => ExprKind::Field(pair.as_str().to_string()),
        Rule::call => {
            let mut inner = pair.into_inner();
            let name = inner.next().expect("call = ident ( args )").as_str().to_string();
            ExprKind::Call { name, args: build_args(inner)? }
        }
        Rule::count => {
            let mut scope = CountScope::Session;
            let mut event = None;
            let mut event_span = span;
            let mut cond = None;
            for p in pair.into_inner() {
                match p.as_rule() {
                    Rule::count_scope => scope = CountScope::Visitor,
                    Rule::count_event => {
                        event_span = span_of(&p);
                        event = (p.as_str() != "*").then(|| p.as_str().to_string());
                    }
                    Rule::expr => cond = Some(Box::new(build_expr(p.into_inner())?)),
                    _ => {}
                }
            }
            ExprKind::Count { scope, event, event_span, cond }
        }
        other => unreachable!("primary has no rule {other:?}"),
    };
    Ok(Expr::new(kind, span))
}

/// Parses `500ms`, `30s`, `5m`, `2h`, `1d` and combinations such as `1h30m`
/// into milliseconds. Shared with the YAML loader so that both read durations alike.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            return None;
        }
        let value: f64 = text[start..i].parse().ok()?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let scale = match &text[unit_start..i] {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return None,
        };
        total += value * scale;
    }
    if !total.is_finite() || total > i64::MAX as f64 / 2.0 {
        return None;
    }
    Some(total.round() as i64)
}

/// Turns pest's error into one located, readable message.
fn syntax_error(src: &str, err: pest::error::Error<Rule>) -> DslError {
    use pest::error::{ErrorVariant, InputLocation};
    let (start, end) = match err.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    // Underline the token that was found, not just an empty point.
    let end = if end > start {
        end
    } else {
        let rest = &src[start..];
        let len = rest
            .char_indices()
            .find(|(i, c)| *i > 0 && !(c.is_alphanumeric() || *c == '_'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        start + len.max(rest.chars().next().map_or(0, char::len_utf8))
    };
    let found = if start >= src.len() {
        "the end of the condition".to_string()
    } else {
        format!("`{}`", &src[start..end])
    };
    let message = match err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut expected: Vec<&'static str> = positives.iter().map(|r| describe(*r)).collect();
            expected.sort_unstable();
            expected.dedup();
            if expected.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", join_or(&expected))
            }
        }
        ErrorVariant::CustomError { message } => message,
    };
    DslError::syntax(Span::new(start, end), message)
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "the end of the condition",
        Rule::expr | Rule::postfix_expr | Rule::paren | Rule::path | Rule::call | Rule::count => "a value",
        Rule::or | Rule::and => "`and`/`or`",
        Rule::eq | Rule::ne | Rule::lt | Rule::le | Rule::gt | Rule::ge => "a comparison",
        Rule::add | Rule::sub | Rule::mul | Rule::div => "an arithmetic operator",
        Rule::contains
        | Rule::contains_any
        | Rule::contains_all
        | Rule::starts_with
        | Rule::ends_with
        | Rule::matches
        | Rule::in_op
        | Rule::not_contains
        | Rule::not_contains_any
        | Rule::not_contains_all
        | Rule::not_starts_with
        | Rule::not_ends_with
        | Rule::not_matches
        | Rule::not_in => "a string operator",
        Rule::not_op | Rule::neg => "`not`",
        Rule::string | Rule::string_inner => "a string",
        Rule::number | Rule::duration => "a number",
        Rule::boolean => "`true`/`false`",
        Rule::list => "a list",
        Rule::count_event => "an event name or `*`",
        Rule::kw_where => "`where`",
        Rule::ident => "a name",
        Rule::member => "`.name`",
        _ => "something else",
    }
}
