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

/// Loads a scenario for a command that needs a valid one; prints its
/// diagnostics on failure (warnings are printed by `check` only).
fn load_valid(err: &mut dyn Write, path: &Path) -> std::io::Result<Option<config::Scenario>> {
    let loaded = config::load_file(path);
    if loaded.diagnostics.has_errors() || loaded.scenario.is_none() {
        print_diagnostics(err, path, &loaded)?;
        return Ok(None);
    }
    Ok(loaded.scenario)
}

/// Where outputs go when `--out` is not given: `out/NAME`.
pub fn default_out_dir(sc: &config::Scenario) -> PathBuf {
    Path::new("out").join(&sc.name)
}

/// Options of `pesim replay`.
pub struct ReplayArgs {
    pub file: PathBuf,
    pub events: PathBuf,
    pub out: Option<PathBuf>,
    pub skip_invalid: bool,
    pub quiet: bool,
    pub responses: crate::engine::Responses,
}

/// Opens an events file, or standard input for `-`.
fn open_events(path: &Path) -> std::io::Result<Box<dyn std::io::BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(path)?;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
}

/// Renders an invalid event line with its file, line, column and a caret.
pub fn render_line_error(path: &Path, line_no: u64, text: &str, error: &crate::events::LineError) -> String {
    let (col, len) = error.locate(text);
    let mut col = col.min(text.len());
    while !text.is_char_boundary(col) {
        col -= 1;
    }
    let col_chars = text[..col].chars().count();
    // Long lines are shown around the caret.
    let skip = col_chars.saturating_sub(60);
    let shown: String = text.chars().skip(skip).take(120).collect();
    let prefix = if skip > 0 { "..." } else { "" };
    let caret_pad = " ".repeat(col_chars - skip + prefix.len());
    let pad = " ".repeat(line_no.to_string().len());
    format!(
        "error: {error}\n{pad}--> {}:{line_no}:{}\n{pad} |\n{line_no} | {prefix}{shown}\n{pad} | {caret_pad}{}\n",
        path.display(),
        col_chars + 1,
        "^".repeat(len.clamp(1, 120))
    )
}

/// `pesim replay`: recorded events through the scenario's rules.
pub fn replay(out: &mut dyn Write, err: &mut dyn Write, args: &ReplayArgs) -> std::io::Result<i32> {
    use crate::events::EventReader;
    use crate::sim::{OnInvalid, Options};
    let Some(sc) = load_valid(err, &args.file)? else { return Ok(exit::FAILED) };
    let input = match open_events(&args.events) {
        Ok(i) => i,
        Err(e) => {
            writeln!(err, "error: cannot read {}: {e}", args.events.display())?;
            return Ok(exit::FAILED);
        }
    };
    let dir = args.out.clone().unwrap_or_else(|| default_out_dir(&sc));
    let mut files = match crate::report::Files::create(&sc, &dir) {
        Ok(f) => f,
        Err(e) => {
            writeln!(err, "error: cannot write to {}: {e}", dir.display())?;
            return Ok(exit::FAILED);
        }
    };
    let mut reader = EventReader::new(&sc, input);
    let opts = Options {
        responses: args.responses,
        on_invalid: if args.skip_invalid { OnInvalid::Skip } else { OnInvalid::Stop },
        ..Options::default()
    };
    let result = {
        let mut iter = std::iter::from_fn(|| reader.next_event());
        crate::sim::replay(&sc, &mut iter, &opts, &mut files)
    };
    let mut stats = match result {
        Ok(s) => s,
        Err(stop) => {
            write!(err, "{}", render_line_error(&args.events, stop.line, reader.line_text(), &stop.error))?;
            writeln!(err, "  help: fix the line, or pass --skip-invalid to count such lines and go on")?;
            return Ok(exit::FAILED);
        }
    };
    stats.lines = reader.lines_read();
    stats.blank = stats.lines - stats.events - stats.responses - stats.rejected;
    let (tally, _) = files.finish(&stats)?;
    if !args.quiet {
        write!(out, "{}", crate::report::table(&sc, &stats, &tally))?;
        writeln!(out, "\nwrote {}/{{decisions.jsonl,availability.jsonl,summary.json}}", dir.display())?;
    }
    Ok(exit::OK)
}

/// `pesim explain`: one visitor's events, each with its session, segments,
/// outcomes, scores, every action map's trigger and the gates it met.
pub fn explain(
    out: &mut dyn Write,
    err: &mut dyn Write,
    file: &Path,
    events: &Path,
    visitor: &str,
) -> std::io::Result<i32> {
    use crate::events::EventReader;
    let Some(sc) = load_valid(err, file)? else { return Ok(exit::FAILED) };
    let input = match open_events(events) {
        Ok(i) => i,
        Err(e) => {
            writeln!(err, "error: cannot read {}: {e}", events.display())?;
            return Ok(exit::FAILED);
        }
    };
    let mut reader = EventReader::new(&sc, input);
    let opts = crate::sim::Options { trace: Some(visitor.to_string()), ..Default::default() };
    let mut ex = crate::report::explain::Explainer::new(&sc, visitor, out);
    let result = {
        let mut iter = std::iter::from_fn(|| reader.next_event());
        crate::sim::replay(&sc, &mut iter, &opts, &mut ex)
    };
    ex.finish()?;
    match result {
        Err(stop) => {
            write!(err, "{}", render_line_error(events, stop.line, reader.line_text(), &stop.error))?;
            Ok(exit::FAILED)
        }
        Ok(_) if ex.events_seen() == 0 => {
            writeln!(err, "error: no event of visitor `{visitor}` in {}", events.display())?;
            Ok(exit::FAILED)
        }
        Ok(_) => Ok(exit::OK),
    }
}

/// The scenario files a `test` path names: the file, or every `*.yaml` in a folder.
pub fn scenario_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// One test's outcome, for the summary line and JUnit.
struct TestOutcome {
    file: String,
    name: String,
    failure: Option<String>,
}

/// `pesim test PATH...`: runs the `cases` of scenario files.
pub fn test(out: &mut dyn Write, paths: &[PathBuf], junit: Option<&Path>) -> std::io::Result<i32> {
    let files = scenario_files(paths)?;
    let mut results: Vec<TestOutcome> = Vec::new();
    for path in &files {
        let file = path.display().to_string();
        let loaded = config::load_file(path);
        let Some(sc) = loaded.scenario.as_ref().filter(|_| !loaded.diagnostics.has_errors()) else {
            let mut text = Vec::new();
            print_diagnostics(&mut text, path, &loaded)?;
            let text = String::from_utf8_lossy(&text).to_string();
            writeln!(out, "FAIL {file} (does not load)\n{}", indent(&text))?;
            results.push(TestOutcome { file, name: "(load)".into(), failure: Some(text) });
            continue;
        };
        if sc.cases.is_empty() && sc.expect.is_empty() {
            writeln!(out, "     {file}: no cases")?;
        }
        for case in &sc.cases {
            let r = crate::cases::run_case(sc, case);
            if r.passed() {
                writeln!(out, "ok   {file} › {}", r.name)?;
                results.push(TestOutcome { file: file.clone(), name: r.name, failure: None });
                continue;
            }
            let mut text = String::new();
            if let Some(e) = &r.error {
                text.push_str(&format!("the case stopped: {e}\n"));
            }
            for (_, why) in &r.failures {
                text.push_str(&format!("- {why}\n"));
            }
            text.push_str("decisions:\n");
            if r.decisions.is_empty() {
                text.push_str("+ (none)\n");
            }
            for d in &r.decisions {
                text.push_str(&format!("+ {}\n", d.describe(sc, Some(r.origin))));
            }
            writeln!(out, "FAIL {file} › {}\n{}", r.name, indent(&text))?;
            results.push(TestOutcome { file: file.clone(), name: r.name, failure: Some(text) });
        }
    }
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    let passed = results.len() - failed;
    if let Some(junit) = junit {
        std::fs::write(junit, junit_xml(&results))?;
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed > 0 { exit::FAILED } else { exit::OK })
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("     {l}\n")).collect()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// JUnit XML, one testsuite per scenario file.
fn junit_xml(results: &[TestOutcome]) -> String {
    let mut files: Vec<&str> = results.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    let failures = results.iter().filter(|r| r.failure.is_some()).count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"pesim\" tests=\"{}\" failures=\"{failures}\">\n",
        results.len()
    );
    for file in files {
        let cases: Vec<&TestOutcome> = results.iter().filter(|r| r.file == file).collect();
        let f = cases.iter().filter(|r| r.failure.is_some()).count();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\">\n",
            xml_escape(file),
            cases.len()
        ));
        for c in cases {
            xml.push_str(&format!("    <testcase classname=\"{}\" name=\"{}\"", xml_escape(file), xml_escape(&c.name)));
            match &c.failure {
                None => xml.push_str("/>\n"),
                Some(text) => xml.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml_escape(text.lines().next().unwrap_or("failed")),
                    xml_escape(text)
                )),
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}
