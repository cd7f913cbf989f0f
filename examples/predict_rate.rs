//! The predictor benchmark's replay, run by hand for exact instruction counts:
//!
//!   cargo build --release --example predict_rate
//!   valgrind --tool=callgrind ./target/release/examples/predict_rate distinct 10
//!
//! Replays the 10,000 events of `benches/predict.rs` REPEATS times through the
//! scenario without predictors (`none`), with 10 shared-feature predictors
//! (`shared`) or with 10 distinct-feature ones (`distinct`), or through all
//! three in turn (`all`, the default). The difference of two instruction
//! counts, divided by the events, is the predictors' cost per event; the wall
//! time printed is the fastest repeat of each. Then, with `all`, for each
//! variant with predictors, the scorer alone on the same pageviews: its features and
//! updates without the engine around them.

#[path = "../benches/predict_input.rs"]
mod predict_input;
use pesim::engine::scorer::{Scorer, Scratch};
use pesim::engine::state::LogitPair;
use predict_input::{Predictors, fastest_interleaved, inputs, score_all, scorer_inputs};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let variants = match args.next().as_deref() {
        Some("none") => vec![Predictors::None],
        Some("shared") => vec![Predictors::Shared],
        Some("distinct") => vec![Predictors::Distinct],
        Some("all") | None => vec![Predictors::None, Predictors::Shared, Predictors::Distinct],
        Some(other) => {
            eprintln!("predict_rate: unknown variant {other:?}; expected none, shared, distinct or all");
            std::process::exit(2);
        }
    };
    let repeats = match args.next().map(|a| a.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("predict_rate: REPEATS must be a whole number above 0");
            std::process::exit(2);
        }
    };
    let inputs = inputs(&variants);
    let best = fastest_interleaved(&inputs, repeats);
    let n = inputs[0].1.len() as f64;
    for (k, v) in variants.iter().enumerate() {
        let name = match v {
            Predictors::None => "none",
            Predictors::Shared => "shared",
            Predictors::Distinct => "distinct",
        };
        let extra = if variants.len() == 3 && k > 0 {
            format!(" (+{:.0} ns/event)", (best[k] - best[0]) / n * 1e9)
        } else {
            String::new()
        };
        println!("{name}: fastest of {repeats}: {:.3} ms{extra}", best[k] * 1e3);
    }
    // The scorer alone on the same pageviews (the `scorer alone` group of
    // `benches/predict.rs`); with `all` only, so that a single variant's
    // instruction count is the replay's alone.
    if variants.len() < 3 {
        return;
    }
    let alone = scorer_inputs();
    for ((sc, _), v) in inputs.iter().zip(&variants).filter(|(_, v)| **v != Predictors::None) {
        let scorer = Scorer::new(sc);
        let mut scratch = Scratch::default();
        let mut scores = vec![vec![LogitPair::default(); scorer.pairs()]; 100];
        let fastest = (0..repeats)
            .map(|_| {
                let started = Instant::now();
                score_all(&scorer, &alone, &mut scratch, &mut scores);
                started.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        let name = if *v == Predictors::Shared { "shared" } else { "distinct" };
        println!("{name}, scorer alone: fastest of {repeats}: {:.0} ns/event", fastest / alone.len() as f64 * 1e9);
    }
}
