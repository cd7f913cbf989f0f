//! The offer gate (SPEC §6 step 7): each gate a named function, called in the
//! spec's order from [`offer_gate`]. The first that fails blocks the action
//! with its Genesys reason.

use crate::availability::Snapshots;
use crate::clock::{Local, SimTime};
use crate::config::Scenario;
use crate::config::model::{ActionMap, BlockingReason, MediaType, WorkgroupId};

use super::context::EvalCtx;
use super::decision::Seen;
use super::state::{MapState, Session, media_slot};

/// The gates, for `explain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    PageUrl,
    Schedule,
    ExistingOffer,
    FrequencyCap,
    Simultaneous,
    Agents,
    ServiceLevel,
}

impl Gate {
    pub fn name(self) -> &'static str {
        match self {
            Gate::PageUrl => "page_url",
            Gate::Schedule => "schedule",
            Gate::ExistingOffer => "existing offer",
            Gate::FrequencyCap => "frequency cap",
            Gate::Simultaneous => "simultaneous offers",
            Gate::Agents => "agents available",
            Gate::ServiceLevel => "estimated wait",
        }
    }
}

/// Everything a gate reads.
pub struct GateInput<'a> {
    pub sc: &'a Scenario,
    pub map: &'a ActionMap,
    pub ctx: &'a EvalCtx<'a>,
    pub session: &'a Session,
    pub now: SimTime,
    pub local: Local,
    pub snapshots: &'a dyn Snapshots,
    /// Another action of this media type was offered to the visitor at this moment.
    pub offered_now: bool,
}

/// Where an offered action goes, and the availability it saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Route {
    pub target: Option<WorkgroupId>,
    pub seen: Option<Seen>,
}

/// A target workgroup that passed the availability gates.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    target: WorkgroupId,
    ewt_ms: i64,
    available: u32,
    age_ms: i64,
}

/// Runs the gates in order. `trace` receives each gate's result (for `explain`).
pub fn offer_gate(g: &GateInput<'_>, trace: &mut dyn FnMut(Gate, bool)) -> Result<Route, BlockingReason> {
    let media = g.map.action.media;
    let mut check = |gate: Gate, ok: bool, reason: BlockingReason| {
        trace(gate, ok);
        if ok { Ok(()) } else { Err(reason) }
    };
    check(Gate::PageUrl, page_url_matches(g), BlockingReason::PageUrlConditionsNotMatching)?;
    if media.is_chat() {
        check(Gate::Schedule, open_targets(g).next().is_some(), BlockingReason::OfferedOutsideSchedule)?;
    }
    if media == MediaType::Webhook {
        return Ok(Route { target: None, seen: None });
    }
    check(Gate::ExistingOffer, no_existing_offer(g), BlockingReason::AlreadyExistingOffer)?;
    if !g.map.ignore_frequency_cap {
        check(Gate::FrequencyCap, within_frequency_cap(g), BlockingReason::FrequencyCapping)?;
    }
    check(Gate::Simultaneous, !g.offered_now, BlockingReason::MultipleSimultaneousOffers)?;
    if !(media.is_chat() && g.map.action.pacing) {
        return Ok(Route { target: open_targets(g).next(), seen: None });
    }
    check(Gate::Agents, with_agents(g).next().is_some(), BlockingReason::NoAvailableAgents)?;
    let route = route(within_max_ewt(g));
    check(Gate::ServiceLevel, route.target.is_some(), BlockingReason::ServiceLevelThrottling)?;
    Ok(route)
}

/// Gate 1: `page_url` holds on the current page (no `page_url`: any page).
fn page_url_matches(g: &GateInput<'_>) -> bool {
    g.map.page_url.as_ref().is_none_or(|c| c.node.eval(g.ctx))
}

// Gates 2, 6 and 7 narrow the list of targets; each is an iterator over the
// one before it, in list order, rather than a collected list, so that gating
// allocates nothing (a map has a handful of targets: filtering again is cheaper).

/// Gate 2: the targets whose chat hours are open now, in list order (every
/// target for media without schedules).
fn open_targets<'g>(g: &'g GateInput<'_>) -> impl Iterator<Item = WorkgroupId> + 'g {
    let chat = g.map.action.media.is_chat();
    g.map.action.targets.iter().copied().filter(move |t| {
        !chat || g.sc.workgroup(*t).schedule.as_ref().is_none_or(|s| s.is_open(g.local.weekday, g.local.minute_of_day))
    })
}

/// Gate 3: no offer of this media type made at an earlier moment is still open.
fn no_existing_offer(g: &GateInput<'_>) -> bool {
    let Some(slot) = media_slot(g.map.action.media) else { return true };
    match g.session.open[slot] {
        None => true,
        Some(other) => match &g.session.maps[other.0 as usize] {
            // Offered at this very moment: that is gate 5's case.
            MapState::Offered { at, .. } => *at == g.now,
            _ => false,
        },
    }
}

/// Gate 4: the session's frequency cap for this media type.
fn within_frequency_cap(g: &GateInput<'_>) -> bool {
    let media = g.map.action.media;
    let (Some(slot), Some(cap)) = (media_slot(media), g.sc.settings.frequency_cap(media)) else {
        return true;
    };
    let s = g.session;
    if cap.after_conversation && s.engaged {
        return false;
    }
    if cap.after_rejection && s.rejected[slot] {
        return false;
    }
    // An offer made at this same moment is gate 5's business, not the wait's.
    match s.last_offer[slot] {
        Some(last) if cap.min_wait.0 > 0 && last < g.now => g.now.since(last) >= cap.min_wait,
        _ => true,
    }
}

/// Gate 6: of the open targets, those whose last snapshot exists, is at most
/// three pacing intervals old, and has a licensed agent logged in.
fn with_agents<'g>(g: &'g GateInput<'_>) -> impl Iterator<Item = Candidate> + 'g {
    let max_age = 3 * g.sc.pureconnect.pacing_rate.0;
    open_targets(g).filter_map(move |t| {
        let p = g.snapshots.last(t)?;
        let age_ms = g.now.0 - p.time.0;
        (age_ms <= max_age && p.snapshot.agents_logged_in >= 1).then_some(Candidate {
            target: t,
            ewt_ms: p.snapshot.ewt.0,
            available: p.snapshot.agents_available,
            age_ms,
        })
    })
}

/// Gate 7: of those, the targets whose estimated wait is at most `max_ewt`.
fn within_max_ewt<'g>(g: &'g GateInput<'_>) -> impl Iterator<Item = Candidate> + 'g {
    with_agents(g).filter(|c| c.ewt_ms <= g.map.action.max_ewt.0)
}

/// Step 8: the lowest wait, then the most agents available, then list order.
fn route(candidates: impl Iterator<Item = Candidate>) -> Route {
    let best =
        candidates.enumerate().min_by_key(|(i, c)| (c.ewt_ms, std::cmp::Reverse(c.available), *i)).map(|(_, c)| c);
    Route {
        target: best.map(|c| c.target),
        seen: best
            .map(|c| Seen { ewt: crate::config::model::Millis(c.ewt_ms), age: crate::config::model::Millis(c.age_ms) }),
    }
}
