//! The baseline of the replay benchmark: read a JSON Lines file line by line
//! (the same 1 MiB `BufReader` as `pesim replay`) and parse every line with
//! `serde_json::from_str::<serde_json::Value>`, nothing else.
//!
//!   cargo build --release --example parse_only
//!   /usr/bin/time -v ./target/release/examples/parse_only EVENTS.jsonl
//!
//! Prints the lines parsed, the wall time and lines per second to stderr.

use std::io::BufRead;
use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_only EVENTS.jsonl");
        std::process::exit(2);
    };
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(1)
    });
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let started = Instant::now();
    let mut line = String::new();
    let (mut lines, mut keys) = (0u64, 0usize);
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        lines += 1;
        match serde_json::from_str::<serde_json::Value>(text) {
            // Touch the result so that the parse cannot be optimised away.
            Ok(v) => keys += v.as_object().map_or(0, |o| o.len()),
            Err(e) => {
                eprintln!("{path}:{lines}: {e}");
                std::process::exit(1);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("{lines} lines ({keys} top-level keys) parsed in {secs:.3} s: {:.0} lines/s", lines as f64 / secs);
}
