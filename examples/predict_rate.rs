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
//! time printed is the fastest repeat of each.

use std::time::Instant;

use pesim::engine::Responses;
use pesim::report::Collect;
use pesim::sim::{Options, replay};

#[path = "../benches/predict_input.rs"]
mod predict_input;
use predict_input::{Predictors, events, scenario};

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
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let inputs: Vec<_> = variants
        .iter()
        .map(|v| {
            let sc = scenario(*v);
            let evs = events(&sc);
            (sc, evs)
        })
        .collect();
    let mut best = vec![f64::INFINITY; inputs.len()];
    for _ in 0..repeats {
        for (k, (sc, evs)) in inputs.iter().enumerate() {
            let opts = Options { responses: Responses::Recorded, ..Options::default() };
            let mut it = evs.iter().cloned().map(|e| (0u64, Ok(e)));
            let mut out = Collect::new(sc);
            let started = Instant::now();
            replay(sc, &mut it, &opts, &mut out).expect("valid events");
            best[k] = best[k].min(started.elapsed().as_secs_f64());
            std::hint::black_box(&out.tally);
        }
    }
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
}
