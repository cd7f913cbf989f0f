//! What a compiled condition reads: the [`Context`] trait the engine implements
//! for the current event and visitor state, and the small ids it is keyed by.

use rustc_hash::FxHashMap;

use super::fields::{BoolField, DurField, NumField, StrField};

/// An interned name (event, attribute or trait name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(pub u32);

impl Sym {
    /// The symbol of every name the rules never mention: it matches nothing.
    pub const UNKNOWN: Sym = Sym(u32::MAX);
}

/// Index of a segment in the scenario, in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId(pub u32);

/// Index of an outcome in the scenario, in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutcomeId(pub u32);

/// Index of a `count(...)` pattern: one counter per visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountSlot(pub u32);

/// The numbers a predictor keeps per outcome (SPEC §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScoreMetric {
    Probability,
    MaxProbability,
    Quantile,
    MaxQuantile,
}

impl ScoreMetric {
    pub const ALL: [(&'static str, ScoreMetric); 4] = [
        ("probability", ScoreMetric::Probability),
        ("max_probability", ScoreMetric::MaxProbability),
        ("quantile", ScoreMetric::Quantile),
        ("max_quantile", ScoreMetric::MaxQuantile),
    ];
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, m)| *m == self).map_or("probability", |(n, _)| n)
    }
}

/// Interns the names the rules mention. Built while compiling, then frozen:
/// the engine only looks names up, mapping any other name to [`Sym::UNKNOWN`].
#[derive(Clone, Debug, Default)]
pub struct Interner {
    map: FxHashMap<Box<str>, Sym>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, name: &str) -> Sym {
        if let Some(s) = self.map.get(name) {
            return *s;
        }
        let sym = Sym(self.names.len() as u32);
        self.names.push(name.into());
        self.map.insert(name.into(), sym);
        sym
    }
    pub fn lookup(&self, name: &str) -> Sym {
        self.map.get(name).copied().unwrap_or(Sym::UNKNOWN)
    }
    pub fn name(&self, sym: Sym) -> &str {
        self.names.get(sym.0 as usize).map_or("?", |s| s)
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// An attribute or trait value, read once when the event arrives in every
/// form a condition may ask for, so that evaluation neither parses nor allocates.
#[derive(Clone, Debug, PartialEq)]
pub struct DynValue {
    pub text: Box<str>,
    pub number: Option<f64>,
    pub boolean: Option<bool>,
}

impl DynValue {
    /// A value that arrived as text: numeric and boolean readings are derived.
    pub fn from_text(text: &str) -> Self {
        let number = text.trim().parse::<f64>().ok().filter(|n| n.is_finite());
        let boolean = match text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        DynValue { text: text.into(), number, boolean }
    }
    pub fn from_number(n: f64) -> Self {
        let text = if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() };
        DynValue { text: text.into(), number: Some(n), boolean: None }
    }
    pub fn from_bool(b: bool) -> Self {
        DynValue { text: if b { "true".into() } else { "false".into() }, number: None, boolean: Some(b) }
    }
}

/// The view of one event, its session and its visitor that conditions read.
///
/// Missing values are `None`; every comparison with a missing value is false.
pub trait Context {
    fn str_field(&self, field: StrField) -> Option<&str>;
    fn num_field(&self, field: NumField) -> Option<f64>;
    /// Durations in milliseconds.
    fn dur_field(&self, field: DurField) -> Option<i64>;
    fn bool_field(&self, field: BoolField) -> Option<bool>;
    /// The interned name of the current event (`Sym::UNKNOWN` if no rule names it).
    fn event_name(&self) -> Sym;
    fn attribute(&self, name: Sym) -> Option<&DynValue>;
    fn trait_value(&self, name: Sym) -> Option<&DynValue>;
    fn segment(&self, id: SegmentId) -> bool;
    fn outcome_achieved(&self, id: OutcomeId) -> bool;
    fn outcome_score(&self, id: OutcomeId, metric: ScoreMetric) -> Option<f64>;
    fn count(&self, slot: CountSlot) -> u32;
}
