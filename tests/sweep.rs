//! `pesim sweep`: rows in a stable order for any thread count, and shards run as
//! separate processes whose CSVs concatenate to the single-machine CSV.

use std::path::PathBuf;
use std::process::Command;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pesim-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn sweep(extra: &[&str], dir: &PathBuf) {
    let out = Command::new(env!("CARGO_BIN_EXE_pesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "sweep",
            "scenarios/shop.yaml",
            "--set",
            "pureconnect.pacing_rate_ms=3000,5000",
            "--set",
            "workgroups.support.agents.0.count=2,3,4",
            "--runs",
            "2",
            "--set",
            "duration=2h",
            "--quiet",
            "--out",
        ])
        .arg(dir)
        .args(extra)
        .output()
        .expect("pesim runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn sweep_rows_are_stable_and_shards_concatenate() {
    let (one, two) = (temp("threads1"), temp("threads2"));
    sweep(&["--threads", "1"], &one);
    sweep(&["--threads", "2"], &two);
    let whole = std::fs::read_to_string(one.join("sweep.csv")).unwrap();
    assert_eq!(whole, std::fs::read_to_string(two.join("sweep.csv")).unwrap(), "thread count changed the CSV");
    assert_eq!(
        std::fs::read_to_string(one.join("sweep.jsonl")).unwrap(),
        std::fs::read_to_string(two.join("sweep.jsonl")).unwrap()
    );
    // 2 × 3 combinations × 2 seeds, plus the header.
    assert_eq!(whole.lines().count(), 1 + 12);
    assert!(
        whole
            .lines()
            .next()
            .unwrap()
            .starts_with("run,pureconnect.pacing_rate_ms,workgroups.support.agents.0.count,duration,seed,")
    );

    let mut concatenated = String::new();
    for i in 0..5 {
        let dir = temp(&format!("shard{i}"));
        sweep(&["--shard", &format!("{i}/5")], &dir);
        concatenated.push_str(&std::fs::read_to_string(dir.join("sweep.csv")).unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }
    assert_eq!(concatenated, whole, "shards 0..5 concatenated differ from the whole sweep");
    for d in [one, two] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_bad_value_is_reported_before_anything_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_pesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sweep", "scenarios/shop.yaml", "--set", "pureconnect.pacing_rate_ms=3000,fast", "--quiet"])
        .output()
        .expect("pesim runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--set:1:28"), "the error points into the flag:\n{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_pesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sweep", "scenarios/shop.yaml", "--set", "seed=1", "--shard", "5/5"])
        .output()
        .expect("pesim runs");
    assert_eq!(out.status.code(), Some(2), "a shard index out of range is a usage error");
}
