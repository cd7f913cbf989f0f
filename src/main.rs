//! The `pesim` command line: parses arguments, calls the library, prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pesim::app;
use pesim::engine::Responses;

#[derive(Parser)]
#[command(name = "pesim", version, about = "Predictive-engagement simulator and action-map rule engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--max-gap`, shared by the commands that read event files.
#[derive(Args)]
struct GapArg {
    /// Reject an event more than this after the one before it (or after the
    /// scenario's start), as a likely wrong date: e.g. 30d, 36h, or `none`.
    #[arg(long, value_name = "DURATION", default_value_t = app::MaxGap::default(), value_parser = app::parse_max_gap)]
    max_gap: app::MaxGap,
}

#[derive(Clone, Copy, ValueEnum)]
enum ResponsesArg {
    /// The persona response model answers offers the stream does not answer.
    Model,
    /// Only `actionEvent` lines answer; other offers time out.
    Recorded,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate scenario files; print every problem with file:line:col.
    #[command(after_help = "Example:\n  pesim check scenarios/shop.yaml\n\n\
        Exit status: 0 when no file has an error (warnings allowed), 1 otherwise.")]
    Check {
        /// Scenario files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run the synthetic simulation the scenario describes.
    #[command(
        after_help = "Example:\n  pesim run scenarios/shop.yaml --seed 7 --set pureconnect.pacing_rate_ms=3000\n\n\
        Writes DIR/decisions.jsonl, DIR/availability.jsonl and DIR/summary.json (DIR defaults to out/NAME)\n\
        and prints a summary table; a progress bar shows on a terminal."
    )]
    Run {
        file: PathBuf,
        /// Output folder (default: out/NAME).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Seed for all randomness (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Worker threads (outputs are identical for any value).
        #[arg(long, value_name = "N", value_parser = app::parse_threads)]
        threads: Option<usize>,
        /// Override a scenario value, e.g. pureconnect.pacing_rate_ms=3000 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// No progress bar and no table.
        #[arg(long)]
        quiet: bool,
    },
    /// Write the synthetic event stream `run` would replay (SPEC §4 JSON Lines).
    #[command(after_help = "Example:\n  pesim generate scenarios/shop.yaml --out shop-events.jsonl\n  \
        pesim replay scenarios/shop.yaml --events shop-events.jsonl   # the same decisions as `pesim run`")]
    Generate {
        file: PathBuf,
        /// Output file (default: standard output).
        #[arg(long, value_name = "EVENTS.jsonl")]
        out: Option<PathBuf>,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Run the cross product of settings (and N seeds each) in parallel; one row per run.
    #[command(
        after_help = "Example:\n  pesim sweep scenarios/shop.yaml --set pureconnect.pacing_rate_ms=3000,5000 \\\n    \
        --set workgroups.sales.agents.0.count=2,4,6 --runs 5 --out out/pacing-sweep\n\n\
        Writes DIR/sweep.csv and DIR/sweep.jsonl. With --shard I/N (0-based) only the I-th of N\n\
        contiguous slices runs; the shards' CSVs, concatenated in order, equal the whole sweep's."
    )]
    Sweep {
        file: PathBuf,
        /// KEY=V1,V2,... (repeatable); the first varies slowest.
        #[arg(long = "set", value_name = "KEY=V1,V2,...", required = true)]
        sets: Vec<String>,
        /// Seeds per combination: the scenario's seed, +1, +2, ...
        #[arg(long, default_value_t = 1)]
        runs: u64,
        /// Worker threads (default: every core); rows are identical for any value.
        #[arg(long, value_name = "N", value_parser = app::parse_threads)]
        threads: Option<usize>,
        /// Run the I-th of N slices (0-based), e.g. 0/4.
        #[arg(long, value_name = "I/N", value_parser = app::parse_shard)]
        shard: Option<(u64, u64)>,
        /// Output folder (default: out/NAME-sweep).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[arg(long)]
        quiet: bool,
    },
    /// Convert exported configuration into a native scenario file.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Fit an outcome predictor on simulated (or recorded) sessions and print its block.
    #[command(after_help = "Example:\n  pesim train scenarios/shop.yaml --outcome purchase --sessions 20000 \\\n    \
        --feature pages=session.pageviews --feature cart='segment(\"cart_visitor\")'\n\n\
        Prints the `predictor:` block with weights and 101 quantile cut points (or --write puts it\n\
        into the file), and reports AUC and log-loss on a held-out fifth of the sessions.")]
    Train {
        file: PathBuf,
        /// The outcome to predict.
        #[arg(long)]
        outcome: String,
        /// About how many sessions to simulate.
        #[arg(long, default_value_t = 20_000)]
        sessions: u64,
        /// NAME=EXPR features replacing the outcome's own (repeatable).
        #[arg(long = "feature", value_name = "NAME=EXPR")]
        features: Vec<String>,
        /// Train on recorded events instead of simulated traffic.
        #[arg(long, value_name = "EVENTS.jsonl")]
        events: Option<PathBuf>,
        #[arg(long)]
        seed: Option<u64>,
        /// L2 penalty on the (standardised) weights: 0 or more.
        #[arg(long, default_value_t = 0.01, value_parser = app::parse_lambda)]
        lambda: f64,
        /// Write the block into the scenario file instead of printing it.
        #[arg(long)]
        write: bool,
        #[command(flatten)]
        gap: GapArg,
    },
    /// Feed recorded tracking events through a scenario's rules and availability model.
    #[command(
        after_help = "Example:\n  pesim replay scenarios/shop.yaml --events tests/events/shop_journeys.jsonl --out out/replay\n\n\
        Writes DIR/decisions.jsonl, DIR/availability.jsonl and DIR/summary.json."
    )]
    Replay {
        /// Scenario file.
        file: PathBuf,
        /// Tracking events, JSON Lines (SPEC §4); `-` reads standard input.
        #[arg(long, value_name = "EVENTS.jsonl")]
        events: PathBuf,
        /// Output folder (default: out/NAME).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Count invalid lines and go on, instead of stopping at the first.
        #[arg(long)]
        skip_invalid: bool,
        /// Print nothing on success.
        #[arg(long)]
        quiet: bool,
        /// Who answers offers the stream does not answer.
        #[arg(long, value_enum, default_value = "model")]
        responses: ResponsesArg,
        /// Threads (default: every core). 1 does everything on one thread; more read and
        /// parse the events, and write decisions.jsonl, beside the rules. Outputs are identical.
        #[arg(long, value_name = "N", value_parser = app::parse_threads)]
        threads: Option<usize>,
        #[command(flatten)]
        gap: GapArg,
    },
    /// Show, event by event, what the rules did for one visitor.
    #[command(
        after_help = "Example:\n  pesim explain scenarios/shop.yaml --events tests/events/shop_journeys.jsonl --visitor c-1"
    )]
    Explain {
        file: PathBuf,
        #[arg(long, value_name = "EVENTS.jsonl")]
        events: PathBuf,
        /// The visitor's customerCookieId.
        #[arg(long, value_name = "ID")]
        visitor: String,
        /// Also write the visitor's journey map as a self-contained HTML file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        #[command(flatten)]
        gap: GapArg,
    },
    /// Run the `cases` of scenario files; a folder means every *.yaml in it.
    #[command(after_help = "Example:\n  pesim test scenarios/ --junit out/pesim-junit.xml\n\n\
        Prints one line per case and `N passed, N failed`; exit status 1 if any failed.")]
    Test {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also write the results as JUnit XML.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format, for editors' YAML completion.
    #[command(after_help = "Example:\n  pesim schema > pesim.schema.json")]
    Schema,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Genesys Cloud Journey API JSON (segments, outcomes, action maps, action targets).
    #[command(after_help = "Example:\n  pesim import genesys exports/ --out scenarios/imported.yaml\n\n\
        Reads single objects or paged {\"entities\": [...]} lists, files or folders; writes the scenario\n\
        (standard output by default) and reports on standard error everything it could not map.")]
    Genesys {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output scenario file (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr();
    let result = match cli.command {
        Command::Check { files } => app::check(&mut out, &files),
        Command::Run { file, out: dir, seed, threads, sets, quiet } => {
            let args = app::RunArgs { file, out: dir, seed, threads, sets, quiet };
            app::run(&mut out, &mut err, &args)
        }
        Command::Sweep { file, sets, runs, threads, shard, out: dir, quiet } => {
            let args = app::SweepArgs { file, sets, runs, threads, shard, out: dir, quiet };
            app::sweep(&mut out, &mut err, &args)
        }
        Command::Train { file, outcome, sessions, features, events, seed, lambda, write, gap } => {
            let max_gap = gap.max_gap.0;
            let args = app::TrainArgs { file, outcome, sessions, features, events, seed, lambda, write, max_gap };
            app::train(&mut out, &mut err, &args)
        }
        Command::Import(ImportCommand::Genesys { paths, out: path }) => {
            app::import_genesys(&mut out, &mut err, &paths, path.as_deref())
        }
        Command::Generate { file, out: path, seed, sets } => {
            let args = app::RunArgs { file, out: path, seed, threads: None, sets, quiet: true };
            app::generate(&mut out, &mut err, &args)
        }
        Command::Replay { file, events, out: dir, skip_invalid, quiet, responses, threads, gap } => {
            let responses = match responses {
                ResponsesArg::Model => Responses::Model,
                ResponsesArg::Recorded => Responses::Recorded,
            };
            let max_gap = gap.max_gap.0;
            let args = app::ReplayArgs { file, events, out: dir, skip_invalid, quiet, responses, threads, max_gap };
            app::replay(&mut out, &mut err, &args)
        }
        Command::Explain { file, events, visitor, html, gap } => {
            app::explain(&mut out, &mut err, &file, &events, &visitor, html.as_deref(), gap.max_gap.0)
        }
        Command::Test { paths, junit } => app::test(&mut out, &paths, junit.as_deref()),
        Command::Schema => app::schema(&mut out),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => app::exit::OK,
        Err(e) => {
            let _ = out.flush();
            let _ = writeln!(err, "error: {e}");
            app::exit::FAILED
        }
    };
    let _ = out.flush();
    ExitCode::from(code as u8)
}
