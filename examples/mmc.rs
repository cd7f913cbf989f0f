//! One M/M/N (or M/M/N+M) queue simulated by pesim's contact-center model,
//! for cross-checks against other simulators (tools/erlang_crosscheck.py).
//!
//!   cargo run --release --example mmc -- ERLANGS AGENTS AHT_SECONDS TARGET_SECONDS HOURS SEED [PATIENCE_SECONDS]
//!
//! Prints one JSON object: the measured figures, theory, and chats per second.

use std::time::Instant;

use pesim::availability::erlang::{erlang_a, erlang_c, erlang_c_asa, erlang_c_service_level, simulate};
use pesim::config::load_str;
use pesim::config::model::{Dist, Millis, WorkgroupId};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 6 {
        eprintln!("usage: mmc ERLANGS AGENTS AHT_SECONDS TARGET_SECONDS HOURS SEED [PATIENCE_SECONDS]");
        std::process::exit(2);
    }
    let num = |i: usize| -> f64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("argument {} must be a number: {}", i + 1, args[i]);
            std::process::exit(2)
        })
    };
    let (a, n, aht, t, hours, seed) = (num(0), num(1) as u32, num(2), num(3), num(4), num(5) as u64);
    let patience = args.get(6).map(|_| num(6));
    let yaml = format!(
        "name: mmc\nworkgroups:\n  - id: q\n    service_level: {{percentage: 0.8, within: {t}s}}\n    \
         handle_time: {{exp: {{mean: {aht}s}}}}\n    agents: [{{count: {n}, licensed: true}}]\n"
    );
    let loaded = load_str("mmc.yaml", &yaml);
    let Some(sc) = loaded.scenario else {
        eprintln!("invalid parameters: {:?}", loaded.diagnostics.list);
        std::process::exit(2)
    };
    let per_hour = a * 3600.0 / aht;
    let dist = patience.map(|p| Dist::Exp { mean: p * 1000.0 });
    let started = Instant::now();
    let s = simulate(
        &sc,
        WorkgroupId(0),
        per_hour,
        dist.as_ref(),
        Millis(3_600_000),
        Millis((hours * 3_600_000.0) as i64),
        seed,
    );
    let secs = started.elapsed().as_secs_f64();
    let chats = s.engaged + s.abandoned;
    let theory = match patience {
        None => serde_json::json!({
            "p_wait": erlang_c(a, n),
            "service_level": erlang_c_service_level(a, n, t, aht),
            "asa_seconds": erlang_c_asa(a, n, aht),
        }),
        Some(p) => {
            let e = erlang_a(a / aht, 1.0 / aht, 1.0 / p, n);
            serde_json::json!({"p_wait": e.p_wait, "p_abandon": e.p_abandon})
        }
    };
    let out = serde_json::json!({
        "chats": chats,
        "p_wait": s.p_wait(),
        "service_level": s.service_level(),
        "asa_seconds": s.mean_wait_ms().map(|w| w / 1000.0),
        "p_abandon": s.p_abandon(),
        "occupancy": s.occupancy(),
        "theory": theory,
        "seconds": secs,
        "chats_per_second": chats as f64 / secs,
    });
    println!("{out}");
}
