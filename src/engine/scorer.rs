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

use std::ops::Range;

use aho_corasick::AhoCorasick;

use crate::config::Scenario;
use crate::dsl::context::{Context, CountSlot, SegmentId};
use crate::dsl::eval::{ArithOp, CmpOp, Needle, StrNode, StrTest};
use crate::dsl::fields::{DurField, NumField, StrField};
use crate::dsl::{BoolNode, NumNode};

use super::state::{Logit, LogitPair};

/// From this many literal `contains` tests of one field, one automaton pass
/// answers them all (measured: one packed-pair search of a URL costs about
/// as much as a third of an automaton pass).
const SET_FROM: usize = 3;

/// Every predictor of a scenario, over the scenario's distinct features.
#[derive(Debug, Default)]
pub struct Scorer {
    features: Vec<Feature>,
    /// The same features grouped by form, as they are evaluated.
    plan: Plan,
    sets: Vec<NeedleSet>,
    blocks: Vec<Block>,
    /// The blocks' odd last predictors, paired.
    cross: Vec<Cross>,
    /// Per pair of predictors, their biases.
    bias: Vec<[f64; 2]>,
    /// Per outcome: where its predictor's log-odds are in a session's scores
    /// (pair `slot / 2`, lane `slot % 2`), if it has a predictor.
    slots: Vec<Option<u32>>,
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
    /// The block's predictors, in pairs (so that two sums advance together,
    /// one vector instruction each for the products and the sums), the pairs
    /// in chunks of up to `CHUNK`, whose sums stay in registers while the
    /// features are read once per chunk.
    chunks: Vec<Chunk>,
}

/// The most pairs of predictors whose sums advance together: 8 sums in 4
/// vector registers, with room for the operands (16 sums spilled to memory
/// and cost more than they saved).
const CHUNK: usize = 4;

/// Consecutive pairs of a block's predictors.
#[derive(Debug)]
struct Chunk {
    /// The first pair, an index into `Scorer::bias` and a session's scores.
    first: u32,
    /// How many pairs: `CHUNK`, 2 or 1.
    pairs: u32,
    /// Feature by feature, each pair's weights: pair `p`'s weights of feature
    /// `j` are `weights[j * pairs + p]` (zeros in a lane without a predictor).
    weights: Vec<[f64; 2]>,
}

/// Pairs of predictors from different blocks, over as many features.
#[derive(Debug)]
struct Cross {
    chunk: Chunk,
    /// Each lane's features, as indices into `Scorer::features`, ordered as
    /// the chunk's weights.
    gather: Vec<[u32; 2]>,
}

/// Literal `contains` tests of one text field, answered by one pass.
#[derive(Debug)]
struct NeedleSet {
    field: StrField,
    /// Pattern `i` is bit `i` of the set's `found` mask.
    automaton: AhoCorasick,
}

/// A feature expression in the form it is recognised as; [`Plan`] evaluates
/// each form so that it yields what [`NumNode::eval`] yields for the
/// expression, bit for bit, with a missing value read as 0.
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
    /// Segments and reads compared with constants, all of which must hold:
    /// `segment("cart") and session.events > 3`, or one comparison alone.
    Conj(Box<[Atom]>),
    /// Any other condition: 1 when it holds, else 0.
    Flag(BoolNode),
    /// Any other expression, evaluated as written.
    Expr(NumNode),
}

/// One test of a [`Feature::Conj`], as `BoolNode::eval` answers it.
#[derive(Clone, Copy, Debug)]
enum Atom {
    Segment(SegmentId),
    /// A read against a constant; false when the value is missing.
    Cmp {
        x: Source,
        op: CmpOp,
        rhs: f64,
    },
}

impl Atom {
    fn of(node: &BoolNode) -> Option<Atom> {
        match node {
            BoolNode::Segment(id) => Some(Atom::Segment(*id)),
            BoolNode::NumCmpConst { lhs, op, rhs } => Some(Atom::Cmp { x: Source::of(lhs)?, op: *op, rhs: *rhs }),
            _ => None,
        }
    }

    /// A condition as atoms that must all hold: an `and` of atoms, or one.
    fn all_of(cond: &BoolNode) -> Option<Box<[Atom]>> {
        match cond {
            BoolNode::And(items) => items.iter().map(Atom::of).collect(),
            one => Atom::of(one).map(|atom| Box::new([atom]) as Box<[Atom]>),
        }
    }

    #[inline(always)]
    fn holds<C: Context + ?Sized>(&self, ctx: &C) -> bool {
        match *self {
            Atom::Segment(id) => ctx.segment(id),
            Atom::Cmp { x, op, rhs } => x.read(ctx).is_some_and(|v| op.apply(&v, &rhs)),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Num(NumField),
    /// In milliseconds.
    Dur(DurField),
    Count(CountSlot),
}

impl Source {
    /// As `NumNode::eval` reads it (durations in milliseconds).
    #[inline(always)]
    fn read<C: Context + ?Sized>(self, ctx: &C) -> Option<f64> {
        match self {
            Source::Num(f) => ctx.num_field(f),
            Source::Dur(f) => ctx.dur_field(f).map(|ms| ms as f64),
            Source::Count(slot) => Some(f64::from(ctx.count(slot))),
        }
    }

    fn of(node: &NumNode) -> Option<Source> {
        match node {
            NumNode::Field(f) => Some(Source::Num(*f)),
            NumNode::Dur(f) => Some(Source::Dur(*f)),
            NumNode::Count(slot) => Some(Source::Count(*slot)),
            _ => None,
        }
    }
}

#[inline(always)]
fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The features grouped by form, each group evaluated by a loop of its own.
/// One loop over all features would dispatch on each one's form: an indirect
/// jump whose target changes from feature to feature, which the branch
/// predictor missed about once per feature amid the engine's other work
/// (callgrind: 4 more indirect misses per event with 4 features; the scorer
/// took twice as long in the engine as alone).
#[derive(Debug, Default)]
struct Plan {
    nums: Vec<Scaled<NumField>>,
    durs: Vec<Scaled<DurField>>,
    counts: Vec<Scaled<CountSlot>>,
    segments: Vec<(u32, SegmentId)>,
    /// Literal `contains` tests of a field not in a needle set.
    contains: Vec<Contains>,
    /// (feature, set, bit, negated) of tests answered by a needle set.
    in_set: Vec<(u32, u32, u32, bool)>,
    /// Conjunctions of segments and comparisons with constants.
    conj: Vec<(u32, Box<[Atom]>)>,
    /// Every other feature: a condition or an expression, as written.
    other: Vec<(u32, General)>,
}

/// A feature of no simpler form.
#[derive(Debug)]
enum General {
    /// 1 when the condition holds, else 0.
    Flag(BoolNode),
    /// The expression's value, 0 when missing.
    Expr(NumNode),
}

/// `field contains needle` (or `not contains`) as feature `slot`.
#[derive(Debug)]
struct Contains {
    slot: u32,
    field: StrField,
    needle: Needle,
    negated: bool,
}

/// A field read, times `mul`, over `div`: `Feature::Read` is 1 and 1, a
/// product `c` and 1, a quotient 1 and `c`. Multiplying or dividing by 1 is
/// exact in floating point, so each yields what its expression does.
#[derive(Debug)]
struct Scaled<F> {
    slot: u32,
    field: F,
    mul: f64,
    div: f64,
}

impl<F> Scaled<F> {
    /// As `NumNode::eval`: missing, a division by zero or an overflow is 0.
    /// (A plain read is a count or a duration, always finite.)
    #[inline(always)]
    fn apply(&self, x: Option<f64>) -> f64 {
        match x {
            Some(x) => {
                // The division only where there is one: it is slow, and on
                // the way to the sums.
                let v = if self.div == 1.0 { x * self.mul } else { x * self.mul / self.div };
                if v.is_finite() { v } else { 0.0 }
            }
            None => 0.0,
        }
    }
}

impl Plan {
    fn of(features: &[Feature]) -> Plan {
        let mut plan = Plan::default();
        for (k, f) in features.iter().enumerate() {
            let slot = k as u32;
            let (source, mul, div) = match *f {
                Feature::Read(x) => (x, 1.0, 1.0),
                Feature::Scaled { x, c, divide: false } => (x, c, 1.0),
                Feature::Scaled { x, c, divide: true } => (x, 1.0, c),
                Feature::Segment(id) => {
                    plan.segments.push((slot, id));
                    continue;
                }
                Feature::Contains { field, ref needle, negated } => {
                    plan.contains.push(Contains { slot, field, needle: (**needle).clone(), negated });
                    continue;
                }
                Feature::InSet { set, bit, negated } => {
                    plan.in_set.push((slot, set, bit, negated));
                    continue;
                }
                Feature::Conj(ref atoms) => {
                    plan.conj.push((slot, atoms.clone()));
                    continue;
                }
                Feature::Flag(ref cond) => {
                    plan.other.push((slot, General::Flag(cond.clone())));
                    continue;
                }
                Feature::Expr(ref node) => {
                    plan.other.push((slot, General::Expr(node.clone())));
                    continue;
                }
            };
            match source {
                Source::Num(field) => plan.nums.push(Scaled { slot, field, mul, div }),
                Source::Dur(field) => plan.durs.push(Scaled { slot, field, mul, div }),
                Source::Count(field) => plan.counts.push(Scaled { slot, field, mul, div }),
            }
        }
        plan
    }
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
                other => match Atom::all_of(other) {
                    Some(atoms) => Feature::Conj(atoms),
                    None => Feature::Flag(other.clone()),
                },
            },
            other => Feature::Expr(other.clone()),
        }
    }
}

impl Scorer {
    pub fn new(sc: &Scenario) -> Scorer {
        let mut scorer = Scorer::default();
        let mut texts: Vec<&str> = Vec::new();
        // Each block's features and its predictors' outcomes.
        let mut blocks: Vec<(Vec<u32>, Vec<usize>)> = Vec::new();
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
            match blocks.iter_mut().find(|(b, _)| *b == features) {
                Some((_, rows)) => rows.push(i),
                None => blocks.push((features, vec![i])),
            }
            scorer.cuts.push(Some(p.quantiles.clone().into()));
        }
        scorer.slots = vec![None; sc.outcomes.len()];
        // The odd last row of each block, with its features.
        let mut odd: Vec<(usize, Vec<u32>)> = Vec::new();
        for (features, mut rows) in blocks {
            let run = features
                .first()
                .filter(|&&first| features.iter().copied().eq(first..first + features.len() as u32))
                .copied();
            if rows.len() % 2 == 1 {
                odd.extend(rows.pop().map(|o| (o, features.clone())));
            }
            let pairs: Vec<[Option<usize>; 2]> = rows.chunks(2).map(|r| [Some(r[0]), r.get(1).copied()]).collect();
            let chunks = scorer.chunks(sc, &pairs, features.len()).into_iter().map(|(c, _)| c).collect();
            scorer.blocks.push(Block { features, run, chunks });
        }
        // Odd rows are paired with odd rows of other blocks of as many
        // features (each lane reading its own), rather than each taking a
        // pair of its own with an idle lane.
        odd.sort_by_key(|(_, features)| features.len());
        for group in odd.chunk_by(|a, b| a.1.len() == b.1.len()) {
            let nf = group[0].1.len();
            let pairs: Vec<[Option<usize>; 2]> =
                group.chunks(2).map(|r| [Some(r[0].0), r.get(1).map(|(o, _)| *o)]).collect();
            for (chunk, range) in scorer.chunks(sc, &pairs, nf) {
                let mut gather = Vec::with_capacity(nf * range.len());
                for j in 0..nf {
                    for p in range.clone() {
                        // Pair `p` is rows 2p and 2p + 1 of the group; an empty
                        // second lane reads the first's features, weighted 0.
                        let lane = |l: usize| group.get(2 * p + l).unwrap_or(&group[2 * p]).1[j];
                        gather.push([lane(0), lane(1)]);
                    }
                }
                scorer.cross.push(Cross { chunk, gather });
            }
        }
        scorer.group_needles();
        scorer.plan = Plan::of(&scorer.features);
        scorer
    }

    /// `pairs` (each lane's outcome, if any) of predictors over `nf` features,
    /// in chunks, numbered from the pairs already placed; with each chunk, the
    /// range of `pairs` it holds.
    fn chunks(&mut self, sc: &Scenario, pairs: &[[Option<usize>; 2]], nf: usize) -> Vec<(Chunk, Range<usize>)> {
        let predictor = |o: Option<usize>| o.and_then(|o| sc.outcomes[o].predictor.as_ref());
        let mut chunks = Vec::new();
        let mut start = 0;
        while start < pairs.len() {
            let n = [CHUNK, 2, 1].into_iter().find(|&n| n <= pairs.len() - start).unwrap_or(1);
            let range = start..start + n;
            start += n;
            let chunk = &pairs[range.clone()];
            let mut weights = Vec::with_capacity(nf * n);
            for j in 0..nf {
                for pair in chunk {
                    weights.push(pair.map(|o| predictor(o).map_or(0.0, |p| p.features[j].weight)));
                }
            }
            let first = self.bias.len() as u32;
            for pair in chunk {
                let slot = self.bias.len() as u32 * 2;
                for (l, o) in pair.iter().enumerate() {
                    if let Some(o) = o {
                        self.slots[*o] = Some(slot + l as u32);
                    }
                }
                self.bias.push(pair.map(|o| predictor(o).map_or(0.0, |p| p.bias)));
            }
            chunks.push((Chunk { first, pairs: n as u32, weights }, range));
        }
        chunks
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

    /// How many pairs of predictors a session keeps scores for.
    pub fn pairs(&self) -> usize {
        self.bias.len()
    }

    /// Outcome `i`'s log-odds in a session's `scores` (none without a predictor).
    #[inline]
    pub fn logit(&self, scores: &[LogitPair], i: usize) -> Logit {
        self.slots[i].map_or_else(Logit::default, |slot| scores[slot as usize / 2].get(slot as usize % 2))
    }

    /// Outcome `i`'s quantile cut points, if it has a predictor.
    pub fn cuts(&self, i: usize) -> Option<&[f64]> {
        self.cuts[i].as_deref()
    }

    /// Every feature's value at the current event, into `scratch`.
    #[inline]
    pub fn features<C: Context + ?Sized>(&self, ctx: &C, scratch: &mut Scratch) {
        let Scratch { x, found, .. } = scratch;
        // Sized at the first event; every later one only overwrites.
        if x.len() != self.features.len() || found.len() != self.sets.len() {
            x.resize(self.features.len(), 0.0);
            found.resize(self.sets.len(), None);
        }
        for (found, set) in found.iter_mut().zip(&self.sets) {
            *found = ctx.str_field(set.field).map(|text| {
                set.automaton.find_overlapping_iter(text).fold(0u64, |mask, m| mask | 1 << m.pattern().as_u32())
            });
        }
        let plan = &self.plan;
        for s in &plan.nums {
            x[s.slot as usize] = s.apply(ctx.num_field(s.field));
        }
        for s in &plan.durs {
            x[s.slot as usize] = s.apply(ctx.dur_field(s.field).map(|ms| ms as f64));
        }
        for s in &plan.counts {
            x[s.slot as usize] = s.apply(Some(f64::from(ctx.count(s.field))));
        }
        for &(slot, id) in &plan.segments {
            x[slot as usize] = flag(ctx.segment(id));
        }
        for &(slot, set, bit, negated) in &plan.in_set {
            x[slot as usize] = found[set as usize].map_or(0.0, |mask| flag((mask >> bit & 1 == 1) != negated));
        }
        for (slot, atoms) in &plan.conj {
            x[*slot as usize] = flag(atoms.iter().all(|a| a.holds(ctx)));
        }
        for c in &plan.contains {
            x[c.slot as usize] = ctx.str_field(c.field).map_or(0.0, |text| flag(c.needle.is_in(text) != c.negated));
        }
        for (slot, general) in &plan.other {
            x[*slot as usize] = match general {
                General::Flag(cond) => flag(cond.eval(ctx)),
                General::Expr(node) => node.eval(ctx).unwrap_or(0.0),
            };
        }
    }

    /// Every predictor's log-odds from the features' values in `scratch`, into
    /// the session's `scores`.
    #[inline]
    pub fn update(&self, scratch: &mut Scratch, scores: &mut [LogitPair]) {
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
            for c in &b.chunks {
                let first = c.first as usize;
                let (bias, scores) = (&self.bias[first..], &mut scores[first..]);
                match c.pairs {
                    4 => advance::<4>(&c.weights, xs, bias, scores),
                    2 => advance::<2>(&c.weights, xs, bias, scores),
                    _ => advance::<1>(&c.weights, xs, bias, scores),
                }
            }
        }
        for Cross { chunk: c, gather } in &self.cross {
            let first = c.first as usize;
            let (bias, scores) = (&self.bias[first..], &mut scores[first..]);
            match c.pairs {
                4 => advance_cross::<4>(&c.weights, x, gather, bias, scores),
                2 => advance_cross::<2>(&c.weights, x, gather, bias, scores),
                _ => advance_cross::<1>(&c.weights, x, gather, bias, scores),
            }
        }
    }
}

/// `N` pairs' log-odds: each sum from -0.0 in its feature order, then the bias
/// added, as `bias + Iterator::sum` computes it.
#[inline(always)]
fn advance<const N: usize>(weights: &[[f64; 2]], xs: &[f64], bias: &[[f64; 2]], scores: &mut [LogitPair]) {
    let mut sum = [[-0.0f64; 2]; N];
    for (w, &v) in weights.chunks_exact(N).zip(xs) {
        for (sum, w) in sum.iter_mut().zip(w) {
            sum[0] += w[0] * v;
            sum[1] += w[1] * v;
        }
    }
    finish(sum, bias, scores);
}

/// As [`advance`], for pairs whose lanes read features of their own: lane
/// `l` of a pair reads feature `gather[..][l]` of `x`, ordered as `weights`.
#[inline(always)]
fn advance_cross<const N: usize>(
    weights: &[[f64; 2]],
    x: &[f64],
    gather: &[[u32; 2]],
    bias: &[[f64; 2]],
    scores: &mut [LogitPair],
) {
    let mut sum = [[-0.0f64; 2]; N];
    for (w, g) in weights.chunks_exact(N).zip(gather.chunks_exact(N)) {
        for ((sum, w), [a, b]) in sum.iter_mut().zip(w).zip(g) {
            sum[0] += w[0] * x[*a as usize];
            sum[1] += w[1] * x[*b as usize];
        }
    }
    finish(sum, bias, scores);
}

#[inline(always)]
fn finish<const N: usize>(sum: [[f64; 2]; N], bias: &[[f64; 2]], scores: &mut [LogitPair]) {
    for ((score, sum), bias) in scores[..N].iter_mut().zip(sum).zip(&bias[..N]) {
        score.update([bias[0] + sum[0], bias[1] + sum[1]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use crate::dsl::fields::StrField;
    use crate::dsl::tests::TestCtx;

    /// A context with a pageview count, and a time on page and URL if given.
    /// The pageviews also count as `count(page_viewed)`, and from 4 on the
    /// visitor is in segment `seg`.
    fn at(pageviews: f64, on_page_ms: Option<i64>, url: Option<&str>) -> TestCtx {
        let mut ctx = TestCtx::default();
        ctx.nums.insert(NumField::SessionPageviews, pageviews);
        ctx.counts.insert(CountSlot(0), pageviews as u32);
        if pageviews > 3.0 {
            ctx.segments.push(SegmentId(0));
        }
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
        g: 'session.pageviews + time_on_page / 2s', h: 10s / time_on_page, \
        i: 'session.pageviews > 2 and page.url contains \"/c\"', j: count(page_viewed) / 4, k: 'segment(\"seg\")', \
        l: 'segment(\"seg\") and session.pageviews > 2', m: time_on_page >= 10s, \
        n: 'count(page_viewed) > 3 and time_on_page != 0s and segment(\"seg\")'}";

    fn scenario() -> Scenario {
        let text = format!(
            "name: s\nsegments:\n  - {{id: seg, when: session.pageviews > 3}}\noutcomes:\n  - id: o\n    \
             achieved_when: event.name == \"buy\"\n    predictor:\n      features: {FEATURES}\n      \
             weights: {{a: 0.5, b: -0.25, c: 1, d: 0.125, e: 1, f: 2, g: 0.5, h: 3, i: -2, j: 0.75, k: 1.5, l: 0.5, m: -1, n: 2}}\n      bias: -1\n"
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
        assert!(matches!(scorer.features[8], Feature::Flag(_)));
        assert!(matches!(scorer.features[9], Feature::Scaled { x: Source::Count(_), divide: true, .. }));
        assert!(matches!(scorer.features[10], Feature::Segment(_)));
        assert!(matches!(&scorer.features[11], Feature::Conj(atoms) if atoms.len() == 2));
        assert!(matches!(&scorer.features[12], Feature::Conj(atoms) if atoms.len() == 1));
        assert!(matches!(&scorer.features[13], Feature::Conj(atoms) if atoms.len() == 3));
        assert_eq!(scorer.blocks[0].run, Some(0));
        for (k, ctx) in contexts().into_iter().enumerate() {
            let mut scratch = Scratch::default();
            scorer.features(&ctx, &mut scratch);
            let expected: Vec<f64> = p.features.iter().map(|f| f.node.eval(&ctx).unwrap_or(0.0)).collect();
            assert_eq!(scratch.x, expected);
            // The conjunctions hold in the first context and fail in the second (nothing there).
            match k {
                0 => assert_eq!(expected[11..], [1.0; 3]),
                1 => assert_eq!(expected[11..], [0.0; 3]),
                _ => {}
            }
            let mut scores = vec![LogitPair::default(); scorer.pairs()];
            scorer.update(&mut scratch, &mut scores);
            let z = p.bias + p.features.iter().zip(&expected).map(|(f, v)| f.weight * v).sum::<f64>();
            assert_eq!(scorer.logit(&scores, 0).now(), Some(z));
        }
    }

    fn contexts() -> [TestCtx; 5] {
        [
            at(5.0, Some(20_000), None),
            at(0.0, None, None),
            at(7.0, Some(0), Some("https://x.example/checkout")),
            at(3.0, Some(12_345), Some("https://x.example/a/c")),
            at(1.0, Some(1), Some("https://x.example/b?q=/a")),
        ]
    }

    /// Three predictors over the same four features (one block, an odd pair),
    /// one over two of them in another order (a block whose values are
    /// gathered), two over one feature each (a pair whose lanes read different
    /// features), and four `contains` tests of the URL (a needle set).
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
            ("{a: session.pageviews}", "{a: 0.7}"),
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
        assert_eq!(scorer.blocks.len(), 4);
        // o0 and o1 share a pair; the odd rows pair up by feature count: o4
        // and o5 (one feature each, not the same one), then o2 and o3 alone.
        assert_eq!(scorer.blocks[0].chunks.iter().map(|c| c.pairs).collect::<Vec<_>>(), [1]);
        assert_eq!(scorer.cross.iter().map(|c| c.chunk.pairs).collect::<Vec<_>>(), [1, 1, 1]);
        assert_eq!(scorer.cross[0].gather, [[4, 0]]);
        assert_eq!(scorer.cross[1].gather, [[1, 1], [0, 0]]);
        assert_eq!(scorer.blocks[1].run, None);
        assert_eq!(scorer.sets.len(), 1);
        assert!(scorer.features.iter().all(|f| !matches!(f, Feature::Contains { .. })));
        for ctx in contexts() {
            let mut scratch = Scratch::default();
            scorer.features(&ctx, &mut scratch);
            let mut scores = vec![LogitPair::default(); scorer.pairs()];
            scorer.update(&mut scratch, &mut scores);
            for (i, o) in sc.outcomes.iter().enumerate() {
                let p = o.predictor.as_ref().expect("predictor");
                let z = p.bias + p.features.iter().map(|f| f.weight * f.node.eval(&ctx).unwrap_or(0.0)).sum::<f64>();
                let score = scorer.logit(&scores, i);
                assert_eq!(score.now(), Some(z), "{} at {:?}", o.id, ctx.strs.get(&StrField::PageUrl));
            }
        }
    }

    /// Fifteen predictors over the same features: chunks of 4, 2 and 1 pairs
    /// and an odd one, each predictor with its own exact sum and maximum.
    #[test]
    fn chunks_of_every_size_give_each_predictor_its_own_sum() {
        let mut text = String::from("name: s\noutcomes:\n");
        for i in 0..15 {
            text.push_str(&format!(
                "  - id: o{i}\n    achieved_when: event.name == \"buy\"\n    predictor:\n      \
                 features: {{a: session.pageviews, d: time_on_page / 1s}}\n      \
                 weights: {{a: 0.{i}1, d: -{i}.3}}\n      bias: 0.{i}7\n"
            ));
        }
        let loaded = load_str("s.yaml", &text);
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics.list);
        let sc = loaded.scenario.expect("valid");
        let scorer = Scorer::new(&sc);
        assert_eq!(scorer.blocks[0].chunks.iter().map(|c| c.pairs).collect::<Vec<_>>(), [4, 2, 1]);
        assert_eq!(scorer.cross.len(), 1);
        let mut scores = vec![LogitPair::default(); scorer.pairs()];
        let mut max = [f64::NEG_INFINITY; 15];
        for ctx in contexts() {
            let mut scratch = Scratch::default();
            scorer.features(&ctx, &mut scratch);
            scorer.update(&mut scratch, &mut scores);
            for (i, o) in sc.outcomes.iter().enumerate() {
                let p = o.predictor.as_ref().expect("predictor");
                let z = p.bias + p.features.iter().map(|f| f.weight * f.node.eval(&ctx).unwrap_or(0.0)).sum::<f64>();
                max[i] = max[i].max(z);
                let l = scorer.logit(&scores, i);
                assert_eq!((l.now(), l.max()), (Some(z), Some(max[i])), "o{i}");
            }
        }
    }

    #[test]
    fn the_maximum_keeps_the_highest_log_odds_and_a_new_session_resets_it() {
        let mut l = LogitPair::default();
        assert_eq!((l.get(0).now(), l.get(0).max(), l.get(1).max()), (None, None, None));
        for z in [[-1.0, 5.0], [2.0, -4.0], [0.5, 1.0]] {
            l.update(z);
        }
        assert_eq!((l.get(0).now(), l.get(0).max()), (Some(0.5), Some(2.0)));
        assert_eq!((l.get(1).now(), l.get(1).max()), (Some(1.0), Some(5.0)));
        l = LogitPair::default();
        l.update([-3.0, 7.0]);
        assert_eq!((l.get(0).now(), l.get(0).max()), (Some(-3.0), Some(-3.0)));
        assert_eq!((l.get(1).now(), l.get(1).max()), (Some(7.0), Some(7.0)));
    }
}
