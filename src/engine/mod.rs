//! The decision engine (SPEC §6 steps 1–8): sessions, counters, outcomes,
//! segments, scores, qualification, the offer gate and offer responses.
//!
//! The engine owns per-visitor state and reads availability only through
//! [`Snapshots`]. It does not keep a clock: the simulator calls
//! [`Engine::on_event`] and [`Engine::on_timer`] in time order, and the engine
//! asks for timers and hands out decisions through a [`Sink`].

pub mod changes;
pub mod context;
pub mod decision;
pub mod dormant;
pub mod gates;
pub mod rules;
pub mod scorer;
pub mod state;

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::availability::Snapshots;
use crate::clock::{Local, LocalClock, SimTime};
use crate::config::Scenario;
use crate::config::model::{ActionMapId, ActionState, Activation, MediaType, Persona, ResponseState, WorkgroupId};
use crate::dsl::{CountSlot, OutcomeId, SegmentId};
use crate::events::{Event, EventKind, LineError, TrackEvent};
use crate::random;

use changes::Changes;
use context::EvalCtx;
pub use decision::{Decision, DecisionKind, Seen};
pub use gates::Gate;
use gates::{GateInput, offer_gate};
use rules::Rules;
pub use state::Score;
pub use state::VisitorId;
use state::{Due, Lifetime, MapState, Session, Visitor, media_slot};

/// Something the engine wants to happen later.
#[derive(Clone, Debug, PartialEq)]
pub struct Timer {
    pub visitor: VisitorId,
    pub session: u32,
    pub kind: TimerKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TimerKind {
    /// Inactivity may have ended the session.
    SessionEnd,
    /// A `{delay: d}` activation is due.
    DelayDue(ActionMapId),
    /// An offer still unanswered becomes `timedout`.
    OfferTimeout { map: ActionMapId, offer: u32 },
    /// The response model's answer to an offer.
    Respond { map: ActionMapId, offer: u32, state: ResponseState },
}

/// A chat accepted by a visitor, for the contact center to queue.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    pub visitor: VisitorId,
    pub customer: Arc<str>,
    pub session: u32,
    pub map: ActionMapId,
    pub target: WorkgroupId,
}

/// Where the engine's output goes.
pub trait Sink {
    fn decision(&mut self, d: Decision);
    fn schedule(&mut self, at: SimTime, timer: Timer);
    /// An accepted chat is to enter its workgroup's queue (a fixed, what-if
    /// workgroup takes it no further).
    fn chat_started(&mut self, _at: SimTime, _chat: ChatRequest) {}
    /// A session ended (for per-session statistics).
    fn session_ended(&mut self, _end: &SessionEnd) {}
    /// The predictor features of the recorded outcome at an event before it
    /// was achieved (`pesim train`), in the predictor's feature order.
    fn features(&mut self, _customer: &Arc<str>, _session: u32, _values: &[f64]) {}
}

/// What a finished session achieved.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionEnd<'a> {
    pub customer: &'a Arc<str>,
    pub session: u32,
    pub at: SimTime,
    /// A chat of the session reached an agent.
    pub engaged: bool,
    /// Indexed by outcome.
    pub outcomes: &'a [bool],
}

/// What happened to a queued chat, reported back by the contact center.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatEvent {
    Engaged,
    Abandoned,
    Completed,
}

/// How offers get answered when the input records no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Responses {
    /// Only recorded `actionEvent`s answer; the rest time out.
    Recorded,
    /// The persona response model answers too (recorded answers still count).
    Model,
}

/// What `explain` sees of one event.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Each action map's trigger: `None` when it was not evaluated (already
    /// qualified, inactive or outside its window).
    pub triggers: Vec<(ActionMapId, Option<bool>)>,
    /// Gate results of the actions gated at this event.
    pub gates: Vec<(ActionMapId, Vec<(Gate, bool)>)>,
}

/// Ended sessions' blocks: the boxes move in and out of `Visitor::session` without copying.
type Spare = Vec<Box<Session>>;

pub struct Engine<'s> {
    pub sc: &'s Scenario,
    /// The seed all of this run's draws derive from (the scenario's, or a case's).
    pub seed: u64,
    /// Shared by the shards of one run ([`Engine::sibling`]).
    rules: Arc<Rules>,
    /// Active visitors: those with a session, or with a place not yet retired.
    index: FxHashMap<Arc<str>, VisitorId>,
    visitors: Vec<Visitor>,
    /// Places of retired visitors, for new ones.
    free: Vec<u32>,
    /// Retired visitors' lifetime figures.
    dormant: dormant::Store,
    /// The id a free place holds (no allocation per retirement).
    no_customer: Arc<str>,
    clock: LocalClock,
    responses: Responses,
    /// Visitors with an open session.
    active: usize,
    trace_visitor: Option<VisitorId>,
    trace: Option<Trace>,
    /// Report this outcome's predictor features at every event (`pesim train`).
    pub record_features: Option<OutcomeId>,
    /// Added to every event's changes: [`Changes::ALL`] evaluates every open
    /// condition at every event ([`Engine::evaluate_every_condition`]).
    forced: Changes,
    /// Reused per event, so the steady state allocates nothing.
    scratch: Vec<u32>,
    /// The actions being gated (step 7), reused likewise.
    due: Vec<ActionMapId>,
    /// Ended sessions' blocks, for the next sessions to reuse; one pool for all
    /// the shards of a run ([`Engine::sibling`]), so that together they keep no
    /// more sessions than the run's peak of visitors at once, where a pool per
    /// shard would keep the sum of each shard's own peak.
    spare: Arc<std::sync::Mutex<Spare>>,
    /// What scoring an event reuses from the last.
    scoring: scorer::Scratch,
    /// The recorded features' values at an event (`record_features`), reused.
    recorded: Vec<f64>,
}

impl<'s> Engine<'s> {
    pub fn new(sc: &'s Scenario, responses: Responses, seed: u64) -> Self {
        Self::with_rules(sc, Arc::new(Rules::new(sc)), responses, seed)
    }

    /// An engine with no visitors that shares this one's compiled rules and
    /// settings: a shard of the same run (`crate::sim`).
    pub fn sibling(&self) -> Self {
        let mut e = Self::with_rules(self.sc, self.rules.clone(), self.responses, self.seed);
        e.spare = self.spare.clone();
        e.record_features = self.record_features;
        e.forced = self.forced;
        e
    }

    fn with_rules(sc: &'s Scenario, rules: Arc<Rules>, responses: Responses, seed: u64) -> Self {
        Engine {
            sc,
            seed,
            index: FxHashMap::default(),
            visitors: Vec::new(),
            free: Vec::new(),
            dormant: dormant::Store::new(rules.visitor_slots, rules.customer_slots),
            rules,
            no_customer: Arc::from(""),
            clock: LocalClock::new(sc.timezone.clone()),
            responses,
            active: 0,
            trace_visitor: None,
            trace: None,
            record_features: None,
            forced: Changes::NONE,
            scratch: Vec::new(),
            due: Vec::new(),
            spare: Arc::default(),
            scoring: scorer::Scratch::default(),
            recorded: Vec::new(),
        }
    }

    /// Turns off the skipping of conditions whose inputs did not change
    /// ([`changes`]): every open condition is evaluated at every event. The
    /// decisions are the same; tests compare the two.
    pub fn evaluate_every_condition(&mut self) {
        self.forced = Changes::ALL;
    }

    /// Records a [`Trace`] for every event of `customer` (for `explain`).
    pub fn trace_customer(&mut self, customer: &str) {
        let id = self.visitor_id(&Arc::from(customer));
        self.trace_visitor = Some(id);
    }

    /// The trace of the last event, if it was the traced visitor's.
    pub fn take_trace(&mut self) -> Option<Trace> {
        self.trace.take()
    }

    /// Distinct visitors seen: active and dormant.
    pub fn visitor_count(&self) -> usize {
        self.index.len() + self.dormant.len()
    }

    /// Visitors whose session is open now.
    pub fn active_sessions(&self) -> usize {
        self.active
    }

    pub fn customer(&self, v: VisitorId) -> &Arc<str> {
        &self.visitors[v.slot()].customer
    }

    /// The current session of a visitor: number, segments, outcomes, scores (for `explain`).
    pub fn session_view(&self, v: VisitorId) -> Option<SessionView> {
        let vis = &self.visitors[v.slot()];
        let s = vis.session.as_deref()?;
        let now = s.last_event;
        let segments = (0..self.sc.segments.len())
            .filter(|i| s.segments[*i] || self.rules.segment_live(&vis.life, *i, now))
            .map(|i| SegmentId(i as u32))
            .collect();
        let outcomes = (0..self.sc.outcomes.len()).filter(|i| s.outcomes[*i]).map(|i| OutcomeId(i as u32)).collect();
        let scores =
            (0..self.sc.outcomes.len()).map(|i| self.rules.score(i, &self.rules.scorer.logit(&s.scores, i))).collect();
        Some(SessionView { number: s.number, segments, outcomes, scores })
    }

    /// Whether a chat of the customer's current session reached an agent.
    pub fn engaged(&self, customer: &str) -> bool {
        self.visitor_lookup(customer)
            .and_then(|v| self.visitors[v.slot()].session.as_deref())
            .is_some_and(|s| s.engaged)
    }

    pub fn visitor_lookup(&self, customer: &str) -> Option<VisitorId> {
        self.index.get(customer).copied()
    }

    /// Each predictor feature's value and weighted contribution at `ev` (for `explain`).
    pub fn feature_contributions(
        &self,
        v: VisitorId,
        ev: &Event,
        p: &crate::config::model::Predictor,
    ) -> Vec<(String, f64, f64)> {
        let vis = &self.visitors[v.slot()];
        let (Some(s), EventKind::Track(t)) = (vis.session.as_deref(), &ev.kind) else { return Vec::new() };
        let local = LocalClock::new(self.sc.timezone.clone()).local(ev.time);
        let ctx = EvalCtx { event: Some(t), now: ev.time, local, life: &vis.life, session: s, rules: &self.rules };
        p.features
            .iter()
            .map(|f| {
                let x = f.node.eval(&ctx).unwrap_or(0.0);
                (f.name.clone(), x, f.weight * x)
            })
            .collect()
    }

    /// The visitor `customer` names, made active: a new one, one revived from
    /// the dormant store, or one already active. Takes the event's shared id
    /// so that a new visitor costs no copy of it.
    pub fn visitor_id(&mut self, customer: &Arc<str>) -> VisitorId {
        if let Some(id) = self.index.get(customer) {
            return *id;
        }
        let key = dormant::key(customer);
        let id = match self.free.pop() {
            Some(slot) => {
                // A retired visitor's place, its lifetime arrays cleared for reuse.
                let vis = &mut self.visitors[slot as usize];
                vis.generation += 1;
                vis.customer = customer.clone();
                self.dormant.take_into(key, &mut vis.life);
                VisitorId::new(slot as usize, vis.generation)
            }
            None => {
                let mut life = Lifetime::new(self.rules.visitor_slots, self.rules.customer_slots);
                self.dormant.take_into(key, &mut life);
                self.visitors.push(Visitor { customer: customer.clone(), generation: 0, life, session: None });
                VisitorId::new(self.visitors.len() - 1, 0)
            }
        };
        self.index.insert(customer.clone(), id);
        id
    }

    /// Whether `v` still names the visitor it was handed out for.
    fn current(&self, v: VisitorId) -> bool {
        self.visitors.get(v.slot()).is_some_and(|vis| vis.generation == v.generation())
    }

    /// A visitor whose session ended keeps only its lifetime figures, under a
    /// hash of its id, and its place goes to the next visitor: memory follows
    /// the visitors active at once (SPEC §9), plus 24 bytes and a key per
    /// visitor seen (see docs/performance.md).
    fn retire(&mut self, v: VisitorId) {
        if self.trace_visitor == Some(v) {
            return;
        }
        let vis = &mut self.visitors[v.slot()];
        debug_assert!(vis.session.is_none());
        let customer = std::mem::replace(&mut vis.customer, self.no_customer.clone());
        self.index.remove(&customer);
        // Packs the figures and clears `vis.life`, whose arrays the place's next visitor reuses.
        self.dormant.insert(dormant::key(&customer), &mut vis.life);
        self.free.push(v.slot() as u32);
    }

    /// Handles one input line's event. An `actionEvent` that answers no open
    /// offer is an error of that line (nothing changes).
    pub fn on_event(&mut self, ev: &Event, snapshots: &dyn Snapshots, sink: &mut dyn Sink) -> Result<(), LineError> {
        let v = self.visitor_id(&ev.customer);
        match &ev.kind {
            EventKind::Response { action_map, state } => self.recorded_response(v, ev.time, *action_map, *state, sink),
            EventKind::Track(track) => {
                self.track(v, ev.time, track, snapshots, sink);
                Ok(())
            }
        }
    }

    fn recorded_response(
        &mut self,
        v: VisitorId,
        now: SimTime,
        map: ActionMapId,
        state: ResponseState,
        sink: &mut dyn Sink,
    ) -> Result<(), LineError> {
        let open = self.visitors[v.slot()].session.as_deref().and_then(|s| match s.maps[map.0 as usize] {
            MapState::Offered { offer, .. } => Some((s.number, offer)),
            _ => None,
        });
        match open {
            Some((session, offer)) => {
                self.answer(v, session, now, map, offer, state, sink);
                Ok(())
            }
            None => Err(LineError::NoOpenOffer(self.sc.action_map(map).id.clone())),
        }
    }

    /// SPEC §6 steps 1–7 for one tracking event.
    fn track(&mut self, v: VisitorId, now: SimTime, ev: &TrackEvent, snapshots: &dyn Snapshots, sink: &mut dyn Sink) {
        let local = self.clock.local(now);
        let tracing = self.trace_visitor == Some(v);
        if tracing {
            self.trace = Some(Trace::default());
        }
        // 1. Session.
        let timeout = self.sc.settings.session_timeout;
        let ends_at = self.visitors[v.slot()].session.as_deref().map(|s| (s.number, s.ends_at(timeout)));
        match ends_at {
            Some((_, end)) if now < end => {}
            Some((number, end)) => {
                self.end_session(v, number, end, sink);
                self.start_session(v, now, sink);
            }
            None => self.start_session(v, now, sink),
        }
        let sc = self.sc;
        let rules: &Rules = &self.rules;
        let vis = &mut self.visitors[v.slot()];
        let customer = vis.customer.clone();
        let life = &mut vis.life;
        let s = vis.session.as_deref_mut().expect("a session was just ensured");

        // 2. State, noting what of it changed.
        let mut changed = std::mem::replace(&mut s.carry, Changes::NONE) | Changes::ALWAYS | self.forced;
        s.events += 1;
        s.last_event = now;
        if ev.is_pageview {
            s.pageviews += 1;
            life.pageviews += 1;
            s.page_since = now;
            changed |= Changes::PAGEVIEWS;
        }
        if let Some(page) = &ev.page
            && (ev.is_pageview || s.page.is_none())
        {
            s.page = Some(page.clone());
            changed |= Changes::PAGE;
        }
        for (part, values) in &ev.context {
            for (slot, value) in part.fields().zip(values.iter()) {
                if s.set_context(slot, value) {
                    changed |= Changes::context(slot);
                }
            }
        }
        if ev.authenticated.is_some() {
            if s.authenticated != ev.authenticated {
                changed |= Changes::AUTH;
            }
            s.authenticated = ev.authenticated;
        }
        if !ev.traits.is_empty() {
            changed |= Changes::TRAITS;
        }
        let clock = local.weekday as u32 * 24 + local.hour;
        if clock != s.clock {
            s.clock = clock;
            changed |= Changes::CLOCK;
        }
        // An expired assignment is dropped: the segment is open again, and
        // conditions reading it see the change.
        for &(id, slot, lifetime) in &rules.expiring {
            let at = &mut life.customer_segments[slot as usize];
            if at.is_some_and(|at| now.0 >= at.0 + lifetime) {
                *at = None;
                changed |= Changes::segment(id);
            }
        }
        for (sym, value) in &ev.traits {
            match life.traits.iter_mut().find(|(k, _)| k == sym) {
                Some((_, v)) => *v = value.clone(),
                None => life.traits.push((*sym, value.clone())),
            }
        }
        if ev.is_pageview && s.maybe_pending {
            let url = s.page.as_ref().map(|p| &*p.url);
            for (_, m) in s.maps.iter_mut() {
                if let MapState::Pending { due: due @ Due::OnReturn(_), .. } = m
                    && let Due::OnReturn(target) = &*due
                    && Some(&*target.url) == url
                {
                    *due = Due::Now;
                }
            }
        }
        // Counters bump only after every pattern saw the event as it arrived.
        let bumps = &mut self.scratch;
        bumps.clear();
        let ctx = EvalCtx { event: Some(ev), now, local, life, session: s, rules };
        for set in [rules.counts_by_event.get(&ev.name), Some(&rules.counts_any)].into_iter().flatten() {
            bumps.extend_from_slice(&set.always);
            for &slot in set.general.iter() {
                if sc.counts[slot as usize].cond.as_ref().is_some_and(|c| c.eval(&ctx)) {
                    bumps.push(slot);
                }
            }
            for (text, tests) in set.literal.iter() {
                if let Some(text) = text.eval(&ctx) {
                    bumps.extend(tests.iter().filter(|(t, _)| t.holds(&text)).map(|(_, slot)| *slot));
                }
            }
        }
        for &slot in bumps.iter() {
            changed |= Changes::count(CountSlot(slot));
            match rules.slots[slot as usize] {
                rules::SlotRef::Session(i) => s.counts[i as usize] += 1,
                rules::SlotRef::Visitor(i) => life.counts[i as usize] += 1,
            }
        }
        let decide = |sink: &mut dyn Sink, number: u32, kind: DecisionKind| {
            sink.decision(Decision { time: now, customer: customer.clone(), session: number, kind });
        };

        // What steps 3 to 5 change, conditions evaluated before the change
        // see at the session's next event.
        let mut late = Changes::NONE;
        // 3. Outcomes (only those this event's name can make true, and whose inputs changed).
        for &i in rules.outcomes_by_event.for_event(ev.name) {
            let i = i as usize;
            if s.outcomes[i] {
                continue;
            }
            let node = &sc.outcomes[i].achieved_when.node;
            if !rules.outcome_reads[i].meets(changed) {
                debug_assert!(
                    !node.eval(&EvalCtx { event: Some(ev), now, local, life, session: s, rules }),
                    "outcome {i} was skipped, but it holds"
                );
                continue;
            }
            if node.eval(&EvalCtx { event: Some(ev), now, local, life, session: s, rules }) {
                s.outcomes[i] = true;
                let id = OutcomeId(i as u32);
                changed |= Changes::outcome(id);
                late |= Changes::outcome(id);
                decide(sink, s.number, DecisionKind::OutcomeAchieved(id));
            }
        }
        // 4. Segments, in dependency order.
        for &pos in rules.segments_by_event.for_event(ev.name) {
            let pos = pos as usize;
            let id = &sc.segment_order[pos];
            let i = id.0 as usize;
            let node = &sc.segments[i].when.node;
            // Most segments are left alone by most events: that test first.
            let unchanged = !rules.segment_reads[pos].meets(changed);
            let assigned = |life| s.segments[i] || rules.segment_live(life, i, now);
            if unchanged {
                debug_assert!(
                    assigned(life) || !node.eval(&EvalCtx { event: Some(ev), now, local, life, session: s, rules }),
                    "segment {i} was skipped, but it holds"
                );
                continue;
            }
            if assigned(life) {
                continue;
            }
            let holds = node.eval(&EvalCtx { event: Some(ev), now, local, life, session: s, rules });
            if holds {
                changed |= Changes::segment(*id);
                late |= Changes::segment(*id);
                if let Some(c) = rules.customer[i] {
                    life.customer_segments[c.slot as usize] = Some(now);
                } else {
                    s.segments[i] = true;
                }
                decide(sink, s.number, DecisionKind::SegmentAssigned(*id));
            }
        }
        // 5. Scores: each distinct feature once, then each predictor's log-odds.
        if !rules.scorer.is_empty() {
            let ctx = EvalCtx { event: Some(ev), now, local, life, session: s, rules };
            rules.scorer.features(&ctx, &mut self.scoring);
            rules.scorer.update(&mut self.scoring, &mut s.scores);
            changed |= Changes::SCORE;
            late |= Changes::SCORE;
        }
        if let Some(o) = self.record_features
            && !s.outcomes[o.0 as usize]
            && let Some(p) = &sc.outcomes[o.0 as usize].predictor
        {
            let ctx = EvalCtx { event: Some(ev), now, local, life, session: s, rules };
            self.recorded.clear();
            self.recorded.extend(p.features.iter().map(|f| f.node.eval(&ctx).unwrap_or(0.0)));
            sink.features(&customer, s.number, &self.recorded);
        }
        // 6. Qualification (every map when tracing, so `explain` shows them all).
        let mut trace_triggers = Vec::new();
        let candidates = if tracing { &rules.every_map } else { rules.maps_by_event.for_event(ev.name) };
        for &i in candidates {
            let i = i as usize;
            let m = &sc.action_maps[i];
            let eligible = |maps: &state::MapStates| {
                m.active
                    && matches!(maps[i], MapState::Idle)
                    && m.start.is_none_or(|t| now >= SimTime::from_timestamp(t))
                    && m.end.is_none_or(|t| now < SimTime::from_timestamp(t))
            };
            // `explain` shows every trigger's value: when tracing, nothing is skipped.
            if !tracing && !rules.map_reads[i].meets(changed) {
                debug_assert!(
                    !eligible(&s.maps)
                        || !m.trigger.node.eval(&EvalCtx { event: Some(ev), now, local, life, session: s, rules }),
                    "the trigger of action map {i} was skipped, but it holds"
                );
                continue;
            }
            if !eligible(&s.maps) {
                if tracing {
                    trace_triggers.push((ActionMapId(i as u32), None));
                }
                continue;
            }
            let holds = m.trigger.node.eval(&EvalCtx { event: Some(ev), now, local, life, session: s, rules });
            s.maybe_pending |= holds;
            if tracing {
                trace_triggers.push((ActionMapId(i as u32), Some(holds)));
            }
            if !holds {
                continue;
            }
            let id = ActionMapId(i as u32);
            decide(
                sink,
                s.number,
                DecisionKind::Action { map: id, state: ActionState::Qualified, target: None, seen: None },
            );
            s.maps[i] = match m.activation {
                Activation::Immediate => MapState::Pending { due: Due::Now, blocked: None },
                Activation::Delay(d) => {
                    // Before any pageview there is no page to stay on: due wherever the visitor is.
                    let url = s.page.clone();
                    let at = now.plus(d);
                    sink.schedule(at, Timer { visitor: v, session: s.number, kind: TimerKind::DelayDue(id) });
                    MapState::Pending { due: Due::At(at, url), blocked: None }
                }
                Activation::NextSession => {
                    life.next_session.push(id);
                    MapState::Done
                }
            };
        }
        s.carry = late;
        if let Some(t) = self.trace.as_mut() {
            t.triggers = trace_triggers;
        }
        // 7. Offer gate: everything due now, and everything blocked earlier.
        self.gate(v, now, local, None, snapshots, sink);
    }

    fn start_session(&mut self, v: VisitorId, now: SimTime, sink: &mut dyn Sink) {
        let sc = self.sc;
        let vis = &mut self.visitors[v.slot()];
        vis.life.sessions += 1;
        let number = vis.life.sessions;
        let rng = random::LazyStream::new(self.seed, "session", &vis.customer, u64::from(number));
        let end = now.plus(sc.settings.session_timeout);
        // An ended session's block is reused: sessions come and go at every
        // visit, and allocating their arrays anew was a large part of the engine's time.
        let spare = self.spare.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let mut s = match spare {
            Some(mut s) => {
                s.reset(number, now, end, rng);
                s
            }
            None => Box::new(Session::new(self.rules.session_shape, number, now, end, rng)),
        };
        for id in vis.life.next_session.drain(..) {
            s.maps[id.0 as usize] = MapState::Pending { due: Due::Now, blocked: None };
            s.maybe_pending = true;
        }
        vis.session = Some(s);
        self.active += 1;
        sink.schedule(end, Timer { visitor: v, session: number, kind: TimerKind::SessionEnd });
    }

    /// Ends a session: open offers become `ignored`, session state is dropped.
    fn end_session(&mut self, v: VisitorId, number: u32, at: SimTime, sink: &mut dyn Sink) {
        let vis = &mut self.visitors[v.slot()];
        let Some(s) = vis.session.take() else { return };
        debug_assert_eq!(s.number, number);
        self.active -= 1;
        sink.session_ended(&SessionEnd {
            customer: &vis.customer,
            session: number,
            at,
            engaged: s.engaged,
            outcomes: &s.outcomes,
        });
        for (i, m) in s.maps.iter() {
            if let MapState::Offered { target, .. } = m {
                sink.decision(Decision {
                    time: at,
                    customer: vis.customer.clone(),
                    session: number,
                    kind: DecisionKind::Action {
                        map: ActionMapId(i as u32),
                        state: ActionState::Ignored,
                        target: *target,
                        seen: None,
                    },
                });
            }
        }
        // A panic elsewhere while the pool was held leaves it a valid list of
        // sessions: a poisoned lock is taken as it is.
        self.spare.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(s);
    }

    /// Handles a timer the engine asked for; stale timers do nothing.
    pub fn on_timer(&mut self, now: SimTime, timer: &Timer, snapshots: &dyn Snapshots, sink: &mut dyn Sink) {
        let v = timer.visitor;
        if !self.current(v) {
            return;
        }
        let Some(s) = self.visitors[v.slot()].session.as_deref_mut() else { return };
        if s.number != timer.session {
            return;
        }
        match &timer.kind {
            TimerKind::SessionEnd => match s.ends_at(self.sc.settings.session_timeout) {
                end if now >= end => {
                    self.end_session(v, timer.session, now, sink);
                    self.retire(v);
                }
                end => {
                    if s.end_timer != Some(end) {
                        s.end_timer = Some(end);
                        sink.schedule(end, Timer { visitor: v, session: s.number, kind: TimerKind::SessionEnd });
                    }
                }
            },
            TimerKind::DelayDue(map) => {
                let i = map.0 as usize;
                let MapState::Pending { due: Due::At(at, url), blocked } = &s.maps[i] else { return };
                if *at != now {
                    return;
                }
                let on_page = url.as_ref().is_none_or(|u| s.page.as_ref().is_some_and(|p| p.url == u.url));
                let blocked = *blocked;
                if on_page {
                    s.maps[i] = MapState::Pending { due: Due::Now, blocked };
                    let local = self.clock.local(now);
                    self.gate(v, now, local, Some(*map), snapshots, sink);
                } else if let Some(url) = url.clone() {
                    s.maps[i] = MapState::Pending { due: Due::OnReturn(url), blocked };
                }
            }
            TimerKind::OfferTimeout { map, offer } => {
                if matches!(s.maps[map.0 as usize], MapState::Offered { offer: o, .. } if o == *offer) {
                    self.close_offer(v, now, *map, ActionState::TimedOut, sink);
                }
            }
            TimerKind::Respond { map, offer, state } => {
                let (session, map, offer, state) = (timer.session, *map, *offer, *state);
                self.answer(v, session, now, map, offer, state, sink);
            }
        }
    }

    /// A chat's progress in the contact center (SPEC §6 step 9).
    pub fn on_chat(&mut self, now: SimTime, chat: &ChatRequest, event: ChatEvent, sink: &mut dyn Sink) {
        let state = match event {
            ChatEvent::Engaged => ActionState::Engaged,
            ChatEvent::Abandoned => ActionState::Abandoned,
            ChatEvent::Completed => ActionState::Completed,
        };
        sink.decision(Decision {
            time: now,
            customer: chat.customer.clone(),
            session: chat.session,
            kind: DecisionKind::Action { map: chat.map, state, target: Some(chat.target), seen: None },
        });
        // The chat may outlive the visit: its visitor may have gone dormant.
        if !self.current(chat.visitor) {
            return;
        }
        let vis = &mut self.visitors[chat.visitor.slot()];
        let Some(s) = vis.session.as_deref_mut().filter(|s| s.number == chat.session) else { return };
        if event == ChatEvent::Engaged {
            s.engaged = true;
        } else {
            let i = chat.map.0 as usize;
            if matches!(s.maps[i], MapState::InChat { .. }) {
                s.maps[i] = MapState::Done;
                if let Some(slot) = media_slot(self.sc.action_map(chat.map).action.media)
                    && s.open[slot] == Some(chat.map)
                {
                    s.open[slot] = None;
                }
            }
        }
    }

    /// Step 8: the visitor answers an offer (recorded or modelled).
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &mut self,
        v: VisitorId,
        session: u32,
        now: SimTime,
        map: ActionMapId,
        offer: u32,
        state: ResponseState,
        sink: &mut dyn Sink,
    ) {
        let Some(s) = self.visitors[v.slot()].session.as_deref() else { return };
        let current = matches!(s.maps[map.0 as usize], MapState::Offered { offer: o, .. } if o == offer);
        if s.number != session || !current {
            return;
        }
        let final_state = match state {
            ResponseState::Accepted => ActionState::Accepted,
            ResponseState::Rejected => ActionState::Rejected,
            ResponseState::Ignored => ActionState::Ignored,
        };
        self.close_offer(v, now, map, final_state, sink);
    }

    /// Closes an open offer with `state`; an accepted chat starts instead.
    fn close_offer(&mut self, v: VisitorId, now: SimTime, map: ActionMapId, state: ActionState, sink: &mut dyn Sink) {
        let media = self.sc.action_map(map).action.media;
        let vis = &mut self.visitors[v.slot()];
        let Some(s) = vis.session.as_deref_mut() else { return };
        let i = map.0 as usize;
        let MapState::Offered { target, .. } = s.maps[i] else { return };
        let record = |sink: &mut dyn Sink, state| {
            sink.decision(Decision {
                time: now,
                customer: vis.customer.clone(),
                session: s.number,
                kind: DecisionKind::Action { map, state, target, seen: None },
            });
        };
        record(sink, state);
        let slot = media_slot(media);
        if state == ActionState::Rejected
            && let Some(slot) = slot
        {
            s.rejected[slot] = true;
        }
        if state == ActionState::Accepted
            && media.is_chat()
            && let Some(target) = target
        {
            record(sink, ActionState::Started);
            sink.chat_started(
                now,
                ChatRequest { visitor: v, customer: vis.customer.clone(), session: s.number, map, target },
            );
            s.maps[i] = MapState::InChat { target };
            return;
        }
        s.maps[i] = MapState::Done;
        if let Some(slot) = slot
            && s.open[slot] == Some(map)
        {
            s.open[slot] = None;
        }
    }

    /// Step 7: gates the visitor's due actions (or only `only`, at a delay's
    /// due moment), by media type, highest weight first, ties at random.
    fn gate(
        &mut self,
        v: VisitorId,
        now: SimTime,
        local: Local,
        only: Option<ActionMapId>,
        snapshots: &dyn Snapshots,
        sink: &mut dyn Sink,
    ) {
        let sc = self.sc;
        let rules: &Rules = &self.rules;
        let tracing = self.trace_visitor == Some(v);
        let vis = &mut self.visitors[v.slot()];
        let Some(s) = vis.session.as_deref_mut() else { return };
        if !s.maybe_pending {
            return;
        }
        // One scan finds what is due and whether anything is pending at all.
        let due = &mut self.due;
        due.clear();
        let mut pending = false;
        for (i, m) in s.maps.iter() {
            if let MapState::Pending { due: d, .. } = m {
                pending = true;
                if matches!(d, Due::Now) && only.is_none_or(|o| o.0 as usize == i) {
                    due.push(ActionMapId(i as u32));
                }
            }
        }
        s.maybe_pending = pending;
        if due.is_empty() {
            return;
        }
        // Highest weight first; equal weights in a random order from the session's stream.
        due.sort_by_key(|id| {
            (media_order(sc.action_map(*id).action.media), std::cmp::Reverse(sc.action_map(*id).weight))
        });
        shuffle_ties(due, |id| (media_order(sc.action_map(*id).action.media), sc.action_map(*id).weight), &mut s.rng);

        // Offers already made to the visitor at this instant (by an earlier event
        // or timer of the same millisecond) count for gate 5 too.
        let mut offered_now = [false; 4];
        for m in MediaType::ALL {
            if let Some(slot) = media_slot(m) {
                offered_now[media_order(m)] = s.last_offer[slot] == Some(now);
            }
        }
        let mut traces = Vec::new();
        for &id in due.iter() {
            let m = sc.action_map(id);
            let media = m.action.media;
            let result = {
                let ctx = EvalCtx { event: None, now, local, life: &vis.life, session: s, rules };
                let input = GateInput {
                    sc,
                    map: m,
                    ctx: &ctx,
                    session: s,
                    now,
                    local,
                    snapshots,
                    offered_now: offered_now[media_order(media)],
                };
                let mut passed = Vec::new();
                let r = offer_gate(&input, &mut |g, ok| {
                    if tracing {
                        passed.push((g, ok));
                    }
                });
                if tracing {
                    traces.push((id, passed));
                }
                r
            };
            let i = id.0 as usize;
            match result {
                Err(reason) => {
                    if let MapState::Pending { blocked, .. } = &mut s.maps[i]
                        && *blocked != Some(reason)
                    {
                        *blocked = Some(reason);
                        sink.decision(Decision {
                            time: now,
                            customer: vis.customer.clone(),
                            session: s.number,
                            kind: DecisionKind::Blocked { map: id, reason },
                        });
                    }
                }
                Ok(route) => {
                    sink.decision(Decision {
                        time: now,
                        customer: vis.customer.clone(),
                        session: s.number,
                        kind: DecisionKind::Action {
                            map: id,
                            state: ActionState::Offered,
                            target: route.target,
                            seen: route.seen,
                        },
                    });
                    if media == MediaType::Webhook {
                        // Webhooks need no answer.
                        s.maps[i] = MapState::Done;
                        continue;
                    }
                    offered_now[media_order(media)] = true;
                    s.offers += 1;
                    let offer = s.offers;
                    s.maps[i] = MapState::Offered { offer, at: now, target: route.target };
                    if let Some(slot) = media_slot(media) {
                        s.open[slot] = Some(id);
                        s.last_offer[slot] = Some(now);
                    }
                    let timer = |kind| Timer { visitor: v, session: s.number, kind };
                    let timeout = now.plus(sc.settings.offer_timeout);
                    sink.schedule(timeout, timer(TimerKind::OfferTimeout { map: id, offer }));
                    if self.responses == Responses::Model
                        && let Some(p) = persona_of(sc, self.seed, &vis.customer)
                        && let Some((at, state)) = modelled_response(p, media, now, s.rng.get())
                        && at < timeout
                    {
                        sink.schedule(at, timer(TimerKind::Respond { map: id, offer, state }));
                    }
                }
            }
        }
        if tracing && let Some(t) = self.trace.as_mut() {
            t.gates.extend(traces);
        }
    }
}

/// What `explain` shows of a session.
pub struct SessionView {
    pub number: u32,
    pub segments: Vec<SegmentId>,
    pub outcomes: Vec<OutcomeId>,
    pub scores: Vec<Score>,
}

fn media_order(m: MediaType) -> usize {
    match m {
        MediaType::Webchat => 0,
        MediaType::ContentOffer => 1,
        MediaType::WebMessaging => 2,
        MediaType::Webhook => 3,
    }
}

/// Shuffles each run of equal keys in place (Fisher–Yates), drawing only where ties exist.
fn shuffle_ties<T, K: PartialEq>(items: &mut [T], key: impl Fn(&T) -> K, rng: &mut random::LazyStream) {
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        while end < items.len() && key(&items[end]) == key(&items[start]) {
            end += 1;
        }
        for i in (start + 1..end).rev() {
            let j = start + (random::unit(rng.get()) * (i - start + 1) as f64) as usize;
            items.swap(i, j.min(i));
        }
        start = end;
    }
}

/// The persona a visitor belongs to, drawn by share from a stream keyed by the
/// customer id: the same in `run`, `generate` and `replay`.
pub fn persona_of<'a>(sc: &'a Scenario, seed: u64, customer: &str) -> Option<&'a Persona> {
    let personas = &sc.traffic.as_ref()?.personas;
    let mut rng = random::stream(seed, "persona", customer, 0);
    personas.get(random::weighted(&mut rng, personas.iter().map(|p| p.share)))
}

/// The persona's answer to an offer and when it comes, or `None` (no answer).
fn modelled_response(
    p: &Persona,
    media: MediaType,
    now: SimTime,
    rng: &mut random::Rng,
) -> Option<(SimTime, ResponseState)> {
    let (_, r) = p.response.iter().find(|(m, _)| *m == media)?;
    let u = random::unit(rng);
    let state = if u < r.accept {
        ResponseState::Accepted
    } else if u < r.accept + r.reject {
        ResponseState::Rejected
    } else {
        return None;
    };
    let delay = r.delay.as_ref().map_or(0.0, |d| random::sample(d, rng)).max(0.0);
    Some((SimTime(now.0 + delay.round() as i64), state))
}

/// The share of past sessions whose maximum probability was below `p`
/// (SPEC §7), interpolated between the cut points.
pub fn quantile_of(cuts: &[f64], p: f64) -> Option<f64> {
    let n = cuts.len();
    if n < 2 {
        return None;
    }
    if p <= cuts[0] {
        return Some(0.0);
    }
    if p >= cuts[n - 1] {
        return Some(1.0);
    }
    let k = cuts.partition_point(|c| *c <= p) - 1;
    let (lo, hi) = (cuts[k], cuts[k + 1]);
    let frac = if hi > lo { (p - lo) / (hi - lo) } else { 0.0 };
    Some((k as f64 + frac) / (n - 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_cut_points() {
        let cuts = [0.0, 0.1, 0.2, 0.4, 0.8];
        // Four intervals: each covers a quarter of past sessions.
        assert_eq!(quantile_of(&cuts, -0.5), Some(0.0));
        assert_eq!(quantile_of(&cuts, 0.1), Some(0.25));
        assert_eq!(quantile_of(&cuts, 0.15), Some(0.375));
        assert_eq!(quantile_of(&cuts, 0.6), Some(0.875));
        assert_eq!(quantile_of(&cuts, 0.9), Some(1.0));
        assert_eq!(quantile_of(&[0.5], 0.6), None);
    }

    const START: &str = "2026-03-02T10:00:00Z";

    /// The event at `secs` after the scenario's start: a pageview of `url`, or a custom event.
    fn event_at(sc: &Scenario, secs: i64, name: &str, url: Option<&str>) -> Event {
        let mut ev = TrackEvent::named(&sc.interner, name);
        if let Some(url) = url {
            ev.is_pageview = true;
            ev.page = Some(Arc::new(crate::events::Page::from_url(&format!("https://x.example{url}"))));
        }
        let start = SimTime::from_timestamp(START.parse().unwrap());
        Event {
            time: SimTime(start.0 + secs * 1000),
            customer: "c".into(),
            kind: EventKind::Track(Box::new(ev)),
            line: 0,
        }
    }

    /// Decisions, as (seconds after the start, kind).
    #[derive(Default)]
    struct Decisions(Vec<(i64, DecisionKind)>, i64);
    impl Sink for Decisions {
        fn decision(&mut self, d: Decision) {
            self.0.push(((d.time.0 - self.1) / 1000, d.kind));
        }
        fn schedule(&mut self, _: SimTime, _: Timer) {}
    }

    /// The decisions `events` lead to (timers are not run: these journeys need none).
    fn decisions_of(sc: &Scenario, events: &[Event]) -> Vec<(i64, DecisionKind)> {
        let mut engine = Engine::new(sc, Responses::Recorded, 1);
        let cc = crate::availability::ContactCenter::new(sc, &[]);
        let mut out = Decisions(Vec::new(), SimTime::from_timestamp(START.parse().unwrap()).0);
        for ev in events {
            engine.on_event(ev, &cc, &mut out).unwrap();
        }
        out.0
    }

    #[test]
    fn a_change_late_in_an_event_reaches_conditions_evaluated_before_it() {
        // The outcome (step 3) reads a segment that is assigned later, in step 4, of
        // the second pageview. The third event changes nothing the outcome reads:
        // the outcome must still be evaluated then, and hold.
        let text = r#"
name: late
start: 2026-03-02T10:00:00Z
segments:
  - id: browsing
    when: session.pageviews >= 2
outcomes:
  - id: engaged
    achieved_when: segment("browsing")
"#;
        let sc = crate::config::load_str("late.yaml", text).scenario.expect("valid");
        let events = [
            event_at(&sc, 0, "page_viewed", Some("/a")),
            event_at(&sc, 10, "page_viewed", Some("/b")),
            event_at(&sc, 20, "click", None),
        ];
        assert_eq!(
            decisions_of(&sc, &events),
            [(10, DecisionKind::SegmentAssigned(SegmentId(0))), (20, DecisionKind::OutcomeAchieved(OutcomeId(0)))]
        );
    }

    #[test]
    fn an_assignment_that_expires_during_a_session_is_a_change() {
        // `buyer` lapses one day after the order; the session goes on (a long
        // timeout). The trigger reads only the segment and a counter, neither
        // touched by the pageview after the lapse: the lapse itself must count.
        let text = r#"
name: lapse
start: 2026-03-02T10:00:00Z
settings: {session_timeout: 30h}
segments:
  - id: buyer
    scope: customer
    when: event.name == "order_completed"
    expires_after_days: 1
action_maps:
  - id: win_back
    trigger: not segment("buyer") and visitor.count(order_completed) >= 1
    action: {type: content_offer}
"#;
        let sc = crate::config::load_str("lapse.yaml", text).scenario.expect("valid");
        let hour = 3600;
        let out = decisions_of(
            &sc,
            &[
                event_at(&sc, 0, "order_completed", None),
                event_at(&sc, 12 * hour, "page_viewed", Some("/a")),
                event_at(&sc, 25 * hour, "page_viewed", Some("/a")),
            ],
        );
        let qualified =
            out.iter().find(|(_, k)| matches!(k, DecisionKind::Action { state: ActionState::Qualified, .. }));
        assert_eq!(out[0], (0, DecisionKind::SegmentAssigned(SegmentId(0))));
        assert_eq!(qualified.map(|(t, _)| *t), Some(25 * hour), "{out:?}");
    }

    #[test]
    fn the_local_hour_changing_during_a_session_is_a_change() {
        let text = r#"
name: hour
start: 2026-03-02T10:00:00Z
segments:
  - id: after_eleven
    when: now.hour >= 11
"#;
        let sc = crate::config::load_str("hour.yaml", text).scenario.expect("valid");
        // 10:50, 10:59 and 11:05 UTC: custom events that change nothing else.
        let events = [3000, 3540, 3900].map(|secs| event_at(&sc, secs, "click", None));
        assert_eq!(decisions_of(&sc, &events), [(3900, DecisionKind::SegmentAssigned(SegmentId(0)))]);
    }

    #[test]
    fn counters_whose_where_is_a_literal_test_count_as_their_condition_says() {
        // Two prefix/equality tests of one field and one of an attribute are
        // grouped by the text they read; a negated one is tested in full; a
        // counter without `where` counts every event of its name.
        let text = r#"
name: patterns
start: 2026-03-02T10:00:00Z
segments:
  - id: c_prefix
    when: count(page_viewed where page.pathname starts_with "/c/") >= 1
  - id: c_exact
    when: count(page_viewed where page.pathname == "/c/shoes") >= 1
  - id: cat_x
    when: count(product_viewed where attributes.category == "x") >= 1
  - id: not_y
    when: count(product_viewed where attributes.category != "y") >= 1
  - id: three_views
    when: count(page_viewed) >= 3
"#;
        let sc = crate::config::load_str("patterns.yaml", text).scenario.expect("valid");
        let rules = Rules::new(&sc);
        let views = &rules.counts_by_event[&sc.interner.lookup("page_viewed")];
        assert_eq!((views.always.len(), views.general.len(), views.literal.len()), (1, 0, 1));
        assert_eq!(views.literal[0].1.len(), 2, "both pathname tests read the pathname once");
        let products = &rules.counts_by_event[&sc.interner.lookup("product_viewed")];
        assert_eq!((products.always.len(), products.general.len(), products.literal.len()), (0, 1, 1));

        let product = |secs, category: &str| {
            let mut ev = event_at(&sc, secs, "product_viewed", None);
            if let EventKind::Track(t) = &mut ev.kind {
                t.attributes.push((sc.interner.lookup("category"), crate::dsl::DynValue::from_text(category)));
            }
            ev
        };
        let events = [
            event_at(&sc, 1, "page_viewed", Some("/a")),
            event_at(&sc, 2, "page_viewed", Some("/c/hats")),
            event_at(&sc, 3, "page_viewed", Some("/c/shoes")),
            product(4, "y"),
            product(5, "x"),
        ];
        let names: Vec<(i64, &str)> = decisions_of(&sc, &events)
            .into_iter()
            .map(|(t, k)| match k {
                DecisionKind::SegmentAssigned(id) => (t, sc.segments[id.0 as usize].id.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, [(2, "c_prefix"), (3, "c_exact"), (3, "three_views"), (5, "cat_x"), (5, "not_y")]);
    }

    #[test]
    fn conditions_whose_inputs_did_not_change_are_not_evaluated_again() {
        // Counted by what the conditions read: a segment on the visit context is
        // evaluated at the session's first event; a custom event leaves it alone,
        // a pageview's counters re-evaluate the other.
        let text = r#"
name: skip
start: 2026-03-02T10:00:00Z
segments:
  - id: mobile
    when: device.category == "mobile"
  - id: deep
    when: session.pageviews >= 3
  - id: late_night
    when: now.hour >= 22
action_maps:
  - id: offer
    trigger: segment("deep")
    action: {type: content_offer}
"#;
        let sc = crate::config::load_str("skip.yaml", text).scenario.expect("valid");
        let rules = Rules::new(&sc);
        let seg = |id: &str| SegmentId(sc.segments.iter().position(|s| s.id == id).unwrap() as u32);
        let reads = |id: &str| rules.segment_reads[sc.segment_order.iter().position(|s| *s == seg(id)).unwrap()];
        let custom = Changes::ALWAYS;
        let pageview = Changes::ALWAYS | Changes::PAGEVIEWS | Changes::PAGE;
        assert!(!reads("mobile").meets(custom) && !reads("mobile").meets(pageview));
        let device = crate::events::context_index(crate::dsl::fields::StrField::DeviceCategory).unwrap();
        assert!(reads("mobile").meets(Changes::context(device)));
        assert!(!reads("deep").meets(custom) && reads("deep").meets(pageview));
        // The local hour moves with time alone: the engine notes when it changed.
        assert!(!reads("late_night").meets(custom) && reads("late_night").meets(Changes::CLOCK));
        // The trigger waits for the segment's assignment.
        assert!(!rules.map_reads[0].meets(pageview));
        assert!(rules.map_reads[0].meets(Changes::segment(seg("deep"))));
    }

    #[test]
    fn session_maxima_never_decrease_and_reset_with_a_new_session() {
        let text = r#"
name: scores
start: 2026-03-02T10:00:00Z
settings: {session_timeout: 1m}
outcomes:
  - id: buy
    achieved_when: page.url contains "/done"
    predictor:
      features: {checkout: page.url contains "/checkout"}
      weights: {checkout: 3.0}
      bias: -2.0
      quantiles: [0.0, 0.1, 0.5, 0.9, 1.0]
"#;
        let loaded = crate::config::load_str("scores.yaml", text);
        let sc = loaded.scenario.expect("valid");
        let mut engine = Engine::new(&sc, Responses::Recorded, 1);
        let cc = crate::availability::ContactCenter::new(&sc, &[]);
        struct Nothing;
        impl Sink for Nothing {
            fn decision(&mut self, _: Decision) {}
            fn schedule(&mut self, _: SimTime, _: Timer) {}
        }
        let t0 = SimTime::from_timestamp("2026-03-02T10:00:00Z".parse().unwrap());
        let mut views = Vec::new();
        for (secs, url) in [(0, "/checkout"), (10, "/p/1"), (20, "/p/2"), (200, "/p/3")] {
            let mut ev = TrackEvent::named(&sc.interner, "page_viewed");
            ev.page = Some(std::sync::Arc::new(crate::events::Page::from_url(&format!("https://x.example{url}"))));
            let event = Event {
                time: SimTime(t0.0 + secs * 1000),
                customer: "c".into(),
                kind: EventKind::Track(Box::new(ev)),
                line: 0,
            };
            engine.on_event(&event, &cc, &mut Nothing).unwrap();
            let v = engine.visitor_lookup("c").unwrap();
            let view = engine.session_view(v).unwrap();
            views.push((view.number, view.scores[0]));
        }
        let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
        // At checkout: σ(1); elsewhere σ(-2). The maximum stays at σ(1) in session 1.
        assert_eq!(views[0].1.probability, Some(sigma(1.0)));
        assert_eq!(views[1].1.probability, Some(sigma(-2.0)));
        assert_eq!(views[1].1.max_probability, Some(sigma(1.0)));
        assert_eq!(views[2].1.max_probability, Some(sigma(1.0)));
        assert!(views[1].1.max_quantile >= views[1].1.quantile);
        // A new session (200 s later, timeout 1 min) starts from scratch.
        assert_eq!(views[3].0, 2);
        assert_eq!(views[3].1.max_probability, Some(sigma(-2.0)));
    }
}
