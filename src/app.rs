//! The commands behind the CLI, as library functions that write to a sink and
//! return an exit code, so that tests drive them without spawning a process.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::model::Millis;
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
    /// `--threads`: 1 reads, runs and writes on one thread; more (the default: every
    /// core) reads and parses the events on a second thread and writes decisions.jsonl
    /// on a third, while the rules run on this one. Outputs are the same.
    pub threads: Option<usize>,
    /// `--max-gap`: the largest step forward between events (`None`: no limit).
    pub max_gap: Option<Millis>,
}

/// Names the file an I/O error happened on (`error: cannot write out/x.html: ...`),
/// keeping its kind, so that a closed pipe still ends the command quietly.
fn naming<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> std::io::Error + 'p {
    move |e| std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Threads a command may use: `--threads N`, or every core when absent or 0.
fn thread_count(threads: Option<usize>) -> usize {
    match threads {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// Opens an events file, or standard input for `-`.
fn open_events(path: &Path) -> std::io::Result<Box<dyn std::io::BufRead + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(path)?;
    // A folder opens on Unix and fails only at the first read, which would be
    // reported as an invalid line 1.
    if f.metadata()?.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a folder, not a file of events"));
    }
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
}

/// Renders an invalid event line with its file, line, column and a caret.
pub fn render_line_error(path: &Path, line_no: u64, text: &str, error: &crate::events::LineError) -> String {
    // Positions are found in the line without its leading blanks (as it was parsed).
    let lead = text.len() - text.trim_start().len();
    let (col, len) = error.locate(text.trim_start());
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let col = floor(col + lead);
    let end = floor(col + len.max(1));
    let col_chars = text[..col].chars().count();
    let len_chars = text[col..end].chars().count().max(1);
    // Long lines are shown around the caret, with `...` where cut.
    const WIDTH: usize = 120;
    let skip = col_chars.saturating_sub(60);
    let total = text.chars().count();
    let shown: String = text.chars().skip(skip).take(WIDTH).collect();
    let prefix = if skip > 0 { "..." } else { "" };
    let suffix = if skip + WIDTH < total { "..." } else { "" };
    let caret_pad = " ".repeat(col_chars - skip + prefix.len());
    let carets = "^".repeat(len_chars.min(WIDTH.saturating_sub(col_chars - skip)).max(1));
    let pad = " ".repeat(line_no.to_string().len());
    let mut text = format!(
        "error: {error}\n{pad}--> {}:{line_no}:{}\n{pad} |\n{line_no} | {prefix}{shown}{suffix}\n{pad} | {caret_pad}{carets}\n",
        path.display(),
        col_chars + 1,
    );
    if let Some(note) = error.note() {
        text.push_str(&format!("  note: {note}\n"));
    }
    text
}

/// `pesim replay`: recorded events through the scenario's rules.
pub fn replay(out: &mut dyn Write, err: &mut dyn Write, args: &ReplayArgs) -> std::io::Result<i32> {
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
    let threads = thread_count(args.threads);
    // With more than one thread, decisions.jsonl is written by a thread of this scope,
    // and the events are read by another (`replay_lines`).
    std::thread::scope(|scope| {
        let Some(mut files) = output_files(scope, &sc, &dir, threads, err)? else { return Ok(exit::FAILED) };
        let opts = Options {
            responses: args.responses,
            on_invalid: if args.skip_invalid { OnInvalid::Skip } else { OnInvalid::Stop },
            // Reading and writing take a thread each: the engine's shards get the rest.
            threads: threads.saturating_sub(2).max(1),
            ..Options::default()
        };
        let mut sample = crate::report::html::JourneySample::new(&sc);
        let result = replay_lines(&sc, input, threads, args.max_gap, &mut |events| {
            let mut iter = std::iter::from_fn(|| events.next_item());
            crate::sim::replay(&sc, &mut iter, &opts, &mut crate::report::html::Tee(&mut files, &mut sample))
        });
        let mut stats = match result {
            Ok(s) => s,
            Err((stop, text)) => {
                write!(err, "{}", render_line_error(&args.events, stop.line, &text, &stop.error))?;
                writeln!(err, "  help: fix the line, or pass --skip-invalid to count such lines and go on")?;
                return Ok(exit::FAILED);
            }
        };
        stats.blank = stats.lines - stats.events - stats.responses - stats.rejected;
        finish_outputs(out, &sc, &dir, files, &stats, &sample, args.quiet)
    })
}

/// Runs `run` on the events of `input`: on this thread, or with the reading and
/// parsing on a second one when `threads` > 1 ([`crate::prefetch`]). Gives the
/// stats with `lines` set, or where the run stopped with the text of that line.
fn replay_lines(
    sc: &config::Scenario,
    input: Box<dyn std::io::BufRead + Send>,
    threads: usize,
    max_gap: Option<Millis>,
    run: &mut dyn FnMut(&mut dyn crate::prefetch::Lines) -> Result<crate::sim::Stats, crate::sim::StopError>,
) -> Result<crate::sim::Stats, (crate::sim::StopError, String)> {
    use crate::prefetch::Lines;
    let finish = |result: Result<crate::sim::Stats, crate::sim::StopError>, events: &dyn Lines| match result {
        Ok(mut stats) => {
            stats.lines = events.lines_read();
            Ok(stats)
        }
        Err(stop) => Err((stop, events.line_text().to_string())),
    };
    if threads > 1 {
        crate::prefetch::with_prefetch(sc, input, max_gap, |events| finish(run(events), events))
    } else {
        let mut events = crate::events::EventReader::new(sc, input).max_gap(max_gap);
        let result = run(&mut events);
        finish(result, &events)
    }
}

/// `pesim explain`: one visitor's events, each with its session, segments,
/// outcomes, scores, every action map's trigger and the gates it met.
pub fn explain(
    out: &mut dyn Write,
    err: &mut dyn Write,
    file: &Path,
    events: &Path,
    visitor: &str,
    html: Option<&Path>,
    max_gap: Option<Millis>,
) -> std::io::Result<i32> {
    let Some(sc) = load_valid(err, file)? else { return Ok(exit::FAILED) };
    let input = match open_events(events) {
        Ok(i) => i,
        Err(e) => {
            writeln!(err, "error: cannot read {}: {e}", events.display())?;
            return Ok(exit::FAILED);
        }
    };
    let opts = crate::sim::Options { trace: Some(visitor.to_string()), ..Default::default() };
    let mut ex = crate::report::explain::Explainer::new(&sc, visitor, out);
    let mut sample = crate::report::html::JourneySample::with_sizes(&sc, 0, 0).with_customer(visitor);
    let result = replay_lines(&sc, input, thread_count(None), max_gap, &mut |events| {
        let mut iter = std::iter::from_fn(|| events.next_item());
        crate::sim::replay(&sc, &mut iter, &opts, &mut crate::report::html::Tee(&mut ex, &mut sample))
    });
    ex.finish()?;
    if let (Some(path), Ok(_)) = (html, &result)
        && ex.events_seen() > 0
    {
        crate::report::html::write_visitor_report(&sc, path, &sample, visitor).map_err(naming("cannot write", path))?;
    }
    match result {
        Err((stop, text)) => {
            write!(err, "{}", render_line_error(events, stop.line, &text, &stop.error))?;
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
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(naming("cannot read the folder", p))?
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
        for (name, failure) in check_expectations(sc) {
            match &failure {
                None => writeln!(out, "ok   {file} › {name}")?,
                Some(why) => writeln!(out, "FAIL {file} › {name}\n{}", indent(why))?,
            }
            results.push(TestOutcome { file: file.clone(), name, failure });
        }
    }
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    let passed = results.len() - failed;
    if let Some(junit) = junit {
        std::fs::write(junit, junit_xml(&results)).map_err(naming("cannot write", junit))?;
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

/// Options shared by `run` and `generate`.
pub struct RunArgs {
    pub file: PathBuf,
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    /// `--threads`: for the visitors' shards; every core when absent or 0.
    pub threads: Option<usize>,
    pub sets: Vec<String>,
    pub quiet: bool,
}

/// Loads a scenario with `--set` edits and `--seed`, printing errors if it is invalid.
fn load_for_run(err: &mut dyn Write, args: &RunArgs) -> std::io::Result<Option<config::Scenario>> {
    let loaded = config::load_with(&args.file, None, &args.sets);
    if loaded.diagnostics.has_errors() || loaded.scenario.is_none() {
        print_diagnostics(err, &args.file, &loaded)?;
        return Ok(None);
    }
    let mut sc = loaded.scenario.expect("checked above");
    if let Some(seed) = args.seed {
        sc.seed = seed;
    }
    if sc.traffic.is_none() {
        writeln!(err, "error: {} has no `traffic` section: there are no visitors to simulate", args.file.display())?;
        writeln!(err, "  help: add `traffic:` (SPEC §5), or use `pesim replay` with recorded events")?;
        return Ok(None);
    }
    Ok(Some(sc))
}

/// Reports progress on a terminal, by simulated time.
struct Progress<'o> {
    inner: &'o mut dyn crate::sim::Output,
    bar: Option<indicatif::ProgressBar>,
    start: i64,
}

impl crate::sim::Output for Progress<'_> {
    fn decision(&mut self, d: &crate::engine::Decision) {
        self.inner.decision(d);
    }
    fn availability(&mut self, wg: config::model::WorkgroupId, p: &crate::availability::Published) {
        self.inner.availability(wg, p);
    }
    fn session_ended(&mut self, end: &crate::engine::SessionEnd) {
        self.inner.session_ended(end);
    }
    fn clock(&mut self, now: crate::clock::SimTime) {
        self.inner.clock(now);
        if let Some(bar) = &self.bar {
            bar.set_position(((now.0 - self.start) / 1000).max(0) as u64);
        }
    }
    fn event(&mut self, event: &crate::events::Event) {
        self.inner.event(event);
    }
    fn rejected(&mut self, line: u64, error: &crate::events::LineError) {
        self.inner.rejected(line, error);
    }
    fn features(&mut self, customer: &std::sync::Arc<str>, session: u32, values: &[f64]) {
        self.inner.features(customer, session, values);
    }
}

fn progress_bar(sc: &config::Scenario, quiet: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if quiet || !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new((sc.duration.0 / 1000).max(1) as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} simulated {pos}/{len} s [{bar:40}] {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// The output files in `dir`, decisions.jsonl formatted and written on a thread
/// of `scope` when there is more than one; `None` once the error is reported.
fn output_files<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    sc: &'s config::Scenario,
    dir: &Path,
    threads: usize,
    err: &mut dyn Write,
) -> std::io::Result<Option<crate::report::Files<'s>>> {
    let files = if threads > 1 {
        crate::report::Files::create_threaded(scope, sc, dir)
    } else {
        crate::report::Files::create(sc, dir)
    };
    match files {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            writeln!(err, "error: cannot write to {}: {e}", dir.display())?;
            Ok(None)
        }
    }
}

/// `pesim run`: the scenario's synthetic traffic through rules and contact center.
pub fn run(out: &mut dyn Write, err: &mut dyn Write, args: &RunArgs) -> std::io::Result<i32> {
    let Some(sc) = load_for_run(err, args)? else { return Ok(exit::FAILED) };
    let dir = args.out.clone().unwrap_or_else(|| default_out_dir(&sc));
    let threads = thread_count(args.threads);
    // With more than one thread, decisions.jsonl is written by a thread of this scope.
    std::thread::scope(|scope| {
        let Some(mut files) = output_files(scope, &sc, &dir, threads, err)? else { return Ok(exit::FAILED) };
        let bar = progress_bar(&sc, args.quiet);
        let mut sample = crate::report::html::JourneySample::new(&sc);
        let stats = {
            let start = crate::sim::origin(&sc).0;
            let mut both = crate::report::html::Tee(&mut files, &mut sample);
            let mut progress = Progress { inner: &mut both, bar: bar.clone(), start };
            // The writer mostly waits on the engine: the shards get every thread.
            let opts = crate::sim::Options { threads, ..crate::sim::Options::default() };
            crate::sim::simulate(&sc, &opts, &mut progress, None)
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let Some(stats) = stats else { return Ok(exit::FAILED) };
        finish_outputs(out, &sc, &dir, files, &stats, &sample, args.quiet)
    })
}

/// `pesim generate`: the event stream `run` would replay, as JSON Lines.
pub fn generate(out: &mut dyn Write, err: &mut dyn Write, args: &RunArgs) -> std::io::Result<i32> {
    let Some(sc) = load_for_run(err, args)? else { return Ok(exit::FAILED) };
    let mut file_out;
    let mut stdout_out;
    let sink: &mut dyn Write = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(naming("cannot write", path))?;
            file_out = std::io::BufWriter::with_capacity(1 << 16, file);
            &mut file_out
        }
        None => {
            stdout_out = std::io::BufWriter::new(out);
            &mut stdout_out
        }
    };
    let mut error: Option<std::io::Error> = None;
    let mut log = |ev: &crate::events::Event| {
        if error.is_none()
            && let Err(e) = crate::events::write_json(ev, &sc.interner, sink)
        {
            error = Some(e);
        }
    };
    // The journeys depend on decisions (an engaged chat changes where a visitor
    // goes), so generating runs the whole simulation and keeps only the events.
    let mut collect = crate::report::Collect::new(&sc);
    let opts = crate::sim::Options { threads: thread_count(args.threads), ..crate::sim::Options::default() };
    crate::sim::simulate(&sc, &opts, &mut collect, Some(&mut log));
    if let Some(e) = error {
        return Err(e);
    }
    sink.flush()?;
    Ok(exit::OK)
}

/// Runs the scenario once and checks its `expect` bounds; one result per expectation.
fn check_expectations(sc: &config::Scenario) -> Vec<(String, Option<String>)> {
    use config::model::Bound;
    if sc.expect.is_empty() {
        return Vec::new();
    }
    let mut collect = crate::report::Collect::new(sc);
    let Some(stats) = crate::sim::simulate(sc, &crate::sim::Options::default(), &mut collect, None) else {
        return sc
            .expect
            .iter()
            .map(|e| (format!("expect {}", e.metric), Some("`expect` needs a `traffic` section to run".into())))
            .collect();
    };
    sc.expect
        .iter()
        .map(|e| {
            let (ok, bound) = match crate::report::metric(sc, &stats, &collect.tally, &e.metric) {
                Err(why) => (Err(why), String::new()),
                Ok(v) => {
                    let (inside, bound) = match e.bound {
                        Bound::Between(a, b) => (v >= a && v <= b, format!("in [{a}, {b}]")),
                        Bound::AtLeast(a) => (v >= a, format!(">= {a}")),
                        Bound::AtMost(b) => (v <= b, format!("<= {b}")),
                        Bound::Equals(x) => ((v - x).abs() < 1e-9, format!("== {x}")),
                    };
                    (if inside { Ok(v) } else { Err(format!("got {}", fmt_metric(v))) }, bound)
                }
            };
            match ok {
                Ok(v) => (format!("expect {} {bound} (got {})", e.metric, fmt_metric(v)), None),
                Err(why) => (format!("expect {} {bound}", e.metric), Some(format!("- {why}, seed {}", sc.seed))),
            }
        })
        .collect()
}

fn fmt_metric(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:.4}") }
}

/// Options of `pesim sweep`.
pub struct SweepArgs {
    pub file: PathBuf,
    /// `KEY=V1,V2,...`, each varying one scenario value.
    pub sets: Vec<String>,
    pub runs: u64,
    pub threads: Option<usize>,
    /// `(I, N)`: run the I-th of N contiguous slices of the rows (0-based).
    pub shard: Option<(u64, u64)>,
    pub out: Option<PathBuf>,
    pub quiet: bool,
}

/// `--max-gap`'s value: a limit, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxGap(pub Option<Millis>);

impl Default for MaxGap {
    fn default() -> Self {
        MaxGap(Some(crate::events::DEFAULT_MAX_GAP))
    }
}

/// As `--max-gap` is written (the help shows the default so).
impl std::fmt::Display for MaxGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(gap) => write!(f, "{gap}"),
            None => f.write_str("none"),
        }
    }
}

/// Parses `--max-gap`: a duration such as `7d` or `36h`, or `none`.
pub fn parse_max_gap(text: &str) -> Result<MaxGap, String> {
    if text == "none" {
        return Ok(MaxGap(None));
    }
    match crate::dsl::parse_duration_ms(text) {
        Some(ms) if ms > 0 => Ok(MaxGap(Some(Millis(ms)))),
        Some(_) => Err("the gap must be longer than 0 (or `none` for no limit)".into()),
        None => Err(format!("`{text}` is not a duration: write e.g. `7d`, `36h`, `1h30m`, or `none`")),
    }
}

/// Parses `--lambda`: a finite number, 0 or more (a NaN would make every weight NaN).
pub fn parse_lambda(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Ok(_) => Err("the penalty must be a finite number, 0 or more (e.g. 0.01)".into()),
        Err(_) => Err(format!("`{text}` is not a number (e.g. 0.01)")),
    }
}

/// The most threads `--threads` may ask for: beyond the cores they only cost,
/// and a pool of 50,000 took longer to start than the run itself.
pub const MAX_THREADS: usize = 1024;

/// Parses `--threads`: 0 (every core) to [`MAX_THREADS`].
pub fn parse_threads(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n <= MAX_THREADS => Ok(n),
        Ok(_) => Err(format!("at most {MAX_THREADS} threads (0: one per core)")),
        Err(_) => Err(format!("`{text}` is not a whole number of threads")),
    }
}

/// Parses `I/N` for `--shard`.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (i, n) = text.split_once('/').ok_or("write the shard as I/N, e.g. 0/4")?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| format!("`{i}` is not a whole number"))?,
        n.trim().parse().map_err(|_| format!("`{n}` is not a whole number"))?,
    );
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: I must be in 0..N (0-based), N at least 1"));
    }
    Ok((i, n))
}

/// `pesim sweep`: the cross product of settings × seeds, in parallel, one row per run.
pub fn sweep(out: &mut dyn Write, err: &mut dyn Write, args: &SweepArgs) -> std::io::Result<i32> {
    use rayon::prelude::*;
    let axes = match crate::sweep::parse_axes(&args.sets) {
        Ok(a) => a,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(exit::USAGE);
        }
    };
    let plan = crate::sweep::Plan::new(axes, args.runs.max(1));
    // Check every combination before running any: a typo in the last value
    // should not surface after an hour of runs.
    let base = match load_for_run(
        err,
        &RunArgs { file: args.file.clone(), out: None, seed: None, threads: None, sets: vec![], quiet: true },
    )? {
        Some(sc) => sc,
        None => return Ok(exit::FAILED),
    };
    // Counted before any row is made: `--runs 1000000000` would fill the memory first.
    let help = "help: fewer settings or --runs, or split it with --shard I/N \
                (README: \"Sweeps, and scaling past one machine\")";
    let Some(total) = plan.row_count() else {
        // Shards of it could not be numbered: refused even with --shard.
        writeln!(err, "error: this sweep has more rows than can be numbered (over 2^64)\n  {help}")?;
        return Ok(exit::USAGE);
    };
    let slice = match args.shard {
        Some((i, n)) => crate::sweep::shard_range(total, i, n),
        None => 0..total,
    };
    if slice.len() > crate::sweep::MAX_ROWS {
        let most = crate::sweep::MAX_ROWS;
        writeln!(
            err,
            "error: this sweep would make {} rows here; one process runs at most {most}\n  {help}",
            slice.len()
        )?;
        return Ok(exit::USAGE);
    }
    for combo in plan.combinations() {
        let loaded = config::load_with(&args.file, None, &combo);
        if loaded.diagnostics.has_errors() || loaded.scenario.is_none() {
            writeln!(err, "with {}:", combo.join(" "))?;
            print_diagnostics(err, &args.file, &loaded)?;
            return Ok(exit::FAILED);
        }
    }
    let rows = plan.rows_in(slice, base.seed);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(std::io::Error::other)?;
    // The folder first: a path that cannot be one should not surface after the runs.
    let dir = args.out.clone().unwrap_or_else(|| Path::new("out").join(format!("{}-sweep", base.name)));
    std::fs::create_dir_all(&dir).map_err(naming("cannot create the folder", &dir))?;
    let started = std::time::Instant::now();
    let results: Vec<crate::sweep::RowResult> =
        pool.install(|| rows.par_iter().map(|row| crate::sweep::run_row(&args.file, row)).collect());
    let header = args.shard.is_none_or(|(i, _)| i == 0);
    let (csv, jsonl) = crate::sweep::render(&base, &plan, &results, header);
    for (name, text) in [("sweep.csv", csv), ("sweep.jsonl", jsonl)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(naming("cannot write", &path))?;
    }
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    if !args.quiet {
        writeln!(
            out,
            "{} runs ({} settings × {} seeds{}) in {:.1}s, {} failed\nwrote {}/{{sweep.csv,sweep.jsonl}}",
            results.len(),
            plan.combinations().len(),
            plan.runs,
            args.shard.map_or(String::new(), |(i, n)| format!(", shard {i}/{n} of {total} rows")),
            started.elapsed().as_secs_f64(),
            failed,
            dir.display()
        )?;
    }
    Ok(if failed > 0 { exit::FAILED } else { exit::OK })
}

/// Options of `pesim train`.
pub struct TrainArgs {
    pub file: PathBuf,
    pub outcome: String,
    pub sessions: u64,
    /// `NAME=EXPR` features replacing the outcome's own.
    pub features: Vec<String>,
    pub events: Option<PathBuf>,
    pub seed: Option<u64>,
    pub lambda: f64,
    pub write: bool,
    /// `--max-gap`, for `--events`.
    pub max_gap: Option<Millis>,
}

/// `pesim train`: fits the outcome's predictor on simulated (or recorded) sessions.
pub fn train(out: &mut dyn Write, err: &mut dyn Write, args: &TrainArgs) -> std::io::Result<i32> {
    use crate::train;
    let Some(base) = load_valid(err, &args.file)? else { return Ok(exit::FAILED) };
    let Some(outcome) = base.outcomes.iter().position(|o| o.id == args.outcome) else {
        let ids: Vec<&str> = base.outcomes.iter().map(|o| o.id.as_str()).collect();
        writeln!(err, "error: no outcome `{}` in {}", args.outcome, args.file.display())?;
        writeln!(err, "  help: the outcomes are: {}", ids.join(", "))?;
        return Ok(exit::USAGE);
    };
    // Train on journeys without any action: the model predicts the visitor, not our offers.
    let mut sets: Vec<String> = base.action_maps.iter().map(|m| format!("action_maps.{}.active=false", m.id)).collect();
    if !args.features.is_empty() {
        let mut features = Vec::new();
        let mut weights = Vec::new();
        for f in &args.features {
            let Some((name, expr)) = f.split_once('=') else {
                writeln!(err, "error: `--feature {f}` needs NAME=EXPR, e.g. pages=session.pageviews")?;
                return Ok(exit::USAGE);
            };
            let quoted = serde_json::to_string(expr.trim()).map_err(std::io::Error::other)?;
            features.push(format!("{}: {quoted}", name.trim()));
            weights.push(format!("{}: 0", name.trim()));
        }
        sets.push(format!(
            "outcomes.{}.predictor={{features: {{{}}}, weights: {{{}}}}}",
            args.outcome,
            features.join(", "),
            weights.join(", ")
        ));
    } else if base.outcomes[outcome].predictor.is_none() {
        writeln!(err, "error: outcome `{}` has no predictor to train", args.outcome)?;
        writeln!(
            err,
            "  help: give features, e.g. --feature pages=session.pageviews --feature cart='segment(\"cart\")'"
        )?;
        return Ok(exit::USAGE);
    }
    // Enough simulated time for about the sessions asked for.
    if args.events.is_none() {
        let Some(traffic) = &base.traffic else {
            writeln!(err, "error: {} has no `traffic`: give recorded sessions with --events", args.file.display())?;
            return Ok(exit::FAILED);
        };
        let mean_profile = if traffic.profile.is_empty() {
            1.0
        } else {
            traffic.profile.iter().sum::<f64>() / traffic.profile.len() as f64
        };
        let hours = args.sessions as f64 / (traffic.per_hour * mean_profile).max(1e-9);
        sets.push(format!("duration={}s", (hours * 3600.0).ceil().max(60.0) as u64));
    }
    let loaded = config::load_with(&args.file, None, &sets);
    let Some(mut sc) = loaded.scenario.filter(|_| !loaded.diagnostics.has_errors()) else {
        print_diagnostics(err, &args.file, &config::load_with(&args.file, None, &sets))?;
        return Ok(exit::FAILED);
    };
    if let Some(seed) = args.seed {
        sc.seed = seed;
    }
    let opts = crate::sim::Options {
        record_features: Some(crate::dsl::OutcomeId(outcome as u32)),
        responses: crate::engine::Responses::Recorded,
        ..Default::default()
    };
    let mut collector = train::Collector::new(outcome);
    match &args.events {
        Some(path) => {
            let input = match open_events(path) {
                Ok(i) => i,
                Err(e) => {
                    writeln!(err, "error: cannot read {}: {e}", path.display())?;
                    return Ok(exit::FAILED);
                }
            };
            let mut reader = crate::events::EventReader::new(&sc, input).max_gap(args.max_gap);
            let result = {
                let mut iter = std::iter::from_fn(|| reader.next_event());
                crate::sim::replay(&sc, &mut iter, &opts, &mut collector)
            };
            if let Err(stop) = result {
                write!(err, "{}", render_line_error(path, stop.line, reader.line_text(), &stop.error))?;
                return Ok(exit::FAILED);
            }
        }
        None => {
            crate::sim::simulate(&sc, &opts, &mut collector, None);
        }
    }
    let predictor = sc.outcomes[outcome].predictor.as_ref().expect("set above or in the file");
    let names: Vec<&str> = predictor.features.iter().map(|f| f.name.as_str()).collect();
    let (test, training): (Vec<train::Session>, Vec<train::Session>) =
        collector.sessions.iter().cloned().partition(|s| train::held_out(&s.key));
    let achieved = training.iter().filter(|s| s.achieved).count();
    if training.is_empty() || achieved == 0 || achieved == training.len() {
        writeln!(
            err,
            "error: {} training sessions, {} achieved `{}`: both outcomes are needed to fit a model",
            training.len(),
            achieved,
            args.outcome
        )?;
        return Ok(exit::FAILED);
    }
    let model = train::fit(&training, names.len(), args.lambda);
    let cuts = train::quantile_cuts(&model, &collector.sessions);
    let mut event_scores: Vec<(f64, bool)> =
        test.iter().flat_map(|s| s.events.iter().map(|x| (model.probability(x), s.achieved))).collect();
    let mut session_scores: Vec<(f64, bool)> =
        test.iter().map(|s| (train::session_max(&model, s), s.achieved)).collect();
    let fmt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    writeln!(
        err,
        "trained `{}` on {} sessions ({} achieved), held out {}: AUC {} per event, {} per session (max probability), log-loss {}",
        args.outcome,
        training.len(),
        achieved,
        test.len(),
        fmt(train::auc(&mut event_scores)),
        fmt(train::auc(&mut session_scores)),
        fmt(train::log_loss(&model, &test)),
    )?;
    let block = predictor_block(predictor, &model, &cuts);
    if args.write {
        match write_predictor(&args.file, &args.outcome, &block) {
            Ok(()) => writeln!(err, "wrote the predictor of `{}` into {}", args.outcome, args.file.display())?,
            Err(why) => {
                writeln!(err, "error: cannot write into {}: {why}", args.file.display())?;
                return Ok(exit::FAILED);
            }
        }
    } else {
        write!(out, "{block}")?;
    }
    Ok(exit::OK)
}

/// The `predictor:` block, ready to paste under the outcome.
fn predictor_block(p: &config::model::Predictor, model: &crate::train::Model, cuts: &[f64]) -> String {
    let mut s = String::from("predictor:\n  features:\n");
    for f in &p.features {
        s.push_str(&format!("    {}: {}\n", f.name, serde_json::Value::String(f.text.clone())));
    }
    s.push_str("  weights:\n");
    for (f, w) in p.features.iter().zip(&model.weights) {
        s.push_str(&format!("    {}: {:.6}\n", f.name, w));
    }
    s.push_str(&format!("  bias: {:.6}\n", model.bias));
    let cuts: Vec<String> = cuts.iter().map(|c| format!("{c:.6}")).collect();
    s.push_str(&format!("  quantiles: [{}]\n", cuts.join(", ")));
    s
}

/// Puts `block` under the outcome `id` of `file`, replacing its predictor if it
/// has one; the rest of the file (comments included) is kept as it is.
fn write_predictor(file: &Path, id: &str, block: &str) -> Result<(), String> {
    use config::yaml::{self, NodeKind};
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let root = yaml::parse(crate::diag::FileId(0), &text).map_err(|d| d.message)?;
    let find = |node: &yaml::Node, key: &str| match &node.kind {
        NodeKind::Map(pairs) => pairs.iter().find(|(k, _)| k.as_scalar() == Some(key)).cloned(),
        _ => None,
    };
    let (_, outcomes) = find(&root, "outcomes").ok_or("the outcome is not in this file (an include?)")?;
    let NodeKind::Seq(items) = &outcomes.kind else { return Err("`outcomes` is not a list".into()) };
    let item = items
        .iter()
        .find(|i| find(i, "id").is_some_and(|(_, v)| v.as_scalar() == Some(id)))
        .ok_or("the outcome is not in this file (an include?)")?;
    let NodeKind::Map(pairs) = &item.kind else { return Err("the outcome is not a mapping".into()) };
    let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = |at: usize| text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
    let first_key = &pairs.first().ok_or("the outcome is empty")?.0;
    if text[line_start(first_key.span.start)..first_key.span.start].contains('{') {
        return Err("the outcome is written as a flow mapping `{...}`; paste the printed block instead".into());
    }
    let indent = " ".repeat(first_key.span.start - line_start(first_key.span.start));
    let indented: String = block.lines().map(|l| format!("{indent}{l}\n")).collect();
    let (start, end) = match pairs.iter().find(|(k, _)| k.as_scalar() == Some("predictor")) {
        Some((k, v)) => (line_start(k.span.start), line_end(v.span.end.saturating_sub(1).max(k.span.start))),
        None => {
            let last = pairs.last().expect("not empty").1.span.end;
            let at = line_end(last.saturating_sub(1));
            (at, at)
        }
    };
    let mut new_text = String::with_capacity(text.len() + indented.len());
    new_text.push_str(&text[..start]);
    new_text.push_str(&indented);
    new_text.push_str(&text[end..]);
    // Never write a file that no longer loads.
    let check = config::load_with(file, Some(&new_text), &[]);
    if check.diagnostics.has_errors() {
        return Err("the edited file would not load; paste the printed block instead".into());
    }
    std::fs::write(file, new_text).map_err(|e| e.to_string())
}

/// `pesim import genesys`: the scenario goes to `path` (or standard output),
/// written only when the import succeeded, so a failure leaves no empty file.
pub fn import_genesys(
    out: &mut dyn Write,
    err: &mut dyn Write,
    paths: &[PathBuf],
    path: Option<&Path>,
) -> std::io::Result<i32> {
    let mut yaml = Vec::new();
    let code = crate::import::import_genesys(paths, &mut yaml, err)?;
    if code == exit::OK {
        match path {
            Some(p) => std::fs::write(p, &yaml).map_err(naming("cannot write", p))?,
            None => out.write_all(&yaml)?,
        }
    }
    Ok(code)
}

/// The end of `run` and `replay`: summary.json, report.html, and the table.
fn finish_outputs(
    out: &mut dyn Write,
    sc: &config::Scenario,
    dir: &Path,
    files: crate::report::Files<'_>,
    stats: &crate::sim::Stats,
    sample: &crate::report::html::JourneySample,
    quiet: bool,
) -> std::io::Result<i32> {
    let (tally, _) = files.finish(stats)?;
    crate::memory::release_free_memory();
    crate::report::html::write_report(sc, dir, sample)?;
    if !quiet {
        write!(out, "{}", crate::report::table(sc, stats, &tally))?;
        writeln!(out, "\nwrote {}/{{decisions.jsonl,availability.jsonl,summary.json,report.html}}", dir.display())?;
    }
    Ok(exit::OK)
}
