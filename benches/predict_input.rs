//! The predictor benchmark's input, shared by `benches/predict.rs` and
//! `examples/predict_rate.rs`: a scenario with 10 outcomes, with or without
//! predictors, and 10,000 pageviews.

use std::hint::black_box;
use std::time::Instant;

use pesim::config::{Scenario, load_str};
use pesim::dsl::context::{Context, CountSlot, DynValue, OutcomeId, ScoreMetric, SegmentId, Sym};
use pesim::dsl::fields::{BoolField, DurField, NumField, StrField};
use pesim::engine::Responses;
use pesim::engine::scorer::{Scorer, Scratch};
use pesim::engine::state::LogitPair;
use pesim::events::{Event, EventKind, Page, TrackEvent};
use pesim::report::Collect;
use pesim::sim::{Options, Stats, replay};

/// Which predictors the scenario has.
#[derive(Clone, Copy, PartialEq)]
pub enum Predictors {
    None,
    /// The same four feature expressions in every predictor (weights differ).
    Shared,
    /// Four feature expressions of each predictor's own (40 in all).
    Distinct,
}

pub fn scenario(predictors: Predictors) -> Scenario {
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
pub fn events(sc: &Scenario) -> Vec<Event> {
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

/// One replay of `evs` through `sc`, recorded responses, tallied only.
pub fn replay_once(sc: &Scenario, evs: &[Event]) -> Stats {
    let opts = Options { responses: Responses::Recorded, ..Options::default() };
    let mut it = evs.iter().cloned().map(|e| (0u64, Ok(e)));
    let mut out = Collect::new(sc);
    let stats = replay(sc, &mut it, &opts, &mut out).expect("valid events");
    black_box(&out.tally);
    stats
}

/// Each variant's scenario and events.
pub fn inputs(variants: &[Predictors]) -> Vec<(Scenario, Vec<Event>)> {
    variants
        .iter()
        .map(|p| {
            let sc = scenario(*p);
            let evs = events(&sc);
            (sc, evs)
        })
        .collect()
}

/// The fastest of `runs` replays of each input, in seconds, the inputs taking
/// turns so that a change in the machine's speed affects them alike.
pub fn fastest_interleaved(inputs: &[(Scenario, Vec<Event>)], runs: usize) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; inputs.len()];
    for _ in 0..runs {
        for (k, (sc, evs)) in inputs.iter().enumerate() {
            let started = Instant::now();
            black_box(replay_once(sc, evs));
            best[k] = best[k].min(started.elapsed().as_secs_f64());
        }
    }
    best
}

/// What the scorer reads of one of `events`' pageviews, held in plain fields:
/// for timing the scorer alone, without the engine around it.
pub struct ScorerInput {
    visitor: usize,
    url: &'static str,
    pageviews: u32,
    cart: bool,
}

impl Context for ScorerInput {
    fn str_field(&self, field: StrField) -> Option<&str> {
        (field == StrField::PageUrl).then_some(self.url)
    }
    fn num_field(&self, field: NumField) -> Option<f64> {
        match field {
            NumField::SessionPageviews | NumField::SessionEvents => Some(f64::from(self.pageviews)),
            _ => None,
        }
    }
    fn dur_field(&self, field: DurField) -> Option<i64> {
        // A pageview starts its page: no time on it yet, as in the engine.
        (field == DurField::TimeOnPage).then_some(0)
    }
    fn bool_field(&self, _: BoolField) -> Option<bool> {
        None
    }
    fn event_name(&self) -> Sym {
        Sym::UNKNOWN
    }
    fn attribute(&self, _: Sym) -> Option<&DynValue> {
        None
    }
    fn trait_value(&self, _: Sym) -> Option<&DynValue> {
        None
    }
    fn segment(&self, _: SegmentId) -> bool {
        self.cart
    }
    fn outcome_achieved(&self, _: OutcomeId) -> bool {
        false
    }
    fn outcome_score(&self, _: OutcomeId, _: ScoreMetric) -> Option<f64> {
        None
    }
    fn count(&self, _: CountSlot) -> u32 {
        0
    }
}

/// The scorer's view of `events`: the same visitors, URLs, counts and cart
/// segment (assigned from a visitor's first cart page on), in the same order.
pub fn scorer_inputs() -> Vec<ScorerInput> {
    const URLS: [&str; 4] =
        ["https://x.example/", "https://x.example/p/1", "https://x.example/cart", "https://x.example/checkout"];
    let mut cart = [false; 100];
    let mut out = Vec::new();
    for step in 0..100usize {
        for (v, cart) in cart.iter_mut().enumerate() {
            let url = URLS[(v + step) % 4];
            *cart |= url.ends_with("/cart");
            out.push(ScorerInput { visitor: v, url, pageviews: step as u32 + 1, cart: *cart });
        }
    }
    out
}

/// Every event's features and predictor updates, each visitor with its own
/// scores, as the engine's step 5 does them.
pub fn score_all(scorer: &Scorer, inputs: &[ScorerInput], scratch: &mut Scratch, scores: &mut [Vec<LogitPair>]) {
    for input in inputs {
        scorer.features(input, scratch);
        scorer.update(scratch, &mut scores[input.visitor]);
    }
    black_box(&scores);
}
