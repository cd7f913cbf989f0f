//! Indices precomputed from a scenario once, shared read-only by every visitor:
//! where each counter lives, which counters an event name bumps, segment scopes.

use rustc_hash::FxHashMap;

use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::Scope;
use crate::dsl::ast::CountScope;
use crate::dsl::eval::{LitTest, StrNode};
use crate::dsl::{BoolNode, SegmentId, Sym};

use super::changes::{self, Changes};
use super::context::context_slots;
use super::state::Lifetime;

/// Where a `count(...)` counter is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRef {
    Session(u32),
    Visitor(u32),
}

#[derive(Debug)]
pub struct Rules {
    pub slots: Vec<SlotRef>,
    pub session_slots: usize,
    pub visitor_slots: usize,
    /// Counters an event of a given (interned) name may bump.
    pub counts_by_event: FxHashMap<Sym, PatternSet>,
    /// Counters of `count(*...)`: every event may bump them.
    pub counts_any: PatternSet,
    /// Visit-context slot of each text field, by `StrField` index.
    pub context_slot: Vec<Option<u8>>,
    /// Per segment: where a customer-scope one keeps its assignment
    /// (`None`: session scope).
    pub customer: Vec<Option<CustomerSegment>>,
    pub customer_slots: usize,
    /// The sizes of every session's arrays.
    pub session_shape: super::state::Shape,
    /// Which outcomes, segments (by position in dependency order) and action
    /// maps an event of a given name can make true.
    pub outcomes_by_event: EventIndex,
    pub segments_by_event: EventIndex,
    pub maps_by_event: EventIndex,
    /// Every action map, for `explain`, which shows them all.
    pub every_map: Box<[u32]>,
    /// What can flip each outcome, segment (by position in dependency order)
    /// and trigger ([`super::changes`]).
    pub outcome_reads: Vec<Changes>,
    pub segment_reads: Vec<Changes>,
    pub map_reads: Vec<Changes>,
    /// Customer-scope segments whose assignments expire: (segment, slot, lifetime in ms).
    pub expiring: Vec<(SegmentId, u32, i64)>,
    /// The outcomes' predictors.
    pub scorer: super::scorer::Scorer,
}

/// A customer-scope segment's place in `Lifetime::customer_segments`, and how
/// long an assignment lasts (`None`: forever).
#[derive(Clone, Copy, Debug)]
pub struct CustomerSegment {
    pub slot: u32,
    pub expiry_ms: Option<i64>,
}

/// The logistic function: a probability from log-odds.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Items (by index, ascending) that an event of a given name can make true:
/// those pinned to that name plus those any event may affect, merged once at
/// load so that an event walks one list.
#[derive(Debug, Default)]
pub struct EventIndex {
    pinned: FxHashMap<Sym, Box<[u32]>>,
    any: Box<[u32]>,
}

impl EventIndex {
    pub fn build<'a>(conditions: impl Iterator<Item = &'a crate::dsl::BoolNode>) -> Self {
        let mut pinned: FxHashMap<Sym, Vec<u32>> = FxHashMap::default();
        let mut any = Vec::new();
        for (i, c) in conditions.enumerate() {
            match c.required_events() {
                Some(names) => names.into_iter().for_each(|n| pinned.entry(n).or_default().push(i as u32)),
                None => any.push(i as u32),
            }
        }
        let pinned = pinned
            .into_iter()
            .map(|(name, mut items)| {
                items.extend_from_slice(&any);
                items.sort_unstable();
                items.dedup();
                (name, items.into_boxed_slice())
            })
            .collect();
        EventIndex { pinned, any: any.into_boxed_slice() }
    }

    /// The candidates for an event named `name`, in ascending index order.
    pub fn for_event(&self, name: Sym) -> &[u32] {
        self.pinned.get(&name).unwrap_or(&self.any)
    }
}

/// The `count(...)` patterns an event of one name may bump, by how their
/// `where` is tested.
#[derive(Debug, Default)]
pub struct PatternSet {
    /// No `where`: every such event bumps them.
    pub always: Box<[u32]>,
    /// A `where` tested in full.
    pub general: Box<[u32]>,
    /// A `where` that is one text against a literal, grouped by the text: it is
    /// read once per event, and each literal tested inline.
    pub literal: Box<[(StrNode, LiteralTests)]>,
}

/// Literal tests of one text, each with the counter it bumps.
pub type LiteralTests = Box<[(LitTest, u32)]>;

impl PatternSet {
    fn new<'a>(patterns: impl Iterator<Item = (u32, Option<&'a BoolNode>)>) -> Self {
        let (mut always, mut general) = (Vec::new(), Vec::new());
        let mut literal: Vec<(StrNode, Vec<(LitTest, u32)>)> = Vec::new();
        for (slot, cond) in patterns {
            let Some(cond) = cond else {
                always.push(slot);
                continue;
            };
            match cond.as_literal_test() {
                Some((text, test)) => match literal.iter_mut().find(|(t, _)| t == text) {
                    Some((_, tests)) => tests.push((test, slot)),
                    None => literal.push((text.clone(), vec![(test, slot)])),
                },
                None => general.push(slot),
            }
        }
        PatternSet {
            always: always.into(),
            general: general.into(),
            literal: literal.into_iter().map(|(text, tests)| (text, tests.into())).collect(),
        }
    }
}

impl Rules {
    pub fn new(sc: &Scenario) -> Self {
        let mut slots = Vec::with_capacity(sc.counts.len());
        let (mut session_slots, mut visitor_slots) = (0u32, 0u32);
        let mut counts_by_event: FxHashMap<Sym, Vec<u32>> = FxHashMap::default();
        let mut counts_any = Vec::new();
        let sets = |slots: &[u32]| PatternSet::new(slots.iter().map(|&i| (i, sc.counts[i as usize].cond.as_ref())));
        for (i, c) in sc.counts.iter().enumerate() {
            slots.push(match c.scope {
                CountScope::Session => {
                    session_slots += 1;
                    SlotRef::Session(session_slots - 1)
                }
                CountScope::Visitor => {
                    visitor_slots += 1;
                    SlotRef::Visitor(visitor_slots - 1)
                }
            });
            match c.event {
                Some(sym) => counts_by_event.entry(sym).or_default().push(i as u32),
                None => counts_any.push(i as u32),
            }
        }
        let mut customer_slots = 0;
        let customer: Vec<Option<CustomerSegment>> = sc
            .segments
            .iter()
            .map(|s| {
                (s.scope == Scope::Customer).then(|| {
                    customer_slots += 1;
                    CustomerSegment {
                        slot: customer_slots - 1,
                        expiry_ms: s.expires_after_days.map(|d| i64::from(d) * 86_400_000),
                    }
                })
            })
            .collect();
        let expiring: Vec<(SegmentId, u32, i64)> = customer
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((SegmentId(i as u32), c.as_ref()?.slot, c.as_ref()?.expiry_ms?)))
            .collect();
        let scorer = super::scorer::Scorer::new(sc);
        Rules {
            session_shape: super::state::Shape {
                counts: session_slots as usize,
                segments: sc.segments.len(),
                outcomes: sc.outcomes.len(),
                score_pairs: scorer.pairs(),
                maps: sc.action_maps.len(),
            },
            scorer,
            customer,
            customer_slots: customer_slots as usize,
            outcomes_by_event: EventIndex::build(sc.outcomes.iter().map(|o| &o.achieved_when.node)),
            segments_by_event: EventIndex::build(sc.segment_order.iter().map(|id| &sc.segment(*id).when.node)),
            maps_by_event: EventIndex::build(sc.action_maps.iter().map(|m| &m.trigger.node)),
            every_map: (0..sc.action_maps.len() as u32).collect(),
            outcome_reads: sc.outcomes.iter().map(|o| changes::reads(&o.achieved_when.node, false)).collect(),
            // A lapsed assignment changes the segment itself: it is open again.
            segment_reads: sc
                .segment_order
                .iter()
                .map(|id| {
                    let lapses = expiring.iter().any(|(e, ..)| e == id);
                    changes::reads(&sc.segment(*id).when.node, false)
                        | if lapses { Changes::segment(*id) } else { Changes::NONE }
                })
                .collect(),
            // A map that opens at `start` was not evaluated before it: it cannot wait for a change.
            map_reads: sc.action_maps.iter().map(|m| changes::reads(&m.trigger.node, m.start.is_some())).collect(),
            expiring,
            slots,
            session_slots: session_slots as usize,
            visitor_slots: visitor_slots as usize,
            counts_by_event: counts_by_event.iter().map(|(name, slots)| (*name, sets(slots))).collect(),
            counts_any: sets(&counts_any),
            context_slot: context_slots(),
        }
    }

    /// Whether customer-scope segment `i` is assigned to the visitor at `now`.
    #[inline]
    pub fn segment_live(&self, life: &Lifetime, i: usize, now: SimTime) -> bool {
        let Some(c) = self.customer[i] else { return false };
        life.customer_segments[c.slot as usize].is_some_and(|at| c.expiry_ms.is_none_or(|ms| now.0 < at.0 + ms))
    }

    /// Outcome `i`'s quantile at log-odds `z` (`None` without cut points).
    #[inline]
    pub fn quantile(&self, i: usize, z: Option<f64>) -> Option<f64> {
        super::quantile_of(self.scorer.cuts(i)?, sigmoid(z?))
    }

    /// What conditions read of outcome `i`'s predictor in a session.
    pub fn score(&self, i: usize, logit: &super::state::Logit) -> super::state::Score {
        super::state::Score {
            probability: logit.now().map(sigmoid),
            max_probability: logit.max().map(sigmoid),
            quantile: self.quantile(i, logit.now()),
            max_quantile: self.quantile(i, logit.max()),
        }
    }
}
