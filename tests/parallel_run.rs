//! One run of dense traffic on 1, 2 and 4 threads: the shards of each pacing
//! interval run on the pool, and every output is identical, line for line.

use std::fmt::Write as _;

use pesim::availability::Published;
use pesim::config::model::{ActionMapId, Millis, ResponseState, WorkgroupId};
use pesim::engine::{Decision, SessionEnd};
use pesim::events::{Event, EventKind, LineError};
use pesim::sim::{OnInvalid, Options, Output, Stats};

/// Everything a run reports, as text, in the order it was reported.
#[derive(Default)]
struct Transcript(String);

impl Output for Transcript {
    fn decision(&mut self, d: &Decision) {
        let _ = writeln!(self.0, "{d:?}");
    }
    fn availability(&mut self, wg: WorkgroupId, p: &Published) {
        let _ = writeln!(self.0, "{wg:?} {p:?}");
    }
    fn session_ended(&mut self, end: &SessionEnd) {
        let _ = writeln!(self.0, "{end:?}");
    }
    fn event(&mut self, event: &Event) {
        let _ = writeln!(self.0, "event {} {} {:?}", event.time.0, event.customer, event.line);
    }
    fn rejected(&mut self, line: u64, error: &LineError) {
        let _ = writeln!(self.0, "rejected {line}: {error}");
    }
}

/// A bundled scenario with its traffic dense enough that most pacing intervals
/// hold many events.
fn dense(name: &str) -> pesim::config::Scenario {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sc = pesim::config::load_file(&root.join(format!("scenarios/{name}.yaml")))
        .scenario
        .expect("the bundled scenario loads");
    let traffic = sc.traffic.as_mut().expect("the bundled scenarios have traffic");
    traffic.per_hour *= 30.0;
    sc.duration = Millis(80 * 60 * 1000);
    sc
}

fn run(name: &str, threads: usize) -> (String, Stats) {
    let sc = dense(name);
    let mut out = Transcript::default();
    let opts = Options { threads, ..Options::default() };
    let stats = pesim::sim::simulate(&sc, &opts, &mut out, None).expect("the scenario has traffic");
    (out.0, stats)
}

#[test]
fn dense_runs_are_identical_on_any_number_of_threads() {
    for name in ["shop", "insurer", "telco"] {
        let (one, stats) = run(name, 1);
        assert!(
            stats.large_batches * 2 > stats.batches,
            "{name}: {} of {} batches are large enough for the pool",
            stats.large_batches,
            stats.batches
        );
        assert!(one.contains("Started"), "{name}: some chats reach the contact center");
        for threads in [2, 4] {
            let (many, many_stats) = run(name, threads);
            assert_eq!(many_stats, stats, "{name} on {threads} threads");
            if many != one {
                let line = one.lines().zip(many.lines()).position(|(a, b)| a != b);
                panic!("{name}: {threads} threads differ from 1, first at line {line:?}");
            }
        }
    }
}

/// A replay of dense traffic with answers no offer awaits, on 1 and 4 threads:
/// skipped, the same lines are rejected and the rest is identical; not skipped,
/// the replay stops at the first of them, having written the same lines.
#[test]
fn refused_answers_stop_or_are_skipped_alike_on_any_number_of_threads() {
    let sc = dense("shop");
    let mut events = Vec::new();
    pesim::sim::simulate(
        &sc,
        &Options::default(),
        &mut Transcript::default(),
        Some(&mut |ev: &Event| events.push(ev.clone())),
    )
    .expect("the scenario has traffic");
    // Answers from a visitor who was never offered anything, in the middle of busy intervals.
    let stray = |at: &Event| Event {
        time: at.time,
        customer: "nobody".into(),
        kind: EventKind::Response { action_map: ActionMapId(0), state: ResponseState::Accepted },
        line: 0,
    };
    let mut input = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        input.push(ev.clone());
        if i > 0 && i % 20_000 == 0 {
            input.push(stray(ev));
        }
    }
    for (n, ev) in input.iter_mut().enumerate() {
        ev.line = n as u64 + 1;
    }
    let replay = |threads: usize, on_invalid: OnInvalid| {
        let mut out = Transcript::default();
        let opts = Options { threads, on_invalid, ..Options::default() };
        let mut iter = input.iter().map(|e| (e.line, Ok::<_, LineError>(e.clone())));
        let result = pesim::sim::replay(&sc, &mut iter, &opts, &mut out);
        (out.0, result)
    };
    let (one, stats) = replay(1, OnInvalid::Skip);
    let stats = stats.expect("skipped lines do not stop the replay");
    let strays = input.iter().filter(|e| &*e.customer == "nobody").count() as u64;
    assert!(strays >= 3, "{strays} stray answers");
    assert_eq!(stats.rejected, strays);
    assert!(stats.large_batches * 2 > stats.batches, "{} of {} batches large", stats.large_batches, stats.batches);
    let (four, four_stats) = replay(4, OnInvalid::Skip);
    assert_eq!(four_stats.expect("skipped"), stats);
    assert!(four == one, "4 threads differ from 1 with --skip-invalid");

    let (one, stop) = replay(1, OnInvalid::Stop);
    let stop = stop.expect_err("a stray answer stops the replay");
    let first = input.iter().find(|e| &*e.customer == "nobody").map(|e| e.line);
    assert_eq!(Some(stop.line), first);
    let (four, four_stop) = replay(4, OnInvalid::Stop);
    assert_eq!(four_stop.expect_err("stops"), stop);
    assert!(four == one, "4 threads differ from 1 when the replay stops");
}
