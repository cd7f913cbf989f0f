//! `pesim replay` on the real shop scenario and hand-written journeys: the
//! decisions are snapshotted (each reviewed against SPEC §6) and the outputs
//! are byte-identical from one run to the next.

use std::path::{Path, PathBuf};
use std::process::Command;

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pesim-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn replay(events: &str, extra: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["replay", "scenarios/shop.yaml", "--events", events, "--out"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("pesim runs")
}

#[test]
fn shop_journeys_decisions() {
    let dir = out_dir("journeys");
    let out = replay("tests/events/shop_journeys.jsonl", &["--responses", "recorded", "--quiet"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "--quiet prints nothing");
    let decisions = std::fs::read_to_string(dir.join("decisions.jsonl")).unwrap();
    insta::assert_snapshot!("shop_journeys_decisions", decisions);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    // Every input line is accounted for.
    let input = &summary["input"];
    assert_eq!(input["lines"], 18);
    assert_eq!(input["events"].as_u64().unwrap() + input["actionEvents"].as_u64().unwrap(), 18);
    assert_eq!(summary["actionMaps"]["cart_help"]["states"]["offered"], 2);
    assert_eq!(summary["workgroups"]["sales"]["chats"]["engaged"], 1);
    // One availability line per workgroup and pacing tick, from 08:00:00.
    let availability = std::fs::read_to_string(dir.join("availability.jsonl")).unwrap();
    assert!(availability.starts_with("{\"time\":\"2026-11-27T08:00:00.000Z\",\"workgroup\":\"sales\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replays_are_byte_identical() {
    let (a, b) = (out_dir("det-a"), out_dir("det-b"));
    for dir in [&a, &b] {
        let out = replay("tests/events/shop_journeys.jsonl", &["--quiet"], dir);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for file in ["decisions.jsonl", "availability.jsonl", "summary.json"] {
        let (x, y) = (std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap());
        assert!(x == y, "{file} differs between two runs");
    }
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn explain_shows_triggers_and_gates() {
    let out = Command::new(env!("CARGO_BIN_EXE_pesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["explain", "scenarios/shop.yaml", "--events", "tests/events/shop_journeys.jsonl", "--visitor", "c-4"])
        .output()
        .expect("pesim runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("explain_c4", text);
}
