//! The `pesim` command line: parses arguments, calls the library, prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use pesim::app;
use pesim::engine::Responses;

#[derive(Parser)]
#[command(name = "pesim", version, about = "Predictive-engagement simulator and action-map rule engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr();
    let result = match cli.command {
        Command::Check { files } => app::check(&mut out, &files),
        Command::Replay { file, events, out: dir, skip_invalid, quiet, responses } => {
            let responses = match responses {
                ResponsesArg::Model => Responses::Model,
                ResponsesArg::Recorded => Responses::Recorded,
            };
            let args = app::ReplayArgs { file, events, out: dir, skip_invalid, quiet, responses };
            app::replay(&mut out, &mut err, &args)
        }
        Command::Explain { file, events, visitor } => app::explain(&mut out, &mut err, &file, &events, &visitor),
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
