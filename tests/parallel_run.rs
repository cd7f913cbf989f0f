//! One run of dense traffic on 1, 2 and 4 threads: the shards of each pacing
//! interval run on the pool, and every output is identical, line for line.

use std::fmt::Write as _;

use pesim::availability::Published;
use pesim::config::model::{Millis, WorkgroupId};
use pesim::engine::{Decision, SessionEnd};
use pesim::sim::{Options, Output, Stats};

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
    fn event(&mut self, event: &pesim::events::Event) {
        let _ = writeln!(self.0, "event {} {} {:?}", event.time.0, event.customer, event.line);
    }
}

fn run(name: &str, threads: usize) -> (String, Stats) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sc = pesim::config::load_file(&root.join(format!("scenarios/{name}.yaml")))
        .scenario
        .expect("the bundled scenario loads");
    // Dense enough that most pacing intervals hold many events.
    let traffic = sc.traffic.as_mut().expect("the bundled scenarios have traffic");
    traffic.per_hour *= 30.0;
    sc.duration = Millis(80 * 60 * 1000);
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
