//! The cost per event of updating outcome predictors (SPEC §7): the same events
//! replayed through a scenario with 10 predicted outcomes and through the same
//! scenario without predictors; the difference per event is the predictors' cost.
//!
//!   cargo bench --bench predict

use std::hint::black_box;

use std::time::Instant;

use criterion::{Criterion, Throughput};
use pesim::config::{Scenario, load_str};
use pesim::engine::Responses;
use pesim::events::{Event, EventKind, Page, TrackEvent};
use pesim::report::Collect;
use pesim::sim::{Options, Stats, replay};

/// Which predictors the scenario has.
#[derive(Clone, Copy, PartialEq)]
enum Predictors {
    None,
    /// The same four feature expressions in every predictor (weights differ).
    Shared,
    /// Four feature expressions of each predictor's own (40 in all).
    Distinct,
}

fn scenario(predictors: Predictors) -> Scenario {
    let mut text = String::from(
        "name: predict\nstart: 2026-03-02T10:00:00Z\nsegments:\n  - {id: cart, when: 'count(page_viewed where page.url contains \"/cart\") >= 1'}\noutcomes:\n",
    );
    for i in 0..10 {
        text.push_str(&format!("  - id: o{i}\n    achieved_when: page.url contains \"/never{i}\"\n"));
        let features = match predictors {
            Predictors::None => continue,
            Predictors::Shared => "pages: session.pageviews, cart: 'segment(\"cart\")', \
                 checkout: 'page.url contains \"/checkout\"', time: time_on_page / 1s"
                .to_string(),
            Predictors::Distinct => format!(
                "pages: session.pageviews * {k}, cart: 'segment(\"cart\") and session.events > {i}', \
                 checkout: 'page.url contains \"/checkout{i}\"', time: time_on_page / {k}s",
                k = i + 1
            ),
        };
        text.push_str(&format!(
            "    predictor:\n      features: {{{features}}}\n      \
             weights: {{pages: 0.{i}, cart: 1.2, checkout: 2.0, time: -0.01}}\n      bias: -3.0\n      \
             quantiles: [0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99]\n"
        ));
    }
    let loaded = load_str("predict.yaml", &text);
    assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics.list);
    loaded.scenario.expect("valid")
}

/// 100 visitors × 100 pageviews, interleaved, 10 s apart per visitor.
fn events(sc: &Scenario) -> Vec<Event> {
    let t0 = 1_772_445_600_000i64; // 2026-03-02T10:00:00Z
    let urls = ["https://x.example/", "https://x.example/p/1", "https://x.example/cart", "https://x.example/checkout"];
    let mut out = Vec::new();
    for step in 0..100i64 {
        for v in 0..100i64 {
            let mut ev = TrackEvent::named(&sc.interner, "page_viewed");
            ev.page = Some(std::sync::Arc::new(Page::from_url(urls[((v + step) % 4) as usize])));
            out.push(Event {
                time: pesim::clock::SimTime(t0 + step * 10_000 + v),
                customer: format!("c{v}").into(),
                kind: EventKind::Track(Box::new(ev)),
                line: 0,
            });
        }
    }
    out
}

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
