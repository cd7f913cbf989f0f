//! Outcome predictors (SPEC §7) as the engine runs them after every event:
//! each distinct feature expression evaluated once, in a form flattened for
//! the shapes features take (a field, a field scaled to a unit, a segment, a
//! substring test, a condition), then every predictor's log-odds.
//!
//! Predictors over the same features (one outcome's model retrained per
//! variant, or the same signals weighted per outcome) form a block whose
//! weights are stored feature by feature, so one pass over the features
//! updates all of the block's log-odds together. Each log-odds is still summed
//! in its own feature order, from -0.0, as `Iterator::sum` does: the figures
//! do not depend on how predictors are grouped.
//!
//! Literal `contains` tests of the same text field (`page.url contains "/a"`,
//! `... "/b"`, ...) are answered together by one Aho–Corasick pass over the
//! text when there are enough of them, instead of one search each.
//!
//! The probability and quantiles are increasing functions of the log-odds, so
//! a session keeps only the log-odds and its maximum ([`Logit`]); they are
//! turned into probabilities when a condition or a report reads them.

use aho_corasick::AhoCorasick;

use crate::config::Scenario;
use crate::dsl::context::{Context, CountSlot, SegmentId};
use crate::dsl::eval::{ArithOp, Needle, StrNode, StrTest};
use crate::dsl::fields::{DurField, NumField, StrField};
use crate::dsl::{BoolNode, NumNode};

use super::state::Logit;

/// From this many literal `contains` tests of one field, one automaton pass
/// answers them all (measured: one packed-pair search of a URL costs about
/// as much as a third of an automaton pass).
const SET_FROM: usize = 3;

/// Every predictor of a scenario, over the scenario's distinct features.
#[derive(Debug, Default)]
pub struct Scorer {
    features: Vec<Feature>,
    sets: Vec<NeedleSet>,
    blocks: Vec<Block>,
    /// Per outcome: its predictor's quantile cut points (`None`: no predictor;
    /// empty: no quantiles).
    cuts: Vec<Option<Box<[f64]>>>,
}

/// What an event's scoring reuses from one event to the next.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Each feature's value at the event.
    x: Vec<f64>,
    /// Per needle set: which needles the text contains (`None`: no text).
    found: Vec<Option<u64>>,
    /// A block's feature values, gathered.
    xs: Vec<f64>,
}

/// Predictors over the same features in the same order.
#[derive(Debug)]
struct Block {
    /// The features, as indices into `Scorer::features`.
    features: Vec<u32>,
    /// The first feature, when they are consecutive features in order.
    run: Option<u32>,
    /// The block's predictors (outcome, bias), in pairs, so that two sums
    /// advance together (one vector instruction each for the products and the
    /// sums); an odd last one is paired with `NO_ROW`.
    pairs: Vec<[(u32, f64); 2]>,
    /// Pair `p`'s weights of feature `j` are `weights[p * features.len() + j]`
    /// (zeros for `NO_ROW`).
    weights: Vec<[f64; 2]>,
}

/// The outcome of the missing second row of a block's odd last pair.
const NO_ROW: u32 = u32::MAX;

/// Literal `contains` tests of one text field, answered by one pass.
#[derive(Debug)]
struct NeedleSet {
    field: StrField,
    /// Pattern `i` is bit `i` of the set's `found` mask.
    automaton: AhoCorasick,
}

/// A feature expression in the form it is evaluated in. Each form yields
/// what [`NumNode::eval`] yields for the expression, bit for bit, with a
/// missing value read as 0.
#[derive(Debug)]
enum Feature {
    /// A number read as is: `session.pageviews`, `time_on_page`, `count(...)`.
    Read(Source),
    /// `x * c`, `c * x` or `x / c`: a weight per unit or a change of unit, as
    /// in `time_on_page / 1s`.
    Scaled { x: Source, c: f64, divide: bool },
    /// `segment("id")`: 1 or 0.
    Segment(SegmentId),
    /// `field contains "literal"` (or `not contains`): 1 or 0, and 0 when the
    /// field is missing.
    Contains { field: StrField, needle: Box<Needle>, negated: bool },
    /// The same, answered by needle set `set`'s pass, as its bit `bit`.
    InSet { set: u32, bit: u32, negated: bool },
    /// Any other condition: 1 when it holds, else 0.
    Flag(BoolNode),
    /// Any other expression, evaluated as written.
    Expr(NumNode),
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Num(NumField),
    /// In milliseconds.
    Dur(DurField),
    Count(CountSlot),
}

impl Source {
    fn of(node: &NumNode) -> Option<Source> {
        match node {
            NumNode::Field(f) => Some(Source::Num(*f)),
            NumNode::Dur(f) => Some(Source::Dur(*f)),
            NumNode::Count(slot) => Some(Source::Count(*slot)),
            _ => None,
        }
    }

    #[inline(always)]
    fn get<C: Context + ?Sized>(self, ctx: &C) -> Option<f64> {
        match self {
            Source::Num(f) => ctx.num_field(f),
            Source::Dur(f) => ctx.dur_field(f).map(|ms| ms as f64),
            Source::Count(slot) => Some(f64::from(ctx.count(slot))),
        }
    }
}

#[inline(always)]
fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

impl Feature {
    fn compile(node: &NumNode) -> Feature {
        if let Some(x) = Source::of(node) {
            return Feature::Read(x);
        }
        match node {
            NumNode::Arith(op @ (ArithOp::Mul | ArithOp::Div), a, b) => match (Source::of(a), &**b) {
                (Some(x), NumNode::Const(c)) => Feature::Scaled { x, c: *c, divide: *op == ArithOp::Div },
                // Multiplication commutes exactly in floating point; division does not.
                _ => match (&**a, Source::of(b)) {
                    (NumNode::Const(c), Some(x)) if *op == ArithOp::Mul => Feature::Scaled { x, c: *c, divide: false },
                    _ => Feature::Expr(node.clone()),
                },
            },
            NumNode::FromBool(cond) => match &**cond {
                BoolNode::Segment(id) => Feature::Segment(*id),
                BoolNode::StrTest { lhs: StrNode::Field(field), negated, test: StrTest::ContainsLit(needle) } => {
                    Feature::Contains { field: *field, needle: needle.clone(), negated: *negated }
                }
                other => Feature::Flag(other.clone()),
            },
            other => Feature::Expr(other.clone()),
        }
    }

    #[inline]
    fn eval<C: Context + ?Sized>(&self, ctx: &C, found: &[Option<u64>]) -> f64 {
        match self {
            Feature::Read(x) => x.get(ctx).unwrap_or(0.0),
            Feature::Scaled { x, c, divide } => match x.get(ctx) {
                Some(x) => {
                    let v = if *divide { x / c } else { x * c };
                    // As `NumNode::eval`: a division by zero or an overflow is missing.
                    if v.is_finite() { v } else { 0.0 }
                }
                None => 0.0,
            },
            Feature::Segment(id) => flag(ctx.segment(*id)),
            Feature::Contains { field, needle, negated } => {
                ctx.str_field(*field).map_or(0.0, |text| flag(needle.is_in(text) != *negated))
            }
            Feature::InSet { set, bit, negated } => {
                found[*set as usize].map_or(0.0, |mask| flag((mask >> bit & 1 == 1) != *negated))
            }
            Feature::Flag(cond) => flag(cond.eval(ctx)),
            Feature::Expr(node) => node.eval(ctx).unwrap_or(0.0),
        }
    }
}

impl Scorer {
    pub fn new(sc: &Scenario) -> Scorer {
        let mut scorer = Scorer::default();
        let mut texts: Vec<&str> = Vec::new();
        for (i, o) in sc.outcomes.iter().enumerate() {
            let Some(p) = &o.predictor else {
                scorer.cuts.push(None);
                continue;
            };
            let features: Vec<u32> = p
                .features
                .iter()
                .map(|f| {
                    // The same text compiles to the same node: evaluate it once.
                    let text = f.text.trim();
                    let k = texts.iter().position(|t| *t == text).unwrap_or_else(|| {
                        texts.push(text);
                        scorer.features.push(Feature::compile(&f.node));
                        texts.len() - 1
                    });
                    k as u32
                })
                .collect();
            let block = match scorer.blocks.iter_mut().position(|b| b.features == features) {
                Some(b) => &mut scorer.blocks[b],
                None => {
                    let run = features
                        .first()
                        .filter(|&&first| features.iter().copied().eq(first..first + features.len() as u32))
                        .copied();
                    scorer.blocks.push(Block { features, run, pairs: Vec::new(), weights: Vec::new() });
                    scorer.blocks.last_mut().expect("just pushed")
                }
            };
            match block.pairs.last_mut() {
                Some(pair) if pair[1].0 == NO_ROW => pair[1] = (i as u32, p.bias),
                _ => block.pairs.push([(i as u32, p.bias), (NO_ROW, 0.0)]),
            }
            scorer.cuts.push(Some(p.quantiles.clone().into()));
        }
        // The weights, once every block has all its rows.
        for b in &mut scorer.blocks {
            let weight = |(o, _): (u32, f64), j: usize| match o {
                NO_ROW => 0.0,
                o => sc.outcomes[o as usize].predictor.as_ref().map_or(0.0, |p| p.features[j].weight),
            };
            for pair in &b.pairs {
                for j in 0..b.features.len() {
                    b.weights.push([weight(pair[0], j), weight(pair[1], j)]);
                }
            }
        }
        scorer.group_needles();
        scorer
    }

    /// Turns the literal `contains` features of a field that has at least
    /// `SET_FROM` of them into members of one needle set (64 at most per set).
    fn group_needles(&mut self) {
        /// (feature, needle) of each literal test of one field.
        type Members = Vec<(usize, Box<str>)>;
        // Per field, in order of first use.
        let mut groups: Vec<(StrField, Members)> = Vec::new();
        for (k, f) in self.features.iter().enumerate() {
            let Feature::Contains { field, needle, .. } = f else { continue };
            if needle.text().is_empty() {
                continue;
            }
            let member = (k, needle.text().into());
            match groups.iter_mut().find(|(g, _)| g == field) {
                Some((_, members)) => members.push(member),
                None => groups.push((*field, vec![member])),
            }
        }
        for (field, members) in groups {
            for chunk in members.chunks(64).filter(|c| c.len() >= SET_FROM) {
                // Built from at most 64 non-empty literals: cannot exceed the
                // automaton's limits; if it did, the features stay as they are.
                let Ok(automaton) = AhoCorasick::new(chunk.iter().map(|(_, text)| &**text)) else { continue };
                let set = self.sets.len() as u32;
                self.sets.push(NeedleSet { field, automaton });
                for (bit, &(k, _)) in chunk.iter().enumerate() {
                    if let Feature::Contains { negated, .. } = self.features[k] {
                        self.features[k] = Feature::InSet { set, bit: bit as u32, negated };
                    }
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Outcome `i`'s quantile cut points, if it has a predictor.
    pub fn cuts(&self, i: usize) -> Option<&[f64]> {
        self.cuts[i].as_deref()
    }

    /// Every feature's value at the current event, into `scratch`.
    #[inline]
    pub fn features<C: Context + ?Sized>(&self, ctx: &C, scratch: &mut Scratch) {
        scratch.found.clear();
        scratch.found.extend(self.sets.iter().map(|set| {
            ctx.str_field(set.field).map(|text| {
                set.automaton.find_overlapping_iter(text).fold(0u64, |mask, m| mask | 1 << m.pattern().as_u32())
            })
        }));
        let found = &scratch.found;
        scratch.x.resize(self.features.len(), 0.0);
        for (x, f) in scratch.x.iter_mut().zip(&self.features) {
            *x = f.eval(ctx, found);
        }
    }

    /// Every predictor's log-odds from the features' values in `scratch`, into
    /// the session's `scores`.
    #[inline]
    pub fn update(&self, scratch: &mut Scratch, scores: &mut [Logit]) {
        let x = &scratch.x;
        for b in &self.blocks {
            let nf = b.features.len();
            // The block's feature values: a slice of `x` when its features are
            // consecutive (as when they first appear in it), else gathered.
            let xs: &[f64] = match b.run {
                Some(first) => &x[first as usize..first as usize + nf],
                None => {
                    scratch.xs.clear();
                    scratch.xs.extend(b.features.iter().map(|&k| x[k as usize]));
                    &scratch.xs
                }
            };
            let mut weights = b.weights.as_slice();
            for &[(first, bias1), (second, bias2)] in &b.pairs {
                let (w, rest) = weights.split_at(nf);
                weights = rest;
                let mut sum = [-0.0; 2];
                for (w, v) in w.iter().zip(xs) {
                    sum[0] += w[0] * v;
                    sum[1] += w[1] * v;
                }
                scores[first as usize].update(bias1 + sum[0]);
                if second != NO_ROW {
                    scores[second as usize].update(bias2 + sum[1]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use crate::dsl::fields::StrField;
    use crate::dsl::tests::TestCtx;

    /// A context with a pageview count, and a time on page and URL if given.
    fn at(pageviews: f64, on_page_ms: Option<i64>, url: Option<&str>) -> TestCtx {
        let mut ctx = TestCtx::default();
        ctx.nums.insert(NumField::SessionPageviews, pageviews);
        if let Some(ms) = on_page_ms {
            ctx.durs.insert(DurField::TimeOnPage, ms);
        }
        if let Some(url) = url {
            ctx.strs.insert(StrField::PageUrl, url.into());
        }
        ctx
    }

    const FEATURES: &str = "{a: session.pageviews, b: 'session.pageviews * 3', c: '2 * session.pageviews', \
        d: time_on_page / 1s, e: time_on_page / 0s, f: 'page.url contains \"/checkout\"', \
        g: 'session.pageviews + time_on_page / 2s', h: 10s / time_on_page}";

    fn scenario() -> Scenario {
        let text = format!(
            "name: s\noutcomes:\n  - id: o\n    achieved_when: event.name == \"buy\"\n    predictor:\n      \
             features: {FEATURES}\n      weights: {{a: 0.5, b: -0.25, c: 1, d: 0.125, e: 1, f: 2, g: 0.5, h: 3}}\n      bias: -1\n"
        );
        let loaded = load_str("s.yaml", &text);
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics.list);
        loaded.scenario.expect("valid")
    }

    #[test]
    fn flattened_features_equal_the_expressions_they_come_from() {
        let sc = scenario();
        let scorer = Scorer::new(&sc);
        let p = sc.outcomes[0].predictor.as_ref().expect("predictor");
        assert!(matches!(scorer.features[1], Feature::Scaled { divide: false, .. }));
        assert!(matches!(scorer.features[2], Feature::Scaled { divide: false, .. }));
        assert!(matches!(scorer.features[3], Feature::Scaled { divide: true, .. }));
        assert!(matches!(scorer.features[5], Feature::Contains { .. }));
        assert!(matches!(scorer.features[6], Feature::Expr(_)));
        assert_eq!(scorer.blocks[0].run, Some(0));
        for ctx in contexts() {
            let mut scratch = Scratch::default();
            scorer.features(&ctx, &mut scratch);
            let expected: Vec<f64> = p.features.iter().map(|f| f.node.eval(&ctx).unwrap_or(0.0)).collect();
            assert_eq!(scratch.x, expected);
            let mut scores = [Logit::default()];
            scorer.update(&mut scratch, &mut scores);
            let z = p.bias + p.features.iter().zip(&expected).map(|(f, v)| f.weight * v).sum::<f64>();
            assert_eq!(scores[0].now(), Some(z));
        }
    }

    fn contexts() -> [TestCtx; 4] {
        [
            at(0.0, None, None),
            at(7.0, Some(0), Some("https://x.example/checkout")),
            at(3.0, Some(12_345), Some("https://x.example/a/c")),
            at(1.0, Some(1), Some("https://x.example/b?q=/a")),
        ]
    }

    /// Three predictors over the same four features (one block, an odd pair),
    /// one over two of them in another order (a block whose values are
    /// gathered), and four `contains` tests of the URL (a needle set).
    #[test]
    fn blocks_and_needle_sets_give_each_predictor_its_own_sum() {
        let features = "{a: session.pageviews, b: 'page.url contains \"/a\"', \
            c: 'page.url not contains \"/c\"', d: 'page.url contains \"/checkout\"'}";
        let mut text = String::from("name: s\noutcomes:\n");
        for (i, (features, weights)) in [
            (features, "{a: 0.1, b: 1, c: -2, d: 3}"),
            (features, "{a: 0.2, b: -1, c: 2, d: 0.5}"),
            ("{b: 'page.url contains \"/a\"', a: session.pageviews}", "{b: 4, a: -0.3}"),
            (features, "{a: 0.3, b: 0.25, c: 0.125, d: -3}"),
            ("{e: 'page.url contains \"/b\"'}", "{e: 1.5}"),
        ]
        .into_iter()
        .enumerate()
        {
            text.push_str(&format!(
                "  - id: o{i}\n    achieved_when: event.name == \"buy\"\n    predictor:\n      \
                 features: {features}\n      weights: {weights}\n      bias: -{i}\n"
            ));
        }
        let loaded = load_str("s.yaml", &text);
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics.list);
        let sc = loaded.scenario.expect("valid");
        let scorer = Scorer::new(&sc);
        assert_eq!(scorer.blocks.len(), 3);
        assert_eq!(scorer.blocks[0].pairs.len(), 2);
        assert_eq!(scorer.blocks[1].run, None);
        assert_eq!(scorer.sets.len(), 1);
        assert!(scorer.features.iter().all(|f| !matches!(f, Feature::Contains { .. })));
        for ctx in contexts() {
            let mut scratch = Scratch::default();
            scorer.features(&ctx, &mut scratch);
            let mut scores = vec![Logit::default(); sc.outcomes.len()];
            scorer.update(&mut scratch, &mut scores);
            for (o, score) in sc.outcomes.iter().zip(&scores) {
                let p = o.predictor.as_ref().expect("predictor");
                let z = p.bias + p.features.iter().map(|f| f.weight * f.node.eval(&ctx).unwrap_or(0.0)).sum::<f64>();
                assert_eq!(score.now(), Some(z), "{} at {:?}", o.id, ctx.strs.get(&StrField::PageUrl));
            }
        }
    }

    #[test]
    fn the_maximum_keeps_the_highest_log_odds_and_a_new_session_resets_it() {
        let mut l = Logit::default();
        assert_eq!((l.now(), l.max()), (None, None));
        l.update(-1.0);
        l.update(2.0);
        l.update(0.5);
        assert_eq!((l.now(), l.max()), (Some(0.5), Some(2.0)));
        l = Logit::default();
        l.update(-3.0);
        assert_eq!((l.now(), l.max()), (Some(-3.0), Some(-3.0)));
    }
}
