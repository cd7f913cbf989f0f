//! The view conditions evaluate against: one event (or none, at a timer) with
//! its session and visitor. Built per evaluation from references: free.

use crate::clock::{Local, SimTime, WEEKDAYS};
use crate::dsl::context::{Context, CountSlot, DynValue, OutcomeId, ScoreMetric, SegmentId, Sym};
use crate::dsl::fields::{BoolField, DurField, NumField, StrField};
use crate::events::{TrackEvent, context_index};

use super::rules::{Rules, SlotRef, sigmoid};
use super::state::{Lifetime, Session};

pub struct EvalCtx<'a> {
    pub event: Option<&'a TrackEvent>,
    pub now: SimTime,
    pub local: Local,
    pub life: &'a Lifetime,
    pub session: &'a Session,
    pub rules: &'a Rules,
}

impl Context for EvalCtx<'_> {
    #[inline]
    fn str_field(&self, field: StrField) -> Option<&str> {
        match field {
            StrField::EventName => self.event.map(|e| &*e.name_text),
            StrField::NowWeekday => Some(WEEKDAYS[self.local.weekday]),
            f => match self.rules.context_slot[f.index()] {
                Some(i) => self.session.context(i as usize),
                None => self.session.page.as_ref().and_then(|p| p.get(f)),
            },
        }
    }

    #[inline]
    fn num_field(&self, field: NumField) -> Option<f64> {
        Some(match field {
            NumField::SessionPageviews => f64::from(self.session.pageviews),
            NumField::SessionEvents => f64::from(self.session.events),
            NumField::SessionNumber => f64::from(self.session.number),
            NumField::VisitorSessions => f64::from(self.life.sessions),
            NumField::VisitorPageviews => f64::from(self.life.pageviews),
            NumField::NowHour => f64::from(self.local.hour),
        })
    }

    #[inline]
    fn dur_field(&self, field: DurField) -> Option<i64> {
        match field {
            DurField::SessionDuration => Some(self.now.0 - self.session.start.0),
            DurField::TimeOnPage => self.session.page.as_ref().map(|_| self.now.0 - self.session.page_since.0),
        }
    }

    #[inline]
    fn bool_field(&self, field: BoolField) -> Option<bool> {
        match field {
            BoolField::Authenticated => Some(self.session.authenticated.unwrap_or(false)),
        }
    }

    #[inline]
    fn event_name(&self) -> Sym {
        self.event.map_or(Sym::UNKNOWN, |e| e.name)
    }

    #[inline]
    fn attribute(&self, name: Sym) -> Option<&DynValue> {
        self.event?.attributes.iter().find(|(s, _)| *s == name).map(|(_, v)| v)
    }

    #[inline]
    fn trait_value(&self, name: Sym) -> Option<&DynValue> {
        self.life.traits.iter().find(|(s, _)| *s == name).map(|(_, v)| v)
    }

    #[inline]
    fn segment(&self, id: SegmentId) -> bool {
        let i = id.0 as usize;
        self.session.segments[i] || self.rules.segment_live(self.life, i, self.now)
    }

    #[inline]
    fn outcome_achieved(&self, id: OutcomeId) -> bool {
        self.session.outcomes[id.0 as usize]
    }

    #[inline]
    fn outcome_score(&self, id: OutcomeId, metric: ScoreMetric) -> Option<f64> {
        let i = id.0 as usize;
        let logit = self.rules.scorer.logit(&self.session.scores, i);
        match metric {
            ScoreMetric::Probability => logit.now().map(sigmoid),
            ScoreMetric::MaxProbability => logit.max().map(sigmoid),
            ScoreMetric::Quantile => self.rules.quantile(i, logit.now()),
            ScoreMetric::MaxQuantile => self.rules.quantile(i, logit.max()),
        }
    }

    #[inline]
    fn count(&self, slot: CountSlot) -> u32 {
        match self.rules.slots[slot.0 as usize] {
            SlotRef::Session(i) => self.session.counts[i as usize],
            SlotRef::Visitor(i) => self.life.counts[i as usize],
        }
    }
}

/// Maps each text field to its visit-context slot (None for page and event fields).
pub fn context_slots() -> Vec<Option<u8>> {
    StrField::ALL.iter().map(|f| context_index(*f).map(|i| i as u8)).collect()
}
