//! An event evaluates only the segments, outcomes and triggers whose inputs it
//! changed (issue #6, item 4; `src/engine/changes.rs`). That must never change a
//! decision: each run here is made twice, skipping and evaluating every open
//! condition at every event, and the two must agree decision for decision and
//! in every published availability figure. In the test build (debug
//! assertions) the engine also evaluates each condition it skips and stops if
//! one holds.

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
