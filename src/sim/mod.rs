//! The discrete-event loop: one simulated clock in integer milliseconds and
//! the same-instant order of SPEC §6 — availability updates first, then
//! tracking events in input order, then other timers ([`order`] refines their
//! order so that shards can keep it apart). `replay`, `test` cases and `run`
//! all drive the engine through this loop.
//!
//! The clock moves one pacing interval at a time (from one availability update
//! to the next). Within an interval the gates read only the last published
//! snapshot, so the visitors' shards run independently ([`shard`]), in
//! parallel when there are threads to spare; then one thread merges what they
//! did in key order and runs the contact center, the chats, and the items of
//! the visitors it may act on. Every thread count runs these same phases, so
//! the outputs are byte-identical for any `--threads`.

mod order;
mod shard;

use rustc_hash::FxHashMap;

use crate::availability::{CcEvent, CcSink, CcTimer, ChatId, ContactCenter, Published, WorkgroupStats};
use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{Millis, Snapshot, WorkgroupId};
use crate::engine::{ChatEvent, ChatRequest, Decision, Engine, Responses, SessionEnd, Sink, Timer, Trace, persona_of};
use crate::events::{Event, EventKind, LineError};
use crate::random;
use crate::traffic::Generator;
use order::{Key, Timers};
use shard::{CONTACT_CENTER, Ctl, Deferred, Out, Own, SHARDS, Shard, shard_of};

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
    /// Threads for the visitors' shards: 1 runs everything on the calling
    /// thread. The outputs are the same for any count.
    pub threads: usize,
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
            threads: 1,
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
    /// Batches of events the loop ran (an interval's, or part of one).
    pub batches: u64,
    /// Batches of at least [`PARALLEL_MIN`] events: those whose shards run
    /// on the pool when there is one.
    pub large_batches: u64,
}

/// A replay stopped by an invalid line.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct StopError {
    pub line: u64,
    pub error: LineError,
}

/// Below this many events in an interval, its shards run on the calling
/// thread: waking the pool would cost more than it saves. Either way each
/// shard does the same work in the same order.
pub const PARALLEL_MIN: usize = 32;

/// Marks a merge entry as a deferred item rather than an output.
const DEFERRED: u32 = 1 << 31;

/// The contact center's timers, and what it reported during a step.
#[derive(Default)]
struct CcBooks {
    timers: Timers<CcTimer>,
    seq: u64,
    /// Pending timers other than the repeating shift check: the clock runs while any is pending.
    live: usize,
    events: Vec<(SimTime, CcEvent)>,
}

impl CcSink for CcBooks {
    fn schedule(&mut self, at: SimTime, timer: CcTimer) {
        if !matches!(timer, CcTimer::Shifts) {
            self.live += 1;
        }
        self.seq += 1;
        self.timers.push(Key::timer(at, CONTACT_CENTER, self.seq), timer);
    }
    fn chat(&mut self, at: SimTime, event: CcEvent) {
        self.events.push((at, event));
    }
}

/// What the sequential phase writes to, apart from the shards.
struct Io<'o> {
    out: &'o mut dyn Output,
    /// Timers scheduled in the sequential phase that fall due in its interval.
    late: Timers<Timer>,
    /// Chats accepted during a step, queued once the step returns.
    accepted: Vec<(SimTime, ChatRequest)>,
    simulated: Vec<bool>,
    sessions: u64,
}

/// The sequential phase's sink: outputs go straight out, already in key order.
struct Live<'a, 'o> {
    own: &'a mut Own,
    io: &'a mut Io<'o>,
    /// The end of the interval.
    bound: Key,
}

impl Sink for Live<'_, '_> {
    fn decision(&mut self, d: Decision) {
        self.io.out.decision(&d);
    }
    fn schedule(&mut self, at: SimTime, timer: Timer) {
        let key = self.own.next_key(at);
        if key < self.bound {
            self.io.late.push(key, timer);
        } else {
            self.own.timers.push(key, timer);
        }
    }
    fn chat_started(&mut self, at: SimTime, chat: ChatRequest) {
        if self.io.simulated[chat.target.0 as usize] {
            self.own.entangled.add(&chat.customer);
            self.io.accepted.push((at, chat));
        }
    }
    fn session_ended(&mut self, end: &SessionEnd) {
        self.io.sessions += 1;
        self.io.out.session_ended(end);
    }
    fn features(&mut self, customer: &std::sync::Arc<str>, session: u32, values: &[f64]) {
        self.io.out.features(customer, session, values);
    }
}

/// What the generator may read of the visitors: each from its shard.
struct ShardsView<'a, 's>(&'a [Shard<'s>]);

impl crate::traffic::VisitorView for ShardsView<'_, '_> {
    fn engaged(&self, customer: &str) -> bool {
        self.0[shard_of(customer)].engine.engaged(customer)
    }
}

/// One run's state between its phases.
struct Run<'s, 'o> {
    sc: &'s Scenario,
    seed: u64,
    on_invalid: OnInvalid,
    shards: Vec<Shard<'s>>,
    cc: ContactCenter<'s>,
    books: CcBooks,
    chats: FxHashMap<ChatId, ChatRequest>,
    io: Io<'o>,
    /// The time of the last item or update: where the clock stopped.
    last_time: Option<SimTime>,
    /// Merge entries, reused: (key, shard with [`DEFERRED`] or not, index).
    order: Vec<(Key, u32, u32)>,
    /// The shards with something due in the batch, reused.
    active: Vec<usize>,
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
    fn take(&mut self, view: &dyn crate::traffic::VisitorView) -> Option<Event>;
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

    fn take(&mut self, _: &dyn crate::traffic::VisitorView) -> Option<Event> {
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

    fn take(&mut self, view: &dyn crate::traffic::VisitorView) -> Option<Event> {
        let ev = self.generator.take(view)?;
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

impl Run<'_, '_> {
    fn stamp(&mut self, t: SimTime) {
        self.last_time = self.last_time.max(Some(t));
    }

    /// When the next timer of either side is due (once per interval: plain loops).
    fn next_timer(&self) -> Option<SimTime> {
        let mut first = self.books.timers.peek();
        for s in &self.shards {
            if let Some(k) = s.ctl.own.timers.peek()
                && first.is_none_or(|f| k < f)
            {
                first = Some(k);
            }
        }
        first.map(|k| k.time)
    }

    /// Pending timers other than the shift checks.
    fn live(&self) -> usize {
        let mut n = self.books.live + self.io.late.len();
        for s in &self.shards {
            n += s.ctl.own.timers.len();
        }
        n
    }

    /// Moves accepted chats into the contact center, and its chat events back to the engine.
    fn settle(&mut self, bound: Key) {
        loop {
            for (at, chat) in std::mem::take(&mut self.io.accepted) {
                // Keyed by the chat itself, so a chat's draws do not depend on other chats.
                let key = u64::from(chat.session) << 20 | u64::from(chat.map.0);
                let mut draw_patience = random::stream(self.seed, "patience", &chat.customer, key);
                let patience = persona_of(self.sc, self.seed, &chat.customer)
                    .and_then(|p| p.patience.as_ref())
                    .map(|d| Millis(random::sample(d, &mut draw_patience).round() as i64));
                let mut rng = random::stream(self.seed, "handle", &chat.customer, key);
                match self.cc.enqueue(at, chat.target, patience, &mut rng, &mut self.books) {
                    Some(id) => {
                        self.chats.insert(id, chat);
                    }
                    None => self.shards[shard_of(&chat.customer)].ctl.own.entangled.release(&chat.customer),
                }
            }
            if self.books.events.is_empty() {
                break;
            }
            for (at, event) in std::mem::take(&mut self.books.events) {
                let (id, what) = match event {
                    CcEvent::Engaged(id) => (id, ChatEvent::Engaged),
                    CcEvent::Abandoned(id) => (id, ChatEvent::Abandoned),
                    CcEvent::Completed(id) => (id, ChatEvent::Completed),
                };
                let chat =
                    if what == ChatEvent::Engaged { self.chats.get(&id).cloned() } else { self.chats.remove(&id) };
                if let Some(chat) = chat {
                    let Shard { engine, ctl } = &mut self.shards[shard_of(&chat.customer)];
                    engine.on_chat(at, &chat, what, &mut Live { own: &mut ctl.own, io: &mut self.io, bound });
                    if what != ChatEvent::Engaged {
                        ctl.own.entangled.release(&chat.customer);
                    }
                }
            }
        }
    }

    /// The parallel phase of a batch of `events` events that ends at `bound`:
    /// every shard with something due runs it, on the pool if there is one
    /// and enough to do.
    fn parallel(&mut self, bound: Key, events: usize, pool: Option<&rayon::ThreadPool>) {
        let Run { shards, cc, io, on_invalid, active, .. } = self;
        let (cc, simulated, on_invalid): (&ContactCenter, &[bool], OnInvalid) = (cc, &io.simulated, *on_invalid);
        active.clear();
        active.extend((0..shards.len()).filter(|&i| shards[i].has_work(bound)));
        match pool {
            Some(pool) if events >= PARALLEL_MIN => pool.install(|| {
                use rayon::prelude::*;
                // A shard with nothing due returns at once.
                shards.par_iter_mut().for_each(|s| s.advance(bound, cc, simulated, on_invalid));
            }),
            _ => active.iter().for_each(|&i| shards[i].advance(bound, cc, simulated, on_invalid)),
        }
        for &i in active.iter() {
            if let Some(last) = shards[i].ctl.tally.last {
                self.last_time = self.last_time.max(Some(last.time));
            }
        }
    }

    /// The sequential phase of a batch that ends at `bound`: replays the
    /// shards' outputs, runs the deferred items, the contact center's timers
    /// and the chats, all in key order. `stop` is where an invalid input line
    /// stops the run; `after` is when the input has more (a step past the
    /// batch, or the batch's last step). `Ok(false)`: the run is over.
    fn sequential(
        &mut self,
        bound: Key,
        mut stop: Option<(Key, StopError)>,
        after: Option<SimTime>,
    ) -> Result<bool, StopError> {
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        // Only the shards that ran have outputs or deferred items.
        for &s in &self.active {
            let shard = &self.shards[s];
            // One entry per item: its outputs follow each other in the shard's list.
            let out = &shard.ctl.out;
            let firsts = (0..out.len()).filter(|&i| i == 0 || out[i - 1].0 != out[i].0);
            order.extend(firsts.map(|i| (out[i].0, s as u32, i as u32)));
            order.extend(shard.ctl.deferred.iter().enumerate().map(|(i, (k, _))| (*k, s as u32 | DEFERRED, i as u32)));
        }
        // Items are unique by key.
        order.sort_unstable();
        let mut next = 0;
        let result = loop {
            let merged = order.get(next).map(|e| e.0);
            let cc = self.books.timers.peek_before(bound);
            let late = self.io.late.peek_before(bound);
            let halt = stop.as_ref().map(|(k, _)| *k);
            let Some(key) = earliest(earliest(merged, cc), earliest(late, halt)) else { break Ok(true) };
            if halt == Some(key) {
                break Err(stop.take().expect("halt is Some").1);
            }
            if merged == Some(key) {
                let (_, tag, i) = order[next];
                next += 1;
                let s = (tag & !DEFERRED) as usize;
                self.stamp(key.time);
                let step = if tag & DEFERRED != 0 {
                    self.run_deferred(s, key, i as usize, bound)
                } else {
                    self.emit(s, i as usize)
                };
                if let Err(e) = step {
                    break Err(e);
                }
                // The contact center takes an item's chats once the item is done.
                self.settle(bound);
            } else if late == Some(key) {
                let (key, timer) = self.io.late.pop().expect("peeked above");
                self.stamp(key.time);
                let Shard { engine, ctl } = &mut self.shards[key.owner() as usize];
                engine.on_timer(key.time, &timer, &self.cc, &mut Live { own: &mut ctl.own, io: &mut self.io, bound });
                self.settle(bound);
            } else {
                let (key, timer) = self.books.timers.pop().expect("peeked above");
                if matches!(timer, CcTimer::Shifts) {
                    // The clock runs only while something other than shift checks is pending.
                    let later = next < order.len()
                        || after.is_some_and(|t| t > key.time)
                        || self.live() > 0
                        || self.shards.iter().any(|s| s.ctl.tally.last.is_some_and(|l| l > key));
                    if !later {
                        break Ok(false);
                    }
                } else {
                    self.books.live -= 1;
                }
                self.stamp(key.time);
                self.cc.on_timer(key.time, timer, &mut self.books);
                self.settle(bound);
            }
        };
        self.order = order;
        for &s in &self.active {
            self.shards[s].clear();
        }
        result
    }

    /// Passes on the buffered outputs of one item of shard `s`, from its `i`th.
    fn emit(&mut self, s: usize, i: usize) -> Result<(), StopError> {
        let ctl = &self.shards[s].ctl;
        let key = ctl.out[i].0;
        for (_, item) in ctl.out[i..].iter().take_while(|(k, _)| *k == key) {
            emit_one(ctl, &mut self.io, item)?;
        }
        Ok(())
    }

    /// Runs a deferred item of shard `s` now, its outputs going straight out.
    fn run_deferred(&mut self, s: usize, key: Key, i: usize, bound: Key) -> Result<(), StopError> {
        let Shard { engine, ctl } = &mut self.shards[s];
        let Ctl { inbox, deferred, own, tally, .. } = ctl;
        let mut sink = Live { own, io: &mut self.io, bound };
        match &deferred[i].1 {
            Deferred::Timer(timer) => engine.on_timer(key.time, timer, &self.cc, &mut sink),
            Deferred::Event(j) => {
                let ev = &inbox[*j as usize].1;
                sink.io.out.event(ev);
                let is_track = matches!(ev.kind, EventKind::Track(_));
                match engine.on_event(ev, &self.cc, &mut sink) {
                    Ok(()) if is_track => tally.events += 1,
                    Ok(()) => tally.responses += 1,
                    Err(error) => match self.on_invalid {
                        OnInvalid::Stop => return Err(StopError { line: ev.line, error }),
                        OnInvalid::Skip => {
                            tally.rejected += 1;
                            self.io.out.rejected(ev.line, &error);
                        }
                    },
                }
                if let Some(trace) = engine.take_trace() {
                    self.io.out.traced(ev, trace, engine);
                }
            }
        }
        Ok(())
    }
}

/// Passes on one buffered output of a shard.
fn emit_one(ctl: &Ctl, io: &mut Io<'_>, item: &Out) -> Result<(), StopError> {
    let out = &mut *io.out;
    match item {
        Out::Event(j) => out.event(&ctl.inbox[*j as usize].1),
        Out::Decision(d) => out.decision(d),
        Out::SessionEnded { customer, session, at, engaged, outcomes } => {
            io.sessions += 1;
            let outcomes = &ctl.bools[outcomes.clone()];
            out.session_ended(&SessionEnd { customer, session: *session, at: *at, engaged: *engaged, outcomes });
        }
        Out::Features { customer, session, values } => out.features(customer, *session, &ctl.floats[values.clone()]),
        Out::Rejected(line, error) => out.rejected(*line, error),
        Out::Stop(e) => return Err(e.clone()),
        Out::Chat(at, chat) => io.accepted.push((*at, chat.clone())),
    }
    Ok(())
}

/// The earlier of two keys, either of which may be missing.
fn earliest(a: Option<Key>, b: Option<Key>) -> Option<Key> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The loop itself, for any source of events. Each pacing interval (from one
/// availability update to the next) runs in two phases: the shards run their
/// visitors' items, in parallel with `opts.threads` > 1; then one thread
/// merges what they did and runs the contact center and the visitors it may
/// act on ([`shard`]). The phases are the same for any thread count, so the
/// outputs are too.
pub fn run_loop(
    sc: &Scenario,
    origin: Option<SimTime>,
    source: &mut dyn Source,
    opts: &Options,
    out: &mut dyn Output,
) -> Result<Stats, StopError> {
    let seed = opts.seed.unwrap_or(sc.seed);
    let mut first = Engine::new(sc, opts.responses, seed);
    first.record_features = opts.record_features;
    if opts.evaluate_every_condition {
        first.evaluate_every_condition();
    }
    let mut engines: Vec<Engine> = (1..SHARDS).map(|_| first.sibling()).collect();
    engines.insert(0, first);
    let mut shards: Vec<Shard> = engines.into_iter().enumerate().map(|(i, e)| Shard::new(e, i)).collect();
    if let Some(c) = &opts.trace {
        shards[shard_of(c)].trace(c);
    }
    let cc = ContactCenter::new(sc, &opts.availability);
    let simulated = cc.simulated();
    let mut run = Run {
        sc,
        seed,
        on_invalid: opts.on_invalid,
        shards,
        cc,
        books: CcBooks::default(),
        chats: FxHashMap::default(),
        io: Io { out, late: Timers::default(), accepted: Vec::new(), simulated, sessions: 0 },
        last_time: None,
        order: Vec::new(),
        active: Vec::new(),
    };
    // A pool that cannot start leaves the run on this thread: the same outputs,
    // slower. The calling thread is one of the pool's, so that it works while
    // it waits, and a batch wakes one thread fewer.
    let pool = (opts.threads > 1)
        .then(|| rayon::ThreadPoolBuilder::new().num_threads(opts.threads).use_current_thread().build().ok())
        .flatten();
    let mut stats = Stats::default();
    let rate = sc.pureconnect.pacing_rate.0.max(1);
    let mut next_tick: Option<SimTime> = None;
    // The end of an interval whose batch ended early, at an answer.
    let mut open: Option<SimTime> = None;
    // Input steps taken: each event's place in the order.
    let mut read: u64 = 0;

    loop {
        let ev_time = source.next_time(opts.on_invalid, run.io.out, &mut stats)?;
        // The clock runs while events or live timers remain.
        if ev_time.is_none() && run.live() == 0 {
            break;
        }
        let Some(t) = [ev_time, run.next_timer()].into_iter().flatten().min() else { break };
        let Some(tick) = next_tick else {
            // The clock starts at `origin`, or at the first event.
            let start = origin.map_or(t, |o| o.min(t));
            next_tick = Some(start);
            run.cc.start(start, &mut run.books);
            continue;
        };
        let end = match open.take() {
            Some(end) => end,
            None => {
                let Run { cc, io, .. } = &mut run;
                cc.tick(tick, &mut |wg, p| io.out.availability(wg, p));
                io.out.clock(tick);
                run.stamp(tick);
                let end = SimTime(tick.0 + rate);
                next_tick = Some(end);
                if t >= end {
                    continue;
                }
                end
            }
        };
        // The interval's input steps, routed to their visitors' shards: a batch.
        let mut bound = Key::start(end);
        let mut stop = None;
        let mut after = None;
        let mut events = 0;
        loop {
            match source.next_time(opts.on_invalid, run.io.out, &mut stats) {
                Err(e) => {
                    // The run stops after the events read before the bad line.
                    read += 1;
                    stop = Some((Key::event(after.unwrap_or(t), read), e));
                    break;
                }
                Ok(Some(at)) if at < end => {
                    after = Some(at);
                    run.stamp(at);
                    let Some(ev) = source.take(&ShardsView(&run.shards)) else { continue };
                    read += 1;
                    events += 1;
                    stats.first_event.get_or_insert(ev.time);
                    let key = Key::event(ev.time, read);
                    let answer = matches!(ev.kind, EventKind::Response { .. });
                    run.shards[shard_of(&ev.customer)].ctl.inbox.push((key, ev));
                    if answer {
                        // The engine may refuse an answer: the batch ends with it,
                        // so that its line is still the last one read if the run
                        // stops there (its error quotes it). The interval goes on.
                        bound = Key::event(at, read + 1);
                        open = Some(end);
                        break;
                    }
                }
                Ok(next) => {
                    after = next.or(after);
                    break;
                }
            }
        }
        stats.batches += 1;
        stats.large_batches += u64::from(events >= PARALLEL_MIN);
        run.parallel(bound, events, pool.as_ref());
        if !run.sequential(bound, stop, after)? {
            break;
        }
    }
    stats.last_time = run.last_time;
    stats.visitors = run.shards.iter().map(|s| s.engine.visitor_count() as u64).sum();
    stats.sessions = run.io.sessions;
    for s in &run.shards {
        stats.events += s.ctl.tally.events;
        stats.responses += s.ctl.tally.responses;
        stats.rejected += s.ctl.tally.rejected;
    }
    stats.workgroups = run.cc.finish(stats.last_time.unwrap_or_default());
    Ok(stats)
}

impl crate::traffic::VisitorView for Engine<'_> {
    fn engaged(&self, customer: &str) -> bool {
        Engine::engaged(self, customer)
    }
}
