//! Events per second through the engine and the simulation loop, on the
//! benchmarks' scenario (50 action maps, 30 segments: examples/gen_bench_scenario.rs).
//!
//! The events (`PESIM_BENCH_EVENTS`, default 200,000) are generated from the
//! scenario's traffic, written as JSON lines and parsed back with `parse_line`
//! once, before measuring: only `pesim::sim::replay` over events already in
//! memory is timed, with `Responses::Recorded` (the stream has no recorded
//! answers, so offers time out) and `report::Collect` as the output (tallies
//! only). Each event is moved into the loop and dropped after its step, as in a
//! streamed replay; cloning the input is done outside the timing.
//!
//! - `engine/replay/1`: one replay on one thread; its `elem/s` is events/s per core.
//! - `sweep/threads/1` and `sweep/threads/2`: a sweep-like workload, `PESIM_BENCH_RUNS`
//!   (default 4) independent replays of the same events (one seed each) run by
//!   rayon on a 1-thread and a 2-thread pool.
//! - `one_run/threads/1` and `one_run/threads/2`: one run of dense traffic
//!   (`PESIM_BENCH_DENSE_PER_HOUR` arrivals/h, default 100,000, for 2 hours): the
//!   generator, the engine's shards and the contact center, with the shards on 1
//!   or 2 threads (`Options::threads`); `elem/s` is tracking events/s.
//!
//! With `--bench`, after criterion, the two sweep variants are also run
//! interleaved (`PESIM_BENCH_RATIO_RUNS` times each, default 5) and the ratio of
//! their median wall times is printed, since criterion reports each alone, with
//! the CPU time each used (from /proc/self/stat): on a machine with other load,
//! CPU time / wall time shows how many cores the 2-thread pool really had.
//!
//!   cargo bench --bench engine

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use pesim::config::Scenario;
use pesim::engine::Responses;
use pesim::events::{Event, EventKind, parse_line};
use pesim::report::Collect;
use pesim::sim::{Options, Stats, replay, simulate};
use rayon::prelude::*;

#[path = "../examples/gen_bench_scenario.rs"]
#[allow(dead_code)]
mod gen_bench_scenario;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// The benchmark's input: the scenario and its events, parsed.
struct Input {
    sc: Scenario,
    events: Vec<Event>,
    /// Tracking events (all of them: generated streams have no `actionEvent`).
    tracking: u64,
}

fn input() -> Input {
    let n = env_usize("PESIM_BENCH_EVENTS", 200_000);
    let sc = gen_bench_scenario::load(gen_bench_scenario::DEFAULT_PER_HOUR, 24);
    let started = Instant::now();
    let lines = gen_bench_scenario::event_lines(n);
    let events: Vec<Event> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| parse_line(&sc, l, i as u64 + 1).expect("generated lines are valid events"))
        .collect();
    let tracking = events.iter().filter(|e| matches!(e.kind, EventKind::Track(_))).count() as u64;
    let visitors = {
        let mut v: Vec<&str> = events.iter().map(|e| &*e.customer).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    eprintln!(
        "engine bench: {} action maps, {} segments; {} events ({tracking} tracking) of {visitors} visitors, \
         prepared in {:.1} s",
        sc.action_maps.len(),
        sc.segments.len(),
        events.len(),
        started.elapsed().as_secs_f64()
    );
    Input { sc, events, tracking }
}

/// One replay of `events` (moved in, dropped as consumed).
fn run(sc: &Scenario, events: Vec<Event>, seed: u64) -> Stats {
    let opts = Options { responses: Responses::Recorded, seed: Some(seed), ..Options::default() };
    let mut iter = events.into_iter().map(|e| (e.line, Ok(e)));
    let mut out = Collect::new(sc);
    let stats = replay(sc, &mut iter, &opts, &mut out).expect("generated events replay without error");
    black_box(&out.tally);
    stats
}

/// `runs` independent replays on `pool`; the total of tracking events handled.
fn sweep(pool: &rayon::ThreadPool, sc: &Scenario, inputs: Vec<Vec<Event>>) -> u64 {
    pool.install(|| inputs.into_par_iter().enumerate().map(|(k, evs)| run(sc, evs, 1 + k as u64).events).sum())
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool")
}

fn benches(c: &mut Criterion, inp: &Input) {
    let sc = &inp.sc;
    // Check once that every event is handled, so the throughput is right.
    let stats = run(sc, inp.events.clone(), 1);
    assert_eq!(stats.events, inp.tracking);
    eprintln!("one replay: {} events, {} visitors, {} sessions", stats.events, stats.visitors, stats.sessions);

    let mut g = c.benchmark_group("engine");
    g.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(inp.tracking));
    g.bench_function(BenchmarkId::new("replay", 1), |b| {
        b.iter_batched(|| inp.events.clone(), |evs| run(sc, evs, 1), BatchSize::PerIteration)
    });
    g.finish();

    let runs = env_usize("PESIM_BENCH_RUNS", 4);
    let mut g = c.benchmark_group("sweep");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(inp.tracking * runs as u64));
    for threads in [1, 2] {
        let pool = pool(threads);
        g.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter_batched(
                || vec![inp.events.clone(); runs],
                |inputs| sweep(&pool, sc, inputs),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// One run of dense traffic, its shards on 1 and 2 threads.
fn one_run(c: &mut Criterion) {
    let per_hour = env_usize("PESIM_BENCH_DENSE_PER_HOUR", 100_000) as f64;
    let sc = gen_bench_scenario::load(per_hour, 2);
    let run = |threads: usize| {
        let mut out = Collect::new(&sc);
        let stats = simulate(&sc, &Options { threads, ..Options::default() }, &mut out, None);
        black_box(&out.tally);
        stats.expect("the benchmark scenario has traffic")
    };
    let stats = run(1);
    eprintln!(
        "one run: {} events, {} batches ({} of them large enough for the pool)",
        stats.events, stats.batches, stats.large_batches
    );
    let mut g = c.benchmark_group("one_run");
    g.sample_size(10).measurement_time(Duration::from_secs(30)).throughput(Throughput::Elements(stats.events));
    for threads in [1, 2] {
        g.bench_function(BenchmarkId::new("threads", threads), |b| b.iter(|| run(threads)));
    }
    g.finish();
}

/// CPU time used by this process so far (all threads), from /proc/self/stat (Linux, 100 ticks/s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The 2-thread / 1-thread speed-up of the sweep, from interleaved runs.
fn ratio(inp: &Input) {
    let reps = env_usize("PESIM_BENCH_RATIO_RUNS", 5);
    if reps == 0 {
        return;
    }
    let runs = env_usize("PESIM_BENCH_RUNS", 4);
    let pools = [pool(1), pool(2)];
    let mut wall: [Vec<f64>; 2] = Default::default();
    let mut cpu = [0.0; 2];
    for _ in 0..reps {
        for (i, p) in pools.iter().enumerate() {
            let inputs = vec![inp.events.clone(); runs];
            let (t, c) = (Instant::now(), cpu_seconds());
            black_box(sweep(p, &inp.sc, inputs));
            wall[i].push(t.elapsed().as_secs_f64());
            if let (Some(a), Some(b)) = (c, cpu_seconds()) {
                cpu[i] += b - a;
            }
        }
    }
    let total = [wall[0].iter().sum::<f64>(), wall[1].iter().sum::<f64>()];
    let [t1, t2] = wall.map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    });
    let events = (inp.tracking * runs as u64) as f64;
    println!(
        "sweep of {runs} replays x {} events, median of {reps} interleaved runs: 1 thread {t1:.3} s ({:.3} M events/s), \
         2 threads {t2:.3} s ({:.3} M events/s); speed-up 2 threads / 1 thread = {:.2}x (target >= 1.8x)",
        inp.tracking,
        events / t1 / 1e6,
        events / t2 / 1e6,
        t1 / t2
    );
    // CPU time / wall time: how many cores the runs actually got (other load on the machine shows here).
    println!(
        "cores used (CPU time / wall time): 1 thread {:.2}, 2 threads {:.2}; events per CPU-second: 1 thread {:.3} M, \
         2 threads {:.3} M",
        cpu[0] / total[0],
        cpu[1] / total[1],
        events * reps as f64 / cpu[0] / 1e6,
        events * reps as f64 / cpu[1] / 1e6
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average after the ratio runs: {}",
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
    }
}

fn main() {
    let inp = input();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &inp);
    one_run(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        ratio(&inp);
    }
}
