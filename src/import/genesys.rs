//! `pesim import genesys`: Genesys Cloud Journey API JSON → a native scenario.
//!
//! Input: any number of JSON files, each holding one object, a paged list
//! (`{"entities": [...], "pageNumber": .., "pageCount": ..}`) or a plain array, of
//! segments, outcomes, action maps and action targets, as the Journey API returns
//! them (`/api/v2/journey/...`). The kind of each object comes from its `selfUri`
//! (or its list's), else from the fields only that kind has.
//!
//! Output: one scenario (SPEC §2) with `workgroups` (action targets), `segments`,
//! `outcomes` and `action_maps`, in input order. Ids are readable snake_case ids
//! made from `displayName` (`name` for targets), made unique across the file; the
//! Genesys UUID stays as a `# genesys_id: UUID` comment on the item's `id:` line, and
//! every reference (`triggerWithSegments`, `outcomeId`, `actionTargetId`) is
//! rewritten to the readable id. A reference to an object that is not among the
//! inputs gets a stub (a segment or outcome that never matches, a workgroup with
//! no agents) so that the file still passes `pesim check`, and a note.
//!
//! Three kinds of report:
//! - **errors** — the input is not what the API returns: malformed JSON, an unknown
//!   enum value (operator, scope, activation type, media type, target state), a value
//!   of the wrong JSON type. Located (file:line:col, JSON path); nothing is written.
//! - **notes** — valid API input that pesim cannot represent (e.g. `ipOrganization`,
//!   an unknown criterion key, an API field with no pesim equivalent, an inactive
//!   segment). The rest is imported; each note also becomes a comment on the item.
//! - metadata that has no meaning for a simulation (`selfUri`, `version`,
//!   `createdDate`, `modifiedDate`, `color`, `shouldDisplayToAgent`, `entityType`,
//!   `streamType`/`sessionType` of web patterns, paging fields) is skipped without a
//!   note; every other field is either mapped or noted.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::json::{self, Json, Kind};
use crate::diag::{Diagnostic, Sources, render, text_line_col};
use crate::dsl::error::did_you_mean;

/// A converted scenario: the YAML text and what could not be mapped, one line per
/// item (`file:line:col: JSON path: why`).
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    pub yaml: String,
    pub notes: Vec<String>,
}

/// Invalid input, located in its file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportError {
    /// The file name as given.
    pub file: String,
    /// 1-based line and column (in characters).
    pub line: usize,
    pub col: usize,
    /// JSON path of the offending value (`$.entities[2].operator`), `$` for the document.
    pub path: String,
    pub message: String,
    pub help: Option<String>,
    /// Byte range in the file's text (without a leading byte order mark).
    pub span: Range<usize>,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {} (at {})", self.file, self.line, self.col, self.message, self.path)
    }
}

/// `pesim import genesys PATH...`: reads the files (a folder means every `*.json`
/// in it, by name), writes the scenario to `out` and the notes or errors to `err`.
/// Returns the exit code: 0 when converted, 1 when the input is invalid.
pub fn import_genesys(paths: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> io::Result<i32> {
    let mut files = Vec::new();
    let mut failed = false;
    for path in paths {
        match expand(path) {
            Ok(list) => files.extend(list),
            Err(e) => {
                writeln!(err, "error: {e}")?;
                failed = true;
            }
        }
    }
    let mut inputs = Vec::new();
    for path in &files {
        match std::fs::read_to_string(path) {
            Ok(text) => inputs.push((path.display().to_string(), text)),
            Err(e) => {
                writeln!(err, "error: cannot read {}: {e}", path.display())?;
                failed = true;
            }
        }
    }
    if failed {
        return Ok(1);
    }
    match convert(&inputs) {
        Ok(conv) => {
            out.write_all(conv.yaml.as_bytes())?;
            for n in &conv.notes {
                writeln!(err, "note: {n}")?;
            }
            let files = if inputs.len() == 1 { "1 file".to_string() } else { format!("{} files", inputs.len()) };
            match conv.notes.len() {
                0 => writeln!(err, "imported {files}: everything mapped")?,
                1 => writeln!(err, "imported {files}: 1 note (also a comment in the scenario)")?,
                n => writeln!(err, "imported {files}: {n} notes (also comments in the scenario)")?,
            }
            Ok(0)
        }
        Err(errors) => {
            let mut sources = Sources::default();
            let ids: Vec<_> = inputs.iter().map(|(name, text)| sources.add(name.clone(), text.clone())).collect();
            for e in &errors {
                let file = inputs.iter().position(|(n, _)| *n == e.file).map(|i| ids[i]);
                let mut d = Diagnostic::error(format!("{} (at {})", e.message, e.path)).help_opt(e.help.clone());
                if let Some(file) = file {
                    d = d.at(file, e.span.clone());
                }
                write!(err, "{}", render(&sources, &d))?;
            }
            let n = errors.len();
            writeln!(err, "{n} error{}: nothing imported", if n == 1 { "" } else { "s" })?;
            Ok(1)
        }
    }
}

/// A file, or the `*.json` files of a folder sorted by name.
fn expand(path: &Path) -> Result<Vec<PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("json")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{} has no .json file", path.display()));
    }
    Ok(files)
}

/// Converts Journey API JSON texts (file name, text) into a scenario.
pub fn convert(inputs: &[(String, String)]) -> Result<Conversion, Vec<ImportError>> {
    let files: Vec<(String, String)> = inputs
        .iter()
        .map(|(name, text)| (name.clone(), text.strip_prefix('\u{feff}').unwrap_or(text).to_string()))
        .collect();
    let mut cx = Cx { files: &files, notes: Vec::new(), errors: Vec::new() };
    let mut roots = Vec::new();
    for (i, (_, text)) in files.iter().enumerate() {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            let offset = serde_offset(text, e.line(), e.column());
            let full = e.to_string();
            let message = match full.rfind(" at line ") {
                Some(k) => full[..k].to_string(),
                None => full,
            };
            cx.error_at(i, offset..offset, "$", format!("invalid JSON: {message}"), None);
            continue;
        }
        match json::parse(text) {
            Ok(root) => roots.push((i, root)),
            Err((offset, message)) => cx.error_at(i, offset..offset, "$", format!("invalid JSON: {message}"), None),
        }
    }
    let objects = collect(&mut cx, &roots);
    let mut conv = Converter::new(cx, objects);
    conv.run();
    let Converter { cx, out, .. } = conv;
    if !cx.errors.is_empty() {
        let mut errors = cx.errors;
        let order: Vec<&String> = files.iter().map(|(n, _)| n).collect();
        errors.sort_by_key(|e| (order.iter().position(|n| **n == e.file), e.span.start));
        // A value read twice (e.g. a name for the id, then for the description) is reported once.
        errors.dedup_by(|a, b| a.file == b.file && a.span == b.span && a.message == b.message);
        return Err(errors);
    }
    let mut notes = cx.notes;
    notes.sort_by_key(|n| (n.0, n.1));
    Ok(Conversion { yaml: out, notes: notes.into_iter().map(|n| n.2).collect() })
}

/// Byte offset of serde_json's 1-based line and (byte) column.
fn serde_offset(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(k) => start += k + 1,
            None => return text.len(),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |k| start + k);
    let mut off = (start + col.saturating_sub(1)).min(end);
    while !text.is_char_boundary(off) {
        off -= 1;
    }
    off
}

// ---------------------------------------------------------------------------
// Reports and located access

struct Cx<'f> {
    files: &'f [(String, String)],
    /// (file, offset, text): sorted by place at the end.
    notes: Vec<(usize, usize, String)>,
    errors: Vec<ImportError>,
}

/// A JSON value with its file and path.
#[derive(Clone)]
struct At<'j> {
    file: usize,
    path: String,
    node: &'j Json,
}

impl<'j> At<'j> {
    /// A member of an object; `None` when missing or `null`.
    fn get(&self, key: &str) -> Option<At<'j>> {
        let node = self.node.get(key).filter(|n| !n.is_null())?;
        Some(self.child(key, node))
    }
    /// The value `node` of this object's member `key`.
    fn child(&self, key: &str, node: &'j Json) -> At<'j> {
        let path = if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !key.is_empty() {
            format!("{}.{key}", self.path)
        } else {
            format!("{}[{}]", self.path, serde_json::to_string(key).unwrap_or_default())
        };
        At { file: self.file, path, node }
    }
    fn items(&self) -> Vec<At<'j>> {
        match &self.node.kind {
            Kind::Arr(items) => items
                .iter()
                .enumerate()
                .map(|(i, node)| At { file: self.file, path: format!("{}[{i}]", self.path), node })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Cx<'_> {
    fn line_col(&self, file: usize, offset: usize) -> (usize, usize) {
        text_line_col(&self.files[file].1, offset)
    }

    fn error_at(&mut self, file: usize, span: Range<usize>, path: &str, message: String, help: Option<String>) {
        let (line, col) = self.line_col(file, span.start);
        self.errors.push(ImportError {
            file: self.files[file].0.clone(),
            line,
            col,
            path: path.to_string(),
            message,
            help,
            span,
        });
    }

    fn error(&mut self, at: &At, message: impl Into<String>, help: Option<String>) {
        self.error_at(at.file, at.node.span.clone(), &at.path, message.into(), help);
    }

    /// `file:line`, for comments.
    fn place(&self, at: &At) -> String {
        let (line, _) = self.line_col(at.file, at.node.span.start);
        format!("{}:{line}", self.files[at.file].0)
    }

    /// Records a note; returns the comment to put on the item.
    fn note(&mut self, at: &At, why: impl Into<String>) -> String {
        let why = why.into();
        let (line, col) = self.line_col(at.file, at.node.span.start);
        let text = format!("{}:{line}:{col}: {}: {why}", self.files[at.file].0, at.path);
        self.notes.push((at.file, at.node.span.start, text));
        format!("note: {why} ({})", self.place(at))
    }

    fn string(&mut self, at: &At) -> Option<String> {
        match &at.node.kind {
            Kind::Str(s) => Some(s.clone()),
            _ => {
                self.error(at, format!("expected a string, found {}", at.node.describe()), None);
                None
            }
        }
    }

    fn boolean(&mut self, at: &At) -> Option<bool> {
        match at.node.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.error(at, format!("expected true or false, found {}", at.node.describe()), None);
                None
            }
        }
    }

    fn number(&mut self, at: &At) -> Option<f64> {
        match at.node.kind {
            Kind::Num(n) => Some(n),
            _ => {
                self.error(at, format!("expected a number, found {}", at.node.describe()), None);
                None
            }
        }
    }

    /// A whole number of at least `min`.
    fn whole(&mut self, at: &At, min: i64) -> Option<i64> {
        let n = self.number(at)?;
        if n.fract() != 0.0 || n < min as f64 || n > 1e15 {
            self.error(at, format!("expected a whole number of at least {min}, found {n}"), None);
            return None;
        }
        Some(n as i64)
    }

    fn array(&mut self, at: &At<'_>) -> bool {
        if matches!(at.node.kind, Kind::Arr(_)) {
            return true;
        }
        self.error(at, format!("expected an array, found {}", at.node.describe()), None);
        false
    }

    fn object(&mut self, at: &At<'_>) -> bool {
        if matches!(at.node.kind, Kind::Obj(_)) {
            return true;
        }
        self.error(at, format!("expected an object, found {}", at.node.describe()), None);
        false
    }

    /// One of `allowed`; an unknown value is an error with a "did you mean".
    fn one_of(&mut self, at: &At, what: &str, allowed: &[&'static str]) -> Option<&'static str> {
        self.one_of_case(at, what, allowed, false)
    }

    fn one_of_case(&mut self, at: &At, what: &str, allowed: &[&'static str], any_case: bool) -> Option<&'static str> {
        let s = self.string(at)?;
        if let Some(v) = allowed.iter().find(|a| **a == s || (any_case && a.eq_ignore_ascii_case(&s))) {
            return Some(v);
        }
        let help = did_you_mean(&s, allowed.iter().copied())
            .unwrap_or_else(|| format!("the Journey API's values are {}", allowed.join(", ")));
        self.error(at, format!("unknown {what} `{s}`"), Some(help));
        None
    }

    /// Notes every member that is neither mapped nor metadata (nulls and empty
    /// lists or objects configure nothing and are skipped).
    fn unmapped_fields(&mut self, at: &At, mapped: &[&str], comments: &mut Vec<String>) {
        for m in at.node.members() {
            let empty = match &m.value.kind {
                Kind::Null => true,
                Kind::Arr(a) => a.is_empty(),
                Kind::Obj(o) => o.is_empty(),
                _ => false,
            };
            if empty || mapped.contains(&m.key.as_str()) || METADATA.contains(&m.key.as_str()) {
                continue;
            }
            let field = at.child(&m.key, &m.value);
            let c = self.note(&field, format!("field `{}` has no pesim equivalent; ignored", m.key));
            comments.push(c);
        }
    }
}

/// Fields with no meaning for a simulation: skipped without a note.
const METADATA: &[&str] = &[
    "selfUri",
    "version",
    "createdDate",
    "modifiedDate",
    "color",
    "shouldDisplayToAgent",
    "entityType",
    "streamType",
    "sessionType",
];

/// The fields of a paged list besides its `entities`.
const PAGING: &[&str] = &[
    "entities",
    "pageSize",
    "pageNumber",
    "total",
    "pageCount",
    "firstUri",
    "previousUri",
    "nextUri",
    "lastUri",
    "selfUri",
];

const OPERATORS: &[&str] = &[
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
const MEDIA_TYPES: &[&str] =
    &["webchat", "webMessagingOffer", "contentOffer", "integrationAction", "architectFlow", "openAction"];
const ACTIVATIONS: &[&str] = &["immediate", "delay", "on-next-visit", "on-next-session"];
const SCOPES: &[&str] = &["Session", "Customer"];
const TARGET_STATES: &[&str] = &["active", "inactive", "deleted"];

// ---------------------------------------------------------------------------
// Finding the objects

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ObjKind {
    Segment,
    Outcome,
    ActionMap,
    ActionTarget,
}

impl ObjKind {
    fn word(self) -> &'static str {
        match self {
            ObjKind::Segment => "segment",
            ObjKind::Outcome => "outcome",
            ObjKind::ActionMap => "action map",
            ObjKind::ActionTarget => "action target",
        }
    }
    fn from_uri(uri: &str) -> Option<ObjKind> {
        let path = uri.split('?').next().unwrap_or("");
        [
            ("/journey/segments", ObjKind::Segment),
            ("/journey/outcomes", ObjKind::Outcome),
            ("/journey/actionmaps", ObjKind::ActionMap),
            ("/journey/actiontargets", ObjKind::ActionTarget),
        ]
        .into_iter()
        .find(|(p, _)| path.contains(p))
        .map(|(_, k)| k)
    }
    /// From the fields only this kind has.
    fn from_fields(node: &Json) -> Option<ObjKind> {
        let has = |keys: &[&str]| keys.iter().any(|k| node.get(k).is_some());
        if has(&[
            "triggerWithSegments",
            "triggerWithEventConditions",
            "triggerWithOutcomeProbabilityConditions",
            "triggerWithOutcomeQuantileConditions",
            "pageUrlConditions",
            "activation",
            "action",
            "weight",
        ]) {
            Some(ObjKind::ActionMap)
        } else if has(&["supportedMediaTypes", "serviceLevel", "shortAbandonThreshold"])
            || (node.get("name").is_some() && node.get("displayName").is_none())
        {
            Some(ObjKind::ActionTarget)
        } else if has(&["isPositive", "associatedValueField"]) {
            Some(ObjKind::Outcome)
        } else if has(&["scope", "assignmentExpirationDays", "context", "journey", "shouldDisplayToAgent"]) {
            Some(ObjKind::Segment)
        } else {
            None
        }
    }
}

struct Obj<'j> {
    at: At<'j>,
    kind: ObjKind,
    /// The Genesys UUID.
    gid: Option<String>,
}

/// Every object of every file, in order; paging gaps and unknown objects are noted.
fn collect<'j>(cx: &mut Cx<'_>, roots: &'j [(usize, Json)]) -> Vec<Obj<'j>> {
    let mut objects = Vec::new();
    // List (selfUri path or file) → pages seen, page count, where.
    let mut pages: Vec<(String, Vec<i64>, i64, At<'j>)> = Vec::new();
    for (file, root) in roots {
        let at = At { file: *file, path: "$".into(), node: root };
        let mut hint = None;
        let items = match &root.kind {
            Kind::Obj(_) if root.get("entities").is_some() => {
                let list = at.get("entities");
                let Some(list) = list.filter(|l| cx.array(l)) else { continue };
                cx.unmapped_fields(&at, PAGING, &mut Vec::new());
                let uri = root.get("selfUri").and_then(Json::as_str).unwrap_or("");
                hint = ObjKind::from_uri(uri);
                let number =
                    root.get("pageNumber").and_then(|n| if let Kind::Num(n) = n.kind { Some(n) } else { None });
                let count = root.get("pageCount").and_then(|n| if let Kind::Num(n) = n.kind { Some(n) } else { None });
                if let (Some(number), Some(count)) = (number, count) {
                    let key = match uri.split('?').next() {
                        Some(p) if !p.is_empty() => p.to_string(),
                        _ => cx.files[*file].0.clone(),
                    };
                    match pages.iter_mut().find(|p| p.0 == key) {
                        Some(p) => p.1.push(number as i64),
                        None => pages.push((key, vec![number as i64], count as i64, at.clone())),
                    }
                }
                list.items()
            }
            Kind::Obj(_) => vec![at.clone()],
            Kind::Arr(_) => at.items(),
            _ => {
                cx.note(&at, format!("the document is {}, not a Journey API object or list; skipped", root.describe()));
                continue;
            }
        };
        for item in items {
            if !matches!(item.node.kind, Kind::Obj(_)) {
                cx.note(&item, format!("{} is not a Journey API object; skipped", item.node.describe()));
                continue;
            }
            let uri = item.node.get("selfUri").and_then(Json::as_str).unwrap_or("");
            let kind = ObjKind::from_uri(uri).or(hint).or_else(|| ObjKind::from_fields(item.node));
            let Some(kind) = kind else {
                cx.note(&item, "not a Journey API segment, outcome, action map or action target; skipped");
                continue;
            };
            let gid = item.get("id").map(|id| cx.string(&id).unwrap_or_default());
            if let Some(g) = &gid
                && let Some(first) = objects.iter().find(|o: &&Obj| o.kind == kind && o.gid.as_ref() == Some(g))
            {
                let place = cx.place(&first.at);
                cx.note(&item, format!("{} `{g}` was already read at {place}; this copy is skipped", kind.word()));
                continue;
            }
            objects.push(Obj { at: item, kind, gid });
        }
    }
    for (_, seen, count, at) in pages {
        let missing: Vec<String> = (1..=count).filter(|p| !seen.contains(p)).map(|p| p.to_string()).collect();
        if !missing.is_empty() {
            cx.note(
                &at,
                format!(
                    "page{} {} of {count} of this list {} not among the inputs: pass every page to import it all",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", "),
                    if missing.len() == 1 { "is" } else { "are" }
                ),
            );
        }
    }
    objects
}

// ---------------------------------------------------------------------------
// The output model

enum Val {
    /// Already valid YAML (numbers, booleans, enums, flow mappings).
    Raw(String),
    /// Text, written double-quoted.
    Str(String),
    /// A condition, as conjuncts joined by `and`.
    Cond(Vec<String>),
}

struct Field {
    comments: Vec<String>,
    key: &'static str,
    value: Val,
}

struct Item {
    id: String,
    gid: Option<String>,
    comments: Vec<String>,
    fields: Vec<Field>,
    /// Comments after the last field.
    trailing: Vec<String>,
}

impl Item {
    fn new(id: String, gid: Option<String>) -> Self {
        Item { id, gid, comments: Vec::new(), fields: Vec::new(), trailing: Vec::new() }
    }
    fn push(&mut self, key: &'static str, value: Val) {
        self.fields.push(Field { comments: Vec::new(), key, value });
    }
    fn push_with(&mut self, comments: Vec<String>, key: &'static str, value: Val) {
        self.fields.push(Field { comments, key, value });
    }
}

struct Converter<'f, 'j> {
    cx: Cx<'f>,
    objects: Vec<Obj<'j>>,
    used: HashSet<String>,
    /// Genesys id → readable id, per kind.
    ids: HashMap<(ObjKind, String), String>,
    workgroups: Vec<Item>,
    segments: Vec<Item>,
    outcomes: Vec<Item>,
    action_maps: Vec<Item>,
    /// Stubs for references to objects not among the inputs.
    stub_workgroups: Vec<Item>,
    stub_segments: Vec<Item>,
    stub_outcomes: Vec<Item>,
    out: String,
}

/// How a criterion is written: its field's expression and type.
enum FieldExpr {
    Text(&'static str),
    Bool(&'static str),
    Attr(String),
}

fn field_of(key: &str) -> Result<FieldExpr, String> {
    use FieldExpr::*;
    let text = match key {
        "eventName" => "event.name",
        "page.url" => "page.url",
        "page.title" => "page.title",
        "page.hostname" => "page.hostname",
        "page.domain" => "page.domain",
        "page.fragment" => "page.fragment",
        "page.keywords" => "page.keywords",
        "page.pathname" => "page.pathname",
        "page.queryString" => "page.query",
        "page.lang" => "page.lang",
        "searchQuery" => "search_query",
        "device.category" => "device.category",
        "device.type" => "device.type",
        "device.osFamily" => "device.os",
        "browser.family" => "browser.family",
        "browser.version" => "browser.version",
        "browser.lang" => "browser.lang",
        "mktCampaign.source" => "campaign.source",
        "mktCampaign.medium" => "campaign.medium",
        "mktCampaign.name" => "campaign.name",
        "mktCampaign.term" => "campaign.term",
        "mktCampaign.content" => "campaign.content",
        "mktCampaign.clickId" => "campaign.click_id",
        "mktCampaign.network" => "campaign.network",
        "geolocation.country" => "geo.country",
        "geolocation.countryName" => "geo.country_name",
        "geolocation.region" => "geo.region",
        "geolocation.locality" => "geo.locality",
        "geolocation.postalCode" => "geo.postal_code",
        "referrer.url" => "referrer.url",
        "referrer.hostname" => "referrer.hostname",
        "referrer.medium" => "referrer.medium",
        "authenticated" => return Ok(Bool("authenticated")),
        "ipOrganization" => {
            return Err("`ipOrganization` (the organisation owning the visitor's IP address) has no pesim field".into());
        }
        _ => {
            if let Some(rest) = key.strip_prefix("attributes.") {
                let name = rest.strip_suffix(".value").unwrap_or(rest);
                if is_ident(name) {
                    return Ok(Attr(name.to_string()));
                }
                return Err(format!(
                    "attribute name `{name}` cannot be written in a condition (letters, digits and `_` only)"
                ));
            }
            let family = key.split('.').next().unwrap_or(key);
            return Err(if ["device", "browser", "geolocation", "mktCampaign", "referrer", "page"].contains(&family) {
                format!("criterion key `{key}` has no pesim field")
            } else {
                format!("unknown criterion key `{key}`")
            });
        }
    };
    Ok(Text(text))
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where a criterion is.
#[derive(Clone, Copy, PartialEq)]
enum CritIn {
    /// Segment or outcome pattern.
    Pattern,
    /// An action map's `triggerWithEventConditions` (with its own `eventName`).
    Event,
    /// `pageUrlConditions` (no key: the page URL).
    PageUrl,
}

impl<'f, 'j> Converter<'f, 'j> {
    fn new(cx: Cx<'f>, objects: Vec<Obj<'j>>) -> Self {
        Converter {
            cx,
            objects,
            used: HashSet::new(),
            ids: HashMap::new(),
            workgroups: Vec::new(),
            segments: Vec::new(),
            outcomes: Vec::new(),
            action_maps: Vec::new(),
            stub_workgroups: Vec::new(),
            stub_segments: Vec::new(),
            stub_outcomes: Vec::new(),
            out: String::new(),
        }
    }

    fn run(&mut self) {
        let order = [ObjKind::ActionTarget, ObjKind::Segment, ObjKind::Outcome, ObjKind::ActionMap];
        // Ids first, so that references resolve whatever the file order.
        let objects = std::mem::take(&mut self.objects);
        let mut named: Vec<(usize, String)> = Vec::new();
        for kind in order {
            for (i, o) in objects.iter().enumerate().filter(|(_, o)| o.kind == kind) {
                let name_key = if kind == ObjKind::ActionTarget { "name" } else { "displayName" };
                let name = match o.at.get(name_key) {
                    Some(n) => self.cx.string(&n).unwrap_or_default(),
                    None => String::new(),
                };
                let fallback = match &o.gid {
                    Some(g) if !g.is_empty() => format!("{}_{}", kind_prefix(kind), short(g)),
                    _ => kind_prefix(kind).to_string(),
                };
                let mut base = snake(&name);
                if yaml_special(&base) {
                    base = format!("{}_{base}", kind_prefix(kind));
                }
                let id = self.unique(&base, &fallback);
                if let Some(g) = o.gid.as_ref().filter(|g| !g.is_empty()) {
                    self.ids.insert((kind, g.clone()), id.clone());
                }
                named.push((i, id));
            }
        }
        for (i, id) in named {
            let o = &objects[i];
            match o.kind {
                ObjKind::ActionTarget => {
                    let item = self.action_target(o, id);
                    self.workgroups.push(item);
                }
                ObjKind::Segment => {
                    let item = self.segment(o, id);
                    self.segments.push(item);
                }
                ObjKind::Outcome => {
                    let item = self.outcome(o, id);
                    self.outcomes.push(item);
                }
                ObjKind::ActionMap => {
                    let item = self.action_map(o, id);
                    self.action_maps.push(item);
                }
            }
        }
        self.objects = objects;
        self.write();
    }

    /// `base`, or `fallback` when empty, made unique with `_2`, `_3`...
    fn unique(&mut self, base: &str, fallback: &str) -> String {
        let base = if base.is_empty() { fallback } else { base };
        let mut id = base.to_string();
        let mut n = 2;
        while self.used.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        self.used.insert(id.clone());
        id
    }

    fn name_and_description(&mut self, at: &At, item: &mut Item, name_key: &str) {
        let name = at.get(name_key).and_then(|n| self.cx.string(&n)).unwrap_or_default();
        let desc = at.get("description").and_then(|n| self.cx.string(&n)).unwrap_or_default();
        let text = match (name.is_empty(), desc.is_empty()) {
            (false, false) => format!("{name}: {desc}"),
            (false, true) => name,
            (true, false) => desc,
            (true, true) => return,
        };
        item.push("description", Val::Str(text));
    }

    // ---------- action targets ----------

    fn action_target(&mut self, o: &Obj<'j>, id: String) -> Item {
        let at = &o.at;
        let mut item = Item::new(id, o.gid.clone());
        self.cx.unmapped_fields(
            at,
            &["id", "name", "description", "state", "supportedMediaTypes", "serviceLevel", "shortAbandonThreshold"],
            &mut item.comments,
        );
        self.name_and_description(at, &mut item, "name");
        if let Some(state) = at.get("state")
            && let Some(s) = self.cx.one_of(&state, "action target state", TARGET_STATES)
            && s != "active"
        {
            let c = self.cx.note(
                &state,
                format!("the target is `{s}` in Genesys; pesim has no inactive workgroup, so it is imported as usable"),
            );
            item.comments.push(c);
        }
        if let Some(media) = at.get("supportedMediaTypes")
            && self.cx.array(&media)
        {
            let names: Vec<String> = media.items().iter().filter_map(|m| self.cx.string(m)).collect();
            item.comments.push(format!("Genesys supportedMediaTypes: {}", names.join(", ")));
        }
        if let Some(sl) = at.get("serviceLevel")
            && self.cx.object(&sl)
        {
            let mut comments = Vec::new();
            self.cx.unmapped_fields(&sl, &["percentage", "durationMs"], &mut comments);
            let mut parts = Vec::new();
            if let Some(p) = sl.get("percentage")
                && let Some(v) = self.cx.number(&p)
            {
                if (0.0..=1.0).contains(&v) {
                    parts.push(format!("percentage: {}", num(v)));
                } else {
                    comments.push(self.cx.note(
                        &p,
                        format!(
                            "service level percentage {} is not a share between 0 and 1; pesim's default 0.8 is used",
                            num(v)
                        ),
                    ));
                }
            }
            if let Some(d) = sl.get("durationMs")
                && let Some(ms) = self.cx.whole(&d, 0)
            {
                parts.push(format!("within: {}", duration_ms(ms)));
            }
            if !parts.is_empty() {
                item.push_with(comments, "service_level", Val::Raw(format!("{{{}}}", parts.join(", "))));
            } else {
                item.comments.extend(comments);
            }
        }
        if let Some(t) = at.get("shortAbandonThreshold")
            && let Some(secs) = self.cx.whole(&t, 0)
        {
            item.push("short_abandon", Val::Raw(duration_ms(secs * 1000)));
        }
        item.trailing.extend(agents_comment());
        item
    }

    // ---------- segments and outcomes ----------

    fn segment(&mut self, o: &Obj<'j>, id: String) -> Item {
        let at = &o.at;
        let mut item = Item::new(id, o.gid.clone());
        self.cx.unmapped_fields(
            at,
            &[
                "id",
                "displayName",
                "description",
                "isActive",
                "scope",
                "assignmentExpirationDays",
                "context",
                "journey",
            ],
            &mut item.comments,
        );
        self.name_and_description(at, &mut item, "displayName");
        let customer = match at.get("scope") {
            Some(s) => self.cx.one_of_case(&s, "segment scope", SCOPES, true) == Some("Customer"),
            None => false,
        };
        item.push("scope", Val::Raw(if customer { "customer" } else { "session" }.into()));
        if let Some(days) = at.get("assignmentExpirationDays")
            && let Some(n) = self.cx.whole(&days, 0)
        {
            if customer {
                item.push("expires_after_days", Val::Raw(n.to_string()));
            } else {
                let c =
                    self.cx.note(&days, "`assignmentExpirationDays` applies to customer-scope segments only; ignored");
                item.comments.push(c);
            }
        }
        let active = at.get("isActive").and_then(|a| self.cx.boolean(&a)).unwrap_or(true);
        let (conds, comments) = self.patterns(at, customer, "segment", active, "assigned");
        item.push_with(comments, "when", Val::Cond(conds));
        item
    }

    fn outcome(&mut self, o: &Obj<'j>, id: String) -> Item {
        let at = &o.at;
        let mut item = Item::new(id, o.gid.clone());
        self.cx.unmapped_fields(
            at,
            &[
                "id",
                "displayName",
                "description",
                "isActive",
                "isPositive",
                "context",
                "journey",
                "associatedValueField",
            ],
            &mut item.comments,
        );
        if let Some(v) = at.get("associatedValueField") {
            let c = self.cx.note(&v, "`associatedValueField` (a value recorded with the outcome) is not simulated");
            item.comments.push(c);
        }
        self.name_and_description(at, &mut item, "displayName");
        if let Some(p) = at.get("isPositive")
            && let Some(b) = self.cx.boolean(&p)
        {
            item.push("positive", Val::Raw(b.to_string()));
        }
        let active = at.get("isActive").and_then(|a| self.cx.boolean(&a)).unwrap_or(true);
        let (conds, comments) = self.patterns(at, false, "outcome", active, "achieved");
        item.push_with(comments, "achieved_when", Val::Cond(conds));
        item
    }

    /// The condition of a segment or outcome: every context criterion and every
    /// journey pattern (`count(...) >= N`), all of which must hold. With the comments
    /// for the `when`/`achieved_when` line.
    fn patterns(
        &mut self,
        at: &At<'j>,
        customer: bool,
        what: &str,
        active: bool,
        verb: &str,
    ) -> (Vec<String>, Vec<String>) {
        let mut conds = Vec::new();
        let mut comments = Vec::new();
        let mut dropped = 0;
        let mut criteria = 0;
        if let Some(context) = at.get("context")
            && self.cx.object(&context)
        {
            self.cx.unmapped_fields(&context, &["patterns"], &mut comments);
            for pattern in self.list(&context, "patterns") {
                if !self.cx.object(&pattern) {
                    continue;
                }
                self.cx.unmapped_fields(&pattern, &["criteria"], &mut comments);
                for crit in self.list(&pattern, "criteria") {
                    criteria += 1;
                    match self.criterion(&crit, CritIn::Pattern, &mut comments) {
                        Some(c) => conds.push(c),
                        None => dropped += 1,
                    }
                }
            }
        }
        if let Some(journey) = at.get("journey")
            && self.cx.object(&journey)
        {
            self.cx.unmapped_fields(&journey, &["patterns"], &mut comments);
            for pattern in self.list(&journey, "patterns") {
                if !self.cx.object(&pattern) {
                    continue;
                }
                self.cx.unmapped_fields(&pattern, &["criteria", "count", "eventName"], &mut comments);
                self.web_only(&pattern, &mut comments);
                let mut wheres = Vec::new();
                for crit in self.list(&pattern, "criteria") {
                    criteria += 1;
                    match self.criterion(&crit, CritIn::Pattern, &mut comments) {
                        Some(c) => wheres.push(c),
                        None => dropped += 1,
                    }
                }
                let count = pattern.get("count").and_then(|c| self.cx.whole(&c, 1)).unwrap_or(1);
                let event = match pattern.get("eventName") {
                    Some(e) => match self.cx.string(&e) {
                        Some(name) if is_ident(&name) => name,
                        Some(name) => {
                            wheres.insert(0, format!("event.name == {}", dsl_str(&name)));
                            "*".into()
                        }
                        None => "*".into(),
                    },
                    None => "*".into(),
                };
                let scope = if customer { "visitor." } else { "" };
                let body = if wheres.is_empty() { event } else { format!("{event} where {}", wheres.join(SOFT_AND)) };
                conds.push(format!("{scope}count({body}) >= {count}"));
            }
        }
        if dropped > 0 {
            comments.push(if conds.is_empty() {
                format!("no criterion could be imported: `false` keeps the {what} from being {verb}")
            } else {
                format!(
                    "{dropped} of {criteria} criteria could not be imported: this condition is broader than in Genesys"
                )
            });
        }
        if conds.is_empty() {
            if dropped == 0 {
                let c = self.cx.note(at, format!("the {what} has no criteria or patterns: it is never {verb}"));
                comments.push(c);
            }
            conds.push("false".into());
        } else if !active {
            let c = self.cx.note(
                at.get("isActive").as_ref().unwrap_or(at),
                format!("the {what} is inactive in Genesys (`isActive: false`): its condition starts with `false and`, so it is never {verb}"),
            );
            comments.push(c);
            comments.push("remove the leading `false and` to activate it".into());
            conds.insert(0, "false".into());
        }
        (conds, comments)
    }

    /// A list member (an array of objects); a missing one is empty.
    fn list(&mut self, at: &At<'j>, key: &str) -> Vec<At<'j>> {
        match at.get(key) {
            Some(l) if self.cx.array(&l) => l.items(),
            _ => Vec::new(),
        }
    }

    /// pesim simulates web sessions: a pattern or condition on another stream is noted.
    fn web_only(&mut self, at: &At<'j>, comments: &mut Vec<String>) {
        for key in ["streamType", "sessionType"] {
            if let Some(v) = at.get(key)
                && let Some(s) = self.cx.string(&v)
                && !s.eq_ignore_ascii_case("web")
            {
                let c = self.cx.note(&v, format!("{key} `{s}`: pesim simulates web sessions; read as web events"));
                comments.push(c);
            }
        }
    }

    /// One criterion as a condition, or `None` (noted, or an error) when it cannot be mapped.
    fn criterion(&mut self, at: &At<'j>, place: CritIn, comments: &mut Vec<String>) -> Option<String> {
        if !self.cx.object(at) {
            return None;
        }
        let mapped: &[&str] = match place {
            CritIn::Pattern => &["key", "values", "operator", "shouldIgnoreCase"],
            CritIn::Event => &["key", "values", "operator", "shouldIgnoreCase", "eventName"],
            CritIn::PageUrl => &["values", "operator", "shouldIgnoreCase"],
        };
        self.cx.unmapped_fields(at, mapped, comments);
        if place == CritIn::Event {
            self.web_only(at, comments);
        }
        let key = match place {
            CritIn::PageUrl => Some("page.url".to_string()),
            _ => match at.get("key") {
                Some(k) => self.cx.string(&k),
                None => {
                    self.cx.error(at, "a criterion needs a `key`", None);
                    None
                }
            },
        };
        let op = match at.get("operator") {
            Some(op) => self.cx.one_of(&op, "operator", OPERATORS),
            None => {
                self.cx.error(at, "a criterion needs an `operator`", Some(format!("one of {}", OPERATORS.join(", "))));
                None
            }
        };
        let values = match at.get("values") {
            Some(v) if self.cx.array(&v) => {
                let mut out = Vec::new();
                for item in v.items() {
                    match &item.node.kind {
                        Kind::Str(s) => out.push(s.clone()),
                        Kind::Num(n) => out.push(num(*n)),
                        Kind::Bool(b) => out.push(b.to_string()),
                        _ => self.cx.error(&item, format!("expected a string, found {}", item.node.describe()), None),
                    }
                }
                Some(out)
            }
            Some(_) => None,
            None => Some(Vec::new()),
        };
        let ignore_case = at.get("shouldIgnoreCase").map_or(Some(false), |b| self.cx.boolean(&b));
        let (key, op, values, ignore_case) = (key?, op?, values?, ignore_case?);
        let field = match field_of(&key) {
            Ok(f) => f,
            Err(why) => {
                comments.push(self.cx.note(at, format!("{why}; criterion `{key} {op} {values:?}` dropped")));
                return None;
            }
        };
        match condition(&field, op, &values, ignore_case) {
            Ok(c) => Some(c),
            Err(why) => {
                comments.push(self.cx.note(at, format!("{why}; criterion `{key} {op} {values:?}` dropped")));
                None
            }
        }
    }

    // ---------- action maps ----------

    fn action_map(&mut self, o: &Obj<'j>, id: String) -> Item {
        let at = &o.at;
        let mut item = Item::new(id.clone(), o.gid.clone());
        self.cx.unmapped_fields(
            at,
            &[
                "id",
                "displayName",
                "description",
                "isActive",
                "weight",
                "triggerWithSegments",
                "triggerWithEventConditions",
                "triggerWithOutcomeProbabilityConditions",
                "triggerWithOutcomeQuantileConditions",
                "pageUrlConditions",
                "activation",
                "ignoreFrequencyCap",
                "startDate",
                "endDate",
                "action",
            ],
            &mut item.comments,
        );
        self.name_and_description(at, &mut item, "displayName");
        if let Some(w) = at.get("weight")
            && let Some(w) = if matches!(w.node.kind, Kind::Num(_)) {
                self.cx.whole(&w, 1)
            } else {
                self.cx.error(
                    &w,
                    format!("expected a whole number of at least 1, found {}", w.node.describe()),
                    Some("the UI's Low/Medium/High are weights 1/2/3".into()),
                );
                None
            }
        {
            item.push("weight", Val::Raw(w.to_string()));
        }
        if let Some(a) = at.get("isActive")
            && let Some(b) = self.cx.boolean(&a)
        {
            item.push("active", Val::Raw(b.to_string()));
        }

        // trigger
        let mut trigger = Vec::new();
        let mut comments = Vec::new();
        let mut segs = Vec::new();
        for s in self.list(at, "triggerWithSegments") {
            if let Some(gid) = self.cx.string(&s) {
                let seg = self.reference(ObjKind::Segment, &gid, &s, &id, &mut comments);
                segs.push(format!("segment({})", dsl_str(&seg)));
            }
        }
        match segs.len() {
            0 => {}
            1 => trigger.push(segs[0].clone()),
            _ => trigger.push(format!("({})", segs.join(" or "))),
        }
        trigger.extend(self.event_conditions(at, &mut comments));
        for cond in self.list(at, "triggerWithOutcomeProbabilityConditions") {
            trigger.extend(self.outcome_condition(&cond, &id, false, &mut comments));
        }
        for cond in self.list(at, "triggerWithOutcomeQuantileConditions") {
            trigger.extend(self.outcome_condition(&cond, &id, true, &mut comments));
        }
        if trigger.is_empty() {
            comments.push(self.cx.note(at, "the action map has no trigger: `false` keeps it from qualifying"));
            trigger.push("false".into());
        }
        item.push_with(comments, "trigger", Val::Cond(trigger));

        // page_url
        let mut comments = Vec::new();
        let page: Vec<String> = self
            .list(at, "pageUrlConditions")
            .iter()
            .filter_map(|c| self.criterion(c, CritIn::PageUrl, &mut comments))
            .collect();
        if !page.is_empty() {
            item.push_with(comments, "page_url", Val::Cond(page));
        } else {
            item.comments.extend(comments);
        }

        // activation
        if let Some(act) = at.get("activation")
            && self.cx.object(&act)
        {
            let mut comments = Vec::new();
            self.cx.unmapped_fields(&act, &["type", "delayInSeconds"], &mut comments);
            let kind = match act.get("type") {
                Some(t) => self.cx.one_of(&t, "activation type", ACTIVATIONS),
                None => Some("immediate"),
            };
            let value = match kind {
                Some("immediate") => Some("immediate".to_string()),
                Some("delay") => match act.get("delayInSeconds") {
                    Some(d) => self.cx.whole(&d, 0).map(|s| {
                        if s == 0 { "immediate".to_string() } else { format!("{{delay: {}}}", duration_ms(s * 1000)) }
                    }),
                    None => {
                        self.cx.error(&act, "a `delay` activation needs `delayInSeconds`", None);
                        None
                    }
                },
                Some(t @ ("on-next-visit" | "on-next-session")) => {
                    comments.push(format!(
                        "Genesys activation `{t}`: pesim has one next-visit activation, `next_session` (on-next-visit and on-next-session both map to it)"
                    ));
                    Some("next_session".to_string())
                }
                _ => None,
            };
            if let Some(v) = value {
                item.push_with(comments, "activation", Val::Raw(v));
            }
        }
        for (key, out) in [("startDate", "start"), ("endDate", "end")] {
            if let Some(d) = at.get(key)
                && let Some(s) = self.cx.string(&d)
            {
                match s.parse::<jiff::Timestamp>() {
                    Ok(t) => item.push(out, Val::Raw(t.to_string())),
                    Err(_) => self.cx.error(
                        &d,
                        format!("`{key}` must be an ISO 8601 time with an offset, found `{s}`"),
                        Some("e.g. 2026-11-01T00:00:00.000Z".into()),
                    ),
                }
            }
        }
        if let (Some(s), Some(e)) = (at.get("startDate"), at.get("endDate"))
            && let (Some(Ok(ts)), Some(Ok(te))) =
                (s.node.as_str().map(str::parse::<jiff::Timestamp>), e.node.as_str().map(str::parse::<jiff::Timestamp>))
            && te <= ts
        {
            self.cx.error(
                &e,
                "`endDate` is not after `startDate`",
                Some("the action map runs in [startDate, endDate)".into()),
            );
        }
        if let Some(b) = at.get("ignoreFrequencyCap")
            && let Some(b) = self.cx.boolean(&b)
        {
            item.push("ignore_frequency_cap", Val::Raw(b.to_string()));
        }
        match at.get("action") {
            Some(action) if self.cx.object(&action) => self.action(&action, &id, &mut item),
            Some(_) => {}
            None => self.cx.error(at, "an action map needs an `action` (with its `mediaType`)", None),
        }
        item
    }

    /// `triggerWithEventConditions`: all must hold. Conditions on one event name
    /// apply to the current event; on several event names, each must have
    /// happened in this session (`count(EVENT where ...) >= 1`).
    fn event_conditions(&mut self, at: &At<'j>, comments: &mut Vec<String>) -> Vec<String> {
        let mut groups: Vec<(Option<String>, Vec<String>)> = Vec::new();
        for cond in self.list(at, "triggerWithEventConditions") {
            if !self.cx.object(&cond) {
                continue;
            }
            let event = cond.get("eventName").and_then(|e| self.cx.string(&e));
            // A criterion that cannot be mapped is left out (noted); its event name stays.
            let c = self.criterion(&cond, CritIn::Event, comments);
            let group = match groups.iter().position(|g| g.0 == event) {
                Some(i) => i,
                None => {
                    groups.push((event, Vec::new()));
                    groups.len() - 1
                }
            };
            groups[group].1.extend(c);
        }
        if groups.len() == 1 {
            let (event, conds) = groups.pop().expect("one group");
            let mut out = Vec::new();
            if let Some(e) = event {
                out.push(format!("event.name == {}", dsl_str(&e)));
            }
            out.extend(conds);
            return out;
        }
        if !groups.is_empty() {
            comments.push(
                "event conditions on different events: each must have happened in this session (count(...) >= 1)"
                    .into(),
            );
        }
        groups
            .into_iter()
            .map(|(event, mut conds)| {
                let name = match event {
                    Some(e) if is_ident(&e) => e,
                    Some(e) => {
                        conds.insert(0, format!("event.name == {}", dsl_str(&e)));
                        "*".into()
                    }
                    None => "*".into(),
                };
                if conds.is_empty() {
                    format!("count({name}) >= 1")
                } else {
                    format!("count({name} where {}) >= 1", conds.join(SOFT_AND))
                }
            })
            .collect()
    }

    /// An outcome probability (or quantile) condition: the session maximum at or
    /// above the threshold and, when set, the current value at or below (quantile:
    /// below) the fallback.
    fn outcome_condition(&mut self, at: &At<'j>, map: &str, quantile: bool, comments: &mut Vec<String>) -> Vec<String> {
        if !self.cx.object(at) {
            return Vec::new();
        }
        let (max_key, cur_key, max_prop, cur_prop, cur_op) = if quantile {
            ("maxQuantileThreshold", "fallbackQuantileThreshold", "max_quantile", "quantile", "<")
        } else {
            ("maximumProbability", "probability", "max_probability", "probability", "<=")
        };
        self.cx.unmapped_fields(at, &["outcomeId", max_key, cur_key], comments);
        let Some(oid) = at.get("outcomeId") else {
            self.cx.error(at, "an outcome condition needs an `outcomeId`", None);
            return Vec::new();
        };
        let Some(gid) = self.cx.string(&oid) else { return Vec::new() };
        let outcome = self.reference(ObjKind::Outcome, &gid, &oid, map, comments);
        let mut out = Vec::new();
        for (key, prop, op) in [(max_key, max_prop, ">="), (cur_key, cur_prop, cur_op)] {
            if let Some(v) = at.get(key)
                && let Some(n) = self.cx.number(&v)
            {
                out.push(format!("outcome({}).{prop} {op} {}", dsl_str(&outcome), num(n)));
            }
        }
        if out.is_empty() {
            comments.push(self.cx.note(at, format!("the outcome condition sets no `{max_key}`; ignored")));
        } else {
            comments.push(self.cx.note(
                at,
                format!(
                    "outcome `{outcome}` has no predictor (Genesys does not export its models): its scores stay missing and this condition false until one is trained (`pesim train FILE --outcome {outcome}`)"
                ),
            ));
        }
        out
    }

    fn action(&mut self, action: &At<'j>, map: &str, item: &mut Item) {
        let mut comments = Vec::new();
        self.cx.unmapped_fields(action, &["mediaType", "actionTargetId", "isPacingEnabled"], &mut comments);
        let Some(media) = action.get("mediaType") else {
            self.cx.error(action, "an action needs a `mediaType`", Some(format!("one of {}", MEDIA_TYPES.join(", "))));
            return;
        };
        let Some(media) = self.cx.one_of(&media, "media type", MEDIA_TYPES) else { return };
        let pacing = action.get("isPacingEnabled").and_then(|p| self.cx.boolean(&p));
        let target = action.get("actionTargetId");
        let (kind, chat) = match media {
            "webchat" => ("webchat", true),
            "webMessagingOffer" => ("web_messaging", true),
            "contentOffer" => ("content_offer", false),
            other => {
                comments.push(format!(
                    "Genesys mediaType `{other}` is imported as a webhook: it fires (`offered`) for every qualifying visitor; what it calls is not simulated"
                ));
                ("webhook", false)
            }
        };
        let mut parts = vec![format!("type: {kind}")];
        if chat {
            let gid = match &target {
                Some(t) => match self.cx.string(t) {
                    Some(gid) => Some(gid).filter(|g| !g.is_empty()),
                    None => return,
                },
                None => None,
            };
            let wg = match (&target, gid) {
                (Some(t), Some(gid)) => self.reference(ObjKind::ActionTarget, &gid, t, map, &mut comments),
                _ => {
                    comments.push(self.cx.note(
                        action,
                        "no `actionTargetId`: routed to the stub workgroup `unrouted` (pesim needs a workgroup for chats)",
                    ));
                    self.unrouted()
                }
            };
            parts.push(format!("target: {wg}"));
            parts.push(format!("pacing: {}", pacing.unwrap_or(true)));
        } else if let Some(t) = &target {
            comments.push(self.cx.note(t, format!("`actionTargetId` is not used by {media} actions; ignored")));
        }
        item.push_with(comments, "action", Val::Raw(format!("{{{}}}", parts.join(", "))));
    }

    /// The readable id of a referenced object; a stub (and a note) when it is not among the inputs.
    fn reference(&mut self, kind: ObjKind, gid: &str, at: &At<'j>, map: &str, comments: &mut Vec<String>) -> String {
        if let Some(id) = self.ids.get(&(kind, gid.to_string())) {
            return id.clone();
        }
        let id = self.unique(&format!("missing_{}_{}", kind_prefix(kind), short(gid)), kind_prefix(kind));
        self.ids.insert((kind, gid.to_string()), id.clone());
        let what = kind.word();
        let why = match kind {
            ObjKind::Segment => "a segment that is never assigned",
            ObjKind::Outcome => "an outcome that is never achieved",
            _ => "a workgroup with no agents",
        };
        comments.push(self.cx.note(
            at,
            format!(
                "{what} `{gid}` is not among the inputs: `{id}` is {why}; import its JSON too (or write it by hand)"
            ),
        ));
        let mut item = Item::new(id.clone(), Some(gid.to_string()));
        item.comments.push(format!(
            "stub: {what} `{gid}`, used by action map `{map}`, is not among the imported files; import its JSON too, or write it here"
        ));
        match kind {
            ObjKind::Segment => {
                item.push("when", Val::Cond(vec!["false".into()]));
                self.stub_segments.push(item);
            }
            ObjKind::Outcome => {
                item.push("achieved_when", Val::Cond(vec!["false".into()]));
                self.stub_outcomes.push(item);
            }
            _ => {
                item.trailing.extend(agents_comment());
                self.stub_workgroups.push(item);
            }
        }
        id
    }

    /// The shared stub workgroup of chats without `actionTargetId`.
    fn unrouted(&mut self) -> String {
        // A key no UUID can be: the API's ids are never empty.
        let key = (ObjKind::ActionTarget, String::new());
        if let Some(id) = self.ids.get(&key) {
            return id.clone();
        }
        let id = self.unique("unrouted", "unrouted");
        self.ids.insert(key, id.clone());
        let mut item = Item::new(id.clone(), None);
        item.comments.push(
            "stub: the workgroup of chat actions that set no actionTargetId (Genesys routes those by its own flow)"
                .into(),
        );
        item.trailing.extend(agents_comment());
        self.stub_workgroups.push(item);
        id
    }

    // ---------- writing ----------

    fn write(&mut self) {
        let mut out = String::new();
        out.push_str("# Imported from Genesys Cloud (Journey API) by `pesim import genesys`, from:\n");
        for (name, _) in self.cx.files {
            out.push_str(&format!("#   {}\n", comment_text(name)));
        }
        out.push_str(
            "# `# genesys_id:` keeps each item's Genesys UUID. `# note:` comments repeat the importer's\n\
             # notes: what pesim cannot represent, or represents differently. The workgroups have\n\
             # no agents (the Journey API does not export staffing): add them before `pesim run`.\n",
        );
        out.push_str("name: genesys-import\n");
        let sections = [
            ("workgroups", [&self.workgroups, &self.stub_workgroups]),
            ("segments", [&self.segments, &self.stub_segments]),
            ("outcomes", [&self.outcomes, &self.stub_outcomes]),
            ("action_maps", [&self.action_maps, &Vec::new()]),
        ];
        for (name, lists) in sections {
            let items: Vec<&Item> = lists.iter().flat_map(|l| l.iter()).collect();
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{name}:\n"));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                write_item(&mut out, item);
            }
        }
        self.out = out;
    }
}

fn agents_comment() -> Vec<String> {
    vec![
        "agents: the Journey API does not export the queue's staffing. Add it before `pesim run`, e.g.".into(),
        "  agents:".into(),
        "    - {count: 4, licensed: true, shift: \"08:00-16:00\"}".into(),
        "(until then `pesim check` warns that pacing-enabled chats to this workgroup can never be offered)".into(),
    ]
}

fn write_item(out: &mut String, item: &Item) {
    out.push_str(&format!("  - id: {}", item.id));
    if let Some(g) = &item.gid {
        out.push_str(&format!("  # genesys_id: {}", comment_text(g)));
    }
    out.push('\n');
    let mut seen = HashSet::new();
    let mut comment = |out: &mut String, c: &String| {
        if seen.insert(c.clone()) {
            out.push_str(&format!("    # {}\n", comment_text(c)));
        }
    };
    for c in &item.comments {
        comment(out, c);
    }
    for f in &item.fields {
        for c in &f.comments {
            comment(out, c);
        }
        match &f.value {
            Val::Raw(v) => out.push_str(&format!("    {}: {v}\n", f.key)),
            Val::Str(s) => out.push_str(&format!("    {}: {}\n", f.key, yaml_str(s))),
            Val::Cond(conjuncts) => {
                let joined = conjuncts.join(" and ").replace('\n', " ");
                if 4 + f.key.len() + 4 + joined.len() <= 100 {
                    out.push_str(&format!("    {}: '{}'\n", f.key, joined.replace('\'', "''")));
                } else {
                    // A folded block: one conjunct a line; a long `count(... where ...)` goes on
                    // more-indented lines, which YAML keeps as line breaks (whitespace to the DSL).
                    out.push_str(&format!("    {}: >-\n", f.key));
                    for (i, c) in conjuncts.iter().enumerate() {
                        out.push_str(if i == 0 { "      " } else { "      and " });
                        if c.len() + 10 <= 100 {
                            out.push_str(&c.replace('\n', " "));
                        } else {
                            out.push_str(&c.replace('\n', "\n          "));
                        }
                        out.push('\n');
                    }
                }
            }
        }
    }
    for c in &item.trailing {
        comment(out, c);
    }
}

// ---------------------------------------------------------------------------
// Conditions

/// `and` between the criteria of a `count(... where ...)`, with a soft line break
/// (`\n`) that the writer turns into a space or a more-indented line. Condition
/// text has no other raw line break: string literals escape theirs.
const SOFT_AND: &str = "\nand ";

/// A criterion as a condition of the pesim language (SPEC §3).
fn condition(field: &FieldExpr, op: &str, values: &[String], ignore_case: bool) -> Result<String, String> {
    let numeric = matches!(op, "greaterThan" | "greaterThanOrEqual" | "lessThan" | "lessThanOrEqual");
    if values.is_empty() {
        return Err(format!("`{op}` has no values"));
    }
    let name = match field {
        FieldExpr::Text(f) => f.to_string(),
        FieldExpr::Attr(a) => format!("attributes.{a}"),
        FieldExpr::Bool(f) => {
            let mut bools = Vec::new();
            for v in values {
                match v.to_ascii_lowercase().as_str() {
                    "true" => bools.push(true),
                    "false" => bools.push(false),
                    _ => return Err(format!("`{f}` is true or false, not `{v}`")),
                }
            }
            let (cmp, join) = match op {
                "equal" => ("==", " or "),
                "notEqual" => ("!=", " and "),
                _ => return Err(format!("`{op}` does not apply to `{f}` (true or false)")),
            };
            let parts: Vec<String> = bools.iter().map(|b| format!("{f} {cmp} {b}")).collect();
            return Ok(if parts.len() == 1 { parts[0].clone() } else { format!("({})", parts.join(join)) });
        }
    };
    if numeric {
        let cmp = match op {
            "greaterThan" => ">",
            "greaterThanOrEqual" => ">=",
            "lessThan" => "<",
            _ => "<=",
        };
        if let FieldExpr::Text(f) = field {
            return Err(format!("`{op}` compares numbers, but `{f}` is text in pesim"));
        }
        let n = values[0].trim().parse::<f64>().ok().filter(|n| n.is_finite());
        let Some(n) = n else { return Err(format!("`{op}` needs a number, not `{}`", values[0])) };
        let lit = if n < 0.0 { format!("-{}", num(-n)) } else { num(n) };
        return Ok(format!("{name} {cmp} {lit}"));
    }
    let (lhs, values): (String, Vec<String>) = if ignore_case {
        (format!("lower({name})"), values.iter().map(|v| v.to_lowercase()).collect())
    } else {
        (name, values.to_vec())
    };
    let one = values.len() == 1;
    let lit = dsl_str(&values[0]);
    let list = format!("[{}]", values.iter().map(|v| dsl_str(v)).collect::<Vec<_>>().join(", "));
    Ok(match op {
        "equal" if one => format!("{lhs} == {lit}"),
        "equal" => format!("{lhs} in {list}"),
        "notEqual" if one => format!("{lhs} != {lit}"),
        "notEqual" => format!("{lhs} not in {list}"),
        "containsAny" | "containsAll" if one => format!("{lhs} contains {lit}"),
        "containsAny" => format!("{lhs} contains any {list}"),
        "containsAll" => format!("{lhs} contains all {list}"),
        "notContainsAny" | "notContainsAll" if one => format!("{lhs} not contains {lit}"),
        "notContainsAny" => format!("{lhs} not contains any {list}"),
        "notContainsAll" => format!("{lhs} not contains all {list}"),
        "startsWith" | "endsWith" => {
            let word = if op == "startsWith" { "starts_with" } else { "ends_with" };
            let parts: Vec<String> = values.iter().map(|v| format!("{lhs} {word} {}", dsl_str(v))).collect();
            if one { parts[0].clone() } else { format!("({})", parts.join(" or ")) }
        }
        other => return Err(format!("operator `{other}` is not mapped")),
    })
}

// ---------------------------------------------------------------------------
// Text helpers

/// A number as the condition language and YAML write it: `3`, `0.75`.
fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// A duration in pesim's notation: `20s`, `2m`, `1500ms`.
fn duration_ms(ms: i64) -> String {
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s > 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s > 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Characters YAML cannot hold as they are (outside its printable set).
fn yaml_unprintable(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        || c == '\u{feff}'
}

/// A string literal of the condition language (JSON escapes), also safe inside
/// a YAML single-quoted or folded scalar.
fn dsl_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || yaml_unprintable(c) || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML double-quoted scalar.
fn yaml_str(s: &str) -> String {
    dsl_str(s)
}

/// Text that stays on one comment line and is valid YAML.
fn comment_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() || yaml_unprintable(c) { ' ' } else { c }).collect()
}

/// Latin letters with diacritics, folded to ASCII for ids.
const FOLD: &[(&str, &str)] = &[
    ("àáâãäåāăą", "a"),
    ("çćĉċč", "c"),
    ("ďđð", "d"),
    ("èéêëēĕėęě", "e"),
    ("ĝğġģ", "g"),
    ("ĥħ", "h"),
    ("ìíîïĩīĭįı", "i"),
    ("ĵ", "j"),
    ("ķ", "k"),
    ("ĺļľŀł", "l"),
    ("ñńņňŉ", "n"),
    ("òóôõöøōŏő", "o"),
    ("ŕŗř", "r"),
    ("śŝşš", "s"),
    ("ţťŧ", "t"),
    ("ùúûüũūŭůűų", "u"),
    ("ŵ", "w"),
    ("ýÿŷ", "y"),
    ("źżž", "z"),
    ("ß", "ss"),
    ("æ", "ae"),
    ("œ", "oe"),
    ("þ", "th"),
];

/// A readable snake_case id: ASCII letters and digits (accents folded), `_` between words.
fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded = if c.is_ascii_alphanumeric() {
            Some(c.to_string())
        } else {
            FOLD.iter().find(|(from, _)| from.contains(c)).map(|(_, to)| to.to_string())
        };
        match folded {
            Some(text) => {
                if gap && !out.is_empty() {
                    out.push('_');
                }
                gap = false;
                out.push_str(&text);
            }
            None => gap = true,
        }
    }
    out.truncate(60);
    out.trim_end_matches('_').to_string()
}

/// An id YAML tools would read as a number, boolean or null when written plain
/// (`123`, `1e5`, `null`, `yes`): it gets the kind as a prefix (`segment_123`).
fn yaml_special(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_digit())
        || ["null", "true", "false", "yes", "no", "on", "off", "y", "n", "inf", "nan"].contains(&id)
}

fn kind_prefix(kind: ObjKind) -> &'static str {
    match kind {
        ObjKind::Segment => "segment",
        ObjKind::Outcome => "outcome",
        ObjKind::ActionMap => "action_map",
        ObjKind::ActionTarget => "workgroup",
    }
}

/// The first 8 id characters of a UUID, for ids of unnamed objects.
fn short(gid: &str) -> String {
    gid.chars().filter(char::is_ascii_alphanumeric).take(8).collect::<String>().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_snake_case() {
        assert_eq!(snake("Cart visitors (EU) — 2026!"), "cart_visitors_eu_2026");
        assert_eq!(snake("  "), "");
        assert_eq!(snake("ÉtéPromo"), "etepromo");
        assert_eq!(snake("Straße Łódź"), "strasse_lodz");
        assert_eq!(snake("日本"), "");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms(20_000), "20s");
        assert_eq!(duration_ms(120_000), "2m");
        assert_eq!(duration_ms(7_200_000), "2h");
        assert_eq!(duration_ms(1500), "1500ms");
        assert_eq!(duration_ms(0), "0s");
    }

    #[test]
    fn literals_escape_what_yaml_and_the_dsl_cannot_hold() {
        assert_eq!(dsl_str("a\"b\\c\u{7f}\u{1}é\u{85}\u{2028}"), "\"a\\\"b\\\\c\\u007f\\u0001é\\u0085\\u2028\"");
    }

    #[test]
    fn serde_positions_become_offsets() {
        let text = "{\n  \"a\": 1,\n  \"b\" 2\n}";
        let e = serde_json::from_str::<serde::de::IgnoredAny>(text).unwrap_err();
        let off = serde_offset(text, e.line(), e.column());
        assert_eq!(text_line_col(text, off), (e.line(), e.column()));
    }
}
