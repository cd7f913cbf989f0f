//! `report.html`: its structure and numbers for the bundled shop scenario
//! (sections, one SVG per chart, funnel counts equal to summary.json's),
//! hostile event data rendered as inert text, a real browser showing it with no
//! console error (skipped, with a message, where Chromium is not installed),
//! and (ignored by default) the time report writing adds to a large run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pesim::config::{Scenario, load_file, load_with};
use pesim::engine::Responses;
use pesim::events::EventReader;
use pesim::report::Files;
use pesim::report::html::{JourneySample, Tee, write_report, write_visitor_report};
use pesim::sim::{Options, replay, simulate};
use regex::Regex;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pesim-html-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn scenario(path: &str, sets: &[String]) -> Scenario {
    let loaded =
        if sets.is_empty() { load_file(&root().join(path)) } else { load_with(&root().join(path), None, sets) };
    loaded.scenario.unwrap_or_else(|| panic!("{path} loads"))
}

/// Runs the scenario's traffic into `dir` the way `pesim run` does, plus the report.
fn run_with_report(sc: &Scenario, dir: &Path) -> (JourneySample, Value) {
    let mut files = Files::create(sc, dir).expect("output folder");
    let mut sample = JourneySample::new(sc);
    let stats = simulate(sc, &Options::default(), &mut Tee(&mut files, &mut sample), None).expect("traffic");
    let (_, summary) = files.finish(&stats).expect("files written");
    write_report(sc, dir, &sample).expect("report written");
    (sample, summary)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The number in `<td ... ATTRS>N</td>`.
fn cell(html: &str, attrs: &str) -> u64 {
    let re = Regex::new(&format!(r#"{}>(\d+)<"#, regex::escape(attrs))).unwrap();
    let caps = re.captures(html).unwrap_or_else(|| panic!("no cell {attrs}"));
    caps[1].parse().unwrap()
}

#[test]
fn shop_report_has_every_section_and_the_summary_numbers() {
    let sc = scenario("scenarios/shop.yaml", &[]);
    let dir = temp("shop");
    let (sample, summary) = run_with_report(&sc, &dir);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();

    for id in ["overview", "funnels", "over-time", "outcomes", "journeys", "settings"] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "section {id} missing");
    }
    assert!(!html.contains("class=\"warn\""), "the report warns: files and summary disagree");

    // One SVG per chart, each with a title, and nothing else drawn.
    let journeys = sample.shown().len();
    assert!(journeys >= 10, "{journeys} journeys shown");
    let charts = sc.action_maps.len() + 5 + sc.outcomes.len() + journeys;
    assert_eq!(count(&html, "<figure class=\"chart"), charts);
    assert_eq!(count(&html, "<svg "), charts);
    assert_eq!(count(&html, "</svg>"), charts);
    assert_eq!(count(&html, "<svg "), Regex::new(r#"<svg [^>]*><title id="#).unwrap().find_iter(&html).count());
    assert_eq!(count(&html, "data-chart=\"funnel\""), sc.action_maps.len());
    assert_eq!(count(&html, "data-chart=\"journey\""), journeys);

    // The funnel counts are summary.json's.
    let maps = summary["actionMaps"].as_object().unwrap();
    assert_eq!(maps.len(), sc.action_maps.len());
    let mut offered = 0;
    let mut blocked = 0;
    for (id, m) in maps {
        for (state, n) in m["states"].as_object().unwrap() {
            assert_eq!(
                cell(&html, &format!("data-map=\"{id}\" data-state=\"{state}\"")),
                n.as_u64().unwrap(),
                "{id} {state}"
            );
        }
        for (reason, n) in m["blocked"].as_object().unwrap() {
            assert_eq!(
                cell(&html, &format!("data-map=\"{id}\" data-reason=\"{reason}\"")),
                n.as_u64().unwrap(),
                "{id} {reason}"
            );
            blocked += n.as_u64().unwrap();
        }
        offered += m["states"]["offered"].as_u64().unwrap();
    }
    assert!(offered > 0 && blocked > 0);
    // The per-minute chart accounts for every offer and block.
    assert!(html.contains(&format!("data-offered=\"{offered}\" data-blocked=\"{blocked}\"")));

    // Service level rebuilt from decisions equals the summary's; availability lines equal updates published.
    for (id, w) in summary["workgroups"].as_object().unwrap() {
        if let Some(sl) = w["serviceLevel"]["achieved"].as_f64() {
            let text = format!("data-workgroup=\"{id}\">{:.1}%<", 100.0 * sl);
            assert!(html.contains(&text), "service level of {id}: {text}");
        }
        let updates = w["updatesPublished"].as_u64().unwrap();
        assert!(html.contains(&format!("data-updates=\"{updates}\">{updates}<")), "updates of {id}");
    }

    // Per-segment outcome rates cover every session in which the segment was assigned.
    for (id, n) in summary["segments"].as_object().unwrap() {
        let re = Regex::new(&format!(
            r"<td>segment {}</td><td class=.n.>\d+ / (\d+)</td><td class=.n.>[^<]*</td><td class=.n.>\d+ / (\d+)</td>",
            regex::escape(id)
        ))
        .unwrap();
        for caps in re.captures_iter(&html) {
            let sessions: u64 = caps[1].parse::<u64>().unwrap() + caps[2].parse::<u64>().unwrap();
            assert_eq!(sessions, n.as_u64().unwrap(), "sessions with segment {id}");
        }
        assert_eq!(re.captures_iter(&html).count(), sc.outcomes.len(), "segment {id} rows");
    }

    // Self-contained: no script, nothing fetched.
    assert!(!html.to_lowercase().contains("<script"));
    only_our_markup("report.html", &html);
    assert!(!html.contains(" src="));
    for href in Regex::new(r#"href="([^"]*)""#).unwrap().captures_iter(&html) {
        assert!(href[1].starts_with('#') || href[1].starts_with("data:"), "link to {}", &href[1]);
    }
    assert!(html.contains("Content-Security-Policy"));
    // Reproducible: the settings and seed are shown.
    assert!(html.contains("<th>seed</th><td>42</td>"));

    // The report is a function of the files and the sample.
    let first = std::fs::read(dir.join("report.html")).unwrap();
    write_report(&sc, &dir, &sample).unwrap();
    assert!(first == std::fs::read(dir.join("report.html")).unwrap(), "report.html is not deterministic");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn journey_sample_is_bounded_and_deterministic() {
    let sc = scenario("scenarios/shop.yaml", &[]);
    let dir = temp("bounded");
    let sampled = |pool: usize, shown: usize, customer: Option<&str>| {
        let mut files = Files::create(&sc, &dir).unwrap();
        let mut sample = JourneySample::with_sizes(&sc, pool, shown);
        if let Some(c) = customer {
            sample.request(c);
        }
        let stats = simulate(&sc, &Options::default(), &mut Tee(&mut files, &mut sample), None).unwrap();
        files.finish(&stats).unwrap();
        sample
    };
    // A visitor well past the first five, asked for by id.
    let late = sampled(60, 0, None).customers()[59].to_string();
    let sample = sampled(5, 3, Some(&late));
    let customers = sample.customers();
    assert_eq!(customers.len(), 6, "{customers:?}");
    assert_eq!(customers[0], late);
    assert_eq!(customers[1..], ["v0", "v1", "v2", "v3", "v4"]);
    assert_eq!(sample.shown().len(), 4);
    assert_eq!(sample.shown()[0], late, "a requested visitor comes first");
    assert!(sample.items(&late) > 0);
    assert_eq!(sample.shown(), sampled(5, 3, Some(&late)).shown(), "the same run picks the same journeys");
    let path = dir.join("visitor.html");
    write_visitor_report(&sc, &path, &sample, &late).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.contains(&format!("data-customer=\"{late}\"")));
    assert_eq!(count(&html, "<svg "), 1);
    assert!(write_visitor_report(&sc, &dir.join("x.html"), &sample, "nobody").is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Customer ids, titles, URLs, attribute and context values that try to break out of the page.
const HOSTILE: &str = r#"{"createdDate":"2026-11-27T08:00:01.000Z","customerCookieId":"<script>alert(1)</script>","eventName":"page_viewed","page":{"url":"https://shop.example/cart?q=<script>alert(2)</script>&x=\"'><svg onload=alert(3)>","title":"<script>alert(1)</script>"},"device":{"category":"mobile"},"referrer":{"url":"javascript:alert(4)","medium":"</textarea><script>alert(5)</script>"}}
{"createdDate":"2026-11-27T08:00:02.000Z","customerCookieId":"x\" onmouseover=\"alert(6)","eventName":"page_viewed","page":{"url":"https://shop.example/help/faq\"><img src=x onerror=alert(7)>","title":"</title></textarea>\"'<b>bold</b>"},"device":{"category":"<img src=x onerror=alert(8)>"}}
{"createdDate":"2026-11-27T08:00:05.000Z","customerCookieId":"x\" onmouseover=\"alert(6)","eventName":"help_search","attributes":{"query":"</textarea><script>alert(9)</script>"}}
{"createdDate":"2026-11-27T08:00:08.000Z","customerCookieId":"x\" onmouseover=\"alert(6)","eventName":"page_viewed","page":{"url":"https://shop.example/help/a'b\"c","title":"' onfocus='alert(10)"}}
{"createdDate":"2026-11-27T08:00:10.000Z","customerCookieId":"<script>alert(1)</script>","eventName":"cart_updated","attributes":{"value":"<script>alert(11)</script>"}}
{"createdDate":"2026-11-27T08:00:31.000Z","customerCookieId":"<script>alert(1)</script>","eventName":"idle_30_sec"}
{"createdDate":"2026-11-27T08:00:36.000Z","customerCookieId":"<script>alert(1)</script>","actionEvent":{"actionMap":"cart_help","state":"accepted"}}
{"createdDate":"2026-11-27T08:00:40.000Z","customerCookieId":"</textarea><img src=x onerror=alert(12)>","eventName":"page_viewed","page":{"url":"javascript:alert(13)","title":"\"><script>alert(14)</script>"},"attributes":{"value":{"dataType":"string","value":"\"><svg/onload=alert(15)>"}}}
{"createdDate":"2026-11-27T08:01:00.000Z","customerCookieId":"</textarea><img src=x onerror=alert(12)>","eventName":"cart_updated","attributes":{"value":"200"}}
"#;

/// Markup the hostile input would create if any of it reached the page unescaped.
const BREAKOUTS: [&str; 7] =
    ["<script", "<img", "<svg onload", "<svg/onload", "</textarea", "<b>bold", "href=\"javascript"];

/// The elements the report is made of: any other tag came from the input.
const TAGS: [&str; 45] = [
    "html",
    "head",
    "meta",
    "link",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "h3",
    "p",
    "nav",
    "a",
    "main",
    "section",
    "div",
    "b",
    "span",
    "small",
    "code",
    "br",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "figure",
    "figcaption",
    "details",
    "summary",
    "footer",
    "svg",
    "desc",
    "line",
    "text",
    "tspan",
    "rect",
    "circle",
    "polygon",
    "polyline",
    "path",
];

/// Every tag is one of ours, and none has an event-handler attribute.
fn only_our_markup(file: &str, html: &str) {
    let tag = Regex::new(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>").unwrap();
    let handler = Regex::new(r#"(?i)[\s"'/]on[a-z]+\s*="#).unwrap();
    let quoted = Regex::new(r#""[^"]*""#).unwrap();
    for caps in tag.captures_iter(&html.replace("<!DOCTYPE html>", "")) {
        assert!(TAGS.contains(&&caps[2]), "{file}: a <{}> element: {}", &caps[2], &caps[0]);
        let attrs = quoted.replace_all(&caps[3], "\"\"");
        assert!(!handler.is_match(&attrs), "{file}: an event handler in {}", &caps[0]);
    }
}

fn replay_hostile(dir: &Path) -> (Scenario, JourneySample) {
    let sc = scenario("scenarios/shop.yaml", &[]);
    let traced = "x\" onmouseover=\"alert(6)";
    let mut files = Files::create(&sc, dir).unwrap();
    let mut sample = JourneySample::new(&sc).with_customer(traced);
    let opts = Options { trace: Some(traced.to_string()), responses: Responses::Recorded, ..Options::default() };
    let mut reader = EventReader::new(&sc, HOSTILE.as_bytes());
    let stats = {
        let mut iter = std::iter::from_fn(|| reader.next_event());
        replay(&sc, &mut iter, &opts, &mut Tee(&mut files, &mut sample)).expect("valid events")
    };
    assert_eq!(stats.events, 8);
    assert_eq!(stats.responses, 1);
    files.finish(&stats).unwrap();
    write_report(&sc, dir, &sample).unwrap();
    write_visitor_report(&sc, &dir.join("visitor.html"), &sample, traced).unwrap();
    (sc, sample)
}

#[test]
fn hostile_event_data_renders_as_text() {
    let dir = temp("hostile");
    let (_, sample) = replay_hostile(&dir);
    assert_eq!(sample.shown().len(), 3, "every hostile visitor is shown");
    for file in ["report.html", "visitor.html"] {
        let html = std::fs::read_to_string(dir.join(file)).unwrap();
        let lower = html.to_lowercase();
        for b in BREAKOUTS {
            assert!(!lower.contains(b), "{file}: unescaped {b:?}");
        }
        only_our_markup(file, &html);
        // Shown as text: in the journey table (minijinja) and in SVG tooltips (ours).
        if file == "report.html" {
            assert!(html.contains("&lt;script&gt;alert(1)"), "{file}: the hostile title is not shown");
        }
        assert!(html.contains("&lt;b&gt;bold&lt;"), "{file}");
        assert!(lower.contains("onmouseover=&quot;alert(6)") || lower.contains("onmouseover=&#34;alert(6)"), "{file}");
        assert!(html.contains("<title>") && html.contains("alert(7)&gt;"), "{file}");
        assert_eq!(count(&html, "<svg "), count(&html, "</svg>"), "{file}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    // The attribute values, the context and the recorded answer are in the journeys.
    for text in ["alert(9)", "alert(11)", "alert(8)", "alert(15)", "cart_help: accepted (recorded)"] {
        assert!(html.contains(text), "{text} not shown");
    }
    // The traced visitor's page shows the engine's trace (triggers and gates).
    let visitor = std::fs::read_to_string(dir.join("visitor.html")).unwrap();
    assert!(visitor.contains("help_assistant: <span class=\"ok\">trigger true</span>"), "{visitor}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The commands as a user runs them: the sample must see the run's events (an
/// output in between that drops `Output::event` leaves the journeys empty).
#[test]
fn pesim_run_replay_and_explain_write_reports_with_journeys() {
    let dir = temp("cli");
    let pesim = |args: &[&str]| {
        let out =
            Command::new(env!("CARGO_BIN_EXE_pesim")).current_dir(root()).args(args).output().expect("pesim runs");
        assert!(out.status.success(), "pesim {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let (run, replayed, visitor) = (dir.join("run"), dir.join("replay"), dir.join("c-1.html"));
    let events = "tests/events/shop_journeys.jsonl";
    pesim(&["run", "scenarios/shop.yaml", "--quiet", "--out", run.to_str().unwrap()]);
    pesim(&["replay", "scenarios/shop.yaml", "--events", events, "--quiet", "--out", replayed.to_str().unwrap()]);
    pesim(&[
        "explain",
        "scenarios/shop.yaml",
        "--events",
        events,
        "--visitor",
        "c-1",
        "--html",
        visitor.to_str().unwrap(),
    ]);
    for report in [run.join("report.html"), replayed.join("report.html"), visitor] {
        let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{}: {e}", report.display()));
        let warnings: Vec<&str> = html.lines().filter(|l| l.contains("class=\"warn\"")).collect();
        assert!(warnings.is_empty(), "{}: {warnings:?}", report.display());
        assert!(html.contains("class=\"badge b-page\""), "{}: no page in the journeys", report.display());
    }
    let html = std::fs::read_to_string(dir.join("c-1.html")).unwrap();
    assert!(html.contains("data-customer=\"c-1\"") && html.contains("trigger false: "), "explain --html has no trace");
    let _ = std::fs::remove_dir_all(&dir);
}

fn browser_check(report: &Path, shot: &Path) -> Option<String> {
    let out = Command::new("bash")
        .arg(root().join("tests/browser/check_report.sh"))
        .arg(report)
        .arg(shot)
        .output()
        .expect("bash runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.code() == Some(77) {
        eprintln!("SKIPPED browser check: {}", text.trim());
        return None;
    }
    assert!(out.status.success(), "browser check of {} failed:\n{text}", report.display());
    Some(text)
}

#[test]
fn browser_shows_the_reports_without_console_errors() {
    let dir = temp("browser");
    let sc = scenario("scenarios/shop.yaml", &[]);
    run_with_report(&sc, &dir);
    let shot = dir.join("report.png");
    let Some(out) = browser_check(&dir.join("report.html"), &shot) else { return };
    println!("{out}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 50_000, "screenshot of {} bytes", png.len());
    // PESIM_SCREENSHOT=docs/report.png refreshes the screenshot kept in docs/.
    if let Ok(keep) = std::env::var("PESIM_SCREENSHOT") {
        std::fs::copy(&shot, root().join(keep)).unwrap();
    }
    // The hostile pages too: an injected script would show as a CSP violation or a run script.
    let hostile = temp("browser-hostile");
    replay_hostile(&hostile);
    for file in ["report.html", "visitor.html"] {
        browser_check(&hostile.join(file), &hostile.join(format!("{file}.png")));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&hostile);
}

/// `PESIM_REPORT_DIR=out/big cargo test --release --test report_html -- --ignored --nocapture`
/// times `write_report` on an existing run's folder; without it, runs the shop at
/// ~1M events (`traffic.arrivals.per_hour=6000`, `duration=40h`), timing both.
#[test]
#[ignore]
fn report_writing_adds_under_a_tenth_to_a_large_run() {
    let sets = ["traffic.arrivals.per_hour=6000".to_string(), "duration=40h".to_string()];
    let sc = scenario("scenarios/shop.yaml", &sets);
    let (dir, run_s) = match std::env::var("PESIM_REPORT_DIR") {
        Ok(d) => (PathBuf::from(d), None),
        Err(_) => {
            let dir = temp("large");
            let started = Instant::now();
            let mut files = Files::create(&sc, &dir).unwrap();
            let mut sample = JourneySample::new(&sc);
            let stats = simulate(&sc, &Options::default(), &mut Tee(&mut files, &mut sample), None).unwrap();
            files.finish(&stats).unwrap();
            let run_s = started.elapsed().as_secs_f64();
            println!("run: {} events in {run_s:.2} s (with the journey sample)", stats.events);
            (dir, Some(run_s))
        }
    };
    let sample = JourneySample::new(&sc);
    let started = Instant::now();
    write_report(&sc, &dir, &sample).unwrap();
    let report_s = started.elapsed().as_secs_f64();
    let size = |f: &str| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0);
    println!(
        "write_report: {report_s:.3} s for decisions.jsonl {} MB, availability.jsonl {} MB → report.html {} kB",
        size("decisions.jsonl") / 1_000_000,
        size("availability.jsonl") / 1_000_000,
        size("report.html") / 1000
    );
    if let Some(run_s) = run_s {
        println!("report writing adds {:.1}% to the run", 100.0 * report_s / run_s);
        assert!(report_s < 0.1 * run_s, "report {report_s:.2} s, run {run_s:.2} s");
    }
}
