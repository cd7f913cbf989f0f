//! Drives the real `pesim` binary: `pesim check` on the bundled scenario, on a
//! broken copy, on a missing file, usage errors, and `pesim schema`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use pesim::config::decode;

fn pesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pesim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the pesim binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// No Rust panic or backtrace may ever reach the user (SPEC §1).
fn assert_no_panic(o: &Output) {
    let all = format!("{}{}", stdout(o), stderr(o));
    assert!(!all.contains("panicked") && !all.contains("RUST_BACKTRACE"), "a panic reached the user:\n{all}");
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or_else(|| panic!("pesim was killed by a signal:\n{}{}", stdout(o), stderr(o)))
}

/// A fresh folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "pesim-cli-check-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Copies the bundled scenario and its include into `dir`, with `edit` applied to the main file.
fn copy_shop(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = fs::read_to_string(repo("scenarios/shop.yaml")).unwrap();
    let segments = fs::read_to_string(repo("scenarios/common/shop-segments.yaml")).unwrap();
    fs::create_dir_all(dir.join("common")).unwrap();
    fs::write(dir.join("common/shop-segments.yaml"), segments).unwrap();
    let path = dir.join("shop.yaml");
    fs::write(&path, edit(text)).unwrap();
    path
}

/// 1-based line and character column of the first occurrence of `needle`.
fn line_col(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in the file"));
    let line = text[..at].matches('\n').count() + 1;
    let col = text[..at].rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

/// Checks that the snippet of the diagnostic shows source line `line` and, on the
/// next line, carets starting exactly under `needle` and as wide as it.
fn assert_caret_under(out: &str, line: usize, source_line: &str, needle: &str) {
    let lines: Vec<&str> = out.lines().collect();
    let prefix = format!(" {line} | ");
    let i = lines
        .iter()
        .position(|l| l.ends_with(source_line) && l.trim_start().starts_with(prefix.trim_start()))
        .unwrap_or_else(|| panic!("source line {line} `{source_line}` is not quoted in:\n{out}"));
    let shown = lines[i];
    let caret = lines.get(i + 1).unwrap_or_else(|| panic!("no caret line after line {line} in:\n{out}"));
    let text_start = shown.len() - source_line.len();
    let want = text_start + source_line.find(needle).unwrap();
    let got = caret.find('^').unwrap_or_else(|| panic!("no caret under line {line} in:\n{out}"));
    assert_eq!(got, want, "the caret is not under `{needle}`:\n{shown}\n{caret}");
    let width = caret[got..].chars().take_while(|c| *c == '^').count();
    assert_eq!(width, needle.chars().count(), "the caret does not underline `{needle}`:\n{shown}\n{caret}");
}

#[test]
fn bundled_scenario_is_clean() {
    let o = pesim(&["check", "scenarios/shop.yaml"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.trim_end().ends_with("ok (0 warnings)"), "{out}");
    assert_eq!(out, "scenarios/shop.yaml: ok (0 warnings)\n");
}

#[test]
fn broken_copy_points_at_the_typo() {
    let tmp = TempDir::new("broken");
    let good = r#"trigger: segment("cart_visitor") and event.name == "idle_30_sec""#;
    let bad = r#"trigger: segment("cart_visiter") and event.name == "idle_30_sec""#;
    let path = copy_shop(tmp.path(), |t| {
        assert!(t.contains(good), "shop.yaml changed: update this test");
        t.replacen(good, bad, 1)
    });
    let text = fs::read_to_string(&path).unwrap();
    let (line, col) = line_col(&text, r#""cart_visiter""#);

    let arg = path.to_str().unwrap();
    let o = pesim(&["check", arg]);
    assert_no_panic(&o);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(out.contains("error: unknown segment `cart_visiter`"), "{out}");
    assert!(out.contains(&format!("--> {arg}:{line}:{col}")), "expected {arg}:{line}:{col} in:\n{out}");
    assert!(out.contains("help: did you mean `cart_visitor`?"), "{out}");
    assert_caret_under(&out, line, bad, r#""cart_visiter""#);
    assert!(out.trim_end().ends_with(&format!("{arg}: 1 error, 0 warnings")), "{out}");
}

#[test]
fn broken_include_points_into_the_included_file() {
    let tmp = TempDir::new("include");
    let path = copy_shop(tmp.path(), |t| t);
    let inc = tmp.path().join("common/shop-segments.yaml");
    let good = "when: device.category == \"mobile\"";
    let bad = "when: device.category = \"mobile\"";
    let text = fs::read_to_string(&inc).unwrap();
    assert!(text.contains(good), "shop-segments.yaml changed: update this test");
    let text = text.replacen(good, bad, 1);
    fs::write(&inc, &text).unwrap();
    let (line, col) = line_col(&text, bad);
    let col = col + bad.find(" = ").unwrap() + 1;

    let o = pesim(&["check", path.to_str().unwrap()]);
    assert_no_panic(&o);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    let inc_name = tmp.path().join("common").join("shop-segments.yaml");
    assert!(
        out.contains(&format!("{}:{line}:{col}", inc_name.display())),
        "expected the include's {line}:{col}:\n{out}"
    );
    assert_caret_under(&out, line, bad, "=");
}

#[test]
fn every_error_of_a_file_and_every_file_are_reported() {
    let tmp = TempDir::new("multi");
    let broken = tmp.path().join("broken.yaml");
    fs::write(
        &broken,
        "name: multi\nseed: -1\nsettings: {session_timeout: 30}\nsegments:\n  - id: a\n    when: sesion.pageviews > 1\n",
    )
    .unwrap();
    let warn = tmp.path().join("warn.yaml");
    fs::write(&warn, "name: warn\npureconnect: {pacing_rate_ms: 100}\n").unwrap();
    let (b, w) = (broken.to_str().unwrap(), warn.to_str().unwrap());

    let o = pesim(&["check", "scenarios/shop.yaml", b, w]);
    assert_no_panic(&o);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    for at in [format!("{b}:2:7"), format!("{b}:3:29"), format!("{b}:6:11")] {
        assert!(out.contains(&format!("--> {at}")), "expected {at} in:\n{out}");
    }
    assert!(out.contains(&format!("{b}: 3 errors, 0 warnings")), "{out}");
    assert!(out.contains("scenarios/shop.yaml: ok (0 warnings)"), "{out}");
    assert!(out.contains("warning: pacing_rate_ms 100"), "{out}");
    assert!(out.trim_end().ends_with(&format!("{w}: ok (1 warning)")), "{out}");

    // Warnings alone do not fail the check.
    let o = pesim(&["check", w]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let tmp = TempDir::new("missing");
    let missing = tmp.path().join("no-such-scenario.yaml");
    let arg = missing.to_str().unwrap();
    let o = pesim(&["check", arg]);
    assert_no_panic(&o);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(out.contains(&format!("error: cannot read {arg}")), "{out}");
    assert!(out.trim_end().ends_with(&format!("{arg}: 1 error, 0 warnings")), "{out}");

    // A folder is not a scenario file either.
    let o = pesim(&["check", tmp.path().to_str().unwrap()]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("error: cannot read"), "{}", stdout(&o));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["frobnicate"][..],
        &["check"][..],
        &["check", "--no-such-flag", "scenarios/shop.yaml"][..],
        &["schema", "extra-argument"][..],
        &[][..],
    ] {
        let o = pesim(args);
        assert_no_panic(&o);
        assert_eq!(code(&o), 2, "pesim {args:?}:\n{}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).is_empty(), "pesim {args:?} printed on stdout:\n{}", stdout(&o));
        assert!(stderr(&o).contains("Usage:"), "pesim {args:?}:\n{}", stderr(&o));
    }
    let o = pesim(&["check", "--help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("pesim check scenarios/shop.yaml"), "--help has an example:\n{}", stdout(&o));
}

/// Values a flag cannot take are usage errors naming the flag and why, before any
/// work: a NaN penalty used to make `train` loop forever.
#[test]
fn bad_flag_values_exit_2_and_say_why() {
    let train =
        |lambda: &str| ["train", "scenarios/shop.yaml", "--outcome", "purchase", "--lambda", lambda].map(String::from);
    for (args, says) in [
        (train("NaN").to_vec(), "the penalty must be a finite number, 0 or more"),
        (train("inf").to_vec(), "the penalty must be a finite number, 0 or more"),
        (
            ["train", "scenarios/shop.yaml", "--outcome", "purchase", "--lambda=-1"].map(String::from).to_vec(),
            "0 or more",
        ),
        (train("lots").to_vec(), "`lots` is not a number"),
        (
            ["replay", "scenarios/shop.yaml", "--events", "x.jsonl", "--max-gap", "7"].map(String::from).to_vec(),
            "`7` is not a duration",
        ),
        (
            ["sweep", "scenarios/shop.yaml", "--set", "seed=1", "--shard", "3/2"].map(String::from).to_vec(),
            "I must be in 0..N",
        ),
        (["run", "scenarios/shop.yaml", "--threads", "50000"].map(String::from).to_vec(), "at most 1024 threads"),
        (
            ["replay", "scenarios/shop.yaml", "--events", "x.jsonl", "--threads", "two"].map(String::from).to_vec(),
            "not a whole number",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = pesim(&args);
        assert_no_panic(&o);
        assert_eq!(code(&o), 2, "pesim {args:?}:\n{}", stderr(&o));
        assert!(stderr(&o).starts_with("error: invalid value"), "pesim {args:?}:\n{}", stderr(&o));
        assert!(stderr(&o).contains(says), "pesim {args:?}:\n{}", stderr(&o));
    }
}

/// An output that cannot be written is an error naming the path, exit 1; a sweep
/// finds out before it runs anything.
#[test]
fn unwritable_outputs_are_named() {
    let dir = TempDir::new("unwritable");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let missing = dir.path().join("no-such-folder");
    let (file, missing) = (file.to_str().unwrap(), missing.to_str().unwrap());
    let html = format!("{missing}/v.html");
    let junit = format!("{missing}/j.xml");
    let events = format!("{missing}/e.jsonl");
    for (args, says) in [
        (
            vec![
                "explain",
                "scenarios/shop.yaml",
                "--events",
                "tests/events/shop_journeys.jsonl",
                "--visitor",
                "c-1",
                "--html",
                &html,
            ],
            format!("error: cannot write {html}: "),
        ),
        (vec!["test", "scenarios/shop.yaml", "--junit", &junit], format!("error: cannot write {junit}: ")),
        (vec!["generate", "scenarios/shop.yaml", "--out", &events], format!("error: cannot write {events}: ")),
        (
            vec!["sweep", "scenarios/shop.yaml", "--set", "seed=1,2", "--out", file, "--quiet"],
            format!("error: cannot create the folder {file}: "),
        ),
    ] {
        let o = pesim(&args);
        assert_no_panic(&o);
        assert_eq!(code(&o), 1, "pesim {args:?}:\n{}", stderr(&o));
        assert!(stderr(&o).contains(&says), "pesim {args:?}:\n{}", stderr(&o));
    }
}

/// A sweep too large for one process is refused before any row is made (a billion
/// rows used to be made, and fill the memory, before the first run); a shard of it is fine.
#[test]
fn a_sweep_larger_than_one_process_takes_asks_for_shards() {
    let o = pesim(&["sweep", "scenarios/shop.yaml", "--set", "seed=1,2", "--runs", "1000000000", "--quiet"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: this sweep would make 2000000000 rows here; one process runs at most 1000000\n")
    );
    assert!(stderr(&o).contains("--shard I/N"), "{}", stderr(&o));
    // Past 2^64 rows no shard can be numbered, so none runs.
    let max = u64::MAX.to_string();
    let o =
        pesim(&["sweep", "scenarios/shop.yaml", "--set", "seed=1,2", "--runs", &max, "--shard", "0/100000000000000"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: this sweep has more rows than can be numbered (over 2^64)\n"),
        "{}",
        stderr(&o)
    );
    let dir = TempDir::new("huge-sweep");
    let out = dir.path().to_str().unwrap();
    let args = ["sweep", "scenarios/shop.yaml", "--set", "seed=1,2", "--runs", "1000000000"];
    let o = pesim(&[&args[..], &["--shard", "5/400000000", "--out", out, "--quiet"]].concat());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let csv = fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    let runs: Vec<&str> = csv.lines().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(runs, ["25", "26", "27", "28", "29"], "rows 25..30 of 2,000,000,000");
}

/// A folder given as the events is named as such, not read as an invalid line 1.
#[test]
fn a_folder_of_events_is_an_error_of_the_path() {
    for command in ["replay", "explain"] {
        let mut args = vec![command, "scenarios/shop.yaml", "--events", "scenarios/"];
        if command == "explain" {
            args.extend(["--visitor", "c-1"]);
        }
        let o = pesim(&args);
        assert_no_panic(&o);
        assert_eq!(code(&o), 1, "pesim {args:?}:\n{}", stderr(&o));
        assert_eq!(stderr(&o), "error: cannot read scenarios/: it is a folder, not a file of events\n");
    }
}

#[test]
fn schema_is_json_with_every_section() {
    let o = pesim(&["schema"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let schema: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("pesim schema prints valid JSON");
    let props = schema["properties"].as_object().expect("the schema has `properties`");
    assert!(props.contains_key("action_maps"), "{props:?}");

    // The schema and the decoder agree on the keys of each section.
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v["properties"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        k.sort();
        k
    };
    let sorted = |ks: &[&str]| -> Vec<String> {
        let mut k: Vec<String> = ks.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    };
    assert_eq!(keys(&schema), sorted(decode::TOP_KEYS), "top-level keys");
    assert_eq!(keys(&schema["properties"]["settings"]), sorted(decode::SETTINGS_KEYS), "settings");
    assert_eq!(keys(&schema["properties"]["pureconnect"]), sorted(decode::PURECONNECT_KEYS), "pureconnect");
    assert_eq!(keys(&schema["properties"]["workgroups"]["items"]), sorted(decode::WORKGROUP_KEYS), "workgroups");
    assert_eq!(keys(&schema["properties"]["segments"]["items"]), sorted(decode::SEGMENT_KEYS), "segments");
    assert_eq!(keys(&schema["properties"]["outcomes"]["items"]), sorted(decode::OUTCOME_KEYS), "outcomes");
    let map = &schema["properties"]["action_maps"]["items"];
    assert_eq!(keys(map), sorted(decode::ACTION_MAP_KEYS), "action maps");
    assert_eq!(keys(&map["properties"]["action"]), sorted(decode::ACTION_KEYS), "actions");
}
