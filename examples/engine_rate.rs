//! A quick, non-criterion measure of the engine's events/s on the benchmarks'
//! scenario, for profiling (`perf record`) and for comparing builds by hand:
//!
//!   cargo run --release --example engine_rate -- [EVENTS] [REPEATS]
//!
//! Prints the best of REPEATS replays of EVENTS in-memory events (defaults
//! 200,000 and 3). `benches/engine.rs` is the reference measurement.

use std::time::Instant;

use pesim::engine::Responses;
use pesim::events::{Event, Texts, parse_line_with};
use pesim::report::Collect;
use pesim::sim::{Options, replay};

#[path = "gen_bench_scenario.rs"]
#[allow(dead_code)]
mod gen_bench_scenario;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.replace('_', "").parse::<usize>());
    let n = args.next().and_then(Result::ok).unwrap_or(200_000);
    let repeats = args.next().and_then(Result::ok).unwrap_or(3).max(1);
    let sc = gen_bench_scenario::load(gen_bench_scenario::DEFAULT_PER_HOUR, 24);
    // Parsed as `EventReader` does, sharing repeated context texts.
    let mut texts = Texts::default();
    let events: Vec<Event> = gen_bench_scenario::event_lines(n)
        .iter()
        .enumerate()
        .map(|(i, l)| parse_line_with(&sc, l, i as u64 + 1, &mut texts).expect("generated lines are valid events"))
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let input = events.clone();
        let opts = Options { responses: Responses::Recorded, seed: Some(1), ..Options::default() };
        let mut iter = input.into_iter().map(|e| (e.line, Ok(e)));
        let mut out = Collect::new(&sc);
        let started = Instant::now();
        let stats = replay(&sc, &mut iter, &opts, &mut out).expect("generated events replay without error");
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        println!(
            "{} events, {} visitors, {} sessions: {:.3} s, {:.0} k events/s",
            stats.events,
            stats.visitors,
            stats.sessions,
            secs,
            stats.events as f64 / secs / 1e3
        );
    }
    println!("best: {:.0} k events/s", events.len() as f64 / best / 1e3);
}
