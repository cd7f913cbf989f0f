//! Evaluation tests against a hand-built context.

use rustc_hash::FxHashMap;

use super::context::{Context, CountSlot, DynValue, OutcomeId, ScoreMetric, SegmentId, Sym};
use super::fields::{BoolField, DurField, NumField, StrField};
use super::*;

/// A context built by hand (also used by the engine's unit tests).
#[derive(Default)]
pub(crate) struct TestCtx {
    pub(crate) strs: FxHashMap<StrField, String>,
    pub(crate) nums: FxHashMap<NumField, f64>,
    pub(crate) durs: FxHashMap<DurField, i64>,
    pub(crate) event: Option<Sym>,
    pub(crate) attrs: FxHashMap<Sym, DynValue>,
    pub(crate) segments: Vec<SegmentId>,
    pub(crate) counts: FxHashMap<CountSlot, u32>,
    pub(crate) score: Option<f64>,
}

impl Context for TestCtx {
    fn str_field(&self, f: StrField) -> Option<&str> {
        self.strs.get(&f).map(String::as_str)
    }
    fn num_field(&self, f: NumField) -> Option<f64> {
        Some(self.nums.get(&f).copied().unwrap_or(0.0))
    }
    fn dur_field(&self, f: DurField) -> Option<i64> {
        self.durs.get(&f).copied()
    }
    fn bool_field(&self, _: BoolField) -> Option<bool> {
        Some(false)
    }
    fn event_name(&self) -> Sym {
        self.event.unwrap_or(Sym::UNKNOWN)
    }
    fn attribute(&self, name: Sym) -> Option<&DynValue> {
        self.attrs.get(&name)
    }
    fn trait_value(&self, _: Sym) -> Option<&DynValue> {
        None
    }
    fn segment(&self, id: SegmentId) -> bool {
        self.segments.contains(&id)
    }
    fn outcome_achieved(&self, _: OutcomeId) -> bool {
        false
    }
    fn outcome_score(&self, _: OutcomeId, _: ScoreMetric) -> Option<f64> {
        self.score
    }
    fn count(&self, slot: CountSlot) -> u32 {
        self.counts.get(&slot).copied().unwrap_or(0)
    }
}

fn compiler() -> Compiler {
    Compiler::new(Names { segments: vec!["cart_visitor".into(), "vip".into()], outcomes: vec!["purchase".into()] })
}

fn ctx(c: &mut Compiler) -> TestCtx {
    let mut t = TestCtx::default();
    t.strs.insert(StrField::PageUrl, "https://shop.example/cart?x=1".into());
    t.strs.insert(StrField::GeoCountry, "US".into());
    t.strs.insert(StrField::EventName, "idle_30_sec".into());
    t.nums.insert(NumField::SessionPageviews, 4.0);
    t.durs.insert(DurField::TimeOnPage, 45_000);
    t.event = Some(c.interner.intern("idle_30_sec"));
    t.attrs.insert(c.interner.intern("cart_value"), DynValue::from_text("150"));
    t.attrs.insert(c.interner.intern("flag"), DynValue::from_bool(true));
    t.segments.push(SegmentId(0));
    t
}

fn eval(src: &str) -> bool {
    let mut c = compiler();
    let compiled = c.compile_bool(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    let t = ctx(&mut c);
    compiled.node.eval(&t)
}

fn errors(src: &str) -> Vec<DslError> {
    compiler().compile_bool(src).expect_err(src)
}

#[test]
fn spec_condition() {
    assert!(eval(
        r#"session.pageviews >= 3 and geo.country == "US" and (time_on_page > 30s or attributes.cart_value > 100)"#
    ));
    assert!(!eval(r#"session.pageviews >= 5 and geo.country == "US""#));
}

#[test]
fn precedence_follows_the_spec() {
    // `not` binds looser than comparisons, tighter than `and`.
    assert!(eval("not session.pageviews > 10 and true"));
    assert!(eval("1 + 2 * 3 == 7"));
    assert!(eval("(1 + 2) * 3 == 9"));
    assert!(eval("true or false and false"));
    assert!(eval("10 - 2 - 3 == 5"));
    assert!(eval("-2 + 5 == 3"));
}

#[test]
fn durations_and_arithmetic() {
    assert!(eval("time_on_page == 45s"));
    assert!(eval("time_on_page > 1m - 30s"));
    assert!(eval("time_on_page * 2 == 1m30s"));
    assert!(eval("time_on_page / 15s == 3"));
    assert!(eval("1h30m == 90m"));
    assert!(eval("500ms * 2 == 1s"));
}

#[test]
fn string_operators_and_their_negations() {
    assert!(eval(r#"page.url contains "/cart""#));
    assert!(eval(r#"page.url not contains "/checkout""#));
    assert!(eval(r#"page.url starts_with "https://""#));
    assert!(eval(r#"page.url not ends_with ".pdf""#));
    assert!(eval(r#"page.url matches "/ca[rt]+\\?""#));
    assert!(eval(r#"geo.country in ["US", "CA"]"#));
    assert!(eval(r#"geo.country not in ["IE"]"#));
    assert!(eval(r#"page.url contains any ["/help", "/cart"]"#));
    assert!(eval(r#"page.url contains all ["/cart", "x=1"]"#));
    assert!(eval(r#"page.url not contains all ["/cart", "/help"]"#));
    assert!(eval(r#"lower(geo.country) == "us""#));
}

#[test]
fn missing_values_make_every_comparison_false() {
    // page.title is missing in the test context.
    for cond in [
        r#"page.title == "x""#,
        r#"page.title != "x""#,
        r#"page.title contains "x""#,
        r#"page.title not contains "x""#,
        r#"page.title not in ["x"]"#,
        r#"page.title not matches "x""#,
        "attributes.absent > 1",
        "attributes.absent <= 1",
        "attributes.absent != 1",
        "session.duration > 0s",
    ] {
        assert!(!eval(cond), "{cond} should be false");
    }
    // `not` is plain negation.
    assert!(eval(r#"not (page.title contains "x")"#));
    assert!(eval("not exists(page.title)"));
    assert!(eval("exists(page.url)"));
    assert!(eval("exists(attributes.cart_value)"));
}

#[test]
fn attributes_take_the_type_of_their_use() {
    assert!(eval("attributes.cart_value > 100")); // "150" read as a number
    assert!(eval(r#"attributes.cart_value == "150""#)); // and as text
    assert!(eval(r#"attributes.cart_value contains "15""#));
    assert!(eval("attributes.flag")); // as a boolean
    assert!(eval("attributes.flag == true"));
    assert!(!eval("attributes.flag > 1")); // not a number: missing, so false
    assert!(eval("attributes.cart_value + 1 == 151"));
}

#[test]
fn event_names_compare_by_symbol() {
    assert!(eval(r#"event.name == "idle_30_sec""#));
    assert!(eval(r#"event.name != "page_viewed""#));
    assert!(eval(r#"event.name starts_with "idle""#));
}

#[test]
fn segments_counts_and_scores() {
    assert!(eval(r#"segment("cart_visitor")"#));
    assert!(!eval(r#"segment("vip")"#));
    assert!(eval("count(page_viewed) == 0"));
    let mut c = compiler();
    let a = c.compile_bool(r#"count(page_viewed where page.url contains "/cart") >= 1"#).unwrap();
    let b = c.compile_bool(r#"count(page_viewed where page.url contains "/cart") >= 2"#).unwrap();
    let d = c.compile_bool("visitor.count(*) > 0").unwrap();
    // Identical patterns share one counter.
    assert_eq!(c.counts.len(), 2);
    assert_eq!(c.counts[1].scope, ast::CountScope::Visitor);
    assert!(c.counts[1].event.is_none());
    let mut t = ctx(&mut c);
    t.counts.insert(CountSlot(0), 1);
    assert!(a.node.eval(&t));
    assert!(!b.node.eval(&t));
    assert!(!d.node.eval(&t));
    // Scores are missing until a predictor runs.
    let s = c.compile_bool(r#"outcome("purchase").probability < 0.3"#).unwrap();
    assert!(!s.node.eval(&t));
    t.score = Some(0.2);
    assert!(s.node.eval(&t));
    assert_eq!(s.deps.scores.len(), 1);
}

#[test]
fn features_read_booleans_as_numbers() {
    let mut c = compiler();
    let f = c.compile_feature(r#"segment("cart_visitor")"#).unwrap();
    let g = c.compile_feature("session.pageviews").unwrap();
    let t = ctx(&mut c);
    assert_eq!(f.node.eval(&t), Some(1.0));
    assert_eq!(g.node.eval(&t), Some(4.0));
    assert!(c.compile_feature(r#"page.url"#).is_err());
}

#[test]
fn errors_are_located_and_all_reported() {
    let src = r#"page.ulr contains "x" and segment("nope") and 3 == "3""#;
    let errs = errors(src);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(&src[errs[0].span.start..errs[0].span.end], "page.ulr");
    assert_eq!(&src[errs[1].span.start..errs[1].span.end], "\"nope\"");
    assert_eq!(&src[errs[2].span.start..errs[2].span.end], "==");
    let e = &errors("session.duration > 30")[0];
    assert_eq!(e.help.as_deref(), Some("write the number with a unit, e.g. `30s`"));
    let e = &errors(r#"page.url matches "(""#)[0];
    assert_eq!(e.kind, DslErrorKind::Regex);
    // A number literal too large for an f64 is an error, not infinity.
    assert_eq!(errors("session.pageviews < 1e999")[0].kind, DslErrorKind::Syntax);
}

#[test]
fn syntax_errors_point_at_the_token() {
    let src = "session.pageviews >= and true";
    let e = &errors(src)[0];
    assert_eq!(e.kind, DslErrorKind::Syntax);
    assert_eq!(&src[e.span.start..e.span.end], "and");
    // Keywords need a word boundary: `order` is a field name prefix, not `or`.
    assert!(parse("orders.x").is_ok());
}

#[test]
fn printing_parses_back() {
    for src in [
        r#"a.b == 1 or not c.d contains "x" and e.f in ["a", "b"]"#,
        "count(page_viewed where page.url contains \"/c\") >= 1 + 2 * 3",
        "visitor.count(*) > 0 and 1h30m > time_on_page",
        r#"outcome("p").max_quantile >= 0.5 and lower(page.title) not matches "^x""#,
        // A member of a parenthesised field, and `count` called on a parenthesised
        // name, must not print as a longer field path or as a count pattern.
        "(page.url).achieved",
        "count((page_viewed)) > 1",
        "-3 < -(2) - -1s",
    ] {
        let ast = parse(src).unwrap();
        let printed = ast.to_string();
        let again = parse(&printed).unwrap();
        assert_eq!(ast.without_spans(), again.without_spans(), "{printed}");
    }
}

#[test]
fn conditions_up_to_the_operator_limit_work_and_longer_ones_are_errors_not_crashes() {
    let limit = super::parser::MAX_OPERATORS;
    // At the limit: `not`s and the comparison; `and`s; nested parentheses and `not`s.
    assert!(eval(&format!("{}session.pageviews > 3", "not ".repeat(limit - 2))));
    assert!(eval(&vec!["session.pageviews > 3"; limit / 2].join(" and ")));
    assert!(eval(&format!("{}true{}", "not (".repeat(limit / 2 - 2), ")".repeat(limit / 2 - 2))));
    for (src, first_over) in [
        // The first operator over the limit is named: here the `>` after `limit` `not`s,
        (format!("{}session.pageviews > 3", "not ".repeat(limit)), 4 * limit + 18),
        // the `and` one over,
        (vec!["true"; limit + 2].join(" and "), 9 * limit + 5),
        // the minus sign one over, after the `>` (the first operator),
        (format!("session.pageviews > {}1", "-".repeat(20_000)), 20 + limit - 1),
        // the `+` one over, of 20,000,
        (vec!["1"; 20_000].join(" + ") + " > 0", 4 * limit + 2),
        // the parenthesis one over (a few more: thousands trip pest's own guard first).
        (format!("{}true{}", "(".repeat(limit + 50), ")".repeat(limit + 50)), limit + 1),
    ] {
        let errs = errors(&src);
        assert_eq!(errs.len(), 1, "{errs:?}");
        let e = &errs[0];
        assert_eq!(e.message, format!("this condition has more than {limit} operators and nested expressions"));
        assert_eq!(e.span.start, first_over, "{}", &src[e.span.start..]);
    }
}
