//! Indices precomputed from a scenario once, shared read-only by every visitor:
//! where each counter lives, which counters an event name bumps, segment scopes.

use rustc_hash::FxHashMap;

use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::Scope;
use crate::dsl::Sym;
use crate::dsl::ast::CountScope;

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
    pub counts_by_event: FxHashMap<Sym, Vec<u32>>,
    /// Counters of `count(*...)`: every event may bump them.
    pub counts_any: Vec<u32>,
    /// Visit-context slot of each text field, by `StrField` index.
    pub context_slot: Vec<Option<u8>>,
    /// Customer-scope segments: how long an assignment lasts (`None`: forever).
    pub customer_expiry: Vec<Option<Option<i64>>>,
}

impl Rules {
    pub fn new(sc: &Scenario) -> Self {
        let mut slots = Vec::with_capacity(sc.counts.len());
        let (mut session_slots, mut visitor_slots) = (0u32, 0u32);
        let mut counts_by_event: FxHashMap<Sym, Vec<u32>> = FxHashMap::default();
        let mut counts_any = Vec::new();
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
        let customer_expiry = sc
            .segments
            .iter()
            .map(|s| match s.scope {
                Scope::Session => None,
                Scope::Customer => Some(s.expires_after_days.map(|d| i64::from(d) * 86_400_000)),
            })
            .collect();
        Rules {
            slots,
            session_slots: session_slots as usize,
            visitor_slots: visitor_slots as usize,
            counts_by_event,
            counts_any,
            context_slot: context_slots(),
            customer_expiry,
        }
    }

    /// Whether customer-scope segment `i` is assigned to the visitor at `now`.
    #[inline]
    pub fn segment_live(&self, life: &Lifetime, i: usize, now: SimTime) -> bool {
        match (self.customer_expiry[i], life.customer_segments[i]) {
            (Some(expiry), Some(at)) => expiry.is_none_or(|ms| now.0 < at.0 + ms),
            _ => false,
        }
    }

    pub fn is_customer_scope(&self, i: usize) -> bool {
        self.customer_expiry[i].is_some()
    }
}
