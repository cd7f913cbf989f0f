//! `pesim replay --threads 1` and `--threads 2` give the same bytes (SPEC §9): every
//! output file, standard output, standard error and the exit code. With 2 threads
//! the events are read and parsed on a second thread (`pesim::prefetch`), so these
//! files span many of its batches, and stop at or skip invalid lines deep inside them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh folder, unique to this process and call.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pesim-replay-threads-{}-{n}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn pesim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pesim"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Everything a replay produced: exit code, stdout, stderr, then each output file by name.
type Outputs = Vec<(String, Vec<u8>)>;

/// `pesim replay scenarios/shop.yaml --events EVENTS --out DIR --threads N EXTRA...`, with
/// `stdin` piped in when given. DIR is removed before and after.
fn replay(events: &str, dir: &Path, threads: u32, extra: &[&str], stdin: Option<&Path>) -> Outputs {
    let _ = std::fs::remove_dir_all(dir);
    let mut cmd = pesim();
    cmd.args(["replay", "scenarios/shop.yaml", "--events", events, "--out"])
        .arg(dir)
        .args(["--threads", &threads.to_string()])
        .args(extra);
    if let Some(path) = stdin {
        cmd.stdin(Stdio::from(std::fs::File::open(path).unwrap()));
    }
    let out = cmd.output().expect("pesim runs");
    let mut all = vec![
        ("exit code".to_string(), format!("{:?}", out.status.code()).into_bytes()),
        ("stdout".to_string(), out.stdout),
        ("stderr".to_string(), out.stderr),
    ];
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    for f in files {
        all.push((f.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&f).unwrap()));
    }
    let _ = std::fs::remove_dir_all(dir);
    all
}

/// Replays with 1 and with 2 threads and asserts the outputs are identical; returns them.
fn same_for_1_and_2_threads(what: &str, events: &str, extra: &[&str], stdin: Option<&Path>) -> Outputs {
    // One folder for both: standard output names it.
    let dir = temp_dir("out");
    let one = replay(events, &dir, 1, extra, stdin);
    let two = replay(events, &dir, 2, extra, stdin);
    let names = |o: &Outputs| o.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&one), names(&two), "{what}: the same outputs exist");
    for ((name, a), (_, b)) in one.iter().zip(&two) {
        if a != b {
            let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            panic!(
                "{what}: {name} differs between --threads 1 and 2 ({} vs {} bytes, first difference at byte {at}):\n\
                 1 thread:  {}\n2 threads: {}",
                a.len(),
                b.len(),
                String::from_utf8_lossy(&a[at.saturating_sub(100)..(at + 100).min(a.len())]),
                String::from_utf8_lossy(&b[at.saturating_sub(100)..(at + 100).min(b.len())]),
            );
        }
    }
    one
}

fn get<'a>(outputs: &'a Outputs, name: &str) -> &'a [u8] {
    &outputs.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1
}

/// The shop scenario's synthetic traffic over 3 hours (≈ 6,000 events, a dozen batches of the reader thread).
fn generated(dir: &Path) -> (PathBuf, Vec<String>) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("events.jsonl");
    let out = pesim()
        .args(["generate", "scenarios/shop.yaml", "--set", "duration=3h", "--out"])
        .arg(&path)
        .output()
        .expect("pesim runs");
    assert!(out.status.success(), "generate: {}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(lines.len() > 4_000, "{} lines generated", lines.len());
    (path, lines)
}

/// `createdDate` of a generated line.
fn created(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["createdDate"].as_str().unwrap().to_string()
}

/// A response to an offer that was never made: valid JSON, refused by the engine,
/// which is where the replay learns of it (the line text must still be the right one).
fn stray_response(at: &str) -> String {
    format!(
        r#"{{"createdDate":"{at}","customerCookieId":"nobody","actionEvent":{{"actionMap":"cart_help","state":"accepted"}}}}"#
    )
}

#[test]
fn generated_events() {
    let dir = temp_dir("generated");
    let (path, _) = generated(&dir);
    let events = path.to_str().unwrap();
    for extra in [&[][..], &["--quiet", "--responses", "recorded"][..], &["--skip-invalid"][..]] {
        let out = same_for_1_and_2_threads(&format!("generated events {extra:?}"), events, extra, None);
        assert_eq!(get(&out, "exit code"), b"Some(0)", "{}", String::from_utf8_lossy(get(&out, "stderr")));
        assert!(get(&out, "decisions.jsonl").len() > 100_000);
        for file in ["availability.jsonl", "summary.json", "report.html"] {
            assert!(!get(&out, file).is_empty(), "{file} written");
        }
    }
    // Standard input, read by the second thread.
    let from_file = same_for_1_and_2_threads("generated events", events, &["--quiet"], None);
    let from_stdin = same_for_1_and_2_threads("generated events on stdin", "-", &["--quiet"], Some(&path));
    assert_eq!(from_file, from_stdin);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_lines_deep_in_a_file() {
    let dir = temp_dir("invalid");
    let (_, lines) = generated(&dir);
    // Invalid lines of every sort, from line 3101 on (the reader thread's 7th batch), with
    // blank and CRLF lines between.
    let mut bytes: Vec<u8> = Vec::new();
    let mut bad = 0;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let extra: Option<Vec<u8>> = match n % 1000 {
            _ if n <= 3000 => None,
            0 => Some(b"{\"createdDate\": \"2026-11-27T08:00:00Z\", oops}".to_vec()),
            100 => Some(b"{\"createdDate\":\"\xff\xfe\",\"customerCookieId\":\"c\"}".to_vec()),
            200 => Some(
                br#"{"createdDate":"2026-11-27T08:00:00.000Z","customerCookieId":"late","eventName":"x"}"#.to_vec(),
            ),
            300 => Some(stray_response(&created(line)).into_bytes()),
            400 => Some(b"   \r".to_vec()),
            500 => Some(format!("{line}\r").into_bytes()),
            _ => None,
        };
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        if let Some(extra) = extra {
            bad += usize::from(n % 1000 < 400);
            bytes.extend_from_slice(&extra);
            bytes.push(b'\n');
        }
    }
    let path = dir.join("invalid.jsonl");
    std::fs::write(&path, &bytes).unwrap();
    let events = path.to_str().unwrap();

    let out = same_for_1_and_2_threads("--skip-invalid", events, &["--skip-invalid"], None);
    assert_eq!(get(&out, "exit code"), b"Some(0)", "{}", String::from_utf8_lossy(get(&out, "stderr")));
    let summary: serde_json::Value = serde_json::from_slice(get(&out, "summary.json")).unwrap();
    assert_eq!(summary["input"]["rejected"], bad as u64, "{}", summary["input"]);

    // Without --skip-invalid: stops at the first bad line, and says so identically.
    let out = same_for_1_and_2_threads("stop", events, &[], None);
    assert_eq!(get(&out, "exit code"), b"Some(1)");
    let stderr = String::from_utf8(get(&out, "stderr").to_vec()).unwrap();
    assert!(stderr.starts_with("error: line is not valid UTF-8 (byte 17)\n"), "{stderr}");
    assert!(stderr.contains(&format!("{events}:3101:17\n")), "{stderr}");
    assert!(stderr.contains("3101 | {\"createdDate\":\"\u{fffd}\u{fffd}\",\"customerCookieId\":\"c\"}\n"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first bad line is one the engine refuses (a response to no offer), after many
/// valid lines: the message quotes that line, which the second thread read long before.
#[test]
fn stop_at_a_line_the_engine_refuses() {
    let dir = temp_dir("engine-stop");
    let (_, mut lines) = generated(&dir);
    let at = 5_000;
    let response = stray_response(&created(&lines[at - 1]));
    lines.insert(at, response.clone());
    let path = dir.join("stray-response.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let events = path.to_str().unwrap();
    let out = same_for_1_and_2_threads("stray response", events, &["--quiet"], None);
    assert_eq!(get(&out, "exit code"), b"Some(1)");
    let stderr = String::from_utf8(get(&out, "stderr").to_vec()).unwrap();
    assert!(stderr.starts_with("error: `actionEvent` answers no open offer"), "{stderr}");
    assert!(stderr.contains(&format!("{events}:{}:", at + 1)), "{stderr}");
    assert!(stderr.contains("\"customerCookieId\":\"nobody\",\"actionEvent\""), "{stderr}");
    assert!(stderr.contains("^^^"), "a caret: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The small hand-written files of `replay_errors`, each with and without --skip-invalid.
#[test]
fn bad_and_good_event_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for folder in ["tests/events/bad", "tests/events/good"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "jsonl") {
                files.push(format!("{folder}/{}", path.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    files.sort();
    assert!(files.len() > 60, "{} files", files.len());
    for file in &files {
        let stop = same_for_1_and_2_threads(file, file, &[], None);
        if file.starts_with("tests/events/bad/") {
            assert_eq!(get(&stop, "exit code"), b"Some(1)", "{file}");
            assert!(get(&stop, "stderr").starts_with(b"error: "), "{file}");
        }
        same_for_1_and_2_threads(file, file, &["--skip-invalid", "--quiet"], None);
    }
}
