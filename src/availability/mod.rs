//! The contact-center side: workgroups, their agents and queues, and the
//! availability snapshots PureConnect publishes every pacing interval
//! (SPEC §6 step 10). The engine's pacing gates read only what was published,
//! through [`Snapshots`], never the live state.

use crate::clock::{LocalClock, SimTime};
use crate::config::Scenario;
use crate::config::model::{Snapshot, Workgroup, WorkgroupId};

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

/// Publishes availability for every workgroup of a scenario.
///
/// A workgroup with `fixed_availability` (or a case's fixed snapshot) publishes
/// that snapshot unchanged. A workgroup with agents publishes its licensed
/// agents logged in by shift.
#[derive(Debug)]
pub struct ContactCenter<'s> {
    scenario: &'s Scenario,
    clock: LocalClock,
    last: Vec<Option<Published>>,
    fixed: Vec<Option<Snapshot>>,
    /// Updates published per workgroup.
    pub updates_published: Vec<u64>,
}

impl<'s> ContactCenter<'s> {
    /// `overrides` replace the snapshots of some workgroups (a case's `availability`).
    pub fn new(scenario: &'s Scenario, overrides: &[(WorkgroupId, Snapshot)]) -> Self {
        let mut fixed: Vec<Option<Snapshot>> = scenario.workgroups.iter().map(|w| w.fixed_availability).collect();
        for (wg, snap) in overrides {
            fixed[wg.0 as usize] = Some(*snap);
        }
        let n = scenario.workgroups.len();
        ContactCenter {
            scenario,
            clock: LocalClock::new(scenario.timezone.clone()),
            last: vec![None; n],
            fixed,
            updates_published: vec![0; n],
        }
    }

    /// Whether updates are published at all (licence on, updates not disabled).
    pub fn publishing(&self) -> bool {
        self.scenario.pureconnect.publishes()
    }

    /// One pacing tick: publishes a snapshot for each workgroup that qualifies,
    /// passing each to `out` (for availability.jsonl).
    pub fn tick(&mut self, now: SimTime, out: &mut dyn FnMut(WorkgroupId, &Published)) {
        if !self.publishing() {
            return;
        }
        for (i, wg) in self.scenario.workgroups.iter().enumerate() {
            if !wg.altocloud_updates {
                continue;
            }
            let snapshot = match self.fixed[i] {
                Some(s) => s,
                None => self.live(wg, now),
            };
            // Updates are sent only while a licensed member is logged in.
            if snapshot.agents_logged_in == 0 {
                continue;
            }
            let published = Published { time: now, snapshot };
            self.last[i] = Some(published);
            self.updates_published[i] += 1;
            out(WorkgroupId(i as u32), &published);
        }
    }

    /// The live state of a simulated workgroup: licensed agents on shift now.
    fn live(&mut self, wg: &Workgroup, now: SimTime) -> Snapshot {
        let local = self.clock.local(now);
        let logged_in: u32 = wg
            .agents
            .iter()
            .filter(|a| a.licensed && a.shift.is_none_or(|s| s.contains(local.minute_of_day)))
            .map(|a| a.count)
            .sum();
        Snapshot {
            agents_logged_in: logged_in,
            agents_available: logged_in,
            queue_length: 0,
            ewt: crate::config::model::Millis(0),
        }
    }
}

impl Snapshots for ContactCenter<'_> {
    fn last(&self, wg: WorkgroupId) -> Option<&Published> {
        self.last.get(wg.0 as usize).and_then(Option::as_ref)
    }
}
