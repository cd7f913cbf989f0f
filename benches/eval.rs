//! Evaluation speed of compiled conditions.
//!
//! The context is shaped like the engine's: fields in arrays indexed by the field
//! enums, attributes and traits in small `Vec<(Sym, DynValue)>` scanned linearly,
//! segments and achieved outcomes as bit sets, counters in a `Vec<u32>` indexed by
//! slot; text fields are `Arc<str>` so that the events of a session share their
//! visit context. 1000 events are generated up front by a fixed LCG, so every run
//! sees the same data; each benchmark evaluates its conditions once per event and reports
//! the throughput in evaluations (`elem/s`), i.e. time per evaluation.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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
fn events(interner: &Interner, count_slots: usize) -> Vec<EventCtx> {
    let mut rng = Lcg(0x5eed);
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

fn bench(crit: &mut Criterion) {
    let mut c = Compiler::new(names());
    let spec = compile(&mut c, SPEC_CONDITION);
    let mix: Vec<BoolNode> = MIX.iter().map(|src| compile(&mut c, src)).collect();
    let events = events(&c.interner, c.counts.len());

    let mut group = crit.benchmark_group("eval");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("spec_condition", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for ctx in &events {
                hits += u32::from(black_box(&spec).eval(black_box(ctx)));
            }
            hits
        })
    });
    group.throughput(Throughput::Elements((events.len() * mix.len()) as u64));
    group.bench_function("mix_of_20", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for ctx in &events {
                for cond in &mix {
                    hits += u32::from(black_box(cond).eval(black_box(ctx)));
                }
            }
            hits
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
