//! Hand-written journeys with the decisions they must produce (SPEC §8 `cases`),
//! run through the same loop as a replay, each with fresh state.

use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{ActionState, Case, CaseEventKind, CaseExpect, DecisionMatcher, WorkgroupId};
use crate::engine::{Decision, DecisionKind, Responses};
use crate::events::{ContextPart, Event, EventKind, LineError, Page, TrackEvent, context_parts};
use crate::sim::{self, OnInvalid, Options, Output};

/// The customer id of every case's visitor.
pub const CASE_VISITOR: &str = "case-visitor";

#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    pub origin: SimTime,
    pub decisions: Vec<Decision>,
    /// Expectations that failed, with why.
    pub failures: Vec<(usize, String)>,
    /// The run stopped on an invalid step (e.g. a response to no open offer).
    pub error: Option<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.error.is_none()
    }
}

struct Collect(Vec<Decision>);

impl Output for Collect {
    fn decision(&mut self, d: &Decision) {
        self.0.push(d.clone());
    }
    fn availability(&mut self, _: WorkgroupId, _: &crate::availability::Published) {}
}

pub use crate::sim::origin;

/// The tracking events of a case, with its visitor context on each.
pub fn case_events(sc: &Scenario, case: &Case) -> Vec<Event> {
    let origin = origin(sc);
    let context = context_parts(case.visitor.iter().map(|(f, v)| (*f, v.as_str())));
    let traits: Vec<_> = case
        .traits
        .iter()
        .filter_map(|(k, v)| {
            let sym = sc.interner.lookup(k);
            (sym != crate::dsl::Sym::UNKNOWN).then(|| (sym, crate::dsl::DynValue::from_text(v)))
        })
        .collect();
    case.events
        .iter()
        .enumerate()
        .map(|(i, ce)| {
            let kind = match &ce.kind {
                CaseEventKind::Pageview { url, title } => {
                    let mut ev = TrackEvent::named(&sc.interner, "page_viewed");
                    let mut page = Page::from_url(url);
                    page.title = title.as_deref().map(Into::into);
                    ev.page = Some(std::sync::Arc::new(page));
                    EventKind::Track(Box::new(with_visit(ev, &context, &traits, case.authenticated)))
                }
                CaseEventKind::Record { name, attributes } => {
                    let mut ev = TrackEvent::named(&sc.interner, name);
                    ev.attributes = attributes
                        .iter()
                        .map(|(k, v)| (sc.interner.lookup(k), v.clone()))
                        .filter(|(s, _)| *s != crate::dsl::Sym::UNKNOWN)
                        .collect();
                    EventKind::Track(Box::new(with_visit(ev, &context, &traits, case.authenticated)))
                }
                CaseEventKind::Respond { action_map, state } => {
                    EventKind::Response { action_map: *action_map, state: *state }
                }
            };
            Event { time: origin.plus(ce.at), customer: CASE_VISITOR.into(), kind, line: i as u64 + 1 }
        })
        .collect()
}

fn with_visit(
    mut ev: TrackEvent,
    context: &[(ContextPart, crate::events::ContextValues)],
    traits: &[(crate::dsl::Sym, crate::dsl::DynValue)],
    authenticated: Option<bool>,
) -> TrackEvent {
    ev.context = context.to_vec();
    ev.traits = traits.to_vec();
    ev.authenticated = authenticated;
    ev
}

/// Runs one case and checks its expectations.
pub fn run_case(sc: &Scenario, case: &Case) -> CaseResult {
    let origin = origin(sc);
    let events = case_events(sc, case);
    let opts = Options {
        // Cases are deterministic journeys: only their own `respond` steps answer offers.
        responses: Responses::Recorded,
        on_invalid: OnInvalid::Stop,
        availability: case.availability.clone().unwrap_or_default(),
        trace: None,
        // Cases are independent: each draws from its own seed, derived from its name.
        seed: Some(case_seed(sc.seed, &case.name)),
        record_features: None,
        ..Options::default()
    };
    let mut out = Collect(Vec::new());
    let mut iter = events.into_iter().map(|e| (e.line, Ok::<Event, LineError>(e)));
    let error = sim::replay_from(sc, Some(origin), &mut iter, &opts, &mut out)
        .err()
        .map(|e| format!("event {} (at {}): {}", e.line, case.events[e.line as usize - 1].at, e.error));
    let decisions = out.0;
    let failures = case
        .expect
        .iter()
        .enumerate()
        .filter_map(|(i, exp)| check(sc, origin, exp, &decisions).err().map(|why| (i, why)))
        .collect();
    CaseResult { name: case.name.clone(), origin, decisions, failures, error }
}

/// Whether a decision matches an expectation's fields.
fn matches(m: &DecisionMatcher, d: &Decision) -> bool {
    match &d.kind {
        DecisionKind::Action { map, state, target, .. } => {
            m.segment.is_none()
                && m.outcome.is_none()
                && m.blocked.is_none()
                && m.action_map.is_none_or(|x| x == *map)
                && m.state.is_none_or(|x| x == *state)
                && m.target.is_none_or(|x| Some(x) == *target)
        }
        DecisionKind::Blocked { map, reason } => {
            m.blocked.is_some_and(|x| x == *reason) && m.action_map.is_none_or(|x| x == *map) && m.target.is_none()
        }
        DecisionKind::SegmentAssigned(s) => m.segment == Some(*s),
        DecisionKind::OutcomeAchieved(o) => m.outcome == Some(*o),
    }
}

fn check(sc: &Scenario, origin: SimTime, exp: &CaseExpect, decisions: &[Decision]) -> Result<(), String> {
    let at = exp.at.map(|a| origin.plus(a));
    let hits: Vec<&Decision> =
        decisions.iter().filter(|d| at.is_none_or(|t| d.time == t) && matches(&exp.matcher, d)).collect();
    let what = describe(sc, exp);
    match (exp.never, hits.first()) {
        (false, None) => Err(format!("expected {what}, but no such decision")),
        (true, Some(d)) => Err(format!("expected never {what}, but got: {}", d.describe(sc, Some(origin)).trim())),
        _ => Ok(()),
    }
}

/// An expectation in words, e.g. `at 50s: cart_help offered → sales`.
pub fn describe(sc: &Scenario, exp: &CaseExpect) -> String {
    let m = &exp.matcher;
    let mut parts = Vec::new();
    if let Some(a) = exp.at {
        parts.push(format!("at {a}:"));
    }
    if let Some(map) = m.action_map {
        parts.push(sc.action_map(map).id.clone());
    }
    if let Some(s) = m.state {
        parts.push(s.to_string());
    }
    if let Some(r) = m.blocked {
        parts.push(format!("blocked: {r}"));
    }
    if let Some(t) = m.target {
        parts.push(format!("→ {}", sc.workgroup(t).id));
    }
    if let Some(s) = m.segment {
        parts.push(format!("segment {} assigned", sc.segment(s).id));
    }
    if let Some(o) = m.outcome {
        parts.push(format!("outcome {} achieved", sc.outcome(o).id));
    }
    if m.action_map.is_some() && m.state.is_none() && m.blocked.is_none() {
        parts.push(format!("(any state, e.g. {})", ActionState::Offered));
    }
    parts.join(" ")
}

/// A case's seed: the scenario seed mixed with the case name (SPEC §8).
pub fn case_seed(scenario_seed: u64, name: &str) -> u64 {
    use rand::RngExt;
    crate::random::stream(scenario_seed, "case", name, 0).random()
}
