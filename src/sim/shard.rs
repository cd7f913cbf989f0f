//! One shard of a run's visitors: its engine, its timers, and what it did in
//! an interval's parallel phase, kept with each item's [`Key`] for the merge.
//!
//! Visitors are split by a hash of their id into [`SHARDS`] shards, a constant,
//! so the split (and with it every shard's order of work) is the same for any
//! thread count. Between two availability updates a visitor's events only read
//! the last published snapshot, so shards are independent, except for visitors
//! with a chat in the contact center: those are *entangled*, and their items
//! wait for the interval's sequential phase (`crate::sim`).

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::order::{Key, Timers};
use super::{OnInvalid, StopError};
use crate::availability::Snapshots;
use crate::clock::SimTime;
use crate::engine::{ChatRequest, Decision, Engine, SessionEnd, Sink, Timer};
use crate::events::{Event, EventKind, LineError};

/// How many shards a run's visitors are split into.
pub const SHARDS: usize = 16;

/// The owner number of the contact center's timers: after every shard's.
pub const CONTACT_CENTER: u32 = SHARDS as u32;

/// The shard of a visitor: the top bits of a fixed hash of its id.
pub fn shard_of(customer: &str) -> usize {
    (crate::random::fnv1a64(customer.as_bytes()) >> 60) as usize
}

/// What a shard did during the parallel phase, replayed to the run's output
/// (or, for a chat, to the contact center) in key order by the merge.
#[derive(Debug)]
pub enum Out {
    /// The `i`th event of the shard's inbox, before the engine saw it.
    Event(u32),
    Decision(Decision),
    SessionEnded {
        customer: Arc<str>,
        session: u32,
        at: SimTime,
        engaged: bool,
        outcomes: std::ops::Range<usize>,
    },
    Features {
        customer: Arc<str>,
        session: u32,
        values: std::ops::Range<usize>,
    },
    /// An event the engine refused (`--skip-invalid`).
    Rejected(u64, LineError),
    /// An event the engine refused: the run stops there.
    Stop(StopError),
    /// An accepted chat, for the contact center's queue.
    Chat(SimTime, ChatRequest),
}

/// An item of an entangled visitor, left for the sequential phase.
#[derive(Debug)]
pub enum Deferred {
    /// The `i`th event of the shard's inbox.
    Event(u32),
    Timer(Timer),
}

/// Visitors whose items must run in the sequential phase.
#[derive(Debug, Default)]
pub struct Entangled {
    /// Chats in the contact center, per visitor.
    chats: FxHashMap<Arc<str>, u32>,
    /// The visitor `explain` traces: its trace needs the engine as it is after
    /// each of its events, which only the sequential phase can show.
    traced: Option<Arc<str>>,
}

impl Entangled {
    pub fn holds(&self, customer: &str) -> bool {
        (!self.chats.is_empty() && self.chats.contains_key(customer)) || self.traced.as_deref() == Some(customer)
    }

    pub fn add(&mut self, customer: &Arc<str>) {
        *self.chats.entry(customer.clone()).or_insert(0) += 1;
    }

    /// A chat of `customer` left the contact center.
    pub fn release(&mut self, customer: &str) {
        if let Some(n) = self.chats.get_mut(customer) {
            *n -= 1;
            if *n == 0 {
                self.chats.remove(customer);
            }
        }
    }
}

/// A shard's timers and the count that orders them.
#[derive(Debug)]
pub struct Own {
    pub timers: Timers<Timer>,
    owner: u32,
    seq: u64,
    pub entangled: Entangled,
}

impl Own {
    /// The key of a timer this shard schedules now, due `at`.
    pub fn next_key(&mut self, at: SimTime) -> Key {
        self.seq += 1;
        Key::timer(at, self.owner, self.seq)
    }
}

/// What a shard's work came to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub events: u64,
    pub responses: u64,
    pub rejected: u64,
    /// The last item processed in the parallel phase.
    pub last: Option<Key>,
}

/// An input line the engine refused, per `--skip-invalid`.
pub enum Refusal {
    /// The run stops at this line.
    Stop(StopError),
    /// The line is counted, reported, and the run goes on.
    Skip(u64, LineError),
}

impl Tally {
    /// Counts the event `ev` if the engine took it (`result`); if it refused
    /// it, says what that comes to.
    pub fn count(&mut self, ev: &Event, result: Result<(), LineError>, on_invalid: OnInvalid) -> Option<Refusal> {
        match result {
            Ok(()) if matches!(ev.kind, EventKind::Track(_)) => self.events += 1,
            Ok(()) => self.responses += 1,
            Err(error) => match on_invalid {
                OnInvalid::Stop => return Some(Refusal::Stop(StopError { line: ev.line, error })),
                OnInvalid::Skip => {
                    self.rejected += 1;
                    return Some(Refusal::Skip(ev.line, error));
                }
            },
        }
        None
    }
}

/// A shard's state apart from its engine, split so that a sink can borrow
/// some of it while an event borrows the inbox.
#[derive(Debug)]
pub struct Ctl {
    /// The interval's events of this shard's visitors, in input order.
    pub inbox: Vec<(Key, Event)>,
    pub out: Vec<(Key, Out)>,
    pub deferred: Vec<(Key, Deferred)>,
    /// The outcomes of [`Out::SessionEnded`] and values of [`Out::Features`].
    pub bools: Vec<bool>,
    pub floats: Vec<f64>,
    pub own: Own,
    pub tally: Tally,
}

pub struct Shard<'s> {
    pub engine: Engine<'s>,
    pub ctl: Ctl,
}

impl<'s> Shard<'s> {
    pub fn new(engine: Engine<'s>, index: usize) -> Self {
        let own = Own { timers: Timers::default(), owner: index as u32, seq: 0, entangled: Entangled::default() };
        let ctl = Ctl {
            inbox: Vec::new(),
            out: Vec::new(),
            deferred: Vec::new(),
            bools: Vec::new(),
            floats: Vec::new(),
            own,
            tally: Tally::default(),
        };
        Shard { engine, ctl }
    }

    /// Traces `customer` (`explain`); it must belong to this shard.
    pub fn trace(&mut self, customer: &str) {
        self.engine.trace_customer(customer);
        self.ctl.own.entangled.traced = Some(customer.into());
    }

    /// The parallel phase: runs this shard's events and timers before
    /// `bound`, in key order, buffering what they produce; items of entangled
    /// visitors are deferred. `snapshots` is only read.
    pub fn advance(&mut self, bound: Key, snapshots: &dyn Snapshots, simulated: &[bool], on_invalid: OnInvalid) {
        if !self.has_work(bound) {
            return;
        }
        let Shard { engine, ctl } = self;
        let Ctl { inbox, out, deferred, bools, floats, own, tally } = ctl;
        let mut next = 0;
        loop {
            let event_key = inbox.get(next).map(|(k, _)| *k);
            let timer_key = own.timers.peek_before(bound);
            let Some(key) = super::phases::earliest(event_key, timer_key) else { break };
            tally.last = Some(key);
            if Some(key) == event_key {
                let i = next as u32;
                let ev = &inbox[next].1;
                next += 1;
                if own.entangled.holds(&ev.customer) {
                    deferred.push((key, Deferred::Event(i)));
                    continue;
                }
                out.push((key, Out::Event(i)));
                let mut sink = Buffered { key, own, out, bools, floats, simulated };
                let result = engine.on_event(ev, snapshots, &mut sink);
                match tally.count(ev, result, on_invalid) {
                    None => {}
                    Some(Refusal::Stop(stop)) => {
                        out.push((key, Out::Stop(stop)));
                        return;
                    }
                    Some(Refusal::Skip(line, error)) => out.push((key, Out::Rejected(line, error))),
                }
            } else {
                let (key, timer) = own.timers.pop().expect("peeked above");
                if own.entangled.holds(engine.customer(timer.visitor)) {
                    deferred.push((key, Deferred::Timer(timer)));
                    continue;
                }
                let mut sink = Buffered { key, own, out, bools, floats, simulated };
                engine.on_timer(key.time, &timer, snapshots, &mut sink);
            }
        }
    }

    /// Whether anything of this shard falls before `bound`.
    pub fn has_work(&self, bound: Key) -> bool {
        !self.ctl.inbox.is_empty() || self.ctl.own.timers.peek_before(bound).is_some()
    }

    /// Forgets the interval's events and buffered outputs, keeping their room.
    pub fn clear(&mut self) {
        let c = &mut self.ctl;
        if c.inbox.is_empty() && c.out.is_empty() && c.deferred.is_empty() {
            return;
        }
        c.inbox.clear();
        c.out.clear();
        c.deferred.clear();
        c.bools.clear();
        c.floats.clear();
    }
}

/// The parallel phase's sink: everything is kept, keyed by the item that made it.
struct Buffered<'a> {
    key: Key,
    own: &'a mut Own,
    out: &'a mut Vec<(Key, Out)>,
    bools: &'a mut Vec<bool>,
    floats: &'a mut Vec<f64>,
    simulated: &'a [bool],
}

impl Sink for Buffered<'_> {
    fn decision(&mut self, d: Decision) {
        self.out.push((self.key, Out::Decision(d)));
    }

    fn schedule(&mut self, at: SimTime, timer: Timer) {
        let key = self.own.next_key(at);
        self.own.timers.push(key, timer);
    }

    fn chat_started(&mut self, at: SimTime, chat: ChatRequest) {
        if self.simulated[chat.target.0 as usize] {
            // From now on the contact center may act on this visitor.
            self.own.entangled.add(&chat.customer);
            self.out.push((self.key, Out::Chat(at, chat)));
        }
    }

    fn session_ended(&mut self, end: &SessionEnd) {
        let start = self.bools.len();
        self.bools.extend_from_slice(end.outcomes);
        self.out.push((
            self.key,
            Out::SessionEnded {
                customer: end.customer.clone(),
                session: end.session,
                at: end.at,
                engaged: end.engaged,
                outcomes: start..self.bools.len(),
            },
        ));
    }

    fn features(&mut self, customer: &Arc<str>, session: u32, values: &[f64]) {
        let start = self.floats.len();
        self.floats.extend_from_slice(values);
        self.out
            .push((self.key, Out::Features { customer: customer.clone(), session, values: start..self.floats.len() }));
    }
}
