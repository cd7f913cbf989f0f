//! Queueing theory to validate the contact-center model against: Erlang C
//! (M/M/N) and Erlang A (M/M/N+M, solved as a birth–death chain), and a driver
//! that feeds one workgroup Poisson chat arrivals directly.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{CcEvent, CcSink, CcTimer, ContactCenter, WorkgroupStats};
use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{Dist, Millis, WorkgroupId};
use crate::random;

/// Erlang C: the probability that an arrival waits, for `a` Erlangs on `n` agents.
pub fn erlang_c(a: f64, n: u32) -> f64 {
    // Erlang B by its stable recurrence, then C from B.
    let mut b = 1.0;
    for k in 1..=n {
        b = a * b / (f64::from(k) + a * b);
    }
    let n = f64::from(n);
    b / (1.0 - (a / n) * (1.0 - b))
}

/// The share answered within `t`, with mean handle time `aht` (same unit).
pub fn erlang_c_service_level(a: f64, n: u32, t: f64, aht: f64) -> f64 {
    1.0 - erlang_c(a, n) * (-(f64::from(n) - a) * t / aht).exp()
}

/// Average speed of answer over all arrivals.
pub fn erlang_c_asa(a: f64, n: u32, aht: f64) -> f64 {
    erlang_c(a, n) * aht / (f64::from(n) - a)
}

/// Results of the Erlang A model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangA {
    pub p_wait: f64,
    pub p_abandon: f64,
    pub mean_queue: f64,
}

/// Erlang A (M/M/N+M): arrival rate `lambda`, service rate `mu`, abandonment
/// rate `theta` per waiting visitor; the chain is truncated where its
/// probabilities vanish.
pub fn erlang_a(lambda: f64, mu: f64, theta: f64, n: u32) -> ErlangA {
    let n = n as usize;
    // Unnormalised stationary probabilities p_k ∝ Π λ / death(k).
    let mut p = vec![1.0f64];
    let mut k = 0usize;
    loop {
        k += 1;
        let death = (k.min(n)) as f64 * mu + (k.saturating_sub(n)) as f64 * theta;
        let next = p[k - 1] * lambda / death;
        p.push(next);
        if k > n && (next < 1e-16 * p.iter().sum::<f64>() || k > n + 100_000) {
            break;
        }
    }
    let total: f64 = p.iter().sum();
    let p_wait: f64 = p.iter().skip(n).sum::<f64>() / total;
    let mean_queue: f64 = p.iter().enumerate().skip(n).map(|(k, pk)| (k - n) as f64 * pk).sum::<f64>() / total;
    ErlangA { p_wait, p_abandon: theta * mean_queue / lambda, mean_queue }
}

/// Heap payloads packed in a u64: the kind in the top two bits, a chat id below.
const ARRIVAL: u64 = 0;
const ABANDON: u64 = 1 << 62;
const COMPLETE: u64 = 2 << 62;
const SHIFTS: u64 = 3 << 62;
const KIND: u64 = 3 << 62;

struct Heap {
    heap: BinaryHeap<Reverse<(i64, u64, u64)>>,
    seq: u64,
}

impl Heap {
    fn push(&mut self, at: SimTime, payload: u64) {
        self.seq += 1;
        self.heap.push(Reverse((at.0, self.seq, payload)));
    }
}

impl CcSink for Heap {
    fn schedule(&mut self, at: SimTime, timer: CcTimer) {
        let payload = match timer {
            CcTimer::Abandon(c) => ABANDON | c.0,
            CcTimer::Complete(c) => COMPLETE | c.0,
            CcTimer::Shifts => SHIFTS,
        };
        self.push(at, payload);
    }
    fn chat(&mut self, _: SimTime, _: CcEvent) {}
}

/// Feeds workgroup `wg` of `sc` Poisson arrivals at `per_hour`, each visitor
/// waiting `patience` (or for ever), for `duration` after a `warmup` whose
/// chats are not counted. Returns the workgroup's results.
pub fn simulate(
    sc: &Scenario,
    wg: WorkgroupId,
    per_hour: f64,
    patience: Option<&Dist>,
    warmup: Millis,
    duration: Millis,
    seed: u64,
) -> WorkgroupStats {
    let mut cc = ContactCenter::new(sc, &[]);
    let mut h = Heap { heap: BinaryHeap::new(), seq: 0 };
    let start = SimTime(0);
    cc.start(start, &mut h);
    let mut arrivals = random::stream(seed, "arrivals", "erlang", 0);
    let mut chats = random::stream(seed, "chats", "erlang", 0);
    let mean_gap = 3_600_000.0 / per_hour;
    let end = start.plus(warmup).plus(duration);
    let next_gap = |rng: &mut random::Rng| (mean_gap * random::exp1(rng)).round() as i64;
    h.push(SimTime(next_gap(&mut arrivals)), ARRIVAL);
    let mut counting = warmup.0 == 0;
    while let Some(Reverse((t, _, payload))) = h.heap.pop() {
        let t = SimTime(t);
        if !counting && t >= start.plus(warmup) {
            cc.reset_stats(t);
            counting = true;
        }
        let chat = super::ChatId(payload & !KIND);
        match payload & KIND {
            ARRIVAL => {
                if t >= end {
                    continue;
                }
                let p = patience.map(|d| Millis(random::sample(d, &mut chats).round() as i64));
                cc.enqueue(t, wg, p, &mut chats, &mut h);
                h.push(SimTime(t.0 + next_gap(&mut arrivals)), ARRIVAL);
            }
            ABANDON => cc.on_timer(t, CcTimer::Abandon(chat), &mut h),
            COMPLETE => cc.on_timer(t, CcTimer::Complete(chat), &mut h),
            _ => {
                if t < end {
                    cc.on_timer(t, CcTimer::Shifts, &mut h);
                }
            }
        }
    }
    cc.finish(end).swap_remove(wg.0 as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_published_values() {
        // A = 10 Erl, N = 14, T = 20 s with AHT 180 s (the reference figures).
        assert!((erlang_c(10.0, 14) - 0.174132).abs() < 1e-6);
        let aht = 180.0;
        assert!((erlang_c_service_level(10.0, 14, 20.0, aht) - 0.888350).abs() < 1e-6);
        assert!((erlang_c_asa(10.0, 14, aht) - 7.8359).abs() < 1e-3);
        assert!((erlang_c(48.0, 55) - 0.238701).abs() < 1e-6);
    }

    #[test]
    fn erlang_a_reduces_to_erlang_c_without_abandonment() {
        let a = erlang_a(10.0, 1.0, 1e-9, 14);
        assert!((a.p_wait - erlang_c(10.0, 14)).abs() < 1e-6);
        assert!(a.p_abandon < 1e-6);
    }
}
