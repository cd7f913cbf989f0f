//! The validated scenario: every id resolved to an index, every duration in
//! milliseconds, every condition compiled. Built by `decode.rs`; read by the
//! engine, the simulator and the reports.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::diag::Location;
use crate::dsl::eval::{BoolNode, NumNode};
use crate::dsl::{CountPattern, Interner, OutcomeId, SegmentId};

/// A span of simulated time, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub i64);

impl Millis {
    pub const fn secs(s: i64) -> Self {
        Millis(s * 1000)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::dsl::ast::fmt_duration_ms(self.0))
    }
}

/// Index of a workgroup in [`Scenario::workgroups`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkgroupId(pub u32);

/// Index of an action map in [`Scenario::action_maps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionMapId(pub u32);

#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    pub start: Option<Timestamp>,
    pub duration: Millis,
    pub timezone: TimeZone,
    pub timezone_name: String,
    pub settings: Settings,
    pub pureconnect: PureConnect,
    pub workgroups: Vec<Workgroup>,
    pub segments: Vec<Segment>,
    /// Segment indices in dependency order: a segment comes after those it names.
    pub segment_order: Vec<SegmentId>,
    pub outcomes: Vec<Outcome>,
    pub action_maps: Vec<ActionMap>,
    pub traffic: Option<Traffic>,
    pub cases: Vec<Case>,
    pub expect: Vec<Expectation>,
    /// Every `count(...)` pattern of every condition: one counter slot each.
    pub counts: Vec<CountPattern>,
    /// Event, attribute and trait names the conditions mention.
    pub interner: Interner,
}

impl Scenario {
    pub fn workgroup(&self, id: WorkgroupId) -> &Workgroup {
        &self.workgroups[id.0 as usize]
    }
    pub fn segment(&self, id: SegmentId) -> &Segment {
        &self.segments[id.0 as usize]
    }
    pub fn outcome(&self, id: OutcomeId) -> &Outcome {
        &self.outcomes[id.0 as usize]
    }
    pub fn action_map(&self, id: ActionMapId) -> &ActionMap {
        &self.action_maps[id.0 as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaType {
    Webchat,
    ContentOffer,
    WebMessaging,
    Webhook,
}

impl MediaType {
    pub const ALL: [MediaType; 4] =
        [MediaType::Webchat, MediaType::ContentOffer, MediaType::WebMessaging, MediaType::Webhook];
    /// The name used in scenario files.
    pub fn key(self) -> &'static str {
        match self {
            MediaType::Webchat => "webchat",
            MediaType::ContentOffer => "content_offer",
            MediaType::WebMessaging => "web_messaging",
            MediaType::Webhook => "webhook",
        }
    }
    /// The name Genesys uses in decision records (`mediaType`).
    pub fn api_name(self) -> &'static str {
        match self {
            MediaType::Webchat => "webchat",
            MediaType::ContentOffer => "contentOffer",
            MediaType::WebMessaging => "webMessagingOffer",
            MediaType::Webhook => "architectFlow",
        }
    }
    /// Chats need an agent, a target and (with pacing) availability.
    pub fn is_chat(self) -> bool {
        matches!(self, MediaType::Webchat | MediaType::WebMessaging)
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub session_timeout: Millis,
    pub offer_timeout: Millis,
    /// Indexed by media type: webchat, content_offer, web_messaging (webhooks have none).
    pub frequency_cap: [FrequencyCap; 3],
}

impl Settings {
    pub fn frequency_cap(&self, media: MediaType) -> Option<&FrequencyCap> {
        match media {
            MediaType::Webchat => Some(&self.frequency_cap[0]),
            MediaType::ContentOffer => Some(&self.frequency_cap[1]),
            MediaType::WebMessaging => Some(&self.frequency_cap[2]),
            MediaType::Webhook => None,
        }
    }
}

/// Per session and media type (SPEC §6 gate 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrequencyCap {
    pub after_conversation: bool,
    pub after_rejection: bool,
    pub min_wait: Millis,
}

impl Default for FrequencyCap {
    fn default() -> Self {
        FrequencyCap { after_conversation: true, after_rejection: true, min_wait: Millis(0) }
    }
}

#[derive(Debug, Clone)]
pub struct PureConnect {
    pub feature_license: bool,
    /// Already raised to the 3000 ms floor.
    pub pacing_rate: Millis,
    pub updates_disabled: bool,
    /// Where `feature_license` and `updates_disabled` are written, for diagnostics.
    pub feature_license_location: Option<Location>,
    pub updates_disabled_location: Option<Location>,
}

impl PureConnect {
    /// Whether the contact center publishes availability at all.
    pub fn publishes(&self) -> bool {
        self.feature_license && !self.updates_disabled
    }
}

#[derive(Debug, Clone)]
pub struct Workgroup {
    pub id: String,
    pub altocloud_updates: bool,
    pub schedule: Option<Schedule>,
    pub service_level: ServiceLevel,
    pub handle_time: Dist,
    pub agents: Vec<AgentGroup>,
    pub fixed_availability: Option<Snapshot>,
    /// Abandons sooner than this are not counted against the service level.
    pub short_abandon: Millis,
    pub location: Location,
}

impl Workgroup {
    pub fn licensed_agents(&self) -> u32 {
        self.agents.iter().filter(|a| a.licensed).map(|a| a.count).sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceLevel {
    pub percentage: f64,
    pub within: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentGroup {
    /// Named agents have a name and a count of 1.
    pub name: Option<String>,
    pub count: u32,
    pub licensed: bool,
    /// `None`: always logged in.
    pub shift: Option<DailyWindow>,
    pub max_chats: u32,
}

/// A published availability snapshot (SPEC §6 step 10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    pub agents_logged_in: u32,
    pub agents_available: u32,
    pub queue_length: u32,
    pub ewt: Millis,
}

/// Minutes since midnight, `[start, end)`; `end < start` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyWindow {
    pub start_min: u32,
    pub end_min: u32,
}

impl DailyWindow {
    pub fn contains(&self, minute_of_day: u32) -> bool {
        if self.start_min <= self.end_min {
            (self.start_min..self.end_min).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start_min || minute_of_day < self.end_min
        }
    }
}

/// Opening hours per weekday (index 0 = Monday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub text: String,
    pub days: [Vec<DailyWindow>; 7],
}

impl Schedule {
    pub fn is_open(&self, weekday_from_monday: usize, minute_of_day: u32) -> bool {
        self.days.get(weekday_from_monday).is_some_and(|w| w.iter().any(|w| w.contains(minute_of_day)))
    }
}

/// A probability distribution of durations (ms) or plain numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    Const(f64),
    Uniform(f64, f64),
    Exp { mean: f64 },
    LogNormal { mean: f64, sd: f64 },
    Normal { mean: f64, sd: f64 },
    Weibull { shape: f64, scale: f64 },
}

impl Dist {
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Const(x) => x,
            Dist::Uniform(a, b) => (a + b) / 2.0,
            Dist::Exp { mean } | Dist::LogNormal { mean, .. } | Dist::Normal { mean, .. } => mean,
            Dist::Weibull { shape, scale } => scale * gamma(1.0 + 1.0 / shape),
        }
    }
}

/// Lanczos approximation of Γ(x), for the Weibull mean.
fn gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x))
    } else {
        let x = x - 1.0;
        let t = x + G + 0.5;
        let sum = C.iter().enumerate().skip(1).fold(C[0], |acc, (i, c)| acc + c / (x + i as f64));
        (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * sum
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Session,
    Customer,
}

/// A compiled condition with the text it came from.
#[derive(Debug, Clone)]
pub struct Condition {
    pub text: String,
    pub node: BoolNode,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct Segment {
    pub id: String,
    pub scope: Scope,
    pub when: Condition,
    pub expires_after_days: Option<u32>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub positive: bool,
    pub achieved_when: Condition,
    pub predictor: Option<Predictor>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct Predictor {
    pub features: Vec<Feature>,
    pub bias: f64,
    /// Sorted session-max probabilities of past sessions (empty: no quantiles).
    pub quantiles: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct Feature {
    pub name: String,
    pub text: String,
    pub node: NumNode,
    pub weight: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Immediate,
    Delay(Millis),
    NextSession,
}

#[derive(Debug, Clone)]
pub struct ActionMap {
    pub id: String,
    pub weight: u32,
    pub active: bool,
    pub trigger: Condition,
    pub page_url: Option<Condition>,
    pub activation: Activation,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub ignore_frequency_cap: bool,
    pub action: Action,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct Action {
    pub media: MediaType,
    /// In routing preference order; empty for content offers and webhooks without one.
    pub targets: Vec<WorkgroupId>,
    pub pacing: bool,
    pub max_ewt: Millis,
    /// Where `target` is written, for diagnostics about it.
    pub target_location: Option<Location>,
    /// Where each workgroup of `target` is written, in `targets` order.
    pub target_locations: Vec<Location>,
}

// ---------- traffic (SPEC §5) ----------

#[derive(Debug, Clone)]
pub struct Traffic {
    pub per_hour: f64,
    /// Hourly multipliers, repeating; empty = flat.
    pub profile: Vec<f64>,
    pub returning: f64,
    pub personas: Vec<Persona>,
}

#[derive(Debug, Clone)]
pub struct Persona {
    pub name: String,
    pub share: f64,
    /// Visit-context field (e.g. `device.category`) → weighted values.
    pub context: Vec<(crate::dsl::fields::StrField, Vec<(String, f64)>)>,
    pub start_page: usize,
    pub pages: Vec<Page>,
    pub idle_events: Vec<IdleEvent>,
    pub response: Vec<(MediaType, Response)>,
    pub patience: Option<Dist>,
    pub chat_uplift: Vec<(OutcomeId, f64)>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub name: String,
    /// May contain `{n}`, replaced by a number drawn per view.
    pub url: String,
    pub title: Option<String>,
    pub dwell: Dist,
    /// Next-page weights; `None` is the exit.
    pub next: Vec<(Option<usize>, f64)>,
    pub events: Vec<RecordSpec>,
}

#[derive(Debug, Clone)]
pub struct RecordSpec {
    pub name: String,
    pub attributes: Vec<(String, AttrDist)>,
}

#[derive(Debug, Clone)]
pub enum AttrDist {
    Number(Dist),
    Categorical(Vec<(String, f64)>),
    Fixed(String),
}

#[derive(Debug, Clone)]
pub struct IdleEvent {
    pub after: Millis,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub accept: f64,
    pub reject: f64,
    pub delay: Option<Dist>,
}

// ---------- cases and expectations (SPEC §8) ----------

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// Visit context sent with every event, as (field, value).
    pub visitor: Vec<(crate::dsl::fields::StrField, String)>,
    pub traits: Vec<(String, String)>,
    pub authenticated: Option<bool>,
    /// Fixed snapshots replacing the scenario's availability, by workgroup.
    pub availability: Option<Vec<(WorkgroupId, Snapshot)>>,
    pub events: Vec<CaseEvent>,
    pub expect: Vec<CaseExpect>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct CaseEvent {
    pub at: Millis,
    pub kind: CaseEventKind,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub enum CaseEventKind {
    Pageview { url: String, title: Option<String> },
    Record { name: String, attributes: Vec<(String, crate::dsl::DynValue)> },
    Respond { action_map: ActionMapId, state: ResponseState },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseState {
    Accepted,
    Rejected,
    Ignored,
}

#[derive(Debug, Clone)]
pub struct CaseExpect {
    pub at: Option<Millis>,
    pub never: bool,
    pub matcher: DecisionMatcher,
    pub location: Location,
}

/// What an expected decision must look like; `None` fields match anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionMatcher {
    pub action_map: Option<ActionMapId>,
    pub state: Option<ActionState>,
    pub target: Option<WorkgroupId>,
    pub blocked: Option<BlockingReason>,
    pub segment: Option<SegmentId>,
    pub outcome: Option<OutcomeId>,
}

#[derive(Debug, Clone)]
pub struct Expectation {
    pub metric: String,
    pub bound: Bound,
    pub location: Location,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Between(f64, f64),
    AtLeast(f64),
    AtMost(f64),
    Equals(f64),
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            pub fn from_name(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == s)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum! {
    /// The life of an action (SPEC §6), as written in `decisions.jsonl`.
    ActionState {
        Qualified = "qualified",
        Offered = "offered",
        Accepted = "accepted",
        Rejected = "rejected",
        Ignored = "ignored",
        TimedOut = "timedout",
        Started = "started",
        Engaged = "engaged",
        Abandoned = "abandoned",
        Completed = "completed",
    }
}

named_enum! {
    /// Why an offer was held back, with Genesys' names (SPEC §6 step 7).
    BlockingReason {
        PageUrlConditionsNotMatching = "PageUrlConditionsNotMatching",
        OfferedOutsideSchedule = "OfferedOutsideSchedule",
        AlreadyExistingOffer = "AlreadyExistingOffer",
        FrequencyCapping = "FrequencyCapping",
        MultipleSimultaneousOffers = "MultipleSimultaneousOffers",
        NoAvailableAgents = "NoAvailableAgents",
        ServiceLevelThrottling = "ServiceLevelThrottling",
    }
}
