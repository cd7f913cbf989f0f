//! The cost per event of updating outcome predictors (SPEC §7): the same events
//! replayed through a scenario with 10 predicted outcomes and through the same
//! scenario without predictors; the difference per event is the predictors' cost.
//!
//!   cargo bench --bench predict

use std::hint::black_box;

use std::time::Instant;

use criterion::{Criterion, Throughput};
use pesim::config::Scenario;
use pesim::engine::Responses;
use pesim::events::Event;
use pesim::report::Collect;
use pesim::sim::{Options, Stats, replay};

mod predict_input;
use predict_input::{Predictors, events, scenario};

fn replay_once(sc: &Scenario, evs: &[Event]) -> Stats {
    let opts = Options { responses: Responses::Recorded, ..Options::default() };
    let mut it = evs.iter().cloned().map(|e| (0u64, Ok(e)));
    let mut out = Collect::new(sc);
    let stats = replay(sc, &mut it, &opts, &mut out).expect("valid events");
    black_box(&out.tally);
    stats
}

const VARIANTS: [(&str, Predictors); 3] =
    [("without", Predictors::None), ("10 predictors", Predictors::Shared), ("10 distinct", Predictors::Distinct)];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("predictors");
    for (name, with) in VARIANTS {
        let sc = scenario(with);
        let evs = events(&sc);
        group.throughput(Throughput::Elements(evs.len() as u64));
        group.bench_function(name, |b| b.iter(|| replay_once(&sc, &evs)));
    }
    group.finish();
}

/// Criterion measures each variant alone, and the difference of two noisy
/// means is noisier still: here the variants run interleaved, and the cost
/// per event is the difference of the fastest runs.
fn interleaved() {
    let runs = std::env::var("PESIM_BENCH_RATIO_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let inputs: Vec<(Scenario, Vec<Event>)> = VARIANTS
        .iter()
        .map(|(_, p)| {
            let sc = scenario(*p);
            let evs = events(&sc);
            (sc, evs)
        })
        .collect();
    let mut best = [f64::INFINITY; 3];
    for _ in 0..runs {
        for (k, (sc, evs)) in inputs.iter().enumerate() {
            let started = Instant::now();
            black_box(replay_once(sc, evs));
            best[k] = best[k].min(started.elapsed().as_secs_f64());
        }
    }
    let n = inputs[0].1.len() as f64;
    let per_event = |k: usize| (best[k] - best[0]) / n * 1e9;
    println!(
        "interleaved, fastest of {runs}: without {:.3} ms, 10 shared-feature predictors {:.3} ms (+{:.0} ns/event), \
         10 distinct-feature predictors {:.3} ms (+{:.0} ns/event); target < 100 ns",
        best[0] * 1e3,
        best[1] * 1e3,
        per_event(1),
        best[2] * 1e3,
        per_event(2)
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        interleaved();
    }
}
