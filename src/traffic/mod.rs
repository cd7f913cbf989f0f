//! Synthetic visitors (SPEC §5): non-homogeneous Poisson arrivals, returning
//! visitors, personas with context mixes, Markov page journeys with dwell
//! times, recorded events with attribute draws, idle events, and the chat
//! uplift on outcome-reaching transitions.
//!
//! Journeys unfold lazily: a visitor's next page is chosen when the clock
//! reaches the moment they leave the current one, so an engaged chat can change
//! where they go. Every draw comes from a stream keyed by (seed, visitor,
//! purpose, session), so a visitor's journey never depends on other visitors.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{AttrDist, Millis, Persona, Traffic};
use crate::dsl::{DynValue, OutcomeId};
use crate::events::{ContextPart, Event, EventKind, Page, TrackEvent, context_parts};
use crate::random::{self, Rng};

/// What the simulation tells the generator about a visitor.
pub trait VisitorView {
    /// Whether a chat of the visitor's current session reached an agent.
    fn engaged(&self, customer: &str) -> bool;
}

#[derive(Debug)]
struct Visitor {
    customer: Arc<str>,
    persona: usize,
    /// Context parts, drawn once per visitor.
    context: Vec<(ContextPart, crate::events::ContextValues)>,
    sessions: u32,
    /// When the current or last session's journey ended.
    left_at: Option<SimTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// A new visitor arrives (index of the arrival).
    Arrival(u64),
    /// A recorded event of the current page.
    Record { visitor: u32, page: u32, index: u32 },
    /// An idle event.
    Idle { visitor: u32, index: u32 },
    /// The visitor leaves the current page: next page or exit.
    Leave { visitor: u32, page: u32 },
}

/// Per-session journey state.
struct Journey {
    rng: Rng,
    pages: u32,
}

/// The generator: a heap of pending steps, each visitor's journey drawn from its own streams.
pub struct Generator<'s> {
    sc: &'s Scenario,
    traffic: &'s Traffic,
    start: SimTime,
    end: SimTime,
    heap: BinaryHeap<Reverse<(SimTime, u64, Step)>>,
    seq: u64,
    arrivals: Rng,
    arrival_count: u64,
    visitors: Vec<Visitor>,
    journeys: Vec<Option<Journey>>,
    /// Visitors who left, in the order they left (so, of when their session ends).
    leaving: std::collections::VecDeque<u32>,
    /// Visitors whose last session is over, who may come back.
    dormant: Vec<u32>,
    /// Per persona and page: the outcomes whose condition a view of that page meets.
    reaches: Vec<Vec<Vec<OutcomeId>>>,
    pub stats: TrafficStats,
}

/// What the generator produced (for sanity checks and the summary).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficStats {
    pub arrivals: u64,
    pub returning: u64,
    pub sessions: u64,
    pub bounces: u64,
    pub pageviews: u64,
    pub events: u64,
    pub per_persona: Vec<u64>,
}

impl<'s> Generator<'s> {
    /// `None` if the scenario has no `traffic`.
    pub fn new(sc: &'s Scenario, start: SimTime, duration: Millis) -> Option<Self> {
        let traffic = sc.traffic.as_ref()?;
        let reaches = traffic.personas.iter().map(|p| page_outcomes(sc, p)).collect();
        let mut g = Generator {
            sc,
            traffic,
            start,
            end: start.plus(duration),
            heap: BinaryHeap::new(),
            seq: 0,
            arrivals: random::stream(sc.seed, "arrivals", "", 0),
            arrival_count: 0,
            visitors: Vec::new(),
            journeys: Vec::new(),
            leaving: std::collections::VecDeque::new(),
            dormant: Vec::new(),
            reaches,
            stats: TrafficStats { per_persona: vec![0; traffic.personas.len()], ..Default::default() },
        };
        if let Some(t) = g.next_arrival(start) {
            g.push(t, Step::Arrival(0));
        }
        Some(g)
    }

    fn push(&mut self, t: SimTime, step: Step) {
        self.seq += 1;
        self.heap.push(Reverse((t, self.seq, step)));
    }

    /// The arrival rate (per ms) in force at `t`.
    fn rate_at(&self, t: SimTime) -> f64 {
        let hour = (t.0 - self.start.0).div_euclid(3_600_000) as usize;
        let mult =
            if self.traffic.profile.is_empty() { 1.0 } else { self.traffic.profile[hour % self.traffic.profile.len()] };
        self.traffic.per_hour * mult / 3_600_000.0
    }

    /// The next arrival after `t` of a Poisson process whose rate is constant
    /// within each hour: exponential gaps, redrawn at hour boundaries (memoryless).
    fn next_arrival(&mut self, mut t: SimTime) -> Option<SimTime> {
        while t < self.end {
            let rate = self.rate_at(t);
            let hour_end = SimTime(self.start.0 + ((t.0 - self.start.0).div_euclid(3_600_000) + 1) * 3_600_000);
            if rate > 0.0 {
                let gap = random::exp1(&mut self.arrivals) / rate;
                let at = t.0 as f64 + gap;
                if at < hour_end.0 as f64 {
                    let at = SimTime(at.round() as i64);
                    return (at < self.end).then_some(at);
                }
            }
            t = hour_end;
        }
        None
    }

    /// When the next step is due.
    pub fn next_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Runs the step due now; returns the tracking event it makes, if any.
    pub fn take(&mut self, view: &dyn VisitorView) -> Option<Event> {
        let Reverse((t, _, step)) = self.heap.pop()?;
        match step {
            Step::Arrival(k) => {
                if let Some(next) = self.next_arrival(t) {
                    self.push(next, Step::Arrival(k + 1));
                }
                self.arrive(t, k)
            }
            Step::Record { visitor, page, index } => Some(self.record(t, visitor, page, index)),
            Step::Idle { visitor, index } => {
                let v = &self.visitors[visitor as usize];
                let p = &self.traffic.personas[v.persona];
                let name = p.idle_events[index as usize].name.clone();
                self.stats.events += 1;
                Some(self.event(t, visitor, TrackEvent::named(&self.sc.interner, &name)))
            }
            Step::Leave { visitor, page } => self.leave(t, visitor, page, view),
        }
    }

    fn arrive(&mut self, t: SimTime, k: u64) -> Option<Event> {
        self.arrival_count += 1;
        self.stats.arrivals += 1;
        let timeout = self.sc.settings.session_timeout;
        // A returning visitor is one whose last session is over.
        let mut pick = random::stream(self.sc.seed, "returning", "", k);
        let returning = random::unit(&mut pick) < self.traffic.returning;
        // Visitors leave in time order, so those whose session is over form a prefix.
        while let Some(&l) = self.leaving.front() {
            if self.visitors[l as usize].left_at.is_some_and(|at| t >= at.plus(timeout)) {
                self.leaving.pop_front();
                self.dormant.push(l);
            } else {
                break;
            }
        }
        let visitor = if !returning || self.dormant.is_empty() {
            let customer = format!("v{k}");
            let persona = persona_index(self.sc, &customer);
            let context = draw_context(self.sc, &self.traffic.personas[persona], &customer);
            self.visitors.push(Visitor { customer: customer.into(), persona, context, sessions: 0, left_at: None });
            self.journeys.push(None);
            (self.visitors.len() - 1) as u32
        } else {
            self.stats.returning += 1;
            let i = (random::unit(&mut pick) * self.dormant.len() as f64) as usize;
            self.dormant.swap_remove(i.min(self.dormant.len() - 1))
        };
        let v = &mut self.visitors[visitor as usize];
        v.sessions += 1;
        v.left_at = None;
        self.stats.sessions += 1;
        self.stats.per_persona[v.persona] += 1;
        let rng = random::stream(self.sc.seed, "journey", &v.customer, u64::from(v.sessions));
        self.journeys[visitor as usize] = Some(Journey { rng, pages: 0 });
        let start_page = self.traffic.personas[v.persona].start_page as u32;
        Some(self.enter(t, visitor, start_page))
    }

    fn enter(&mut self, t: SimTime, visitor: u32, page: u32) -> Event {
        let v = &self.visitors[visitor as usize];
        let persona = &self.traffic.personas[v.persona];
        let p = &persona.pages[page as usize];
        let journey = self.journeys[visitor as usize].as_mut().expect("a journey is under way");
        journey.pages += 1;
        let rng = &mut journey.rng;
        let url = if p.url.contains("{n}") {
            p.url.replace("{n}", &(1 + (random::unit(rng) * 100.0) as u32).to_string())
        } else {
            p.url.clone()
        };
        let dwell = random::sample(&p.dwell, rng).round().max(1.0) as i64;
        // Recorded events happen while on the page, idle events once the visitor has dwelt long enough.
        let mut offsets: Vec<i64> = (0..p.events.len()).map(|_| (random::unit(rng) * dwell as f64) as i64).collect();
        offsets.sort_unstable();
        for (i, off) in offsets.into_iter().enumerate() {
            self.push(SimTime(t.0 + off.max(1)), Step::Record { visitor, page, index: i as u32 });
        }
        for (i, idle) in persona.idle_events.iter().enumerate() {
            if idle.after.0 < dwell {
                self.push(t.plus(idle.after), Step::Idle { visitor, index: i as u32 });
            }
        }
        self.push(SimTime(t.0 + dwell), Step::Leave { visitor, page });
        self.stats.pageviews += 1;
        self.stats.events += 1;
        let mut ev = TrackEvent::named(&self.sc.interner, "page_viewed");
        let mut page_info = Page::from_url(&url);
        page_info.title = p.title.as_deref().map(Into::into);
        ev.page = Some(std::sync::Arc::new(page_info));
        self.event(t, visitor, ev)
    }

    fn record(&mut self, t: SimTime, visitor: u32, page: u32, index: u32) -> Event {
        let v = &self.visitors[visitor as usize];
        let spec = &self.traffic.personas[v.persona].pages[page as usize].events[index as usize];
        let rng = &mut self.journeys[visitor as usize].as_mut().expect("a journey is under way").rng;
        let mut ev = TrackEvent::named(&self.sc.interner, &spec.name);
        for (name, dist) in &spec.attributes {
            let value = match dist {
                AttrDist::Number(d) => DynValue::from_number((random::sample(d, rng) * 100.0).round() / 100.0),
                AttrDist::Categorical(options) => {
                    let i = random::weighted(rng, options.iter().map(|(_, w)| *w));
                    DynValue::from_text(&options[i].0)
                }
                AttrDist::Fixed(text) => DynValue::from_text(text),
            };
            match self.sc.interner.lookup(name) {
                crate::dsl::Sym::UNKNOWN => ev.other_attributes.push((name.as_str().into(), value)),
                sym => ev.attributes.push((sym, value)),
            }
        }
        self.stats.events += 1;
        self.event(t, visitor, ev)
    }

    fn leave(&mut self, t: SimTime, visitor: u32, page: u32, view: &dyn VisitorView) -> Option<Event> {
        let v = &self.visitors[visitor as usize];
        let persona = &self.traffic.personas[v.persona];
        let p = &persona.pages[page as usize];
        let engaged = !persona.chat_uplift.is_empty() && view.engaged(&v.customer);
        let reaches = &self.reaches[v.persona];
        let weight = |target: &Option<usize>, w: f64| -> f64 {
            match (engaged, target) {
                (true, Some(next)) => {
                    let mut w = w;
                    for (outcome, factor) in &persona.chat_uplift {
                        if reaches[*next].contains(outcome) {
                            w *= factor;
                        }
                    }
                    w
                }
                _ => w,
            }
        };
        let rng = &mut self.journeys[visitor as usize].as_mut().expect("a journey is under way").rng;
        let next = if p.next.is_empty() || p.next.iter().all(|(_, w)| *w <= 0.0) {
            None
        } else {
            let i = random::weighted(rng, p.next.iter().map(|(target, w)| weight(target, *w)));
            p.next[i].0
        };
        match next {
            Some(page) => Some(self.enter(t, visitor, page as u32)),
            None => {
                // The journey is over: a one-page session is a bounce.
                if self.journeys[visitor as usize].as_ref().is_some_and(|j| j.pages == 1) {
                    self.stats.bounces += 1;
                }
                self.journeys[visitor as usize] = None;
                self.visitors[visitor as usize].left_at = Some(t);
                self.leaving.push_back(visitor);
                None
            }
        }
    }

    fn event(&self, t: SimTime, visitor: u32, mut ev: TrackEvent) -> Event {
        let v = &self.visitors[visitor as usize];
        ev.context = v.context.clone();
        Event { time: t, customer: v.customer.clone(), kind: EventKind::Track(Box::new(ev)), line: 0 }
    }
}

/// The persona a customer belongs to (same draw as the engine's response model).
fn persona_index(sc: &Scenario, customer: &str) -> usize {
    let personas = &sc.traffic.as_ref().map(|t| t.personas.as_slice()).unwrap_or(&[]);
    let mut rng = random::stream(sc.seed, "persona", customer, 0);
    random::weighted(&mut rng, personas.iter().map(|p| p.share))
}

/// Draws a visitor's context values from the persona's categorical mixes.
fn draw_context(sc: &Scenario, p: &Persona, customer: &str) -> Vec<(ContextPart, crate::events::ContextValues)> {
    let mut rng = random::stream(sc.seed, "context", customer, 0);
    let drawn: Vec<(crate::dsl::fields::StrField, &str)> = p
        .context
        .iter()
        .map(|(field, options)| {
            (*field, options[random::weighted(&mut rng, options.iter().map(|(_, w)| *w))].0.as_str())
        })
        .collect();
    context_parts(drawn)
}

/// For each page of a persona, the outcomes a view of that page achieves on its
/// own (evaluated on a fresh session): the transitions the chat uplift boosts.
fn page_outcomes(sc: &Scenario, p: &Persona) -> Vec<Vec<OutcomeId>> {
    p.pages
        .iter()
        .map(|page| {
            let url = page.url.replace("{n}", "1");
            sc.outcomes
                .iter()
                .enumerate()
                .filter(|(_, o)| o.achieved_when.node.eval(&PageOnly::new(sc, &url)))
                .map(|(i, _)| OutcomeId(i as u32))
                .collect()
        })
        .collect()
}

/// A context with one pageview of `url` in a fresh session and nothing else:
/// enough to tell whether a page on its own achieves an outcome.
struct PageOnly {
    page: Page,
    name: crate::dsl::Sym,
}

impl PageOnly {
    fn new(sc: &Scenario, url: &str) -> Self {
        PageOnly { page: Page::from_url(url), name: sc.interner.lookup("page_viewed") }
    }
}

impl crate::dsl::Context for PageOnly {
    fn str_field(&self, f: crate::dsl::fields::StrField) -> Option<&str> {
        match f {
            crate::dsl::fields::StrField::EventName => Some("page_viewed"),
            f => self.page.get(f),
        }
    }
    fn num_field(&self, f: crate::dsl::fields::NumField) -> Option<f64> {
        use crate::dsl::fields::NumField as N;
        Some(match f {
            N::SessionPageviews | N::SessionEvents | N::SessionNumber | N::VisitorSessions | N::VisitorPageviews => 1.0,
            N::NowHour => 12.0,
        })
    }
    fn dur_field(&self, _: crate::dsl::fields::DurField) -> Option<i64> {
        Some(0)
    }
    fn bool_field(&self, _: crate::dsl::fields::BoolField) -> Option<bool> {
        Some(false)
    }
    fn event_name(&self) -> crate::dsl::Sym {
        self.name
    }
    fn attribute(&self, _: crate::dsl::Sym) -> Option<&DynValue> {
        None
    }
    fn trait_value(&self, _: crate::dsl::Sym) -> Option<&DynValue> {
        None
    }
    fn segment(&self, _: crate::dsl::SegmentId) -> bool {
        false
    }
    fn outcome_achieved(&self, _: OutcomeId) -> bool {
        false
    }
    fn outcome_score(&self, _: OutcomeId, _: crate::dsl::ScoreMetric) -> Option<f64> {
        None
    }
    fn count(&self, _: crate::dsl::CountSlot) -> u32 {
        1
    }
}
