//! JSON Lines replay against its floor: parsing the same lines with serde_json.
//!
//! The input is a file of the benchmarks' scenario traffic (50 action maps,
//! 30 segments: examples/gen_bench_scenario.rs): `PESIM_REPLAY_FILE` if set,
//! else `PESIM_REPLAY_EVENTS` events (default 200,000) generated once into
//! `target/bench/events-N.jsonl`. Three measurements, each reading the file
//! from the start through a 1 MiB `BufReader` (the page cache holds it):
//!
//! - `replay/parse_json_value`: every line into a `serde_json::Value` (the floor);
//! - `replay/read_events`: `EventReader` alone (typed parse, interning, time-order
//!   checks), to split the replay's cost between reading and the engine;
//! - `replay/replay`: `EventReader` + `pesim::sim::replay` with `Responses::Recorded`
//!   and `report::Collect` (tallies only, no output files), end to end.
//!
//! With `--bench`, after criterion, the three are also run interleaved
//! (`PESIM_BENCH_RATIO_RUNS` times each, default 5) and the ratios of their
//! median wall times to the floor are printed (target: replay <= 1.5x).
//!
//!   cargo bench --bench replay
//!   PESIM_REPLAY_FILE=/tmp/pesim-bench/events-1m.jsonl cargo bench --bench replay

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use pesim::config::Scenario;
use pesim::engine::Responses;
use pesim::events::EventReader;
use pesim::report::Collect;
use pesim::sim::{Options, replay};

#[path = "../examples/gen_bench_scenario.rs"]
#[allow(dead_code)]
mod gen_bench_scenario;

fn open(path: &Path) -> BufReader<std::fs::File> {
    BufReader::with_capacity(1 << 20, std::fs::File::open(path).expect("the events file"))
}

/// The events file and its number of lines.
fn events_file() -> (PathBuf, u64) {
    let path = match std::env::var_os("PESIM_REPLAY_FILE") {
        Some(p) => PathBuf::from(p),
        None => {
            let n: usize = std::env::var("PESIM_REPLAY_EVENTS")
                .ok()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or(200_000);
            let path = PathBuf::from(format!("target/bench/events-{n}.jsonl"));
            if !path.exists() {
                let started = Instant::now();
                std::fs::create_dir_all("target/bench").expect("creating target/bench");
                let tmp = path.with_extension("tmp");
                let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("creating the events file"));
                for line in gen_bench_scenario::event_lines(n) {
                    writeln!(out, "{line}").expect("writing the events file");
                }
                out.flush().expect("writing the events file");
                drop(out);
                std::fs::rename(&tmp, &path).expect("renaming the events file");
                eprintln!("generated {} in {:.1} s", path.display(), started.elapsed().as_secs_f64());
            }
            path
        }
    };
    let lines = open(&path).lines().count() as u64;
    (path, lines)
}

/// (a) The floor: each line into a `serde_json::Value`.
fn parse_json_value(path: &Path) -> u64 {
    let mut input = open(path);
    let mut line = String::new();
    let mut keys = 0u64;
    loop {
        line.clear();
        if input.read_line(&mut line).expect("reading the events file") == 0 {
            break;
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
        keys += v.as_object().map_or(0, |o| o.len()) as u64;
    }
    keys
}

/// `EventReader` alone: typed events, no engine.
fn read_events(sc: &Scenario, path: &Path) -> u64 {
    let mut reader = EventReader::new(sc, open(path));
    let mut n = 0;
    while let Some((_, ev)) = reader.next_event() {
        black_box(ev.expect("a valid event"));
        n += 1;
    }
    n
}

/// (b) The replay, end to end, without output files.
fn replay_file(sc: &Scenario, path: &Path) -> u64 {
    let mut reader = EventReader::new(sc, open(path));
    let mut iter = std::iter::from_fn(|| reader.next_event());
    let opts = Options { responses: Responses::Recorded, ..Options::default() };
    let mut out = Collect::new(sc);
    let stats = replay(sc, &mut iter, &opts, &mut out).expect("generated events replay without error");
    black_box(&out.tally);
    stats.events
}

fn main() {
    let sc = gen_bench_scenario::load(gen_bench_scenario::DEFAULT_PER_HOUR, 24);
    let (path, lines) = events_file();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "replay bench: {} ({lines} lines, {:.1} MB); {} action maps, {} segments",
        path.display(),
        bytes as f64 / 1e6,
        sc.action_maps.len(),
        sc.segments.len()
    );
    assert_eq!(replay_file(&sc, &path), lines, "every line is a tracking event");

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("replay");
    g.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(lines));
    g.bench_function("parse_json_value", |b| b.iter(|| parse_json_value(&path)));
    g.bench_function("read_events", |b| b.iter(|| read_events(&sc, &path)));
    g.bench_function("replay", |b| b.iter(|| replay_file(&sc, &path)));
    g.finish();
    c.final_summary();

    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let reps: usize = std::env::var("PESIM_BENCH_RATIO_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    if reps == 0 {
        return;
    }
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..reps {
        let t = Instant::now();
        black_box(parse_json_value(&path));
        times[0].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(read_events(&sc, &path));
        times[1].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(replay_file(&sc, &path));
        times[2].push(t.elapsed().as_secs_f64());
    }
    let [parse, read, full] = times.map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    });
    let rate = |t: f64| lines as f64 / t / 1e6;
    println!(
        "{lines} lines, median of {reps} interleaved runs: parse_json_value {parse:.3} s ({:.2} M lines/s), \
         read_events {read:.3} s ({:.2} M/s), replay {full:.3} s ({:.2} M/s)",
        rate(parse),
        rate(read),
        rate(full)
    );
    println!(
        "replay / parse_json_value = {:.2}x (target <= 1.5x); read_events / parse_json_value = {:.2}x",
        full / parse,
        read / parse
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average after the ratio runs: {}",
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
    }
}
