//! Property tests of the condition language:
//!
//! - the parser and the compiler never panic, whatever the text, and their errors
//!   carry spans that lie inside the text on character boundaries;
//! - printing any syntax tree and parsing the text back gives the same tree;
//! - the negated string operators (`not contains`, ...) are comparisons: false when
//!   the left side is missing, else the negation of the plain operator.

use proptest::prelude::*;

use pesim::dsl::ast::{BinOp, CountScope, ExprKind, StrOp, UnaryOp};
use pesim::dsl::fields::{BoolField, DurField, NumField, StrField};
use pesim::dsl::{
    Compiler, Context, CountSlot, DslError, DynValue, Expr, Names, OutcomeId, ScoreMetric, SegmentId, Span, Sym, parse,
};

fn compiler() -> Compiler {
    Compiler::new(Names {
        segments: vec!["cart_visitor".into(), "vip".into(), "returning".into()],
        outcomes: vec!["purchase".into(), "signup".into()],
    })
}

fn check_error_spans(src: &str, errors: &[DslError]) -> Result<(), TestCaseError> {
    for e in errors {
        let Span { start, end } = e.span;
        prop_assert!(start <= end && end <= src.len(), "span {start}..{end} outside {src:?}: {e:?}");
        prop_assert!(
            src.is_char_boundary(start) && src.is_char_boundary(end),
            "span {start}..{end} splits a char in {src:?}"
        );
        prop_assert!(!e.message.is_empty());
    }
    Ok(())
}

/// Parses and compiles `src`; neither may panic, and errors must be well located.
fn parse_and_compile(src: &str) -> Result<(), TestCaseError> {
    if let Err(e) = parse(src) {
        check_error_spans(src, &[e])?;
    }
    match compiler().compile_bool(src) {
        Ok(_) => {}
        Err(errors) => {
            prop_assert!(!errors.is_empty(), "{src:?}: failure without errors");
            check_error_spans(src, &errors)?;
        }
    }
    Ok(())
}

/// Pieces of the language, to build texts that get past the first token.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "and",
            "or",
            "not",
            "(",
            ")",
            "[",
            "]",
            ",",
            "\"x\"",
            "\"/cart\"",
            "\"\\u00e9\"",
            "\"",
            "\\",
            "page.url",
            "geo.country",
            "time_on_page",
            "session.pageviews",
            "attributes.price",
            "traits.email",
            "contains",
            "any",
            "all",
            "in",
            "matches",
            "\"(\"",
            "starts_with",
            "ends_with",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "+",
            "-",
            "*",
            "/",
            "=",
            "!",
            ".",
            "30s",
            "1h30m",
            "500ms",
            "5x",
            "3",
            "12.5",
            "1e999",
            "0",
            "true",
            "false",
            "segment(\"vip\")",
            "segment",
            "outcome(\"purchase\")",
            ".probability",
            ".achieved",
            "count(",
            "count",
            "visitor.count(",
            "*",
            "where",
            "exists(",
            "lower(",
            "é",
            "'",
            "\n",
        ])
        .prop_map(str::to_string),
        "[a-z_.]{1,6}",
        "[0-9]{1,3}(\\.[0-9])?(ms|s|m|h|d)?",
    ]
}

fn token_soup() -> impl Strategy<Value = String> {
    (prop::collection::vec(token(), 0..24), prop::collection::vec(prop::bool::ANY, 24)).prop_map(|(tokens, spaces)| {
        let mut s = String::new();
        for (t, space) in tokens.iter().zip(spaces) {
            s.push_str(t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

// ---------- random syntax trees ----------

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

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,7}",
        // Names that are keywords with a suffix, or close to the built-in ones.
        prop::sample::select(vec![
            "order", "index", "notice", "android", "count", "visitor", "trueish", "e", "ms", "s"
        ])
        .prop_map(str::to_string),
    ]
    .prop_filter("not a keyword", |s| !KEYWORDS.contains(&s.as_str()))
}

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::default())
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..1000).prop_map(f64::from),
        (0u64..u64::MAX).prop_map(|n| n as f64),
        (0.0f64..1.0),
        (0.0f64..1e300),
        (1e-300f64..1e-3),
    ]
}

fn string_lit() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z/\"\\\\ .é\\n\\t]{0,8}"]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        any::<bool>().prop_map(|b| e(ExprKind::Bool(b))),
        number().prop_map(|n| e(ExprKind::Number(n))),
        (1i64..10_000_000_000).prop_map(|ms| e(ExprKind::Duration(ms))),
        string_lit().prop_map(|s| e(ExprKind::Str(s))),
        (ident(), prop::collection::vec(ident(), 0..3)).prop_map(|(first, rest)| {
            let mut path = first;
            for r in rest {
                path.push('.');
                path.push_str(&r);
            }
            e(ExprKind::Field(path))
        }),
        (prop::bool::ANY, prop::option::of(ident())).prop_map(|(visitor, event)| count_expr(visitor, event, None)),
    ]
}

fn count_expr(visitor: bool, event: Option<String>, cond: Option<Expr>) -> Expr {
    e(ExprKind::Count {
        scope: if visitor { CountScope::Visitor } else { CountScope::Session },
        event,
        event_span: Span::default(),
        cond: cond.map(Box::new),
    })
}

fn bin_op() -> impl Strategy<Value = BinOp> {
    let str_ops = [
        StrOp::Contains,
        StrOp::StartsWith,
        StrOp::EndsWith,
        StrOp::Matches,
        StrOp::In,
        StrOp::ContainsAny,
        StrOp::ContainsAll,
    ];
    let mut ops = vec![
        BinOp::Or,
        BinOp::And,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
    ];
    for op in str_ops {
        ops.push(BinOp::Str { op, negated: false });
        ops.push(BinOp::Str { op, negated: true });
    }
    prop::sample::select(ops)
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(string_lit(), 0..4)
                .prop_map(|items| e(ExprKind::List(items.into_iter().map(|s| e(ExprKind::Str(s))).collect()))),
            (
                prop_oneof![ident(), Just("segment".to_string()), Just("outcome".to_string())],
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(name, args)| e(ExprKind::Call { name, args })),
            (inner.clone(), ident()).prop_map(|(target, name)| e(ExprKind::Member {
                target: Box::new(target),
                name,
                name_span: Span::default()
            })),
            (prop::bool::ANY, prop::option::of(ident()), inner.clone()).prop_map(|(visitor, event, cond)| count_expr(
                visitor,
                event,
                Some(cond)
            )),
            (prop::sample::select(vec![UnaryOp::Not, UnaryOp::Neg]), inner.clone())
                .prop_map(|(op, x)| e(ExprKind::Unary { op, expr: Box::new(x) })),
            (bin_op(), inner.clone(), inner).prop_map(|(op, l, r)| e(ExprKind::Binary {
                op,
                op_span: Span::default(),
                lhs: Box::new(l),
                rhs: Box::new(r)
            })),
        ]
    })
}

// ---------- a context for the evaluator property ----------

#[derive(Default)]
struct OneValue {
    url: Option<String>,
    attr: Option<(Sym, DynValue)>,
    tr: Option<(Sym, DynValue)>,
}

impl Context for OneValue {
    fn str_field(&self, f: StrField) -> Option<&str> {
        match f {
            StrField::PageUrl => self.url.as_deref(),
            _ => None,
        }
    }
    fn num_field(&self, _: NumField) -> Option<f64> {
        Some(0.0)
    }
    fn dur_field(&self, _: DurField) -> Option<i64> {
        None
    }
    fn bool_field(&self, _: BoolField) -> Option<bool> {
        None
    }
    fn event_name(&self) -> Sym {
        Sym::UNKNOWN
    }
    fn attribute(&self, name: Sym) -> Option<&DynValue> {
        self.attr.as_ref().filter(|(s, _)| *s == name).map(|(_, v)| v)
    }
    fn trait_value(&self, name: Sym) -> Option<&DynValue> {
        self.tr.as_ref().filter(|(s, _)| *s == name).map(|(_, v)| v)
    }
    fn segment(&self, _: SegmentId) -> bool {
        false
    }
    fn outcome_achieved(&self, _: OutcomeId) -> bool {
        false
    }
    fn outcome_score(&self, _: OutcomeId, _: ScoreMetric) -> Option<f64> {
        None
    }
    fn count(&self, _: CountSlot) -> u32 {
        0
    }
}

/// `FIELD OP RHS` for string operator number `op`, and what the plain operator
/// gives on the present value `v`.
fn str_op_case(op: usize, a: &str, b: &str, v: &str) -> (&'static str, String, bool) {
    let q = |s: &str| serde_json::to_string(s).unwrap();
    let pair = format!("[{}, {}]", q(a), q(b));
    match op {
        0 => ("contains", q(a), v.contains(a)),
        1 => ("starts_with", q(a), v.starts_with(a)),
        2 => ("ends_with", q(a), v.ends_with(a)),
        3 => ("matches", q(&regex::escape(a)), v.contains(a)),
        4 => ("in", pair, v == a || v == b),
        5 => ("contains any", pair, v.contains(a) || v.contains(b)),
        _ => ("contains all", pair, v.contains(a) && v.contains(b)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in ".*") {
        parse_and_compile(&src)?;
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        parse_and_compile(&src)?;
    }

    #[test]
    fn printed_trees_parse_back(ast in expr()) {
        let printed = ast.to_string();
        let parsed = parse(&printed).map_err(|err| TestCaseError::fail(format!("{printed}\ndoes not parse: {err:?}")))?;
        prop_assert_eq!(parsed.without_spans(), ast.without_spans(), "printed as {}", printed);
        // Whatever the tree means, compiling it must not panic either.
        let _ = compiler().compile_bool_expr(&parsed);
        let _ = compiler().compile_feature(&printed);
    }

    #[test]
    fn negated_string_operators_are_comparisons(
        which in 0usize..3,
        value in prop::option::of("[ab/éA]{0,4}"),
        op in 0usize..7,
        a in "[ab/éA]{0,3}",
        b in "[ab/éA]{0,3}",
    ) {
        let field = ["page.url", "attributes.x", "traits.y"][which];
        let (word, rhs, expected) = str_op_case(op, &a, &b, value.as_deref().unwrap_or(""));
        let plain_src = format!("{field} {word} {rhs}");
        let mut c = compiler();
        let plain = c.compile_bool(&plain_src).unwrap().node;
        let negated = c.compile_bool(&format!("{field} not {word} {rhs}")).unwrap().node;
        let not_plain = c.compile_bool(&format!("not ({plain_src})")).unwrap().node;

        let mut ctx = OneValue::default();
        if let Some(v) = &value {
            match which {
                0 => ctx.url = Some(v.clone()),
                1 => ctx.attr = Some((c.interner.lookup("x"), DynValue::from_text(v))),
                _ => ctx.tr = Some((c.interner.lookup("y"), DynValue::from_text(v))),
            }
        }
        let (p, n, np) = (plain.eval(&ctx), negated.eval(&ctx), not_plain.eval(&ctx));
        match value {
            None => {
                prop_assert!(!p, "{} with a missing value", plain_src);
                prop_assert!(!n, "the negated form of {} with a missing value", plain_src);
                prop_assert!(np, "not ({}) with a missing value", plain_src);
            }
            Some(_) => {
                prop_assert_eq!(p, expected, "{}", plain_src);
                prop_assert_eq!(n, !p, "the negated form of {}", plain_src);
                prop_assert_eq!(np, !p, "not ({})", plain_src);
            }
        }
    }

    #[test]
    fn text_equality_and_membership_agree_with_rust(
        value in prop::option::of("[abé]{0,18}"),
        a in "[abé]{0,18}",
        b in "[abé]{0,18}",
    ) {
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let mut c = compiler();
        let eq = c.compile_bool(&format!("page.url == {}", q(&a))).unwrap().node;
        let ne = c.compile_bool(&format!("page.url != {}", q(&a))).unwrap().node;
        let within = c.compile_bool(&format!("page.url in [{}, {}]", q(&a), q(&b))).unwrap().node;
        let ctx = OneValue { url: value.clone(), ..OneValue::default() };
        match value {
            None => prop_assert!(!eq.eval(&ctx) && !ne.eval(&ctx) && !within.eval(&ctx)),
            Some(v) => {
                prop_assert_eq!(eq.eval(&ctx), v == a);
                prop_assert_eq!(ne.eval(&ctx), v != a);
                prop_assert_eq!(within.eval(&ctx), v == a || v == b);
            }
        }
    }

    #[test]
    fn lower_agrees_with_to_lowercase(
        value in prop_oneof!["[aAbBéÉ/]{0,8}", "[aAé]{250,300}"],
        lit in "[abé/]{0,3}",
        op in 0usize..7,
    ) {
        let (word, rhs, expected) = str_op_case(op, &lit, "b", &value.to_lowercase());
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let mut c = compiler();
        let test = c.compile_bool(&format!("lower(page.url) {word} {rhs}")).unwrap().node;
        let eq = c.compile_bool(&format!("lower(page.url) == {}", q(&lit))).unwrap().node;
        let ctx = OneValue { url: Some(value.clone()), ..OneValue::default() };
        prop_assert_eq!(test.eval(&ctx), expected, "lower({:?}) {} {}", value, word, rhs);
        prop_assert_eq!(eq.eval(&ctx), value.to_lowercase() == lit);
    }
}
