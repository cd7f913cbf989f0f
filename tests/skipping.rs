//! An event evaluates only the segments, outcomes and triggers whose inputs it
//! changed (issue #6, item 4; `src/engine/changes.rs`). That must never change a
//! decision: each run here is made twice, skipping and evaluating every open
//! condition at every event, and the two must agree decision for decision and
//! in every published availability figure. In the test build (debug
//! assertions) the engine also evaluates each condition it skips and stops if
//! one holds. The same comparison runs on generated scenarios and journeys
//! (proptest), whose conditions read every kind of input the engine tracks
//! (dropping any one of the changes it notes makes that test fail).

use pesim::availability::Published;
use pesim::config::Scenario;
use pesim::config::model::WorkgroupId;
use pesim::engine::{Decision, DecisionKind, Responses};
use pesim::sim::{Options, Output};

#[path = "../examples/gen_bench_scenario.rs"]
#[allow(dead_code)]
mod gen_bench_scenario;

#[derive(Default)]
struct Record {
    decisions: Vec<Decision>,
    availability: Vec<(WorkgroupId, Published)>,
}

impl Output for Record {
    fn decision(&mut self, d: &Decision) {
        self.decisions.push(d.clone());
    }
    fn availability(&mut self, wg: WorkgroupId, p: &Published) {
        self.availability.push((wg, *p));
    }
}

fn simulate(sc: &Scenario, responses: Responses, evaluate_every_condition: bool) -> Record {
    let opts = Options { responses, evaluate_every_condition, ..Options::default() };
    let mut out = Record::default();
    pesim::sim::simulate(sc, &opts, &mut out, None).expect("the scenario has traffic");
    out
}

/// Both ways agree; returns how many decisions of each kind the run made, so that
/// a test can check the run exercised what it claims to.
fn agree(sc: &Scenario, responses: Responses) -> [usize; 4] {
    let skipping = simulate(sc, responses, false);
    let everything = simulate(sc, responses, true);
    assert_eq!(skipping.decisions.len(), everything.decisions.len());
    for (i, (a, b)) in skipping.decisions.iter().zip(&everything.decisions).enumerate() {
        assert_eq!(a, b, "decision {i} differs");
    }
    assert!(skipping.availability == everything.availability, "the availability published differs");
    let count = |f: fn(&DecisionKind) -> bool| skipping.decisions.iter().filter(|d| f(&d.kind)).count();
    [
        count(|k| matches!(k, DecisionKind::SegmentAssigned(_))),
        count(|k| matches!(k, DecisionKind::OutcomeAchieved(_))),
        count(|k| matches!(k, DecisionKind::Action { .. })),
        count(|k| matches!(k, DecisionKind::Blocked { .. })),
    ]
}

#[test]
fn the_benchmark_scenario_decides_the_same_with_and_without_skipping() {
    // 50 action maps and 30 segments over every kind of input: counters, pages,
    // visit context, the clock, customer-scope segments, segments of segments,
    // scores; about 6,000 events in 3 hours.
    let sc = gen_bench_scenario::load(300.0, 3);
    for responses in [Responses::Model, Responses::Recorded] {
        let [segments, outcomes, actions, blocked] = agree(&sc, responses);
        let made = (segments, outcomes, actions, blocked);
        assert!(segments > 500 && outcomes > 20 && actions > 300 && blocked > 50, "{made:?}");
    }
}

#[test]
fn the_bundled_scenarios_decide_the_same_with_and_without_skipping() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["shop", "insurer", "telco"] {
        let loaded = pesim::config::load_file(&root.join(format!("scenarios/{name}.yaml")));
        let sc = loaded.scenario.unwrap_or_else(|| panic!("scenarios/{name}.yaml loads"));
        let [segments, _, actions, _] = agree(&sc, Responses::Model);
        assert!(segments > 0 && actions > 0, "{name}: {segments} segments, {actions} actions");
    }
}

// ---------- generated scenarios and journeys ----------

mod generated {
    use pesim::clock::SimTime;
    use pesim::config::Scenario;
    use pesim::engine::{Decision, Engine, Responses, Sink, Timer};
    use proptest::prelude::*;

    /// Conditions over every kind of input the engine tracks changes of. `{s}` is
    /// replaced by an earlier segment's id (or dropped for the first segment).
    const CONDITIONS: &[&str] = &[
        "session.pageviews >= 2",
        "visitor.pageviews >= 4",
        "session.events >= 3",
        r#"page.url contains "/cart""#,
        r#"page.pathname starts_with "/p/""#,
        r#"page.url matches "/(cart|checkout)""#,
        r#"device.category == "mobile""#,
        r#"geo.country in ["IE", "GB"]"#,
        "count(click) >= 2",
        r#"count(page_viewed where page.pathname starts_with "/p/") >= 2"#,
        r#"count(click where attributes.target == "buy") >= 1"#,
        "visitor.count(buy) >= 1",
        "session.number >= 2",
        "visitor.sessions >= 3",
        "now.hour >= 11",
        r#"now.weekday == "tue""#,
        "session.duration >= 90s",
        "time_on_page >= 40s",
        "authenticated",
        r#"traits.tier == "gold""#,
        "attributes.value > 50",
        r#"event.name == "buy""#,
        r#"outcome("bought").achieved"#,
        r#"outcome("bought").probability > 0.3"#,
        "{s}",
        "not {s}",
    ];

    /// Two conditions of the list, joined by `and` (true) or `or`, and which earlier segment `{s}` names.
    type Choice = (usize, usize, bool, usize);

    fn condition(choice: Choice, earlier: &[String]) -> String {
        let (a, b, and, pick) = choice;
        let one = |i: usize| {
            let c = CONDITIONS[i % CONDITIONS.len()];
            match earlier.get(pick % earlier.len().max(1)) {
                Some(s) => c.replace("{s}", &format!("segment(\"{s}\")")),
                None => c.replace("{s}", "session.events >= 1"),
            }
        };
        let op = if and { "and" } else { "or" };
        if a == b { one(a) } else { format!("({}) {op} ({})", one(a), one(b)) }
    }

    /// Segments (each with whether it is customer-scope, expiring after a day) and triggers.
    fn scenario(segments: &[(Choice, bool)], maps: &[Choice]) -> String {
        let mut ids: Vec<String> = Vec::new();
        let mut yaml = String::from(
            "name: generated\nstart: 2026-03-02T10:00:00Z\nsettings: {session_timeout: 5m}\n\
             outcomes:\n  - id: bought\n    achieved_when: event.name == \"buy\"\n    predictor:\n      \
             features: {views: session.pageviews, cart: page.url contains \"/cart\"}\n      \
             weights: {views: 0.4, cart: 1.5}\n      bias: -2.0\nsegments:\n",
        );
        for (i, (c, customer)) in segments.iter().enumerate() {
            let when = condition(*c, &ids);
            let scope = if *customer { "\n    scope: customer\n    expires_after_days: 1" } else { "" };
            yaml += &format!("  - id: s{i}{scope}\n    when: '{when}'\n");
            ids.push(format!("s{i}"));
        }
        yaml += "action_maps:\n";
        for (i, c) in maps.iter().enumerate() {
            let trigger = condition(*c, &ids);
            yaml += &format!("  - id: m{i}\n    trigger: '{trigger}'\n    action: {{type: content_offer}}\n");
        }
        yaml
    }

    /// One event: (visitor, seconds after the previous event, kind, page, extra).
    fn line(t: i64, visitor: usize, kind: usize, page: usize, extra: usize) -> String {
        let start = SimTime::from_timestamp("2026-03-02T10:00:00Z".parse().unwrap());
        let time = jiff::Timestamp::from_millisecond(start.0 + t * 1000).unwrap();
        let pages = ["/", "/p/1", "/p/2", "/cart", "/checkout", "/help"];
        let (device, country) = [("mobile", "IE"), ("desktop", "US"), ("mobile", "GB")][extra % 3];
        let common = format!(
            r#""createdDate":"{time}","customerCookieId":"v{visitor}","device":{{"category":"{device}"}},"geolocation":{{"country":"{country}"}}"#
        );
        match kind % 5 {
            0 | 1 => format!(
                r#"{{{common},"eventName":"page_viewed","page":{{"url":"https://x.example{}"}}}}"#,
                pages[page % pages.len()]
            ),
            2 => format!(
                r#"{{{common},"eventName":"click","attributes":{{"target":"{}","value":{}}}}}"#,
                ["buy", "more"][extra % 2],
                extra * 13 % 100
            ),
            3 => format!(
                r#"{{{common},"eventName":"login","authenticated":{},"traits":{{"tier":"{}"}}}}"#,
                extra % 2 == 0,
                ["gold", "silver"][extra % 2]
            ),
            _ => format!(r#"{{{common},"eventName":"buy"}}"#),
        }
    }

    #[derive(Default)]
    struct Record(Vec<Decision>);
    impl Sink for Record {
        fn decision(&mut self, d: Decision) {
            self.0.push(d);
        }
        fn schedule(&mut self, _: SimTime, _: Timer) {}
    }

    fn decide(sc: &Scenario, lines: &[String], every: bool) -> Vec<Decision> {
        let mut engine = Engine::new(sc, Responses::Recorded, 7);
        if every {
            engine.evaluate_every_condition();
        }
        let cc = pesim::availability::ContactCenter::new(sc, &[]);
        let mut out = Record::default();
        for (i, l) in lines.iter().enumerate() {
            let ev = pesim::events::parse_line(sc, l, i as u64 + 1).expect("generated lines are valid");
            engine.on_event(&ev, &cc, &mut out).expect("no responses in these journeys");
        }
        out.0
    }

    fn choice() -> impl Strategy<Value = Choice> {
        (0..CONDITIONS.len(), 0..CONDITIONS.len(), any::<bool>(), 0usize..8)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Random segments (some customer-scope and expiring), triggers and journeys of
        /// three visitors over two days, with gaps both within a session and past its
        /// timeout: skipping decides exactly as evaluating everything.
        #[test]
        fn skipping_decides_as_evaluating_everything(
            segments in proptest::collection::vec((choice(), any::<bool>()), 1..8),
            maps in proptest::collection::vec(choice(), 1..5),
            steps in proptest::collection::vec(
                (0usize..3, prop_oneof![1i64..60, 60i64..400, 3_000i64..90_000], 0usize..5, 0usize..6, 0usize..6),
                1..60,
            ),
        ) {
            let yaml = scenario(&segments, &maps);
            let loaded = pesim::config::load_str("generated.yaml", &yaml);
            let sc = loaded.scenario.unwrap_or_else(|| panic!("{yaml}\n{:#?}", loaded.diagnostics));
            let mut t = 0;
            let lines: Vec<String> = steps
                .iter()
                .map(|&(visitor, gap, kind, page, extra)| {
                    t += gap;
                    line(t, visitor, kind, page, extra)
                })
                .collect();
            let skipping = decide(&sc, &lines, false);
            let everything = decide(&sc, &lines, true);
            prop_assert_eq!(skipping, everything, "{}", yaml);
        }
    }
}
