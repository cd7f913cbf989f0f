//! The discrete-event loop: one simulated clock in integer milliseconds, a
//! binary heap of timers, and the same-instant order of SPEC §6 —
//! availability updates first, then tracking events in input order, then other
//! timers in the order they were scheduled. `replay`, `test` cases (and `run`)
//! all drive the engine through this loop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::availability::{ContactCenter, Published};
use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{Snapshot, WorkgroupId};
use crate::engine::{ChatRequest, Decision, Engine, Responses, SessionEnd, Sink, Timer, Trace};
use crate::events::{Event, LineError};

/// Where a run's results go.
pub trait Output {
    fn decision(&mut self, d: &Decision);
    fn availability(&mut self, wg: WorkgroupId, p: &Published);
    fn session_ended(&mut self, _end: &SessionEnd) {}
    /// After each event of a traced visitor (`explain`).
    fn traced(&mut self, _event: &Event, _trace: Trace, _engine: &Engine<'_>) {}
    /// An input line that was not a valid event, skipped (`--skip-invalid`).
    fn rejected(&mut self, _line: u64, _error: &LineError) {}
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
}

impl Default for Options {
    fn default() -> Self {
        Options { responses: Responses::Model, on_invalid: OnInvalid::Stop, availability: Vec::new(), trace: None }
    }
}

/// What a replay read and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    pub updates_published: Vec<u64>,
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

struct Loop<'o> {
    heap: BinaryHeap<Reverse<Entry>>,
    timers: Vec<Option<Timer>>,
    free: Vec<usize>,
    seq: u64,
    out: &'o mut dyn Output,
    chats: Vec<(SimTime, ChatRequest)>,
    sessions: u64,
}

impl Sink for Loop<'_> {
    fn decision(&mut self, d: Decision) {
        self.out.decision(&d);
    }
    fn schedule(&mut self, at: SimTime, timer: Timer) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.timers[i] = Some(timer);
                i
            }
            None => {
                self.timers.push(Some(timer));
                self.timers.len() - 1
            }
        };
        self.seq += 1;
        self.heap.push(Reverse(Entry { time: at, seq: self.seq, slot }));
    }
    fn chat_started(&mut self, at: SimTime, chat: ChatRequest) {
        self.chats.push((at, chat));
    }
    fn session_ended(&mut self, end: &SessionEnd) {
        self.sessions += 1;
        self.out.session_ended(end);
    }
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

/// Like [`replay`], with the clock starting at `origin` (or the first event).
pub fn replay_from(
    sc: &Scenario,
    origin: Option<SimTime>,
    events: &mut dyn Iterator<Item = (u64, Result<Event, LineError>)>,
    opts: &Options,
    out: &mut dyn Output,
) -> Result<Stats, StopError> {
    let mut engine = Engine::new(sc, opts.responses);
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
        out,
        chats: Vec::new(),
        sessions: 0,
    };
    let rate = sc.pureconnect.pacing_rate.0.max(1);
    let mut pending: Option<Event> = None;
    let mut next_tick: Option<SimTime> = origin;
    let mut input_done = false;

    loop {
        // Keep one valid event in hand to know the next event time.
        while pending.is_none() && !input_done {
            match events.next() {
                None => input_done = true,
                Some((line, Ok(ev))) => {
                    stats.lines = stats.lines.max(line);
                    pending = Some(ev);
                }
                Some((line, Err(error))) => {
                    stats.lines = stats.lines.max(line);
                    match opts.on_invalid {
                        OnInvalid::Stop => return Err(StopError { line, error }),
                        OnInvalid::Skip => {
                            stats.rejected += 1;
                            lp.out.rejected(line, &error);
                        }
                    }
                }
            }
        }
        let ev_time = pending.as_ref().map(|e| e.time);
        let timer_time = lp.heap.peek().map(|Reverse(e)| e.time);
        let Some(t) = [ev_time, timer_time].into_iter().flatten().min() else { break };
        // The clock starts at the scenario's start, or at the first event.
        let tick = *next_tick.get_or_insert(t);
        if tick <= t {
            cc.tick(tick, &mut |wg, p| lp.out.availability(wg, p));
            next_tick = Some(SimTime(tick.0 + rate));
            stats.last_time = Some(tick);
            continue;
        }
        stats.last_time = Some(t);
        if ev_time == Some(t) {
            let ev = pending.take().expect("ev_time is Some");
            stats.first_event.get_or_insert(ev.time);
            match &ev.kind {
                crate::events::EventKind::Track(_) => stats.events += 1,
                crate::events::EventKind::Response { .. } => stats.responses += 1,
            }
            if let Err(error) = engine.on_event(&ev, &cc, &mut lp) {
                match opts.on_invalid {
                    OnInvalid::Stop => return Err(StopError { line: ev.line, error }),
                    OnInvalid::Skip => {
                        stats.rejected += 1;
                        match &ev.kind {
                            crate::events::EventKind::Track(_) => stats.events -= 1,
                            crate::events::EventKind::Response { .. } => stats.responses -= 1,
                        }
                        lp.out.rejected(ev.line, &error);
                    }
                }
            }
            if let Some(trace) = engine.take_trace() {
                lp.out.traced(&ev, trace, &engine);
            }
        } else {
            let Reverse(entry) = lp.heap.pop().expect("timer_time is Some");
            let timer = lp.timers[entry.slot].take().expect("each slot is popped once");
            lp.free.push(entry.slot);
            engine.on_timer(entry.time, &timer, &cc, &mut lp);
        }
        // Chats accepted meanwhile: with fixed availability they go no further.
        lp.chats.clear();
    }
    stats.visitors = engine.visitor_count() as u64;
    stats.sessions = lp.sessions;
    stats.updates_published = cc.updates_published.clone();
    Ok(stats)
}
