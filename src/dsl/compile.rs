//! Type checking and compilation: [`Expr`] → typed [`BoolNode`] / [`NumNode`].
//!
//! One pass that resolves every name (fields, functions, segments, outcomes,
//! event names), infers types (bool, number, string, duration, list), gives
//! `attributes.*` and `traits.*` the type their use requires, builds regexes and
//! registers each `count(...)` as a counter slot. All errors of a condition are
//! collected, each with the span of the text at fault.

use rustc_hash::FxHashMap;

use super::ast::{BinOp, CountScope, Expr, ExprKind, Span, StrOp, UnaryOp};
use super::context::{CountSlot, Interner, OutcomeId, ScoreMetric, SegmentId, Sym};
use super::error::{DslError, DslErrorKind, did_you_mean};
use super::eval::{ArithOp, BoolNode, CmpOp, DynSrc, Needle, NumNode, Pattern, Presence, StrNode, StrTest};
use super::fields::{FieldRef, StrField, resolve_field};
use super::parser;

/// The segment and outcome ids a condition may name, in declaration order.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub segments: Vec<String>,
    pub outcomes: Vec<String>,
}

/// One `count(EVENT where COND)` pattern: the engine keeps one counter per
/// visitor for it and bumps it when a matching event arrives.
#[derive(Clone, Debug)]
pub struct CountPattern {
    pub scope: CountScope,
    /// `None` for `*`.
    pub event: Option<Sym>,
    pub cond: Option<BoolNode>,
    /// The canonical text, e.g. `count(page_viewed where (page.url contains "/cart"))`.
    pub text: String,
}

/// What a compiled condition depends on, for ordering and indexing.
#[derive(Clone, Debug, Default)]
pub struct Deps {
    pub segments: Vec<(SegmentId, Span)>,
    pub outcomes: Vec<(OutcomeId, Span)>,
    /// Reads a predictor's score (so it must be evaluated after scores).
    pub scores: Vec<(OutcomeId, Span)>,
}

#[derive(Clone, Debug)]
pub struct Compiled<T> {
    pub node: T,
    pub deps: Deps,
}

/// Shared compile state: names, the interner and the count patterns of all
/// conditions of a scenario.
#[derive(Debug, Default)]
pub struct Compiler {
    pub names: Names,
    pub interner: Interner,
    pub counts: Vec<CountPattern>,
    count_index: FxHashMap<String, CountSlot>,
}

/// Where in the condition text a bad `matches` pattern goes wrong: the part
/// the regex parser points at, when the literal at `literal` (its quotes
/// included) is the pattern as written, with no escapes (every escape is
/// longer than what it stands for, so equal lengths mean none); else the
/// whole literal.
fn regex_error_span(pattern: &str, literal: Span) -> Span {
    let unescaped = literal.end.checked_sub(literal.start) == Some(pattern.len() + 2);
    let bad = match regex_syntax::ast::parse::Parser::new().parse(pattern) {
        Err(e) => Some(*e.span()),
        Ok(ast) => regex_syntax::hir::translate::Translator::new().translate(pattern, &ast).err().map(|e| *e.span()),
    };
    match bad {
        Some(bad) if unescaped && bad.end.offset <= pattern.len() => {
            let start = literal.start + 1 + bad.start.offset;
            // An empty span (an unclosed group, at the end) still gets a caret.
            Span { start, end: (literal.start + 1 + bad.end.offset).max(start + 1).min(literal.end) }
        }
        _ => literal,
    }
}

/// A typed intermediate value.
enum Val {
    Bool(BoolNode),
    Num(NumNode),
    /// Milliseconds.
    Dur(NumNode),
    Str(StrNode),
    List(Vec<Box<str>>),
    /// An attribute or trait, typed by its use.
    Dyn(DynSrc),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Bool,
    Num,
    Dur,
    Str,
    List,
    Dyn,
}

impl Ty {
    fn describe(self) -> &'static str {
        match self {
            Ty::Bool => "true/false",
            Ty::Num => "a number",
            Ty::Dur => "a duration",
            Ty::Str => "text",
            Ty::List => "a list",
            Ty::Dyn => "an attribute",
        }
    }
}

impl Val {
    fn ty(&self) -> Ty {
        match self {
            Val::Bool(_) => Ty::Bool,
            Val::Num(_) => Ty::Num,
            Val::Dur(_) => Ty::Dur,
            Val::Str(_) => Ty::Str,
            Val::List(_) => Ty::List,
            Val::Dyn(_) => Ty::Dyn,
        }
    }
}

struct Ctx<'a> {
    c: &'a mut Compiler,
    errors: Vec<DslError>,
    deps: Deps,
}

impl Compiler {
    pub fn new(names: Names) -> Self {
        Compiler { names, ..Default::default() }
    }

    /// Parses and compiles a condition that must be true/false.
    pub fn compile_bool(&mut self, src: &str) -> Result<Compiled<BoolNode>, Vec<DslError>> {
        let expr = parser::parse(src).map_err(|e| vec![e])?;
        self.compile_bool_expr(&expr)
    }

    pub fn compile_bool_expr(&mut self, expr: &Expr) -> Result<Compiled<BoolNode>, Vec<DslError>> {
        let mut cx = Ctx { c: self, errors: Vec::new(), deps: Deps::default() };
        let node = cx.val(expr).and_then(|v| cx.want_bool(v, expr.span, "a condition"));
        match node {
            Some(node) if cx.errors.is_empty() => Ok(Compiled { node, deps: cx.deps }),
            _ => Err(cx.errors),
        }
    }

    /// Parses and compiles a predictor feature: a number, or true/false read as 1/0.
    pub fn compile_feature(&mut self, src: &str) -> Result<Compiled<NumNode>, Vec<DslError>> {
        let expr = parser::parse(src).map_err(|e| vec![e])?;
        let mut cx = Ctx { c: self, errors: Vec::new(), deps: Deps::default() };
        let node = cx.val(&expr).and_then(|v| match v {
            Val::Num(n) => Some(n),
            Val::Bool(b) => Some(NumNode::FromBool(Box::new(b))),
            Val::Dyn(src) => Some(NumNode::DynNum(src)),
            other => {
                cx.errors.push(type_err(
                    expr.span,
                    format!("a feature must be a number or true/false, this is {}", other.ty().describe()),
                ));
                None
            }
        });
        match node {
            Some(node) if cx.errors.is_empty() => Ok(Compiled { node, deps: cx.deps }),
            _ => Err(cx.errors),
        }
    }
}

fn type_err(span: Span, msg: impl Into<String>) -> DslError {
    DslError::new(DslErrorKind::Type, span, msg)
}

fn unknown(span: Span, msg: impl Into<String>) -> DslError {
    DslError::new(DslErrorKind::Unknown, span, msg)
}

const FUNCTIONS: &[&str] = &["segment", "outcome", "exists", "lower", "count"];

impl Ctx<'_> {
    fn err(&mut self, e: DslError) -> Option<Val> {
        self.errors.push(e);
        None
    }

    fn val(&mut self, e: &Expr) -> Option<Val> {
        match &e.kind {
            ExprKind::Bool(b) => Some(Val::Bool(BoolNode::Const(*b))),
            ExprKind::Number(n) => Some(Val::Num(NumNode::Const(*n))),
            ExprKind::Duration(ms) => Some(Val::Dur(NumNode::Const(*ms as f64))),
            ExprKind::Str(s) => Some(Val::Str(StrNode::Const(s.as_str().into()))),
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match &item.kind {
                        ExprKind::Str(s) => out.push(s.as_str().into()),
                        _ => {
                            ok = false;
                            self.errors.push(
                                type_err(item.span, "list items must be text literals")
                                    .with_help("write the item in double quotes, e.g. [\"a\", \"b\"]"),
                            );
                        }
                    }
                }
                ok.then_some(Val::List(out))
            }
            ExprKind::Field(path) => match resolve_field(path, e.span) {
                Ok(f) => Some(self.field(f)),
                Err(err) => self.err(err),
            },
            ExprKind::Call { name, args } => self.call(e, name, args),
            ExprKind::Member { target, name, name_span } => self.member(target, name, *name_span),
            ExprKind::Count { scope, event, cond, .. } => self.count(e, *scope, event.as_deref(), cond.as_deref()),
            ExprKind::Unary { op: UnaryOp::Not, expr } => {
                let v = self.val(expr)?;
                let b = self.want_bool(v, expr.span, "`not`")?;
                Some(Val::Bool(match b {
                    BoolNode::Const(c) => BoolNode::Const(!c),
                    b => BoolNode::Not(Box::new(b)),
                }))
            }
            ExprKind::Unary { op: UnaryOp::Neg, expr } => match self.val(expr)? {
                Val::Num(NumNode::Const(n)) => Some(Val::Num(NumNode::Const(-n))),
                Val::Dur(NumNode::Const(n)) => Some(Val::Dur(NumNode::Const(-n))),
                Val::Num(n) => Some(Val::Num(NumNode::Neg(Box::new(n)))),
                Val::Dur(n) => Some(Val::Dur(NumNode::Neg(Box::new(n)))),
                Val::Dyn(src) => Some(Val::Num(NumNode::Neg(Box::new(NumNode::DynNum(src))))),
                other => {
                    self.err(type_err(expr.span, format!("`-` needs a number, but this is {}", other.ty().describe())))
                }
            },
            ExprKind::Binary { op, op_span, lhs, rhs } => self.binary(*op, *op_span, lhs, rhs),
        }
    }

    fn field(&mut self, f: FieldRef) -> Val {
        match f {
            FieldRef::Str(f) => Val::Str(StrNode::Field(f)),
            FieldRef::Num(f) => Val::Num(NumNode::Field(f)),
            FieldRef::Dur(f) => Val::Dur(NumNode::Dur(f)),
            FieldRef::Bool(f) => Val::Bool(BoolNode::Field(f)),
            FieldRef::Attribute(name) => Val::Dyn(DynSrc::Attribute(self.c.interner.intern(&name))),
            FieldRef::Trait(name) => Val::Dyn(DynSrc::Trait(self.c.interner.intern(&name))),
        }
    }

    fn want_bool(&mut self, v: Val, span: Span, what: &str) -> Option<BoolNode> {
        match v {
            Val::Bool(b) => Some(b),
            Val::Dyn(src) => Some(BoolNode::Dyn(src)),
            other => {
                let mut err = type_err(span, format!("{what} needs true/false, but this is {}", other.ty().describe()));
                if other.ty() == Ty::Str {
                    err = err.with_help("compare it, e.g. `page.url contains \"/cart\"`, or test `exists(...)`");
                } else if matches!(other.ty(), Ty::Num | Ty::Dur) {
                    err = err.with_help("compare it, e.g. `session.pageviews >= 3`");
                }
                self.errors.push(err);
                None
            }
        }
    }

    fn want_str(&mut self, v: Val, span: Span, what: &str) -> Option<StrNode> {
        match v {
            Val::Str(s) => Some(s),
            Val::Dyn(src) => Some(StrNode::Dyn(src)),
            other => {
                self.errors.push(type_err(span, format!("{what} needs text, but this is {}", other.ty().describe())));
                None
            }
        }
    }

    /// The text of a string literal, for arguments that must be known at load time.
    fn literal<'e>(&mut self, e: &'e Expr, what: &str) -> Option<&'e str> {
        match &e.kind {
            ExprKind::Str(s) => Some(s),
            _ => {
                self.errors.push(type_err(e.span, format!("{what} must be a text literal in double quotes")));
                None
            }
        }
    }

    fn call(&mut self, e: &Expr, name: &str, args: &[Expr]) -> Option<Val> {
        let arity = |cx: &mut Self, n: usize| {
            if args.len() == n {
                true
            } else {
                cx.errors.push(type_err(
                    e.span,
                    format!("`{name}` takes {n} argument{}, found {}", if n == 1 { "" } else { "s" }, args.len()),
                ));
                false
            }
        };
        match name {
            "segment" => {
                if !arity(self, 1) {
                    return None;
                }
                let id = self.literal(&args[0], "a segment id")?;
                match self.c.names.segments.iter().position(|s| s == id) {
                    Some(i) => {
                        let sid = SegmentId(i as u32);
                        self.deps.segments.push((sid, args[0].span));
                        Some(Val::Bool(BoolNode::Segment(sid)))
                    }
                    None => {
                        let err = unknown(args[0].span, format!("unknown segment `{id}`"));
                        let err = err.with_help(name_hint(id, "segments", &self.c.names.segments));
                        self.err(err)
                    }
                }
            }
            "count" => self.err(
                DslError::syntax(e.span, "`count` takes an event name or `*`, then optionally `where` and a condition")
                    .with_help("e.g. `count(page_viewed where page.url contains \"/cart\")` or `count(*)`"),
            ),
            "outcome" => self.err(
                type_err(e.span, "`outcome(...)` needs a property")
                    .with_help("use `.achieved`, `.probability`, `.max_probability`, `.quantile` or `.max_quantile`"),
            ),
            "exists" => {
                if !arity(self, 1) {
                    return None;
                }
                let arg = &args[0];
                let ExprKind::Field(path) = &arg.kind else {
                    let mut err = type_err(arg.span, "`exists` takes a field, e.g. `exists(page.title)`");
                    if let ExprKind::Str(s) = &arg.kind {
                        if resolve_field(s, arg.span).is_ok() {
                            err = err.with_help(format!("remove the quotes: `exists({s})`"));
                        }
                    }
                    return self.err(err);
                };
                let presence = match resolve_field(path, arg.span) {
                    Ok(FieldRef::Str(f)) => Presence::Str(f),
                    Ok(FieldRef::Num(f)) => Presence::Num(f),
                    Ok(FieldRef::Dur(f)) => Presence::Dur(f),
                    Ok(FieldRef::Bool(f)) => Presence::Bool(f),
                    Ok(f @ (FieldRef::Attribute(_) | FieldRef::Trait(_))) => match self.field(f) {
                        Val::Dyn(src) => Presence::Dyn(src),
                        _ => unreachable!("attributes and traits are dynamic"),
                    },
                    Err(err) => return self.err(err),
                };
                Some(Val::Bool(BoolNode::Exists(presence)))
            }
            "lower" => {
                if !arity(self, 1) {
                    return None;
                }
                let v = self.val(&args[0])?;
                let s = self.want_str(v, args[0].span, "`lower`")?;
                Some(Val::Str(match s {
                    StrNode::Const(c) => StrNode::Const(c.to_lowercase().into()),
                    s => StrNode::Lower(Box::new(s)),
                }))
            }
            _ => {
                let mut err = unknown(e.span, format!("unknown function `{name}`"));
                if let Some(h) = did_you_mean(name, FUNCTIONS.iter().copied()) {
                    err = err.with_help(h);
                } else {
                    err = err.with_help(format!("the functions are {}, visitor.count", FUNCTIONS.join(", ")));
                }
                self.err(err)
            }
        }
    }

    fn member(&mut self, target: &Expr, name: &str, name_span: Span) -> Option<Val> {
        let ExprKind::Call { name: fname, args } = &target.kind else {
            return self.err(type_err(name_span, format!("`.{name}` can only follow `outcome(\"id\")`")));
        };
        if fname != "outcome" {
            return self.err(type_err(name_span, format!("`{fname}(...)` has no property `{name}`")));
        }
        if args.len() != 1 {
            return self.err(type_err(target.span, format!("`outcome` takes 1 argument, found {}", args.len())));
        }
        let id = self.literal(&args[0], "an outcome id")?;
        let Some(i) = self.c.names.outcomes.iter().position(|s| s == id) else {
            let err = unknown(args[0].span, format!("unknown outcome `{id}`"));
            let err = err.with_help(name_hint(id, "outcomes", &self.c.names.outcomes));
            return self.err(err);
        };
        let oid = OutcomeId(i as u32);
        if name == "achieved" {
            self.deps.outcomes.push((oid, args[0].span));
            return Some(Val::Bool(BoolNode::OutcomeAchieved(oid)));
        }
        match ScoreMetric::ALL.iter().find(|(n, _)| *n == name) {
            Some((_, metric)) => {
                self.deps.scores.push((oid, args[0].span));
                Some(Val::Num(NumNode::Score(oid, *metric)))
            }
            None => {
                let names = std::iter::once("achieved").chain(ScoreMetric::ALL.iter().map(|(n, _)| *n));
                let mut err = unknown(name_span, format!("an outcome has no property `{name}`"));
                err = err.with_help(
                    did_you_mean(name, names.clone())
                        .unwrap_or_else(|| format!("the properties are {}", names.collect::<Vec<_>>().join(", "))),
                );
                self.err(err)
            }
        }
    }

    fn count(&mut self, e: &Expr, scope: CountScope, event: Option<&str>, cond: Option<&Expr>) -> Option<Val> {
        let cond = match cond {
            Some(c) => {
                let v = self.val(c)?;
                Some(self.want_bool(v, c.span, "`where`")?)
            }
            None => None,
        };
        let text = e.to_string();
        let slot = match self.c.count_index.get(&text) {
            Some(slot) => *slot,
            None => {
                let slot = CountSlot(self.c.counts.len() as u32);
                let event = event.map(|n| self.c.interner.intern(n));
                self.c.counts.push(CountPattern { scope, event, cond, text: text.clone() });
                self.c.count_index.insert(text, slot);
                slot
            }
        };
        Some(Val::Num(NumNode::Count(slot)))
    }

    fn binary(&mut self, op: BinOp, op_span: Span, lhs: &Expr, rhs: &Expr) -> Option<Val> {
        // Compile both sides even if one fails, to report every error at once.
        let l = self.val(lhs);
        let r = self.val(rhs);
        let (l, r) = (l?, r?);
        match op {
            BinOp::And | BinOp::Or => {
                let word = if op == BinOp::And { "`and`" } else { "`or`" };
                let a = self.want_bool(l, lhs.span, word);
                let b = self.want_bool(r, rhs.span, word);
                let (a, b) = (a?, b?);
                Some(Val::Bool(flatten(op == BinOp::And, a, b)))
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                self.compare(op, op_span, l, lhs.span, r, rhs.span)
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => self.arith(op, op_span, l, lhs.span, r, rhs.span),
            BinOp::Str { op: sop, negated } => {
                let lhs_node = self.want_str(l, lhs.span, &format!("`{}`", sop.keyword()))?;
                let test = self.str_test(sop, r, rhs)?;
                Some(Val::Bool(BoolNode::StrTest { lhs: lhs_node, negated, test }))
            }
        }
    }

    fn str_test(&mut self, op: StrOp, r: Val, rhs: &Expr) -> Option<StrTest> {
        if op.takes_list() {
            return match r {
                Val::List(items) => Some(match op {
                    StrOp::In => StrTest::In(items.into()),
                    StrOp::ContainsAny => StrTest::ContainsAny(items.iter().map(|i| Needle::new(i)).collect()),
                    _ => StrTest::ContainsAll(items.iter().map(|i| Needle::new(i)).collect()),
                }),
                other => {
                    self.errors.push(
                        type_err(
                            rhs.span,
                            format!("`{}` needs a list, but this is {}", op.keyword(), other.ty().describe()),
                        )
                        .with_help("write a list literal, e.g. [\"a\", \"b\"]"),
                    );
                    None
                }
            };
        }
        if op == StrOp::Matches {
            let pattern = self.literal(rhs, "a `matches` pattern")?;
            return match regex::Regex::new(pattern) {
                Ok(re) => Some(StrTest::Matches(Box::new(Pattern::new(re)))),
                Err(e) => {
                    let detail = e.to_string();
                    let last = detail.lines().last().unwrap_or("").trim().to_string();
                    self.errors.push(DslError::new(
                        DslErrorKind::Regex,
                        regex_error_span(pattern, rhs.span),
                        format!("invalid regular expression: {}", last.trim_start_matches("error: ")),
                    ));
                    None
                }
            };
        }
        if r.ty() == Ty::List {
            self.errors.push(
                type_err(rhs.span, format!("`{}` takes text, not a list", op.keyword())).with_help(format!(
                    "use `{} any [...]` or `{} all [...]`",
                    op.keyword(),
                    op.keyword()
                )),
            );
            return None;
        }
        let node = self.want_str(r, rhs.span, &format!("`{}`", op.keyword()))?;
        Some(match op {
            StrOp::Contains => match node {
                StrNode::Const(lit) => StrTest::ContainsLit(Box::new(Needle::new(&lit))),
                node => StrTest::Contains(node),
            },
            StrOp::StartsWith => match node {
                StrNode::Const(lit) => StrTest::StartsWithLit(lit),
                node => StrTest::StartsWith(node),
            },
            _ => match node {
                StrNode::Const(lit) => StrTest::EndsWithLit(lit),
                node => StrTest::EndsWith(node),
            },
        })
    }

    /// Gives an untyped attribute the type of the other operand.
    fn unify(&mut self, v: Val, other: Ty) -> Val {
        match (v, other) {
            (Val::Dyn(src), Ty::Num) => Val::Num(NumNode::DynNum(src)),
            (Val::Dyn(src), Ty::Dur) => Val::Dur(NumNode::DynDur(src)),
            (Val::Dyn(src), Ty::Bool) => Val::Bool(BoolNode::Dyn(src)),
            (Val::Dyn(src), _) => Val::Str(StrNode::Dyn(src)),
            (v, _) => v,
        }
    }

    fn compare(&mut self, op: BinOp, op_span: Span, l: Val, ls: Span, r: Val, rs: Span) -> Option<Val> {
        let ordering = !matches!(op, BinOp::Eq | BinOp::Ne);
        // Two attributes compared with each other: numbers if ordered, else text.
        let default = if ordering { Ty::Num } else { Ty::Str };
        let (lt, rt) = (l.ty(), r.ty());
        let l = self.unify(l, if rt == Ty::Dyn { default } else { rt });
        let r = self.unify(r, if lt == Ty::Dyn { l.ty() } else { lt });
        let cmp = match op {
            BinOp::Eq => CmpOp::Eq,
            BinOp::Ne => CmpOp::Ne,
            BinOp::Lt => CmpOp::Lt,
            BinOp::Le => CmpOp::Le,
            BinOp::Gt => CmpOp::Gt,
            _ => CmpOp::Ge,
        };
        let negated = op == BinOp::Ne;
        match (l, r) {
            (Val::Num(a), Val::Num(b)) | (Val::Dur(a), Val::Dur(b)) => Some(Val::Bool(num_cmp(a, cmp, b))),
            (Val::Str(a), Val::Str(b)) if !ordering => Some(Val::Bool(self.str_eq(a, negated, b))),
            (Val::Bool(a), Val::Bool(b)) if !ordering => {
                Some(Val::Bool(BoolNode::BoolCmp { lhs: Box::new(a), negated, rhs: Box::new(b) }))
            }
            (a, b) => {
                let (at, bt) = (a.ty(), b.ty());
                let sym = op.symbol();
                let mut err = if ordering && at == bt {
                    type_err(op_span, format!("`{sym}` orders numbers and durations, not {}", at.describe()))
                } else {
                    type_err(op_span, format!("cannot compare {} with {} using `{sym}`", at.describe(), bt.describe()))
                };
                err = match (at, bt) {
                    (Ty::Dur, Ty::Num) => err.with_help(dur_num_hint(&b, &a)),
                    (Ty::Num, Ty::Dur) => err.with_help(dur_num_hint(&a, &b)),
                    (Ty::Str, Ty::List) | (Ty::List, Ty::Str) => err.with_help("use `in [...]` to test membership"),
                    (Ty::Str, Ty::Num) => err.with_help(str_num_hint(&a, &b)),
                    (Ty::Num, Ty::Str) => err.with_help(str_num_hint(&b, &a)),
                    _ => err,
                };
                let _ = (ls, rs);
                self.err(err)
            }
        }
    }

    fn str_eq(&mut self, a: StrNode, negated: bool, b: StrNode) -> BoolNode {
        match (a, b) {
            (StrNode::Field(StrField::EventName), StrNode::Const(c))
            | (StrNode::Const(c), StrNode::Field(StrField::EventName)) => {
                BoolNode::EventIs { name: self.c.interner.intern(&c), negated }
            }
            (lhs, StrNode::Const(c)) | (StrNode::Const(c), lhs) => BoolNode::StrCmpConst { lhs, negated, rhs: c },
            (lhs, rhs) => BoolNode::StrCmp { lhs, negated, rhs },
        }
    }

    fn arith(&mut self, op: BinOp, op_span: Span, l: Val, _ls: Span, r: Val, _rs: Span) -> Option<Val> {
        let l = self.unify(l, Ty::Num);
        let r = self.unify(r, Ty::Num);
        let aop = match op {
            BinOp::Add => ArithOp::Add,
            BinOp::Sub => ArithOp::Sub,
            BinOp::Mul => ArithOp::Mul,
            _ => ArithOp::Div,
        };
        let node = |a: NumNode, b: NumNode| fold(aop, a, b);
        match (aop, l, r) {
            (_, Val::Num(a), Val::Num(b)) => Some(Val::Num(node(a, b))),
            (ArithOp::Add | ArithOp::Sub, Val::Dur(a), Val::Dur(b)) => Some(Val::Dur(node(a, b))),
            (ArithOp::Mul, Val::Dur(a), Val::Num(b)) | (ArithOp::Mul, Val::Num(a), Val::Dur(b)) => {
                Some(Val::Dur(node(a, b)))
            }
            (ArithOp::Div, Val::Dur(a), Val::Num(b)) => Some(Val::Dur(node(a, b))),
            (ArithOp::Div, Val::Dur(a), Val::Dur(b)) => Some(Val::Num(node(a, b))),
            (_, a, b) => {
                let mut err = type_err(
                    op_span,
                    format!("cannot use `{}` on {} and {}", op.symbol(), a.ty().describe(), b.ty().describe()),
                );
                let (at, bt) = (a.ty(), b.ty());
                if matches!(aop, ArithOp::Add | ArithOp::Sub)
                    && matches!((at, bt), (Ty::Dur, Ty::Num) | (Ty::Num, Ty::Dur))
                {
                    err = err.with_help("durations add to durations: write the number with a unit, e.g. `30s`");
                } else if aop == ArithOp::Div && (at, bt) == (Ty::Num, Ty::Dur) {
                    err = err.with_help("a duration divides by a number or by a duration, not the other way round");
                } else if aop == ArithOp::Mul && (at, bt) == (Ty::Dur, Ty::Dur) {
                    err = err.with_help("a duration multiplies by a number, e.g. `time_on_page * 2`");
                } else if ![at, bt].iter().all(|t| matches!(t, Ty::Num | Ty::Dur)) {
                    err = err.with_help("`+ - * /` work on numbers and durations");
                }
                self.err(err)
            }
        }
    }
}

/// Help for a number compared with a duration: give the number a unit when it is
/// a literal, drop the unit when the duration is, else say what goes with what.
fn dur_num_hint(num: &Val, dur: &Val) -> String {
    match (num, dur) {
        (Val::Num(NumNode::Const(n)), _) => format!("write the number with a unit, e.g. `{n}s`"),
        (_, Val::Dur(NumNode::Const(ms))) => {
            format!("this is a number, not a duration: write `{}` without a unit", ms / 1000.0)
        }
        _ => "durations compare with durations (e.g. `30s`), numbers with numbers".into(),
    }
}

/// Help for text compared with a number.
fn str_num_hint(text: &Val, num: &Val) -> String {
    match (text, num) {
        (Val::Str(StrNode::Const(s)), _) if s.trim().parse::<f64>().is_ok() => {
            format!("remove the quotes to compare numbers: `{}`", s.trim())
        }
        (_, Val::Num(NumNode::Const(n))) => format!("quote the number to compare text: `\"{n}\"`"),
        _ => "text and numbers never compare".into(),
    }
}

/// Help for an unknown segment or outcome id: the closest id, or all of them.
fn name_hint(id: &str, what: &str, names: &[String]) -> String {
    if let Some(h) = did_you_mean(id, names.iter().map(String::as_str)) {
        h
    } else if names.is_empty() {
        format!("the scenario declares no {what}")
    } else {
        format!("the {what} are {}", names.join(", "))
    }
}

fn num_cmp(a: NumNode, op: CmpOp, b: NumNode) -> BoolNode {
    let flip = |op| match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    };
    match (a, b) {
        (lhs, NumNode::Const(c)) => BoolNode::NumCmpConst { lhs, op, rhs: c },
        (NumNode::Const(c), rhs) => BoolNode::NumCmpConst { lhs: rhs, op: flip(op), rhs: c },
        (lhs, rhs) => BoolNode::NumCmp { lhs, op, rhs },
    }
}

/// Folds constant arithmetic so that `30s * 2` costs nothing per event.
fn fold(op: ArithOp, a: NumNode, b: NumNode) -> NumNode {
    if let (NumNode::Const(x), NumNode::Const(y)) = (&a, &b) {
        let v = match op {
            ArithOp::Add => x + y,
            ArithOp::Sub => x - y,
            ArithOp::Mul => x * y,
            ArithOp::Div => x / y,
        };
        if v.is_finite() {
            return NumNode::Const(v);
        }
    }
    NumNode::Arith(op, Box::new(a), Box::new(b))
}

/// Joins `and`/`or` chains into one flat node: fewer pointer hops per event.
fn flatten(and: bool, a: BoolNode, b: BoolNode) -> BoolNode {
    let mut items = Vec::new();
    for n in [a, b] {
        match (and, n) {
            (true, BoolNode::And(xs)) | (false, BoolNode::Or(xs)) => items.extend(xs.into_vec()),
            (_, n) => items.push(n),
        }
    }
    if and { BoolNode::And(items.into()) } else { BoolNode::Or(items.into()) }
}
