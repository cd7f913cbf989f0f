//! The contact-center side (SPEC §6 steps 9–10): workgroups with agents and a
//! FIFO chat queue each, routing to the licensed agent idle longest, handle
//! times, patience and abandonment, shifts, and the availability snapshots
//! PureConnect publishes every pacing interval.
//!
//! The engine's pacing gates read only what was published, through
//! [`Snapshots`], never the live queue. This module knows nothing of visitors:
//! chats are ids, and the simulator maps them back.

pub mod erlang;
mod stats;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

pub use stats::WorkgroupStats;

use crate::clock::{LocalClock, SimTime};
use crate::config::Scenario;
use crate::config::model::{AgentGroup, DailyWindow, Millis, Snapshot, WorkgroupId};
use crate::random::{self, Rng};

/// A snapshot as published at a moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Published {
    pub time: SimTime,
    pub snapshot: Snapshot,
}

/// The last published snapshot of each workgroup: all the gates may see.
pub trait Snapshots {
    fn last(&self, wg: WorkgroupId) -> Option<&Published>;
}

/// A chat in the contact center: a slot and its generation, so a stale timer
/// for a finished chat never reaches the chat that reuses the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChatId(pub u64);

/// Timers of the contact center.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CcTimer {
    /// The visitor's patience runs out (stale if the chat was engaged).
    Abandon(ChatId),
    /// The agent finishes the chat.
    Complete(ChatId),
    /// A minute boundary: agents log in and out by their shifts.
    Shifts,
}

/// What happened to a chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CcEvent {
    Engaged(ChatId),
    Abandoned(ChatId),
    Completed(ChatId),
}

/// The contact center's effects on the rest of the simulation.
pub trait CcSink {
    fn schedule(&mut self, at: SimTime, timer: CcTimer);
    fn chat(&mut self, at: SimTime, event: CcEvent);
}

#[derive(Debug)]
struct Agent {
    licensed: bool,
    max_chats: u32,
    shift: Option<DailyWindow>,
    logged_in: bool,
    chats: u32,
    /// When the agent last became free (for "idle longest" routing).
    idle_since: SimTime,
    busy_since: Option<SimTime>,
    logged_in_since: SimTime,
}

#[derive(Debug)]
struct Chat {
    wg: u32,
    started: SimTime,
    handle: Millis,
    agent: Option<u32>,
}

#[derive(Debug)]
enum Wg {
    /// A what-if workgroup: a snapshot that never changes; its chats go no further.
    Fixed(Snapshot),
    Simulated {
        agents: Vec<Agent>,
        queue: VecDeque<ChatId>,
        /// Agents with room for a chat, by (idle since, index): the head is the
        /// one idle longest. Entries go stale when an agent changes; `route`
        /// skips those, so routing costs O(log agents), not a scan.
        free: BinaryHeap<Reverse<(SimTime, u32)>>,
        /// Kept as agents change, so that a pacing tick reads the counts
        /// instead of scanning every agent.
        staffing: Staffing,
    },
}

/// A workgroup's licensed agents logged in, and those of them with room for a chat.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Staffing {
    logged_in: u32,
    available: u32,
}

impl Staffing {
    /// What one agent adds to the counts.
    fn of(a: &Agent) -> Staffing {
        Staffing { logged_in: u32::from(a.licensed && a.logged_in), available: u32::from(has_room(a)) }
    }

    /// An agent that counted as `before` now counts as `after`.
    fn replace(&mut self, before: Staffing, after: Staffing) {
        self.logged_in = self.logged_in - before.logged_in + after.logged_in;
        self.available = self.available - before.available + after.available;
    }

    fn count(agents: &[Agent]) -> Staffing {
        let of = agents.iter().map(Staffing::of);
        Staffing { logged_in: of.clone().map(|s| s.logged_in).sum(), available: of.map(|s| s.available).sum() }
    }
}

pub struct ContactCenter<'s> {
    sc: &'s Scenario,
    clock: LocalClock,
    wgs: Vec<Wg>,
    last: Vec<Option<Published>>,
    /// Live chats (queued or being handled).
    chats: ChatSlab,
    stats: Vec<WorkgroupStats>,
    has_shifts: bool,
}

fn expand(groups: &[AgentGroup], now: SimTime) -> Vec<Agent> {
    groups
        .iter()
        .flat_map(|g| {
            (0..g.count).map(move |_| Agent {
                licensed: g.licensed,
                max_chats: g.max_chats,
                shift: g.shift,
                logged_in: false,
                chats: 0,
                idle_since: now,
                busy_since: None,
                logged_in_since: now,
            })
        })
        .collect()
}

impl<'s> ContactCenter<'s> {
    /// `overrides` replace some workgroups by fixed snapshots (a case's `availability`).
    pub fn new(sc: &'s Scenario, overrides: &[(WorkgroupId, Snapshot)]) -> Self {
        let wgs: Vec<Wg> = sc
            .workgroups
            .iter()
            .enumerate()
            .map(|(i, w)| match overrides.iter().find(|(id, _)| id.0 as usize == i) {
                Some((_, s)) => Wg::Fixed(*s),
                None => match w.fixed_availability {
                    Some(s) => Wg::Fixed(s),
                    None => {
                        let agents = expand(&w.agents, SimTime(0));
                        // `push_free` keeps the list under twice the agents: sized once.
                        let free = BinaryHeap::with_capacity(2 * agents.len() + 1);
                        let staffing = Staffing::count(&agents);
                        Wg::Simulated { agents, queue: VecDeque::new(), free, staffing }
                    }
                },
            })
            .collect();
        let has_shifts = sc.workgroups.iter().any(|w| w.agents.iter().any(|a| a.shift.is_some()));
        let n = sc.workgroups.len();
        ContactCenter {
            sc,
            clock: LocalClock::new(sc.timezone.clone()),
            wgs,
            last: vec![None; n],
            chats: ChatSlab::default(),
            stats: sc.workgroups.iter().map(WorkgroupStats::new).collect(),
            has_shifts,
        }
    }

    /// Logs in the agents on shift at the start of the clock.
    pub fn start(&mut self, now: SimTime, sink: &mut dyn CcSink) {
        for a in self.agents_mut() {
            a.idle_since = now;
            a.logged_in_since = now;
        }
        self.shifts(now, sink);
    }

    fn agents_mut(&mut self) -> impl Iterator<Item = &mut Agent> {
        self.wgs.iter_mut().flat_map(|w| match w {
            Wg::Simulated { agents, .. } => agents.iter_mut(),
            Wg::Fixed(_) => [].iter_mut(),
        })
    }

    /// Which workgroups are simulated (the others publish a fixed snapshot).
    pub fn simulated(&self) -> Vec<bool> {
        self.wgs.iter().map(|w| matches!(w, Wg::Simulated { .. })).collect()
    }

    /// Whether updates are published at all (licence on, updates not disabled).
    pub fn publishing(&self) -> bool {
        self.sc.pureconnect.publishes()
    }

    /// The state a workgroup would publish now.
    pub fn live(&self, wg: usize) -> Snapshot {
        match &self.wgs[wg] {
            Wg::Fixed(s) => *s,
            Wg::Simulated { agents, queue, staffing, .. } => {
                debug_assert_eq!(*staffing, Staffing::count(agents), "the counts kept follow the agents");
                let Staffing { logged_in, available } = *staffing;
                let queue_length = queue.len() as u32;
                let ewt = if available > 0 && queue_length == 0 {
                    0
                } else {
                    // Ibrahim and Whitt's queue-length estimator.
                    let aht = self.stats[wg].aht_ms();
                    ((f64::from(queue_length) + 1.0) * aht / f64::from(logged_in.max(1))).round() as i64
                };
                Snapshot { agents_logged_in: logged_in, agents_available: available, queue_length, ewt: Millis(ewt) }
            }
        }
    }

    /// One pacing tick: publishes for each workgroup with `altocloud_updates`
    /// and a licensed agent logged in, passing each to `out`.
    pub fn tick(&mut self, now: SimTime, out: &mut dyn FnMut(WorkgroupId, &Published)) {
        if !self.publishing() {
            return;
        }
        for i in 0..self.wgs.len() {
            if !self.sc.workgroups[i].altocloud_updates {
                continue;
            }
            let snapshot = self.live(i);
            if snapshot.agents_logged_in == 0 {
                continue;
            }
            let published = Published { time: now, snapshot };
            self.last[i] = Some(published);
            self.stats[i].updates_published += 1;
            out(WorkgroupId(i as u32), &published);
        }
    }

    /// An accepted chat enters the workgroup's queue. `rng` draws its handle
    /// time; `patience` is how long the visitor waits (`None`: for ever).
    /// Returns `None` for a fixed (what-if) workgroup, where chats go no further.
    pub fn enqueue(
        &mut self,
        now: SimTime,
        wg: WorkgroupId,
        patience: Option<Millis>,
        rng: &mut Rng,
        sink: &mut dyn CcSink,
    ) -> Option<ChatId> {
        let i = wg.0 as usize;
        if matches!(self.wgs[i], Wg::Fixed(_)) {
            return None;
        }
        let handle = Millis(random::sample(&self.sc.workgroups[i].handle_time, rng).round().max(1.0) as i64);
        let id = self.chats.insert(Chat { wg: wg.0, started: now, handle, agent: None });
        self.stats[i].started += 1;
        if let Wg::Simulated { queue, .. } = &mut self.wgs[i] {
            queue.push_back(id);
        }
        if let Some(p) = patience {
            sink.schedule(now.plus(p), CcTimer::Abandon(id));
        }
        self.route(i, now, sink);
        Some(id)
    }

    pub fn on_timer(&mut self, now: SimTime, timer: CcTimer, sink: &mut dyn CcSink) {
        match timer {
            CcTimer::Shifts => self.shifts(now, sink),
            CcTimer::Abandon(id) => {
                let Some(chat) = self.chats.get_mut(id) else { return };
                if chat.agent.is_some() {
                    return;
                }
                let (wg, wait) = (chat.wg as usize, now.since(chat.started));
                self.chats.remove(id);
                if let Wg::Simulated { queue, .. } = &mut self.wgs[wg] {
                    queue.retain(|c| *c != id);
                }
                self.stats[wg].abandoned(wait);
                sink.chat(now, CcEvent::Abandoned(id));
            }
            CcTimer::Complete(id) => {
                let Some(chat) = self.chats.remove(id) else { return };
                let wg = chat.wg as usize;
                self.stats[wg].completed(chat.handle);
                if let (Wg::Simulated { agents, free, staffing, .. }, Some(a)) = (&mut self.wgs[wg], chat.agent) {
                    let agent = &mut agents[a as usize];
                    let before = Staffing::of(agent);
                    agent.chats -= 1;
                    staffing.replace(before, Staffing::of(agent));
                    if agent.chats == 0 {
                        agent.idle_since = now;
                        if let Some(since) = agent.busy_since.take() {
                            self.stats[wg].busy_ms += now.0 - since.0;
                        }
                    }
                    push_free(free, agents, a as usize);
                }
                sink.chat(now, CcEvent::Completed(id));
                self.route(wg, now, sink);
            }
        }
    }

    /// Gives queued chats, oldest first, to the licensed, logged-in agent with
    /// room who has been idle longest.
    fn route(&mut self, wg: usize, now: SimTime, sink: &mut dyn CcSink) {
        let Wg::Simulated { agents, queue, free, staffing } = &mut self.wgs[wg] else { return };
        while let Some(&head) = queue.front() {
            let Some(a) = pop_free(free, agents) else { break };
            queue.pop_front();
            let agent = &mut agents[a];
            let before = Staffing::of(agent);
            agent.chats += 1;
            staffing.replace(before, Staffing::of(agent));
            if agent.busy_since.is_none() {
                agent.busy_since = Some(now);
            }
            // The agent is not idle while chatting: a later free slot counts from now.
            agent.idle_since = now;
            push_free(free, agents, a);
            let chat = self.chats.get_mut(head).expect("queued chats are live");
            chat.agent = Some(a as u32);
            let wait = now.since(chat.started);
            self.stats[wg].engaged(wait);
            sink.schedule(now.plus(chat.handle), CcTimer::Complete(head));
            sink.chat(now, CcEvent::Engaged(head));
        }
    }

    /// Logs agents in and out by their shifts; an agent logging out finishes
    /// the chats in hand but takes no new one.
    fn shifts(&mut self, now: SimTime, sink: &mut dyn CcSink) {
        let minute = self.clock.local(now).minute_of_day;
        for wg in 0..self.wgs.len() {
            let mut logged_in_any = false;
            if let Wg::Simulated { agents, free, staffing, .. } = &mut self.wgs[wg] {
                for i in 0..agents.len() {
                    let a = &mut agents[i];
                    let on = a.shift.is_none_or(|s| s.contains(minute));
                    let before = Staffing::of(a);
                    if on && !a.logged_in {
                        a.logged_in = true;
                        a.logged_in_since = now;
                        a.idle_since = now;
                        staffing.replace(before, Staffing::of(a));
                        push_free(free, agents, i);
                        logged_in_any = true;
                    } else if !on && a.logged_in {
                        a.logged_in = false;
                        staffing.replace(before, Staffing::of(a));
                        if a.licensed {
                            self.stats[wg].logged_in_ms += now.0 - a.logged_in_since.0;
                        }
                    }
                }
            }
            if logged_in_any {
                self.route(wg, now, sink);
            }
        }
        if self.has_shifts {
            // The next minute boundary of wall-clock time.
            let next = SimTime((now.0.div_euclid(60_000) + 1) * 60_000);
            sink.schedule(next, CcTimer::Shifts);
        }
    }

    /// Closes the books at the end of the clock and returns per-workgroup results.
    pub fn finish(&mut self, now: SimTime) -> Vec<WorkgroupStats> {
        for wg in 0..self.wgs.len() {
            if let Wg::Simulated { agents, queue, .. } = &mut self.wgs[wg] {
                for a in agents.iter_mut() {
                    if a.logged_in && a.licensed {
                        self.stats[wg].logged_in_ms += now.0 - a.logged_in_since.0;
                        a.logged_in_since = now;
                    }
                    if let Some(since) = a.busy_since {
                        self.stats[wg].busy_ms += now.0 - since.0;
                        a.busy_since = Some(now);
                    }
                }
                self.stats[wg].still_queued = queue.len() as u64;
            }
        }
        self.stats.clone()
    }

    /// Forgets the results so far (after a warm-up), keeping the live state.
    pub fn reset_stats(&mut self, now: SimTime) {
        for (i, w) in self.sc.workgroups.iter().enumerate() {
            let updates = self.stats[i].updates_published;
            let (handle_sum_ms, completed) = (self.stats[i].handle_sum_ms, self.stats[i].completed);
            self.stats[i] = WorkgroupStats::new(w);
            self.stats[i].updates_published = updates;
            // Keep the running AHT so the EWT estimate does not jump back.
            self.stats[i].seed_aht(handle_sum_ms, completed);
        }
        for a in self.agents_mut() {
            a.logged_in_since = now;
            if a.busy_since.is_some() {
                a.busy_since = Some(now);
            }
        }
    }

    /// Whether any chat is still waiting or being handled.
    pub fn busy(&self) -> bool {
        self.chats.live > 0
    }
}

impl Snapshots for ContactCenter<'_> {
    fn last(&self, wg: WorkgroupId) -> Option<&Published> {
        self.last.get(wg.0 as usize).and_then(Option::as_ref)
    }
}

/// Whether an agent can take a chat now.
fn has_room(a: &Agent) -> bool {
    a.licensed && a.logged_in && a.chats < a.max_chats
}

/// Lists an agent as free (if it is) under its current idle time.
///
/// An agent's older entries are not removed (they go stale, and `pop_free`
/// skips them), so while no chat waits, every finished chat would add one for
/// good. Dropping the stale ones whenever the list reaches twice the agents
/// keeps it bounded, and leaves what `pop_free` finds unchanged.
fn push_free(free: &mut BinaryHeap<Reverse<(SimTime, u32)>>, agents: &[Agent], i: usize) {
    if has_room(&agents[i]) {
        if free.len() >= 2 * agents.len() {
            free.retain(|&Reverse((since, i))| is_current(agents, since, i));
        }
        free.push(Reverse((agents[i].idle_since, i as u32)));
    }
}

/// Whether a free-list entry still stands for its agent.
fn is_current(agents: &[Agent], since: SimTime, i: u32) -> bool {
    let a = &agents[i as usize];
    has_room(a) && a.idle_since == since
}

/// The free agent idle longest (ties: the lower index), skipping stale entries.
fn pop_free(free: &mut BinaryHeap<Reverse<(SimTime, u32)>>, agents: &[Agent]) -> Option<usize> {
    while let Some(Reverse((since, i))) = free.pop() {
        if is_current(agents, since, i) {
            return Some(i as usize);
        }
    }
    None
}

/// Live chats in reusable slots; memory follows the chats under way, not the run.
#[derive(Debug, Default)]
struct ChatSlab {
    slots: Vec<(u32, Option<Chat>)>,
    free: Vec<u32>,
    live: usize,
}

impl ChatSlab {
    fn insert(&mut self, chat: Chat) -> ChatId {
        self.live += 1;
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push((0, None));
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.0 = slot.0.wrapping_add(1);
        slot.1 = Some(chat);
        ChatId(u64::from(slot.0) << 32 | u64::from(index))
    }

    fn split(id: ChatId) -> (u32, usize) {
        ((id.0 >> 32) as u32, (id.0 & 0xffff_ffff) as usize)
    }

    fn get_mut(&mut self, id: ChatId) -> Option<&mut Chat> {
        let (generation, index) = Self::split(id);
        match self.slots.get_mut(index) {
            Some((g, Some(chat))) if *g == generation => Some(chat),
            _ => None,
        }
    }

    fn remove(&mut self, id: ChatId) -> Option<Chat> {
        let (generation, index) = Self::split(id);
        match self.slots.get_mut(index) {
            Some((g, slot @ Some(_))) if *g == generation => {
                self.live -= 1;
                self.free.push(index as u32);
                slot.take()
            }
            _ => None,
        }
    }
}
