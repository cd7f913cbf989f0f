//! Compiled, typed conditions and their evaluation.
//!
//! The compiler (`compile.rs`) guarantees types, so each node kind knows what it
//! yields: evaluation is a walk over small enums that reads fields by slot, compares
//! interned event names by id and uses prebuilt regexes. Nothing here allocates,
//! except `lower(...)` on a value that is not already lower case.

use std::borrow::Cow;

use super::context::{Context, CountSlot, DynValue, OutcomeId, ScoreMetric, SegmentId, Sym};
use super::fields::{BoolField, DurField, NumField, StrField};
pub use super::needle::{Needle, Pattern};

/// Where an untyped value comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DynSrc {
    Attribute(Sym),
    Trait(Sym),
}

impl DynSrc {
    #[inline]
    fn get<C: Context + ?Sized>(self, ctx: &C) -> Option<&DynValue> {
        match self {
            DynSrc::Attribute(s) => ctx.attribute(s),
            DynSrc::Trait(s) => ctx.trait_value(s),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    #[inline]
    pub fn apply<T: PartialOrd + ?Sized>(self, a: &T, b: &T) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// A string test whose right-hand side was fixed at compile time or is computed.
#[derive(Clone, Debug)]
pub enum StrTest {
    Contains(StrNode),
    /// `contains "literal"`: a searcher built once at load (short haystacks
    /// make `str::contains` fall back to a memcmp per position).
    ContainsLit(Box<Needle>),
    StartsWith(StrNode),
    EndsWith(StrNode),
    /// `starts_with "literal"` and `ends_with "literal"`: no node to evaluate.
    StartsWithLit(Box<str>),
    EndsWithLit(Box<str>),
    Matches(Box<Pattern>),
    In(Box<[Box<str>]>),
    ContainsAny(Box<[Needle]>),
    ContainsAll(Box<[Needle]>),
}

#[derive(Clone, Debug)]
pub enum BoolNode {
    Const(bool),
    Field(BoolField),
    /// An attribute or trait read as a boolean; missing reads as false.
    Dyn(DynSrc),
    Not(Box<BoolNode>),
    And(Box<[BoolNode]>),
    Or(Box<[BoolNode]>),
    /// `event.name == "x"` / `!=`, compared by interned id.
    EventIs {
        name: Sym,
        negated: bool,
    },
    /// Number or duration comparison against a constant: the common case, kept flat.
    NumCmpConst {
        lhs: NumNode,
        op: CmpOp,
        rhs: f64,
    },
    NumCmp {
        lhs: NumNode,
        op: CmpOp,
        rhs: NumNode,
    },
    /// A text field against a constant, e.g. `geo.country == "US"`.
    StrCmpConst {
        lhs: StrNode,
        negated: bool,
        rhs: Box<str>,
    },
    StrCmp {
        lhs: StrNode,
        negated: bool,
        rhs: StrNode,
    },
    BoolCmp {
        lhs: Box<BoolNode>,
        negated: bool,
        rhs: Box<BoolNode>,
    },
    /// `contains`, `in`, `matches`...; `negated` for the `not` forms, which are
    /// still comparisons: false when the left side is missing.
    StrTest {
        lhs: StrNode,
        negated: bool,
        test: StrTest,
    },
    Segment(SegmentId),
    OutcomeAchieved(OutcomeId),
    Exists(Presence),
}

/// What `exists(...)` tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Presence {
    Str(StrField),
    Num(NumField),
    Dur(DurField),
    Bool(BoolField),
    Dyn(DynSrc),
}

#[derive(Clone, Debug)]
pub enum NumNode {
    Const(f64),
    Field(NumField),
    /// A duration field, in milliseconds.
    Dur(DurField),
    /// An attribute or trait read as a number.
    DynNum(DynSrc),
    /// An attribute or trait read as a duration: a number of seconds or a
    /// duration text such as `"90s"`; yields milliseconds.
    DynDur(DynSrc),
    Count(CountSlot),
    Score(OutcomeId, ScoreMetric),
    Neg(Box<NumNode>),
    Arith(ArithOp, Box<NumNode>, Box<NumNode>),
    /// A condition used as a predictor feature: 1 if true, else 0.
    FromBool(Box<BoolNode>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum StrNode {
    Const(Box<str>),
    Field(StrField),
    Dyn(DynSrc),
    Lower(Box<StrNode>),
}

impl BoolNode {
    /// Evaluates the condition against one event.
    ///
    /// Shaped for speed, as profiling the spec's conditions showed the cost was in
    /// calls and dispatch rather than in the tests themselves: `and`/`or` evaluate
    /// their common items (field against a constant, event name, segment) inline in
    /// their loop, without a call, and the rarer nodes live in a separate, outlined
    /// function so that this one stays small.
    #[inline]
    pub fn eval<C: Context + ?Sized>(&self, ctx: &C) -> bool {
        match self {
            BoolNode::And(items) => all::<C, false>(items, ctx),
            BoolNode::Or(items) => any::<C, false>(items, ctx),
            other => other.eval_item::<C, false>(ctx),
        }
    }

    /// The common nodes inline; an `and`/`or` inside an `or`/`and` inline too
    /// (`a and b and (c or d)` is common), deeper ones by a recursive call;
    /// the rest outlined.
    #[inline(always)]
    fn eval_item<C: Context + ?Sized, const NESTED: bool>(&self, ctx: &C) -> bool {
        match self {
            BoolNode::Const(b) => *b,
            BoolNode::And(items) if !NESTED => all::<C, true>(items, ctx),
            BoolNode::Or(items) if !NESTED => any::<C, true>(items, ctx),
            BoolNode::And(_) | BoolNode::Or(_) => self.eval(ctx),
            BoolNode::EventIs { name, negated } => {
                // An event no rule names is still an event: it differs from `name`.
                (ctx.event_name() == *name) != *negated
            }
            BoolNode::NumCmpConst { lhs, op, rhs } => {
                let v = match lhs {
                    NumNode::Field(f) => ctx.num_field(*f),
                    NumNode::Dur(f) => ctx.dur_field(*f).map(|ms| ms as f64),
                    NumNode::DynNum(src) => src.get(ctx).and_then(|v| v.number),
                    NumNode::Count(slot) => Some(f64::from(ctx.count(*slot))),
                    other => other.eval(ctx),
                };
                v.is_some_and(|v| op.apply(&v, rhs))
            }
            BoolNode::StrCmpConst { lhs: StrNode::Field(f), negated, rhs } => {
                ctx.str_field(*f).is_some_and(|v| str_eq(v, rhs) != *negated)
            }
            BoolNode::Segment(id) => ctx.segment(*id),
            // A text field's test (`page.pathname starts_with "/c/"`) is as common.
            BoolNode::StrTest { lhs: StrNode::Field(f), negated, test } => {
                ctx.str_field(*f).and_then(|v| test.eval(v, ctx)).is_some_and(|r| r != *negated)
            }
            other => other.eval_other(ctx),
        }
    }

    #[inline(never)]
    fn eval_other<C: Context + ?Sized>(&self, ctx: &C) -> bool {
        match self {
            BoolNode::Const(b) => *b,
            BoolNode::Field(f) => ctx.bool_field(*f).unwrap_or(false),
            BoolNode::Dyn(src) => src.get(ctx).and_then(|v| v.boolean).unwrap_or(false),
            BoolNode::Not(e) => !e.eval(ctx),
            BoolNode::And(_) | BoolNode::Or(_) | BoolNode::EventIs { .. } | BoolNode::NumCmpConst { .. } => {
                self.eval_item::<C, true>(ctx)
            }
            BoolNode::NumCmp { lhs, op, rhs } => match (lhs.eval(ctx), rhs.eval(ctx)) {
                (Some(a), Some(b)) => op.apply(&a, &b),
                _ => false,
            },
            BoolNode::StrCmpConst { lhs, negated, rhs } => match lhs.field_or_dyn(ctx) {
                Ok(Some(v)) => str_eq(v, rhs) != *negated,
                Ok(None) => false,
                Err(()) => lhs.with_str(ctx, |v| str_eq(v, rhs) != *negated).unwrap_or(false),
            },
            BoolNode::StrCmp { lhs, negated, rhs } => match (lhs.eval(ctx), rhs.eval(ctx)) {
                (Some(a), Some(b)) => (a == b) != *negated,
                _ => false,
            },
            BoolNode::BoolCmp { lhs, negated, rhs } => match (lhs.eval_opt(ctx), rhs.eval_opt(ctx)) {
                (Some(a), Some(b)) => (a == b) != *negated,
                _ => false,
            },
            BoolNode::StrTest { lhs, negated, test } => {
                let r = match lhs.field_or_dyn(ctx) {
                    Ok(Some(v)) => test.eval(v, ctx),
                    Ok(None) => None,
                    Err(()) => lhs.with_str(ctx, |v| test.eval(v, ctx)).flatten(),
                };
                // Missing on either side: false, for the negated forms too.
                r.is_some_and(|r| r != *negated)
            }
            BoolNode::Segment(id) => ctx.segment(*id),
            BoolNode::OutcomeAchieved(id) => ctx.outcome_achieved(*id),
            BoolNode::Exists(p) => match p {
                Presence::Str(f) => ctx.str_field(*f).is_some(),
                Presence::Num(f) => ctx.num_field(*f).is_some(),
                Presence::Dur(f) => ctx.dur_field(*f).is_some(),
                Presence::Bool(f) => ctx.bool_field(*f).is_some(),
                Presence::Dyn(src) => src.get(ctx).is_some(),
            },
        }
    }

    /// Like `eval`, but keeps "missing" apart from false, for `==` between booleans.
    fn eval_opt<C: Context + ?Sized>(&self, ctx: &C) -> Option<bool> {
        match self {
            BoolNode::Field(f) => ctx.bool_field(*f),
            BoolNode::Dyn(src) => src.get(ctx).and_then(|v| v.boolean),
            other => Some(other.eval(ctx)),
        }
    }
}

// `and` and `or` as plain loops: the iterator adapters' closures were not always
// inlined, which cost a call per item.
#[inline(always)]
fn all<C: Context + ?Sized, const NESTED: bool>(items: &[BoolNode], ctx: &C) -> bool {
    for e in items {
        if !e.eval_item::<C, NESTED>(ctx) {
            return false;
        }
    }
    true
}

#[inline(always)]
fn any<C: Context + ?Sized, const NESTED: bool>(items: &[BoolNode], ctx: &C) -> bool {
    for e in items {
        if e.eval_item::<C, NESTED>(ctx) {
            return true;
        }
    }
    false
}

impl StrTest {
    /// `None` when the right-hand side is missing.
    #[inline]
    fn eval<C: Context + ?Sized>(&self, s: &str, ctx: &C) -> Option<bool> {
        Some(match self {
            StrTest::Contains(n) => s.contains(&*n.eval(ctx)?),
            StrTest::StartsWith(n) => starts_with(s, &n.eval(ctx)?),
            StrTest::EndsWith(n) => ends_with(s, &n.eval(ctx)?),
            StrTest::StartsWithLit(p) => starts_with(s, p),
            StrTest::EndsWithLit(p) => ends_with(s, p),
            StrTest::Matches(re) => re.is_match(s),
            StrTest::In(items) => items.iter().any(|i| str_eq(s, i)),
            StrTest::ContainsLit(n) => n.is_in(s),
            StrTest::ContainsAny(items) => items.iter().any(|n| n.is_in(s)),
            StrTest::ContainsAll(items) => items.iter().all(|n| n.is_in(s)),
        })
    }
}

impl NumNode {
    #[inline]
    pub fn eval<C: Context + ?Sized>(&self, ctx: &C) -> Option<f64> {
        match self {
            NumNode::Const(n) => Some(*n),
            NumNode::Field(f) => ctx.num_field(*f),
            NumNode::Dur(f) => ctx.dur_field(*f).map(|ms| ms as f64),
            NumNode::DynNum(src) => src.get(ctx).and_then(|v| v.number),
            NumNode::DynDur(src) => src.get(ctx).and_then(|v| match v.number {
                Some(secs) => Some(secs * 1000.0),
                None => super::parser::parse_duration_ms(&v.text).map(|ms| ms as f64),
            }),
            NumNode::Count(slot) => Some(f64::from(ctx.count(*slot))),
            NumNode::Score(id, m) => ctx.outcome_score(*id, *m),
            NumNode::Neg(e) => e.eval(ctx).map(|v| -v),
            NumNode::FromBool(b) => Some(if b.eval(ctx) { 1.0 } else { 0.0 }),
            NumNode::Arith(op, a, b) => {
                let (a, b) = (a.eval(ctx)?, b.eval(ctx)?);
                let v = match op {
                    ArithOp::Add => a + b,
                    ArithOp::Sub => a - b,
                    ArithOp::Mul => a * b,
                    ArithOp::Div => a / b,
                };
                // Division by zero has no value an analyst could mean: treat it as missing.
                v.is_finite().then_some(v)
            }
        }
    }
}

/// String equality without a call to `memcmp` for short strings (country codes,
/// event names, categories): equal lengths, then two overlapping machine words.
#[inline(always)]
fn str_eq(a: &str, b: &str) -> bool {
    bytes_eq(a.as_bytes(), b.as_bytes())
}

#[inline(always)]
fn starts_with(s: &str, p: &str) -> bool {
    s.len() >= p.len() && bytes_eq(&s.as_bytes()[..p.len()], p.as_bytes())
}

#[inline(always)]
fn ends_with(s: &str, p: &str) -> bool {
    s.len() >= p.len() && bytes_eq(&s.as_bytes()[s.len() - p.len()..], p.as_bytes())
}

#[inline(always)]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && if a.len() <= 16 { short_key(a) == short_key(b) } else { a == b }
}

/// Packs a string of up to 16 bytes into two words that differ for any two
/// different strings of the same length: the first and the last 8 (or 4) bytes,
/// which overlap when the string is shorter than 16 (or 8) bytes.
#[inline(always)]
fn short_key(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    if n >= 8 {
        let (head, tail) = (&b[..8], &b[n - 8..]);
        (u64::from_le_bytes(head.try_into().expect("8 bytes")), u64::from_le_bytes(tail.try_into().expect("8 bytes")))
    } else if n >= 4 {
        let (head, tail) = (&b[..4], &b[n - 4..]);
        let head = u32::from_le_bytes(head.try_into().expect("4 bytes"));
        (u64::from(head), u64::from(u32::from_le_bytes(tail.try_into().expect("4 bytes"))))
    } else if n > 0 {
        (u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16, 0)
    } else {
        (0, 0)
    }
}

impl StrNode {
    /// Calls `f` with the text, without allocating for `lower(...)` of a short
    /// ASCII text (the usual page title or URL): it is lowered in a stack buffer.
    #[inline]
    fn with_str<'c, C: Context + ?Sized, R>(&'c self, ctx: &'c C, f: impl FnOnce(&str) -> R) -> Option<R> {
        const BUF: usize = 256;
        match self {
            StrNode::Lower(inner) => {
                let s = inner.eval(ctx)?;
                if s.is_ascii() && s.len() <= BUF {
                    let mut buf = [0u8; BUF];
                    let lowered = &mut buf[..s.len()];
                    lowered.copy_from_slice(s.as_bytes());
                    lowered.make_ascii_lowercase();
                    Some(f(std::str::from_utf8(lowered).expect("lower-cased ASCII is UTF-8")))
                } else if s.chars().any(char::is_uppercase) {
                    Some(f(&s.to_lowercase()))
                } else {
                    Some(f(&s))
                }
            }
            other => Some(f(&other.eval(ctx)?)),
        }
    }

    /// A field or attribute read without building a `Cow`: `Err` for the other
    /// nodes, which go through `eval`.
    #[inline(always)]
    fn field_or_dyn<'c, C: Context + ?Sized>(&self, ctx: &'c C) -> Result<Option<&'c str>, ()> {
        match self {
            StrNode::Field(f) => Ok(ctx.str_field(*f)),
            StrNode::Dyn(src) => Ok(src.get(ctx).map(|v| &*v.text)),
            _ => Err(()),
        }
    }

    #[inline]
    pub fn eval<'c, C: Context + ?Sized>(&'c self, ctx: &'c C) -> Option<Cow<'c, str>> {
        match self {
            StrNode::Const(s) => Some(Cow::Borrowed(s)),
            StrNode::Field(f) => ctx.str_field(*f).map(Cow::Borrowed),
            StrNode::Dyn(src) => src.get(ctx).map(|v| Cow::Borrowed(&*v.text)),
            StrNode::Lower(inner) => {
                let s = inner.eval(ctx)?;
                // Most URLs and names are lower case already: no copy then.
                if s.chars().any(char::is_uppercase) { Some(Cow::Owned(s.to_lowercase())) } else { Some(s) }
            }
        }
    }
}

/// A test of one text against a literal, for conditions that are nothing
/// more ([`BoolNode::as_literal_test`]): the engine reads the text once for
/// several such conditions (`count(page_viewed where page.pathname starts_with
/// "/c/...")` for each category) and tests each literal inline.
#[derive(Clone, Debug, PartialEq)]
pub enum LitTest {
    Eq(Box<str>),
    StartsWith(Box<str>),
}

impl LitTest {
    /// As the condition it came from evaluates on a present text.
    #[inline]
    pub fn holds(&self, s: &str) -> bool {
        match self {
            LitTest::Eq(lit) => str_eq(s, lit),
            LitTest::StartsWith(p) => starts_with(s, p),
        }
    }
}

impl BoolNode {
    /// The text this condition reads and its test, if it is `TEXT == "lit"` or
    /// `TEXT starts_with "lit"` of a field or an attribute (false when the text
    /// is missing, as here).
    pub fn as_literal_test(&self) -> Option<(&StrNode, LitTest)> {
        match self {
            BoolNode::StrCmpConst { lhs: lhs @ (StrNode::Field(_) | StrNode::Dyn(_)), negated: false, rhs } => {
                Some((lhs, LitTest::Eq(rhs.clone())))
            }
            BoolNode::StrTest {
                lhs: lhs @ (StrNode::Field(_) | StrNode::Dyn(_)),
                negated: false,
                test: StrTest::StartsWithLit(p),
            } => Some((lhs, LitTest::StartsWith(p.clone()))),
            _ => None,
        }
    }
}

/// One input a condition reads, as [`BoolNode::for_each_read`] reports it: the
/// engine turns these into the set of changes that can flip the condition, so
/// that an event which changes none of them does not evaluate it again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Read {
    Str(StrField),
    Num(NumField),
    Dur(DurField),
    Bool(BoolField),
    Dyn(DynSrc),
    Count(CountSlot),
    Score(OutcomeId),
    Segment(SegmentId),
    Outcome(OutcomeId),
    /// `event.name`, compared by id.
    EventName,
}

impl BoolNode {
    /// Calls `f` with every input the condition reads (repeats included).
    pub fn for_each_read(&self, f: &mut dyn FnMut(Read)) {
        match self {
            BoolNode::Const(_) => {}
            BoolNode::Field(b) => f(Read::Bool(*b)),
            BoolNode::Dyn(src) => f(Read::Dyn(*src)),
            BoolNode::Not(e) => e.for_each_read(f),
            BoolNode::And(items) | BoolNode::Or(items) => items.iter().for_each(|e| e.for_each_read(f)),
            BoolNode::EventIs { .. } => f(Read::EventName),
            BoolNode::NumCmpConst { lhs, .. } => lhs.for_each_read(f),
            BoolNode::NumCmp { lhs, rhs, .. } => {
                lhs.for_each_read(f);
                rhs.for_each_read(f);
            }
            BoolNode::StrCmpConst { lhs, .. } => lhs.for_each_read(f),
            BoolNode::StrCmp { lhs, rhs, .. } => {
                lhs.for_each_read(f);
                rhs.for_each_read(f);
            }
            BoolNode::BoolCmp { lhs, rhs, .. } => {
                lhs.for_each_read(f);
                rhs.for_each_read(f);
            }
            BoolNode::StrTest { lhs, test, .. } => {
                lhs.for_each_read(f);
                match test {
                    StrTest::Contains(n) | StrTest::StartsWith(n) | StrTest::EndsWith(n) => n.for_each_read(f),
                    StrTest::ContainsLit(_)
                    | StrTest::StartsWithLit(_)
                    | StrTest::EndsWithLit(_)
                    | StrTest::Matches(_)
                    | StrTest::In(_)
                    | StrTest::ContainsAny(_)
                    | StrTest::ContainsAll(_) => {}
                }
            }
            BoolNode::Segment(id) => f(Read::Segment(*id)),
            BoolNode::OutcomeAchieved(id) => f(Read::Outcome(*id)),
            BoolNode::Exists(p) => f(match p {
                Presence::Str(s) => Read::Str(*s),
                Presence::Num(n) => Read::Num(*n),
                Presence::Dur(d) => Read::Dur(*d),
                Presence::Bool(b) => Read::Bool(*b),
                Presence::Dyn(src) => Read::Dyn(*src),
            }),
        }
    }
}

impl NumNode {
    fn for_each_read(&self, f: &mut dyn FnMut(Read)) {
        match self {
            NumNode::Const(_) => {}
            NumNode::Field(n) => f(Read::Num(*n)),
            NumNode::Dur(d) => f(Read::Dur(*d)),
            NumNode::DynNum(src) | NumNode::DynDur(src) => f(Read::Dyn(*src)),
            NumNode::Count(slot) => f(Read::Count(*slot)),
            NumNode::Score(id, _) => f(Read::Score(*id)),
            NumNode::Neg(e) => e.for_each_read(f),
            NumNode::Arith(_, a, b) => {
                a.for_each_read(f);
                b.for_each_read(f);
            }
            NumNode::FromBool(b) => b.for_each_read(f),
        }
    }
}

impl StrNode {
    fn for_each_read(&self, f: &mut dyn FnMut(Read)) {
        match self {
            StrNode::Const(_) => {}
            StrNode::Field(s) => f(Read::Str(*s)),
            StrNode::Dyn(src) => f(Read::Dyn(*src)),
            StrNode::Lower(inner) => inner.for_each_read(f),
        }
    }
}

impl BoolNode {
    /// The event names this condition can only be true on, if it names any:
    /// `None` means it may hold on any event. Conservative: used to skip
    /// conditions an event cannot make true, never to skip one it could.
    pub fn required_events(&self) -> Option<Vec<Sym>> {
        match self {
            BoolNode::Const(false) => Some(Vec::new()),
            BoolNode::EventIs { name, negated: false } => Some(vec![*name]),
            // Any conjunct that pins the event pins the whole.
            BoolNode::And(items) => items.iter().filter_map(BoolNode::required_events).min_by_key(Vec::len),
            // A disjunction is pinned only if every branch is.
            BoolNode::Or(items) => {
                let mut all = Vec::new();
                for item in items.iter() {
                    all.extend(item.required_events()?);
                }
                all.sort_unstable();
                all.dedup();
                Some(all)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::str_eq;

    #[test]
    fn short_string_equality_agrees_with_str_eq() {
        let base = "abcdefghijklmnopqrstu";
        for len in 0..=base.len() {
            let a = &base[..len];
            assert!(str_eq(a, a), "{a:?}");
            // A difference at any position, and a different length, are seen.
            for i in 0..len {
                let mut b = a.as_bytes().to_vec();
                b[i] = b'X';
                let b = String::from_utf8(b).unwrap();
                assert!(!str_eq(a, &b), "{a:?} vs {b:?}");
            }
            assert!(!str_eq(a, &base[..len.saturating_sub(1)]) || len == 0);
        }
        assert!(str_eq("é", "é") && !str_eq("é", "è"));
    }
}
