//! The scenario schema: merged YAML tree → [`Scenario`], with the spec's defaults.
//!
//! Ids are collected first so that conditions can name segments and outcomes
//! declared anywhere; then every section is read, and finally `checks.rs` runs
//! the cross-cutting static checks (cycles, unreachable workgroups...).

use jiff::tz::TimeZone;

use super::model::*;
use super::reader::{Cx, Fields};
use super::yaml::{Node, NodeKind};
use crate::dsl::error::did_you_mean;
use crate::dsl::fields::StrField;
use crate::dsl::{Compiler, DynValue, Names, OutcomeId, SegmentId};

pub const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "start",
    "duration",
    "timezone",
    "include",
    "settings",
    "pureconnect",
    "workgroups",
    "segments",
    "outcomes",
    "action_maps",
    "traffic",
    "cases",
    "expect",
];
pub const SETTINGS_KEYS: &[&str] = &["session_timeout", "offer_timeout", "frequency_cap"];
pub const CAP_KEYS: &[&str] = &["after_conversation", "after_rejection", "min_wait"];
pub const PURECONNECT_KEYS: &[&str] = &["feature_license", "pacing_rate_ms", "updates_disabled"];
pub const WORKGROUP_KEYS: &[&str] = &[
    "id",
    "description",
    "altocloud_updates",
    "schedule",
    "service_level",
    "handle_time",
    "agents",
    "fixed_availability",
    "short_abandon",
];
pub const AGENT_KEYS: &[&str] = &["name", "count", "licensed", "shift", "max_chats"];
pub const SNAPSHOT_KEYS: &[&str] = &["agents_logged_in", "agents_available", "queue_length", "ewt"];
pub const SEGMENT_KEYS: &[&str] = &["id", "description", "scope", "when", "expires_after_days"];
pub const OUTCOME_KEYS: &[&str] = &["id", "description", "positive", "achieved_when", "predictor"];
pub const PREDICTOR_KEYS: &[&str] = &["features", "weights", "bias", "quantiles"];
pub const ACTION_MAP_KEYS: &[&str] = &[
    "id",
    "description",
    "weight",
    "active",
    "trigger",
    "page_url",
    "activation",
    "start",
    "end",
    "ignore_frequency_cap",
    "action",
];
pub const ACTION_KEYS: &[&str] = &["type", "target", "pacing", "max_ewt"];
pub const TRAFFIC_KEYS: &[&str] = &["arrivals", "returning", "personas"];
pub const ARRIVAL_KEYS: &[&str] = &["per_hour", "profile"];
pub const PERSONA_KEYS: &[&str] =
    &["name", "share", "context", "start_page", "pages", "idle_events", "response", "patience", "chat_uplift"];
pub const PAGE_KEYS: &[&str] = &["url", "title", "dwell", "next", "events"];
pub const RECORD_KEYS: &[&str] = &["name", "attributes"];
pub const IDLE_KEYS: &[&str] = &["after", "name"];
pub const RESPONSE_KEYS: &[&str] = &["accept", "reject", "delay"];
pub const DIST_KEYS: &[&str] = &["const", "uniform", "exp", "lognormal", "normal", "weibull"];
pub const CASE_KEYS: &[&str] = &["name", "visitor", "availability", "events", "expect"];
pub const CASE_EVENT_KEYS: &[&str] = &["at", "pageview", "title", "record", "attributes", "respond"];
pub const RESPOND_KEYS: &[&str] = &["action_map", "state"];
pub const CASE_EXPECT_KEYS: &[&str] =
    &["at", "action_map", "state", "target", "blocked", "segment", "outcome", "never"];
pub const MATCHER_KEYS: &[&str] = &["action_map", "state", "target", "blocked", "segment", "outcome"];
pub const EXPECT_KEYS: &[&str] = &["metric", "between", "at_least", "at_most", "equals"];
/// Metrics of a run's summary that `expect` may bound (SPEC §8).
pub const METRICS: &[&str] = &[
    "events",
    "events_rejected",
    "visitors",
    "sessions",
    "qualified",
    "offered",
    "accepted",
    "rejected",
    "ignored",
    "timedout",
    "started",
    "engaged",
    "abandoned",
    "completed",
    "blocked",
    "acceptance_rate",
    "service_level",
    "mean_wait",
    "p90_wait",
    "occupancy",
    "updates_published",
    "achievement_rate",
];
pub const METRIC_LABELS: &[&str] = &["action_map", "workgroup", "outcome", "reason", "chat"];

/// Visit-context fields that personas may draw and cases may set, by their §4 (API) names.
pub const VISIT_CONTEXT: &[(&str, StrField)] = &[
    ("browser.family", StrField::BrowserFamily),
    ("browser.version", StrField::BrowserVersion),
    ("browser.lang", StrField::BrowserLang),
    ("device.category", StrField::DeviceCategory),
    ("device.type", StrField::DeviceType),
    ("device.osFamily", StrField::DeviceOs),
    ("geolocation.country", StrField::GeoCountry),
    ("geolocation.countryName", StrField::GeoCountryName),
    ("geolocation.region", StrField::GeoRegion),
    ("geolocation.locality", StrField::GeoLocality),
    ("geolocation.postalCode", StrField::GeoPostalCode),
    ("mktCampaign.source", StrField::CampaignSource),
    ("mktCampaign.medium", StrField::CampaignMedium),
    ("mktCampaign.name", StrField::CampaignName),
    ("mktCampaign.term", StrField::CampaignTerm),
    ("mktCampaign.content", StrField::CampaignContent),
    ("mktCampaign.clickId", StrField::CampaignClickId),
    ("mktCampaign.network", StrField::CampaignNetwork),
    ("referrer.url", StrField::ReferrerUrl),
    ("referrer.hostname", StrField::ReferrerHostname),
    ("referrer.medium", StrField::ReferrerMedium),
    ("searchQuery", StrField::SearchQuery),
];

/// Looks up a visit-context field by its API name or its condition-language name.
pub fn visit_context_field(name: &str) -> Option<StrField> {
    VISIT_CONTEXT.iter().find(|(api, f)| *api == name || f.name() == name).map(|(_, f)| *f)
}

/// Finds `id` in a list of names, reporting an unknown reference with a hint.
fn resolve(cx: &mut Cx<'_>, node: &Node, what: &str, names: &[String]) -> Option<u32> {
    let id = cx.string(node, what)?;
    match names.iter().position(|n| *n == id) {
        Some(i) => Some(i as u32),
        None => {
            let help = did_you_mean(&id, names.iter().map(String::as_str)).unwrap_or_else(|| {
                if names.is_empty() {
                    format!("no {what} is defined")
                } else {
                    format!("the {what}s are: {}", names.join(", "))
                }
            });
            cx.error(node, format!("unknown {what} `{id}`")).help(help);
            None
        }
    }
}

/// Collects the ids of a list section, reporting missing and duplicate ids.
/// Items without a usable id keep their place with an empty name.
fn collect_ids(cx: &mut Cx<'_>, items: &[Node], key: &str, what: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    let mut seen: Vec<(String, &Node)> = Vec::new();
    for item in items {
        let id_node = match &item.kind {
            NodeKind::Map(pairs) => pairs.iter().find(|(k, _)| k.as_scalar() == Some(key)).map(|(_, v)| v),
            _ => None,
        };
        let id = id_node.and_then(|n| n.as_scalar()).unwrap_or("").to_string();
        if let Some(n) = id_node
            && !id.is_empty()
        {
            if let Some((_, first)) = seen.iter().find(|(s, _)| *s == id) {
                let (line, _) = cx.sources.line_col(first.file, first.span.start);
                let file = cx.sources.get(first.file).name.clone();
                cx.error(n, format!("duplicate {what} `{id}`")).help(format!("first defined at {file}:{line}"));
            } else {
                seen.push((id.clone(), n));
            }
        }
        ids.push(id);
    }
    ids
}

struct Decoder<'a, 's> {
    cx: &'a mut Cx<'s>,
    compiler: Compiler,
    workgroups: Vec<String>,
    action_maps: Vec<String>,
    /// What each segment's `when` names, in segment order, for the cycle check.
    seg_deps: Vec<(crate::dsl::Deps, Node)>,
}

/// Reads a merged scenario tree. Returns `None` if any error was found.
pub fn decode(cx: &mut Cx<'_>, root: &Node) -> Option<Scenario> {
    let top = cx.fields(root, "the scenario", TOP_KEYS)?;
    let section = |cx: &mut Cx<'_>, key: &str| -> Vec<Node> {
        top.get(key).and_then(|n| cx.seq(n, &format!("`{key}`")).map(<[Node]>::to_vec)).unwrap_or_default()
    };
    let wg_nodes = section(cx, "workgroups");
    let seg_nodes = section(cx, "segments");
    let out_nodes = section(cx, "outcomes");
    let map_nodes = section(cx, "action_maps");
    let names = Names {
        segments: collect_ids(cx, &seg_nodes, "id", "segment id"),
        outcomes: collect_ids(cx, &out_nodes, "id", "outcome id"),
    };
    let workgroups = collect_ids(cx, &wg_nodes, "id", "workgroup id");
    let action_maps = collect_ids(cx, &map_nodes, "id", "action map id");
    let mut d = Decoder { cx: &mut *cx, compiler: Compiler::new(names), workgroups, action_maps, seg_deps: Vec::new() };

    let name = top.req(d.cx, "name").and_then(|n| d.cx.string(n, "`name`"));
    let seed = top.get("seed").map_or(Some(0), |n| d.cx.uint(n, "`seed`"));
    let start = top.get("start").map(|n| d.cx.timestamp(n, "`start`"));
    let duration = match top.get("duration") {
        None => Some(Millis(8 * 3_600_000)),
        Some(n) => d.cx.duration(n, "`duration`").filter(|m| {
            if m.0 <= 0 {
                d.cx.error(n, "`duration` must be longer than 0s")
                    .help("it is how long the simulated run lasts, e.g. `8h`");
            }
            m.0 > 0
        }),
    };
    let (timezone, timezone_name) = match top.get("timezone") {
        None => (Some(TimeZone::UTC), "UTC".to_string()),
        Some(n) => {
            let tz_name = d.cx.string(n, "`timezone`").unwrap_or_default();
            match TimeZone::get(&tz_name) {
                Ok(tz) => (Some(tz), tz_name),
                Err(_) => {
                    let names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_string()).collect();
                    let help = did_you_mean(&tz_name, names.iter().map(String::as_str))
                        .unwrap_or_else(|| "use an IANA name such as `Europe/Dublin` or `America/New_York`".into());
                    d.cx.error(n, format!("unknown time zone `{tz_name}`")).help(help);
                    (None, tz_name)
                }
            }
        }
    };
    let settings = d.settings(top.get("settings"));
    let pureconnect = d.pureconnect(top.get("pureconnect"));
    let workgroups: Vec<Option<Workgroup>> = wg_nodes.iter().map(|n| d.workgroup(n)).collect();
    let segments: Vec<Option<Segment>> = seg_nodes.iter().map(|n| d.segment(n)).collect();
    let outcomes: Vec<Option<Outcome>> = out_nodes.iter().map(|n| d.outcome(n)).collect();
    let maps: Vec<Option<ActionMap>> = map_nodes.iter().map(|n| d.action_map(n)).collect();
    let traffic = top.get("traffic").map(|n| d.traffic(n));
    let case_nodes = section(d.cx, "cases");
    collect_ids(d.cx, &case_nodes, "name", "case name");
    let cases: Vec<Option<Case>> = case_nodes.iter().map(|n| d.case(n)).collect();
    let expect: Vec<Option<Expectation>> = section(d.cx, "expect").iter().map(|n| d.expectation(n)).collect();

    let Decoder { compiler, seg_deps, .. } = d;
    if cx.diags.has_errors() {
        return None;
    }
    let mut scenario = Scenario {
        name: name?,
        seed: seed?,
        start: start.flatten(),
        duration: duration?,
        timezone: timezone?,
        timezone_name,
        settings: settings?,
        pureconnect: pureconnect?,
        workgroups: workgroups.into_iter().collect::<Option<_>>()?,
        segments: segments.into_iter().collect::<Option<_>>()?,
        segment_order: Vec::new(),
        outcomes: outcomes.into_iter().collect::<Option<_>>()?,
        action_maps: maps.into_iter().collect::<Option<_>>()?,
        traffic: traffic.flatten(),
        cases: cases.into_iter().collect::<Option<_>>()?,
        expect: expect.into_iter().collect::<Option<_>>()?,
        counts: compiler.counts,
        interner: compiler.interner,
    };
    super::checks::run(cx, &mut scenario, &seg_deps);
    Some(scenario)
}

impl Decoder<'_, '_> {
    fn condition(&mut self, node: &Node) -> Option<Condition> {
        let text = self.cx.string(node, "a condition")?;
        match self.compiler.compile_bool(&text) {
            Ok(c) => Some(Condition { text, node: c.node, location: Cx::location(node) }),
            Err(errors) => {
                self.cx.dsl_errors(node, errors);
                None
            }
        }
    }

    /// Dependencies are needed for cycle checks: compile and return them too.
    fn condition_with_deps(&mut self, node: &Node) -> Option<(Condition, crate::dsl::Deps)> {
        let text = self.cx.string(node, "a condition")?;
        match self.compiler.compile_bool(&text) {
            Ok(c) => Some((Condition { text, node: c.node, location: Cx::location(node) }, c.deps)),
            Err(errors) => {
                self.cx.dsl_errors(node, errors);
                None
            }
        }
    }

    fn flag(&mut self, f: &Fields<'_>, key: &str, default: bool) -> Option<bool> {
        f.get(key).map_or(Some(default), |n| self.cx.boolean(n, &format!("`{key}`")))
    }

    fn dur(&mut self, f: &Fields<'_>, key: &str, default: Millis) -> Option<Millis> {
        f.get(key).map_or(Some(default), |n| self.cx.duration(n, &format!("`{key}`")))
    }

    fn settings(&mut self, node: Option<&Node>) -> Option<Settings> {
        let mut s = Settings {
            session_timeout: Millis(20 * 60_000),
            offer_timeout: Millis::secs(60),
            frequency_cap: [FrequencyCap::default(); 3],
        };
        let Some(node) = node else { return Some(s) };
        let f = self.cx.fields(node, "`settings`", SETTINGS_KEYS)?;
        let timeout = self.dur(&f, "session_timeout", s.session_timeout);
        let offer = self.dur(&f, "offer_timeout", s.offer_timeout);
        let mut ok = true;
        if let Some(caps) = f.get("frequency_cap") {
            let media = ["webchat", "content_offer", "web_messaging"];
            if let Some(cf) = self.cx.fields(caps, "`frequency_cap`", &media) {
                for (i, m) in media.iter().enumerate() {
                    if let Some(n) = cf.get(m) {
                        match self.frequency_cap(n, m) {
                            Some(c) => s.frequency_cap[i] = c,
                            None => ok = false,
                        }
                    }
                }
            } else {
                ok = false;
            }
        }
        for (key, value, slot) in
            [("session_timeout", timeout, &mut s.session_timeout), ("offer_timeout", offer, &mut s.offer_timeout)]
        {
            match (value, f.get(key)) {
                (Some(v), Some(n)) if v.0 <= 0 => {
                    ok = false;
                    self.cx.error(n, format!("`{key}` must be longer than 0s"));
                }
                (Some(v), _) => *slot = v,
                (None, _) => ok = false,
            }
        }
        ok.then_some(s)
    }

    fn frequency_cap(&mut self, node: &Node, media: &str) -> Option<FrequencyCap> {
        let f = self.cx.fields(node, &format!("the `{media}` frequency cap"), CAP_KEYS)?;
        let d = FrequencyCap::default();
        Some(FrequencyCap {
            after_conversation: self.flag(&f, "after_conversation", d.after_conversation)?,
            after_rejection: self.flag(&f, "after_rejection", d.after_rejection)?,
            min_wait: self.dur(&f, "min_wait", d.min_wait)?,
        })
    }

    fn pureconnect(&mut self, node: Option<&Node>) -> Option<PureConnect> {
        let mut p = PureConnect {
            feature_license: true,
            pacing_rate: Millis(5000),
            updates_disabled: false,
            feature_license_location: None,
            updates_disabled_location: None,
        };
        let Some(node) = node else { return Some(p) };
        let f = self.cx.fields(node, "`pureconnect`", PURECONNECT_KEYS)?;
        p.feature_license_location = f.get("feature_license").map(Cx::location);
        p.updates_disabled_location = f.get("updates_disabled").map(Cx::location);
        let license = self.flag(&f, "feature_license", true);
        let rate = f.get("pacing_rate_ms").map(|n| (n, self.cx.uint(n, "`pacing_rate_ms`")));
        // The CIC server parameter takes "yes"/"1"/true (SPEC §2), unlike YAML booleans.
        let disabled = match f.get("updates_disabled") {
            None => Some(false),
            Some(n) => match n.as_scalar().map(str::to_ascii_lowercase).as_deref() {
                Some("true" | "yes" | "1") => Some(true),
                Some("false" | "no" | "0") => Some(false),
                _ => {
                    self.cx
                        .error(n, "`updates_disabled` must be true/false, \"yes\"/\"no\" or 1/0")
                        .help("it mirrors the CIC server parameter AltocloudPacingDisabledUpdates");
                    None
                }
            },
        };
        p.feature_license = license?;
        p.updates_disabled = disabled?;
        if let Some((n, rate)) = rate {
            let rate = rate?;
            if rate < 3000 {
                self.cx
                    .warning(n, format!("pacing_rate_ms {rate} is below the 3000 ms floor; the server uses 3000"))
                    .help("PureConnect raises AltocloudPacingRateOverrideMilliseconds to at least 3000");
                p.pacing_rate = Millis(3000);
            } else {
                p.pacing_rate = Millis(rate as i64);
            }
        }
        Some(p)
    }

    fn workgroup(&mut self, node: &Node) -> Option<Workgroup> {
        let f = self.cx.fields(node, "a workgroup", WORKGROUP_KEYS)?;
        let id = f.req(self.cx, "id").and_then(|n| self.cx.id(n, "workgroup id"));
        let updates = self.flag(&f, "altocloud_updates", true);
        let schedule = f.get("schedule").map(|n| self.schedule(n));
        let service_level = match f.get("service_level") {
            None => Some(ServiceLevel { percentage: 0.8, within: Millis::secs(20) }),
            Some(n) => self.cx.fields(n, "`service_level`", &["percentage", "within"]).and_then(|sf| {
                let pct = sf.get("percentage").map_or(Some(0.8), |n| self.cx.number_in(n, "`percentage`", 0.0, 1.0));
                let within = self.dur(&sf, "within", Millis::secs(20));
                Some(ServiceLevel { percentage: pct?, within: within? })
            }),
        };
        let handle_time = match f.get("handle_time") {
            None => Some(Dist::Exp { mean: 300_000.0 }),
            Some(n) => self.dist(n, Unit::Duration),
        };
        let agents = match f.get("agents") {
            None => Some(Vec::new()),
            Some(n) => self.cx.seq(n, "`agents`").map(<[Node]>::to_vec).and_then(|items| {
                items.iter().map(|a| self.agent_group(a)).collect::<Vec<_>>().into_iter().collect::<Option<Vec<_>>>()
            }),
        };
        let fixed = f.get("fixed_availability").map(|n| self.snapshot(n));
        let short_abandon = self.dur(&f, "short_abandon", Millis::secs(10));
        if let (Some(a), Some(_)) = (f.get("agents"), f.get("fixed_availability")) {
            self.cx
                .error(a, "a workgroup has either `agents` (simulated) or `fixed_availability` (what-if), not both")
                .help("remove one of them");
            return None;
        }
        Some(Workgroup {
            id: id?,
            altocloud_updates: updates?,
            schedule: match schedule {
                Some(s) => Some(s?),
                None => None,
            },
            service_level: service_level?,
            handle_time: handle_time?,
            agents: agents?,
            fixed_availability: match fixed {
                Some(s) => Some(s?),
                None => None,
            },
            short_abandon: short_abandon?,
            location: Cx::location(node),
        })
    }

    fn agent_group(&mut self, node: &Node) -> Option<AgentGroup> {
        let f = self.cx.fields(node, "an agent group", AGENT_KEYS)?;
        let name = f.get("name").map(|n| self.cx.string(n, "`name`"));
        let count = f.get("count").map_or(Some(1), |n| self.cx.u32(n, "`count`"));
        let licensed = self.flag(&f, "licensed", true);
        let shift = f.get("shift").map(|n| self.daily_window(n, "`shift`"));
        let max_chats = f.get("max_chats").map_or(Some(1), |n| self.cx.u32(n, "`max_chats`"));
        if let (Some(_), Some(c)) = (&name, f.get("count"))
            && count != Some(1)
        {
            self.cx.error(c, "a named agent is one agent: `count` must be 1").help("remove `count` or `name`");
            return None;
        }
        if max_chats == Some(0) {
            self.cx.error(f.get("max_chats")?, "`max_chats` must be at least 1");
            return None;
        }
        Some(AgentGroup {
            name: match name {
                Some(n) => Some(n?),
                None => None,
            },
            count: count?,
            licensed: licensed?,
            shift: match shift {
                Some(s) => Some(s?),
                None => None,
            },
            max_chats: max_chats?,
        })
    }

    fn snapshot(&mut self, node: &Node) -> Option<Snapshot> {
        let f = self.cx.fields(node, "an availability snapshot", SNAPSHOT_KEYS)?;
        let logged_in = f.req(self.cx, "agents_logged_in").and_then(|n| self.cx.u32(n, "`agents_logged_in`"));
        let available = f.get("agents_available").map_or(Some(0), |n| self.cx.u32(n, "`agents_available`"));
        let queue = f.get("queue_length").map_or(Some(0), |n| self.cx.u32(n, "`queue_length`"));
        let ewt = self.dur(&f, "ewt", Millis(0));
        let (logged_in, available) = (logged_in?, available?);
        if available > logged_in {
            self.cx.error(
                f.get("agents_available")?,
                format!("{available} agents available but only {logged_in} logged in"),
            );
            return None;
        }
        Some(Snapshot { agents_logged_in: logged_in, agents_available: available, queue_length: queue?, ewt: ewt? })
    }

    /// `HH:MM-HH:MM`.
    fn daily_window(&mut self, node: &Node, what: &str) -> Option<DailyWindow> {
        let s = self.cx.string(node, what)?;
        match parse_window(&s) {
            Some(w) => Some(w),
            None => {
                self.cx.error(node, format!("{what} must be a time range like `08:00-16:00`, found `{s}`"));
                None
            }
        }
    }

    /// `Mon-Fri 08:00-18:00; Sat 10:00-14:00`.
    fn schedule(&mut self, node: &Node) -> Option<Schedule> {
        let s = self.cx.string(node, "`schedule`")?;
        match parse_schedule(&s) {
            Ok(sched) => Some(sched),
            Err(why) => {
                self.cx
                    .error(node, format!("invalid schedule `{s}`: {why}"))
                    .help("write days and hours, e.g. `Mon-Fri 08:00-18:00; Sat 10:00-14:00`");
                None
            }
        }
    }

    fn dist(&mut self, node: &Node, unit: Unit) -> Option<Dist> {
        let f = self.cx.fields(node, "a distribution", DIST_KEYS)?;
        let mut entries = f.entries();
        let Some((kind, key, value)) = entries.next() else {
            // An unknown kind (`gamma:`) was reported as an unknown key already.
            if !f.has_unknown() {
                self.cx.error(node, "a distribution needs one of: const, uniform, exp, lognormal, normal, weibull");
            }
            return None;
        };
        if let Some((_, extra, _)) = entries.next() {
            self.cx.error(extra, "a distribution has exactly one kind");
            return None;
        }
        let _ = key;
        let num = |d: &mut Self, n: &Node, what: &str| -> Option<f64> {
            match unit {
                Unit::Duration => d.cx.duration(n, what).map(|m| m.0 as f64),
                Unit::Number => d.cx.number(n, what),
            }
        };
        let params = |d: &mut Self, n: &Node, keys: &[&str]| -> Option<Vec<f64>> {
            let pf = d.cx.fields(n, &format!("`{kind}`"), keys)?;
            let mut out = Vec::new();
            for k in keys {
                let v = pf.req(d.cx, k)?;
                // Weibull's shape is a plain number even for durations.
                let x = if *k == "shape" { d.cx.number(v, "`shape`")? } else { num(d, v, &format!("`{k}`"))? };
                out.push(x);
            }
            Some(out)
        };
        let dist = match kind {
            "const" => Dist::Const(num(self, value, "`const`")?),
            "uniform" => {
                let items = self.cx.seq(value, "`uniform`")?;
                if items.len() != 2 {
                    self.cx.error(value, "`uniform` takes two bounds: [low, high]");
                    return None;
                }
                let (a, b) = (num(self, &items[0], "a bound"), num(self, &items[1], "a bound"));
                let (a, b) = (a?, b?);
                if a > b {
                    self.cx.error(value, "the low bound of `uniform` is above the high bound");
                    return None;
                }
                Dist::Uniform(a, b)
            }
            "exp" => {
                let p = params(self, value, &["mean"])?;
                Dist::Exp { mean: p[0] }
            }
            "lognormal" => {
                let p = params(self, value, &["mean", "sd"])?;
                Dist::LogNormal { mean: p[0], sd: p[1] }
            }
            "normal" => {
                let p = params(self, value, &["mean", "sd"])?;
                Dist::Normal { mean: p[0], sd: p[1] }
            }
            _ => {
                let p = params(self, value, &["shape", "scale"])?;
                Dist::Weibull { shape: p[0], scale: p[1] }
            }
        };
        let bad = match &dist {
            Dist::Exp { mean } | Dist::LogNormal { mean, .. } if *mean <= 0.0 => Some("the mean must be above 0"),
            Dist::LogNormal { sd, .. } | Dist::Normal { sd, .. } if *sd < 0.0 => Some("`sd` cannot be negative"),
            Dist::Weibull { shape, scale } if *shape <= 0.0 || *scale <= 0.0 => {
                Some("`shape` and `scale` must be above 0")
            }
            _ => None,
        };
        if let Some(why) = bad {
            self.cx.error(value, why);
            return None;
        }
        Some(dist)
    }

    fn segment(&mut self, node: &Node) -> Option<Segment> {
        let f = self.cx.fields(node, "a segment", SEGMENT_KEYS)?;
        let id = f.req(self.cx, "id").and_then(|n| self.cx.id(n, "segment id"));
        let scope = match f.get("scope") {
            None => Some(Scope::Session),
            Some(n) => match n.as_scalar() {
                Some("session") => Some(Scope::Session),
                Some("customer") => Some(Scope::Customer),
                _ => {
                    self.cx.error(n, "`scope` must be `session` or `customer`");
                    None
                }
            },
        };
        let when = f.req(self.cx, "when").and_then(|n| {
            let (c, deps) = self.condition_with_deps(n)?;
            self.seg_deps.push((deps, n.clone()));
            Some(c)
        });
        let expires = f.get("expires_after_days").map(|n| (n, self.cx.u32(n, "`expires_after_days`")));
        if let (Some(Scope::Session), Some((n, _))) = (scope, expires) {
            self.cx
                .error(n, "`expires_after_days` applies to customer-scope segments only")
                .help("add `scope: customer`, or remove `expires_after_days`");
            return None;
        }
        Some(Segment {
            id: id?,
            scope: scope?,
            when: when?,
            expires_after_days: match expires {
                Some((_, e)) => Some(e?),
                None => None,
            },
            location: Cx::location(node),
        })
    }

    fn outcome(&mut self, node: &Node) -> Option<Outcome> {
        let f = self.cx.fields(node, "an outcome", OUTCOME_KEYS)?;
        let id = f.req(self.cx, "id").and_then(|n| self.cx.id(n, "outcome id"));
        let positive = self.flag(&f, "positive", true);
        let achieved = f.req(self.cx, "achieved_when").and_then(|n| self.condition(n));
        let predictor = f.get("predictor").map(|n| self.predictor(n));
        Some(Outcome {
            id: id?,
            positive: positive?,
            achieved_when: achieved?,
            predictor: match predictor {
                Some(p) => Some(p?),
                None => None,
            },
            location: Cx::location(node),
        })
    }

    fn predictor(&mut self, node: &Node) -> Option<Predictor> {
        let f = self.cx.fields(node, "a predictor", PREDICTOR_KEYS)?;
        let feats = f.req(self.cx, "features").and_then(|n| self.cx.fields(n, "`features`", &[]));
        let weights = f.req(self.cx, "weights").and_then(|n| self.cx.fields(n, "`weights`", &[]));
        let bias = f.get("bias").map_or(Some(0.0), |n| self.cx.number(n, "`bias`"));
        let quantiles = f.get("quantiles").map(|n| self.quantiles(n));
        let (feats, weights) = (feats?, weights?);
        let mut features = Vec::new();
        let mut ok = true;
        for (name, key, value) in feats.entries() {
            let text = self.cx.string(value, "a feature");
            let weight = match weights.get(name) {
                Some(w) => self.cx.number(w, "a weight"),
                None => {
                    self.cx
                        .error(key, format!("feature `{name}` has no weight"))
                        .help(format!("add `{name}: 0.0` under `weights`"));
                    None
                }
            };
            let compiled = text.as_ref().map(|t| self.compiler.compile_feature(t));
            match (text, weight, compiled) {
                (Some(text), Some(weight), Some(Ok(c))) => {
                    features.push(Feature { name: name.to_string(), text, node: c.node, weight });
                }
                (_, _, Some(Err(errors))) => {
                    self.cx.dsl_errors(value, errors);
                    ok = false;
                }
                _ => ok = false,
            }
        }
        for (name, key, _) in weights.entries() {
            if feats.key_node(name).is_none() {
                self.cx
                    .error(key, format!("weight `{name}` has no feature"))
                    .help("every weight needs a feature of the same name");
                ok = false;
            }
        }
        let quantiles = match quantiles {
            Some(q) => q?,
            None => Vec::new(),
        };
        (ok).then_some(())?;
        Some(Predictor { features, bias: bias?, quantiles })
    }

    fn quantiles(&mut self, node: &Node) -> Option<Vec<f64>> {
        let items = self.cx.seq(node, "`quantiles`")?;
        let values: Option<Vec<f64>> = items
            .iter()
            .map(|n| self.cx.number_in(n, "a quantile cut point", 0.0, 1.0))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let values = values?;
        if values.len() < 2 {
            self.cx.error(node, "`quantiles` needs at least 2 cut points (pesim train writes 101)");
            return None;
        }
        if let Some(i) = values.windows(2).position(|w| w[1] < w[0]) {
            self.cx.error(&items[i + 1], "`quantiles` must be sorted from low to high");
            return None;
        }
        Some(values)
    }

    fn action_map(&mut self, node: &Node) -> Option<ActionMap> {
        let f = self.cx.fields(node, "an action map", ACTION_MAP_KEYS)?;
        let id = f.req(self.cx, "id").and_then(|n| self.cx.id(n, "action map id"));
        let weight = match f.get("weight") {
            None => Some(2),
            Some(n) => self.weight(n),
        };
        let active = self.flag(&f, "active", true);
        let trigger = f.req(self.cx, "trigger").and_then(|n| self.condition(n));
        let page_url = f.get("page_url").map(|n| self.condition(n));
        let activation = match f.get("activation") {
            None => Some(Activation::Immediate),
            Some(n) => self.activation(n),
        };
        let start = f.get("start").map(|n| self.cx.timestamp(n, "`start`"));
        let end = f.get("end").map(|n| self.cx.timestamp(n, "`end`"));
        if let (Some(Some(s)), Some(Some(e))) = (start, end)
            && e <= s
        {
            self.cx.error(f.get("end")?, "`end` must be after `start`").help("the window is [start, end)");
            return None;
        }
        let ignore_cap = self.flag(&f, "ignore_frequency_cap", false);
        let action = f.req(self.cx, "action").and_then(|n| self.action(n));
        Some(ActionMap {
            id: id?,
            weight: weight?,
            active: active?,
            trigger: trigger?,
            page_url: match page_url {
                Some(p) => Some(p?),
                None => None,
            },
            activation: activation?,
            start: match start {
                Some(s) => Some(s?),
                None => None,
            },
            end: match end {
                Some(e) => Some(e?),
                None => None,
            },
            ignore_frequency_cap: ignore_cap?,
            action: action?,
            location: Cx::location(node),
        })
    }

    /// A whole number of at least 1, or Genesys' `low`/`medium`/`high` (1/2/3).
    fn weight(&mut self, node: &Node) -> Option<u32> {
        let s = self.cx.string(node, "`weight`")?;
        match s.as_str() {
            "low" | "Low" => return Some(1),
            "medium" | "Medium" => return Some(2),
            "high" | "High" => return Some(3),
            _ => {}
        }
        if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
            let w = self.cx.u32(node, "`weight`")?;
            if w == 0 {
                self.cx.error(node, "`weight` must be at least 1").help("1/2/3 are Genesys' Low/Medium/High");
                return None;
            }
            return Some(w);
        }
        let words = ["low", "medium", "high"];
        let help = did_you_mean(&s.to_ascii_lowercase(), words)
            .or_else(|| {
                let lower = s.to_ascii_lowercase();
                words.iter().find(|w| lower.starts_with(*w)).map(|w| format!("did you mean `{w}`?"))
            })
            .unwrap_or_else(|| "1/2/3 are Genesys' Low/Medium/High".into());
        self.cx
            .error(node, format!("`weight` must be a whole number of at least 1, or low/medium/high; found `{s}`"))
            .help(help);
        None
    }

    fn activation(&mut self, node: &Node) -> Option<Activation> {
        match node.as_scalar() {
            Some("immediate") => return Some(Activation::Immediate),
            Some("next_session") => return Some(Activation::NextSession),
            Some(other) => {
                let help = did_you_mean(other, ["immediate", "next_session"])
                    .unwrap_or_else(|| "use `immediate`, `next_session` or `{delay: 10s}`".into());
                self.cx.error(node, format!("unknown activation `{other}`")).help(help);
                return None;
            }
            None => {}
        }
        let f = self.cx.fields(node, "`activation`", &["delay"])?;
        let d = f.req(self.cx, "delay").and_then(|n| self.cx.duration(n, "`delay`"))?;
        Some(Activation::Delay(d))
    }

    fn action(&mut self, node: &Node) -> Option<Action> {
        let f = self.cx.fields(node, "an action", ACTION_KEYS)?;
        let media = f.req(self.cx, "type").and_then(|n| {
            let s = self.cx.string(n, "`type`")?;
            match MediaType::ALL.iter().find(|m| m.key() == s) {
                Some(m) => Some(*m),
                None => {
                    let help = did_you_mean(&s, MediaType::ALL.iter().map(|m| m.key()))
                        .unwrap_or_else(|| "use webchat, content_offer, web_messaging or webhook".into());
                    self.cx.error(n, format!("unknown action type `{s}`")).help(help);
                    None
                }
            }
        });
        let targets = match f.get("target") {
            None => Some(Vec::new()),
            Some(n) => match &n.kind {
                NodeKind::Seq(items) => {
                    let ids: Vec<Option<u32>> =
                        items.iter().map(|i| resolve(self.cx, i, "workgroup", &self.workgroups.clone())).collect();
                    ids.into_iter().map(|i| i.map(WorkgroupId)).collect::<Option<Vec<_>>>()
                }
                _ => resolve(self.cx, n, "workgroup", &self.workgroups.clone()).map(|i| vec![WorkgroupId(i)]),
            },
        };
        let pacing = self.flag(&f, "pacing", true);
        let max_ewt = self.dur(&f, "max_ewt", Millis::secs(20));
        let media = media?;
        let targets = targets?;
        if media.is_chat() && targets.is_empty() {
            self.cx
                .error(node, format!("a {} action needs a `target` workgroup", media.key()))
                .help("add `target: WORKGROUP_ID` (or a list to route by availability)");
            return None;
        }
        if !media.is_chat() && !targets.is_empty() {
            self.cx
                .warning(f.get("target")?, format!("a {} action has no workgroup: `target` is ignored", media.key()));
        }
        Some(Action {
            media,
            targets,
            pacing: pacing?,
            max_ewt: max_ewt?,
            target_location: f.get("target").map(Cx::location),
            target_locations: match f.get("target") {
                Some(Node { kind: NodeKind::Seq(items), .. }) => items.iter().map(Cx::location).collect(),
                Some(n) => vec![Cx::location(n)],
                None => Vec::new(),
            },
        })
    }

    // ---------- traffic ----------

    fn traffic(&mut self, node: &Node) -> Option<Traffic> {
        let f = self.cx.fields(node, "`traffic`", TRAFFIC_KEYS)?;
        let arrivals = f.req(self.cx, "arrivals").and_then(|n| self.cx.fields(n, "`arrivals`", ARRIVAL_KEYS));
        let (per_hour, profile) = match &arrivals {
            Some(a) => {
                let per_hour = a.req(self.cx, "per_hour").and_then(|n| self.cx.number_in(n, "`per_hour`", 0.0, 1e9));
                let profile = match a.get("profile") {
                    None => Some(Vec::new()),
                    Some(n) => self.cx.seq(n, "`profile`").and_then(|items| {
                        items
                            .iter()
                            .map(|i| self.cx.number_in(i, "an hourly multiplier", 0.0, 1e6))
                            .collect::<Vec<_>>()
                            .into_iter()
                            .collect::<Option<Vec<_>>>()
                    }),
                };
                (per_hour, profile)
            }
            None => (None, None),
        };
        let returning = f.get("returning").map_or(Some(0.0), |n| self.cx.number_in(n, "`returning`", 0.0, 1.0));
        let personas = match f.req(self.cx, "personas") {
            Some(n) => self.cx.seq(n, "`personas`").map(<[Node]>::to_vec).and_then(|items| {
                if items.is_empty() {
                    self.cx.error(n, "`personas` needs at least one persona");
                    return None;
                }
                items.iter().map(|p| self.persona(p)).collect::<Vec<_>>().into_iter().collect::<Option<Vec<_>>>()
            }),
            None => None,
        };
        let personas = personas?;
        if personas.iter().all(|p| p.share <= 0.0) {
            self.cx.error(node, "persona shares add up to 0: no visitor would arrive");
            return None;
        }
        Some(Traffic { per_hour: per_hour?, profile: profile?, returning: returning?, personas })
    }

    fn weights(&mut self, node: &Node, what: &str) -> Option<Vec<(String, f64)>> {
        let f = self.cx.fields(node, what, &[])?;
        let mut out = Vec::new();
        for (name, _, value) in f.entries() {
            out.push((name.to_string(), self.cx.number_in(value, "a weight", 0.0, 1e12)?));
        }
        if out.iter().all(|(_, w)| *w <= 0.0) {
            self.cx.error(node, format!("the weights of {what} add up to 0"));
            return None;
        }
        Some(out)
    }

    fn persona(&mut self, node: &Node) -> Option<Persona> {
        let f = self.cx.fields(node, "a persona", PERSONA_KEYS)?;
        let name = f.req(self.cx, "name").and_then(|n| self.cx.id(n, "persona name"));
        let share = f.get("share").map_or(Some(1.0), |n| self.cx.number_in(n, "`share`", 0.0, 1e9));
        let mut ok = true;
        let mut context = Vec::new();
        if let Some(cn) = f.get("context")
            && let Some(cf) = self.cx.fields(cn, "`context`", &[])
        {
            for (key, knode, value) in cf.entries() {
                match visit_context_field(key) {
                    Some(field) => match self.weights(value, &format!("`{key}`")) {
                        Some(w) => context.push((field, w)),
                        None => ok = false,
                    },
                    None => {
                        let names = VISIT_CONTEXT.iter().map(|(_, f)| f.name());
                        let help = did_you_mean(key, names.clone()).unwrap_or_else(|| {
                            "visit context fields are browser.*, device.*, geo.*, campaign.*, referrer.* and search_query".into()
                        });
                        self.cx.error(knode, format!("`{key}` is not a visit-context field")).help(help);
                        ok = false;
                    }
                }
            }
        }
        // Pages first: `next` and `start_page` refer to them by name.
        let pages_f = f.req(self.cx, "pages").and_then(|n| self.cx.fields(n, "`pages`", &[]));
        let page_names: Vec<String> =
            pages_f.as_ref().map(|p| p.entries().map(|(k, _, _)| k.to_string()).collect()).unwrap_or_default();
        let mut pages = Vec::new();
        if let Some(pf) = &pages_f {
            for (pname, _, pnode) in pf.entries() {
                match self.page(pname, pnode, &page_names) {
                    Some(p) => pages.push(p),
                    None => ok = false,
                }
            }
            if page_names.is_empty() {
                self.cx.error(pf.node, "a persona needs at least one page");
                ok = false;
            }
        }
        let start_page = match f.get("start_page") {
            None => Some(0),
            Some(n) => resolve(self.cx, n, "page", &page_names).map(|i| i as usize),
        };
        let idle_events = match f.get("idle_events") {
            None => Some(Vec::new()),
            Some(n) => self.cx.seq(n, "`idle_events`").map(<[Node]>::to_vec).and_then(|items| {
                items
                    .iter()
                    .map(|i| {
                        let f = self.cx.fields(i, "an idle event", IDLE_KEYS)?;
                        let after = f.req(self.cx, "after").and_then(|n| self.cx.duration(n, "`after`"));
                        let name = f.req(self.cx, "name").and_then(|n| self.cx.event_name(n));
                        Some(IdleEvent { after: after?, name: name? })
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
            }),
        };
        let mut response = Vec::new();
        if let Some(rn) = f.get("response") {
            let keys: Vec<&str> =
                MediaType::ALL.iter().filter(|m| **m != MediaType::Webhook).map(|m| m.key()).collect();
            if let Some(rf) = self.cx.fields(rn, "`response`", &keys) {
                for (key, _, value) in rf.entries() {
                    let media = MediaType::ALL.iter().copied().find(|m| m.key() == key)?;
                    match self.response(value) {
                        Some(r) => response.push((media, r)),
                        None => ok = false,
                    }
                }
            } else {
                ok = false;
            }
        }
        let patience = f.get("patience").map(|n| self.dist(n, Unit::Duration));
        let mut chat_uplift = Vec::new();
        if let Some(un) = f.get("chat_uplift")
            && let Some(uf) = self.cx.fields(un, "`chat_uplift`", &[])
        {
            let outcomes = self.compiler.names.outcomes.clone();
            for (key, knode, value) in uf.entries() {
                let id = resolve(self.cx, knode, "outcome", &outcomes);
                let factor = self.cx.number_in(value, "an uplift factor", 0.0, 1e6);
                match (id, factor) {
                    (Some(id), Some(x)) => chat_uplift.push((OutcomeId(id), x)),
                    _ => ok = false,
                }
                let _ = key;
            }
        }
        ok.then_some(())?;
        Some(Persona {
            name: name?,
            share: share?,
            context,
            start_page: start_page?,
            pages,
            idle_events: idle_events?,
            response,
            patience: match patience {
                Some(p) => Some(p?),
                None => None,
            },
            chat_uplift,
        })
    }

    fn page(&mut self, name: &str, node: &Node, page_names: &[String]) -> Option<Page> {
        let f = self.cx.fields(node, &format!("page `{name}`"), PAGE_KEYS)?;
        let url = f.req(self.cx, "url").and_then(|n| self.cx.string(n, "`url`"));
        let title = f.get("title").map(|n| self.cx.string(n, "`title`"));
        let dwell = match f.get("dwell") {
            None => Some(Dist::Exp { mean: 30_000.0 }),
            Some(n) => self.dist(n, Unit::Duration),
        };
        let mut next = Vec::new();
        let mut ok = true;
        if let Some(nn) = f.get("next")
            && let Some(nf) = self.cx.fields(nn, "`next`", &[])
        {
            for (target, knode, value) in nf.entries() {
                let w = self.cx.number_in(value, "a weight", 0.0, 1e12);
                let t = if target == "exit" {
                    Some(None)
                } else {
                    match page_names.iter().position(|p| p == target) {
                        Some(i) => Some(Some(i)),
                        None => {
                            let help = did_you_mean(target, page_names.iter().map(String::as_str).chain(["exit"]))
                                .unwrap_or_else(|| format!("the pages are: {}, and `exit`", page_names.join(", ")));
                            self.cx.error(knode, format!("unknown page `{target}`")).help(help);
                            None
                        }
                    }
                };
                match (t, w) {
                    (Some(t), Some(w)) => next.push((t, w)),
                    _ => ok = false,
                }
            }
        }
        let events = match f.get("events") {
            None => Some(Vec::new()),
            Some(n) => self.cx.seq(n, "`events`").map(<[Node]>::to_vec).and_then(|items| {
                items.iter().map(|i| self.record_spec(i)).collect::<Vec<_>>().into_iter().collect::<Option<Vec<_>>>()
            }),
        };
        ok.then_some(())?;
        Some(Page {
            name: name.to_string(),
            url: url?,
            title: match title {
                Some(t) => Some(t?),
                None => None,
            },
            dwell: dwell?,
            next,
            events: events?,
        })
    }

    fn record_spec(&mut self, node: &Node) -> Option<RecordSpec> {
        let f = self.cx.fields(node, "a recorded event", RECORD_KEYS)?;
        let name = f.req(self.cx, "name").and_then(|n| self.cx.event_name(n));
        let mut attributes = Vec::new();
        let mut ok = true;
        if let Some(an) = f.get("attributes")
            && let Some(af) = self.cx.fields(an, "`attributes`", &[])
        {
            for (key, _, value) in af.entries() {
                let d = match &value.kind {
                    NodeKind::Scalar { value: s, .. } => Some(AttrDist::Fixed(s.clone())),
                    NodeKind::Map(pairs)
                        if pairs.iter().any(|(k, _)| k.as_scalar().is_some_and(|k| DIST_KEYS.contains(&k))) =>
                    {
                        self.dist(value, Unit::Number).map(AttrDist::Number)
                    }
                    NodeKind::Map(_) => self.weights(value, &format!("`{key}`")).map(AttrDist::Categorical),
                    NodeKind::Seq(_) => {
                        self.cx.error(value, "an attribute is a value, a distribution or a categorical mix");
                        None
                    }
                };
                match d {
                    Some(d) => attributes.push((key.to_string(), d)),
                    None => ok = false,
                }
            }
        }
        ok.then_some(())?;
        Some(RecordSpec { name: name?, attributes })
    }

    fn response(&mut self, node: &Node) -> Option<Response> {
        let f = self.cx.fields(node, "a response model", RESPONSE_KEYS)?;
        let accept = f.get("accept").map_or(Some(0.0), |n| self.cx.number_in(n, "`accept`", 0.0, 1.0));
        let reject = f.get("reject").map_or(Some(0.0), |n| self.cx.number_in(n, "`reject`", 0.0, 1.0));
        let delay = f.get("delay").map(|n| self.dist(n, Unit::Duration));
        let (accept, reject) = (accept?, reject?);
        if accept + reject > 1.0 + 1e-9 {
            self.cx
                .error(node, format!("`accept` + `reject` is {}, above 1", accept + reject))
                .help("the rest of the visitors ignore the offer");
            return None;
        }
        Some(Response {
            accept,
            reject,
            delay: match delay {
                Some(d) => Some(d?),
                None => None,
            },
        })
    }

    // ---------- cases and expectations ----------

    fn case(&mut self, node: &Node) -> Option<Case> {
        let f = self.cx.fields(node, "a case", CASE_KEYS)?;
        let name = f.req(self.cx, "name").and_then(|n| self.cx.string(n, "`name`"));
        let mut visitor = Vec::new();
        let mut traits = Vec::new();
        let mut authenticated = None;
        let mut ok = true;
        if let Some(vn) = f.get("visitor") {
            ok &= self.visitor(vn, &mut visitor, &mut traits, &mut authenticated).is_some();
        }
        let availability = match f.get("availability") {
            None => None,
            Some(an) => {
                let mut out = Vec::new();
                if let Some(af) = self.cx.fields(an, "`availability`", &[]) {
                    let wgs = self.workgroups.clone();
                    for (_, knode, value) in af.entries() {
                        let wg = resolve(self.cx, knode, "workgroup", &wgs);
                        let snap = self.snapshot(value);
                        match (wg, snap) {
                            (Some(w), Some(s)) => out.push((WorkgroupId(w), s)),
                            _ => ok = false,
                        }
                    }
                } else {
                    ok = false;
                }
                Some(out)
            }
        };
        let events = f.req(self.cx, "events").and_then(|n| {
            let items = self.cx.seq(n, "`events`")?.to_vec();
            // Every event is read, so that all their errors are reported.
            let mut out = Vec::new();
            let mut ok = true;
            let mut last = Millis(0);
            for item in &items {
                let Some(ev) = self.case_event(item) else {
                    ok = false;
                    continue;
                };
                if ev.at < last {
                    self.cx
                        .error(item, format!("events must be in time order: {} comes after {}", ev.at, last))
                        .help("sort the events by `at`");
                    ok = false;
                }
                last = last.max(ev.at);
                out.push(ev);
            }
            ok.then_some(out)
        });
        let expect = match f.get("expect") {
            None => Some(Vec::new()),
            Some(n) => self.cx.seq(n, "`expect`").map(<[Node]>::to_vec).and_then(|items| {
                items.iter().map(|i| self.case_expect(i)).collect::<Vec<_>>().into_iter().collect::<Option<Vec<_>>>()
            }),
        };
        ok.then_some(())?;
        Some(Case {
            name: name?,
            visitor,
            traits,
            authenticated,
            availability,
            events: events?,
            expect: expect?,
            location: Cx::location(node),
        })
    }

    /// The visitor context of a case, in the §4 shape: `{device: {category: mobile}}`.
    fn visitor(
        &mut self,
        node: &Node,
        out: &mut Vec<(StrField, String)>,
        traits: &mut Vec<(String, String)>,
        authenticated: &mut Option<bool>,
    ) -> Option<()> {
        let groups =
            ["browser", "device", "geolocation", "mktCampaign", "referrer", "searchQuery", "traits", "authenticated"];
        let f = self.cx.fields(node, "`visitor`", &groups)?;
        let mut ok = true;
        for (group, _, value) in f.entries() {
            match group {
                "searchQuery" => match self.cx.string(value, "`searchQuery`") {
                    Some(s) => out.push((StrField::SearchQuery, s)),
                    None => ok = false,
                },
                "authenticated" => match self.cx.boolean(value, "`authenticated`") {
                    Some(b) => *authenticated = Some(b),
                    None => ok = false,
                },
                "traits" => {
                    let Some(tf) = self.cx.fields(value, "`traits`", &[]) else {
                        ok = false;
                        continue;
                    };
                    for (k, _, v) in tf.entries() {
                        match self.cx.string(v, "a trait") {
                            Some(s) => traits.push((k.to_string(), s)),
                            None => ok = false,
                        }
                    }
                }
                _ => {
                    let keys: Vec<&str> = VISIT_CONTEXT
                        .iter()
                        .filter_map(|(api, _)| api.strip_prefix(group).and_then(|r| r.strip_prefix('.')))
                        .collect();
                    let Some(gf) = self.cx.fields(value, &format!("`{group}`"), &keys) else {
                        ok = false;
                        continue;
                    };
                    for (k, _, v) in gf.entries() {
                        let field = visit_context_field(&format!("{group}.{k}"))?;
                        match self.cx.string(v, "a context value") {
                            Some(s) => out.push((field, s)),
                            None => ok = false,
                        }
                    }
                }
            }
        }
        ok.then_some(())
    }

    fn case_event(&mut self, node: &Node) -> Option<CaseEvent> {
        let f = self.cx.fields(node, "a case event", CASE_EVENT_KEYS)?;
        let at = f.req(self.cx, "at").and_then(|n| self.cx.duration(n, "`at`"));
        let kinds: Vec<&str> = ["pageview", "record", "respond"].into_iter().filter(|k| f.has(k)).collect();
        if kinds.len() != 1 {
            self.cx
                .error(node, "a case event is exactly one of `pageview: URL`, `record: NAME` or `respond: {...}`")
                .help("split it into separate events");
            return None;
        }
        let kind = match kinds[0] {
            "pageview" => {
                let url = self.cx.string(f.get("pageview")?, "`pageview`");
                let title = f.get("title").map(|n| self.cx.string(n, "`title`"));
                CaseEventKind::Pageview {
                    url: url?,
                    title: match title {
                        Some(t) => Some(t?),
                        None => None,
                    },
                }
            }
            "record" => {
                let name = self.cx.event_name(f.get("record")?);
                let mut attributes = Vec::new();
                if let Some(an) = f.get("attributes") {
                    let af = self.cx.fields(an, "`attributes`", &[])?;
                    for (k, _, v) in af.entries() {
                        let value = match &v.kind {
                            NodeKind::Scalar { value, style } => {
                                if *style == super::yaml::Style::Plain {
                                    DynValue::from_text(value)
                                } else {
                                    // A quoted value is text, though "150" still reads as a number.
                                    DynValue::from_text(value)
                                }
                            }
                            _ => {
                                self.cx.error(v, "an attribute value must be a single value");
                                return None;
                            }
                        };
                        attributes.push((k.to_string(), value));
                    }
                }
                CaseEventKind::Record { name: name?, attributes }
            }
            _ => {
                let rn = f.get("respond")?;
                let rf = self.cx.fields(rn, "`respond`", RESPOND_KEYS)?;
                let maps = self.action_maps.clone();
                let map = rf.req(self.cx, "action_map").and_then(|n| resolve(self.cx, n, "action map", &maps));
                let state = rf.req(self.cx, "state").and_then(|n| {
                    let s = self.cx.string(n, "`state`")?;
                    match s.as_str() {
                        "accepted" => Some(ResponseState::Accepted),
                        "rejected" => Some(ResponseState::Rejected),
                        "ignored" => Some(ResponseState::Ignored),
                        _ => {
                            self.cx
                                .error(n, format!("a visitor responds `accepted`, `rejected` or `ignored`, not `{s}`"));
                            None
                        }
                    }
                });
                CaseEventKind::Respond { action_map: ActionMapId(map?), state: state? }
            }
        };
        if f.has("title") && kinds[0] != "pageview" {
            self.cx.error(f.key_node("title")?, "`title` belongs to a `pageview` event");
            return None;
        }
        if f.has("attributes") && kinds[0] != "record" {
            self.cx.error(f.key_node("attributes")?, "`attributes` belong to a `record` event");
            return None;
        }
        Some(CaseEvent { at: at?, kind, location: Cx::location(node) })
    }

    fn case_expect(&mut self, node: &Node) -> Option<CaseExpect> {
        let f = self.cx.fields(node, "an expectation", CASE_EXPECT_KEYS)?;
        let mut at = f.get("at").map(|n| self.cx.duration(n, "`at`"));
        let (never, matcher) = match f.get("never") {
            Some(n) => {
                if let Some(other) = MATCHER_KEYS.iter().find(|k| f.has(k)) {
                    self.cx.error(f.key_node(other)?, "with `never`, put the whole decision inside it");
                    return None;
                }
                let mut keys = MATCHER_KEYS.to_vec();
                keys.push("at");
                let mf = self.cx.fields(n, "`never`", &keys)?;
                if let Some(inner_at) = mf.get("at") {
                    if at.is_some() {
                        self.cx.error(inner_at, "`at` is given twice: inside and outside `never`");
                        return None;
                    }
                    at = Some(self.cx.duration(inner_at, "`at`"));
                }
                (true, self.matcher(&mf, n)?)
            }
            None => (false, self.matcher(&f, node)?),
        };
        Some(CaseExpect {
            at: match at {
                Some(a) => Some(a?),
                None => None,
            },
            never,
            matcher,
            location: Cx::location(node),
        })
    }

    fn matcher(&mut self, f: &Fields<'_>, node: &Node) -> Option<DecisionMatcher> {
        let maps = self.action_maps.clone();
        let wgs = self.workgroups.clone();
        let segs = self.compiler.names.segments.clone();
        let outs = self.compiler.names.outcomes.clone();
        let mut m = DecisionMatcher::default();
        let mut ok = true;
        if let Some(n) = f.get("action_map") {
            m.action_map = resolve(self.cx, n, "action map", &maps).map(ActionMapId);
            ok &= m.action_map.is_some();
        }
        if let Some(n) = f.get("target") {
            m.target = resolve(self.cx, n, "workgroup", &wgs).map(WorkgroupId);
            ok &= m.target.is_some();
        }
        if let Some(n) = f.get("segment") {
            m.segment = resolve(self.cx, n, "segment", &segs).map(SegmentId);
            ok &= m.segment.is_some();
        }
        if let Some(n) = f.get("outcome") {
            m.outcome = resolve(self.cx, n, "outcome", &outs).map(OutcomeId);
            ok &= m.outcome.is_some();
        }
        if let Some(n) = f.get("state") {
            let s = self.cx.string(n, "`state`").unwrap_or_default();
            m.state = ActionState::from_name(&s);
            if m.state.is_none() {
                let help = did_you_mean(&s, ActionState::ALL.iter().map(|s| s.name())).unwrap_or_else(|| {
                    format!(
                        "the states are: {}",
                        ActionState::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
                    )
                });
                self.cx.error(n, format!("unknown action state `{s}`")).help(help);
                ok = false;
            }
        }
        if let Some(n) = f.get("blocked") {
            let s = self.cx.string(n, "`blocked`").unwrap_or_default();
            m.blocked = BlockingReason::from_name(&s);
            if m.blocked.is_none() {
                let names = BlockingReason::ALL.iter().map(|s| s.name());
                let help = did_you_mean(&s, names.clone())
                    .unwrap_or_else(|| format!("the reasons are: {}", names.collect::<Vec<_>>().join(", ")));
                self.cx.error(n, format!("unknown blocking reason `{s}`")).help(help);
                ok = false;
            }
        }
        ok.then_some(())?;
        let kinds = [m.state.is_some() || m.blocked.is_some(), m.segment.is_some(), m.outcome.is_some()];
        if kinds.iter().filter(|k| **k).count() > 1 {
            self.cx.error(node, "an expectation is about one decision: an action, a segment or an outcome");
            return None;
        }
        if m.state.is_some() && m.blocked.is_some() {
            self.cx.error(node, "an expectation has either `state` or `blocked`, not both");
            return None;
        }
        if m == DecisionMatcher::default() {
            self.cx
                .error(node, "this expectation matches nothing in particular")
                .help("name an `action_map` with a `state` or `blocked` reason, a `segment` or an `outcome`");
            return None;
        }
        Some(m)
    }

    fn expectation(&mut self, node: &Node) -> Option<Expectation> {
        let f = self.cx.fields(node, "an expectation", EXPECT_KEYS)?;
        let metric_node = f.req(self.cx, "metric")?;
        let metric = self.cx.string(metric_node, "`metric`")?;
        let metric_ok = self.check_metric(metric_node, &metric);
        let bounds: Vec<&str> = ["between", "at_least", "at_most", "equals"].into_iter().filter(|k| f.has(k)).collect();
        if bounds.len() != 1 {
            self.cx.error(node, "an expectation needs exactly one of `between`, `at_least`, `at_most`, `equals`");
            return None;
        }
        let bn = f.get(bounds[0])?;
        let bound = match bounds[0] {
            "between" => {
                let items = self.cx.seq(bn, "`between`")?;
                if items.len() != 2 {
                    self.cx.error(bn, "`between` takes [low, high]");
                    return None;
                }
                let (a, b) = (self.cx.number(&items[0], "a bound")?, self.cx.number(&items[1], "a bound")?);
                if a > b {
                    self.cx.error(bn, "the low bound is above the high bound");
                    return None;
                }
                Bound::Between(a, b)
            }
            "at_least" => Bound::AtLeast(self.cx.number(bn, "`at_least`")?),
            "at_most" => Bound::AtMost(self.cx.number(bn, "`at_most`")?),
            _ => Bound::Equals(self.cx.number(bn, "`equals`")?),
        };
        metric_ok?;
        Some(Expectation { metric, bound, location: Cx::location(node) })
    }

    /// `name{label=value,...}` with known names and labels that refer to real ids.
    /// Errors point at the offending part of the string.
    fn check_metric(&mut self, node: &Node, metric: &str) -> Option<()> {
        let (name, labels) = match metric.split_once('{') {
            Some((n, rest)) => match rest.strip_suffix('}') {
                Some(l) => (trimmed(n, 0), (l, n.len() + 1)),
                None => {
                    let at = n.len();
                    self.cx
                        .error_in(node, at..at + 1, format!("metric `{metric}` has an unclosed `{{`"))
                        .help("end the labels with `}`, e.g. `offered{action_map=cart_help}`");
                    return None;
                }
            },
            None => (trimmed(metric, 0), ("", metric.len())),
        };
        if !METRICS.contains(&name.0) {
            let help = did_you_mean(name.0, METRICS.iter().copied())
                .unwrap_or_else(|| format!("the metrics are: {}", METRICS.join(", ")));
            let range = name.1..name.1 + name.0.len().max(1);
            self.cx.error_in(node, range, format!("unknown metric `{}`", name.0)).help(help);
            return None;
        }
        let mut ok = true;
        let mut offset = labels.1;
        for part in labels.0.split(',') {
            let (label, at) = trimmed(part, offset);
            offset += part.len() + 1;
            if label.is_empty() {
                continue;
            }
            let Some((k, v)) = label.split_once('=') else {
                self.cx
                    .error_in(node, at..at + label.len(), format!("metric label `{label}` must be `key=value`"))
                    .help("e.g. `offered{action_map=cart_help}`");
                ok = false;
                continue;
            };
            let (v, v_at) = trimmed(v, at + k.len() + 1);
            let (k, k_at) = trimmed(k, at);
            let v_at = v_at + (v.len() - v.trim_start_matches('"').len());
            let v = v.trim_matches('"');
            let (noun, known): (&str, Vec<&str>) = match k {
                "action_map" => ("action map", self.action_maps.iter().map(String::as_str).collect()),
                "workgroup" => ("workgroup", self.workgroups.iter().map(String::as_str).collect()),
                "outcome" => ("outcome", self.compiler.names.outcomes.iter().map(String::as_str).collect()),
                "reason" => ("blocking reason", BlockingReason::ALL.iter().map(|r| r.name()).collect()),
                "chat" => ("`chat` value", vec!["with", "without"]),
                _ => {
                    let help = did_you_mean(k, METRIC_LABELS.iter().copied())
                        .unwrap_or_else(|| format!("the labels are: {}", METRIC_LABELS.join(", ")));
                    self.cx
                        .error_in(node, k_at..k_at + k.len().max(1), format!("unknown metric label `{k}`"))
                        .help(help);
                    ok = false;
                    continue;
                }
            };
            if !known.contains(&v) {
                let help = did_you_mean(v, known.iter().copied()).unwrap_or_else(|| {
                    if known.is_empty() {
                        format!("no {noun} is defined")
                    } else {
                        format!("the {noun}s are: {}", known.join(", "))
                    }
                });
                self.cx
                    .error_in(node, v_at..v_at + v.len().max(1), format!("unknown {noun} `{v}` in metric `{metric}`"))
                    .help(help);
                ok = false;
            }
        }
        ok.then_some(())
    }
}

/// `s` without surrounding blanks, and where that starts given that `s` starts at `at`.
fn trimmed(s: &str, at: usize) -> (&str, usize) {
    let t = s.trim_start();
    (t.trim_end(), at + s.len() - t.len())
}

#[derive(Clone, Copy)]
enum Unit {
    Duration,
    Number,
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

pub fn parse_window(s: &str) -> Option<DailyWindow> {
    let (a, b) = s.split_once('-')?;
    let (start_min, end_min) = (parse_hhmm(a)?, parse_hhmm(b)?);
    (start_min != end_min).then_some(DailyWindow { start_min, end_min })
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_day(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    DAYS.iter().position(|d| s.starts_with(d) && s.len() >= 3)
}

/// `Mon-Fri 08:00-18:00; Sat 10:00-14:00`, or `daily 09:00-17:00`.
pub fn parse_schedule(text: &str) -> Result<Schedule, String> {
    let mut days: [Vec<DailyWindow>; 7] = Default::default();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (day_spec, hours) = part.rsplit_once(' ').ok_or_else(|| format!("`{part}` needs days and hours"))?;
        let window = parse_window(hours).ok_or_else(|| format!("`{hours}` is not a time range like 08:00-18:00"))?;
        let mut selected = [false; 7];
        for item in day_spec.split(',').map(str::trim) {
            if item.eq_ignore_ascii_case("daily") {
                selected = [true; 7];
                continue;
            }
            match item.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        parse_day(a).ok_or_else(|| format!("`{a}` is not a weekday"))?,
                        parse_day(b).ok_or_else(|| format!("`{b}` is not a weekday"))?,
                    );
                    let mut d = a;
                    loop {
                        selected[d] = true;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => selected[parse_day(item).ok_or_else(|| format!("`{item}` is not a weekday"))?] = true,
            }
        }
        for (d, on) in selected.iter().enumerate() {
            if *on {
                days[d].push(window);
            }
        }
    }
    if days.iter().all(Vec::is_empty) {
        return Err("no opening hours".into());
    }
    Ok(Schedule { text: text.to_string(), days })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let s = parse_schedule("Mon-Fri 08:00-18:00; Sat 10:00-14:00").unwrap();
        assert!(s.is_open(0, 8 * 60));
        assert!(!s.is_open(0, 18 * 60));
        assert!(s.is_open(5, 11 * 60));
        assert!(!s.is_open(6, 11 * 60));
        let wrap = parse_schedule("Fri-Mon 22:00-06:00").unwrap();
        assert!(wrap.is_open(6, 23 * 60));
        assert!(wrap.is_open(0, 60));
        assert!(!wrap.is_open(2, 60));
        assert!(parse_schedule("Mon-Fry 08:00-18:00").is_err());
        assert!(parse_schedule("Mon 8-18").is_err());
    }
}
