//! `pesim run` and `pesim generate` as a user runs them: deterministic for a
//! seed whatever the thread count, generate → replay reproduces run, and the
//! generator's numbers match what the scenario specifies.

use std::path::{Path, PathBuf};
use std::process::Command;

use pesim::config::load_file;
use pesim::report::Collect;
use pesim::sim::{Options, simulate};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pesim-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn pesim(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("pesim runs");
    assert!(out.status.success(), "pesim {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

#[test]
fn run_is_byte_identical_for_any_thread_count() {
    let (a, b, c) = (temp("t1"), temp("t2"), temp("t1-again"));
    pesim(&["run", "scenarios/shop.yaml", "--quiet", "--threads", "1", "--out", a.to_str().unwrap()]);
    pesim(&["run", "scenarios/shop.yaml", "--quiet", "--threads", "2", "--out", b.to_str().unwrap()]);
    pesim(&["run", "scenarios/shop.yaml", "--quiet", "--threads", "1", "--out", c.to_str().unwrap()]);
    for file in ["decisions.jsonl", "availability.jsonl", "summary.json"] {
        assert!(read(&a, file) == read(&b, file), "{file}: --threads 1 and 2 differ");
        assert!(read(&a, file) == read(&c, file), "{file}: two runs differ");
    }
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn generate_then_replay_equals_run() {
    let (run, replay) = (temp("gen-run"), temp("gen-replay"));
    let events = temp("gen-events.jsonl");
    pesim(&["run", "scenarios/shop.yaml", "--quiet", "--seed", "5", "--out", run.to_str().unwrap()]);
    pesim(&["generate", "scenarios/shop.yaml", "--seed", "5", "--out", events.to_str().unwrap()]);
    // Replay reads the scenario's own seed: give it the same one through a copy.
    // (in a temp folder, its include made absolute, so no other test sees the copy).
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let scenario = std::fs::read_to_string(scenarios.join("shop.yaml"))
        .unwrap()
        .replace("seed: 42", "seed: 5")
        .replace("include: [common/", &format!("include: [{}/common/", scenarios.display()));
    let copy = temp("seed5-shop.yaml");
    std::fs::write(&copy, scenario).unwrap();
    pesim(&[
        "replay",
        copy.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--quiet",
        "--out",
        replay.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&copy);
    for file in ["decisions.jsonl", "availability.jsonl"] {
        assert!(read(&run, file) == read(&replay, file), "{file}: replay of generate differs from run");
    }
    let lines = std::fs::read_to_string(&events).unwrap().lines().count();
    assert!(lines > 10_000, "a full day of shop traffic, got {lines} events");
    for d in [run, replay] {
        let _ = std::fs::remove_dir_all(d);
    }
    let _ = std::fs::remove_file(events);
}

#[test]
fn shop_summary_at_a_fixed_seed() {
    let dir = temp("summary");
    let out = pesim(&["run", "scenarios/shop.yaml", "--out", dir.to_str().unwrap()]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("cart_help"), "the table lists the action maps:\n{table}");
    let summary: serde_json::Value = serde_json::from_slice(&read(&dir, "summary.json")).unwrap();
    insta::assert_json_snapshot!("shop_summary_seed_42", summary);
    let _ = std::fs::remove_dir_all(dir);
}

/// Poisson arrivals: the count is within 4 standard deviations of the mean.
fn within_sigmas(observed: f64, mean: f64, sd: f64, what: &str) {
    assert!((observed - mean).abs() <= 4.0 * sd, "{what}: {observed} vs {mean} ± 4×{sd:.1}");
}

#[test]
fn generator_matches_the_specified_traffic() {
    let loaded = load_file(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/traffic/stats.yaml")));
    let sc = loaded.scenario.expect("the stats scenario is valid");
    let mut totals = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let seeds = 5;
    for seed in 0..seeds {
        let mut sc_seeded =
            load_file(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/traffic/stats.yaml"))).scenario.unwrap();
        sc_seeded.seed = seed;
        let mut collect = Collect::new(&sc_seeded);
        let stats = simulate(&sc_seeded, &Options::default(), &mut collect, None).expect("has traffic");
        let t = stats.traffic.expect("traffic stats");
        totals.0 += t.arrivals;
        totals.1 += t.returning;
        totals.2 += t.per_persona[0];
        totals.3 += t.sessions;
        totals.4 += t.bounces;
        totals.5 += t.pageviews;
    }
    let _ = sc;
    let n = seeds as f64;
    // 3600/h in hour 1, 1800/h in hour 2.
    let mean_arrivals = 5400.0 * n;
    within_sigmas(totals.0 as f64, mean_arrivals, mean_arrivals.sqrt(), "arrivals");
    let sessions = totals.3 as f64;
    // Persona shares 0.7 / 0.3 (binomial).
    let p = 0.7;
    within_sigmas(totals.2 as f64, p * sessions, (sessions * p * (1.0 - p)).sqrt(), "browser sessions");
    // Both personas leave their first page with probability 0.45: the bounce rate.
    let q = 0.45;
    within_sigmas(totals.4 as f64, q * sessions, (sessions * q * (1.0 - q)).sqrt(), "bounces");
    // Returning visitors: 20% of arrivals ask to return; early on nobody can
    // (no earlier visitor has finished a session), so somewhat fewer do.
    let returning = totals.1 as f64 / totals.0 as f64;
    assert!(returning > 0.15 && returning <= 0.2 + 0.01, "returning share {returning}");
    // Pages per session: 1 + E[further pages]. Browser: 0.55 × 1/0.5 = 1.1 more; reader: 0.55/0.45 = 1.22 more.
    let pages = totals.5 as f64 / sessions;
    let expected = 1.0 + 0.7 * 1.1 + 0.3 * (0.55 / 0.45);
    assert!((pages - expected).abs() < 0.05, "pages per session {pages:.3} vs {expected:.3}");
}
