//! Static checks across sections (SPEC §2): segment dependency order and
//! cycles, and warnings for chats that the contact center can never pace.

use super::model::Scenario;
use super::reader::Cx;
use super::yaml::Node;
use crate::diag::Diagnostic;
use crate::dsl::{Deps, DslError, DslErrorKind, SegmentId};

pub fn run(cx: &mut Cx<'_>, scenario: &mut Scenario, seg_deps: &[(Deps, Node)]) {
    scenario.segment_order = segment_order(cx, scenario, seg_deps);
    pacing_warnings(cx, scenario);
}

/// Orders segments so that each comes after the segments its `when` names,
/// keeping declaration order otherwise; reports each cycle once, at the reference
/// that closes it.
fn segment_order(cx: &mut Cx<'_>, scenario: &Scenario, seg_deps: &[(Deps, Node)]) -> Vec<SegmentId> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n = scenario.segments.len();
    let mut marks = vec![Mark::New; n];
    let mut order = Vec::with_capacity(n);
    let mut reported = false;

    fn visit(
        i: usize,
        marks: &mut [Mark],
        order: &mut Vec<SegmentId>,
        cycle: &mut Option<(usize, usize)>,
        seg_deps: &[(Deps, Node)],
    ) {
        marks[i] = Mark::Active;
        if let Some((deps, _)) = seg_deps.get(i) {
            for (k, (dep, _)) in deps.segments.iter().enumerate() {
                let j = dep.0 as usize;
                match marks[j] {
                    Mark::New => visit(j, marks, order, cycle, seg_deps),
                    Mark::Active => {
                        if cycle.is_none() {
                            *cycle = Some((i, k));
                        }
                    }
                    Mark::Done => {}
                }
            }
        }
        marks[i] = Mark::Done;
        order.push(SegmentId(i as u32));
    }

    for i in 0..n {
        if marks[i] == Mark::New {
            let mut cycle = None;
            visit(i, &mut marks, &mut order, &mut cycle, seg_deps);
            if let Some((from, k)) = cycle
                && !reported
            {
                reported = true;
                let (deps, node) = &seg_deps[from];
                let (target, span) = deps.segments[k];
                let names = cycle_path(scenario, seg_deps, target.0 as usize, from);
                let err = DslError::new(
                    DslErrorKind::Unknown,
                    span,
                    format!("segments depend on each other in a cycle: {names}"),
                )
                .with_help("a segment can only use segments that do not use it back");
                cx.dsl_errors(node, vec![err]);
            }
        }
    }
    order
}

/// `a -> b -> a`, from `start` following dependencies back to `start` via `end`.
fn cycle_path(scenario: &Scenario, seg_deps: &[(Deps, Node)], start: usize, end: usize) -> String {
    // Breadth-first search for the path start → ... → end, then close it.
    let n = scenario.segments.len();
    let mut prev = vec![usize::MAX; n];
    let mut queue = std::collections::VecDeque::from([start]);
    prev[start] = start;
    while let Some(i) = queue.pop_front() {
        if i == end {
            break;
        }
        for (dep, _) in &seg_deps[i].0.segments {
            let j = dep.0 as usize;
            if prev[j] == usize::MAX {
                prev[j] = i;
                queue.push_back(j);
            }
        }
    }
    let mut path = vec![end];
    let mut cur = end;
    while cur != start && prev[cur] != usize::MAX {
        cur = prev[cur];
        path.push(cur);
    }
    path.reverse();
    path.push(start);
    path.iter().map(|i| format!("`{}`", scenario.segments[*i].id)).collect::<Vec<_>>().join(" → ")
}

/// Chats that pacing would always block (SPEC §2 warnings).
fn pacing_warnings(cx: &mut Cx<'_>, scenario: &Scenario) {
    let pacing_maps: Vec<&str> = scenario
        .action_maps
        .iter()
        .filter(|m| m.active && m.action.media.is_chat() && m.action.pacing)
        .map(|m| m.id.as_str())
        .collect();
    if !pacing_maps.is_empty() {
        let pc = &scenario.pureconnect;
        let list = pacing_maps.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
        if !pc.feature_license {
            let mut d = Diagnostic::warning(format!(
                "the Altocloud feature licence is off, so no availability is published: pacing-enabled chat maps ({list}) can never offer"
            ))
            .help("set `feature_license: true`, or `pacing: false` on those maps");
            if let Some(l) = &pc.feature_license_location {
                d = d.at(l.file, l.span.clone());
            }
            cx.push(d);
        }
        if pc.updates_disabled {
            let mut d = Diagnostic::warning(format!(
                "availability updates are disabled: pacing-enabled chat maps ({list}) can never offer"
            ))
            .help("set `updates_disabled: false`, or `pacing: false` on those maps");
            if let Some(l) = &pc.updates_disabled_location {
                d = d.at(l.file, l.span.clone());
            }
            cx.push(d);
        }
    }
    for map in scenario.action_maps.iter().filter(|m| m.active && m.action.media.is_chat() && m.action.pacing) {
        for (i, wg_id) in map.action.targets.iter().enumerate() {
            let wg = scenario.workgroup(*wg_id);
            let why = if !wg.altocloud_updates {
                Some("has `altocloud_updates: false`, so it publishes no availability")
            } else if wg.fixed_availability.is_none() && wg.licensed_agents() == 0 {
                Some("has no licensed agent (I3_ACCESS_ALTOCLOUD_USER), so it publishes no availability")
            } else if wg.fixed_availability.is_some_and(|s| s.agents_logged_in == 0) {
                Some("has a fixed snapshot with no agent logged in")
            } else {
                None
            };
            if let Some(why) = why {
                let mut d = Diagnostic::warning(format!(
                    "workgroup `{}` {why}: chats of action map `{}` can never be offered while pacing is on",
                    wg.id, map.id
                ))
                .help("fix the workgroup, or set `pacing: false` on the action");
                if let Some(l) = map.action.target_locations.get(i).or(map.action.target_location.as_ref()) {
                    d = d.at(l.file, l.span.clone());
                }
                cx.push(d);
            }
        }
    }
}
