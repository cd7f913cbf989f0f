//! Tracking events (SPEC §4): JSON Lines in the Genesys web-event shape → typed
//! [`Event`]s, read as a stream (one line in memory at a time).
//!
//! Names the rules never mention are kept as text but interned to
//! `Sym::UNKNOWN`, so conditions compare ids only.

use std::io::BufRead;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Deserialize;

pub use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{ActionMapId, Millis, ResponseState};
use crate::dsl::fields::StrField;
use crate::dsl::{DynValue, Interner, Sym};

/// The visit-context fields an event may carry (SPEC §3, "visit context").
pub const CONTEXT_FIELDS: [StrField; 22] = [
    StrField::SearchQuery,
    StrField::BrowserFamily,
    StrField::BrowserVersion,
    StrField::BrowserLang,
    StrField::DeviceCategory,
    StrField::DeviceType,
    StrField::DeviceOs,
    StrField::GeoCountry,
    StrField::GeoCountryName,
    StrField::GeoRegion,
    StrField::GeoLocality,
    StrField::GeoPostalCode,
    StrField::CampaignSource,
    StrField::CampaignMedium,
    StrField::CampaignName,
    StrField::CampaignTerm,
    StrField::CampaignContent,
    StrField::CampaignClickId,
    StrField::CampaignNetwork,
    StrField::ReferrerUrl,
    StrField::ReferrerHostname,
    StrField::ReferrerMedium,
];

/// The parts of the visit context, which travel together: an event that
/// carries `device` replaces all `device.*` fields of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextPart {
    Search,
    Browser,
    Device,
    Geo,
    Campaign,
    Referrer,
}

impl ContextPart {
    pub const ALL: [ContextPart; 6] = [
        ContextPart::Search,
        ContextPart::Browser,
        ContextPart::Device,
        ContextPart::Geo,
        ContextPart::Campaign,
        ContextPart::Referrer,
    ];
    /// The range of [`CONTEXT_FIELDS`] this part covers.
    pub fn fields(self) -> std::ops::Range<usize> {
        match self {
            ContextPart::Search => 0..1,
            ContextPart::Browser => 1..4,
            ContextPart::Device => 4..7,
            ContextPart::Geo => 7..12,
            ContextPart::Campaign => 12..19,
            ContextPart::Referrer => 19..22,
        }
    }
}

/// One context part's values, in the order of its fields. Shared text: the
/// snippet resends the same context with every event, and a reader interns it
/// so that the engine keeps it without copying (see [`EventReader`]).
pub type ContextValues = [Option<Arc<str>>; 7];

/// The context parts an event carries, from (field, value) pairs: the fields of
/// one part share its array; fields that are not visit context are skipped.
pub fn context_parts<'a>(values: impl IntoIterator<Item = (StrField, &'a str)>) -> Vec<(ContextPart, ContextValues)> {
    let mut parts: Vec<(ContextPart, ContextValues)> = Vec::new();
    for (field, value) in values {
        let Some(idx) = context_index(field) else { continue };
        let Some(part) = ContextPart::ALL.iter().copied().find(|p| p.fields().contains(&idx)) else { continue };
        let slot = idx - part.fields().start;
        match parts.iter_mut().find(|(p, _)| *p == part) {
            Some((_, arr)) => arr[slot] = Some(value.into()),
            None => {
                let mut arr: ContextValues = Default::default();
                arr[slot] = Some(value.into());
                parts.push((part, arr));
            }
        }
    }
    parts
}

/// Index of a context field in [`CONTEXT_FIELDS`], if it is one.
pub fn context_index(field: StrField) -> Option<usize> {
    CONTEXT_FIELDS.iter().position(|f| *f == field)
}

/// The page of a pageview, with the parts derived from its URL.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub url: Box<str>,
    pub title: Option<Box<str>>,
    pub hostname: Option<Box<str>>,
    pub domain: Option<Box<str>>,
    pub pathname: Option<Box<str>>,
    pub query: Option<Box<str>>,
    pub fragment: Option<Box<str>>,
    pub keywords: Option<Box<str>>,
    pub lang: Option<Box<str>>,
}

impl Page {
    pub fn get(&self, f: StrField) -> Option<&str> {
        match f {
            StrField::PageUrl => Some(&self.url),
            StrField::PageTitle => self.title.as_deref(),
            StrField::PageHostname => self.hostname.as_deref(),
            StrField::PageDomain => self.domain.as_deref(),
            StrField::PagePathname => self.pathname.as_deref(),
            StrField::PageQuery => self.query.as_deref(),
            StrField::PageFragment => self.fragment.as_deref(),
            StrField::PageKeywords => self.keywords.as_deref(),
            StrField::PageLang => self.lang.as_deref(),
            _ => None,
        }
    }

    /// A page from a URL alone, deriving host, path, query and fragment.
    pub fn from_url(url: &str) -> Self {
        let mut p = Page { url: url.into(), ..Default::default() };
        p.derive();
        p
    }

    /// Fills host, domain, path, query and fragment from the URL where absent.
    fn derive(&mut self) {
        let url = &*self.url;
        let (rest, fragment) = match url.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (url, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let after_scheme = rest.split_once("://").map_or(rest, |(_, r)| r);
        let (host, path) = if rest.contains("://") {
            match after_scheme.find('/') {
                Some(i) => (Some(&after_scheme[..i]), &after_scheme[i..]),
                None => (Some(after_scheme), "/"),
            }
        } else {
            (None, rest)
        };
        let host = host.map(|h| h.rsplit_once('@').map_or(h, |(_, h)| h));
        let host = host.map(|h| h.split(':').next().unwrap_or(h)).filter(|h| !h.is_empty());
        if self.hostname.is_none() {
            self.hostname = host.map(Into::into);
        }
        if self.domain.is_none() {
            // The registrable part, approximated as the last two labels (no public-suffix list).
            self.domain = host.map(|h| {
                let labels: Vec<&str> = h.split('.').collect();
                if labels.len() <= 2 { h.into() } else { labels[labels.len() - 2..].join(".").into() }
            });
        }
        if self.pathname.is_none() {
            self.pathname = Some(path.into());
        }
        if self.query.is_none() {
            self.query = query.map(Into::into);
        }
        if self.fragment.is_none() {
            self.fragment = fragment.map(Into::into);
        }
    }
}

/// A tracking event, typed and interned.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackEvent {
    /// Interned with the rules' names; `Sym::UNKNOWN` if no rule names it.
    pub name: Sym,
    pub name_text: Arc<str>,
    pub is_pageview: bool,
    /// Shared with the session that shows it: a pageview costs no copy.
    pub page: Option<std::sync::Arc<Page>>,
    /// Context parts the event carries, with all of that part's fields.
    pub context: Vec<(ContextPart, ContextValues)>,
    /// Attributes the rules read, by interned name.
    pub attributes: Vec<(Sym, DynValue)>,
    /// Attributes no rule names. The reader drops them; generated events keep
    /// them so that `pesim generate` writes everything a persona records.
    pub other_attributes: Vec<(Box<str>, DynValue)>,
    pub traits: Vec<(Sym, DynValue)>,
    pub authenticated: Option<bool>,
}

impl TrackEvent {
    /// A bare event named `name` (pages and context added by the caller).
    pub fn named(interner: &Interner, name: &str) -> Self {
        Self::named_shared(interner, name.into())
    }

    /// [`TrackEvent::named`] with a name text shared with other events.
    pub fn named_shared(interner: &Interner, name: Arc<str>) -> Self {
        TrackEvent {
            name: interner.lookup(&name),
            is_pageview: &*name == "page_viewed",
            name_text: name,
            page: None,
            context: Vec::new(),
            attributes: Vec::new(),
            other_attributes: Vec::new(),
            traits: Vec::new(),
            authenticated: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    Track(Box<TrackEvent>),
    /// A visitor's answer to an open offer (`actionEvent`).
    Response {
        action_map: ActionMapId,
        state: ResponseState,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time: SimTime,
    pub customer: Arc<str>,
    pub kind: EventKind,
    /// 1-based line in the input (0 for generated events).
    pub line: u64,
}

// ---------- the JSON shape ----------

/// A text of the line, borrowed unless it holds escapes: most texts are
/// interned or only looked at, and need no copy of their own.
type Text<'a> = std::borrow::Cow<'a, str>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent<'a> {
    #[serde(borrow)]
    created_date: Option<Text<'a>>,
    #[serde(borrow)]
    customer_cookie_id: Option<Text<'a>>,
    #[serde(borrow)]
    event_name: Option<Text<'a>>,
    page: Option<RawPage>,
    #[serde(borrow)]
    browser: Option<RawBrowser<'a>>,
    #[serde(borrow)]
    device: Option<RawDevice<'a>>,
    #[serde(borrow)]
    geolocation: Option<RawGeo<'a>>,
    #[serde(borrow)]
    referrer: Option<RawReferrer<'a>>,
    #[serde(borrow)]
    mkt_campaign: Option<RawCampaign<'a>>,
    #[serde(borrow)]
    search_query: Option<Text<'a>>,
    #[serde(default)]
    attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    traits: serde_json::Map<String, serde_json::Value>,
    authenticated: Option<bool>,
    action_event: Option<RawActionEvent>,
}

impl RawPage {
    fn texts(&self) -> impl Iterator<Item = &str> {
        [
            &self.url,
            &self.title,
            &self.hostname,
            &self.domain,
            &self.pathname,
            &self.query_string,
            &self.fragment,
            &self.keywords,
            &self.lang,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
struct RawPage {
    url: Option<String>,
    title: Option<String>,
    hostname: Option<String>,
    domain: Option<String>,
    pathname: Option<String>,
    query_string: Option<String>,
    fragment: Option<String>,
    keywords: Option<String>,
    lang: Option<String>,
}

#[derive(Deserialize)]
struct RawBrowser<'a> {
    #[serde(borrow)]
    family: Option<Text<'a>>,
    #[serde(borrow)]
    version: Option<Text<'a>>,
    #[serde(borrow)]
    lang: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDevice<'a> {
    #[serde(borrow)]
    category: Option<Text<'a>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    os_family: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGeo<'a> {
    #[serde(borrow)]
    country: Option<Text<'a>>,
    #[serde(borrow)]
    country_name: Option<Text<'a>>,
    #[serde(borrow)]
    region: Option<Text<'a>>,
    #[serde(borrow)]
    locality: Option<Text<'a>>,
    #[serde(borrow)]
    postal_code: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReferrer<'a> {
    #[serde(borrow)]
    url: Option<Text<'a>>,
    #[serde(borrow)]
    hostname: Option<Text<'a>>,
    #[serde(borrow)]
    medium: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCampaign<'a> {
    #[serde(borrow)]
    source: Option<Text<'a>>,
    #[serde(borrow)]
    medium: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    term: Option<Text<'a>>,
    #[serde(borrow)]
    content: Option<Text<'a>>,
    #[serde(borrow)]
    click_id: Option<Text<'a>>,
    #[serde(borrow)]
    network: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawActionEvent {
    action_map: String,
    state: String,
}

/// Why a line is not a valid event.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LineError {
    #[error("invalid JSON: {message}")]
    Json {
        message: String,
        /// 1-based byte column of the error in the line, when serde knows it.
        column: Option<usize>,
    },
    #[error("a line must be a JSON object `{{...}}`, found {0}")]
    NotAnObject(&'static str),
    #[error("`{0}` is empty")]
    Empty(&'static str),
    #[error("a line is either a tracking event (`eventName`) or a response (`actionEvent`), not both")]
    EventAndResponse,
    #[error("line is not valid UTF-8 (byte {0})")]
    NotUtf8(usize),
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("`eventName` {0:?} may only contain letters, digits and `_`")]
    BadEventName(String),
    #[error("`createdDate` {0:?} is not an RFC 3339 time")]
    BadTime(String),
    #[error("goes back in time: {at} is before the previous event at {previous}")]
    BackInTime { at: String, previous: String },
    #[error("the event at {at} is before the scenario's start {start}")]
    BeforeStart { at: String, start: String },
    /// Most likely a wrong date: the clock would publish availability at every
    /// pacing interval of the gap (a year is 6.3 million intervals per workgroup).
    #[error(
        "jumps ahead: {} is {} after {} {}, more than --max-gap ({limit})",
        .at.rfc3339(),
        Millis(.at.0 - .since.0),
        if *.from_start { "the scenario's start" } else { "the previous event at" },
        .since.rfc3339()
    )]
    TooFarAhead { at: SimTime, since: SimTime, from_start: bool, limit: Millis },
    #[error("`actionEvent` names unknown action map {0:?}")]
    UnknownActionMap(String),
    #[error("`actionEvent` state {0:?} must be accepted, rejected or ignored")]
    BadState(String),
    #[error("attribute `{name}`: {why}")]
    BadAttribute { name: String, why: String },
    #[error("`actionEvent` answers no open offer of action map `{0}` for this visitor")]
    NoOpenOffer(String),
    #[error("cannot read the input: {0}")]
    Io(String),
}

impl LineError {
    /// Where in the line the problem is: (byte offset, byte length), for the caret.
    pub fn locate(&self, text: &str) -> (usize, usize) {
        // The value after `"key":`, searched after `within` (a parent key) if given.
        let key = |k: &str, within: Option<&str>| {
            let from = within.and_then(|p| text.find(&format!("\"{p}\""))).unwrap_or(0);
            let quoted = format!("\"{k}\"");
            text[from..].find(&quoted).map(|i| {
                let after = from + i + quoted.len();
                let rest = &text[after..];
                let value_start = rest.find(|c: char| c != ':' && !c.is_whitespace()).map_or(after, |j| after + j);
                (value_start, value_extent(&text[value_start..]).max(1))
            })
        };
        let found = match self {
            LineError::Json { column, .. } => column.map(|c| (c.saturating_sub(1).min(text.len()), 1)),
            LineError::BadEventName(_) | LineError::Empty("eventName") => key("eventName", None),
            LineError::BadTime(_)
            | LineError::BackInTime { .. }
            | LineError::BeforeStart { .. }
            | LineError::TooFarAhead { .. }
            | LineError::Empty("createdDate") => key("createdDate", None),
            LineError::Empty("customerCookieId") | LineError::Missing("customerCookieId") => {
                key("customerCookieId", None)
            }
            LineError::Missing("eventName") => key("eventName", None),
            LineError::UnknownActionMap(_) | LineError::NoOpenOffer(_) => key("actionMap", Some("actionEvent")),
            LineError::BadState(_) => key("state", Some("actionEvent")),
            LineError::BadAttribute { name, .. } => key(name, Some("attributes")),
            LineError::Missing("page.url") | LineError::Empty("page.url") => {
                key("url", Some("page")).or_else(|| key("page", None))
            }
            LineError::EventAndResponse => key("actionEvent", None),
            // The text shown is the lossy decoding, identical up to the bad byte.
            LineError::NotUtf8(byte) => Some((byte.saturating_sub(1), 1)),
            _ => None,
        };
        found.unwrap_or((0, 1))
    }

    /// What to do about it, when the message alone does not say.
    pub fn note(&self) -> Option<&'static str> {
        match self {
            LineError::TooFarAhead { .. } => Some(
                "pesim would simulate every pacing interval of the gap; if the date is right, \
                 pass a longer --max-gap (or `--max-gap none`)",
            ),
            _ => None,
        }
    }
}

/// The length of the JSON value at the start of `s`: a string with its quotes,
/// an object or array up to its matching bracket, or a bare word.
fn value_extent(s: &str) -> usize {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(b'"') => {
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => return i + 1,
                    _ => i += 1,
                }
            }
            bytes.len()
        }
        Some(b'{' | b'[') => {
            let (mut depth, mut i, mut in_str) = (0i32, 0, false);
            while i < bytes.len() {
                match (bytes[i], in_str) {
                    (b'\\', true) => i += 1,
                    (b'"', _) => in_str = !in_str,
                    (b'{' | b'[', false) => depth += 1,
                    (b'}' | b']', false) => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            bytes.len()
        }
        _ => s.find([',', '}', ']']).unwrap_or(s.len()),
    }
}

/// Quotes of input text in messages stay short: a 200 kB value must not become a 200 kB message.
fn clip(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX { s.to_string() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

/// serde's wording names our private types; say what the input should be instead.
fn readable_serde(msg: &str) -> String {
    let mut out = msg.to_string();
    for ty in
        ["RawEvent", "RawPage", "RawBrowser", "RawDevice", "RawGeo", "RawReferrer", "RawCampaign", "RawActionEvent"]
    {
        out = out.replace(&format!("struct {ty}"), "an object");
    }
    out
}

fn opt(s: Option<String>) -> Option<Box<str>> {
    s.filter(|s| !s.is_empty()).map(Into::into)
}

/// Reads one attribute value: plain JSON or `{"dataType": ..., "value": ...}`.
fn attribute_value(v: &serde_json::Value) -> Result<DynValue, String> {
    use serde_json::Value as J;
    match v {
        J::Number(n) => n.as_f64().map(DynValue::from_number).ok_or_else(|| "number out of range".into()),
        J::String(s) => Ok(DynValue::from_text(s)),
        J::Bool(b) => Ok(DynValue::from_bool(*b)),
        J::Object(o) if o.contains_key("dataType") || o.contains_key("value") => {
            let data_type = o.get("dataType").and_then(J::as_str).unwrap_or("string");
            let value = o.get("value").ok_or("`value` is missing")?;
            let text = match value {
                J::String(s) => s.clone(),
                J::Number(n) => n.to_string(),
                J::Bool(b) => b.to_string(),
                _ => return Err("`value` must be a number, string or boolean".into()),
            };
            match data_type {
                "number" | "integer" => {
                    let n: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a {data_type}"))?;
                    if data_type == "integer" && n.fract() != 0.0 {
                        return Err(format!("{text:?} is not an integer"));
                    }
                    Ok(DynValue::from_number(n))
                }
                "boolean" => match text.as_str() {
                    "true" => Ok(DynValue::from_bool(true)),
                    "false" => Ok(DynValue::from_bool(false)),
                    _ => Err(format!("{text:?} is not a boolean")),
                },
                "string" => Ok(DynValue::from_text(&text)),
                other => Err(format!("unknown dataType {other:?} (number, integer, string, boolean)")),
            }
        }
        _ => Err("must be a number, string, boolean or {\"dataType\", \"value\"}".into()),
    }
}

/// Parses one line. `interner` maps names to the rules' symbols.
pub fn parse_line(scenario: &Scenario, line: &str, line_no: u64) -> Result<Event, LineError> {
    parse_line_with(scenario, line, line_no, &mut Texts::default())
}

/// Context texts and pages seen recently, shared by the events that repeat
/// them (a site's pages and a visitor's context recur at every event). Bounded
/// in entries and in bytes (a stream of long, never-repeated URLs must not
/// fill memory): each starts afresh when full, which costs a few copies, never
/// a wrong value.
#[derive(Debug, Default)]
pub struct Texts {
    texts: rustc_hash::FxHashSet<Arc<str>>,
    text_bytes: usize,
    pages: rustc_hash::FxHashMap<RawPage, Arc<Page>>,
    page_bytes: usize,
}

/// Room for one more entry of `size` bytes in a cache of `len` entries holding
/// `*bytes`: `false` when it must be cleared first (then `*bytes` counts from 0).
fn has_room(len: usize, bytes: &mut usize, size: usize, max: (usize, usize)) -> bool {
    let room = len < max.0 && *bytes + size <= max.1;
    *bytes = if room { *bytes + size } else { size };
    room
}

impl Texts {
    /// Entries and bytes of texts.
    const MAX: (usize, usize) = (1 << 16, 8 << 20);
    /// Pages are larger than texts (a dozen fields): fewer of them.
    const MAX_PAGES: (usize, usize) = (1 << 13, 8 << 20);

    pub fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(t) = self.texts.get(text) {
            return t.clone();
        }
        if !has_room(self.texts.len(), &mut self.text_bytes, text.len(), Self::MAX) {
            self.texts.clear();
        }
        let t: Arc<str> = text.into();
        self.texts.insert(t.clone());
        t
    }

    /// The page of these fields (a non-empty `url`), built and derived once.
    fn page(&mut self, raw: RawPage) -> Arc<Page> {
        if let Some(p) = self.pages.get(&raw) {
            return p.clone();
        }
        // The key's texts, the page's copy of them, and about as much again in
        // the parts derived from the URL (hostname, pathname, query).
        let size = 3 * raw.texts().map(str::len).sum::<usize>();
        if !has_room(self.pages.len(), &mut self.page_bytes, size, Self::MAX_PAGES) {
            self.pages.clear();
        }
        let p = raw.clone();
        let mut page = Page {
            url: p.url.unwrap_or_default().into(),
            title: opt(p.title),
            hostname: opt(p.hostname),
            domain: opt(p.domain),
            pathname: opt(p.pathname),
            query: opt(p.query_string),
            fragment: opt(p.fragment),
            keywords: opt(p.keywords),
            lang: opt(p.lang),
        };
        page.derive();
        let page = Arc::new(page);
        self.pages.insert(raw, page.clone());
        page
    }
}

/// [`parse_line`], sharing context texts through `texts`.
pub fn parse_line_with(scenario: &Scenario, line: &str, line_no: u64, texts: &mut Texts) -> Result<Event, LineError> {
    // serde reads a struct from a JSON array too: insist on an object.
    match line.trim_start().as_bytes().first() {
        Some(b'[') => return Err(LineError::NotAnObject("an array")),
        Some(b'"') => return Err(LineError::NotAnObject("a string")),
        _ => {}
    }
    let raw: RawEvent = serde_json::from_str(line).map_err(|e| {
        // serde's message ends with "at line 1 column N": the column goes to the caret.
        let msg = e.to_string();
        let (msg, column) = match msg.rsplit_once(" at line 1 column ") {
            Some((m, col)) => (m.to_string(), col.parse().ok()),
            None => (msg, None),
        };
        LineError::Json { message: readable_serde(&msg), column }
    })?;
    let created = raw.created_date.ok_or(LineError::Missing("createdDate"))?;
    if created.is_empty() {
        return Err(LineError::Empty("createdDate"));
    }
    let time =
        created.parse::<Timestamp>().map(SimTime::from_timestamp).map_err(|_| LineError::BadTime(clip(&created)))?;
    let customer = match raw.customer_cookie_id {
        None => return Err(LineError::Missing("customerCookieId")),
        Some(c) if c.is_empty() => return Err(LineError::Empty("customerCookieId")),
        Some(c) => texts.intern(&c),
    };
    if raw.action_event.is_some() && raw.event_name.is_some() {
        return Err(LineError::EventAndResponse);
    }
    if let Some(ae) = raw.action_event {
        let id = scenario
            .action_maps
            .iter()
            .position(|m| m.id == ae.action_map)
            .ok_or_else(|| LineError::UnknownActionMap(clip(&ae.action_map)))?;
        let state = match ae.state.as_str() {
            "accepted" => ResponseState::Accepted,
            "rejected" => ResponseState::Rejected,
            "ignored" => ResponseState::Ignored,
            _ => return Err(LineError::BadState(clip(&ae.state))),
        };
        return Ok(Event {
            time,
            customer,
            kind: EventKind::Response { action_map: ActionMapId(id as u32), state },
            line: line_no,
        });
    }
    let name = raw.event_name.ok_or(LineError::Missing("eventName"))?;
    if name.is_empty() {
        return Err(LineError::Empty("eventName"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(LineError::BadEventName(clip(&name)));
    }
    let mut ev = TrackEvent::named_shared(&scenario.interner, texts.intern(&name));
    if let Some(p) = raw.page {
        match &p.url {
            Some(url) if !url.is_empty() => ev.page = Some(texts.page(p)),
            Some(_) if ev.is_pageview => return Err(LineError::Empty("page.url")),
            _ if ev.is_pageview => return Err(LineError::Missing("page.url")),
            _ => {}
        }
    } else if ev.is_pageview {
        return Err(LineError::Missing("page.url"));
    }
    let parts = [
        raw.search_query.is_some(),
        raw.browser.is_some(),
        raw.device.is_some(),
        raw.geolocation.is_some(),
        raw.mkt_campaign.is_some(),
        raw.referrer.is_some(),
    ];
    ev.context.reserve_exact(parts.iter().filter(|p| **p).count());
    let mut part = |part: ContextPart, values: &[Option<Text>]| {
        let mut arr: ContextValues = Default::default();
        for (slot, v) in arr.iter_mut().zip(values) {
            *slot = v.as_deref().filter(|s| !s.is_empty()).map(|s| texts.intern(s));
        }
        ev.context.push((part, arr));
    };
    if let Some(q) = raw.search_query {
        part(ContextPart::Search, &[Some(q)]);
    }
    if let Some(b) = raw.browser {
        part(ContextPart::Browser, &[b.family, b.version, b.lang]);
    }
    if let Some(d) = raw.device {
        part(ContextPart::Device, &[d.category, d.kind, d.os_family]);
    }
    if let Some(g) = raw.geolocation {
        part(ContextPart::Geo, &[g.country, g.country_name, g.region, g.locality, g.postal_code]);
    }
    if let Some(c) = raw.mkt_campaign {
        part(ContextPart::Campaign, &[c.source, c.medium, c.name, c.term, c.content, c.click_id, c.network]);
    }
    if let Some(r) = raw.referrer {
        part(ContextPart::Referrer, &[r.url, r.hostname, r.medium]);
    }
    for (k, v) in &raw.attributes {
        let value = attribute_value(v).map_err(|why| LineError::BadAttribute { name: clip(k), why: clip(&why) })?;
        let sym = scenario.interner.lookup(k);
        if sym != Sym::UNKNOWN {
            ev.attributes.push((sym, value));
        }
    }
    for (k, v) in &raw.traits {
        let sym = scenario.interner.lookup(k);
        if sym == Sym::UNKNOWN {
            continue;
        }
        let value = match v {
            serde_json::Value::String(s) => DynValue::from_text(s),
            other => attribute_value(other).unwrap_or_else(|_| DynValue::from_text(&other.to_string())),
        };
        ev.traits.push((sym, value));
    }
    ev.authenticated = raw.authenticated;
    Ok(Event { time, customer, kind: EventKind::Track(Box::new(ev)), line: line_no })
}

/// The largest step forward in time a stream may take, from one event to the
/// next (or from the scenario's `start` to the first), unless `--max-gap` says
/// otherwise. A longer one is far more often a wrong year than a quiet week,
/// and replaying it is not harmless: availability is published at every pacing
/// interval in between, which for a year is gigabytes of availability.jsonl.
pub const DEFAULT_MAX_GAP: Millis = Millis(7 * 86_400_000);

/// Reads events from a stream, line by line, checking time order.
pub struct EventReader<'s, R> {
    scenario: &'s Scenario,
    input: R,
    buf: String,
    bytes: Vec<u8>,
    line_no: u64,
    last: Option<SimTime>,
    start: Option<SimTime>,
    max_gap: Option<Millis>,
    texts: Texts,
}

impl<'s, R: BufRead> EventReader<'s, R> {
    pub fn new(scenario: &'s Scenario, input: R) -> Self {
        let start = scenario.start.map(SimTime::from_timestamp);
        EventReader {
            scenario,
            input,
            buf: String::new(),
            bytes: Vec::new(),
            line_no: 0,
            last: None,
            start,
            max_gap: Some(DEFAULT_MAX_GAP),
            texts: Texts::default(),
        }
    }

    /// Sets the largest step forward between events (`None`: no limit).
    pub fn max_gap(mut self, gap: Option<Millis>) -> Self {
        self.max_gap = gap;
        self
    }

    /// The next line as an event, `Some(Err)` for an invalid line (the reader
    /// goes on after it), `None` at the end. Blank lines are skipped.
    pub fn next_event(&mut self) -> Option<(u64, Result<Event, LineError>)> {
        loop {
            self.buf.clear();
            self.bytes.clear();
            match self.input.read_until(b'\n', &mut self.bytes) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.line_no += 1;
                    return Some((self.line_no, Err(LineError::Io(e.to_string()))));
                }
            }
            self.line_no += 1;
            match std::str::from_utf8(&self.bytes) {
                Ok(text) => self.buf.push_str(text),
                Err(e) => {
                    // Show what can be shown; the error names the byte.
                    self.buf.push_str(&String::from_utf8_lossy(&self.bytes));
                    return Some((self.line_no, Err(LineError::NotUtf8(e.valid_up_to() + 1))));
                }
            }
            if self.line_no == 1 && self.buf.starts_with('\u{feff}') {
                // A byte-order mark is not part of the first event.
                self.buf.drain(..'\u{feff}'.len_utf8());
            }
            let line = self.buf.trim();
            if line.is_empty() {
                continue;
            }
            let result = parse_line_with(self.scenario, line, self.line_no, &mut self.texts).and_then(|ev| {
                if let Some(start) = self.start
                    && ev.time < start
                {
                    return Err(LineError::BeforeStart { at: ev.time.rfc3339(), start: start.rfc3339() });
                }
                if let Some(prev) = self.last
                    && ev.time < prev
                {
                    return Err(LineError::BackInTime { at: ev.time.rfc3339(), previous: prev.rfc3339() });
                }
                let since = match self.last {
                    Some(prev) => Some((prev, false)),
                    None => self.start.map(|s| (s, true)),
                };
                if let (Some(limit), Some((since, from_start))) = (self.max_gap, since)
                    && ev.time.0 - since.0 > limit.0
                {
                    return Err(LineError::TooFarAhead { at: ev.time, since, from_start, limit });
                }
                self.last = Some(ev.time);
                Ok(ev)
            });
            return Some((self.line_no, result));
        }
    }

    /// Lines read so far, blank ones included.
    pub fn lines_read(&self) -> u64 {
        self.line_no
    }

    /// The text of the line read last (for error messages).
    pub fn line_text(&self) -> &str {
        self.buf.trim_end_matches(['\n', '\r'])
    }
}

/// Writes an event as one JSON line in the SPEC §4 shape (what `pesim generate`
/// writes and `replay` reads back to the same event).
pub fn write_json(ev: &Event, interner: &Interner, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use serde_json::{Map, Value, json};
    let mut o = Map::new();
    o.insert("createdDate".into(), json!(ev.time.rfc3339()));
    o.insert("customerCookieId".into(), json!(&*ev.customer));
    match &ev.kind {
        EventKind::Response { .. } => {}
        EventKind::Track(t) => {
            o.insert("eventName".into(), json!(&*t.name_text));
            if let Some(p) = &t.page {
                let mut page = Map::new();
                page.insert("url".into(), json!(&*p.url));
                if let Some(title) = &p.title {
                    page.insert("title".into(), json!(&**title));
                }
                o.insert("page".into(), Value::Object(page));
            }
            for (part, values) in &t.context {
                let (key, names): (&str, &[&str]) = match part {
                    ContextPart::Search => ("searchQuery", &[]),
                    ContextPart::Browser => ("browser", &["family", "version", "lang"]),
                    ContextPart::Device => ("device", &["category", "type", "osFamily"]),
                    ContextPart::Geo => {
                        ("geolocation", &["country", "countryName", "region", "locality", "postalCode"])
                    }
                    ContextPart::Campaign => {
                        ("mktCampaign", &["source", "medium", "name", "term", "content", "clickId", "network"])
                    }
                    ContextPart::Referrer => ("referrer", &["url", "hostname", "medium"]),
                };
                if *part == ContextPart::Search {
                    if let Some(q) = &values[0] {
                        o.insert(key.into(), json!(&**q));
                    }
                    continue;
                }
                let mut m = Map::new();
                for (name, v) in names.iter().zip(values.iter()) {
                    if let Some(v) = v {
                        m.insert((*name).into(), json!(&**v));
                    }
                }
                o.insert(key.into(), Value::Object(m));
            }
            let value = |v: &DynValue| -> Value {
                match (v.number, v.boolean) {
                    (Some(n), _) if *DynValue::from_number(n).text == *v.text => json!(n),
                    (_, Some(b)) => json!(b),
                    _ => json!(&*v.text),
                }
            };
            if !t.attributes.is_empty() || !t.other_attributes.is_empty() {
                let mut attrs = Map::new();
                for (sym, v) in &t.attributes {
                    attrs.insert(interner.name(*sym).into(), value(v));
                }
                for (name, v) in &t.other_attributes {
                    attrs.insert((**name).into(), value(v));
                }
                o.insert("attributes".into(), Value::Object(attrs));
            }
            if !t.traits.is_empty() {
                let traits: Map<String, Value> =
                    t.traits.iter().map(|(s, v)| (interner.name(*s).to_string(), json!(&*v.text))).collect();
                o.insert("traits".into(), Value::Object(traits));
            }
            if let Some(a) = t.authenticated {
                o.insert("authenticated".into(), json!(a));
            }
        }
    }
    serde_json::to_writer(&mut *out, &Value::Object(o)).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parts_are_derived_from_the_url() {
        let p = Page::from_url("https://www.shop.example:8443/cart/items?x=1&y=2#top");
        assert_eq!(p.hostname.as_deref(), Some("www.shop.example"));
        assert_eq!(p.domain.as_deref(), Some("shop.example"));
        assert_eq!(p.pathname.as_deref(), Some("/cart/items"));
        assert_eq!(p.query.as_deref(), Some("x=1&y=2"));
        assert_eq!(p.fragment.as_deref(), Some("top"));
        let p = Page::from_url("https://shop.example");
        assert_eq!(p.pathname.as_deref(), Some("/"));
    }

    #[test]
    fn attribute_values() {
        let n = attribute_value(&serde_json::json!({"dataType": "number", "value": "15.99"})).unwrap();
        assert_eq!(n.number, Some(15.99));
        let s = attribute_value(&serde_json::json!("150")).unwrap();
        assert_eq!(s.number, Some(150.0));
        assert_eq!(&*s.text, "150");
        assert!(attribute_value(&serde_json::json!({"dataType": "number", "value": "abc"})).is_err());
        assert!(attribute_value(&serde_json::json!({"dataType": "integer", "value": 1.5})).is_err());
        assert!(attribute_value(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn long_pages_and_texts_never_repeated_stay_within_the_byte_bound() {
        // 60 pages and texts of 400 KB each, all different: 24 MB each way.
        let sc = crate::config::load_str("long.yaml", "name: long\n").scenario.expect("valid");
        let mut texts = Texts::default();
        for i in 0..60 {
            let long = format!("{i}{}", "x".repeat(400_000));
            let line = format!(
                r#"{{"createdDate":"2026-03-02T10:00:00Z","customerCookieId":"c","eventName":"page_viewed","page":{{"url":"https://x.example/{long}"}},"referrer":{{"url":"{long}"}}}}"#
            );
            parse_line_with(&sc, &line, i + 1, &mut texts).unwrap();
            let (page_bytes, text_bytes) = (
                texts.pages.values().map(|p| 3 * p.url.len()).sum::<usize>(),
                texts.texts.iter().map(|t| t.len()).sum::<usize>(),
            );
            assert!(page_bytes <= Texts::MAX_PAGES.1 && texts.page_bytes <= Texts::MAX_PAGES.1, "{page_bytes}");
            assert!(text_bytes <= Texts::MAX.1 && texts.text_bytes <= Texts::MAX.1, "{text_bytes}");
        }
        assert!(texts.pages.len() < 60 && texts.texts.len() < 60);
    }

    #[test]
    fn escaped_texts_read_as_their_characters() {
        // Texts without escapes are borrowed from the line; these need a copy.
        let sc = crate::config::load_str("esc.yaml", "name: esc\n").scenario.expect("valid");
        let line = r#"{"createdDate":"2026-03-02T10:00:00Z","customerCookieId":"c\"1","eventName":"cl\u0069ck","geolocation":{"country":"G\u0042"}}"#;
        let ev = parse_line(&sc, line, 1).unwrap();
        assert_eq!(&*ev.customer, "c\"1");
        let EventKind::Track(t) = ev.kind else { panic!("a tracking event") };
        assert_eq!(&*t.name_text, "click");
        let geo = t.context.iter().find(|(p, _)| *p == ContextPart::Geo).expect("a geo part");
        assert_eq!(geo.1[0].as_deref(), Some("GB"));
    }

    #[test]
    fn a_repeated_page_is_shared_and_equal_to_one_parsed_alone() {
        let sc = crate::config::load_str("pages.yaml", "name: pages\n").scenario.expect("valid");
        let line = |title: &str| {
            format!(
                r#"{{"createdDate":"2026-03-02T10:00:00Z","customerCookieId":"c","eventName":"page_viewed","page":{{"url":"https://x.example/c/shoes?size=9","title":"{title}"}}}}"#
            )
        };
        let page = |ev: Event| match ev.kind {
            EventKind::Track(t) => t.page.expect("a pageview has a page"),
            other => panic!("{other:?}"),
        };
        let mut texts = Texts::default();
        let a = page(parse_line_with(&sc, &line("Shoes"), 1, &mut texts).unwrap());
        let b = page(parse_line_with(&sc, &line("Shoes"), 2, &mut texts).unwrap());
        let other = page(parse_line_with(&sc, &line("Boots"), 3, &mut texts).unwrap());
        assert!(Arc::ptr_eq(&a, &b), "the same page fields give the same page");
        assert!(!Arc::ptr_eq(&a, &other) && other.title.as_deref() == Some("Boots"));
        let alone = page(parse_line(&sc, &line("Shoes"), 1).unwrap());
        assert_eq!(*a, *alone);
        assert_eq!(a.pathname.as_deref(), Some("/c/shoes"));
    }

    /// Reads `lines` (each `(createdDate, customer)`) with `max_gap`: each line's
    /// outcome, `Ok` or the error's message.
    fn read_times(start: Option<&str>, max_gap: Option<Millis>, lines: &[&str]) -> Vec<Result<(), String>> {
        let yaml = match start {
            Some(s) => format!("name: gaps\nstart: {s}\n"),
            None => "name: gaps\n".to_string(),
        };
        let loaded = crate::config::load_str("gaps.yaml", &yaml);
        let sc = loaded.scenario.expect("a valid scenario");
        let text: String = lines
            .iter()
            .map(|t| format!("{{\"createdDate\":\"{t}\",\"customerCookieId\":\"c\",\"eventName\":\"x\"}}\n"))
            .collect();
        let mut reader = EventReader::new(&sc, text.as_bytes()).max_gap(max_gap);
        std::iter::from_fn(|| reader.next_event()).map(|(_, r)| r.map(|_| ()).map_err(|e| e.to_string())).collect()
    }

    #[test]
    fn a_step_forward_over_the_max_gap_is_rejected_and_the_next_line_measured_from_the_last_good_one() {
        let day = Some(Millis(86_400_000));
        let got = read_times(
            None,
            day,
            &[
                "2026-03-02T10:00:00Z",
                "2026-03-03T10:00:00Z",     // exactly one day: accepted
                "2027-03-03T10:00:00Z",     // a year on: rejected
                "2026-03-04T10:00:00.001Z", // one day and 1 ms after the last accepted: rejected
                "2026-03-04T09:00:00Z",
            ],
        );
        assert_eq!(got[0], Ok(()));
        assert_eq!(got[1], Ok(()));
        assert_eq!(
            got[2],
            Err("jumps ahead: 2027-03-03T10:00:00.000Z is 365d after the previous event at \
                 2026-03-03T10:00:00.000Z, more than --max-gap (1d)"
                .into())
        );
        assert_eq!(
            got[3],
            Err("jumps ahead: 2026-03-04T10:00:00.001Z is 1d1ms after the previous event at \
                 2026-03-03T10:00:00.000Z, more than --max-gap (1d)"
                .into())
        );
        assert_eq!(got[4], Ok(()));
    }

    #[test]
    fn the_first_event_is_measured_from_the_scenario_start() {
        let got = read_times(Some("2026-03-02T10:00:00Z"), Some(DEFAULT_MAX_GAP), &["2026-03-09T10:00:00.001Z"]);
        assert_eq!(
            got,
            [Err("jumps ahead: 2026-03-09T10:00:00.001Z is 7d1ms after the scenario's start \
                  2026-03-02T10:00:00.000Z, more than --max-gap (7d)"
                .into())]
        );
        // Without a start, the clock starts at the first event: any first date is fine.
        assert_eq!(read_times(None, Some(DEFAULT_MAX_GAP), &["2099-01-01T00:00:00Z"]), [Ok(())]);
    }

    #[test]
    fn no_max_gap_accepts_any_step_forward() {
        let got = read_times(Some("2026-03-02T10:00:00Z"), None, &["2030-01-01T00:00:00Z", "2090-01-01T00:00:00Z"]);
        assert_eq!(got, [Ok(()), Ok(())]);
    }
}
