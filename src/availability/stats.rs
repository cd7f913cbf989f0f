//! Per-workgroup results: chats by fate, waits, service level, occupancy.

use crate::config::model::{Millis, Workgroup};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkgroupStats {
    pub started: u64,
    pub engaged: u64,
    pub abandoned: u64,
    /// Abandons sooner than the short-abandon threshold (excluded from the service level).
    pub short_abandoned: u64,
    pub completed: u64,
    /// Chats still queued when the clock stopped.
    pub still_queued: u64,
    /// Waits of engaged chats, in milliseconds.
    pub waits: Vec<i64>,
    /// Engaged within the service-level target.
    pub within_target: u64,
    pub handle_sum_ms: f64,
    pub updates_published: u64,
    /// Licensed agent time with at least one chat, and logged in.
    pub busy_ms: i64,
    pub logged_in_ms: i64,
    target: Millis,
    short_abandon: Millis,
    configured_aht_ms: f64,
}

impl WorkgroupStats {
    pub fn new(w: &Workgroup) -> Self {
        WorkgroupStats {
            target: w.service_level.within,
            short_abandon: w.short_abandon,
            configured_aht_ms: w.handle_time.mean(),
            ..Default::default()
        }
    }

    /// Mean handle time of the chats completed so far (the configured mean until one completes).
    pub fn aht_ms(&self) -> f64 {
        if self.completed == 0 { self.configured_aht_ms } else { self.handle_sum_ms / self.completed as f64 }
    }

    pub(super) fn seed_aht(&mut self, handle_sum_ms: f64, completed: u64) {
        if completed > 0 {
            self.configured_aht_ms = handle_sum_ms / completed as f64;
        }
    }

    pub(super) fn engaged(&mut self, wait: Millis) {
        self.engaged += 1;
        self.waits.push(wait.0);
        if wait <= self.target {
            self.within_target += 1;
        }
    }

    pub(super) fn abandoned(&mut self, wait: Millis) {
        self.abandoned += 1;
        if wait < self.short_abandon {
            self.short_abandoned += 1;
        }
    }

    pub(super) fn completed(&mut self, handle: Millis) {
        self.completed += 1;
        self.handle_sum_ms += handle.0 as f64;
    }

    pub fn mean_wait_ms(&self) -> Option<f64> {
        (!self.waits.is_empty()).then(|| self.waits.iter().sum::<i64>() as f64 / self.waits.len() as f64)
    }

    /// The p-th percentile of waits (nearest rank).
    pub fn wait_percentile_ms(&self, p: f64) -> Option<i64> {
        if self.waits.is_empty() {
            return None;
        }
        let mut w = self.waits.clone();
        w.sort_unstable();
        let rank = ((p * w.len() as f64).ceil() as usize).clamp(1, w.len());
        Some(w[rank - 1])
    }

    /// Share of engaged chats that waited at all.
    pub fn p_wait(&self) -> Option<f64> {
        (self.engaged > 0).then(|| self.waits.iter().filter(|w| **w > 0).count() as f64 / self.engaged as f64)
    }

    /// Engaged within target over engaged plus abandoned (short abandons excluded).
    pub fn service_level(&self) -> Option<f64> {
        let denominator = self.engaged + self.abandoned - self.short_abandoned;
        (denominator > 0).then(|| self.within_target as f64 / denominator as f64)
    }

    pub fn target(&self) -> Millis {
        self.target
    }

    pub fn occupancy(&self) -> Option<f64> {
        (self.logged_in_ms > 0).then(|| self.busy_ms as f64 / self.logged_in_ms as f64)
    }

    /// Share of chats that abandoned (short abandons included).
    pub fn p_abandon(&self) -> Option<f64> {
        let n = self.engaged + self.abandoned;
        (n > 0).then(|| self.abandoned as f64 / n as f64)
    }
}
