//! Evaluation speed of compiled conditions.
//!
//! The context is shaped like the engine's: fields in arrays indexed by the field
//! enums, attributes and traits in small `Vec<(Sym, DynValue)>` scanned linearly,
//! segments and achieved outcomes as bit sets, counters in a `Vec<u32>` indexed by
//! slot; text fields are `Arc<str>` so that the events of a session share their
//! visit context. 1000 events are generated up front by a fixed LCG, so every run
//! sees the same data; each benchmark evaluates its conditions once per event and reports
//! the throughput in evaluations (`elem/s`), i.e. time per evaluation.
//!
//! `peers/` times the spec condition in pesim against the same condition in
//! zen-expression, rhai and cel (dev-dependencies only) and in a hand-written Rust
//! closure, on the same events, except that 10% of the sessions have no `geo.country`.
//! Each event is converted once, before timing, into each engine's own input (zen: a
//! `Variable` in a `Scope`; rhai: a `Scope` of maps; cel: an inner scope of one root
//! context; the closure: a struct of the four values), and each condition is compiled
//! once. Before timing, every engine must give pesim's result on every event. After
//! criterion, `cargo bench` runs the engines interleaved and prints the time per
//! evaluation and the ratios to pesim (`PESIM_BENCH_RATIO_RUNS` rounds, default 25; 0 skips).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use pesim::dsl::fields::{BoolField, DurField, NumField, StrField};
use pesim::dsl::{
    BoolNode, Compiler, Context, CountSlot, DynValue, Interner, Names, OutcomeId, ScoreMetric, SegmentId, Sym,
};

const EVENTS: usize = 1000;

/// What a condition sees of one event, its session and its visitor.
struct EventCtx {
    /// Text fields; the visit context is shared with the other events of the session.
    strs: [Option<Arc<str>>; StrField::COUNT],
    nums: [f64; NumField::COUNT],
    durs: [Option<i64>; DurField::COUNT],
    bools: [Option<bool>; BoolField::COUNT],
    event: Sym,
    attributes: Vec<(Sym, DynValue)>,
    traits: Vec<(Sym, DynValue)>,
    segments: u64,
    achieved: u64,
    /// Per outcome: probability, max_probability, quantile, max_quantile.
    scores: Vec<[Option<f64>; 4]>,
    counts: Vec<u32>,
}

impl Context for EventCtx {
    #[inline]
    fn str_field(&self, field: StrField) -> Option<&str> {
        self.strs[field.index()].as_deref()
    }
    #[inline]
    fn num_field(&self, field: NumField) -> Option<f64> {
        Some(self.nums[field.index()])
    }
    #[inline]
    fn dur_field(&self, field: DurField) -> Option<i64> {
        self.durs[field.index()]
    }
    #[inline]
    fn bool_field(&self, field: BoolField) -> Option<bool> {
        self.bools[field.index()]
    }
    #[inline]
    fn event_name(&self) -> Sym {
        self.event
    }
    #[inline]
    fn attribute(&self, name: Sym) -> Option<&DynValue> {
        self.attributes.iter().find(|(s, _)| *s == name).map(|(_, v)| v)
    }
    #[inline]
    fn trait_value(&self, name: Sym) -> Option<&DynValue> {
        self.traits.iter().find(|(s, _)| *s == name).map(|(_, v)| v)
    }
    #[inline]
    fn segment(&self, id: SegmentId) -> bool {
        self.segments & (1 << id.0) != 0
    }
    #[inline]
    fn outcome_achieved(&self, id: OutcomeId) -> bool {
        self.achieved & (1 << id.0) != 0
    }
    #[inline]
    fn outcome_score(&self, id: OutcomeId, metric: ScoreMetric) -> Option<f64> {
        let i = match metric {
            ScoreMetric::Probability => 0,
            ScoreMetric::MaxProbability => 1,
            ScoreMetric::Quantile => 2,
            ScoreMetric::MaxQuantile => 3,
        };
        self.scores.get(id.0 as usize).and_then(|s| s[i])
    }
    #[inline]
    fn count(&self, slot: CountSlot) -> u32 {
        self.counts.get(slot.0 as usize).copied().unwrap_or(0)
    }
}

/// A 64-bit LCG (Knuth's MMIX constants): deterministic and dependency-free.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const SPEC_CONDITION: &str =
    r#"session.pageviews >= 3 and geo.country == "US" and (time_on_page > 30s or attributes.cart_value > 100)"#;

/// Conditions as segments, outcomes and action maps typically write them.
const MIX: [&str; 20] = [
    r#"page.url contains "/cart""#,
    r#"page.url matches "^https://shop\\.example/(cart|checkout)""#,
    r#"geo.country in ["US", "CA", "GB", "IE", "DE"]"#,
    r#"event.name == "add_to_cart""#,
    r#"count(page_viewed where page.url contains "/product") >= 3"#,
    r#"segment("vip") and session.pageviews > 2"#,
    r#"lower(page.title) contains "sale""#,
    "attributes.cart_value * 1.2 > 150",
    r#"time_on_page > 30s and device.category == "mobile""#,
    r#"page.pathname starts_with "/checkout" and not segment("returning")"#,
    r#"referrer.medium in ["search", "social"] and campaign.source == "google""#,
    "visitor.sessions >= 2 and visitor.count(form_submitted) == 0",
    "session.duration - time_on_page > 2m",
    r#"outcome("purchase").probability > 0.3 and outcome("purchase").quantile >= 0.8"#,
    r#"page.url not contains any ["/help", "/support", "/contact"]"#,
    r#"search_query contains all ["boots", "winter"]"#,
    r#"exists(traits.email) and traits.email ends_with "@example.com""#,
    r#"browser.family == "Chrome" and device.os starts_with "Android""#,
    r#"now.hour >= 9 and now.hour < 18 and now.weekday not in ["sat", "sun"]"#,
    r#"authenticated or attributes.coupon == "WINTER10""#,
];

fn names() -> Names {
    Names {
        segments: vec!["cart_visitor".into(), "vip".into(), "returning".into()],
        outcomes: vec!["purchase".into(), "signup".into()],
    }
}

/// Generates the events once the conditions are compiled, so that names the
/// rules mention map to their symbols and the others to `Sym::UNKNOWN`, as the
/// engine does.
///
/// Events come in sessions of 1 to 19 events. As in the engine, the visit context
/// (`geo.*`, `browser.*`, `device.*`, `referrer.*`, `campaign.*`) is decoded once
/// per session and shared by its events, while each event has its own page text.
///
/// `no_country_percent` of the sessions lose their `geo.country` (unknown location).
/// That choice comes from a second LCG, so the main stream, and with 0 the data, are
/// the same whatever the percentage.
fn events(interner: &Interner, count_slots: usize, no_country_percent: u64) -> Vec<EventCtx> {
    let mut rng = Lcg(0x5eed);
    let mut no_country = Lcg(0xc0c0a);
    let paths = ["/", "/product/boots", "/product/scarf", "/cart", "/checkout", "/help", "/search", "/sale"];
    let titles = ["Home", "Winter Boots", "Scarf", "Cart", "Checkout", "Help Center", "Search", "SALE -50%"];
    let countries = ["US", "US", "US", "IE", "GB", "DE", "FR", "CA"];
    let names = ["page_viewed", "page_viewed", "page_viewed", "add_to_cart", "form_submitted", "idle_30_sec"];
    let media = ["search", "social", "email", "paid", "internal", "unknown"];
    let sources = ["google", "facebook", "newsletter", "bing"];
    let sym = |s: &str| interner.lookup(s);
    let mut out = Vec::with_capacity(EVENTS);
    while out.len() < EVENTS {
        // One session: its visit context, visitor and traits.
        let mut visit: [Option<Arc<str>>; StrField::COUNT] = std::array::from_fn(|_| None);
        let mut set = |f: StrField, v: &str| visit[f.index()] = Some(v.into());
        set(StrField::GeoCountry, rng.pick(&countries));
        set(StrField::BrowserFamily, rng.pick(&["Chrome", "Safari", "Firefox", "Edge"]));
        set(StrField::BrowserLang, "en-US");
        set(StrField::DeviceCategory, rng.pick(&["desktop", "mobile", "mobile", "tablet"]));
        set(StrField::DeviceOs, rng.pick(&["Android 14", "iOS 18", "Windows", "macOS"]));
        set(StrField::ReferrerMedium, rng.pick(&media));
        set(StrField::NowWeekday, rng.pick(&["mon", "tue", "wed", "thu", "fri", "sat", "sun"]));
        if rng.chance(60) {
            set(StrField::CampaignSource, rng.pick(&sources));
            set(StrField::CampaignMedium, "cpc");
        }
        if rng.chance(20) {
            set(StrField::SearchQuery, rng.pick(&["winter boots", "boots", "scarf"]));
        }
        if no_country.chance(no_country_percent) {
            visit[StrField::GeoCountry.index()] = None;
        }
        let session_number = 1.0 + rng.below(4) as f64;
        let earlier_pageviews = rng.below(40) as f64;
        let traits =
            if rng.chance(30) { vec![(sym("email"), DynValue::from_text("someone@example.com"))] } else { Vec::new() };
        let segments = rng.below(8);
        let authenticated = rng.chance(25);
        let hour = rng.below(24) as f64;

        let (mut pageviews, mut events_so_far, mut session_ms) = (0.0, 0.0, 0);
        let mut time_on_page = 0;
        let mut counts: Vec<u32> = vec![0; count_slots];
        for _ in 0..1 + rng.below(19) {
            let name = rng.pick(&names);
            let page = rng.below(paths.len() as u64) as usize;
            let gap = rng.below(90_000) as i64;
            session_ms += gap;
            events_so_far += 1.0;
            if name == "page_viewed" {
                pageviews += 1.0;
                time_on_page = 0;
            } else {
                time_on_page += gap;
            }
            for c in counts.iter_mut() {
                *c += u32::from(rng.chance(30));
            }

            let mut strs = visit.clone();
            let mut set = |f: StrField, v: &str| strs[f.index()] = Some(v.into());
            set(StrField::EventName, name);
            set(StrField::PageUrl, &format!("https://shop.example{}?utm_source=x", paths[page]));
            set(StrField::PageTitle, titles[page]);
            set(StrField::PageHostname, "shop.example");
            set(StrField::PageDomain, "shop.example");
            set(StrField::PagePathname, paths[page]);
            set(StrField::PageQuery, "utm_source=x");

            let mut nums = [0.0; NumField::COUNT];
            nums[NumField::SessionPageviews.index()] = pageviews;
            nums[NumField::SessionEvents.index()] = events_so_far;
            nums[NumField::SessionNumber.index()] = session_number;
            nums[NumField::VisitorSessions.index()] = session_number;
            nums[NumField::VisitorPageviews.index()] = earlier_pageviews + pageviews;
            nums[NumField::NowHour.index()] = hour;
            let mut durs = [None; DurField::COUNT];
            durs[DurField::TimeOnPage.index()] = Some(time_on_page);
            durs[DurField::SessionDuration.index()] = Some(session_ms);

            let mut attributes = Vec::new();
            if name == "add_to_cart" || rng.chance(40) {
                let value = format!("{}.{:02}", rng.below(300), rng.below(100));
                attributes.push((sym("cart_value"), DynValue::from_text(&value)));
            }
            if rng.chance(10) {
                attributes.push((sym("coupon"), DynValue::from_text("WINTER10")));
            }
            attributes.push((sym("sku"), DynValue::from_text("B-1234")));

            let scores = (0..2)
                .map(|_| {
                    let p = rng.below(1000) as f64 / 1000.0;
                    [Some(p), Some(p.max(0.5)), Some(rng.below(100) as f64 / 100.0), Some(0.9)]
                })
                .collect();
            out.push(EventCtx {
                strs,
                nums,
                durs,
                bools: [Some(authenticated)],
                event: sym(name),
                attributes,
                traits: traits.clone(),
                segments,
                achieved: rng.below(4),
                scores,
                counts: counts.clone(),
            });
        }
    }
    out.truncate(EVENTS);
    out
}

fn compile(c: &mut Compiler, src: &str) -> BoolNode {
    c.compile_bool(src).unwrap_or_else(|e| panic!("{src}: {e:?}")).node
}

fn bench(crit: &mut Criterion, spec: &BoolNode, mix: &[BoolNode], events: &[EventCtx]) {
    let mut group = crit.benchmark_group("eval");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("spec_condition", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for ctx in events {
                hits += u32::from(black_box(spec).eval(black_box(ctx)));
            }
            hits
        })
    });
    group.throughput(Throughput::Elements((events.len() * mix.len()) as u64));
    group.bench_function("mix_of_20", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for ctx in events {
                for cond in mix {
                    hits += u32::from(black_box(cond).eval(black_box(ctx)));
                }
            }
            hits
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------
// Peer engines: the spec condition in each engine's syntax, on the same events.
// ---------------------------------------------------------------------------------

/// Percentage of sessions without `geo.country` in the peers' events, so that the
/// agreement check covers a missing text value as well as a missing attribute.
const PEER_NO_COUNTRY_PERCENT: u64 = 10;

/// Zen compares `null` with a number as an error ("Unsupported type"), not as false, so
/// the attribute that may be missing is tested for `null` first; `null == "US"` is false.
const ZEN_CONDITION: &str = concat!(
    r#"session.pageviews >= 3 and geo.country == "US" and "#,
    "(time_on_page > 30 or (attributes.cart_value != null and attributes.cart_value > 100))"
);
/// A missing map property reads as `()`, and rhai's built-in comparisons of `()` with a
/// number or a string are false: no guard needed.
const RHAI_CONDITION: &str =
    r#"session.pageviews >= 3 && geo.country == "US" && (time_on_page > 30 || attributes.cart_value > 100)"#;
/// Reading a missing map key is an error in CEL ("no such key"), so both values that
/// may be missing are guarded with `has()`.
const CEL_CONDITION: &str = concat!(
    r#"session.pageviews >= 3 && has(geo.country) && geo.country == "US" && "#,
    "(time_on_page > 30 || has(attributes.cart_value) && attributes.cart_value > 100)"
);

/// One event as plain data for the peers: the top-level names of pesim's fields, each
/// namespace (`session`, `geo`, `page`, ..., `attributes`, `traits`) an object, present
/// even when empty; a missing value is a missing key. Durations are in seconds.
#[derive(Clone, Debug)]
enum Plain {
    Num(f64),
    Text(Arc<str>),
    Bool(bool),
    Object(Vec<(String, Plain)>),
}

fn put(root: &mut Vec<(String, Plain)>, path: &str, value: Plain) {
    match path.split_once('.') {
        None => root.push((path.to_string(), value)),
        Some((ns, key)) => match root.iter_mut().find(|(k, _)| k == ns) {
            Some((_, Plain::Object(fields))) => put(fields, key, value),
            _ => root.push((ns.to_string(), Plain::Object(vec![(key.to_string(), value)]))),
        },
    }
}

fn dyn_plain(v: &DynValue) -> Plain {
    match (v.number, v.boolean) {
        (Some(n), _) => Plain::Num(n),
        (None, Some(b)) => Plain::Bool(b),
        (None, None) => Plain::Text(v.text.as_ref().into()),
    }
}

/// Everything a condition can read of an event, except segments, outcomes and counters.
fn plain(ctx: &EventCtx, interner: &Interner) -> Vec<(String, Plain)> {
    let mut root = Vec::new();
    let names = StrField::ALL.iter().map(|f| f.name());
    let names = names.chain(NumField::ALL.iter().map(|f| f.name())).chain(DurField::ALL.iter().map(|f| f.name()));
    for ns in names.filter_map(|n| n.split_once('.').map(|(ns, _)| ns)).chain(["attributes", "traits"]) {
        if !root.iter().any(|(k, _)| k == ns) {
            root.push((ns.to_string(), Plain::Object(Vec::new())));
        }
    }
    for &f in StrField::ALL {
        if let Some(s) = ctx.str_field(f) {
            put(&mut root, f.name(), Plain::Text(s.into()));
        }
    }
    for &f in NumField::ALL {
        if let Some(n) = ctx.num_field(f) {
            put(&mut root, f.name(), Plain::Num(n));
        }
    }
    for &f in DurField::ALL {
        if let Some(ms) = ctx.dur_field(f) {
            put(&mut root, f.name(), Plain::Num(ms as f64 / 1000.0));
        }
    }
    for &f in BoolField::ALL {
        if let Some(b) = ctx.bool_field(f) {
            put(&mut root, f.name(), Plain::Bool(b));
        }
    }
    for (ns, values) in [("attributes", &ctx.attributes), ("traits", &ctx.traits)] {
        for (sym, v) in values {
            assert_ne!(*sym, Sym::UNKNOWN, "every attribute name is interned for the peers");
            put(&mut root, &format!("{ns}.{}", interner.name(*sym)), dyn_plain(v));
        }
    }
    root
}

fn to_json(v: &Plain) -> serde_json::Value {
    match v {
        Plain::Num(n) => serde_json::Value::from(*n),
        Plain::Text(s) => serde_json::Value::from(s.as_ref()),
        Plain::Bool(b) => serde_json::Value::from(*b),
        Plain::Object(fields) => fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
    }
}

fn to_rhai(v: &Plain) -> rhai::Dynamic {
    match v {
        Plain::Num(n) => rhai::Dynamic::from_float(*n),
        Plain::Text(s) => rhai::Dynamic::from(s.to_string()),
        Plain::Bool(b) => rhai::Dynamic::from_bool(*b),
        Plain::Object(fields) => {
            rhai::Dynamic::from_map(fields.iter().map(|(k, v)| (k.as_str().into(), to_rhai(v))).collect())
        }
    }
}

fn to_cel(v: &Plain) -> cel::Value {
    match v {
        Plain::Num(n) => cel::Value::Float(*n),
        Plain::Text(s) => cel::Value::String(Arc::new(s.to_string())),
        Plain::Bool(b) => cel::Value::Bool(*b),
        Plain::Object(fields) => cel::Value::from(
            fields.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect::<std::collections::HashMap<_, _>>(),
        ),
    }
}

/// What a hand-written Rust rule reads: the four values of the condition, in a struct.
struct NativeEvent {
    pageviews: f64,
    country: Option<Arc<str>>,
    time_on_page_s: f64,
    cart_value: Option<f64>,
}

type NativeRule = Box<dyn Fn(&NativeEvent) -> bool>;

const ENGINES: [&str; 5] = ["pesim", "native_closure", "zen_expression", "rhai", "cel"];

/// Every engine with its compiled condition and its events, converted once.
struct Peers<'c> {
    spec: BoolNode,
    events: Vec<EventCtx>,
    native_rule: NativeRule,
    native: Vec<NativeEvent>,
    zen: zen_expression::Expression<zen_expression::expression::Standard>,
    zen_vm: zen_expression::vm::VM,
    zen_scopes: Vec<zen_expression::Scope>,
    rhai: rhai::Engine,
    rhai_ast: rhai::AST,
    rhai_scopes: Vec<rhai::Scope<'static>>,
    cel: cel::Program,
    cel_scopes: Vec<cel::Context<'c, 'static>>,
}

impl<'c> Peers<'c> {
    /// `c` has compiled the spec and the mix, so the events come out of the same LCG
    /// stream as `eval/`'s; `cel_root` is the one root context of every event's scope.
    fn new(c: &mut Compiler, spec: BoolNode, cel_root: &'c cel::Context<'c, 'static>) -> Self {
        // Names no rule mentions get a symbol too, so that the peers see every attribute.
        for name in ["cart_value", "coupon", "sku", "email"] {
            c.interner.intern(name);
        }
        let events = events(&c.interner, c.counts.len(), PEER_NO_COUNTRY_PERCENT);
        let plains: Vec<_> = events.iter().map(|e| plain(e, &c.interner)).collect();
        let cart_value = c.interner.lookup("cart_value");
        let native = events
            .iter()
            .map(|e| NativeEvent {
                pageviews: e.num_field(NumField::SessionPageviews).unwrap_or(f64::NAN),
                country: e.strs[StrField::GeoCountry.index()].clone(),
                time_on_page_s: e.dur_field(DurField::TimeOnPage).map_or(f64::NAN, |ms| ms as f64 / 1000.0),
                cart_value: e.attribute(cart_value).and_then(|v| v.number),
            })
            .collect();
        let native_rule: NativeRule = Box::new(|e: &NativeEvent| {
            e.pageviews >= 3.0
                && e.country.as_deref() == Some("US")
                && (e.time_on_page_s > 30.0 || e.cart_value.is_some_and(|v| v > 100.0))
        });

        let zen = zen_expression::compile_expression(ZEN_CONDITION).expect("zen-expression compiles the condition");
        let zen_scopes =
            plains.iter().map(|p| zen_expression::Scope::new(to_json(&Plain::Object(p.clone())).into())).collect();

        let rhai = rhai::Engine::new();
        let rhai_ast = rhai.compile_expression(RHAI_CONDITION).expect("rhai compiles the condition");
        let rhai_scopes = plains
            .iter()
            .map(|p| {
                let mut scope = rhai::Scope::new();
                for (name, v) in p {
                    scope.push_dynamic(name.as_str(), to_rhai(v));
                }
                scope
            })
            .collect();

        let cel = cel::Program::compile(CEL_CONDITION).expect("cel compiles the condition");
        let cel_scopes = plains
            .iter()
            .map(|p| {
                let mut scope = cel_root.new_inner_scope();
                for (name, v) in p {
                    scope.add_variable_from_value(name.as_str(), to_cel(v));
                }
                scope
            })
            .collect();

        Peers {
            spec,
            events,
            native_rule,
            native,
            zen,
            zen_vm: zen_expression::vm::VM::new(),
            zen_scopes,
            rhai,
            rhai_ast,
            rhai_scopes,
            cel,
            cel_scopes,
        }
    }

    /// Matches of engine `i` over the events: what the benchmarks time.
    fn count(&mut self, i: usize) -> u32 {
        let mut hits = 0u32;
        match ENGINES[i] {
            "pesim" => {
                for ctx in &self.events {
                    hits += u32::from(black_box(&self.spec).eval(black_box(ctx)));
                }
            }
            "native_closure" => {
                for e in &self.native {
                    hits += u32::from(black_box(&self.native_rule)(black_box(e)));
                }
            }
            "zen_expression" => {
                for scope in &self.zen_scopes {
                    let r = black_box(&self.zen).evaluate_with_scope(black_box(scope), &mut self.zen_vm);
                    hits += u32::from(matches!(r, Ok(zen_expression::Variable::Bool(true))));
                }
            }
            "rhai" => {
                for scope in &mut self.rhai_scopes {
                    let r = self.rhai.eval_ast_with_scope::<bool>(black_box(scope), black_box(&self.rhai_ast));
                    hits += u32::from(matches!(r, Ok(true)));
                }
            }
            "cel" => {
                for scope in &self.cel_scopes {
                    let r = black_box(&self.cel).execute(black_box(scope));
                    hits += u32::from(matches!(r, Ok(cel::Value::Bool(true))));
                }
            }
            other => unreachable!("{other}"),
        }
        hits
    }

    /// Each event's result from engine `i`; any error or non-boolean result panics.
    fn results(&mut self, i: usize) -> Vec<bool> {
        let name = ENGINES[i];
        let fail = |n: usize, what: String| -> ! { panic!("{name} on event {n}: {what}") };
        match name {
            "pesim" => self.events.iter().map(|e| self.spec.eval(e)).collect(),
            "native_closure" => self.native.iter().map(|e| (self.native_rule)(e)).collect(),
            "zen_expression" => (self.zen_scopes.iter().enumerate())
                .map(|(n, s)| match self.zen.evaluate_with_scope(s, &mut self.zen_vm) {
                    Ok(zen_expression::Variable::Bool(b)) => b,
                    other => fail(n, format!("{other:?}")),
                })
                .collect(),
            "rhai" => (self.rhai_scopes.iter_mut().enumerate())
                .map(|(n, s)| match self.rhai.eval_ast_with_scope::<bool>(s, &self.rhai_ast) {
                    Ok(b) => b,
                    Err(e) => fail(n, e.to_string()),
                })
                .collect(),
            "cel" => (self.cel_scopes.iter().enumerate())
                .map(|(n, s)| match self.cel.execute(s) {
                    Ok(cel::Value::Bool(b)) => b,
                    other => fail(n, format!("{other:?}")),
                })
                .collect(),
            other => unreachable!("{other}"),
        }
    }

    /// Before any timing: every engine gives pesim's result on every event (so the
    /// same match count), that count is neither 0 nor all, and the data exercise the
    /// missing values (no `geo.country`, no `attributes.cart_value`) where they decide.
    fn check_agreement(&mut self) {
        let reference = self.results(0);
        let matches = reference.iter().filter(|&&b| b).count();
        let n = reference.len();
        assert!(matches > 0 && matches < n, "pesim matches {matches} of {n} events: the agreement check would be void");
        for (i, name) in ENGINES.iter().enumerate().skip(1) {
            let got = self.results(i);
            let count = got.iter().filter(|&&b| b).count();
            let first = got.iter().zip(&reference).position(|(a, b)| a != b);
            assert!(
                count == matches && first.is_none(),
                "{name} matches {count} of {n} events, pesim {matches}; first disagreement at event {first:?}"
            );
            assert_eq!(self.count(i) as usize, matches, "{name}: the timed loop counts differently");
        }
        assert_eq!(self.count(0) as usize, matches, "pesim: the timed loop counts differently");
        // Events where the condition reads a missing value: without geo.country once
        // `session.pageviews >= 3` holds, without cart_value once the first three tests hold.
        let e = &self.native;
        let no_country = e.iter().filter(|e| e.country.is_none()).count();
        let country_read = e.iter().filter(|e| e.country.is_none() && e.pageviews >= 3.0).count();
        let no_cart = e.iter().filter(|e| e.cart_value.is_none()).count();
        let cart_read = e
            .iter()
            .filter(|e| {
                e.cart_value.is_none()
                    && e.pageviews >= 3.0
                    && e.country.as_deref() == Some("US")
                    && e.time_on_page_s <= 30.0
            })
            .count();
        assert!(
            country_read > 0 && cart_read > 0,
            "the events must make the condition read missing values: {country_read} read a missing geo.country, \
             {cart_read} a missing attributes.cart_value"
        );
        println!(
            "peers agree with pesim on each of {n} events ({matches} matches). Missing values: geo.country in \
             {no_country} events ({country_read} where the condition reads it), attributes.cart_value in {no_cart} \
             ({cart_read} where it is read)"
        );
    }
}

fn bench_peers(crit: &mut Criterion, peers: &mut Peers) {
    let mut group = crit.benchmark_group("peers");
    // 100 samples of the slowest peer (about 2 ms per pass) need more than the default 5 s.
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(peers.events.len() as u64));
    for (i, name) in ENGINES.iter().enumerate() {
        group.bench_function(*name, |b| b.iter(|| peers.count(i)));
    }
    group.finish();
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// After criterion: every engine in turn, round after round, so that load on the machine
/// hits them alike. Prints the median and the minimum over the rounds of the time per
/// evaluation, and the ratios to pesim from each (the minimum is the least disturbed round).
///
/// Each engine's turn starts with 10 ms of untimed passes: on this machine an engine that
/// has not run for a while (another engine ran, or the thread slept) needs 2 to 5 ms before
/// it is back to its steady speed, and its first passes are up to 3 times slower. Without
/// the warm-up, the peers, whose passes are longest, would come out slower than they are.
fn peer_ratios(peers: &mut Peers) {
    let rounds: usize = std::env::var("PESIM_BENCH_RATIO_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(25);
    if rounds == 0 {
        return;
    }
    let n = peers.events.len() as f64;
    let warm_up = |peers: &mut Peers, i: usize| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(10) {
            black_box(peers.count(i));
        }
    };
    // Timed passes over the events per turn: about 10 ms per engine.
    let passes: Vec<u32> = (0..ENGINES.len())
        .map(|i| {
            warm_up(peers, i);
            let t = Instant::now();
            black_box(peers.count(i));
            (0.01 / t.elapsed().as_secs_f64().max(1e-9)).clamp(1.0, 1_000_000.0) as u32
        })
        .collect();
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); ENGINES.len()];
    for _ in 0..rounds {
        for (i, &p) in passes.iter().enumerate() {
            warm_up(peers, i);
            let t = Instant::now();
            for _ in 0..p {
                black_box(peers.count(i));
            }
            ns[i].push(t.elapsed().as_secs_f64() * 1e9 / (n * f64::from(p)));
        }
    }
    for v in &mut ns {
        v.sort_by(f64::total_cmp);
    }
    let median: Vec<f64> = ns.iter().map(|v| v[v.len() / 2]).collect();
    let min: Vec<f64> = ns.iter().map(|v| v[0]).collect();
    let per_eval: Vec<String> =
        (0..ENGINES.len()).map(|i| format!("{} {:.1} ({:.1})", ENGINES[i], median[i], min[i])).collect();
    println!(
        "peers, {rounds} interleaved rounds over {n} events, ns per evaluation, median (min): {}",
        per_eval.join(", ")
    );
    let ratios: Vec<String> = (1..ENGINES.len())
        .map(|i| format!("{} {:.2}x ({:.2}x)", ENGINES[i], median[i] / median[0], min[i] / min[0]))
        .collect();
    let zen = median[2] / median[0];
    println!(
        "time per evaluation / pesim's, from the medians (from the minima): {}; zen_expression / pesim = {zen:.1}x \
         (target >= 20x: {})",
        ratios.join(", "),
        if zen >= 20.0 { "met" } else { "NOT met" }
    );
    println!("load average after the ratio runs: {}", load_average());
}

fn main() {
    println!("load average at start: {}", load_average());
    let mut c = Compiler::new(names());
    let spec = compile(&mut c, SPEC_CONDITION);
    let mix: Vec<BoolNode> = MIX.iter().map(|src| compile(&mut c, src)).collect();
    let events = events(&c.interner, c.counts.len(), 0);
    let cel_root = cel::Context::default();
    let mut peers = Peers::new(&mut c, spec.clone(), &cel_root);
    peers.check_agreement();

    let mut crit = Criterion::default().configure_from_args();
    bench(&mut crit, &spec, &mix, &events);
    bench_peers(&mut crit, &mut peers);
    crit.final_summary();

    // The interleaved pass: only in a real run (`cargo bench`, not `--test`) that includes `peers/`.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected = filters.is_empty() || filters.iter().any(|f| f.contains("peers") || "peers/".contains(f.as_str()));
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list") && selected {
        peer_ratios(&mut peers);
    }
}
