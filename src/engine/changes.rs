//! Which inputs of the conditions an event changed, as a 64-bit set, and which
//! inputs each condition reads: an event evaluates a segment, outcome or
//! trigger only if it changed something the condition reads (issue #6, item 4).
//!
//! Why skipping is exact: a segment, outcome or trigger is evaluated only while it
//! is still open (not assigned, not achieved, `Idle`), so the last time it was
//! evaluated in this session it was false. If nothing it reads has changed since,
//! it is still false. Three things make that hold:
//! - a new session marks everything changed (its first event evaluates all);
//! - inputs that move with every event or with time alone (`event.name`,
//!   attributes, durations, `session.events`) are in [`Changes::ALWAYS`], which
//!   every event sets, and so are action maps with a `start` (not evaluated before
//!   it); `now.hour` and `now.weekday` change when the local hour does;
//! - a customer-scope assignment that expires is dropped by the first event after
//!   it lapsed, and that is a change of the segment (to the segment itself too);
//! - changes made late in an event's steps (an outcome achieved, a segment
//!   assigned, scores updated) are carried into the session's next event too, for
//!   the conditions evaluated before them in this one.
//!
//! Several inputs may share a bit (counters, segments, context fields are folded
//! modulo their share of the 64): a shared bit only makes an evaluation happen
//! that was not needed, never skips one that was. Debug builds check the claim:
//! every skipped condition is evaluated and must be false.

use crate::dsl::eval::{DynSrc, Read};
use crate::dsl::fields::{DurField, NumField, StrField};
use crate::dsl::{BoolNode, CountSlot, OutcomeId, SegmentId};
use crate::events::context_index;

/// A set of changed (or read) inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes(u64);

const PAGE: u32 = 1;
const PAGEVIEWS: u32 = 2;
const SESSION: u32 = 3;
const AUTH: u32 = 4;
const TRAITS: u32 = 5;
const SCORE: u32 = 6;
const CLOCK: u32 = 7;
const OUTCOME: (u32, u32) = (8, 2);
const CONTEXT: (u32, u32) = (10, 22);
const COUNT: (u32, u32) = (32, 16);
const SEGMENT: (u32, u32) = (48, 16);

const fn bit(b: u32) -> Changes {
    Changes(1 << b)
}

const fn folded((first, width): (u32, u32), i: u32) -> Changes {
    bit(first + i % width)
}

impl Changes {
    pub const NONE: Changes = Changes(0);
    /// Everything: a new session.
    pub const ALL: Changes = Changes(!0);
    /// Inputs that change with every event or with time alone.
    pub const ALWAYS: Changes = bit(0);
    pub const PAGE: Changes = bit(PAGE);
    pub const PAGEVIEWS: Changes = bit(PAGEVIEWS);
    pub const AUTH: Changes = bit(AUTH);
    pub const TRAITS: Changes = bit(TRAITS);
    pub const SCORE: Changes = bit(SCORE);
    /// The local hour (and so maybe the weekday).
    pub const CLOCK: Changes = bit(CLOCK);

    pub const fn context(slot: usize) -> Changes {
        folded(CONTEXT, slot as u32)
    }

    pub const fn count(slot: CountSlot) -> Changes {
        folded(COUNT, slot.0)
    }

    pub const fn segment(id: SegmentId) -> Changes {
        folded(SEGMENT, id.0)
    }

    pub const fn outcome(id: OutcomeId) -> Changes {
        folded(OUTCOME, id.0)
    }

    #[inline]
    pub fn meets(self, other: Changes) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Changes {
    type Output = Changes;
    #[inline]
    fn bitor(self, rhs: Changes) -> Changes {
        Changes(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Changes {
    #[inline]
    fn bitor_assign(&mut self, rhs: Changes) {
        self.0 |= rhs.0;
    }
}

/// The changes that can flip a condition: the union of what it reads, plus
/// [`Changes::ALWAYS`] when `timed` (its eligibility moves with time).
pub fn reads(node: &BoolNode, timed: bool) -> Changes {
    let mut set = if timed { Changes::ALWAYS } else { Changes::NONE };
    node.for_each_read(&mut |r| set |= read(r));
    set
}

fn read(r: Read) -> Changes {
    match r {
        Read::EventName | Read::Dyn(DynSrc::Attribute(_)) => Changes::ALWAYS,
        Read::Dyn(DynSrc::Trait(_)) => Changes::TRAITS,
        Read::Str(StrField::EventName) => Changes::ALWAYS,
        Read::Str(StrField::NowWeekday) | Read::Num(NumField::NowHour) => Changes::CLOCK,
        Read::Str(f) => context_index(f).map_or(Changes::PAGE, Changes::context),
        Read::Num(NumField::SessionPageviews | NumField::VisitorPageviews) => Changes::PAGEVIEWS,
        Read::Num(NumField::SessionNumber | NumField::VisitorSessions) => bit(SESSION),
        Read::Num(NumField::SessionEvents) => Changes::ALWAYS,
        Read::Dur(DurField::SessionDuration | DurField::TimeOnPage) => Changes::ALWAYS,
        Read::Bool(_) => Changes::AUTH,
        Read::Count(slot) => Changes::count(slot),
        Read::Score(_) => Changes::SCORE,
        Read::Segment(id) => Changes::segment(id),
        Read::Outcome(id) => Changes::outcome(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_of_the_set_do_not_overlap() {
        let mut seen = 0u64;
        let single = [0, PAGE, PAGEVIEWS, SESSION, AUTH, TRAITS, SCORE, CLOCK].map(|b| (b, 1));
        for (first, width) in single.into_iter().chain([OUTCOME, CONTEXT, COUNT, SEGMENT]) {
            for b in first..first + width {
                assert_eq!(seen & 1 << b, 0, "bit {b} used twice");
                seen |= 1 << b;
            }
        }
        assert_eq!(seen, !0, "every bit has a use");
        assert!(crate::events::CONTEXT_FIELDS.len() <= CONTEXT.1 as usize, "a bit per context field");
    }

    #[test]
    fn folded_inputs_share_bits_but_stay_in_their_part() {
        assert_eq!(Changes::count(CountSlot(3)), Changes::count(CountSlot(19)));
        assert!(!Changes::count(CountSlot(15)).meets(Changes::segment(SegmentId(0))));
        assert!(!Changes::segment(SegmentId(15)).meets(Changes::ALWAYS));
    }
}
