//! The two phases of a batch (SPEC §9's observation put to work): the
//! shards run their visitors' items in parallel, then one thread merges what
//! they did in key order and runs the contact center and the visitors it may
//! act on. See docs/parallel-run.md.

use rustc_hash::FxHashMap;

use super::order::{Key, Timers};
use super::shard::{CONTACT_CENTER, Ctl, Deferred, Out, Own, Refusal, Shard, shard_of};
use super::{OnInvalid, Output, Source, Stats, StopError};
use crate::availability::{CcEvent, CcSink, CcTimer, ChatId, ContactCenter};
use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::Millis;
use crate::engine::{ChatEvent, ChatRequest, Decision, SessionEnd, Sink, Timer, persona_of};
use crate::events::EventKind;
use crate::random;

/// Below this many events in an interval, its shards run on the calling
/// thread: waking the pool would cost more than it saves. Either way each
/// shard does the same work in the same order.
pub const PARALLEL_MIN: usize = 32;

/// Marks a merge entry as a deferred item rather than an output.
const DEFERRED: u32 = 1 << 31;

/// The contact center's timers, and what it reported during a step.
#[derive(Default)]
pub(super) struct CcBooks {
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
pub(super) struct Io<'o> {
    pub out: &'o mut dyn Output,
    /// Timers scheduled in the sequential phase that fall due in its interval.
    pub late: Timers<Timer>,
    /// Chats accepted during a step, queued once the step returns.
    pub accepted: Vec<(SimTime, ChatRequest)>,
    pub simulated: Vec<bool>,
    pub sessions: u64,
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
pub(super) struct ShardsView<'a, 's>(pub &'a [Shard<'s>]);

impl crate::traffic::VisitorView for ShardsView<'_, '_> {
    fn engaged(&self, customer: &str) -> bool {
        self.0[shard_of(customer)].engine.engaged(customer)
    }
}

/// One run's state between its phases.
pub(super) struct Run<'s, 'o> {
    pub sc: &'s Scenario,
    pub seed: u64,
    pub on_invalid: OnInvalid,
    pub shards: Vec<Shard<'s>>,
    pub cc: ContactCenter<'s>,
    pub books: CcBooks,
    pub chats: FxHashMap<ChatId, ChatRequest>,
    pub io: Io<'o>,
    /// The time of the last item or update: where the clock stopped.
    pub last_time: Option<SimTime>,
    /// Merge entries, reused: (key, shard with [`DEFERRED`] or not, index).
    pub order: Vec<(Key, u32, u32)>,
    /// The shards with something due in the batch, reused.
    pub active: Vec<usize>,
}

impl Run<'_, '_> {
    pub fn stamp(&mut self, t: SimTime) {
        self.last_time = self.last_time.max(Some(t));
    }

    /// When the next timer of either side is due (once per interval: plain loops).
    pub fn next_timer(&self) -> Option<SimTime> {
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
    pub fn live(&self) -> usize {
        let mut n = self.books.live + self.io.late.len();
        for s in &self.shards {
            n += s.ctl.own.timers.len();
        }
        n
    }

    /// Moves accepted chats into the contact center, and its chat events back to the engine.
    fn settle(&mut self, bound: Key) {
        loop {
            // Taken and put back, to keep its room: queuing a chat accepts none.
            let mut accepted = std::mem::take(&mut self.io.accepted);
            for (at, chat) in accepted.drain(..) {
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
            debug_assert!(self.io.accepted.is_empty());
            self.io.accepted = accepted;
            if self.books.events.is_empty() {
                break;
            }
            // Chats the engine hears of may start others (into `accepted`), but
            // no chat event comes of it.
            let mut events = std::mem::take(&mut self.books.events);
            for (at, event) in events.drain(..) {
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
            debug_assert!(self.books.events.is_empty());
            self.books.events = events;
        }
    }

    /// The parallel phase of a batch of `events` events that ends at `bound`:
    /// every shard with something due runs it, on the pool if there is one
    /// and enough to do.
    pub fn parallel(&mut self, bound: Key, events: usize, pool: Option<&rayon::ThreadPool>) {
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
    pub fn sequential(
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
                let result = engine.on_event(ev, &self.cc, &mut sink);
                match tally.count(ev, result, self.on_invalid) {
                    None => {}
                    Some(Refusal::Stop(stop)) => return Err(stop),
                    Some(Refusal::Skip(line, error)) => self.io.out.rejected(line, &error),
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

/// One batch's input: the steps of an interval, or of its first part.
pub(super) struct Batch {
    /// Items before it belong to the batch.
    pub bound: Key,
    /// Where an invalid line stops the run.
    pub stop: Option<(Key, StopError)>,
    /// When the input has more: a step past the batch, or its last step.
    pub after: Option<SimTime>,
    pub events: usize,
    /// The batch ended at an answer: its interval goes on.
    pub answer: bool,
}

/// Reads the input steps due before `end` (the clock's next item is due at
/// `t`) and routes their events to their visitors' shards; `read` counts the
/// events read so far, each one's place in the order.
pub(super) fn read_batch(
    run: &mut Run<'_, '_>,
    source: &mut dyn Source,
    on_invalid: OnInvalid,
    stats: &mut Stats,
    read: &mut u64,
    t: SimTime,
    end: SimTime,
) -> Batch {
    let mut batch = Batch { bound: Key::start(end), stop: None, after: None, events: 0, answer: false };
    loop {
        match source.next_time(on_invalid, run.io.out, stats) {
            Err(e) => {
                // The run stops after the events read before the bad line.
                *read += 1;
                batch.stop = Some((Key::event(batch.after.unwrap_or(t), *read), e));
                return batch;
            }
            Ok(Some(at)) if at < end => {
                batch.after = Some(at);
                run.stamp(at);
                let Some(ev) = source.take(&ShardsView(&run.shards)) else { continue };
                *read += 1;
                batch.events += 1;
                stats.first_event.get_or_insert(ev.time);
                let key = Key::event(ev.time, *read);
                let answer = matches!(ev.kind, EventKind::Response { .. });
                run.shards[shard_of(&ev.customer)].ctl.inbox.push((key, ev));
                if answer {
                    // The engine may refuse an answer: the batch ends with it,
                    // so that its line is still the last one read if the run
                    // stops there (its error quotes it).
                    batch.bound = Key::event(at, *read + 1);
                    batch.answer = true;
                    return batch;
                }
            }
            Ok(next) => {
                batch.after = next.or(batch.after);
                return batch;
            }
        }
    }
}

/// The earlier of two keys, either of which may be missing.
pub(super) fn earliest(a: Option<Key>, b: Option<Key>) -> Option<Key> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
