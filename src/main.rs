//! The `pesim` command line: parses arguments, calls the library, prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pesim::app;

#[derive(Parser)]
#[command(name = "pesim", version, about = "Predictive-engagement simulator and action-map rule engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Print the JSON Schema of the scenario format, for editors' YAML completion.
    #[command(after_help = "Example:\n  pesim schema > pesim.schema.json")]
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Check { files } => app::check(&mut out, &files),
        Command::Schema => app::schema(&mut out),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => app::exit::OK,
        Err(e) => {
            let _ = out.flush();
            eprintln!("error: {e}");
            app::exit::FAILED
        }
    };
    let _ = out.flush();
    ExitCode::from(code as u8)
}
