//! The cost per event of updating outcome predictors (SPEC §7): the same events
//! replayed through a scenario with 10 predicted outcomes and through the same
//! scenario without predictors; the difference per event is the predictors' cost.
//!
//!   cargo bench --bench predict

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pesim::config::{Scenario, load_str};
use pesim::engine::Responses;
use pesim::events::{Event, EventKind, Page, TrackEvent};
use pesim::report::Collect;
use pesim::sim::{Options, replay};

fn scenario(predictors: bool) -> Scenario {
    let mut text = String::from(
        "name: predict\nstart: 2026-03-02T10:00:00Z\nsegments:\n  - {id: cart, when: 'count(page_viewed where page.url contains \"/cart\") >= 1'}\noutcomes:\n",
    );
    for i in 0..10 {
        text.push_str(&format!("  - id: o{i}\n    achieved_when: page.url contains \"/never{i}\"\n"));
        if predictors {
            text.push_str(&format!(
                "    predictor:\n      features: {{pages: session.pageviews, cart: 'segment(\"cart\")', \
                 checkout: 'page.url contains \"/checkout\"', time: time_on_page / 1s}}\n      \
                 weights: {{pages: 0.{i}, cart: 1.2, checkout: 2.0, time: -0.01}}\n      bias: -3.0\n      \
                 quantiles: [0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99]\n"
            ));
        }
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

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("predictors");
    for (name, with) in [("without", false), ("10 predictors", true)] {
        let sc = scenario(with);
        let evs = events(&sc);
        let opts = Options { responses: Responses::Recorded, ..Options::default() };
        group.throughput(Throughput::Elements(evs.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut it = evs.iter().cloned().map(|e| (0u64, Ok(e)));
                let mut out = Collect::new(&sc);
                black_box(replay(&sc, &mut it, &opts, &mut out).expect("valid events"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
