//! The discrete-event loop: one simulated clock in integer milliseconds, a
//! binary heap of timers, and the same-instant order of SPEC §6 —
//! availability updates first, then tracking events in input order, then other
//! timers in the order they were scheduled. `replay`, `test` cases (and `run`)
//! all drive the engine through this loop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::availability::{CcEvent, CcSink, CcTimer, ChatId, ContactCenter, Published, WorkgroupStats};
use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{Millis, Snapshot, WorkgroupId};
use crate::engine::{ChatEvent, ChatRequest, Decision, Engine, Responses, SessionEnd, Sink, Timer, Trace, persona_of};
use crate::events::{Event, EventKind, LineError};
use crate::random;
use crate::traffic::Generator;

/// Where a run's results go.
pub trait Output {
    fn decision(&mut self, d: &Decision);
    fn availability(&mut self, wg: WorkgroupId, p: &Published);
    fn session_ended(&mut self, _end: &SessionEnd) {}
    /// After each event of a traced visitor (`explain`).
    fn traced(&mut self, _event: &Event, _trace: Trace, _engine: &Engine<'_>) {}
    /// An input line that was not a valid event, skipped (`--skip-invalid`).
    fn rejected(&mut self, _line: u64, _error: &LineError) {}
    /// The clock reached `now` (every pacing tick), for progress reporting.
    fn clock(&mut self, _now: SimTime) {}
    /// A valid input event, before the engine sees it (journey maps sample these).
    fn event(&mut self, _event: &Event) {}
    /// Predictor features at an event (`Options::record_features`).
    fn features(&mut self, _customer: &std::sync::Arc<str>, _session: u32, _values: &[f64]) {}
}

/// How a replay treats invalid lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnInvalid {
    Stop,
    Skip,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub responses: Responses,
    pub on_invalid: OnInvalid,
    /// Fixed snapshots replacing some workgroups' availability (a case's `availability`).
    pub availability: Vec<(WorkgroupId, Snapshot)>,
    /// Trace this visitor's events (`explain`).
    pub trace: Option<String>,
    /// Replaces the scenario's seed (a case's seed derives from its name).
    pub seed: Option<u64>,
    /// Report this outcome's predictor features at every event (`pesim train`).
    pub record_features: Option<crate::dsl::OutcomeId>,
    /// Evaluate every open condition at every event, instead of only those
    /// whose inputs changed ([`crate::engine::changes`]); the same decisions,
    /// slower: for tests that check exactly that.
    pub evaluate_every_condition: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            responses: Responses::Model,
            on_invalid: OnInvalid::Stop,
            availability: Vec::new(),
            trace: None,
            seed: None,
            record_features: None,
            evaluate_every_condition: false,
        }
    }
}

/// What a replay read and did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Input lines, blank ones included.
    pub lines: u64,
    /// Valid tracking events.
    pub events: u64,
    /// Valid `actionEvent` lines.
    pub responses: u64,
    pub rejected: u64,
    pub blank: u64,
    pub visitors: u64,
    pub sessions: u64,
    pub first_event: Option<SimTime>,
    pub last_time: Option<SimTime>,
    /// Per-workgroup contact-center results.
    pub workgroups: Vec<WorkgroupStats>,
    /// What the traffic generator made (`run` and `generate` only).
    pub traffic: Option<crate::traffic::TrafficStats>,
}

/// A replay stopped by an invalid line.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct StopError {
    pub line: u64,
    pub error: LineError,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    time: SimTime,
    seq: u64,
    /// Index into `Loop::timers`.
    slot: usize,
}

/// A timer of either side.
#[derive(Debug)]
enum Scheduled {
    Engine(Timer),
    Cc(CcTimer),
}

/// The timer heap and the sinks both sides write to.
struct Loop<'o> {
    heap: BinaryHeap<Reverse<Entry>>,
    timers: Vec<Option<Scheduled>>,
    free: Vec<usize>,
    seq: u64,
    /// Timers other than the repeating shift check: the clock runs while any is pending.
    live: usize,
    out: &'o mut dyn Output,
    /// Chats accepted during an engine step, queued once the step returns.
    accepted: Vec<(SimTime, ChatRequest)>,
    simulated: Vec<bool>,
    /// What the contact center reported during its step.
    cc_events: Vec<(SimTime, CcEvent)>,
    sessions: u64,
}

impl Loop<'_> {
    fn push(&mut self, at: SimTime, item: Scheduled) {
        if !matches!(item, Scheduled::Cc(CcTimer::Shifts)) {
            self.live += 1;
        }
        let slot = match self.free.pop() {
            Some(i) => {
                self.timers[i] = Some(item);
                i
            }
            None => {
                self.timers.push(Some(item));
                self.timers.len() - 1
            }
        };
        self.seq += 1;
        self.heap.push(Reverse(Entry { time: at, seq: self.seq, slot }));
    }

    fn pop(&mut self) -> Option<(SimTime, Scheduled)> {
        let Reverse(entry) = self.heap.pop()?;
        let item = self.timers[entry.slot].take().expect("each slot is popped once");
        self.free.push(entry.slot);
        if !matches!(item, Scheduled::Cc(CcTimer::Shifts)) {
            self.live -= 1;
        }
        Some((entry.time, item))
    }
}

impl Sink for Loop<'_> {
    fn decision(&mut self, d: Decision) {
        self.out.decision(&d);
    }
    fn schedule(&mut self, at: SimTime, timer: Timer) {
        self.push(at, Scheduled::Engine(timer));
    }
    fn chat_started(&mut self, at: SimTime, chat: ChatRequest) {
        if self.simulated[chat.target.0 as usize] {
            self.accepted.push((at, chat));
        }
    }
    fn session_ended(&mut self, end: &SessionEnd) {
        self.sessions += 1;
        self.out.session_ended(end);
    }
    fn features(&mut self, customer: &std::sync::Arc<str>, session: u32, values: &[f64]) {
        self.out.features(customer, session, values);
    }
}

impl CcSink for Loop<'_> {
    fn schedule(&mut self, at: SimTime, timer: CcTimer) {
        self.push(at, Scheduled::Cc(timer));
    }
    fn chat(&mut self, at: SimTime, event: CcEvent) {
        self.cc_events.push((at, event));
    }
}

/// Where the loop's tracking events come from: a recorded stream or the traffic generator.
pub trait Source {
    /// When the next input is due (`None`: no more). Invalid input lines are
    /// reported to `out` and skipped, or stop the run, per `on_invalid`.
    fn next_time(
        &mut self,
        on_invalid: OnInvalid,
        out: &mut dyn Output,
        stats: &mut Stats,
    ) -> Result<Option<SimTime>, StopError>;
    /// The input due now; a step may make no event (a generated visitor leaving).
    fn take(&mut self, engine: &Engine<'_>) -> Option<Event>;
}

/// A recorded stream, one event held ahead to know the next time.
pub struct StreamSource<'i> {
    events: &'i mut dyn Iterator<Item = (u64, Result<Event, LineError>)>,
    pending: Option<Event>,
    done: bool,
}

impl<'i> StreamSource<'i> {
    pub fn new(events: &'i mut dyn Iterator<Item = (u64, Result<Event, LineError>)>) -> Self {
        StreamSource { events, pending: None, done: false }
    }
}

impl Source for StreamSource<'_> {
    fn next_time(
        &mut self,
        on_invalid: OnInvalid,
        out: &mut dyn Output,
        stats: &mut Stats,
    ) -> Result<Option<SimTime>, StopError> {
        while self.pending.is_none() && !self.done {
            match self.events.next() {
                None => self.done = true,
                Some((line, Ok(ev))) => {
                    stats.lines = stats.lines.max(line);
                    self.pending = Some(ev);
                }
                Some((line, Err(error))) => {
                    stats.lines = stats.lines.max(line);
                    match on_invalid {
                        OnInvalid::Stop => return Err(StopError { line, error }),
                        OnInvalid::Skip => {
                            stats.rejected += 1;
                            out.rejected(line, &error);
                        }
                    }
                }
            }
        }
        Ok(self.pending.as_ref().map(|e| e.time))
    }

    fn take(&mut self, _: &Engine<'_>) -> Option<Event> {
        self.pending.take()
    }
}

/// Synthetic visitors; `log` receives every event made (for `pesim generate`).
pub struct TrafficSource<'s, 'l> {
    pub generator: Generator<'s>,
    pub log: Option<&'l mut dyn FnMut(&Event)>,
}

impl Source for TrafficSource<'_, '_> {
    fn next_time(&mut self, _: OnInvalid, _: &mut dyn Output, _: &mut Stats) -> Result<Option<SimTime>, StopError> {
        Ok(self.generator.next_time())
    }

    fn take(&mut self, engine: &Engine<'_>) -> Option<Event> {
        let ev = self.generator.take(engine)?;
        if let Some(log) = self.log.as_mut() {
            log(&ev);
        }
        Some(ev)
    }
}

/// When the clock starts when the scenario has no `start`: a Monday noon, UTC.
pub const DEFAULT_ORIGIN: &str = "2026-01-05T12:00:00Z";

/// The scenario's `start`, or [`DEFAULT_ORIGIN`].
pub fn origin(sc: &Scenario) -> SimTime {
    match sc.start {
        Some(t) => SimTime::from_timestamp(t),
        None => SimTime::from_timestamp(DEFAULT_ORIGIN.parse().expect("a valid constant")),
    }
}

/// Runs the scenario's synthetic traffic for its `duration` (SPEC §5): visitors
/// arrive until the end, and those under way finish their journeys. `log`
/// receives every generated event (for `pesim generate`). `None` if the
/// scenario has no `traffic`.
pub fn simulate(
    sc: &Scenario,
    opts: &Options,
    out: &mut dyn Output,
    log: Option<&mut dyn FnMut(&Event)>,
) -> Option<Stats> {
    let start = origin(sc);
    let generator = Generator::new(sc, start, sc.duration)?;
    let mut source = TrafficSource { generator, log };
    let stats = run_loop(sc, Some(start), &mut source, opts, out);
    // A generated stream has no invalid line: the loop cannot stop early.
    stats.ok().map(|mut s| {
        s.traffic = Some(source.generator.stats.clone());
        s
    })
}

/// Replays `events` (in time order) through the scenario's rules and availability.
/// The clock starts at the scenario's `start`, or at the first event.
pub fn replay(
    sc: &Scenario,
    events: &mut dyn Iterator<Item = (u64, Result<Event, LineError>)>,
    opts: &Options,
    out: &mut dyn Output,
) -> Result<Stats, StopError> {
    replay_from(sc, sc.start.map(SimTime::from_timestamp), events, opts, out)
}

/// Moves accepted chats into the contact center, and its chat events back to the engine.
fn settle(
    sc: &Scenario,
    seed: u64,
    engine: &mut Engine<'_>,
    cc: &mut ContactCenter<'_>,
    lp: &mut Loop<'_>,
    chats: &mut FxHashMap<ChatId, ChatRequest>,
) {
    loop {
        for (at, chat) in std::mem::take(&mut lp.accepted) {
            // Keyed by the chat itself, so a chat's draws do not depend on other chats.
            let key = u64::from(chat.session) << 20 | u64::from(chat.map.0);
            let mut draw_patience = random::stream(seed, "patience", &chat.customer, key);
            let patience = persona_of(sc, seed, &chat.customer)
                .and_then(|p| p.patience.as_ref())
                .map(|d| Millis(random::sample(d, &mut draw_patience).round() as i64));
            let mut rng = random::stream(seed, "handle", &chat.customer, key);
            if let Some(id) = cc.enqueue(at, chat.target, patience, &mut rng, lp) {
                chats.insert(id, chat);
            }
        }
        if lp.cc_events.is_empty() {
            break;
        }
        for (at, event) in std::mem::take(&mut lp.cc_events) {
            let (id, what) = match event {
                CcEvent::Engaged(id) => (id, ChatEvent::Engaged),
                CcEvent::Abandoned(id) => (id, ChatEvent::Abandoned),
                CcEvent::Completed(id) => (id, ChatEvent::Completed),
            };
            let chat = if what == ChatEvent::Engaged { chats.get(&id).cloned() } else { chats.remove(&id) };
            if let Some(chat) = chat {
                engine.on_chat(at, &chat, what, lp);
            }
        }
    }
}

/// Like [`replay`], with the clock starting at `origin` (or the first event).
pub fn replay_from(
    sc: &Scenario,
    origin: Option<SimTime>,
    events: &mut dyn Iterator<Item = (u64, Result<Event, LineError>)>,
    opts: &Options,
    out: &mut dyn Output,
) -> Result<Stats, StopError> {
    run_loop(sc, origin, &mut StreamSource::new(events), opts, out)
}

/// The loop itself, for any source of events.
pub fn run_loop(
    sc: &Scenario,
    origin: Option<SimTime>,
    source: &mut dyn Source,
    opts: &Options,
    out: &mut dyn Output,
) -> Result<Stats, StopError> {
    let seed = opts.seed.unwrap_or(sc.seed);
    let mut engine = Engine::new(sc, opts.responses, seed);
    engine.record_features = opts.record_features;
    if opts.evaluate_every_condition {
        engine.evaluate_every_condition();
    }
    if let Some(c) = &opts.trace {
        engine.trace_customer(c);
    }
    let mut cc = ContactCenter::new(sc, &opts.availability);
    let mut stats = Stats::default();
    let mut lp = Loop {
        heap: BinaryHeap::new(),
        timers: Vec::new(),
        free: Vec::new(),
        seq: 0,
        live: 0,
        out,
        accepted: Vec::new(),
        simulated: cc.simulated(),
        cc_events: Vec::new(),
        sessions: 0,
    };
    let mut chats: FxHashMap<ChatId, ChatRequest> = FxHashMap::default();
    let rate = sc.pureconnect.pacing_rate.0.max(1);
    let mut next_tick: Option<SimTime> = None;

    loop {
        let ev_time = source.next_time(opts.on_invalid, lp.out, &mut stats)?;
        let timer_time = lp.heap.peek().map(|Reverse(e)| e.time);
        // The clock runs while events or live timers remain.
        if ev_time.is_none() && lp.live == 0 {
            break;
        }
        let Some(t) = [ev_time, timer_time].into_iter().flatten().min() else { break };
        if next_tick.is_none() {
            // The clock starts at `origin`, or at the first event.
            let start = origin.map_or(t, |o| o.min(t));
            next_tick = Some(start);
            cc.start(start, &mut lp);
            continue;
        }
        let tick = next_tick.expect("set above");
        if tick <= t {
            cc.tick(tick, &mut |wg, p| lp.out.availability(wg, p));
            lp.out.clock(tick);
            next_tick = Some(SimTime(tick.0 + rate));
            stats.last_time = Some(tick);
            continue;
        }
        stats.last_time = Some(t);
        if ev_time == Some(t) {
            let Some(ev) = source.take(&engine) else {
                settle(sc, seed, &mut engine, &mut cc, &mut lp, &mut chats);
                continue;
            };
            stats.first_event.get_or_insert(ev.time);
            lp.out.event(&ev);
            let is_track = matches!(ev.kind, EventKind::Track(_));
            if let Err(error) = engine.on_event(&ev, &cc, &mut lp) {
                match opts.on_invalid {
                    OnInvalid::Stop => return Err(StopError { line: ev.line, error }),
                    OnInvalid::Skip => {
                        stats.rejected += 1;
                        lp.out.rejected(ev.line, &error);
                    }
                }
            } else if is_track {
                stats.events += 1;
            } else {
                stats.responses += 1;
            }
            if let Some(trace) = engine.take_trace() {
                lp.out.traced(&ev, trace, &engine);
            }
        } else {
            let (at, item) = lp.pop().expect("timer_time is Some");
            match item {
                Scheduled::Engine(timer) => engine.on_timer(at, &timer, &cc, &mut lp),
                Scheduled::Cc(timer) => cc.on_timer(at, timer, &mut lp),
            }
        }
        settle(sc, seed, &mut engine, &mut cc, &mut lp, &mut chats);
    }
    stats.visitors = engine.visitor_count() as u64;
    stats.sessions = lp.sessions;
    stats.workgroups = cc.finish(stats.last_time.unwrap_or_default());
    Ok(stats)
}

impl crate::traffic::VisitorView for Engine<'_> {
    fn engaged(&self, customer: &str) -> bool {
        Engine::engaged(self, customer)
    }
}
