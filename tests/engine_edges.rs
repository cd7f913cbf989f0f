//! Edge cases of the decision engine (SPEC §2, §6, §8), pinned by the small
//! scenarios of `tests/engine/*.yaml`: every case of every file must pass, and
//! `pesim test tests/engine` must say so too. Some edges need more than a case
//! can say (a tie broken at random, the age and EWT of the snapshot an offer
//! saw): those are checked here on the decisions of named cases.
//!
//! Set `PESIM_EDGES_DUMP=1` (with `--nocapture`) to print every case's decisions.

use std::path::{Path, PathBuf};
use std::process::Command;

use pesim::cases::{CaseResult, run_case};
use pesim::config::model::{ActionState, BlockingReason, Millis};
use pesim::config::{Loaded, Scenario, load_file, load_str};
use pesim::diag::Severity;
use pesim::engine::{Decision, DecisionKind, Seen};

fn engine_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("engine")
}

/// Every `tests/engine/*.yaml`, sorted.
fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(engine_dir())
        .expect("tests/engine exists")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario in tests/engine");
    files
}

fn errors(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .list
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{} ({:?})", d.message, d.location))
        .collect()
}

/// Loads a scenario that must have no error.
fn load(path: &Path) -> Scenario {
    let loaded = load_file(path);
    let errs = errors(&loaded);
    assert!(errs.is_empty(), "{} does not load:\n{}", path.display(), errs.join("\n"));
    loaded.scenario.unwrap_or_else(|| panic!("{} gave no scenario", path.display()))
}

fn load_named(file: &str) -> Scenario {
    load(&engine_dir().join(file))
}

/// The decisions of a case, one line each, relative to the case's origin.
fn describe(sc: &Scenario, r: &CaseResult) -> String {
    let mut text = String::new();
    for d in &r.decisions {
        text.push_str(&format!("  {} [session {}]\n", d.describe(sc, Some(r.origin)), d.session));
    }
    text
}

fn report(sc: &Scenario, r: &CaseResult) -> String {
    let mut text = format!("case `{}` of {}:\n", r.name, sc.name);
    if let Some(e) = &r.error {
        text.push_str(&format!("  stopped: {e}\n"));
    }
    for (i, why) in &r.failures {
        text.push_str(&format!("  expectation #{i}: {why}\n"));
    }
    text.push_str("decisions:\n");
    text.push_str(&describe(sc, r));
    text
}

/// Runs the case named `name` of `sc`; it must pass.
fn run_named(sc: &Scenario, name: &str) -> CaseResult {
    let case = sc.cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case `{name}` in {}", sc.name));
    let r = run_case(sc, case);
    assert!(r.passed(), "{}", report(sc, &r));
    r
}

fn map_id(sc: &Scenario, d: &Decision) -> Option<String> {
    match &d.kind {
        DecisionKind::Action { map, .. } | DecisionKind::Blocked { map, .. } => Some(sc.action_map(*map).id.clone()),
        _ => None,
    }
}

/// The decisions of action map `map` at `at` after the case origin.
fn at<'r>(sc: &Scenario, r: &'r CaseResult, map: &str, at: Millis) -> Vec<&'r Decision> {
    let t = r.origin.plus(at);
    r.decisions.iter().filter(|d| d.time == t && map_id(sc, d).as_deref() == Some(map)).collect()
}

/// What the `offered` decision of `map` saw of availability.
fn seen_by_offer(sc: &Scenario, r: &CaseResult, map: &str) -> Seen {
    let seen: Vec<Seen> = r
        .decisions
        .iter()
        .filter(|d| map_id(sc, d).as_deref() == Some(map))
        .filter_map(|d| match &d.kind {
            DecisionKind::Action { state: ActionState::Offered, seen, .. } => Some(seen.expect("a paced offer")),
            _ => None,
        })
        .collect();
    assert_eq!(seen.len(), 1, "one offer of {map} expected:\n{}", report(sc, r));
    seen[0]
}

fn ms(s: &str) -> Millis {
    Millis(pesim::dsl::parser::parse_duration_ms(s).expect("a valid duration"))
}

#[test]
fn every_scenario_loads_and_every_case_passes() {
    let dump = std::env::var_os("PESIM_EDGES_DUMP").is_some();
    let mut failed = Vec::new();
    let mut total = 0;
    for path in scenario_files() {
        let sc = load(&path);
        assert!(!sc.cases.is_empty(), "{} has no cases", path.display());
        for case in &sc.cases {
            total += 1;
            let r = run_case(&sc, case);
            if dump {
                println!("{}", report(&sc, &r));
            }
            if !r.passed() {
                failed.push(report(&sc, &r));
            }
        }
    }
    assert!(failed.is_empty(), "{} of {total} cases failed:\n{}", failed.len(), failed.join("\n"));
}

/// SPEC §6: decision records are written in simulated-time order.
#[test]
fn decisions_come_in_time_order() {
    for path in scenario_files() {
        let sc = load(&path);
        for case in &sc.cases {
            let r = run_case(&sc, case);
            let sorted = r.decisions.windows(2).all(|w| w[0].time <= w[1].time);
            assert!(sorted, "decisions out of time order in {}", report(&sc, &r));
        }
    }
}

#[test]
fn pesim_test_runs_every_case_of_the_folder() {
    let total: usize = scenario_files().iter().map(|p| load(p).cases.len()).sum();
    let out = Command::new(env!("CARGO_BIN_EXE_pesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["test", "tests/engine"])
        .output()
        .expect("the pesim binary runs");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(last, format!("{total} passed, 0 failed"), "pesim test said:\n{stdout}");
    assert!(out.status.success(), "pesim test failed:\n{stdout}");
}

// ---------- sessions (SPEC §6 step 1) ----------

/// The session number of every decision of a case at `offset`.
fn sessions_at(r: &CaseResult, offset: Millis) -> Vec<u32> {
    let t = r.origin.plus(offset);
    r.decisions.iter().filter(|d| d.time == t).map(|d| d.session).collect()
}

#[test]
fn session_boundary_is_exactly_the_timeout() {
    let sc = load_named("sessions.yaml");
    let r = run_named(&sc, "an event at exactly last + timeout starts a new session");
    let s = sessions_at(&r, ms("11m"));
    assert!(!s.is_empty() && s.iter().all(|n| *n == 2), "{}", report(&sc, &r));

    let r = run_named(&sc, "an event a millisecond before the timeout stays in the session");
    // Nothing is decided at 10m59.999s (no segment is re-assigned); at 20m59.999s
    // everything is in session 2.
    assert!(sessions_at(&r, ms("10m59s999ms")).iter().all(|n| *n == 1), "{}", report(&sc, &r));
    let s = sessions_at(&r, ms("20m59s999ms"));
    assert!(!s.is_empty() && s.iter().all(|n| *n == 2), "{}", report(&sc, &r));

    let r = run_named(&sc, "an offer open when an event at exactly the timeout starts a new session is ignored");
    let states: Vec<(ActionState, u32)> = at(&sc, &r, "help_chat", ms("11m"))
        .iter()
        .filter_map(|d| match d.kind {
            DecisionKind::Action { state, .. } => Some((state, d.session)),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [(ActionState::Ignored, 1), (ActionState::Qualified, 2), (ActionState::Offered, 2)],
        "the old offer is ignored in session 1 before session 2 qualifies the map again:\n{}",
        report(&sc, &r)
    );
}

#[test]
fn next_session_offer_is_in_the_next_session() {
    let sc = load_named("activation.yaml");
    let r = run_named(&sc, "next_session is due at the first event of the next session");
    let offered = at(&sc, &r, "next_visit_chat", ms("40m"));
    assert_eq!(offered.len(), 1, "{}", report(&sc, &r));
    assert_eq!(offered[0].session, 2);
    let qualified = at(&sc, &r, "next_visit_chat", ms("10s"));
    assert_eq!(qualified.len(), 1);
    assert_eq!(qualified[0].session, 1);
}

// ---------- ties (SPEC §6 step 7) ----------

const TIES: &str = "ties.yaml";
const TIE_CASE: &str = "two chats of equal weight due at once";

/// The ties scenario with its `seed:` replaced.
fn ties_with_seed(seed: u64) -> Scenario {
    let text = std::fs::read_to_string(engine_dir().join(TIES)).expect("ties.yaml is readable");
    assert!(text.contains("\nseed: 1\n"), "ties.yaml must keep its `seed: 1` line");
    let text = text.replace("\nseed: 1\n", &format!("\nseed: {seed}\n"));
    let loaded = load_str(&format!("{TIES} (seed {seed})"), &text);
    let errs = errors(&loaded);
    assert!(errs.is_empty(), "{TIES} with seed {seed} does not load:\n{}", errs.join("\n"));
    let sc = loaded.scenario.expect("a scenario");
    assert_eq!(sc.seed, seed);
    sc
}

/// Which of the two tied maps was offered; the other must be blocked
/// MultipleSimultaneousOffers at the same moment.
fn tie_winner(sc: &Scenario, r: &CaseResult) -> String {
    let t = ms("10s");
    let offered: Vec<String> = at(sc, r, "tie_left", t)
        .into_iter()
        .chain(at(sc, r, "tie_right", t))
        .filter(|d| matches!(d.kind, DecisionKind::Action { state: ActionState::Offered, .. }))
        .filter_map(|d| map_id(sc, d))
        .collect();
    assert_eq!(offered.len(), 1, "exactly one of the tied maps is offered:\n{}", report(sc, r));
    let loser = if offered[0] == "tie_left" { "tie_right" } else { "tie_left" };
    let blocked = at(sc, r, loser, t)
        .iter()
        .any(|d| matches!(d.kind, DecisionKind::Blocked { reason: BlockingReason::MultipleSimultaneousOffers, .. }));
    assert!(blocked, "the loser {loser} is blocked MultipleSimultaneousOffers:\n{}", report(sc, r));
    offered[0].clone()
}

#[test]
fn ties_are_broken_at_random_and_by_the_seed() {
    let seeds = 0..200u64;
    let mut left = 0;
    for seed in seeds.clone() {
        let sc = ties_with_seed(seed);
        let first = run_named(&sc, TIE_CASE);
        let winner = tie_winner(&sc, &first);
        if winner == "tie_left" {
            left += 1;
        }
        // The same seed gives the same winner, and the same decisions.
        let again = run_named(&sc, TIE_CASE);
        assert_eq!(tie_winner(&sc, &again), winner, "seed {seed}");
        assert_eq!(first.decisions, again.decisions, "seed {seed}");
        let reloaded = ties_with_seed(seed);
        assert_eq!(tie_winner(&reloaded, &run_named(&reloaded, TIE_CASE)), winner, "seed {seed}, reloaded");
    }
    let n = seeds.count();
    // Uniform: each wins about half the time (200 fair draws fall in [70, 130]
    // with probability > 0.9999).
    assert!((70..=130).contains(&left), "tie_left won {left} of {n} ties");
}

#[test]
fn the_heaviest_map_wins_for_every_seed() {
    for seed in 0..50u64 {
        let sc = ties_with_seed(seed);
        run_named(&sc, "the heaviest chat wins whatever the seed");
    }
}

/// SPEC §8: "Cases of one file are independent of each other (fresh state,
/// seed derived from the case name)": the same journey under other case names
/// should break the tie both ways.
#[test]
fn tie_breaks_depend_on_the_case_name() {
    let sc = load_named(TIES);
    let case = sc.cases.iter().find(|c| c.name == TIE_CASE).expect("the tie case");
    let mut winners = std::collections::BTreeSet::new();
    for i in 0..64 {
        let mut renamed = case.clone();
        renamed.name = format!("{TIE_CASE} #{i}");
        let r = run_case(&sc, &renamed);
        assert!(r.passed(), "{}", report(&sc, &r));
        winners.insert(tie_winner(&sc, &r));
    }
    assert_eq!(winners.len(), 2, "64 case names under one seed all gave the tie to {winners:?}");
}

// ---------- availability as published (SPEC §6 step 10) ----------

#[test]
fn pacing_rate_below_the_floor_is_raised_to_3000() {
    let sc = load_named("availability_pacing_floor.yaml");
    assert_eq!(sc.pureconnect.pacing_rate, Millis(3000));
    let warned = load_file(&engine_dir().join("availability_pacing_floor.yaml"))
        .diagnostics
        .list
        .iter()
        .any(|d| d.severity == Severity::Warning && d.message.contains("3000"));
    assert!(warned, "pacing_rate_ms 1000 warns that 3000 is used");
    // Updates at 0 s, 3 s, 6 s: at 4.5 s the snapshot is 1.5 s old (0.5 s at 1000 ms).
    let r = run_named(&sc, "an offer at 4.5 s sees the snapshot of 3 s");
    assert_eq!(seen_by_offer(&sc, &r, "chat"), Seen { ewt: Millis(0), age: Millis(1500) });
    let r = run_named(&sc, "an offer at 2.5 s sees the snapshot of the clock start");
    assert_eq!(seen_by_offer(&sc, &r, "chat"), Seen { ewt: Millis(0), age: Millis(2500) });
    let r = run_named(&sc, "the last snapshot before logout is usable for 9 s");
    assert_eq!(seen_by_offer(&sc, &r, "lunch_chat").age, Millis(9000));
}

#[test]
fn a_decision_between_updates_sees_the_old_ewt() {
    let sc = load_named("availability_stale.yaml");
    let r = run_named(&sc, "an offer 4.95 s after an update sees the old EWT");
    // The 5 s update: one agent free, no wait, though the agent is busy since 5.05 s.
    assert_eq!(seen_by_offer(&sc, &r, "second_messaging"), Seen { ewt: Millis(0), age: Millis(4950) });
    // As decisions.jsonl writes it.
    let offer = at(&sc, &r, "second_messaging", ms("9950ms"))
        .into_iter()
        .find(|d| matches!(d.kind, DecisionKind::Action { state: ActionState::Offered, .. }))
        .expect("the offer");
    let mut line = Vec::new();
    offer.write_json(&sc, &mut line).expect("writing to a Vec");
    let json: serde_json::Value = serde_json::from_slice(&line).expect("one JSON object");
    assert_eq!(json["ewtSeconds"], 0.0, "{json}");
    assert_eq!(json["availabilityAgeMs"], 4950, "{json}");
    assert_eq!(json["actionTarget"], "solo", "{json}");
    let r = run_named(&sc, "a snapshot exactly 3 intervals old is still used");
    assert_eq!(seen_by_offer(&sc, &r, "late_chat").age, Millis(15_000));
}

/// The same as the stale-EWT case, with the second offer made to another
/// visitor: availability is shared, and just as stale.
#[test]
fn another_visitor_sees_the_same_stale_snapshot() {
    use pesim::availability::Published;
    use pesim::config::model::WorkgroupId;
    use pesim::engine::Responses;
    use pesim::events::{EventKind, LineError};
    use pesim::sim::{OnInvalid, Options, Output, replay_from};

    struct Collect(Vec<Decision>, Vec<(WorkgroupId, Published)>);
    impl Output for Collect {
        fn decision(&mut self, d: &Decision) {
            self.0.push(d.clone());
        }
        fn availability(&mut self, wg: WorkgroupId, p: &Published) {
            self.1.push((wg, *p));
        }
    }

    let sc = load_named("availability_stale.yaml");
    let case = sc.cases.iter().find(|c| c.name == "an offer 4.95 s after an update sees the old EWT").expect("case");
    let second = sc.interner.lookup("second");
    let mut events = pesim::cases::case_events(&sc, case);
    for ev in &mut events {
        if let EventKind::Track(t) = &ev.kind
            && t.name == second
        {
            ev.customer = "other-visitor".into();
        }
    }
    assert_eq!(events.iter().filter(|e| &*e.customer == "other-visitor").count(), 1);
    let origin = pesim::cases::origin(&sc);
    let opts = Options {
        responses: Responses::Recorded,
        on_invalid: OnInvalid::Stop,
        availability: Vec::new(),
        trace: None,
        seed: None,
        record_features: None,
        ..Options::default()
    };
    let mut out = Collect(Vec::new(), Vec::new());
    let mut iter = events.into_iter().map(|e| (e.line, Ok::<_, LineError>(e)));
    replay_from(&sc, Some(origin), &mut iter, &opts, &mut out).expect("the journey replays");

    let text: String = out.0.iter().map(|d| format!("  {} {}\n", d.customer, d.describe(&sc, Some(origin)))).collect();
    let offer = out
        .0
        .iter()
        .find(|d| {
            &*d.customer == "other-visitor"
                && matches!(d.kind, DecisionKind::Action { state: ActionState::Offered, .. })
        })
        .unwrap_or_else(|| panic!("the other visitor is offered the chat:\n{text}"));
    assert_eq!(offer.time, origin.plus(ms("9950ms")), "{text}");
    let DecisionKind::Action { seen, .. } = offer.kind else { unreachable!() };
    assert_eq!(seen, Some(Seen { ewt: Millis(0), age: Millis(4950) }), "{text}");
    // What was published: `solo` free at 5 s, busy (EWT = 1 × 10 min / 1) at 10 s.
    let solo = sc.workgroups.iter().position(|w| w.id == "solo").expect("solo") as u32;
    let at =
        |t: &str| out.1.iter().find(|(wg, p)| wg.0 == solo && p.time == origin.plus(ms(t))).map(|(_, p)| p.snapshot);
    let at5 = at("5s").expect("an update at 5 s");
    assert_eq!((at5.agents_available, at5.ewt), (1, Millis(0)));
    let at10 = at("10s").expect("an update at 10 s");
    assert_eq!((at10.agents_logged_in, at10.agents_available, at10.ewt), (1, 0, ms("10m")));
}

#[test]
fn updates_disabled_takes_the_cic_server_spellings() {
    let path = engine_dir().join("availability_updates_disabled.yaml");
    let text = std::fs::read_to_string(&path).expect("readable");
    let line = "updates_disabled: \"yes\"";
    assert!(text.contains(line));
    for spelling in ["\"1\"", "true", "\"yes\""] {
        let loaded =
            load_str(&path.display().to_string(), &text.replace(line, &format!("updates_disabled: {spelling}")));
        let errs = errors(&loaded);
        assert!(errs.is_empty(), "updates_disabled: {spelling}:\n{}", errs.join("\n"));
        let sc = loaded.scenario.expect("a scenario");
        assert!(sc.pureconnect.updates_disabled, "updates_disabled: {spelling}");
        for case in &sc.cases {
            let r = run_case(&sc, case);
            assert!(r.passed(), "updates_disabled: {spelling}: {}", report(&sc, &r));
        }
    }
    // And with updates enabled, the paced chat is offered.
    let loaded = load_str(&path.display().to_string(), &text.replace(line, "updates_disabled: \"no\""));
    let sc = loaded.scenario.expect("a scenario");
    let case = sc.cases.iter().find(|c| c.name == "with updates disabled pacing chats find no agents").expect("case");
    let r = run_case(&sc, case);
    assert!(!r.passed(), "with updates enabled the paced chat is offered:\n{}", report(&sc, &r));
    assert!(
        r.decisions.iter().any(|d| map_id(&sc, d).as_deref() == Some("paced_chat")
            && matches!(d.kind, DecisionKind::Action { state: ActionState::Offered, .. })),
        "{}",
        report(&sc, &r)
    );
}

// ---------- engine bugs found by these edges, fixed; kept as regressions ----------

fn known_bug(file: &str, case: &str) {
    let sc = load(&engine_dir().join(file));
    run_named(&sc, case);
}

#[test]
fn known_bug_scenarios_load() {
    for file in ["same_instant_offers.yaml", "chat_sessions.yaml"] {
        let sc = load(&engine_dir().join(file));
        assert!(!sc.cases.is_empty());
    }
}

#[test]
fn same_instant_second_event_is_a_simultaneous_offer() {
    known_bug("same_instant_offers.yaml", "a second event at the same instant does not open a second chat offer");
}

#[test]
fn delay_due_at_another_offer_is_a_simultaneous_offer() {
    known_bug("same_instant_offers.yaml", "a delay due at the instant of another chat offer is a simultaneous offer");
}

#[test]
fn a_chat_does_not_keep_the_session_open() {
    known_bug("chat_sessions.yaml", "a chat with an agent does not keep the session open");
}

#[test]
fn a_long_chat_outlives_its_session() {
    known_bug("chat_sessions.yaml", "a long chat outlives its session");
}
