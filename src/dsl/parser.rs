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

/// How many operators and nested expressions (parentheses, function
/// arguments) one condition may hold. The tree is built, compiled and
/// evaluated recursively, and a run of 20,000 `not`s or `and`s overflowed
/// the stack; 500 still overflowed a 2 MiB thread's stack in a debug build.
/// 200 is far beyond a condition anyone can read (long alternatives are
/// lists: `in [...]`, `contains any [...]`).
pub const MAX_OPERATORS: usize = 200;

/// Parses one condition. Syntax errors carry the span of the offending text.
pub fn parse(src: &str) -> Result<Expr, DslError> {
    let mut pairs = ConditionParser::parse(Rule::condition, src).map_err(|e| syntax_error(src, e))?;
    check_size(pairs.clone())?;
    let condition = pairs.next().expect("the condition rule always yields one pair");
    let expr = condition.into_inner().next().expect("condition = SOI ~ expr ~ EOI");
    build_expr(expr.into_inner())
}

/// Rejects a condition of more than [`MAX_OPERATORS`] operators and nested
/// expressions, at the one that crosses the limit, before anything recursive
/// walks it (`flatten` walks the parse tree without recursion). In the flat
/// grammar an `expr`'s children are its operators and its operands
/// (`postfix_expr`), so operators need no list of their own.
fn check_size(pairs: Pairs<'_, Rule>) -> Result<(), DslError> {
    let mut count = 0;
    let exprs = pairs.flatten().filter(|p| p.as_rule() == Rule::expr);
    for (k, expr) in exprs.enumerate() {
        // The first in pre-order is the condition itself; the others nest in it.
        let nested = (k > 0).then(|| expr.clone());
        let operators = expr.into_inner().filter(|p| p.as_rule() != Rule::postfix_expr);
        for pair in nested.into_iter().chain(operators) {
            count += 1;
            if count > MAX_OPERATORS {
                let at = pair.as_span();
                let end = at.start() + token_len(&at.as_str()[..at.as_str().len().min(40)]).max(1);
                return Err(DslError::syntax(
                    Span::new(at.start(), end.min(at.end()).max(at.start() + 1)),
                    format!("this condition has more than {MAX_OPERATORS} operators and nested expressions"),
                )
                .with_help("split it: name parts as segments and test them with `segment(\"id\")`, or list alternatives with `in [...]` or `contains any [...]`"));
            }
        }
    }
    Ok(())
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
        expr = Expr::new(ExprKind::Member { target: Box::new(expr), name: name.as_str().to_string(), name_span }, span);
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
                .parse::<f64>()
                .ok()
                // `1e999` parses as infinity, which no condition can mean nor print back.
                .filter(|n| n.is_finite())
                .ok_or_else(|| DslError::syntax(span, format!("`{}` is too large for a number", pair.as_str())))?,
        ),
        Rule::duration => ExprKind::Duration(
            parse_duration_ms(pair.as_str())
                .ok_or_else(|| DslError::syntax(span, format!("`{}` is too long for a duration", pair.as_str())))?,
        ),
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
///
/// pest reports where parsing stopped and which rules it tried there; that is
/// turned into "expected ..., found ...". Before that, a few mistakes that pest
/// can only describe poorly get their own message: strings that are not closed or
/// hold a bad escape, unbalanced brackets, `5x` durations, and operators borrowed
/// from other languages (`=`, `&&`, `||`, `!`, single quotes).
fn syntax_error(src: &str, err: pest::error::Error<Rule>) -> DslError {
    use pest::error::{ErrorVariant, InputLocation};
    let start = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let positives = match err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        ErrorVariant::CustomError { message } => {
            let end = start + token_len(&src[start..]);
            if message == "stack limit reached" {
                // pest's guard against deep recursion: parentheses in the thousands.
                return DslError::syntax(
                    Span::new(start, end.max(start + 1).min(src.len())),
                    "this condition nests too deeply",
                )
                .with_help(format!(
                    "at most {MAX_OPERATORS} operators and nested expressions: split it into segments"
                ));
            }
            return DslError::syntax(Span::new(start, end), message);
        }
    };
    let rest = &src[start..];
    let at_end = rest.trim().is_empty();
    let wants_operand = positives.iter().any(|r| matches!(r, Rule::expr | Rule::postfix_expr));
    let wants_operator = positives.iter().any(|r| matches!(r, Rule::eq | Rule::kw_and | Rule::kw_or));

    if rest.starts_with('"') {
        if let Some(e) = string_error(src, start) {
            return e;
        }
    }
    if let Some(e) = bracket_error(src, start, at_end && !wants_operand) {
        return e;
    }

    let found_end = start + token_len(rest);
    let found = if at_end { "the end of the condition".to_string() } else { format!("`{}`", &src[start..found_end]) };
    let span = Span::new(start, if at_end { start } else { found_end });

    if wants_operand && rest.starts_with(|c: char| c.is_ascii_digit()) {
        return DslError::syntax(span, format!("`{}` is not a number or a duration", &src[start..found_end]))
            .with_help("a duration is a number with a unit `ms`, `s`, `m`, `h` or `d`, e.g. `30s` or `1h30m`");
    }

    let mut expected = describe_expected(&positives, wants_operand);
    if wants_operator {
        // pest does not list the punctuation that may close a bracket: add it.
        match innermost_open(src, start) {
            Some((i, '[')) if i < start => expected = format!("{expected}, `,` or `]`"),
            Some((i, '(')) if i < start => {
                let call = src[..i].trim_end().ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                expected = if call { format!("{expected}, `,` or `)`") } else { format!("{expected} or `)`") };
            }
            _ => {}
        }
    }
    let mut error = DslError::syntax(span, format!("expected {expected}, found {found}"));
    if let Some(h) = hint(src, start, found_end, wants_operand, wants_operator) {
        error = error.with_help(h);
    }
    error
}

/// A hint for the common ways of writing a condition in another language's style.
fn hint(src: &str, start: usize, found_end: usize, wants_operand: bool, wants_operator: bool) -> Option<String> {
    let rest = &src[start..];
    let word = &src[start..found_end];
    let is_word = word.starts_with(|c: char| c.is_alphabetic() || c == '_');
    let before = src[..start].trim_end();
    const OPERATORS: &[&str] = &["and", "or", "contains", "starts_with", "ends_with", "matches", "in"];
    if rest.starts_with('\'') {
        return Some("write text in double quotes, e.g. \"US\"".into());
    }
    for (from, to) in [("&&", "and"), ("||", "or"), ("<>", "!="), ("=~", "matches"), ("~=", "matches")] {
        if rest.starts_with(from) {
            return Some(format!("write `{to}`"));
        }
    }
    if wants_operator && rest.starts_with('=') && !rest.starts_with("==") {
        return Some("use `==` to compare".into());
    }
    if wants_operand && rest.starts_with('!') && !rest.starts_with("!=") {
        return Some("write `not`".into());
    }
    if wants_operand && rest[found_end - start..].starts_with('.') && is_keyword(word) {
        return Some(format!("`{word}` is a keyword: a field name cannot start with it"));
    }
    if wants_operand && rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Some(format!("write a leading zero: `0{}`", &src[start..start + 1 + token_len(&rest[1..])]));
    }
    if wants_operand && rest.starts_with('/') && before.ends_with("matches") {
        return Some("write the pattern as a string, e.g. `matches \"^/cart\"`".into());
    }
    if wants_operator
        && rest.starts_with('(')
        && before.len() == start
        && before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    {
        return Some(
            "only these take arguments in `(...)`: segment, outcome, exists, lower, count, visitor.count".into(),
        );
    }
    let unit_end = before.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if wants_operator
        && rest.starts_with(|c: char| c.is_ascii_digit())
        && unit_end.len() < before.len()
        && unit_end.ends_with(|c: char| c.is_ascii_digit())
    {
        return Some("write a duration without spaces, e.g. `1h30m`".into());
    }
    if wants_operator && is_word {
        if ["ms", "s", "m", "h", "d"].contains(&word) && before.ends_with(|c: char| c.is_ascii_digit()) {
            return Some("write a duration without a space, e.g. `30s`".into());
        }
        let lower = word.to_lowercase();
        if lower != word && (OPERATORS.contains(&lower.as_str()) || lower == "not") {
            return Some(format!("keywords are lower case: `{lower}`"));
        }
        if let Some(op) = lower.strip_prefix("not_").filter(|op| OPERATORS[2..].contains(op)) {
            return Some(format!("write `not {op}`"));
        }
        if ["is", "eq", "equals"].contains(&lower.as_str()) {
            return Some("use `==` to compare".into());
        }
        if let Some(h) = super::error::did_you_mean(&lower, OPERATORS.iter().copied()) {
            return Some(h);
        }
    }
    None
}

/// The innermost bracket still open at `pos`, outside strings.
fn innermost_open(src: &str, pos: usize) -> Option<(usize, char)> {
    let mut stack = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in src[..pos].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' => stack.push((i, c)),
            ')' | ']' => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.pop()
}

const KEYWORDS: &[&str] = &[
    "or",
    "and",
    "not",
    "contains",
    "any",
    "all",
    "starts_with",
    "ends_with",
    "matches",
    "in",
    "where",
    "true",
    "false",
];

fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// The length in bytes of the token that starts `rest`, to underline it.
fn token_len(rest: &str) -> usize {
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return 0;
    };
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let end = match first {
        '"' | '\'' => {
            // Up to the closing quote, or the end of the line.
            let mut escaped = false;
            chars
                .find(|&(_, c)| {
                    let stop = c == '\n' || (c == first && !escaped);
                    escaped = c == '\\' && !escaped;
                    stop
                })
                .map_or(rest.len(), |(i, c)| if c == '\n' { i } else { i + c.len_utf8() })
        }
        '=' | '<' | '>' | '!' | '&' | '|' | '~' => {
            chars.find(|&(_, c)| !"=<>!&|~".contains(c)).map_or(rest.len(), |(i, _)| i)
        }
        c if word(c) => chars.find(|&(_, c)| !word(c)).map_or(rest.len(), |(i, _)| i),
        c => c.len_utf8(),
    };
    end.max(first.len_utf8())
}

/// Checks the string literal that starts at `start` (a `"`): an escape JSON does
/// not know, a line break or control character inside, or no closing quote.
fn string_error(src: &str, start: usize) -> Option<DslError> {
    let body = &src[start + 1..];
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = start + 1 + i;
        match c {
            '"' => return None,
            '\\' => {
                let Some(&(_, e)) = chars.peek() else { break };
                chars.next();
                match e {
                    '"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' => {}
                    'u' => {
                        let hex: String = body[i + 2..].chars().take(4).take_while(char::is_ascii_hexdigit).collect();
                        if hex.len() < 4 {
                            let end = at + 2 + hex.len();
                            return Some(
                                DslError::syntax(
                                    Span::new(at, end),
                                    format!("invalid escape `{}` in a string", &src[at..end]),
                                )
                                .with_help("`\\u` takes four hex digits, e.g. `\\u00e9`"),
                            );
                        }
                    }
                    other => {
                        let end = at + 1 + other.len_utf8();
                        return Some(
                            DslError::syntax(Span::new(at, end), format!("invalid escape `{}` in a string", &src[at..end]))
                                .with_help("the escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; write a backslash as \\\\"),
                        );
                    }
                }
            }
            '\n' | '\r' => {
                return Some(
                    DslError::syntax(Span::new(start, at), "unterminated string: a string cannot span lines")
                        .with_help("close it with `\"`, or write a line break as \\n"),
                );
            }
            c if c.is_control() && (c as u32) < 0x20 => {
                return Some(
                    DslError::syntax(Span::new(at, at + 1), "a control character cannot appear in a string")
                        .with_help("write it as an escape, e.g. \\t for a tab"),
                );
            }
            _ => {}
        }
    }
    Some(DslError::syntax(Span::new(start, src.len()), "unterminated string").with_help("add the closing `\"`"))
}

/// An unmatched closing bracket at `start`, or (when `at_end`, i.e. the parser
/// wanted an operator at the end of the text) an opening bracket never closed.
fn bracket_error(src: &str, start: usize, at_end: bool) -> Option<DslError> {
    let mut stack: Vec<(usize, char)> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in src.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' => stack.push((i, c)),
            ')' | ']' => {
                let open = if c == ')' { '(' } else { '[' };
                match stack.last() {
                    Some(&(_, o)) if o == open => {
                        stack.pop();
                    }
                    _ if i == start => {
                        return Some(
                            DslError::syntax(Span::new(i, i + 1), format!("unmatched `{c}`"))
                                .with_help(format!("remove it, or add the `{open}` it closes")),
                        );
                    }
                    _ => return None,
                }
            }
            _ => {}
        }
    }
    if !at_end || in_string {
        return None;
    }
    let &(i, c) = stack.last()?;
    let close = if c == '(' { ')' } else { ']' };
    Some(
        DslError::syntax(Span::new(i, i + 1), format!("unclosed `{c}`"))
            .with_help(format!("add the `{close}` that closes it")),
    )
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// "a value", "an operator or the end of the condition", "`contains`, `in` ...".
fn describe_expected(positives: &[Rule], wants_operand: bool) -> String {
    const STR_OPS: &[Rule] =
        &[Rule::kw_contains, Rule::kw_starts_with, Rule::kw_ends_with, Rule::kw_matches, Rule::kw_in];
    let has = |r: Rule| positives.contains(&r);
    let logic = has(Rule::kw_and) || has(Rule::kw_or);
    let compare = [Rule::eq, Rule::ne, Rule::lt, Rule::le, Rule::gt, Rule::ge].iter().any(|r| has(*r));
    let arith = [Rule::add, Rule::sub, Rule::mul, Rule::div].iter().any(|r| has(*r));
    let str_ops = STR_OPS.iter().any(|r| has(*r));
    let operators = [logic, compare, arith, str_ops].iter().filter(|b| **b).count();

    let mut items: Vec<String> = Vec::new();
    if wants_operand {
        items.push("a value".into());
    }
    if operators >= 3 {
        items.push("an operator".into());
    } else if str_ops && operators == 1 && !wants_operand {
        // After `not`: only the string operators can follow.
        let words: Vec<String> = STR_OPS.iter().filter(|r| has(**r)).map(|r| format!("`{}`", describe(*r))).collect();
        items.push(join_or(&words.iter().map(String::as_str).collect::<Vec<_>>()));
    } else {
        for (present, text) in [
            (logic, "`and`/`or`"),
            (compare, "a comparison"),
            (arith, "an arithmetic operator"),
            (str_ops, "a string operator"),
        ] {
            if present {
                items.push(text.into());
            }
        }
    }
    for r in positives {
        let text = match r {
            Rule::kw_any => "`any`",
            Rule::kw_all => "`all`",
            Rule::kw_where => "`where`",
            Rule::ident => "a name",
            Rule::count_event => "an event name or `*`",
            Rule::member if operators == 0 && !wants_operand => "`.` and a property name",
            Rule::EOI => continue,
            _ => continue,
        };
        if !items.iter().any(|i| i == text) {
            items.push(text.into());
        }
    }
    if has(Rule::EOI) {
        items.push("the end of the condition".into());
    }
    if items.is_empty() {
        items.push("something else".into());
    }
    join_or(&items.iter().map(String::as_str).collect::<Vec<_>>())
}

fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::kw_contains => "contains",
        Rule::kw_starts_with => "starts_with",
        Rule::kw_ends_with => "ends_with",
        Rule::kw_matches => "matches",
        Rule::kw_in => "in",
        _ => "?",
    }
}
