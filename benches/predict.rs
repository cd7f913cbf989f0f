//! The cost per event of updating outcome predictors (SPEC §7): the same events
//! replayed through a scenario with 10 predicted outcomes and through the same
//! scenario without predictors; the difference per event is the predictors' cost.
//!
//!   cargo bench --bench predict

use criterion::{Criterion, Throughput};

mod predict_input;
use pesim::engine::scorer::{Scorer, Scratch};
use pesim::engine::state::LogitPair;
use predict_input::{Predictors, events, fastest_interleaved, inputs, replay_once, scenario, score_all, scorer_inputs};

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

    // The scorer alone on the same pageviews: its own cost, without the
    // engine's (whose caches and branch history it shares in a replay).
    let mut group = c.benchmark_group("scorer alone");
    let inputs = scorer_inputs();
    for (name, with) in &VARIANTS[1..] {
        let scorer = Scorer::new(&scenario(*with));
        let mut scratch = Scratch::default();
        let mut scores = vec![vec![LogitPair::default(); scorer.pairs()]; 100];
        group.throughput(Throughput::Elements(inputs.len() as u64));
        group.bench_function(*name, |b| b.iter(|| score_all(&scorer, &inputs, &mut scratch, &mut scores)));
    }
    group.finish();
}

/// Criterion measures each variant alone, and the difference of two noisy
/// means is noisier still: here the variants run interleaved, and the cost
/// per event is the difference of the fastest runs.
fn interleaved() {
    let runs = std::env::var("PESIM_BENCH_RATIO_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let inputs = inputs(&VARIANTS.map(|(_, p)| p));
    let best = fastest_interleaved(&inputs, runs);
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
