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
mod phases;
mod shard;

use rustc_hash::FxHashMap;

use crate::availability::{ContactCenter, Published, WorkgroupStats};
use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{Snapshot, WorkgroupId};
use crate::engine::{Decision, Engine, Responses, SessionEnd, Trace};
use crate::events::{Event, LineError};
use crate::traffic::Generator;
use order::Timers;
pub use phases::PARALLEL_MIN;
use phases::{Batch, CcBooks, Io, Run, read_batch};
use shard::{SHARDS, Shard, shard_of};

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

/// The pool a run on this thread uses for its shards: `None` if none can start,
/// which leaves the run on this thread (the same outputs, slower).
///
/// The calling thread is one of the pool's (rayon's `use_current_thread`), so
/// that it works rather than waits, and a batch wakes one thread fewer: on a
/// dense run that cut the shards' phase from 5.25 s to 3.61 s. Such a pool
/// keeps the thread for good, so it is made once per thread and kept; a run
/// asking this thread for another size gets a pool of its own, which the
/// thread waits on.
fn pool_for(threads: usize) -> Option<std::sync::Arc<rayon::ThreadPool>> {
    use std::cell::RefCell;
    use std::sync::Arc;
    thread_local!(static POOL: RefCell<Option<(usize, Arc<rayon::ThreadPool>)>> = const { RefCell::new(None) });
    POOL.with(|kept| {
        let mut kept = kept.borrow_mut();
        match &*kept {
            Some((n, pool)) if *n == threads => return Some(pool.clone()),
            Some(_) => {}
            None => {
                let builder = rayon::ThreadPoolBuilder::new().num_threads(threads).use_current_thread();
                // Fails if this thread already works for another pool.
                if let Ok(pool) = builder.build() {
                    let pool = Arc::new(pool);
                    *kept = Some((threads, pool.clone()));
                    return Some(pool);
                }
            }
        }
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok().map(Arc::new)
    })
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
    let pool = (opts.threads > 1).then(|| pool_for(opts.threads)).flatten();
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
        let batch = read_batch(&mut run, source, opts.on_invalid, &mut stats, &mut read, t, end);
        if batch.answer {
            open = Some(end);
        }
        let Batch { bound, stop, after, events, .. } = batch;
        stats.batches += 1;
        stats.large_batches += u64::from(events >= PARALLEL_MIN);
        run.parallel(bound, events, pool.as_deref());
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
