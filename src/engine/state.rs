//! Per-visitor mutable state: what lives for the visitor's lifetime (a few
//! counters, customer-scope segments) and what lives for one session (dropped
//! when the session times out, so memory follows the visitors active at once).

use std::sync::Arc;

use super::changes::Changes;
use crate::clock::SimTime;
use crate::config::model::{ActionMapId, BlockingReason, MediaType, WorkgroupId};
use crate::dsl::{DynValue, Sym};
use crate::events::{CONTEXT_FIELDS, Page};
use crate::random::LazyStream;

/// A visitor's place in the engine while it is active. Places are reused once
/// a visitor goes dormant, so the id carries the place's generation: a timer
/// or a chat outliving the visit then recognises that it is stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VisitorId {
    slot: u32,
    generation: u32,
}

impl VisitorId {
    pub fn new(slot: usize, generation: u32) -> Self {
        VisitorId { slot: slot as u32, generation }
    }

    #[inline]
    pub fn slot(self) -> usize {
        self.slot as usize
    }

    pub fn generation(self) -> u32 {
        self.generation
    }
}

#[derive(Debug)]
pub struct Visitor {
    pub customer: Arc<str>,
    /// Matches the ids handed out for this occupant of the place.
    pub generation: u32,
    pub life: Lifetime,
    pub session: Option<Box<Session>>,
}

/// What outlives a session.
#[derive(Debug)]
pub struct Lifetime {
    pub sessions: u32,
    pub pageviews: u32,
    /// Counters of `visitor.count(...)` patterns.
    pub counts: Box<[u32]>,
    /// When each customer-scope segment was assigned, indexed by
    /// `Rules::customer` (customer-scope segments only: most are session-scope).
    pub customer_segments: Box<[Option<SimTime>]>,
    pub traits: Vec<(Sym, DynValue)>,
    /// Actions qualified with `next_session` activation, due at the next session.
    pub next_session: Vec<ActionMapId>,
}

impl Lifetime {
    /// A first-time visitor's state (the arrays sized by the rules).
    pub fn new(visitor_slots: usize, customer_slots: usize) -> Self {
        Lifetime {
            sessions: 0,
            pageviews: 0,
            counts: vec![0; visitor_slots].into(),
            customer_segments: vec![None; customer_slots].into(),
            traits: Vec::new(),
            next_session: Vec::new(),
        }
    }

    /// Back to a first-time visitor's state, keeping the arrays.
    pub fn clear(&mut self) {
        self.sessions = 0;
        self.pageviews = 0;
        self.counts.fill(0);
        self.customer_segments.fill(None);
        self.traits.clear();
        self.next_session.clear();
    }
}

/// The predictor outputs of one outcome in a session (SPEC §7).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    pub probability: Option<f64>,
    pub max_probability: Option<f64>,
    pub quantile: Option<f64>,
    pub max_quantile: Option<f64>,
}

/// One predictor's linear score (log-odds) now and its maximum in the
/// session. The probability and quantiles are increasing functions of it, so
/// they are computed when read ([`super::rules::Rules::score`]) rather than at
/// every event, where the `exp` was most of a predictor's cost.
///
/// "None yet" is kept as NaN rather than `Option`, so that an update is a store
/// and a comparison. Log-odds are finite:
/// weights and biases are finite numbers and a feature's value always is.
#[derive(Clone, Copy, Debug)]
pub struct Logit {
    now: f64,
    max: f64,
}

impl Default for Logit {
    fn default() -> Self {
        Logit { now: f64::NAN, max: f64::NAN }
    }
}

impl PartialEq for Logit {
    fn eq(&self, other: &Self) -> bool {
        (self.now(), self.max()) == (other.now(), other.max())
    }
}

impl Logit {
    /// The log-odds at the last event of the session (`None` before any).
    pub fn now(&self) -> Option<f64> {
        (!self.now.is_nan()).then_some(self.now)
    }

    /// The highest log-odds so far in the session.
    pub fn max(&self) -> Option<f64> {
        (!self.max.is_nan()).then_some(self.max)
    }
}

/// What a session keeps of two predictors that the scorer updates together
/// ([`super::scorer::Scorer`] decides which): lane by lane, a [`Logit`]. The
/// lanes' values are side by side so that both are stored and compared at
/// once (one vector instruction each).
///
/// The maximum starts at -inf rather than NaN: log-odds are finite, so the
/// first one replaces it, and the update is a plain `max` (SSE2 `maxpd`)
/// with no test for "none yet".
#[derive(Clone, Copy, Debug)]
pub struct LogitPair {
    now: [f64; 2],
    max: [f64; 2],
}

impl Default for LogitPair {
    fn default() -> Self {
        LogitPair { now: [f64::NAN; 2], max: [f64::NEG_INFINITY; 2] }
    }
}

impl LogitPair {
    /// Lane `lane` (0 or 1).
    #[inline]
    pub fn get(&self, lane: usize) -> Logit {
        let max = self.max[lane];
        Logit { now: self.now[lane], max: if max == f64::NEG_INFINITY { f64::NAN } else { max } }
    }

    /// Each lane's log-odds at a new event.
    #[inline(always)]
    pub fn update(&mut self, z: [f64; 2]) {
        self.now = z;
        for (max, z) in self.max.iter_mut().zip(z) {
            *max = if z > *max { z } else { *max };
        }
    }
}

/// Where an action map stands in the current session.
#[derive(Clone, Debug, PartialEq)]
pub enum MapState {
    /// Not qualified in this session.
    Idle,
    /// Qualified, waiting to be offered; `blocked` is the last reason written.
    Pending { due: Due, blocked: Option<BlockingReason> },
    /// Offered and not answered yet.
    Offered { offer: u32, at: SimTime, target: Option<WorkgroupId> },
    /// An accepted chat that has not finished (a what-if workgroup's never do).
    InChat { target: WorkgroupId },
    /// Qualified for the next session, answered, timed out or fired: done for this session.
    Done,
}

/// The action maps' states in one session, kept only for the maps that left
/// `Idle`: a session touches a few of a scenario's maps, and a dense array of
/// 40-byte states per map was a third of a replay's peak memory (50 maps ×
/// 7,000 open sessions at 1M events). Reads of a map never touched give `Idle`;
/// a write adds the map. Iteration is in map order.
#[derive(Clone, Debug, Default)]
pub struct MapStates {
    /// (map index, state), ascending by index.
    entries: Vec<(u32, MapState)>,
}

static IDLE: MapState = MapState::Idle;

impl MapStates {
    /// The maps this session has touched, with their states, in map order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &MapState)> {
        self.entries.iter().map(|(i, m)| (*i as usize, m))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut MapState)> {
        self.entries.iter_mut().map(|(i, m)| (*i as usize, m))
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl std::ops::Index<usize> for MapStates {
    type Output = MapState;

    #[inline]
    fn index(&self, map: usize) -> &MapState {
        match self.entries.binary_search_by_key(&(map as u32), |(i, _)| *i) {
            Ok(k) => &self.entries[k].1,
            Err(_) => &IDLE,
        }
    }
}

impl std::ops::IndexMut<usize> for MapStates {
    /// The map's state, added as `Idle` if the session had not touched it.
    #[inline]
    fn index_mut(&mut self, map: usize) -> &mut MapState {
        let k = match self.entries.binary_search_by_key(&(map as u32), |(i, _)| *i) {
            Ok(k) => k,
            Err(k) => {
                self.entries.insert(k, (map as u32, MapState::Idle));
                k
            }
        };
        &mut self.entries[k].1
    }
}

/// When a pending action is due to be gated.
#[derive(Clone, Debug, PartialEq)]
pub enum Due {
    /// Gated at every tracking event (and was due at some point).
    Now,
    /// A delay running: due at that time if the visitor is still on the
    /// page's URL (`None`: it qualified before any pageview, so any page will
    /// do). The page is shared with the event, not copied.
    At(SimTime, Option<Arc<Page>>),
    /// The delay expired while the visitor was elsewhere: due on return to the page's URL.
    OnReturn(Arc<Page>),
}

/// Per-media-type index for the offer bookkeeping (webhooks have none).
pub fn media_slot(media: MediaType) -> Option<usize> {
    match media {
        MediaType::Webchat => Some(0),
        MediaType::ContentOffer => Some(1),
        MediaType::WebMessaging => Some(2),
        MediaType::Webhook => None,
    }
}

#[derive(Debug)]
pub struct Session {
    pub number: u32,
    pub start: SimTime,
    pub last_event: SimTime,
    /// The time the session-end timer is set for, if one is pending.
    pub end_timer: Option<SimTime>,
    pub events: u32,
    pub pageviews: u32,
    pub page: Option<std::sync::Arc<Page>>,
    pub page_since: SimTime,
    /// Latest visit context, indexed like `CONTEXT_FIELDS`; only the slots
    /// whose bit is set in `context_set` belong to this session. The others
    /// keep an earlier session's text, so that a recycled session compares the
    /// snippet's repeated context instead of allocating it again.
    pub context: [Option<Arc<str>>; CONTEXT_FIELDS.len()],
    pub context_set: u32,
    pub authenticated: Option<bool>,
    /// Counters of session-scope `count(...)` patterns.
    pub counts: Box<[u32]>,
    /// Session-scope segments assigned in this session.
    pub segments: Box<[bool]>,
    pub outcomes: Box<[bool]>,
    /// The predictors' log-odds, in the scorer's pairs ([`super::scorer::Scorer::logit`]).
    pub scores: Box<[LogitPair]>,
    pub maps: MapStates,
    /// False only when no map is `Pending`: lets an event skip scanning the
    /// maps (set whenever one becomes pending, cleared by a scan that finds none).
    pub maybe_pending: bool,
    /// Changes made late in the last event's steps, which conditions evaluated
    /// before them have not seen yet ([`super::changes`]); everything in a new session.
    pub carry: Changes,
    /// The local weekday and hour of the last event (`weekday * 24 + hour`).
    pub clock: u32,
    /// The action map with an open offer (or unfinished chat), per media slot.
    pub open: [Option<ActionMapId>; 3],
    /// A chat of this session reached an agent (frequency cap `after_conversation`).
    pub engaged: bool,
    pub rejected: [bool; 3],
    pub last_offer: [Option<SimTime>; 3],
    /// Offers made so far, numbering them so stale timers are recognised.
    pub offers: u32,
    /// Tie-breaks and modelled responses, keyed by (seed, visitor, session).
    pub rng: LazyStream,
}

/// The sizes of a session's arrays, from the rules.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub counts: usize,
    pub segments: usize,
    pub outcomes: usize,
    /// The scorer's pairs of predictors.
    pub score_pairs: usize,
    pub maps: usize,
}

impl Session {
    /// Session `number`, starting at `now`.
    pub fn new(shape: Shape, number: u32, now: SimTime, end: SimTime, rng: LazyStream) -> Self {
        Session {
            number,
            start: now,
            last_event: now,
            end_timer: Some(end),
            events: 0,
            pageviews: 0,
            page: None,
            page_since: now,
            context: Default::default(),
            context_set: 0,
            authenticated: None,
            counts: vec![0; shape.counts].into(),
            segments: vec![false; shape.segments].into(),
            outcomes: vec![false; shape.outcomes].into(),
            scores: vec![LogitPair::default(); shape.score_pairs].into(),
            maps: MapStates::default(),
            maybe_pending: false,
            carry: Changes::ALL,
            clock: u32::MAX,
            open: [None; 3],
            engaged: false,
            rejected: [false; 3],
            last_offer: [None; 3],
            offers: 0,
            rng,
        }
    }

    /// Makes an ended session's block the start of session `number`, as a new one would be.
    pub fn reset(&mut self, number: u32, now: SimTime, end: SimTime, rng: LazyStream) {
        self.number = number;
        self.start = now;
        self.last_event = now;
        self.end_timer = Some(end);
        self.events = 0;
        self.pageviews = 0;
        self.page = None;
        self.page_since = now;
        self.context_set = 0;
        self.authenticated = None;
        self.counts.fill(0);
        self.segments.fill(false);
        self.outcomes.fill(false);
        self.scores.fill(LogitPair::default());
        self.maps.clear();
        self.maybe_pending = false;
        self.carry = Changes::ALL;
        self.clock = u32::MAX;
        self.open = [None; 3];
        self.engaged = false;
        self.rejected = [false; 3];
        self.last_offer = [None; 3];
        self.offers = 0;
        self.rng.renew(rng);
    }

    /// The visit-context value in `slot`, if this session has one.
    #[inline]
    pub fn context(&self, slot: usize) -> Option<&str> {
        if self.context_set & (1 << slot) != 0 { self.context[slot].as_deref() } else { None }
    }

    /// Sets a visit-context value; an unchanged text is kept, not copied.
    /// Returns whether what conditions read of the slot changed.
    #[inline]
    pub fn set_context(&mut self, slot: usize, value: &Option<Arc<str>>) -> bool {
        let was_set = self.context_set & (1 << slot) != 0;
        self.context_set |= 1 << slot;
        let same = match (&self.context[slot], value) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.context[slot].clone_from(value);
        }
        !same || !was_set
    }

    /// When inactivity ends the session: `timeout` after its last tracking event
    /// (SPEC §6 step 1). A chat still running goes on in the contact center.
    pub fn ends_at(&self, timeout: crate::config::model::Millis) -> SimTime {
        self.last_event.plus(timeout)
    }
}

const _: () = assert!(CONTEXT_FIELDS.len() <= 32, "context_set is a u32 bit set");

#[cfg(test)]
mod tests {
    use super::LogitPair;

    #[test]
    fn logit_pair_has_no_value_before_the_first_event() {
        let pair = LogitPair::default();
        for lane in 0..2 {
            assert!(pair.get(lane).now.is_nan());
            assert!(pair.get(lane).max.is_nan(), "the -inf start must read as 'none'");
        }
    }

    #[test]
    fn logit_pair_max_never_decreases_and_lanes_are_independent() {
        let mut pair = LogitPair::default();
        pair.update([-3.0, 2.0]);
        assert_eq!((pair.get(0).max, pair.get(1).max), (-3.0, 2.0));
        pair.update([1.5, -7.0]);
        assert_eq!((pair.get(0).now, pair.get(1).now), (1.5, -7.0));
        assert_eq!((pair.get(0).max, pair.get(1).max), (1.5, 2.0));
        pair.update([-1.0, -1.0]);
        assert_eq!((pair.get(0).max, pair.get(1).max), (1.5, 2.0));
        pair = LogitPair::default();
        assert!(pair.get(0).max.is_nan(), "a new session starts with no maximum");
    }
}
