//! `report.html`: one self-contained page (inline CSS and SVG, no script, no
//! network) drawn from a run's results — the funnel of every action map,
//! activity and availability over simulated time, outcome rates with and
//! without an engaged chat per segment, journey maps of a sample of visitors,
//! and the settings that reproduce the run.
//!
//! Like the rest of `report`, it only reads results: `summary.json`,
//! `decisions.jsonl` and `availability.jsonl`, streamed line by line into
//! fixed-size time buckets, and a [`JourneySample`] that kept the events and
//! decisions of a few visitors during the run (an [`Output`]; [`Tee`] runs it
//! beside the files).
//!
//! Text from input data (titles, URLs, attributes, ids) is escaped: by
//! minijinja's HTML auto-escaping in the templates, and by [`esc`] in the SVG
//! drawn here. The page's Content-Security-Policy allows no script at all.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use minijinja::{Environment, Value, context};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use serde::de::{Deserializer, Visitor};

use crate::availability::Published;
use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{
    ActionMapId, ActionState, Activation, BlockingReason, MediaType, Millis, ResponseState, Scope, WorkgroupId,
};
use crate::dsl::fields::StrField;
use crate::dsl::{OutcomeId, SegmentId, Sym};
use crate::engine::{Decision, DecisionKind, Engine, Gate, Score, SessionEnd, Trace};
use crate::events::{CONTEXT_FIELDS, Event, EventKind, LineError};
use crate::sim::Output;

// ---------------------------------------------------------------------------
// Tee
// ---------------------------------------------------------------------------

/// Sends everything a run reports to two outputs (the files and a [`JourneySample`], say).
pub struct Tee<'a>(pub &'a mut dyn Output, pub &'a mut dyn Output);

impl Output for Tee<'_> {
    fn decision(&mut self, d: &Decision) {
        self.0.decision(d);
        self.1.decision(d);
    }
    fn availability(&mut self, wg: WorkgroupId, p: &Published) {
        self.0.availability(wg, p);
        self.1.availability(wg, p);
    }
    fn session_ended(&mut self, end: &SessionEnd) {
        self.0.session_ended(end);
        self.1.session_ended(end);
    }
    fn traced(&mut self, event: &Event, trace: Trace, engine: &Engine<'_>) {
        self.0.traced(event, trace.clone(), engine);
        self.1.traced(event, trace, engine);
    }
    fn rejected(&mut self, line: u64, error: &LineError) {
        self.0.rejected(line, error);
        self.1.rejected(line, error);
    }
    fn clock(&mut self, now: SimTime) {
        self.0.clock(now);
        self.1.clock(now);
    }
    fn event(&mut self, event: &Event) {
        self.0.event(event);
        self.1.event(event);
    }
    fn features(&mut self, customer: &Arc<str>, session: u32, values: &[f64]) {
        self.0.features(customer, session, values);
        self.1.features(customer, session, values);
    }
}

// ---------------------------------------------------------------------------
// The journey sample
// ---------------------------------------------------------------------------

/// Visitors a [`JourneySample`] keeps by default: the first this many seen.
pub const DEFAULT_POOL: usize = 200;
/// Journeys the report shows by default, chosen among the pool.
pub const DEFAULT_SHOWN: usize = 12;
/// Events and decisions kept per sampled visitor; later ones are only counted.
pub const MAX_ITEMS: usize = 400;
/// The same for a visitor asked for by id (`explain --html`).
pub const MAX_ITEMS_REQUESTED: usize = 5000;

/// The events and decisions of a deterministic sample of visitors, kept during
/// a run for the report's journey maps: the first [`DEFAULT_POOL`] customers
/// seen, plus any customer asked for with [`JourneySample::request`]. Memory
/// is bounded whatever the run's size: at most `pool + requested` visitors,
/// each with at most [`MAX_ITEMS`] items ([`MAX_ITEMS_REQUESTED`] if asked for).
///
/// The report shows the requested visitors and [`DEFAULT_SHOWN`] of the pool,
/// picked for the variety of what happened to them (each pick adds the most
/// kinds of decision not yet shown; ties go to the earliest visitor).
pub struct JourneySample {
    pool: usize,
    shown: usize,
    session_timeout: i64,
    /// Per workgroup: a fixed (what-if) snapshot, whose chats go no further than `started`.
    fixed: Vec<bool>,
    journeys: Vec<Journey>,
    index: FxHashMap<Box<str>, usize>,
    pooled: usize,
    /// The last published snapshot of each workgroup: what an offer's gates saw.
    last: Vec<Option<Published>>,
    /// The journey the last event went to (an invalid line is taken back from it).
    touched: Option<usize>,
    /// The command line that made the run, shown in the report (optional).
    pub command: Option<String>,
    /// Everything the sample was told of, sampled or not (to tell a wiring that drops events).
    events_seen: u64,
    decisions_seen: u64,
}

struct Journey {
    customer: Box<str>,
    requested: bool,
    cap: usize,
    items: Vec<Item>,
    dropped: u64,
    /// The session of the latest event, as far as the sample can tell (see `event`).
    session: u32,
    last_activity: i64,
    open_chats: u32,
}

enum Item {
    Event(Box<EventItem>),
    Decision(Box<DecisionItem>),
}

struct EventItem {
    time: SimTime,
    line: u64,
    session: u32,
    what: EventWhat,
    trace: Option<TraceItem>,
}

enum EventWhat {
    Track {
        name: std::sync::Arc<str>,
        pageview: bool,
        url: Option<Box<str>>,
        title: Option<Box<str>>,
        attributes: Vec<(Name, Box<str>)>,
        traits: Vec<(Sym, Box<str>)>,
        context: Vec<(StrField, std::sync::Arc<str>)>,
    },
    Response {
        map: ActionMapId,
        state: ResponseState,
    },
}

enum Name {
    Sym(Sym),
    Text(Box<str>),
}

struct DecisionItem {
    d: Decision,
    /// Every workgroup's last published snapshot when an offer was made or
    /// blocked for availability (empty otherwise).
    snapshots: Vec<Option<Published>>,
}

type Contributions = Vec<(String, f64, f64)>;

/// What the engine reported of a traced visitor's event (`explain --html`).
struct TraceItem {
    session: u32,
    segments: Vec<SegmentId>,
    outcomes: Vec<OutcomeId>,
    scores: Vec<Score>,
    /// Per outcome with a predictor: each feature's (name, value, weighted contribution).
    features: Vec<(usize, Contributions)>,
    triggers: Vec<(ActionMapId, Option<bool>)>,
    gates: Vec<(ActionMapId, Vec<(Gate, bool)>)>,
}

impl Journey {
    fn push(&mut self, item: Item) {
        if self.items.len() < self.cap {
            self.items.push(item);
        } else {
            self.dropped += 1;
        }
    }

    fn decisions(&self) -> impl Iterator<Item = &Decision> {
        self.items.iter().filter_map(|i| match i {
            Item::Decision(d) => Some(&d.d),
            Item::Event(_) => None,
        })
    }

    /// Kinds of thing that happened to the visitor, for choosing varied journeys.
    fn features(&self) -> FxHashSet<u64> {
        let mut f = FxHashSet::default();
        for item in &self.items {
            let code = match item {
                Item::Decision(d) => match &d.d.kind {
                    DecisionKind::Action { map, state, .. } => 1 << 40 | u64::from(map.0) << 8 | *state as u64,
                    DecisionKind::Blocked { map, reason } => 2 << 40 | u64::from(map.0) << 8 | *reason as u64,
                    DecisionKind::SegmentAssigned(s) => 3 << 40 | u64::from(s.0),
                    DecisionKind::OutcomeAchieved(o) => 4 << 40 | u64::from(o.0),
                },
                Item::Event(e) => match &e.what {
                    EventWhat::Response { state, .. } => 5 << 40 | *state as u64,
                    EventWhat::Track { .. } if e.session > 1 => 6 << 40,
                    EventWhat::Track { .. } => continue,
                },
            };
            f.insert(code);
        }
        f
    }
}

impl JourneySample {
    /// Keeps the first [`DEFAULT_POOL`] visitors seen; the report shows [`DEFAULT_SHOWN`].
    pub fn new(sc: &Scenario) -> Self {
        Self::with_sizes(sc, DEFAULT_POOL, DEFAULT_SHOWN)
    }

    /// Keeps the first `pool` visitors seen; the report shows `shown` of them.
    pub fn with_sizes(sc: &Scenario, pool: usize, shown: usize) -> Self {
        JourneySample {
            pool,
            shown,
            session_timeout: sc.settings.session_timeout.0,
            fixed: sc.workgroups.iter().map(|w| w.fixed_availability.is_some()).collect(),
            journeys: Vec::new(),
            index: FxHashMap::default(),
            pooled: 0,
            last: vec![None; sc.workgroups.len()],
            touched: None,
            command: None,
            events_seen: 0,
            decisions_seen: 0,
        }
    }

    /// Also keeps `customer`, whenever it comes (and shows it first).
    pub fn with_customer(mut self, customer: &str) -> Self {
        self.request(customer);
        self
    }

    /// Also keeps `customer`, whenever it comes (and shows it first). Call before the run.
    pub fn request(&mut self, customer: &str) {
        match self.index.get(customer) {
            Some(&i) => {
                let j = &mut self.journeys[i];
                j.requested = true;
                j.cap = MAX_ITEMS_REQUESTED;
            }
            None => {
                self.add(customer, true);
            }
        }
    }

    fn add(&mut self, customer: &str, requested: bool) -> usize {
        let i = self.journeys.len();
        self.journeys.push(Journey {
            customer: customer.into(),
            requested,
            cap: if requested { MAX_ITEMS_REQUESTED } else { MAX_ITEMS },
            items: Vec::new(),
            dropped: 0,
            session: 0,
            last_activity: i64::MIN,
            open_chats: 0,
        });
        self.index.insert(customer.into(), i);
        i
    }

    /// The journey of `customer`, taking it into the pool if there is room.
    fn slot(&mut self, customer: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(customer) {
            return Some(i);
        }
        if self.pooled >= self.pool {
            return None;
        }
        self.pooled += 1;
        Some(self.add(customer, false))
    }

    /// Whether the sample keeps this customer's journey.
    pub fn contains(&self, customer: &str) -> bool {
        self.index.contains_key(customer)
    }

    /// Every customer kept, in the order first seen (requested ones where asked for).
    pub fn customers(&self) -> Vec<&str> {
        self.journeys.iter().map(|j| &*j.customer).collect()
    }

    /// Events and decisions kept for `customer`.
    pub fn items(&self, customer: &str) -> usize {
        self.index.get(customer).map_or(0, |&i| self.journeys[i].items.len())
    }

    /// The customers whose journeys the report shows, in the order it shows them.
    pub fn shown(&self) -> Vec<&str> {
        self.chosen().into_iter().map(|i| &*self.journeys[i].customer).collect()
    }

    fn chosen(&self) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.journeys.len()).filter(|&i| self.journeys[i].requested).collect();
        let candidates: Vec<usize> = (0..self.journeys.len())
            .filter(|&i| !self.journeys[i].requested && !self.journeys[i].items.is_empty())
            .collect();
        let features: Vec<FxHashSet<u64>> = candidates.iter().map(|&i| self.journeys[i].features()).collect();
        let mut covered = FxHashSet::default();
        let mut picked = vec![false; candidates.len()];
        let mut count = 0;
        while count < self.shown {
            let best = (0..candidates.len())
                .filter(|&k| !picked[k])
                .map(|k| (features[k].difference(&covered).count(), k))
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            match best {
                Some((gain, k)) if gain > 0 => {
                    picked[k] = true;
                    covered.extend(features[k].iter().copied());
                    count += 1;
                }
                _ => break,
            }
        }
        for p in picked.iter_mut() {
            if count >= self.shown {
                break;
            }
            if !*p {
                *p = true;
                count += 1;
            }
        }
        out.extend(candidates.iter().zip(&picked).filter(|(_, p)| **p).map(|(i, _)| *i));
        out
    }
}

fn event_what(ev: &Event) -> EventWhat {
    match &ev.kind {
        EventKind::Response { action_map, state } => EventWhat::Response { map: *action_map, state: *state },
        EventKind::Track(t) => {
            let mut context = Vec::new();
            for (part, values) in &t.context {
                for (field, v) in CONTEXT_FIELDS[part.fields()].iter().zip(values.iter()) {
                    if let Some(v) = v {
                        context.push((*field, v.clone()));
                    }
                }
            }
            let mut attributes: Vec<(Name, Box<str>)> =
                t.attributes.iter().map(|(s, v)| (Name::Sym(*s), v.text.clone())).collect();
            attributes.extend(t.other_attributes.iter().map(|(n, v)| (Name::Text(n.clone()), v.text.clone())));
            EventWhat::Track {
                name: t.name_text.clone(),
                pageview: t.is_pageview,
                url: t.page.as_ref().map(|p| p.url.clone()),
                title: t.page.as_ref().and_then(|p| p.title.clone()),
                attributes,
                traits: t.traits.iter().map(|(s, v)| (*s, v.text.clone())).collect(),
                context,
            }
        }
    }
}

impl Output for JourneySample {
    fn decision(&mut self, d: &Decision) {
        self.decisions_seen += 1;
        let Some(&i) = self.index.get(&*d.customer) else { return };
        let availability_matters = matches!(
            d.kind,
            DecisionKind::Action { state: ActionState::Offered, target: Some(_), .. }
                | DecisionKind::Blocked {
                    reason: BlockingReason::NoAvailableAgents | BlockingReason::ServiceLevelThrottling,
                    ..
                }
        );
        let snapshots = if availability_matters { self.last.clone() } else { Vec::new() };
        let j = &mut self.journeys[i];
        if let DecisionKind::Action { state, target: Some(t), .. } = d.kind
            && !self.fixed.get(t.0 as usize).copied().unwrap_or(true)
        {
            // A queued chat or one with an agent keeps its session open.
            match state {
                ActionState::Started => j.open_chats += 1,
                ActionState::Completed | ActionState::Abandoned => {
                    j.open_chats = j.open_chats.saturating_sub(1);
                    j.last_activity = j.last_activity.max(d.time.0);
                }
                _ => {}
            }
        }
        if d.session > j.session {
            // The decision knows the session: the events of this moment were in it.
            let old = j.session;
            j.session = d.session;
            for item in j.items.iter_mut().rev() {
                match item {
                    Item::Event(e) if e.time == d.time => {
                        if e.session == old {
                            e.session = d.session;
                        }
                    }
                    Item::Decision(x) if x.d.time == d.time => {}
                    _ => break,
                }
            }
        }
        j.push(Item::Decision(Box::new(DecisionItem { d: d.clone(), snapshots })));
    }

    fn availability(&mut self, wg: WorkgroupId, p: &Published) {
        let i = wg.0 as usize;
        if i >= self.last.len() {
            self.last.resize(i + 1, None);
        }
        self.last[i] = Some(*p);
    }

    fn event(&mut self, ev: &Event) {
        self.events_seen += 1;
        let Some(i) = self.slot(&ev.customer) else {
            self.touched = None;
            return;
        };
        self.touched = Some(i);
        let timeout = self.session_timeout;
        let j = &mut self.journeys[i];
        if matches!(ev.kind, EventKind::Track(_)) {
            // SPEC §6 step 1, as far as events and chats show it; a decision or
            // the engine's trace corrects it.
            let t = ev.time.0;
            if j.session == 0 || (j.open_chats == 0 && t >= j.last_activity.saturating_add(timeout)) {
                j.session += 1;
            }
            j.last_activity = j.last_activity.max(t);
        }
        let item =
            EventItem { time: ev.time, line: ev.line, session: j.session.max(1), what: event_what(ev), trace: None };
        j.push(Item::Event(Box::new(item)));
    }

    fn rejected(&mut self, line: u64, _error: &LineError) {
        // An event the engine refused (an answer to no open offer) is taken back.
        if let Some(i) = self.touched {
            let j = &mut self.journeys[i];
            if let Some(Item::Event(e)) = j.items.last()
                && e.line == line
                && line > 0
            {
                j.items.pop();
            }
        }
    }

    fn traced(&mut self, ev: &Event, trace: Trace, engine: &Engine<'_>) {
        let Some(&i) = self.index.get(&*ev.customer) else { return };
        let Some(v) = engine.visitor_lookup(&ev.customer) else { return };
        let Some(view) = engine.session_view(v) else { return };
        let features = engine
            .sc
            .outcomes
            .iter()
            .enumerate()
            .filter_map(|(k, o)| o.predictor.as_ref().map(|p| (k, engine.feature_contributions(v, ev, p))))
            .collect();
        let item = TraceItem {
            session: view.number,
            segments: view.segments,
            outcomes: view.outcomes,
            scores: view.scores,
            features,
            triggers: trace.triggers,
            gates: trace.gates,
        };
        let j = &mut self.journeys[i];
        j.session = item.session;
        let found = j.items.iter_mut().rev().take(64).find_map(|it| match it {
            Item::Event(e) if e.time == ev.time && e.line == ev.line => Some(e),
            _ => None,
        });
        if let Some(e) = found {
            e.session = item.session;
            e.trace = Some(item);
        }
    }
}

// ---------------------------------------------------------------------------
// Reading the run's files
// ---------------------------------------------------------------------------

/// Charts have at most this many time buckets: one per minute up to a day of
/// simulated time, wider beyond (an hour-long bucket for a two-month run).
const MAX_BUCKETS: i64 = 1440;
/// A session whose decisions are this far apart from its last one is taken as over.
const SESSION_HORIZON_MS: i64 = 6 * 3_600_000;

/// The time frame of the charts: `n` buckets of `width` ms from `origin`.
#[derive(Clone, Copy, Debug)]
struct Frame {
    origin: i64,
    end: i64,
    width: i64,
    n: usize,
}

impl Frame {
    fn new(origin: i64, end: i64) -> Self {
        let span = (end - origin).max(60_000);
        let minutes = (span + 59_999) / 60_000;
        let width_min = ((minutes + MAX_BUCKETS - 1) / MAX_BUCKETS).max(1);
        let width = width_min * 60_000;
        let n = ((span + width - 1) / width + 1) as usize;
        Frame { origin, end: origin + span, width, n }
    }
    fn at(&self, t: i64) -> usize {
        ((t - self.origin).div_euclid(self.width)).clamp(0, self.n as i64 - 1) as usize
    }
    fn minutes(&self) -> f64 {
        self.width as f64 / 60_000.0
    }
    fn mid(&self, b: usize) -> i64 {
        self.origin + b as i64 * self.width + self.width / 2
    }
}

/// A JSON string, borrowed from the line where it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Text)
    }
}

/// One line of decisions.jsonl: the fields the report reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DecisionLine<'a> {
    #[serde(borrow)]
    time: Text<'a>,
    #[serde(borrow)]
    session_id: Text<'a>,
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow, default)]
    action_map: Option<Text<'a>>,
    #[serde(borrow, default)]
    state: Option<Text<'a>>,
    #[serde(borrow, default)]
    action_target: Option<Text<'a>>,
    #[serde(borrow, default)]
    blocking_reason: Option<Text<'a>>,
    #[serde(borrow, default)]
    segment: Option<Text<'a>>,
    #[serde(borrow, default)]
    outcome: Option<Text<'a>>,
}

/// One line of availability.jsonl.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityLine<'a> {
    #[serde(borrow)]
    time: Text<'a>,
    #[serde(borrow)]
    workgroup: Text<'a>,
    agents_logged_in: f64,
    agents_available: f64,
    queue_length: f64,
    ewt_seconds: f64,
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (what every output writes) to Unix milliseconds;
/// any other RFC 3339 time through jiff.
fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
    {
        let num = |from: usize, to: usize| -> Option<i64> {
            b[from..to].iter().try_fold(0i64, |acc, c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
        };
        let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (h, mi, sec, ms) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
        if (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && sec < 61 {
            // Days from civil (H. Hinnant).
            let y = if mo <= 2 { y - 1 } else { y };
            let era = y.div_euclid(400);
            let yoe = y - era * 400;
            let mp = (mo + 9) % 12;
            let doy = (153 * mp + 2) / 5 + d - 1;
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            let days = era * 146_097 + doe - 719_468;
            return Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms);
        }
    }
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond())
}

/// A top-level value of a flat JSON object line, as [`scan`] sees it.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Str(&'a str),
    /// A number, `true`, `false` or `null`, unparsed.
    Word(&'a str),
}

/// Calls `f` with each `"key": value` of a one-line JSON object whose keys and
/// string values have no escapes and whose values are not objects or arrays —
/// the lines pesim writes. `None` (after some calls) when the line is anything
/// else: the caller then reads it with serde_json. Several times faster than
/// serde_json on the million-line files of a large run.
fn scan<'a>(line: &'a str, mut f: impl FnMut(&'a str, Raw<'a>)) -> Option<()> {
    let b = line.as_bytes();
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    // The end of a string starting after its opening quote; `None` on an escape.
    let string_end = |from: usize| -> Option<usize> {
        let n = b[from..].iter().position(|c| *c == b'"' || *c == b'\\')?;
        (b[from + n] == b'"').then_some(from + n)
    };
    let mut i = 0;
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    ws(&mut i);
    if b.get(i) == Some(&b'}') {
        return Some(());
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let k_end = string_end(i + 1)?;
        let key = &line[i + 1..k_end];
        i = k_end + 1;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        match b.get(i)? {
            b'"' => {
                let v_end = string_end(i + 1)?;
                f(key, Raw::Str(&line[i + 1..v_end]));
                i = v_end + 1;
            }
            b'{' | b'[' => return None,
            _ => {
                let n = b[i..].iter().position(|c| matches!(c, b',' | b'}') || c.is_ascii_whitespace())?;
                f(key, Raw::Word(&line[i..i + n]));
                i += n;
            }
        }
        ws(&mut i);
        match b.get(i)? {
            b',' => {
                i += 1;
                ws(&mut i);
            }
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

impl<'a> DecisionLine<'a> {
    /// The fields of a decision line: by [`scan`], else by serde_json.
    fn read(text: &'a str) -> Option<Self> {
        let mut d = DecisionLine {
            time: Text(Cow::Borrowed("")),
            session_id: Text(Cow::Borrowed("")),
            kind: Text(Cow::Borrowed("")),
            action_map: None,
            state: None,
            action_target: None,
            blocking_reason: None,
            segment: None,
            outcome: None,
        };
        let mut seen = 0u8;
        let scanned = scan(text, |k, v| {
            let Raw::Str(v) = v else { return };
            let v = Text(Cow::Borrowed(v));
            match k {
                "time" => (d.time, seen) = (v, seen | 1),
                "sessionId" => (d.session_id, seen) = (v, seen | 2),
                "kind" => (d.kind, seen) = (v, seen | 4),
                "actionMap" => d.action_map = Some(v),
                "state" => d.state = Some(v),
                "actionTarget" => d.action_target = Some(v),
                "blockingReason" => d.blocking_reason = Some(v),
                "segment" => d.segment = Some(v),
                "outcome" => d.outcome = Some(v),
                _ => {}
            }
        });
        match scanned {
            Some(()) if seen == 7 => Some(d),
            _ => serde_json::from_str(text).ok(),
        }
    }
}

impl<'a> AvailabilityLine<'a> {
    /// The fields of an availability line: by [`scan`], else by serde_json.
    fn read(text: &'a str) -> Option<Self> {
        let mut a = AvailabilityLine {
            time: Text(Cow::Borrowed("")),
            workgroup: Text(Cow::Borrowed("")),
            agents_logged_in: 0.0,
            agents_available: 0.0,
            queue_length: 0.0,
            ewt_seconds: 0.0,
        };
        let mut seen = 0u8;
        let scanned = scan(text, |k, v| match (k, v) {
            ("time", Raw::Str(v)) => (a.time, seen) = (Text(Cow::Borrowed(v)), seen | 1),
            ("workgroup", Raw::Str(v)) => (a.workgroup, seen) = (Text(Cow::Borrowed(v)), seen | 2),
            (k, Raw::Word(w)) => {
                let Ok(x) = w.parse::<f64>() else { return };
                let slot = match k {
                    "agentsLoggedIn" => (&mut a.agents_logged_in, 4),
                    "agentsAvailable" => (&mut a.agents_available, 8),
                    "queueLength" => (&mut a.queue_length, 16),
                    "ewtSeconds" => (&mut a.ewt_seconds, 32),
                    _ => return,
                };
                *slot.0 = x;
                seen |= slot.1;
            }
            _ => {}
        });
        match scanned {
            Some(()) if seen == 63 => Some(a),
            _ => serde_json::from_str(text).ok(),
        }
    }
}

/// Calls `f` with every non-blank line of a file, trimmed, read in blocks of
/// 256 KiB (no copy per line). Returns the number of lines that are not UTF-8,
/// which are skipped. (Blocks of 4 MiB, with the two files read at once, added
/// 6 MB to the report's peak memory at 1M events.)
fn each_line(path: &Path, mut f: impl FnMut(&str)) -> io::Result<u64> {
    const BLOCK: u64 = 256 << 10;
    let mut file = File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK as usize + 4096);
    let mut not_utf8 = 0;
    let mut lines = |block: &[u8], f: &mut dyn FnMut(&str)| match std::str::from_utf8(block) {
        Ok(text) => text.split('\n').map(str::trim_ascii).filter(|l| !l.is_empty()).for_each(f),
        Err(_) => {
            for line in block.split(|c| *c == b'\n') {
                match std::str::from_utf8(line) {
                    Ok(l) if !l.trim_ascii().is_empty() => f(l.trim_ascii()),
                    Ok(_) => {}
                    Err(_) => not_utf8 += 1,
                }
            }
        }
    };
    loop {
        let n = (&mut file).take(BLOCK).read_to_end(&mut buf)?;
        if n == 0 {
            lines(&buf, &mut f);
            break;
        }
        // Whole lines now; the rest waits for the next block.
        if let Some(end) = buf.iter().rposition(|c| *c == b'\n') {
            lines(&buf[..end], &mut f);
            buf.drain(..=end);
        }
    }
    Ok(not_utf8)
}

/// A set of small indices: the first 64 inline, more in a vector (no allocation
/// for scenarios of up to 64 segments or outcomes).
#[derive(Clone, Default)]
struct Bits {
    lo: u64,
    hi: Vec<u64>,
}

impl Bits {
    fn set(&mut self, i: usize) {
        if i < 64 {
            self.lo |= 1 << i;
        } else {
            let k = i / 64 - 1;
            if self.hi.len() <= k {
                self.hi.resize(k + 1, 0);
            }
            self.hi[k] |= 1 << (i % 64);
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(&self.lo).chain(&self.hi).enumerate().flat_map(|(k, w)| {
            let mut w = *w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let b = w.trailing_zeros() as usize;
                    w &= w - 1;
                    k * 64 + b
                })
            })
        })
    }
}

#[derive(Clone, Copy, Default)]
struct Activity {
    offered: u32,
    blocked: u32,
    accepted: u32,
    engaged: u32,
}

#[derive(Clone, Copy, Default)]
struct Avail {
    samples: u32,
    ewt: f64,
    queue: f64,
    logged_in: f64,
    available: f64,
}

#[derive(Clone, Copy, Default)]
struct Sl {
    within: u32,
    engaged: u32,
    /// Abandons at or after the short-abandon threshold.
    abandoned: u32,
}

/// Sessions with a segment: (sessions, achieved per outcome), with and without an engaged chat.
#[derive(Clone, Default)]
struct SegmentRates {
    sessions: [u64; 2],
    achieved: Vec<[u64; 2]>,
}

#[derive(Default)]
struct SessionAcc {
    last: i64,
    engaged: bool,
    segments: Bits,
    outcomes: Bits,
}

/// What decisions.jsonl says, counted and bucketed.
struct DecisionAgg<'s> {
    sc: &'s Scenario,
    frame: Frame,
    maps: FxHashMap<&'s str, usize>,
    workgroups: FxHashMap<&'s str, usize>,
    segment_ids: FxHashMap<&'s str, usize>,
    outcome_ids: FxHashMap<&'s str, usize>,
    activity: Vec<Activity>,
    /// [bucket * workgroups + workgroup]
    sl: Vec<Sl>,
    states: Vec<[u64; ActionState::ALL.len()]>,
    blocked: Vec<[u64; BlockingReason::ALL.len()]>,
    lines: u64,
    unreadable: u64,
    sessions: FxHashMap<Box<str>, SessionAcc>,
    per_segment: Vec<SegmentRates>,
    /// Chats waiting in a queue: "session\0map" → (started at, workgroup).
    queued: FxHashMap<Box<str>, (i64, usize)>,
    next_sweep: i64,
}

impl<'s> DecisionAgg<'s> {
    fn new(sc: &'s Scenario, frame: Frame) -> Self {
        let ids = |it: &mut dyn Iterator<Item = &'s str>| it.enumerate().map(|(i, s)| (s, i)).collect();
        DecisionAgg {
            sc,
            frame,
            maps: ids(&mut sc.action_maps.iter().map(|m| m.id.as_str())),
            workgroups: ids(&mut sc.workgroups.iter().map(|w| w.id.as_str())),
            segment_ids: ids(&mut sc.segments.iter().map(|s| s.id.as_str())),
            outcome_ids: ids(&mut sc.outcomes.iter().map(|o| o.id.as_str())),
            activity: vec![Activity::default(); frame.n],
            sl: vec![Sl::default(); frame.n * sc.workgroups.len()],
            states: vec![[0; ActionState::ALL.len()]; sc.action_maps.len()],
            blocked: vec![[0; BlockingReason::ALL.len()]; sc.action_maps.len()],
            lines: 0,
            unreadable: 0,
            sessions: FxHashMap::default(),
            per_segment: vec![
                SegmentRates { sessions: [0; 2], achieved: vec![[0; 2]; sc.outcomes.len()] };
                sc.segments.len()
            ],
            queued: FxHashMap::default(),
            next_sweep: i64::MIN,
        }
    }

    /// Updates the session's accumulator (one hash lookup when it exists).
    fn session(&mut self, id: &str, t: i64, update: impl FnOnce(&mut SessionAcc)) {
        if let Some(acc) = self.sessions.get_mut(id) {
            acc.last = acc.last.max(t);
            update(acc);
            return;
        }
        let mut acc = SessionAcc { last: t, ..SessionAcc::default() };
        update(&mut acc);
        self.sessions.insert(id.into(), acc);
    }

    fn fold(per_segment: &mut [SegmentRates], acc: &SessionAcc) {
        let side = usize::from(!acc.engaged);
        for s in acc.segments.iter() {
            let Some(rates) = per_segment.get_mut(s) else { continue };
            rates.sessions[side] += 1;
            for o in acc.outcomes.iter() {
                if let Some(a) = rates.achieved.get_mut(o) {
                    a[side] += 1;
                }
            }
        }
    }

    /// Folds the sessions that have been quiet for [`SESSION_HORIZON_MS`]: memory
    /// follows the sessions open at once, not the run's length.
    fn sweep(&mut self, now: i64) {
        let per_segment = &mut self.per_segment;
        self.sessions.retain(|_, acc| {
            let keep = acc.last > now - SESSION_HORIZON_MS;
            if !keep {
                Self::fold(per_segment, acc);
            }
            keep
        });
    }

    fn finish(&mut self) {
        for acc in self.sessions.values() {
            Self::fold(&mut self.per_segment, acc);
        }
        self.sessions.clear();
    }

    fn line(&mut self, line: &str) {
        self.lines += 1;
        let Some(d) = DecisionLine::read(line) else {
            self.unreadable += 1;
            return;
        };
        let Some(t) = parse_time(&d.time.0) else {
            self.unreadable += 1;
            return;
        };
        if t >= self.next_sweep {
            self.sweep(t);
            self.next_sweep = t + 3_600_000;
        }
        let b = self.frame.at(t);
        let nwg = self.sc.workgroups.len();
        let map = d.action_map.as_ref().and_then(|m| self.maps.get(&*m.0).copied());
        match &*d.kind.0 {
            "action" => {
                let (Some(m), Some(state)) = (map, d.state.as_ref().and_then(|s| ActionState::from_name(&s.0))) else {
                    self.unreadable += 1;
                    return;
                };
                self.states[m][state as usize] += 1;
                let wg = d.action_target.as_ref().and_then(|w| self.workgroups.get(&*w.0).copied());
                let simulated = wg.is_some_and(|w| self.sc.workgroups[w].fixed_availability.is_none());
                let key = || format!("{}\0{m}", d.session_id.0).into_boxed_str();
                match state {
                    ActionState::Offered => self.activity[b].offered += 1,
                    ActionState::Accepted => self.activity[b].accepted += 1,
                    ActionState::Started if simulated => {
                        self.queued.insert(key(), (t, wg.expect("simulated")));
                    }
                    ActionState::Engaged => {
                        self.activity[b].engaged += 1;
                        self.session(&d.session_id.0, t, |acc| acc.engaged = true);
                        if let Some((start, w)) = self.queued.remove(&key()) {
                            let cell = &mut self.sl[b * nwg + w];
                            cell.engaged += 1;
                            if t - start <= self.sc.workgroups[w].service_level.within.0 {
                                cell.within += 1;
                            }
                        }
                    }
                    ActionState::Abandoned => {
                        if let Some((start, w)) = self.queued.remove(&key())
                            && t - start >= self.sc.workgroups[w].short_abandon.0
                        {
                            self.sl[b * nwg + w].abandoned += 1;
                        }
                    }
                    _ => {}
                }
            }
            "blocked" => {
                let (Some(m), Some(r)) =
                    (map, d.blocking_reason.as_ref().and_then(|r| BlockingReason::from_name(&r.0)))
                else {
                    self.unreadable += 1;
                    return;
                };
                self.blocked[m][r as usize] += 1;
                self.activity[b].blocked += 1;
            }
            "segmentAssigned" => {
                let Some(s) = d.segment.as_ref().and_then(|s| self.segment_ids.get(&*s.0).copied()) else {
                    self.unreadable += 1;
                    return;
                };
                self.session(&d.session_id.0, t, |acc| acc.segments.set(s));
            }
            "outcomeAchieved" => {
                let Some(o) = d.outcome.as_ref().and_then(|o| self.outcome_ids.get(&*o.0).copied()) else {
                    self.unreadable += 1;
                    return;
                };
                self.session(&d.session_id.0, t, |acc| acc.outcomes.set(o));
            }
            _ => self.unreadable += 1,
        }
    }
}

/// What availability.jsonl says, bucketed per workgroup.
struct AvailAgg {
    /// [bucket * workgroups + workgroup]
    cells: Vec<Avail>,
    updates: Vec<u64>,
    lines: u64,
    unreadable: u64,
}

impl AvailAgg {
    fn read(sc: &Scenario, frame: Frame, path: &Path) -> io::Result<Self> {
        let nwg = sc.workgroups.len();
        let ids: FxHashMap<&str, usize> = sc.workgroups.iter().enumerate().map(|(i, w)| (w.id.as_str(), i)).collect();
        let mut agg =
            AvailAgg { cells: vec![Avail::default(); frame.n * nwg], updates: vec![0; nwg], lines: 0, unreadable: 0 };
        let not_utf8 = each_line(path, |line| {
            agg.lines += 1;
            let parsed = AvailabilityLine::read(line).and_then(|a| {
                let w = ids.get(&*a.workgroup.0).copied()?;
                Some((parse_time(&a.time.0)?, w, a))
            });
            let Some((t, w, a)) = parsed else {
                agg.unreadable += 1;
                return;
            };
            agg.updates[w] += 1;
            let c = &mut agg.cells[frame.at(t) * nwg + w];
            c.samples += 1;
            c.ewt += a.ewt_seconds;
            c.queue += a.queue_length;
            c.logged_in += a.agents_logged_in;
            c.available += a.agents_available;
        })?;
        agg.unreadable += not_utf8;
        Ok(agg)
    }
}

// ---------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------

/// Escapes text for HTML and SVG, in element content and quoted attributes.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

const PALETTE: [&str; 8] = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#db2777", "#ca8a04", "#475569"];

fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn svg_open(out: &mut String, id: &str, w: u32, h: u32, title: &str, desc: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="{id}-t {id}-d" font-family="system-ui, sans-serif" font-size="12"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(desc)
    );
}

fn nice_max(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    let m = x / p;
    let n = [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().find(|n| m <= *n + 1e-9).unwrap_or(10.0);
    n * p
}

fn num_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else if v.abs() < 10.0 {
        format!("{v:.2}").trim_end_matches('0').to_string()
    } else {
        format!("{v:.1}").trim_end_matches(".0").to_string()
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(x: Option<f64>) -> String {
    x.map_or("–".to_string(), |x| format!("{:.1}%", 100.0 * x))
}

fn secs(s: f64) -> String {
    if s < 10.0 && s.fract() != 0.0 { format!("{s:.1}s") } else { Millis((s * 1000.0).round() as i64).to_string() }
}

/// Local wall-clock text of an instant.
fn local(sc: &Scenario, ms: i64, fmt: &str) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(sc.timezone.clone()).strftime(fmt).to_string())
        .unwrap_or_else(|_| SimTime(ms).rfc3339())
}

/// A series of a line chart: points (time ms, value); `None` breaks the line.
struct Line {
    name: String,
    color: &'static str,
    dashed: bool,
    points: Vec<(i64, Option<f64>)>,
}

struct LineChart<'a> {
    id: String,
    title: String,
    desc: String,
    y_label: &'a str,
    percent: bool,
    markers: bool,
    /// Horizontal reference lines: (value, colour, label).
    refs: Vec<(f64, &'static str, String)>,
}

/// Time ticks in local time, every 15 min … 1 week, at most ~10.
fn time_ticks(sc: &Scenario, t0: i64, t1: i64) -> Vec<(i64, String)> {
    const STEPS: [i64; 10] = [15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080];
    let span_min = ((t1 - t0) / 60_000).max(1);
    let step = STEPS.into_iter().find(|s| span_min / s <= 10).unwrap_or(20160) * 60_000;
    let offset = jiff::Timestamp::from_millisecond(t0)
        .map(|t| i64::from(t.to_zoned(sc.timezone.clone()).offset().seconds()) * 1000)
        .unwrap_or(0);
    let first = (t0 + offset).div_euclid(step) * step - offset;
    let fmt = if t1 - t0 > 86_400_000 { "%a %H:%M" } else { "%H:%M" };
    let mut out = Vec::new();
    let mut t = if first < t0 { first + step } else { first };
    while t <= t1 && out.len() < 40 {
        out.push((t, local(sc, t, fmt)));
        t += step;
    }
    out
}

fn line_chart(sc: &Scenario, frame: &Frame, c: &LineChart, lines: &[Line]) -> String {
    // Legend entries flow into rows above the plot.
    let (left, right, bottom) = (64.0, 16.0, 36.0);
    let mut legend = Vec::with_capacity(lines.len());
    let (mut lx, mut row) = (left, 0usize);
    for l in lines {
        let width = 40.0 + 6.8 * l.name.chars().count() as f64;
        if lx + width > 960.0 - right && lx > left {
            lx = left;
            row += 1;
        }
        legend.push((lx, 16.0 + 18.0 * row as f64));
        lx += width;
    }
    let top = 40.0 + 18.0 * row as f64;
    let (w, h) = (960u32, 254 + 18 * row as u32);
    let (pw, ph) = (f64::from(w) - left - right, f64::from(h) - top - bottom);
    let (t0, t1) = (frame.origin, frame.end);
    let x = |t: i64| left + pw * ((t - t0) as f64 / (t1 - t0).max(1) as f64).clamp(0.0, 1.0);
    let data_max = lines.iter().flat_map(|l| l.points.iter().filter_map(|p| p.1)).fold(0.0f64, f64::max);
    let data_max = c.refs.iter().map(|r| r.0).fold(data_max, f64::max);
    let y_max = if c.percent { 1.0 } else { nice_max(data_max) };
    let y = |v: f64| top + ph * (1.0 - (v / y_max).clamp(0.0, 1.0));
    let mut s = String::with_capacity(8192);
    svg_open(&mut s, &c.id, w, h, &c.title, &c.desc);
    // Grid and y axis.
    for k in 0..=4 {
        let v = y_max * f64::from(k) / 4.0;
        let yy = y(v);
        let label = if c.percent { format!("{:.0}%", v * 100.0) } else { num_label(v) };
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e2e8f0"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#52606d">{label}</text>"##,
            left + pw,
            left - 6.0,
            yy + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle" fill="#52606d">{}</text>"##,
        top + ph / 2.0,
        top + ph / 2.0,
        esc(c.y_label)
    );
    // Time axis.
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#94a3b8"/>"##,
        left + pw,
        top + ph,
        top + ph
    );
    for (t, label) in time_ticks(sc, t0, t1) {
        let xx = x(t);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{:.1}" y2="{:.1}" stroke="#94a3b8"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#52606d">{}</text>"##,
            top + ph,
            top + ph + 4.0,
            top + ph + 17.0,
            esc(&label)
        );
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{}" text-anchor="end" fill="#52606d">{} · {} min per point</text>"##,
        left + pw,
        h - 4,
        esc(&sc.timezone_name),
        num_label(frame.minutes())
    );
    for (v, col, label) in &c.refs {
        let yy = y(*v);
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="{col}" stroke-dasharray="2 4" stroke-width="1.5"><title>{}</title></line>"#,
            left + pw,
            esc(label)
        );
    }
    // Series.
    for l in lines {
        let dash = if l.dashed { r#" stroke-dasharray="6 4""# } else { "" };
        let mut run = String::new();
        let flush = |run: &mut String, s: &mut String| {
            if !run.is_empty() {
                let _ = write!(
                    s,
                    r#"<polyline fill="none" stroke="{}" stroke-width="1.8"{dash} points="{}"/>"#,
                    l.color,
                    run.trim_end()
                );
                run.clear();
            }
        };
        for (t, v) in &l.points {
            match v {
                Some(v) => {
                    let _ = write!(run, "{:.1},{:.1} ", x(*t), y(*v));
                }
                None => flush(&mut run, &mut s),
            }
        }
        flush(&mut run, &mut s);
        if c.markers {
            for (t, v) in &l.points {
                if let Some(v) = v {
                    let label = if c.percent { format!("{:.1}%", v * 100.0) } else { num_label(*v) };
                    let _ = write!(
                        s,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"><title>{} {}: {label}</title></circle>"#,
                        x(*t),
                        y(*v),
                        l.color,
                        esc(&l.name),
                        esc(&local(sc, *t, "%H:%M"))
                    );
                }
            }
        }
    }
    // Legend.
    for (l, (lx, ly)) in lines.iter().zip(legend) {
        let dash = if l.dashed { r#" stroke-dasharray="6 4""# } else { "" };
        let _ = write!(
            s,
            r##"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2.5"{dash}/><text x="{:.1}" y="{:.1}" fill="#1f2933">{}</text>"##,
            lx + 22.0,
            l.color,
            lx + 27.0,
            ly + 4.0,
            esc(&l.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// The funnel of one action map (stages, with n/a where its media never gets
/// there) and its blocks by reason, on one scale.
fn funnel_svg(
    id: &str,
    map: &str,
    stages: &[(&str, Option<u64>)],
    fates: &[(&str, u64)],
    reasons: &[(&str, u64)],
) -> String {
    let w = 540u32;
    let rows = stages.len() + 2 + reasons.len().max(1);
    let h = (24 + rows * 22 + 10) as u32;
    let (left, bar_w) = (190.0, 200.0);
    let max = stages.iter().filter_map(|s| s.1).chain(reasons.iter().map(|r| r.1)).max().unwrap_or(0).max(1) as f64;
    let desc: Vec<String> = stages
        .iter()
        .map(|(n, c)| format!("{n} {}", c.map_or("n/a".to_string(), |c| c.to_string())))
        .chain(fates.iter().map(|(n, c)| format!("{n} {c}")))
        .chain(reasons.iter().map(|(n, c)| format!("blocked {n} {c}")))
        .collect();
    let mut s = String::new();
    svg_open(&mut s, id, w, h, &format!("Funnel of action map {map}"), &desc.join(", "));
    let mut yy = 16.0;
    let _ = write!(s, r##"<text x="0" y="{yy}" font-weight="600" fill="#1f2933">funnel</text>"##);
    let mut prev: Option<u64> = None;
    for (name, count) in stages {
        yy += 22.0;
        let _ =
            write!(s, r##"<text x="{:.1}" y="{yy:.1}" text-anchor="end" fill="#1f2933">{name}</text>"##, left - 8.0);
        match count {
            Some(c) => {
                let bw = (bar_w * *c as f64 / max).max(if *c > 0 { 1.5 } else { 0.0 });
                let conv = match prev {
                    Some(p) if p > 0 => format!(" ({:.0}%)", 100.0 * *c as f64 / p as f64),
                    _ => String::new(),
                };
                let _ = write!(
                    s,
                    r##"<rect x="{left}" y="{:.1}" width="{bw:.1}" height="15" rx="2" fill="#2563eb"><title>{name}: {c}</title></rect><text x="{:.1}" y="{yy:.1}" fill="#1f2933">{}{conv}</text>"##,
                    yy - 11.5,
                    left + bw + 5.0,
                    thousands(*c)
                );
                prev = Some(*c);
            }
            None => {
                let _ = write!(s, r##"<text x="{left}" y="{yy:.1}" fill="#94a3b8">n/a</text>"##);
            }
        }
    }
    if !fates.is_empty() {
        yy += 22.0;
        let text: Vec<String> = fates.iter().map(|(n, c)| format!("{} {n}", thousands(*c))).collect();
        let _ = write!(s, r##"<text x="24" y="{yy:.1}" fill="#52606d">after the offer: {}</text>"##, text.join(" · "));
    }
    yy += 28.0;
    let _ = write!(s, r##"<text x="0" y="{yy}" font-weight="600" fill="#1f2933">blocked by reason</text>"##);
    if reasons.is_empty() {
        yy += 22.0;
        let _ = write!(s, r##"<text x="{left}" y="{yy:.1}" fill="#52606d">never blocked</text>"##);
    }
    for (name, c) in reasons {
        yy += 22.0;
        let bw = (bar_w * *c as f64 / max).max(1.5);
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{yy:.1}" text-anchor="end" fill="#1f2933" font-size="11">{name}</text><rect x="{left}" y="{:.1}" width="{bw:.1}" height="15" rx="2" fill="#ea580c"><title>{name}: {c}</title></rect><text x="{:.1}" y="{yy:.1}" fill="#1f2933">{}</text>"##,
            left - 8.0,
            yy - 11.5,
            left + bw + 5.0,
            thousands(*c)
        );
    }
    s.push_str("</svg>");
    s
}

/// One row of an outcome chart: label, (achieved, sessions) with and without an engaged chat.
struct RateRow {
    label: String,
    with: (u64, u64),
    without: (u64, u64),
}

fn rate(a: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| a as f64 / n as f64)
}

fn outcome_svg(id: &str, outcome: &str, rows: &[RateRow]) -> String {
    let w = 960u32;
    let h = (40 + rows.len() * 46 + 24) as u32;
    let (left, bar_w) = (230.0, 560.0);
    let max = rows
        .iter()
        .flat_map(|r| [rate(r.with.0, r.with.1), rate(r.without.0, r.without.1)])
        .flatten()
        .fold(0.0f64, f64::max);
    let max = nice_max(max).min(1.0);
    let desc: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}: {} with an engaged chat (n={}), {} without (n={})",
                r.label,
                pct(rate(r.with.0, r.with.1)),
                r.with.1,
                pct(rate(r.without.0, r.without.1)),
                r.without.1
            )
        })
        .collect();
    let mut s = String::new();
    svg_open(
        &mut s,
        id,
        w,
        h,
        &format!("Rate of outcome {outcome} with and without an engaged chat"),
        &desc.join("; "),
    );
    let _ = write!(
        s,
        r##"<rect x="{left}" y="8" width="12" height="12" fill="#16a34a"/><text x="{:.1}" y="18">with an engaged chat</text><rect x="{:.1}" y="8" width="12" height="12" fill="#94a3b8"/><text x="{:.1}" y="18">without</text>"##,
        left + 16.0,
        left + 170.0,
        left + 186.0
    );
    let bottom = f64::from(h) - 22.0;
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let xx = left + bar_w * v / max;
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="30" y2="{bottom:.1}" stroke="#e2e8f0"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#52606d">{}%</text>"##,
            bottom + 14.0,
            num_label(v * 100.0)
        );
    }
    let mut yy = 36.0;
    for r in rows {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1f2933">{}</text>"##,
            left - 8.0,
            yy + 22.0,
            esc(&r.label)
        );
        for (k, ((a, n), col)) in [(r.with, "#16a34a"), (r.without, "#94a3b8")].into_iter().enumerate() {
            let by = yy + 4.0 + k as f64 * 18.0;
            match rate(a, n) {
                Some(v) => {
                    let bw = (bar_w * v / max).max(if a > 0 { 1.5 } else { 0.0 });
                    let _ = write!(
                        s,
                        r##"<rect x="{left}" y="{by:.1}" width="{bw:.1}" height="15" rx="2" fill="{col}"><title>{}: {a} of {n} sessions</title></rect><text x="{:.1}" y="{:.1}" fill="#1f2933">{} <tspan fill="#52606d">({a}/{n})</tspan></text>"##,
                        esc(&r.label),
                        left + bw + 5.0,
                        by + 12.0,
                        pct(Some(v))
                    );
                }
                None => {
                    let _ = write!(s, r##"<text x="{left}" y="{:.1}" fill="#94a3b8">no session</text>"##, by + 12.0);
                }
            }
        }
        yy += 46.0;
    }
    s.push_str("</svg>");
    s
}

// ---------------------------------------------------------------------------
// Journeys
// ---------------------------------------------------------------------------

fn item_time(i: &Item) -> SimTime {
    match i {
        Item::Event(e) => e.time,
        Item::Decision(d) => d.d.time,
    }
}

fn item_session(i: &Item) -> u32 {
    match i {
        Item::Event(e) => e.session,
        Item::Decision(d) => d.d.session,
    }
}

fn state_class(s: ActionState) -> &'static str {
    match s {
        ActionState::Qualified | ActionState::Offered => "offer",
        ActionState::Accepted | ActionState::Started | ActionState::Engaged | ActionState::Completed => "chat",
        ActionState::Rejected | ActionState::Ignored | ActionState::TimedOut | ActionState::Abandoned => "fate",
    }
}

fn attr_name<'a>(sc: &'a Scenario, n: &'a Name) -> &'a str {
    match n {
        Name::Sym(s) => sc.interner.name(*s),
        Name::Text(t) => t,
    }
}

/// A one-line description of an item (for SVG tooltips and the table).
fn describe(sc: &Scenario, item: &Item) -> (String, &'static str, String) {
    match item {
        Item::Event(e) => match &e.what {
            EventWhat::Track { name, pageview, url, title, attributes, .. } => {
                let attrs: Vec<String> =
                    attributes.iter().map(|(n, v)| format!("{} = {v}", attr_name(sc, n))).collect();
                if *pageview {
                    let t = title.as_deref().unwrap_or("(no title)");
                    ("page".into(), "page", format!("{t} — {}", url.as_deref().unwrap_or("")))
                } else {
                    (name.to_string(), "event", attrs.join(", "))
                }
            }
            EventWhat::Response { map, state } => {
                let st = match state {
                    ResponseState::Accepted => "accepted",
                    ResponseState::Rejected => "rejected",
                    ResponseState::Ignored => "ignored",
                };
                ("answer".into(), "response", format!("{}: {st} (recorded)", sc.action_map(*map).id))
            }
        },
        Item::Decision(d) => match &d.d.kind {
            DecisionKind::SegmentAssigned(s) => ("segment".into(), "segment", sc.segment(*s).id.clone()),
            DecisionKind::OutcomeAchieved(o) => ("outcome".into(), "outcome", sc.outcome(*o).id.clone()),
            DecisionKind::Action { map, state, target, .. } => {
                let mut t = sc.action_map(*map).id.clone();
                if let Some(w) = target {
                    let _ = write!(t, " → {}", sc.workgroup(*w).id);
                }
                (state.name().to_string(), state_class(*state), t)
            }
            DecisionKind::Blocked { map, reason } => {
                ("blocked".into(), "blocked", format!("{}: {}", sc.action_map(*map).id, reason.name()))
            }
        },
    }
}

/// The availability an offer (or an availability block) saw, one line per target.
fn availability_notes(sc: &Scenario, d: &DecisionItem) -> Vec<String> {
    let mut notes = Vec::new();
    let map = match &d.d.kind {
        DecisionKind::Action { map, seen, .. } => {
            if let Some(seen) = seen {
                notes.push(format!("gates saw an estimated wait of {} in a snapshot {} old", seen.ewt, seen.age));
            }
            *map
        }
        DecisionKind::Blocked { map, .. } => *map,
        _ => return notes,
    };
    if d.snapshots.is_empty() {
        return notes;
    }
    for t in &sc.action_map(map).action.targets {
        let w = &sc.workgroup(*t).id;
        match d.snapshots.get(t.0 as usize).copied().flatten() {
            Some(p) => {
                let s = p.snapshot;
                notes.push(format!(
                    "{w}: {} logged in, {} available, queue {}, ewt {} (published {}, {} before)",
                    s.agents_logged_in,
                    s.agents_available,
                    s.queue_length,
                    s.ewt,
                    local(sc, p.time.0, "%H:%M:%S"),
                    d.d.time.since(p.time)
                ));
            }
            None => notes.push(format!("{w}: no snapshot published yet")),
        }
    }
    notes
}

fn trace_value(sc: &Scenario, tr: &TraceItem) -> Value {
    let names = |v: Vec<String>| if v.is_empty() { "–".to_string() } else { v.join(", ") };
    let scores: Vec<Value> = sc
        .outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.predictor.is_some())
        .map(|(k, o)| {
            let s = tr.scores.get(k).copied().unwrap_or_default();
            let f = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{x:.3}"));
            let features: Vec<String> = tr
                .features
                .iter()
                .filter(|(i, _)| *i == k)
                .flat_map(|(_, fs)| fs.iter().map(|(n, v, c)| format!("{n} = {v:.3} → {c:+.3}")))
                .collect();
            context! {
                outcome => o.id.clone(),
                text => format!("probability {} (max {}), quantile {} (max {})", f(s.probability), f(s.max_probability), f(s.quantile), f(s.max_quantile)),
                features => features,
            }
        })
        .collect();
    // Maps whose trigger held or that were gated are shown one by one; the rest in a line.
    let gated = |m: &ActionMapId| tr.gates.iter().any(|(g, _)| g == m);
    let quiet: Vec<String> = tr
        .triggers
        .iter()
        .filter(|(m, held)| *held == Some(false) && !gated(m))
        .map(|(m, _)| sc.action_map(*m).id.clone())
        .collect();
    let maps: Vec<Value> = tr
        .triggers
        .iter()
        .filter(|(m, held)| *held != Some(false) || gated(m))
        .map(|(m, held)| {
            let map = sc.action_map(*m);
            let trigger = match held {
                Some(true) => "trigger true",
                Some(false) => "trigger false",
                None if !map.active => "inactive",
                None => "not evaluated (qualified this session, or outside its window)",
            };
            let gates: Vec<Value> = tr
                .gates
                .iter()
                .filter(|(g, _)| g == m)
                .flat_map(|(_, gs)| gs.iter().map(|(g, ok)| context! { name => g.name(), ok => *ok }))
                .collect();
            context! { id => map.id.clone(), trigger => trigger, held => held.unwrap_or(false), gates => gates }
        })
        .collect();
    context! {
        session => tr.session,
        segments => names(tr.segments.iter().map(|s| sc.segment(*s).id.clone()).collect()),
        outcomes => names(tr.outcomes.iter().map(|o| sc.outcome(*o).id.clone()).collect()),
        scores => scores,
        maps => maps,
        quiet => quiet.join(", "),
    }
}

/// The journey drawn as lanes, one per session, on a common time scale from each session's start.
fn journey_svg(sc: &Scenario, id: &str, j: &Journey, sessions: &[(u32, i64, i64)]) -> String {
    const LANES: usize = 12;
    let w = 960u32;
    let lanes = sessions.len().min(LANES);
    let h = (52 + lanes * 50 + 30) as u32;
    let (left, right) = (120.0, 24.0);
    let pw = f64::from(w) - left - right;
    let longest = sessions.iter().take(LANES).map(|(_, a, b)| b - a).max().unwrap_or(0).max(60_000);
    let scale = |dt: i64| left + pw * (dt as f64 / longest as f64).clamp(0.0, 1.0);
    let n_events = j.items.iter().filter(|i| matches!(i, Item::Event(_))).count();
    let mut s = String::new();
    svg_open(
        &mut s,
        id,
        w,
        h,
        &format!("Journey of visitor {}", j.customer),
        &format!(
            "{} sessions, {} events, {} decisions; markers: pages, events, segments, outcomes, offers and blocks",
            sessions.len(),
            n_events,
            j.items.len() - n_events
        ),
    );
    // Legend.
    let legend: [(&str, &str); 8] = [
        ("page", "#2563eb"),
        ("event", "#64748b"),
        ("segment", "#9333ea"),
        ("outcome", "#ca8a04"),
        ("offer", "#0891b2"),
        ("chat", "#16a34a"),
        ("declined / timed out", "#dc2626"),
        ("blocked", "#ea580c"),
    ];
    let mut lx = left;
    for (name, col) in legend {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="14" r="5" fill="{col}"/><text x="{:.1}" y="18" fill="#1f2933">{name}</text>"##,
            lx + 5.0,
            lx + 14.0
        );
        lx += 24.0 + 6.6 * name.len() as f64;
    }
    let lane_of: FxHashMap<u32, usize> =
        sessions.iter().take(LANES).enumerate().map(|(k, (n, _, _))| (*n, k)).collect();
    for (k, (n, start, _)) in sessions.iter().take(LANES).enumerate() {
        let y0 = 44.0 + k as f64 * 50.0;
        let _ = write!(
            s,
            r##"<rect x="{left}" y="{y0:.1}" width="{pw:.1}" height="40" rx="4" fill="#f8fafc" stroke="#e2e8f0"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1f2933">session {n}</text><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#52606d" font-size="11">{}</text>"##,
            left - 8.0,
            y0 + 16.0,
            left - 8.0,
            y0 + 31.0,
            esc(&local(sc, *start, "%a %H:%M"))
        );
    }
    for item in &j.items {
        let Some(&k) = lane_of.get(&item_session(item)) else { continue };
        let (_, start, _) = sessions[k];
        let t = item_time(item).0;
        let xx = scale(t - start);
        let y0 = 44.0 + k as f64 * 50.0;
        let (what, class, detail) = describe(sc, item);
        let tip = format!("{} {what}: {detail}", local(sc, t, "%H:%M:%S"));
        let tip = esc(&tip);
        let (cy, col, shape) = match class {
            "page" => (y0 + 12.0, "#2563eb", 'c'),
            "event" | "response" => (y0 + 12.0, if class == "event" { "#64748b" } else { "#db2777" }, 's'),
            "segment" => (y0 + 28.0, "#9333ea", 'd'),
            "outcome" => (y0 + 28.0, "#ca8a04", 'c'),
            "offer" => (y0 + 28.0, "#0891b2", 't'),
            "chat" => (y0 + 28.0, "#16a34a", 't'),
            "fate" => (y0 + 28.0, "#dc2626", 't'),
            _ => (y0 + 28.0, "#ea580c", 'x'),
        };
        let _ = match shape {
            'c' => write!(s, r#"<circle cx="{xx:.1}" cy="{cy:.1}" r="5" fill="{col}"><title>{tip}</title></circle>"#),
            's' => write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{col}"><title>{tip}</title></rect>"#,
                xx - 3.5,
                cy - 3.5
            ),
            'd' => write!(
                s,
                r#"<polygon points="{xx:.1},{:.1} {:.1},{cy:.1} {xx:.1},{:.1} {:.1},{cy:.1}" fill="{col}"><title>{tip}</title></polygon>"#,
                cy - 6.0,
                xx + 6.0,
                cy + 6.0,
                xx - 6.0
            ),
            't' => write!(
                s,
                r#"<polygon points="{xx:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{col}"><title>{tip}</title></polygon>"#,
                cy - 6.0,
                xx + 6.0,
                cy + 5.0,
                xx - 6.0,
                cy + 5.0
            ),
            _ => write!(
                s,
                r#"<path d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}" stroke="{col}" stroke-width="2.5"><title>{tip}</title></path>"#,
                xx - 5.0,
                cy - 5.0,
                xx + 5.0,
                cy + 5.0,
                xx - 5.0,
                cy + 5.0,
                xx + 5.0,
                cy - 5.0
            ),
        };
    }
    // Time scale, from each session's start.
    let axis_y = 44.0 + lanes as f64 * 50.0 + 4.0;
    for k in 0..=4 {
        let dt = longest * k / 4;
        let xx = scale(dt);
        let _ = write!(
            s,
            r##"<text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#52606d">+{}</text>"##,
            axis_y + 12.0,
            Millis(dt / 1000 * 1000)
        );
    }
    if sessions.len() > LANES {
        let _ = write!(
            s,
            r##"<text x="{left}" y="{:.1}" fill="#52606d">… {} more sessions in the table</text>"##,
            axis_y + 26.0,
            sessions.len() - LANES
        );
    }
    s.push_str("</svg>");
    s
}

fn journey_value(sc: &Scenario, j: &Journey, id: &str) -> Value {
    // Sessions in order of first appearance, with their first and last moments.
    let mut sessions: Vec<(u32, i64, i64)> = Vec::new();
    for item in &j.items {
        let (n, t) = (item_session(item), item_time(item).0);
        match sessions.iter_mut().find(|s| s.0 == n) {
            Some(s) => s.2 = s.2.max(t),
            None => sessions.push((n, t, t)),
        }
    }
    let starts: FxHashMap<u32, i64> = sessions.iter().map(|(n, a, _)| (*n, *a)).collect();
    let mut rows = Vec::with_capacity(j.items.len());
    let mut current = 0;
    for item in &j.items {
        let session = item_session(item);
        let t = item_time(item);
        let header = matches!(item, Item::Event(_)) && session != current;
        if header {
            current = session;
        }
        let (what, class, detail) = describe(sc, item);
        let mut sub = None;
        let mut notes = Vec::new();
        let mut trace = None;
        let main = match item {
            Item::Event(e) => {
                if let EventWhat::Track { pageview, url, title, attributes, traits, context, .. } = &e.what {
                    if *pageview {
                        sub = url.as_deref().map(str::to_string);
                        if !attributes.is_empty() {
                            notes.push(
                                attributes
                                    .iter()
                                    .map(|(n, v)| format!("{} = {v}", attr_name(sc, n)))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            );
                        }
                    }
                    if header && !context.is_empty() {
                        notes.push(
                            context.iter().map(|(f, v)| format!("{} = {v}", f.name())).collect::<Vec<_>>().join(", "),
                        );
                    }
                    if !traits.is_empty() {
                        notes.push(
                            traits
                                .iter()
                                .map(|(s, v)| format!("traits.{} = {v}", sc.interner.name(*s)))
                                .collect::<Vec<_>>()
                                .join(", "),
                        );
                    }
                    if *pageview { title.as_deref().unwrap_or("(no title)").to_string() } else { detail }
                } else {
                    detail
                }
            }
            Item::Decision(d) => {
                notes.extend(availability_notes(sc, d));
                detail
            }
        };
        if let Item::Event(e) = item
            && let Some(tr) = &e.trace
        {
            trace = Some(trace_value(sc, tr));
        }
        let start = starts.get(&session).copied().unwrap_or(t.0);
        rows.push(context! {
            header => header,
            header_text => format!("Session {session} · {}", local(sc, t.0, "%a %d %b %Y %H:%M:%S %Z")),
            time => local(sc, t.0, "%H:%M:%S%.3f"),
            utc => t.rfc3339(),
            offset => format!("+{}", Millis(t.since(SimTime(start)).0.max(0) / 1000 * 1000)),
            session => session,
            class => class,
            what => what,
            main => main,
            sub => sub,
            notes => notes,
            trace => trace,
        });
    }
    let decisions: Vec<&Decision> = j.decisions().collect();
    let count = |f: &dyn Fn(&DecisionKind) -> bool| decisions.iter().filter(|d| f(&d.kind)).count();
    let offers = count(&|k| matches!(k, DecisionKind::Action { state: ActionState::Offered, .. }));
    let accepted = count(&|k| matches!(k, DecisionKind::Action { state: ActionState::Accepted, .. }));
    let engaged = count(&|k| matches!(k, DecisionKind::Action { state: ActionState::Engaged, .. }));
    let blocks = count(&|k| matches!(k, DecisionKind::Blocked { .. }));
    let mut segs: Vec<String> = Vec::new();
    let mut outs: Vec<String> = Vec::new();
    for d in &decisions {
        match &d.kind {
            DecisionKind::SegmentAssigned(s) if !segs.contains(&sc.segment(*s).id) => {
                segs.push(sc.segment(*s).id.clone())
            }
            DecisionKind::OutcomeAchieved(o) if !outs.contains(&sc.outcome(*o).id) => {
                outs.push(sc.outcome(*o).id.clone())
            }
            _ => {}
        }
    }
    let events = j.items.len() - decisions.len();
    let summary = format!(
        "{} session{} · {events} events · {offers} offer{} ({accepted} accepted, {engaged} engaged) · {blocks} blocked · segments: {} · outcomes: {}",
        sessions.len(),
        if sessions.len() == 1 { "" } else { "s" },
        if offers == 1 { "" } else { "s" },
        if segs.is_empty() { "–".to_string() } else { segs.join(", ") },
        if outs.is_empty() { "–".to_string() } else { outs.join(", ") },
    );
    context! {
        id => id,
        customer => &*j.customer,
        requested => j.requested,
        summary => summary,
        svg => Value::from_safe_string(journey_svg(sc, &format!("{id}-svg"), j, &sessions)),
        rows => rows,
        dropped => j.dropped,
        traced => j.items.iter().any(|i| matches!(i, Item::Event(e) if e.trace.is_some())),
    }
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

fn kv(k: &str, v: impl Into<String>) -> Value {
    context! { k => k, v => v.into() }
}

fn settings_value(sc: &Scenario, command: Option<&str>) -> Value {
    let mut general = vec![
        kv("scenario", sc.name.clone()),
        kv("seed", sc.seed.to_string()),
        kv(
            "start",
            sc.start
                .map_or("(none: the clock starts at the first event, or 2026-01-05T12:00:00Z for run)".into(), |t| {
                    t.to_string()
                }),
        ),
        kv("duration (run)", sc.duration.to_string()),
        kv("timezone", sc.timezone_name.clone()),
        kv("session timeout", sc.settings.session_timeout.to_string()),
        kv("offer timeout", sc.settings.offer_timeout.to_string()),
    ];
    for m in [MediaType::Webchat, MediaType::ContentOffer, MediaType::WebMessaging] {
        if let Some(f) = sc.settings.frequency_cap(m) {
            general.push(kv(
                &format!("frequency cap, {}", m.key()),
                format!(
                    "after conversation: {}, after rejection: {}, min wait: {}",
                    f.after_conversation, f.after_rejection, f.min_wait
                ),
            ));
        }
    }
    let pc = &sc.pureconnect;
    general.push(kv(
        "PureConnect",
        format!(
            "feature licence: {}, pacing rate: {}, updates disabled: {}",
            pc.feature_license, pc.pacing_rate, pc.updates_disabled
        ),
    ));
    let workgroups: Vec<Value> = sc
        .workgroups
        .iter()
        .map(|w| {
            let agents = match &w.fixed_availability {
                Some(f) => format!(
                    "fixed snapshot: {} logged in, {} available, queue {}, ewt {}",
                    f.agents_logged_in, f.agents_available, f.queue_length, f.ewt
                ),
                None => w
                    .agents
                    .iter()
                    .map(|a| {
                        let shift = a.shift.map_or("always".to_string(), |s| {
                            format!(
                                "{:02}:{:02}-{:02}:{:02}",
                                s.start_min / 60,
                                s.start_min % 60,
                                s.end_min / 60,
                                s.end_min % 60
                            )
                        });
                        format!(
                            "{}{} × {}, {shift}, {} chat{}",
                            a.name.as_ref().map(|n| format!("{n}: ")).unwrap_or_default(),
                            a.count,
                            if a.licensed { "licensed" } else { "unlicensed" },
                            a.max_chats,
                            if a.max_chats == 1 { "" } else { "s" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            context! {
                id => w.id.clone(),
                updates => w.altocloud_updates,
                schedule => w.schedule.as_ref().map_or("always open".to_string(), |s| s.text.clone()),
                service_level => format!("{:.0}% within {}", 100.0 * w.service_level.percentage, w.service_level.within),
                handle => format!("mean {}", Millis(w.handle_time.mean().round() as i64)),
                agents => agents,
            }
        })
        .collect();
    let maps: Vec<Value> = sc
        .action_maps
        .iter()
        .map(|m| {
            let activation = match m.activation {
                Activation::Immediate => "immediate".to_string(),
                Activation::Delay(d) => format!("after {d} on the page"),
                Activation::NextSession => "next session".to_string(),
            };
            let window = match (m.start, m.end) {
                (None, None) => String::new(),
                (a, b) => format!(
                    ", window [{}, {})",
                    a.map_or("–".to_string(), |t| t.to_string()),
                    b.map_or("–".to_string(), |t| t.to_string())
                ),
            };
            let targets: Vec<&str> = m.action.targets.iter().map(|t| sc.workgroup(*t).id.as_str()).collect();
            let action = if m.action.media.is_chat() {
                format!(
                    "{} → {}, pacing {}, max ewt {}",
                    m.action.media.key(),
                    targets.join(", "),
                    if m.action.pacing { "on" } else { "off" },
                    m.action.max_ewt
                )
            } else {
                m.action.media.key().to_string()
            };
            context! {
                id => m.id.clone(),
                weight => m.weight,
                active => m.active,
                action => action,
                activation => format!("{activation}{window}{}", if m.ignore_frequency_cap { ", ignores the frequency cap" } else { "" }),
                trigger => m.trigger.text.clone(),
                page_url => m.page_url.as_ref().map(|c| c.text.clone()),
            }
        })
        .collect();
    let segments: Vec<Value> = sc
        .segments
        .iter()
        .map(|s| {
            let scope = match (s.scope, s.expires_after_days) {
                (Scope::Session, _) => "session".to_string(),
                (Scope::Customer, Some(d)) => format!("customer, {d} days"),
                (Scope::Customer, None) => "customer".to_string(),
            };
            context! { id => s.id.clone(), scope => scope, when => s.when.text.clone() }
        })
        .collect();
    let outcomes: Vec<Value> = sc
        .outcomes
        .iter()
        .map(|o| {
            context! {
                id => o.id.clone(),
                positive => o.positive,
                when => o.achieved_when.text.clone(),
                predictor => o.predictor.is_some(),
            }
        })
        .collect();
    let traffic = sc.traffic.as_ref().map(|t| {
        let personas: Vec<String> =
            t.personas.iter().map(|p| format!("{} ({:.0}%)", p.name, 100.0 * p.share)).collect();
        let profile: Vec<String> = t.profile.iter().map(|x| num_label(*x)).collect();
        format!(
            "{} arrivals per hour{}, {:.0}% returning; personas: {}",
            num_label(t.per_hour),
            if profile.is_empty() { String::new() } else { format!(" × hourly profile [{}]", profile.join(", ")) },
            100.0 * t.returning,
            personas.join(", ")
        )
    });
    context! {
        general => general,
        workgroups => workgroups,
        maps => maps,
        segments => segments,
        outcomes => outcomes,
        traffic => traffic,
        command => command,
    }
}

// ---------------------------------------------------------------------------
// The pages
// ---------------------------------------------------------------------------

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build() {
        env.set_syntax(syntax);
    }
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("journey.html", include_str!("templates/journey.html")),
        ("settings.html", include_str!("templates/settings.html")),
        ("report.html", include_str!("templates/report.html")),
        ("visitor.html", include_str!("templates/visitor.html")),
    ] {
        env.add_template(name, source).expect("the report templates are valid");
    }
    env
}

fn render(template: &str, ctx: Value) -> io::Result<String> {
    let env = environment();
    let t = env.get_template(template).map_err(io::Error::other)?;
    t.render(ctx).map_err(io::Error::other)
}

fn read_summary(dir: &Path) -> io::Result<serde_json::Value> {
    let path = dir.join("summary.json");
    let file = File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    serde_json::from_reader(BufReader::new(file))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

fn at<'v>(v: &'v serde_json::Value, path: &[&str]) -> &'v serde_json::Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn int(v: &serde_json::Value, path: &[&str]) -> u64 {
    at(v, path).as_u64().unwrap_or(0)
}

/// The stages of the funnel, and whether a media type ever reaches each.
const STAGES: [ActionState; 6] = [
    ActionState::Qualified,
    ActionState::Offered,
    ActionState::Accepted,
    ActionState::Started,
    ActionState::Engaged,
    ActionState::Completed,
];
const FATES: [ActionState; 4] =
    [ActionState::Rejected, ActionState::Ignored, ActionState::TimedOut, ActionState::Abandoned];

fn reaches(media: MediaType, s: ActionState) -> bool {
    match media {
        MediaType::Webchat | MediaType::WebMessaging => true,
        MediaType::ContentOffer => {
            !matches!(s, ActionState::Started | ActionState::Engaged | ActionState::Completed | ActionState::Abandoned)
        }
        MediaType::Webhook => matches!(s, ActionState::Qualified | ActionState::Offered),
    }
}

/// Writes `dir/report.html` from `dir/summary.json`, `dir/decisions.jsonl`
/// and `dir/availability.jsonl` (streamed; memory follows the sessions open
/// at once and a fixed number of time buckets), with the journeys of `sample`.
pub fn write_report(sc: &Scenario, dir: &Path, sample: &JourneySample) -> io::Result<()> {
    let html = report_html(sc, dir, sample)?;
    std::fs::write(dir.join("report.html"), html)
}

fn report_html(sc: &Scenario, dir: &Path, sample: &JourneySample) -> io::Result<String> {
    let summary = read_summary(dir)?;
    let clock_first = at(&summary, &["clock", "first"]).as_str().and_then(parse_time);
    let clock_last = at(&summary, &["clock", "last"]).as_str().and_then(parse_time);
    // The clock of `run`, and of a replay with a `start`, starts at sim::origin;
    // a replay without one at its first event.
    let origin = if sc.start.is_some() || summary["traffic"].is_object() {
        crate::sim::origin(sc).0
    } else {
        clock_first.unwrap_or_else(|| crate::sim::origin(sc).0)
    };
    let frame = Frame::new(origin, clock_last.unwrap_or(origin).max(origin));

    let (dec, av) = std::thread::scope(|scope| {
        let av = scope.spawn(|| AvailAgg::read(sc, frame, &dir.join("availability.jsonl")));
        let mut dec = DecisionAgg::new(sc, frame);
        let r = each_line(&dir.join("decisions.jsonl"), |line| dec.line(line));
        if let Ok(not_utf8) = r {
            dec.unreadable += not_utf8;
        }
        dec.finish();
        let av = av.join().unwrap_or_else(|_| Err(io::Error::other("reading availability.jsonl panicked")));
        (r.map(|_| dec), av)
    });
    let (dec, av) = (dec?, av?);
    let nwg = sc.workgroups.len();
    let mut warnings: Vec<String> = Vec::new();
    if dec.unreadable > 0 {
        warnings.push(format!("{} lines of decisions.jsonl could not be read and are left out", dec.unreadable));
    }
    if av.unreadable > 0 {
        warnings.push(format!("{} lines of availability.jsonl could not be read and are left out", av.unreadable));
    }
    if sample.decisions_seen > 0 && sample.events_seen == 0 {
        warnings.push(
            "the journey sample saw decisions but no event: an output between the run and the sample \
             does not forward Output::event, so there are no journeys below"
                .to_string(),
        );
    }
    if summary["scenario"].as_str() != Some(sc.name.as_str()) {
        warnings.push(format!(
            "summary.json is of scenario {:?}, not {:?}",
            summary["scenario"].as_str().unwrap_or("?"),
            sc.name
        ));
    }

    // Funnels.
    let mut charts = 0usize;
    let mut next_id = |prefix: &str| {
        charts += 1;
        format!("{prefix}{charts}")
    };
    let mut funnels = Vec::new();
    for (i, m) in sc.action_maps.iter().enumerate() {
        let media = m.action.media;
        let stages: Vec<(&str, Option<u64>)> =
            STAGES.iter().map(|s| (s.name(), reaches(media, *s).then_some(dec.states[i][*s as usize]))).collect();
        let fates: Vec<(&str, u64)> = FATES
            .iter()
            .filter(|s| reaches(media, **s))
            .map(|s| (if *s == ActionState::TimedOut { "timed out" } else { s.name() }, dec.states[i][*s as usize]))
            .collect();
        let reasons: Vec<(&str, u64)> = BlockingReason::ALL
            .iter()
            .filter(|r| dec.blocked[i][**r as usize] > 0)
            .map(|r| (r.name(), dec.blocked[i][*r as usize]))
            .collect();
        let in_summary = &summary["actionMaps"][&m.id];
        let mismatched: Vec<String> = ActionState::ALL
            .iter()
            .filter(|s| in_summary["states"][s.name()].as_u64() != Some(dec.states[i][**s as usize]))
            .map(|s| s.name().to_string())
            .chain(
                BlockingReason::ALL
                    .iter()
                    .filter(|r| in_summary["blocked"][r.name()].as_u64() != Some(dec.blocked[i][**r as usize]))
                    .map(|r| r.name().to_string()),
            )
            .collect();
        if !mismatched.is_empty() {
            warnings.push(format!(
                "decisions.jsonl and summary.json disagree for action map {}: {}",
                m.id,
                mismatched.join(", ")
            ));
        }
        let cell = |s: ActionState| context! { name => s.name(), count => dec.states[i][s as usize], applies => reaches(media, s) };
        let targets: Vec<&str> = m.action.targets.iter().map(|t| sc.workgroup(*t).id.as_str()).collect();
        funnels.push(context! {
            id => m.id.clone(),
            media => media.key(),
            targets => targets.join(", "),
            trigger => m.trigger.text.clone(),
            svg => Value::from_safe_string(funnel_svg(&next_id("funnel-"), &m.id, &stages, &fates, &reasons)),
            stages => STAGES.iter().map(|s| cell(*s)).collect::<Vec<_>>(),
            fates => FATES.iter().map(|s| cell(*s)).collect::<Vec<_>>(),
            reasons => BlockingReason::ALL.iter().map(|r| context! { name => r.name(), count => dec.blocked[i][*r as usize] }).collect::<Vec<_>>(),
        });
    }

    // Over time.
    let per_min = frame.minutes();
    let series = |name: &str, color: &'static str, f: &dyn Fn(&Activity) -> u32| Line {
        name: name.to_string(),
        color,
        dashed: false,
        points: (0..frame.n).map(|b| (frame.mid(b), Some(f(&dec.activity[b]) as f64 / per_min))).collect(),
    };
    let activity_lines = vec![
        series("offered", "#2563eb", &|a| a.offered),
        series("blocked", "#ea580c", &|a| a.blocked),
        series("accepted", "#16a34a", &|a| a.accepted),
    ];
    let total = |f: &dyn Fn(&Activity) -> u32| dec.activity.iter().map(|a| u64::from(f(a))).sum::<u64>();
    let (total_offered, total_blocked) = (total(&|a| a.offered), total(&|a| a.blocked));
    let mut time_charts = Vec::new();
    time_charts.push(context! {
        id => "offers-blocks",
        caption => "Offers and blocks per minute",
        note => format!("{} offers and {} blocks in all (every action map); blocks count each time an action is held back for a new reason", thousands(total_offered), thousands(total_blocked)),
        svg => Value::from_safe_string(line_chart(sc, &frame, &LineChart {
            id: next_id("time-"),
            title: "Offers and blocks per minute".into(),
            desc: format!("{total_offered} offers and {total_blocked} blocks over simulated time, per minute"),
            y_label: "per minute",
            percent: false,
            markers: false,
            refs: Vec::new(),
        }, &activity_lines)),
        offered => Some(total_offered),
        blocked => Some(total_blocked),
        sl_rows => Value::from(()),
    });
    let avail_series = |f: &dyn Fn(&Avail) -> f64, dashed: bool, suffix: &str| -> Vec<Line> {
        (0..nwg)
            .map(|w| Line {
                name: format!("{}{suffix}", sc.workgroups[w].id),
                color: color(w),
                dashed,
                points: (0..frame.n)
                    .map(|b| {
                        let c = &av.cells[b * nwg + w];
                        (frame.mid(b), (c.samples > 0).then(|| f(c) / f64::from(c.samples)))
                    })
                    .collect(),
            })
            .collect()
    };
    let published: u64 = av.updates.iter().sum();
    let avail_note = format!(
        "means of the {} snapshots published (every {}); a gap is a time when the workgroup published nothing (no licensed agent logged in, or updates off)",
        thousands(published),
        sc.pureconnect.pacing_rate
    );
    time_charts.push(context! {
        id => "ewt",
        caption => "Estimated wait (EWT) per workgroup",
        note => avail_note.clone(),
        svg => Value::from_safe_string(line_chart(sc, &frame, &LineChart {
            id: next_id("time-"),
            title: "Estimated wait time published per workgroup, in seconds".into(),
            desc: "EWT of each workgroup's availability snapshots over simulated time".into(),
            y_label: "EWT (s)",
            percent: false,
            markers: false,
            refs: Vec::new(),
        }, &avail_series(&|c| c.ewt, false, ""))),
        offered => Option::<u64>::None,
        blocked => Option::<u64>::None,
        sl_rows => Value::from(()),
    });
    time_charts.push(context! {
        id => "queue",
        caption => "Queue length per workgroup",
        note => avail_note.clone(),
        svg => Value::from_safe_string(line_chart(sc, &frame, &LineChart {
            id: next_id("time-"),
            title: "Queue length published per workgroup".into(),
            desc: "Chats waiting in each workgroup's queue, from its availability snapshots".into(),
            y_label: "chats queued",
            percent: false,
            markers: false,
            refs: Vec::new(),
        }, &avail_series(&|c| c.queue, false, ""))),
        offered => Option::<u64>::None,
        blocked => Option::<u64>::None,
        sl_rows => Value::from(()),
    });
    let mut agent_lines = avail_series(&|c| c.logged_in, false, " logged in");
    agent_lines.extend(avail_series(&|c| c.available, true, " available"));
    time_charts.push(context! {
        id => "agents",
        caption => "Licensed agents logged in (solid) and available (dashed) per workgroup",
        note => avail_note,
        svg => Value::from_safe_string(line_chart(sc, &frame, &LineChart {
            id: next_id("time-"),
            title: "Licensed agents logged in and available per workgroup".into(),
            desc: "From each workgroup's availability snapshots: solid lines logged in, dashed lines available".into(),
            y_label: "agents",
            percent: false,
            markers: false,
            refs: Vec::new(),
        }, &agent_lines)),
        offered => Option::<u64>::None,
        blocked => Option::<u64>::None,
        sl_rows => Value::from(()),
    });
    // Service level, in groups of buckets of about an hour.
    let group = ((60.0f64.max(frame.n as f64 * per_min / 48.0) / per_min).ceil() as usize).max(1);
    let simulated: Vec<usize> = (0..nwg).filter(|w| sc.workgroups[*w].fixed_availability.is_none()).collect();
    let sl_lines: Vec<Line> = simulated
        .iter()
        .map(|&w| Line {
            name: sc.workgroups[w].id.clone(),
            color: color(w),
            dashed: false,
            points: (0..frame.n.div_ceil(group))
                .map(|g| {
                    let (mut within, mut denom) = (0u64, 0u64);
                    for b in g * group..((g + 1) * group).min(frame.n) {
                        let c = &dec.sl[b * nwg + w];
                        within += u64::from(c.within);
                        denom += u64::from(c.engaged) + u64::from(c.abandoned);
                    }
                    let mid = frame.origin + ((g * group) as i64 * frame.width) + (group as i64 * frame.width) / 2;
                    (mid.min(frame.end), rate(within, denom))
                })
                .collect(),
        })
        .collect();
    let sl_overall: Vec<Value> = simulated
        .iter()
        .map(|&w| {
            let (mut within, mut denom) = (0u64, 0u64);
            for b in 0..frame.n {
                let c = &dec.sl[b * nwg + w];
                within += u64::from(c.within);
                denom += u64::from(c.engaged) + u64::from(c.abandoned);
            }
            context! { workgroup => sc.workgroups[w].id.clone(), within => within, chats => denom, achieved => pct(rate(within, denom)) }
        })
        .collect();
    let refs = simulated
        .iter()
        .map(|&w| {
            let wg = &sc.workgroups[w];
            (
                wg.service_level.percentage,
                color(w),
                format!(
                    "{} target: {:.0}% within {}",
                    wg.id,
                    100.0 * wg.service_level.percentage,
                    wg.service_level.within
                ),
            )
        })
        .collect();
    time_charts.push(context! {
        id => "service-level",
        caption => "Service level per workgroup (dotted: target)",
        note => format!("chats engaged within the target wait ÷ (engaged + abandoned, short abandons left out), per {} of simulated time, from the chats' started and engaged/abandoned decisions", Millis((group as i64) * frame.width)),
        svg => Value::from_safe_string(line_chart(sc, &frame, &LineChart {
            id: next_id("time-"),
            title: "Service level achieved per workgroup".into(),
            desc: "Share of chats engaged within each workgroup's target wait, over simulated time, with the target as a dotted line".into(),
            y_label: "service level",
            percent: true,
            markers: true,
            refs,
        }, &sl_lines)),
        offered => Option::<u64>::None,
        blocked => Option::<u64>::None,
        sl_rows => Value::from(sl_overall),
    });

    // Outcomes, overall and per segment.
    let mut outcomes = Vec::new();
    for (o, out) in sc.outcomes.iter().enumerate() {
        let s = &summary["outcomes"][&out.id];
        let mut rows = vec![RateRow {
            label: "all sessions".into(),
            with: (int(s, &["achievedWithChat"]), int(s, &["sessionsWithChat"])),
            without: (int(s, &["achievedWithoutChat"]), int(s, &["sessionsWithoutChat"])),
        }];
        for (k, seg) in sc.segments.iter().enumerate() {
            let r = &dec.per_segment[k];
            rows.push(RateRow {
                label: format!("segment {}", seg.id),
                with: (r.achieved[o][0], r.sessions[0]),
                without: (r.achieved[o][1], r.sessions[1]),
            });
        }
        let table: Vec<Value> = rows
            .iter()
            .map(|r| {
                context! {
                    label => r.label.clone(),
                    with_n => r.with.1, with_a => r.with.0, with_rate => pct(rate(r.with.0, r.with.1)),
                    without_n => r.without.1, without_a => r.without.0, without_rate => pct(rate(r.without.0, r.without.1)),
                }
            })
            .collect();
        outcomes.push(context! {
            id => out.id.clone(),
            positive => out.positive,
            achieved => int(s, &["achieved"]),
            svg => Value::from_safe_string(outcome_svg(&next_id("outcome-"), &out.id, &rows)),
            rows => table,
        });
    }

    // Workgroups.
    let workgroups: Vec<Value> = sc
        .workgroups
        .iter()
        .enumerate()
        .map(|(w, wg)| {
            let s = &summary["workgroups"][&wg.id];
            let f = |p: &[&str]| at(s, p).as_f64();
            context! {
                id => wg.id.clone(),
                kind => s["kind"].as_str().unwrap_or("").to_string(),
                started => int(s, &["chats", "started"]),
                engaged => int(s, &["chats", "engaged"]),
                abandoned => int(s, &["chats", "abandoned"]),
                mean_wait => f(&["meanWaitSeconds"]).map_or("–".to_string(), secs),
                p90_wait => f(&["p90WaitSeconds"]).map_or("–".to_string(), secs),
                service_level => pct(f(&["serviceLevel", "achieved"])),
                target => format!("{:.0}% within {}", 100.0 * wg.service_level.percentage, wg.service_level.within),
                occupancy => pct(f(&["occupancy"])),
                updates => int(s, &["updatesPublished"]),
                updates_read => av.updates[w],
            }
        })
        .collect();

    // Journeys.
    let journeys: Vec<Value> =
        sample.chosen().into_iter().map(|i| journey_value(sc, &sample.journeys[i], &next_id("journey-"))).collect();

    let n = |p: &[&str]| thousands(int(&summary, p));
    let offered_all: u64 = dec.states.iter().map(|s| s[ActionState::Offered as usize]).sum();
    let accepted_all: u64 = dec.states.iter().map(|s| s[ActionState::Accepted as usize]).sum();
    let engaged_all: u64 = dec.states.iter().map(|s| s[ActionState::Engaged as usize]).sum();
    let mut cards = vec![
        context! { label => "visitors", value => n(&["visitors"]) },
        context! { label => "sessions", value => n(&["sessions"]) },
        context! { label => "events", value => n(&["input", "events"]) },
        context! { label => "decisions", value => thousands(dec.lines) },
        context! { label => "offers", value => thousands(offered_all) },
        context! { label => "accepted", value => thousands(accepted_all) },
        context! { label => "chats engaged", value => thousands(engaged_all) },
    ];
    if int(&summary, &["input", "rejected"]) > 0 {
        cards.push(context! { label => "input lines rejected", value => n(&["input", "rejected"]) });
    }
    let span = format!(
        "{} → {} ({}), {} of simulated time",
        local(sc, frame.origin, "%a %d %b %Y %H:%M"),
        local(sc, clock_last.unwrap_or(frame.end), "%a %d %b %H:%M"),
        sc.timezone_name,
        Millis((clock_last.unwrap_or(frame.end) - frame.origin).max(0) / 60_000 * 60_000)
    );
    let pool = sample.journeys.iter().filter(|j| !j.requested).count();
    let ctx = context! {
        title => format!("pesim report — {}", sc.name),
        scenario => sc.name.clone(),
        seed => summary["seed"].as_u64().unwrap_or(sc.seed),
        kind => if summary["traffic"].is_object() { "run (synthetic traffic)" } else { "replay" },
        span => span,
        version => env!("CARGO_PKG_VERSION"),
        warnings => warnings,
        cards => cards,
        funnels => funnels,
        time_charts => time_charts,
        bucket => num_label(per_min),
        outcomes => outcomes,
        workgroups => workgroups,
        journeys => journeys,
        journey_pool => pool,
        settings => settings_value(sc, sample.command.as_deref()),
    };
    render("report.html", ctx)
}

/// Writes one visitor's journey (`explain --html`) to `path`: the sample must
/// have kept `customer` ([`JourneySample::request`] before the run); with the
/// run tracing that customer (`Options::trace`), each event also shows the
/// session's segments, outcomes, scores, and every action map's trigger and gates.
pub fn write_visitor_report(sc: &Scenario, path: &Path, sample: &JourneySample, customer: &str) -> io::Result<()> {
    let Some(&i) = sample.index.get(customer) else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("visitor {customer:?} was not kept by the journey sample (request it before the run)"),
        ));
    };
    let j = &sample.journeys[i];
    let ctx = context! {
        title => format!("pesim explain — visitor {customer}"),
        scenario => sc.name.clone(),
        seed => sc.seed,
        customer => customer,
        version => env!("CARGO_PKG_VERSION"),
        journey => journey_value(sc, j, "journey-1"),
        settings => settings_value(sc, sample.command.as_deref()),
    };
    std::fs::write(path, render("visitor.html", ctx)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_fast_and_slow() {
        let fast = parse_time("2026-11-27T08:00:03.120Z").unwrap();
        let slow = "2026-11-27T08:00:03.120Z".parse::<jiff::Timestamp>().unwrap().as_millisecond();
        assert_eq!(fast, slow);
        assert_eq!(parse_time("2024-02-29T23:59:59.999Z"), Some(1_709_251_199_999));
        assert_eq!(parse_time("2026-11-27T09:00:03+01:00"), Some(fast - 120));
        assert_eq!(parse_time("nonsense"), None);
    }

    #[test]
    fn scanning_falls_back_to_serde() {
        let plain = br#"{"time":"2026-11-27T08:01:10.000Z","customerId":"c-1","sessionId":"c-1:1","kind":"action","actionMap":"m","mediaType":"webchat","state":"offered","actionTarget":"sales","ewtSeconds":12.0,"availabilityAgeMs":3200}"#;
        let d = DecisionLine::read(std::str::from_utf8(plain).unwrap()).unwrap();
        assert!(matches!(d.session_id.0, Cow::Borrowed("c-1:1")));
        assert_eq!(d.action_target.unwrap().0, "sales");
        let escaped = br#"{"time":"2026-11-27T08:01:10.000Z","customerId":"a\"b","sessionId":"a\"b:1","kind":"blocked","actionMap":"m","blockingReason":"FrequencyCapping"}"#;
        let d = DecisionLine::read(std::str::from_utf8(escaped).unwrap()).unwrap();
        assert_eq!(d.session_id.0, "a\"b:1");
        assert_eq!(d.blocking_reason.unwrap().0, "FrequencyCapping");
        assert!(DecisionLine::read("{\"time\":1}").is_none());
        let a = AvailabilityLine::read(r#"{ "time" : "2026-11-27T08:00:05.000Z", "workgroup":"s","agentsLoggedIn":4,"agentsAvailable":3,"queueLength":0,"ewtSeconds":1.5 }"#).unwrap();
        assert_eq!((a.workgroup.0.as_ref(), a.agents_logged_in, a.ewt_seconds), ("s", 4.0, 1.5));
        assert!(AvailabilityLine::read(r#"{"time":"x","workgroup":"s"}"#).is_none());
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert!(matches!(esc("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn frames_stay_bounded() {
        let f = Frame::new(0, 8 * 3_600_000);
        assert_eq!(f.width, 60_000);
        assert_eq!(f.at(-5), 0);
        assert_eq!(f.at(10 * 3_600_000), f.n - 1);
        let long = Frame::new(0, 60 * 86_400_000);
        assert!(long.n as i64 <= MAX_BUCKETS + 2, "{}", long.n);
    }

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(0.23), 0.25);
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
