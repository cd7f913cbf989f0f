//! `pesim import genesys`: Journey API JSON written from the documented shapes
//! (`tests/genesys/`) → a native scenario. The YAML and the notes are snapshotted;
//! every produced file must load with no error and no warning other than the
//! expected "workgroup has no licensed agent" (the API does not export staffing);
//! replays through imported scenarios give the decisions the JSON implies; invalid
//! input gives located errors and no output.

use std::path::{Path, PathBuf};

use pesim::config::{Loaded, load_str};
use pesim::diag::{Severity, render};
use pesim::import::{Conversion, convert, import_genesys};

/// The `*.json` files of a folder (relative to the repository root), sorted.
fn json_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| Path::new(dir).join(p.file_name().unwrap()))
        .collect();
    files.sort();
    files
}

fn read(files: &[PathBuf]) -> Vec<(String, String)> {
    files.iter().map(|p| (p.display().to_string().replace('\\', "/"), std::fs::read_to_string(p).unwrap())).collect()
}

fn rendered(loaded: &Loaded) -> String {
    loaded.diagnostics.list.iter().map(|d| render(&loaded.sources, d)).collect()
}

/// Loads the YAML and checks it: no error, and only the staffing warning.
fn load_clean(name: &str, yaml: &str) -> Loaded {
    let loaded = load_str(name, yaml);
    assert!(loaded.scenario.is_some(), "{name} does not load:\n{}\n{yaml}", rendered(&loaded));
    for d in &loaded.diagnostics.list {
        assert!(
            d.severity == Severity::Warning && d.message.contains("has no licensed agent"),
            "unexpected diagnostic in {name}:\n{}\n{yaml}",
            rendered(&loaded)
        );
    }
    loaded
}

fn convert_ok(inputs: &[(String, String)]) -> Conversion {
    match convert(inputs) {
        Ok(c) => c,
        Err(errors) => panic!("{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

#[test]
fn full_export_imports_and_passes_check() {
    let conv = convert_ok(&read(&json_files("tests/genesys/full")));
    insta::assert_snapshot!("full_yaml", conv.yaml);
    insta::assert_snapshot!("full_notes", conv.notes.join("\n"));
    let loaded = load_clean("imported.yaml", &conv.yaml);
    let sc = loaded.scenario.unwrap();
    // Every object of the inputs is there (plus stubs for the missing references).
    assert_eq!(sc.workgroups.len(), 3 + 1, "3 targets and the stub for chats without a target");
    assert_eq!(sc.segments.len(), 9 + 1, "8 + 1 segments, a stub for the missing one");
    assert_eq!(sc.outcomes.len(), 3 + 1, "3 outcomes, a stub for the missing one");
    assert_eq!(sc.action_maps.len(), 10);
    // Every note is also a comment in the YAML.
    // Every note is also a comment in the YAML (but the paging one, which belongs to no item).
    for note in conv.notes.iter().filter(|n| !n.contains("not among the inputs: pass every page")) {
        let (place, rest) = note.split_once(": $").unwrap();
        let line = place.rsplit_once(':').unwrap().0;
        let why = rest.split_once(": ").unwrap().1;
        let why = why.split_once("; criterion").map_or(why, |w| w.0);
        assert!(conv.yaml.contains(&format!("# note: {why}")) && conv.yaml.contains(&format!("({line})")), "{note}");
    }
}

#[test]
fn each_file_alone_imports_with_stubs() {
    for file in json_files("tests/genesys/full").into_iter().chain(json_files("tests/genesys/replay")) {
        let conv = convert_ok(&read(std::slice::from_ref(&file)));
        load_clean(&file.display().to_string(), &conv.yaml);
    }
}

#[test]
fn every_operator_activation_and_media_type_is_mapped() {
    let conv = convert_ok(&read(&json_files("tests/genesys/full")));
    let y = &conv.yaml;
    for text in [
        // operators
        r#"page.url contains "/cart""#,
        r#"lower(device.category) == "mobile""#,
        r#"geo.country in ["IE", "GB"]"#,
        r#"browser.family != "Bot""#,
        r#"campaign.source not in ["spam", "junk"]"#,
        "attributes.value >= 150",
        "attributes.price > 10",
        "attributes.price < 500",
        "attributes.price <= 499.99",
        r#"(page.pathname starts_with "/help" or page.pathname starts_with "/support")"#,
        r#"lower(page.title) ends_with " - help""#,
        r#"page.query not contains "utm_source=spam""#,
        r#"page.keywords not contains all ["beta", "internal"]"#,
        r#"page.fragment contains any ["faq", "contact"]"#,
        r#"page.url not contains any ["/help/", "/article/"]"#,
        r#"lower(search_query) contains all ["return", "refund"]"#,
        r#"page.url contains "/checkout" and page.url not contains "/checkout/done""#,
        "authenticated == true",
        "authenticated != false",
        // journey patterns
        r#"count(page_viewed where page.url contains "/cart") >= 1"#,
        "visitor.count(cart_updated where attributes.value >= 150) >= 2",
        r#"count(* where event.name == "add-to-cart") >= 1"#,
        // activations
        "activation: immediate",
        "activation: {delay: 20s}",
        "activation: next_session",
        // media types
        "type: webchat",
        "type: web_messaging",
        "type: content_offer",
        "type: webhook",
        // outcome conditions
        r#"outcome("purchase").max_probability >= 0.7"#,
        r#"outcome("purchase").probability <= 0.3"#,
        r#"outcome("purchase").max_quantile >= 0.66"#,
        r#"outcome("purchase").quantile < 0.12"#,
    ] {
        assert!(y.contains(text), "`{text}` not in the YAML:\n{y}");
    }
    assert_eq!(y.matches("activation: next_session").count(), 2, "on-next-visit and on-next-session");
}

#[test]
fn ids_are_readable_unique_and_keep_the_genesys_uuid() {
    let conv = convert_ok(&read(&json_files("tests/genesys/full")));
    let y = &conv.yaml;
    assert!(y.contains("  - id: cart_visitors  # genesys_id: 5f0c8a1e-1b2c-4d3e-8f90-a1b2c3d4e5f6\n"));
    assert!(y.contains("  - id: cart_visitors_2  # genesys_id: d184a296-93a4-45b6-8178-293a4b5c6d74\n"));
    assert!(y.contains("  - id: mobile_visitors_ie_gb  # genesys_id: 6a1d9b2f-2c3d-4e4f-9a01-b2c3d4e5f607\n"));
    assert!(y.contains("  - id: action_map_f7081929  # genesys_id: f7081929-3a4b-4d5e-9360-e5f60718293a\n"));
    // References are rewritten to the readable ids.
    assert!(y.contains(r#"(segment("cart_visitors") or segment("mobile_visitors_ie_gb"))"#), "{y}");
    assert!(y.contains("{type: webchat, target: sales_queue, pacing: true}"));
    assert!(y.contains("{type: webchat, target: overflow_team, pacing: false}"));
    assert!(y.contains("{type: web_messaging, target: support, pacing: true}"));
}

#[test]
fn unmappable_items_are_reported_with_file_line_and_json_path() {
    let conv = convert_ok(&read(&json_files("tests/genesys/full")));
    let has = |file_line: &str, path: &str, why: &str| {
        assert!(
            conv.notes.iter().any(|n| n.starts_with(file_line) && n.contains(path) && n.contains(why)),
            "no note `{file_line} {path} {why}` in:\n{}",
            conv.notes.join("\n")
        );
    };
    has("tests/genesys/full/segments.json:", "$.entities[4].context.patterns[0].criteria[17]", "ipOrganization");
    has("tests/genesys/full/segments.json:", "$.entities[5].isActive", "inactive");
    has("tests/genesys/full/segments.json:", "$.entities[7].externalSegment", "no pesim equivalent");
    has("tests/genesys/full/outcomes.json:", "$", "page 2 of 2");
    has("tests/genesys/full/actionmaps.json:", "$.entities[7].triggerWithSegments[0]", "not among the inputs");
    has("tests/genesys/full/actionmaps.json:", "$.entities[8].action", "no `actionTargetId`");
    // file:line:col of the ipOrganization criterion.
    let text = std::fs::read_to_string("tests/genesys/full/segments.json").unwrap();
    let line =
        text.lines().position(|l| l.contains(r#""ipOrganization", "values": ["Acme Corp"], "operator": "equal""#));
    let line = line.unwrap() + 1;
    assert!(conv.notes.iter().any(|n| n.starts_with(&format!("tests/genesys/full/segments.json:{line}:15: "))));
}

/// The replay set: its scenario with hand-checked cases appended (SPEC §8).
const REPLAY_CASES: &str = r#"
start: 2026-11-27T08:00:00Z
cases:
  - name: a cart visitor gets the cart chat at once
    availability: {sales: {agents_logged_in: 2, agents_available: 1, ewt: 0s}}
    events:
      - {at: 0s, pageview: "https://shop.example/", title: Home}
      - {at: 20s, pageview: "https://shop.example/cart", title: Cart}
    expect:
      - {at: 20s, segment: cart_visitors}
      - {at: 20s, action_map: cart_help, state: qualified}
      - {at: 20s, action_map: cart_help, state: offered, target: sales}
      - {never: {action_map: checkout_chat, state: qualified}}
      - {never: {action_map: retired_hook, state: qualified}}

  - name: the segment ignores case, the page condition does not
    availability: {sales: {agents_logged_in: 2, agents_available: 1, ewt: 0s}}
    events:
      - {at: 0s, pageview: "https://shop.example/CHECKOUT"}
      - {at: 10s, pageview: "https://shop.example/p/1"}
      - {at: 40s, pageview: "https://shop.example/cart"}
    expect:
      - {at: 0s, segment: cart_visitors}
      - {at: 0s, action_map: cart_help, blocked: PageUrlConditionsNotMatching}
      - {at: 40s, action_map: cart_help, state: offered, target: sales}

  - name: the delayed checkout chat shows 15 s later if still on the page
    availability: {sales: {agents_logged_in: 2, agents_available: 1, ewt: 0s}}
    events:
      - {at: 0s, pageview: "https://shop.example/pay", title: Checkout}
    expect:
      - {at: 0s, action_map: checkout_chat, state: qualified}
      - {at: 15s, action_map: checkout_chat, state: offered, target: sales}

  - name: no agents logged in blocks the paced chat
    availability: {sales: {agents_logged_in: 0}}
    events:
      - {at: 0s, pageview: "https://shop.example/cart"}
    expect:
      - {at: 0s, action_map: cart_help, blocked: NoAvailableAgents}
      - {never: {action_map: cart_help, state: offered}}

  - name: mobile visitors from Ireland get the banner at their next visit
    visitor: {device: {category: Mobile}, geolocation: {country: IE}}
    events:
      - {at: 0s, pageview: "https://shop.example/"}
      - {at: 30m, pageview: "https://shop.example/p/2"}
    expect:
      - {at: 0s, segment: mobile_ireland}
      - {at: 0s, action_map: mobile_banner, state: qualified}
      - {at: 30m, action_map: mobile_banner, state: offered}

  - name: mobile visitors from elsewhere do not
    visitor: {device: {category: mobile}, geolocation: {country: FR}}
    events:
      - {at: 0s, pageview: "https://shop.example/"}
      - {at: 30m, pageview: "https://shop.example/p/2"}
    expect:
      - {never: {segment: mobile_ireland}}
      - {never: {action_map: mobile_banner, state: qualified}}

  - name: a big cart fires the hook, a small one does not
    events:
      - {at: 0s, pageview: "https://shop.example/p/3"}
      - {at: 5s, record: cart_updated, attributes: {value: 150}}
      - {at: 9s, record: cart_updated, attributes: {value: "250"}}
    expect:
      - {never: {at: 5s, segment: big_cart}}
      - {at: 9s, segment: big_cart}
      - {at: 9s, action_map: big_cart_hook, state: offered}
"#;

#[test]
fn replay_through_imported_scenario_gives_the_expected_offers() {
    let conv = convert_ok(&read(&json_files("tests/genesys/replay")));
    insta::assert_snapshot!("replay_yaml", conv.yaml);
    assert!(conv.notes.is_empty(), "{:?}", conv.notes);
    let text = format!("{}{REPLAY_CASES}", conv.yaml);
    let loaded = load_clean("replay.yaml", &text);
    let sc = loaded.scenario.unwrap();
    assert_eq!(sc.cases.len(), 7);
    for case in &sc.cases {
        let result = pesim::cases::run_case(&sc, case);
        assert!(
            result.passed(),
            "case `{}` failed: {:?} {:?}\ndecisions:\n{}",
            case.name,
            result.failures,
            result.error,
            result.decisions.iter().map(|d| d.describe(&sc, Some(result.origin))).collect::<String>()
        );
    }
}

#[test]
fn invalid_input_gives_located_errors_and_no_output() {
    insta::glob!("genesys/err/*.json", |path| {
        let name = format!("tests/genesys/err/{}", path.file_name().unwrap().to_string_lossy());
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = import_genesys(&[PathBuf::from(&name)], &mut out, &mut err).unwrap();
        assert_eq!(code, 1, "{name} should fail");
        assert!(out.is_empty(), "nothing is written for {name}");
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains(&format!("--> {name}:")), "{err}");
        let errors = convert(&read(&[PathBuf::from(&name)])).unwrap_err();
        assert!(errors.iter().all(|e| e.line >= 1 && e.col >= 1));
        insta::assert_snapshot!("errors", err);
    });
}

#[test]
fn a_folder_means_its_json_files() {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = import_genesys(&[PathBuf::from("tests/genesys/replay")], &mut out, &mut err).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    let expected = convert_ok(&read(&json_files("tests/genesys/replay")));
    assert_eq!(String::from_utf8(out).unwrap(), expected.yaml);
    assert_eq!(String::from_utf8(err).unwrap(), "imported 3 files: everything mapped\n");
}

#[test]
fn notes_go_to_the_error_stream() {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let files = json_files("tests/genesys/full");
    let code = import_genesys(&files, &mut out, &mut err).unwrap();
    assert_eq!(code, 0);
    let err = String::from_utf8(err).unwrap();
    let conv = convert_ok(&read(&files));
    assert!(err.starts_with("note: "), "{err}");
    assert!(err.ends_with(&format!("imported 5 files: {} notes (also comments in the scenario)\n", conv.notes.len())));
}

#[test]
fn missing_paths_and_empty_folders_are_errors() {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = import_genesys(&[PathBuf::from("tests/genesys/nope.json")], &mut out, &mut err).unwrap();
    assert_eq!(code, 1);
    assert!(String::from_utf8_lossy(&err).starts_with("error: cannot read tests/genesys/nope.json: "));
    let mut err = Vec::new();
    // A folder with files but no .json among them.
    let dir = std::env::temp_dir().join(format!("pesim-import-nojson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "not json").unwrap();
    let code = import_genesys(std::slice::from_ref(&dir), &mut out, &mut err).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1);
    assert!(String::from_utf8_lossy(&err).contains("has no .json file"), "{}", String::from_utf8_lossy(&err));
    assert!(out.is_empty());
}

#[test]
fn odd_documents_are_noted_not_fatal() {
    let inputs = vec![
        ("a.json".to_string(), "[1, {\"hello\": \"world\"}]".to_string()),
        ("b.json".to_string(), "\"text\"".to_string()),
        ("c.json".to_string(), "\u{feff}{\"entities\": []}".to_string()),
        // A repeated key: the last value counts (as in serde_json), the first is still reported.
        ("d.json".to_string(), r#"{"displayName": "D", "scope": "Session", "foo": 1, "foo": null}"#.to_string()),
    ];
    let conv = convert_ok(&inputs);
    insta::assert_snapshot!("odd_notes", conv.notes.join("\n"));
    load_clean("odd.yaml", &conv.yaml);
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let inputs = vec![("x.json".to_string(), "{\n  \"a\": [1, 2,\n}\n".to_string())];
    let errors = convert(&inputs).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].to_string(), "x.json:3:1: invalid JSON: expected value (at $)");
    let inputs = vec![("y.json".to_string(), String::new())];
    let errors = convert(&inputs).unwrap_err();
    assert_eq!(errors[0].to_string(), "y.json:1:1: invalid JSON: EOF while parsing a value (at $)");
}

/// A segment with one criterion, as the API would return it.
fn segment_json(id: &str, name: &str, key: &str, op: &str, values: &[&str], ignore_case: bool, event: &str) -> String {
    serde_json::json!({
        "id": id,
        "displayName": name,
        "scope": "Session",
        "journey": {"patterns": [{"criteria": [
            {"key": key, "values": values, "operator": op, "shouldIgnoreCase": ignore_case}
        ], "count": 1, "eventName": event}]},
        "selfUri": "/api/v2/journey/segments/x"
    })
    .to_string()
}

#[test]
fn tricky_text_is_escaped_for_yaml_and_the_condition_language() {
    let values = [
        "it's \"quoted\" \\ back",
        "line\nbreak\ttab",
        "é😀 ü",
        "\u{7f}\u{85}\u{feff}",
        "# not a comment",
        "': {}[],&*!|>%@`",
        "",
    ];
    let names = ["It's a \"name\": #1", "", "123 Go", "Ünïcödé only", "x\u{0}y"];
    let mut inputs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for (j, op) in ["equal", "notContainsAny", "startsWith", "containsAll"].iter().enumerate() {
            let event = ["page_viewed", "in", "where", "count", "not", "a-b c"][(i + j) % 6];
            let id = format!("id-{i}{j}");
            let json = segment_json(&id, name, "attributes.where.value", op, &values, j % 2 == 0, event);
            inputs.push((format!("s{i}{j}.json"), json));
        }
    }
    let conv = convert_ok(&inputs);
    let loaded = load_clean("tricky.yaml", &conv.yaml);
    assert_eq!(loaded.scenario.unwrap().segments.len(), names.len() * 4);
    for line in [
        "  - id: it_s_a_name_1  # genesys_id: id-00\n",
        "  - id: it_s_a_name_1_2  # genesys_id: id-01\n",
        "  - id: segment_id10  # genesys_id: id-10\n",
        "  - id: segment_123_go  # genesys_id: id-20\n",
        "  - id: unicode_only  # genesys_id: id-30\n",
        "  - id: x_y  # genesys_id: id-40\n",
        "    description: \"It's a \\\"name\\\": #1\"\n",
    ] {
        assert!(conv.yaml.contains(line), "no `{line}` in\n{}", conv.yaml);
    }
}

#[test]
fn truncated_and_corrupted_inputs_never_panic() {
    for file in json_files("tests/genesys/full") {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.display().to_string();
        let cuts = (0..text.len()).step_by(5).filter(|i| text.is_char_boundary(*i));
        for cut in cuts {
            let inputs = vec![(name.clone(), text[..cut].to_string())];
            if let Err(errors) = convert(&inputs) {
                assert!(errors.iter().all(|e| e.line >= 1 && e.col >= 1 && e.message.starts_with("invalid JSON")));
            }
        }
        // Every string value replaced by a number, one at a time (wrong types).
        let quotes: Vec<usize> = text.match_indices("\": \"").map(|(i, _)| i + 3).collect();
        for start in quotes {
            let Some(len) = text[start + 1..].find('"') else { continue };
            let corrupted = format!("{}42{}", &text[..start], &text[start + len + 2..]);
            let inputs = vec![(name.clone(), corrupted)];
            match convert(&inputs) {
                Ok(conv) => {
                    load_clean(&name, &conv.yaml);
                }
                Err(errors) => assert!(!errors.is_empty() && errors.iter().all(|e| e.line >= 1)),
            }
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    const OPS: &[&str] = &[
        "containsAll",
        "containsAny",
        "notContainsAll",
        "notContainsAny",
        "equal",
        "notEqual",
        "greaterThan",
        "greaterThanOrEqual",
        "lessThan",
        "lessThanOrEqual",
        "startsWith",
        "endsWith",
    ];
    const KEYS: &[&str] = &["page.url", "searchQuery", "device.category", "authenticated", "attributes.a.value"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Whatever the names and values, the output loads with no error.
        #[test]
        fn any_text_imports_to_a_valid_scenario(
            name in ".{0,20}",
            values in proptest::collection::vec(".{0,12}", 0..4),
            op in 0..OPS.len(),
            key in 0..KEYS.len(),
            ignore_case in any::<bool>(),
            event in "[A-Za-z_-][A-Za-z0-9_ -]{0,8}",
        ) {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let json = segment_json("p", &name, KEYS[key], OPS[op], &values, ignore_case, &event);
            let conv = convert_ok(&[("p.json".to_string(), json)]);
            load_clean("p.yaml", &conv.yaml);
        }
    }
}

#[test]
fn action_map_edge_cases() {
    let json = serde_json::json!([
        {"id": "m1", "displayName": "Idle", "weight": 2,
         "triggerWithEventConditions": [{"key": "ipOrganization", "values": ["Acme"], "operator": "equal", "eventName": "idle_30_sec"}],
         "action": {"mediaType": "webchat", "actionTargetId": ""}},
        {"id": "m2", "displayName": "Two events, one unmappable",
         "triggerWithEventConditions": [
            {"key": "page.url", "values": ["/a"], "operator": "containsAny", "eventName": "page_viewed"},
            {"key": "geolocation.timezone", "values": ["UTC"], "operator": "equal", "eventName": "form-sent"}],
         "action": {"mediaType": "contentOffer"}}
    ])
    .to_string();
    let conv = convert_ok(&[("maps.json".to_string(), json)]);
    load_clean("maps.yaml", &conv.yaml);
    let y = &conv.yaml;
    assert!(y.contains("    trigger: 'event.name == \"idle_30_sec\"'\n"), "{y}");
    assert!(y.contains("{type: webchat, target: unrouted, pacing: true}"), "{y}");
    assert!(y.contains(r#"and count(* where event.name == "form-sent") >= 1"#), "{y}");
    assert_eq!(conv.notes.len(), 3, "{:#?}", conv.notes);
    assert!(conv.notes[0].contains("$[0].action: no `actionTargetId`"), "{:#?}", conv.notes);

    // A value read twice is reported once; the same object twice is noted and skipped.
    let bad = r#"{"id": "s", "displayName": 7, "scope": "Session", "context": {"patterns": []}}"#.to_string();
    let errors = convert(&[("bad.json".to_string(), bad)]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].to_string(), "bad.json:1:28: expected a string, found a number (at $.displayName)");
    let seg = std::fs::read_to_string("tests/genesys/full/single_segment.json").unwrap();
    let conv = convert_ok(&[("a.json".into(), seg.clone()), ("b.json".into(), seg)]);
    assert_eq!(
        conv.notes,
        [
            "b.json:1:1: $: segment `d184a296-93a4-45b6-8178-293a4b5c6d74` was already read at a.json:1; this copy is skipped"
        ]
    );
    assert_eq!(load_clean("dup.yaml", &conv.yaml).scenario.unwrap().segments.len(), 1);
}

#[test]
fn ids_that_look_like_yaml_values_stay_text() {
    let names = ["null", "true", "123", "1e5", "0x1F", "~", "yes", "No", "inf", ".nan"];
    let mut segs: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            serde_json::json!({"id": format!("g{i}"), "displayName": n, "scope": "Session",
                "context": {"patterns": [{"criteria": [{"key": "page.url", "values": ["x"], "operator": "containsAny"}]}]}})
        })
        .collect();
    let refs: Vec<String> = (0..names.len()).map(|i| format!("g{i}")).collect();
    segs.push(serde_json::json!({"id": "m", "displayName": "Map", "triggerWithSegments": refs,
        "action": {"mediaType": "contentOffer"}}));
    let conv = convert_ok(&[("n.json".to_string(), serde_json::Value::Array(segs).to_string())]);
    let sc = load_clean("n.yaml", &conv.yaml).scenario.unwrap();
    let ids: Vec<&str> = sc.segments.iter().map(|s| s.id.as_str()).collect();
    let expected = [
        "segment_null",
        "segment_true",
        "segment_123",
        "segment_1e5",
        "segment_0x1f",
        "segment_g5",
        "segment_yes",
        "segment_no",
        "segment_inf",
        "segment_nan",
    ];
    assert_eq!(ids, expected);
}
