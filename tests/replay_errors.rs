//! `pesim replay` on broken and awkward event files (SPEC §4), through the real binary.
//!
//! - `tests/events/bad/*.jsonl`: a few good lines around ONE bad line. Without
//!   `--skip-invalid` the replay must stop with exit 1 and a diagnostic naming the file,
//!   the bad line and a caret (snapshot `replay_errors__stderr@NAME.snap`); with
//!   `--skip-invalid` it must finish with exit 0 and account for every line, the bad one
//!   as the only rejected line (snapshot `replay_errors__input@NAME.snap`).
//! - `tests/events/good/*.jsonl`: files that look odd but are valid (CRLF, blank lines,
//!   no final newline, offsets, equal times): exit 0 with and without `--skip-invalid`.
//!
//! Every snapshot was reviewed by hand: the line is the bad line, the caret sits under
//! the offending value (or serde's error column), and the message says what is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The 1-based line each bad file breaks. Checked against both the `-->` line of the
/// diagnostic and `rejectedLines` of the summary, so a file missing here fails the test.
const BAD_LINE: &[(&str, u64)] = &[
    ("action_event_with_event_name", 3),
    ("attr_name_also_in_search_query", 2),
    ("attr_named_value_after_typed_attribute", 3),
    ("empty_customer_cookie_id", 2),
    ("event_name_after_wide_title", 2),
    ("event_name_unicode", 2),
    ("huge_bad_created_date", 4),
    ("huge_bad_event_name", 2),
    ("json_after_accented_text", 3),
    ("json_array_in_field_order", 4),
    ("json_array_not_object", 2),
    ("json_invalid_utf8", 4),
    ("json_leading_spaces_truncated", 2),
    ("json_page_is_string", 3),
    ("null_event_name", 2),
    ("action_after_offer_timed_out", 3),
    ("action_answered_twice", 4),
    ("action_bad_state", 3),
    ("action_before_any_offer", 3),
    ("action_for_another_visitor", 3),
    ("action_missing_state", 3),
    ("action_unknown_map", 3),
    ("attr_array_value", 3),
    ("attr_boolean_not_boolean", 4),
    ("attr_error_in_second_attribute", 3),
    ("attr_integer_with_fraction", 3),
    ("attr_null", 2),
    ("attr_number_not_a_number", 4),
    ("attr_number_out_of_range", 3),
    ("attr_unknown_data_type", 4),
    ("attr_value_missing", 3),
    ("back_in_time_across_visitors", 3),
    ("back_in_time_by_1ms_same_visitor", 3),
    ("back_in_time_with_offset", 3),
    ("before_scenario_start", 1),
    ("blank_lines_then_bad_event_name", 7),
    ("created_date_empty", 3),
    ("created_date_impossible_day", 3),
    ("created_date_not_rfc3339", 2),
    ("created_date_without_offset", 2),
    ("crlf_and_blank_lines_then_truncated_json", 6),
    ("empty_object", 3),
    ("event_name_dashes", 2),
    ("event_name_empty", 4),
    ("event_name_spaces", 3),
    ("huge_title_then_bad_attribute", 2),
    ("huge_title_truncated_line", 3),
    ("json_bare_word", 3),
    ("json_cookie_id_number", 3),
    ("json_created_date_number", 3),
    ("json_deeply_nested", 3),
    ("json_duplicate_key", 4),
    ("json_lone_surrogate_escape", 3),
    ("json_missing_closing_quote", 4),
    ("json_raw_control_character", 3),
    ("json_single_quotes", 2),
    ("json_trailing_comma", 4),
    ("json_truncated", 3),
    ("json_two_objects_on_one_line", 2),
    ("missing_created_date", 2),
    ("missing_customer_cookie_id", 4),
    ("missing_event_name", 3),
    ("pageview_empty_url", 2),
    ("pageview_page_null", 2),
    ("pageview_page_without_url", 4),
    ("pageview_without_page", 2),
    ("week_after_scenario_start", 1),
    ("year_typo_far_ahead", 3),
];

/// A fresh output folder, unique to this process and call.
fn out_dir(name: &str, tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pesim-replay-errors-{}-{n}-{name}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `pesim replay scenarios/shop.yaml --events EVENTS --out DIR EXTRA...` from the repository root.
fn replay(events: &str, dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["replay", "scenarios/shop.yaml", "--events", events, "--out"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("pesim runs")
}

/// The path as the snapshots show it: relative to the repository root, with `/`.
fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).expect("inside the repository").to_string_lossy().replace('\\', "/")
}

/// Lines as `read_line` sees them (a last line without `\n` counts), and how many are
/// blank (only ASCII whitespace, `\r` included) — counted here, independently of pesim.
fn count_lines(bytes: &[u8]) -> (u64, u64) {
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let blank = lines.iter().filter(|l| l.trim_ascii().is_empty()).count();
    (lines.len() as u64, blank as u64)
}

/// The `input` object of DIR/summary.json.
fn summary_input(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    let summary: serde_json::Value = serde_json::from_str(&text).expect("summary.json is JSON");
    summary["input"].clone()
}

fn count(input: &serde_json::Value, key: &str) -> u64 {
    input[key].as_u64().unwrap_or_else(|| panic!("input.{key} is a count: {input}"))
}

#[test]
fn bad_event_files() {
    insta::glob!("events/bad/*.jsonl", |path| {
        let rel = relative(path);
        let name = path.file_stem().unwrap().to_str().unwrap();
        let bad_line = BAD_LINE
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{rel}: add its bad line to BAD_LINE"))
            .1;
        let bytes = std::fs::read(path).unwrap();
        let (lines, blank) = count_lines(&bytes);

        // (a) Without --skip-invalid: stop at the bad line, exit 1, no panic.
        let dir = out_dir(name, "stop");
        let out = replay(&rel, &dir, &[]);
        let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
        assert!(!stderr.contains("panicked"), "{rel}: pesim panicked:\n{stderr}");
        assert_eq!(out.status.code(), Some(1), "{rel}: exit code; stderr:\n{stderr}");
        assert!(stderr.starts_with("error: "), "{rel}: {stderr}");
        assert!(
            stderr.contains(&format!(" --> {rel}:{bad_line}:")),
            "{rel}: names the file and line {bad_line}:\n{stderr}"
        );
        assert!(stderr.contains("--skip-invalid"), "{rel}: suggests --skip-invalid:\n{stderr}");
        assert!(stderr.len() < 2000, "{rel}: the diagnostic stays readable ({} bytes)", stderr.len());
        insta::assert_snapshot!("stderr", stderr);
        let _ = std::fs::remove_dir_all(&dir);

        // (b) With --skip-invalid: go on, exit 0, every line accounted for.
        let dir = out_dir(name, "skip");
        let out = replay(&rel, &dir, &["--skip-invalid", "--quiet"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{rel}: pesim panicked:\n{stderr}");
        assert_eq!(out.status.code(), Some(0), "{rel}: exit code with --skip-invalid; stderr:\n{stderr}");
        assert!(out.stdout.is_empty(), "{rel}: --quiet prints nothing");
        let input = summary_input(&dir);
        let (events, actions, rejected) =
            (count(&input, "events"), count(&input, "actionEvents"), count(&input, "rejected"));
        assert_eq!(count(&input, "lines"), events + actions + rejected + count(&input, "blank"), "{rel}: {input}");
        assert!(rejected >= 1, "{rel}: the bad line is rejected: {input}");
        // Stronger than the sum above (which pesim derives `blank` from): counted here.
        assert_eq!(count(&input, "lines"), lines, "{rel}: lines in the file: {input}");
        assert_eq!(count(&input, "blank"), blank, "{rel}: blank lines in the file: {input}");
        assert_eq!(rejected, 1, "{rel}: only the bad line is rejected, the good ones around it are not: {input}");
        assert_eq!(input["rejectedLines"][0]["line"], bad_line, "{rel}: {input}");
        insta::assert_json_snapshot!("input", input);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn good_event_files() {
    insta::glob!("events/good/*.jsonl", |path| {
        let rel = relative(path);
        let name = path.file_stem().unwrap().to_str().unwrap();
        let (lines, blank) = count_lines(&std::fs::read(path).unwrap());
        let mut inputs = Vec::new();
        for (tag, extra) in [("strict", &["--quiet"][..]), ("skip", &["--skip-invalid", "--quiet"][..])] {
            let dir = out_dir(name, tag);
            let out = replay(&rel, &dir, extra);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{rel} ({tag}): exit code; stderr:\n{stderr}");
            assert!(stderr.is_empty(), "{rel} ({tag}): nothing on stderr:\n{stderr}");
            let input = summary_input(&dir);
            assert_eq!(count(&input, "lines"), lines, "{rel} ({tag}): {input}");
            assert_eq!(count(&input, "blank"), blank, "{rel} ({tag}): {input}");
            assert_eq!(count(&input, "rejected"), 0, "{rel} ({tag}): {input}");
            assert_eq!(
                count(&input, "events") + count(&input, "actionEvents"),
                lines - blank,
                "{rel} ({tag}): every non-blank line is an event: {input}"
            );
            inputs.push(input);
            let _ = std::fs::remove_dir_all(&dir);
        }
        assert_eq!(inputs[0], inputs[1], "{rel}: --skip-invalid changes nothing on a valid file");
        insta::assert_json_snapshot!("good_input", inputs[0]);
    });
}

/// The line counter above agrees with `read_line` on the edge cases the files rely on.
#[test]
fn count_lines_matches_read_line() {
    assert_eq!(count_lines(b""), (0, 0));
    assert_eq!(count_lines(b"a\n"), (1, 0));
    assert_eq!(count_lines(b"a"), (1, 0));
    assert_eq!(count_lines(b"a\n\n"), (2, 1));
    assert_eq!(count_lines(b"a\r\n\r\nb\r\n"), (3, 1));
    assert_eq!(count_lines(b" \t\nb"), (2, 1));
}

/// `--max-gap` sets how far one event may follow the one before it: a 2-hour quiet
/// spell passes by default and with `none`, stops `replay` and `explain` under `1h`,
/// and a value that is not a positive duration is a usage error (exit 2).
#[test]
fn max_gap_flag() {
    let dir = out_dir("max_gap", "input");
    std::fs::create_dir_all(&dir).unwrap();
    let events = dir.join("quiet_spell.jsonl");
    let line = |t: &str, c: &str| {
        format!(
            "{{\"createdDate\":\"{t}\",\"customerCookieId\":\"{c}\",\"eventName\":\"page_viewed\",\
             \"page\":{{\"url\":\"https://shop.example/\"}}}}\n"
        )
    };
    let text = [
        line("2026-11-27T08:00:01.000Z", "c-1"),
        line("2026-11-27T08:00:09.000Z", "c-2"),
        line("2026-11-27T10:00:09.000Z", "c-3"),
    ]
    .concat();
    std::fs::write(&events, text).unwrap();
    let events = events.to_str().unwrap();

    for ok in [&[][..], &["--max-gap", "none"][..], &["--max-gap", "2h"][..]] {
        let out = replay(events, &dir.join("out"), &[&["--quiet"][..], ok].concat());
        assert_eq!(out.status.code(), Some(0), "{ok:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    let out = replay(events, &dir.join("out"), &["--max-gap", "1h59m59s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: jumps ahead: 2026-11-27T10:00:09.000Z is 2h after the previous event at \
             2026-11-27T08:00:09.000Z, more than --max-gap (1h59m59s)\n"
        ),
        "{stderr}"
    );
    assert!(stderr.contains(&format!(" --> {events}:3:16\n")), "{stderr}");
    assert!(stderr.contains("note: pesim would simulate every pacing interval of the gap"), "{stderr}");

    let explain = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pesim"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["explain", "scenarios/shop.yaml", "--events", events, "--visitor", "c-1"])
            .args(extra)
            .output()
            .expect("pesim runs")
    };
    assert_eq!(explain(&[]).status.code(), Some(0));
    let out = explain(&["--max-gap", "1h"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("more than --max-gap (1h)"), "{stderr}");

    for (bad, says) in [
        ("banana", "`banana` is not a duration: write e.g. `7d`, `36h`, `1h30m`, or `none`"),
        ("0s", "the gap must be longer than 0 (or `none` for no limit)"),
        ("-1d", "`-1d` is not a duration"),
    ] {
        let out = replay(events, &dir.join("out"), &[&format!("--max-gap={bad}")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains(&format!("invalid value '{bad}' for '--max-gap <DURATION>': {says}")), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
