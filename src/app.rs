//! The commands behind the CLI, as library functions that write to a sink and
//! return an exit code, so that tests drive them without spawning a process.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{self, Loaded};
use crate::diag::render;

/// Exit codes (SPEC §1).
pub mod exit {
    pub const OK: i32 = 0;
    /// A check or test failed, or the input is invalid.
    pub const FAILED: i32 = 1;
    /// The command line was wrong.
    pub const USAGE: i32 = 2;
}

/// Prints every diagnostic of a load, followed by a one-line verdict.
pub fn print_diagnostics(out: &mut dyn Write, path: &Path, loaded: &Loaded) -> std::io::Result<()> {
    for d in &loaded.diagnostics.list {
        writeln!(out, "{}", render(&loaded.sources, d))?;
    }
    let (e, w) = (loaded.diagnostics.error_count(), loaded.diagnostics.warning_count());
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if e == 0 {
        writeln!(out, "{}: ok ({})", path.display(), plural(w, "warning"))
    } else {
        writeln!(out, "{}: {}, {}", path.display(), plural(e, "error"), plural(w, "warning"))
    }
}

/// `pesim check FILE...`: 0 if every file is free of errors (warnings allowed), else 1.
pub fn check(out: &mut dyn Write, files: &[PathBuf]) -> std::io::Result<i32> {
    let mut code = exit::OK;
    for path in files {
        let loaded = config::load_file(path);
        print_diagnostics(out, path, &loaded)?;
        if loaded.diagnostics.has_errors() || loaded.scenario.is_none() {
            code = exit::FAILED;
        }
    }
    Ok(code)
}

/// `pesim schema`: the JSON Schema of the scenario format.
pub fn schema(out: &mut dyn Write) -> std::io::Result<i32> {
    let schema = config::schema::json_schema();
    writeln!(out, "{}", serde_json::to_string_pretty(&schema).map_err(std::io::Error::other)?)?;
    Ok(exit::OK)
}
