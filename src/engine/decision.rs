//! Decision records (SPEC §6 "Output records"), typed; serialised only at the edge.

use std::io::{self, Write};
use std::sync::Arc;

use crate::clock::SimTime;
use crate::config::Scenario;
use crate::config::model::{ActionMapId, ActionState, BlockingReason, Millis, WorkgroupId};
use crate::dsl::{OutcomeId, SegmentId};

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub time: SimTime,
    pub customer: Arc<str>,
    /// The session number; the session id is `CUSTOMER:N`.
    pub session: u32,
    pub kind: DecisionKind,
}

/// What the availability seen by an offer was.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seen {
    pub ewt: Millis,
    /// How old the snapshot was when the decision read it.
    pub age: Millis,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DecisionKind {
    Action { map: ActionMapId, state: ActionState, target: Option<WorkgroupId>, seen: Option<Seen> },
    Blocked { map: ActionMapId, reason: BlockingReason },
    SegmentAssigned(SegmentId),
    OutcomeAchieved(OutcomeId),
}

impl DecisionKind {
    pub fn name(&self) -> &'static str {
        match self {
            DecisionKind::Action { .. } => "action",
            DecisionKind::Blocked { .. } => "blocked",
            DecisionKind::SegmentAssigned(_) => "segmentAssigned",
            DecisionKind::OutcomeAchieved(_) => "outcomeAchieved",
        }
    }
}

fn json_str(out: &mut dyn Write, s: &str) -> io::Result<()> {
    // serde_json escapes exactly as JSON requires; ids and customer ids are short.
    serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
}

impl Decision {
    /// Writes one JSON line, keys in the order SPEC §6 shows.
    pub fn write_json(&self, sc: &Scenario, out: &mut dyn Write) -> io::Result<()> {
        write!(out, "{{\"time\":\"{}\",\"customerId\":", self.time.rfc3339())?;
        json_str(out, &self.customer)?;
        out.write_all(b",\"sessionId\":")?;
        json_str(out, &format!("{}:{}", self.customer, self.session))?;
        write!(out, ",\"kind\":\"{}\"", self.kind.name())?;
        match &self.kind {
            DecisionKind::Action { map, state, target, seen } => {
                let m = sc.action_map(*map);
                out.write_all(b",\"actionMap\":")?;
                json_str(out, &m.id)?;
                write!(out, ",\"mediaType\":\"{}\",\"state\":\"{}\"", m.action.media.key(), state.name())?;
                if let Some(t) = target {
                    out.write_all(b",\"actionTarget\":")?;
                    json_str(out, &sc.workgroup(*t).id)?;
                }
                if let Some(s) = seen {
                    out.write_all(b",\"ewtSeconds\":")?;
                    serde_json::to_writer(&mut *out, &s.ewt.as_secs_f64()).map_err(io::Error::other)?;
                    write!(out, ",\"availabilityAgeMs\":{}", s.age.0)?;
                }
            }
            DecisionKind::Blocked { map, reason } => {
                let m = sc.action_map(*map);
                out.write_all(b",\"actionMap\":")?;
                json_str(out, &m.id)?;
                write!(out, ",\"mediaType\":\"{}\",\"blockingReason\":\"{}\"", m.action.media.key(), reason.name())?;
            }
            DecisionKind::SegmentAssigned(s) => {
                out.write_all(b",\"segment\":")?;
                json_str(out, &sc.segment(*s).id)?;
            }
            DecisionKind::OutcomeAchieved(o) => {
                out.write_all(b",\"outcome\":")?;
                json_str(out, &sc.outcome(*o).id)?;
            }
        }
        out.write_all(b"}\n")
    }

    /// A short human-readable line, for `pesim test` diffs and `explain`.
    pub fn describe(&self, sc: &Scenario, origin: Option<SimTime>) -> String {
        let at = match origin {
            Some(o) => format!("{:>8}", self.time.since(o).to_string()),
            None => self.time.rfc3339(),
        };
        let what = match &self.kind {
            DecisionKind::Action { map, state, target, seen } => {
                let mut s = format!("{} {}", sc.action_map(*map).id, state);
                if let Some(t) = target {
                    s.push_str(&format!(" → {}", sc.workgroup(*t).id));
                }
                if let Some(seen) = seen {
                    s.push_str(&format!(" (ewt {}, snapshot {} old)", seen.ewt, seen.age));
                }
                s
            }
            DecisionKind::Blocked { map, reason } => format!("{} blocked: {reason}", sc.action_map(*map).id),
            DecisionKind::SegmentAssigned(s) => format!("segment {} assigned", sc.segment(*s).id),
            DecisionKind::OutcomeAchieved(o) => format!("outcome {} achieved", sc.outcome(*o).id),
        };
        format!("{at}  {what}")
    }
}
