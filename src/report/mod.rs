//! Results of a run, read from the decision stream: `decisions.jsonl`,
//! `availability.jsonl`, `summary.json` and the table printed on a terminal.
//! Nothing here decides anything.

pub mod explain;
pub mod html;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use serde_json::{Map, Value, json};

use crate::availability::Published;
use crate::config::Scenario;
use crate::config::model::{ActionState, BlockingReason, WorkgroupId};
use crate::engine::{Decision, DecisionKind, SessionEnd};
use crate::events::LineError;
use crate::sim::{Output, Stats};

/// Counts accumulated from decisions, per action map, segment and outcome.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// [map][state]
    pub states: Vec<[u64; ActionState::ALL.len()]>,
    /// [map][reason]
    pub blocked: Vec<[u64; BlockingReason::ALL.len()]>,
    pub segments: Vec<u64>,
    pub outcomes: Vec<u64>,
    /// [outcome] = (sessions, achieved) with and without an engaged chat.
    pub with_chat: Vec<(u64, u64)>,
    pub without_chat: Vec<(u64, u64)>,
    pub sessions_with_chat: u64,
    pub decisions: u64,
    pub updates: Vec<u64>,
    /// The first invalid lines (`--skip-invalid`), for the summary.
    pub rejected: Vec<(u64, String)>,
}

impl Tally {
    pub fn new(sc: &Scenario) -> Self {
        Tally {
            states: vec![[0; ActionState::ALL.len()]; sc.action_maps.len()],
            blocked: vec![[0; BlockingReason::ALL.len()]; sc.action_maps.len()],
            segments: vec![0; sc.segments.len()],
            outcomes: vec![0; sc.outcomes.len()],
            with_chat: vec![(0, 0); sc.outcomes.len()],
            without_chat: vec![(0, 0); sc.outcomes.len()],
            updates: vec![0; sc.workgroups.len()],
            ..Default::default()
        }
    }

    pub fn record(&mut self, d: &Decision) {
        self.decisions += 1;
        match &d.kind {
            DecisionKind::Action { map, state, .. } => self.states[map.0 as usize][*state as usize] += 1,
            DecisionKind::Blocked { map, reason } => self.blocked[map.0 as usize][*reason as usize] += 1,
            DecisionKind::SegmentAssigned(s) => self.segments[s.0 as usize] += 1,
            DecisionKind::OutcomeAchieved(o) => self.outcomes[o.0 as usize] += 1,
        }
    }

    pub fn session(&mut self, end: &SessionEnd) {
        let side = if end.engaged { &mut self.with_chat } else { &mut self.without_chat };
        for (i, achieved) in end.outcomes.iter().enumerate() {
            side[i].0 += 1;
            side[i].1 += u64::from(*achieved);
        }
        self.sessions_with_chat += u64::from(end.engaged);
    }

    pub fn state(&self, map: usize, s: ActionState) -> u64 {
        self.states[map][s as usize]
    }
}

/// Writes the run's files into a folder and tallies as it goes.
pub struct Files<'s> {
    sc: &'s Scenario,
    decisions: DecisionsFile<'s>,
    availability: BufWriter<File>,
    pub tally: Tally,
    error: Option<io::Error>,
    pub dir: PathBuf,
}

/// decisions.jsonl: formatted and written here, or on a thread of its own.
enum DecisionsFile<'s> {
    Here(BufWriter<File>),
    Thread(DecisionWriter<'s>),
}

/// Decisions per batch handed to the writer thread, and batches queued for it.
const DECISION_BATCH: usize = 1024;
const DECISION_DEPTH: usize = 4;

/// The sending side of a thread that formats decisions and writes them, in order,
/// to decisions.jsonl (the same bytes `Decision::write_json` writes here).
struct DecisionWriter<'s> {
    batch: Vec<Decision>,
    /// `None` once closed.
    tx: Option<SyncSender<Vec<Decision>>>,
    thread: Option<ScopedJoinHandle<'s, io::Result<()>>>,
}

impl DecisionWriter<'_> {
    fn push(&mut self, d: &Decision) {
        self.batch.push(d.clone());
        if self.batch.len() == DECISION_BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(DECISION_BATCH));
        if let Some(tx) = &self.tx
            && tx.send(batch).is_err()
        {
            // The writer stopped at a write error, which `close` reports.
            self.tx = None;
        }
    }

    /// Sends what is left, waits for the thread to write it and flush, and gives its result.
    fn close(&mut self) -> io::Result<()> {
        if !self.batch.is_empty() {
            self.send();
        }
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for DecisionWriter<'_> {
    /// A run that stops early leaves what it decided on disk, as the single-threaded writer does.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.close();
        }
    }
}

fn open_in(dir: &Path, name: &str) -> io::Result<BufWriter<File>> {
    File::create(dir.join(name)).map(|f| BufWriter::with_capacity(1 << 16, f))
}

impl<'s> Files<'s> {
    pub fn create(sc: &'s Scenario, dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let decisions = DecisionsFile::Here(open_in(dir, "decisions.jsonl")?);
        Self::with_decisions(sc, dir, decisions)
    }

    /// Like [`Files::create`], with decisions.jsonl formatted and written by a thread
    /// of `scope`, so that the run's own thread only hands decisions over. The files'
    /// bytes are the same.
    pub fn create_threaded<'env>(scope: &'s Scope<'s, 'env>, sc: &'s Scenario, dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut out = open_in(dir, "decisions.jsonl")?;
        let (tx, rx) = sync_channel::<Vec<Decision>>(DECISION_DEPTH);
        let thread = std::thread::Builder::new().name("pesim-decisions".into()).spawn_scoped(scope, move || {
            for batch in rx {
                for d in &batch {
                    d.write_json(sc, &mut out)?;
                }
            }
            out.flush()
        })?;
        let writer = DecisionWriter { batch: Vec::with_capacity(DECISION_BATCH), tx: Some(tx), thread: Some(thread) };
        Self::with_decisions(sc, dir, DecisionsFile::Thread(writer))
    }

    fn with_decisions(sc: &'s Scenario, dir: &Path, decisions: DecisionsFile<'s>) -> io::Result<Self> {
        Ok(Files {
            sc,
            decisions,
            availability: open_in(dir, "availability.jsonl")?,
            tally: Tally::new(sc),
            error: None,
            dir: dir.to_path_buf(),
        })
    }

    fn keep(&mut self, r: io::Result<()>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    /// Flushes the files and writes summary.json.
    pub fn finish(mut self, stats: &Stats) -> io::Result<(Tally, Value)> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match &mut self.decisions {
            DecisionsFile::Here(out) => out.flush()?,
            DecisionsFile::Thread(writer) => writer.close()?,
        }
        self.availability.flush()?;
        let summary = summary_json(self.sc, stats, &self.tally);
        let mut f = BufWriter::new(File::create(self.dir.join("summary.json"))?);
        serde_json::to_writer_pretty(&mut f, &summary).map_err(io::Error::other)?;
        f.write_all(b"\n")?;
        f.flush()?;
        Ok((self.tally, summary))
    }
}

impl Output for Files<'_> {
    fn decision(&mut self, d: &Decision) {
        self.tally.record(d);
        match &mut self.decisions {
            DecisionsFile::Here(out) => {
                let r = d.write_json(self.sc, out);
                self.keep(r);
            }
            DecisionsFile::Thread(writer) => writer.push(d),
        }
    }
    fn availability(&mut self, wg: WorkgroupId, p: &Published) {
        self.tally.updates[wg.0 as usize] += 1;
        let r = write_availability(self.sc, wg, p, &mut self.availability);
        self.keep(r);
    }
    fn session_ended(&mut self, end: &SessionEnd) {
        self.tally.session(end);
    }
    fn rejected(&mut self, line: u64, error: &LineError) {
        if self.tally.rejected.len() < 100 {
            self.tally.rejected.push((line, error.to_string()));
        }
    }
}

/// One line of availability.jsonl.
pub fn write_availability(sc: &Scenario, wg: WorkgroupId, p: &Published, out: &mut dyn Write) -> io::Result<()> {
    let s = &p.snapshot;
    write!(out, "{{\"time\":\"{}\",\"workgroup\":", p.time.rfc3339())?;
    serde_json::to_writer(&mut *out, &sc.workgroup(wg).id).map_err(io::Error::other)?;
    write!(
        out,
        ",\"agentsLoggedIn\":{},\"agentsAvailable\":{},\"queueLength\":{},\"ewtSeconds\":",
        s.agents_logged_in, s.agents_available, s.queue_length
    )?;
    serde_json::to_writer(&mut *out, &s.ewt.as_secs_f64()).map_err(io::Error::other)?;
    out.write_all(b"}\n")
}

fn rate(n: u64, d: u64) -> Value {
    if d == 0 { Value::Null } else { json!(n as f64 / d as f64) }
}

/// summary.json: every input line accounted for, per action map, workgroup and outcome.
pub fn summary_json(sc: &Scenario, stats: &Stats, t: &Tally) -> Value {
    let mut maps = Map::new();
    for (i, m) in sc.action_maps.iter().enumerate() {
        let mut states = Map::new();
        for s in ActionState::ALL {
            states.insert(s.name().to_string(), json!(t.state(i, *s)));
        }
        let mut blocked = Map::new();
        for r in BlockingReason::ALL {
            blocked.insert(r.name().to_string(), json!(t.blocked[i][*r as usize]));
        }
        maps.insert(
            m.id.clone(),
            json!({
                "mediaType": m.action.media.key(),
                "states": states,
                "blocked": blocked,
                "acceptanceRate": rate(t.state(i, ActionState::Accepted), t.state(i, ActionState::Offered)),
            }),
        );
    }
    let mut workgroups = Map::new();
    for (i, w) in sc.workgroups.iter().enumerate() {
        let blocked_for_availability: u64 = sc
            .action_maps
            .iter()
            .enumerate()
            .filter(|(_, m)| m.action.targets.iter().any(|t| t.0 as usize == i))
            .map(|(j, _)| {
                t.blocked[j][BlockingReason::NoAvailableAgents as usize]
                    + t.blocked[j][BlockingReason::ServiceLevelThrottling as usize]
            })
            .sum();
        let secs = |ms: Option<f64>| ms.map(|m| m / 1000.0);
        let mut entry = json!({
            "kind": if w.fixed_availability.is_some() { "fixed" } else { "simulated" },
            "updatesPublished": t.updates[i],
            "offersBlockedForAvailability": blocked_for_availability,
        });
        if let Some(ws) = stats.workgroups.get(i) {
            let extra = json!({
                "chats": {
                    "started": ws.started,
                    "engaged": ws.engaged,
                    "abandoned": ws.abandoned,
                    "shortAbandoned": ws.short_abandoned,
                    "completed": ws.completed,
                    "stillQueued": ws.still_queued,
                },
                "meanWaitSeconds": secs(ws.mean_wait_ms()),
                "p90WaitSeconds": secs(ws.wait_percentile_ms(0.9).map(|w| w as f64)),
                "serviceLevel": {
                    "achieved": ws.service_level(),
                    "target": w.service_level.percentage,
                    "withinSeconds": w.service_level.within.as_secs_f64(),
                    "met": ws.service_level().map(|sl| sl >= w.service_level.percentage),
                },
                "occupancy": ws.occupancy(),
                "averageHandleSeconds": ws.aht_ms() / 1000.0,
            });
            if let (Value::Object(e), Value::Object(x)) = (&mut entry, extra) {
                e.extend(x);
            }
        }
        workgroups.insert(w.id.clone(), entry);
    }
    let mut outcomes = Map::new();
    for (i, o) in sc.outcomes.iter().enumerate() {
        let (ws, wa) = t.with_chat[i];
        let (ns, na) = t.without_chat[i];
        outcomes.insert(
            o.id.clone(),
            json!({
                "achieved": t.outcomes[i],
                "sessionsWithChat": ws,
                "achievedWithChat": wa,
                "rateWithChat": rate(wa, ws),
                "sessionsWithoutChat": ns,
                "achievedWithoutChat": na,
                "rateWithoutChat": rate(na, ns),
            }),
        );
    }
    let mut segments = Map::new();
    for (i, s) in sc.segments.iter().enumerate() {
        segments.insert(s.id.clone(), json!(t.segments[i]));
    }
    let traffic = stats.traffic.as_ref().map(|tr| {
        let personas: Map<String, Value> = sc
            .traffic
            .iter()
            .flat_map(|t| t.personas.iter())
            .zip(tr.per_persona.iter())
            .map(|(p, n)| (p.name.clone(), json!(n)))
            .collect();
        json!({
            "arrivals": tr.arrivals,
            "returningArrivals": tr.returning,
            "sessions": tr.sessions,
            "bounceRate": rate(tr.bounces, tr.sessions),
            "pageviews": tr.pageviews,
            "pagesPerSession": if tr.sessions == 0 { Value::Null } else { json!(tr.pageviews as f64 / tr.sessions as f64) },
            "sessionsPerPersona": personas,
        })
    });
    json!({
        "scenario": sc.name,
        "seed": sc.seed,
        "traffic": traffic,
        "input": {
            "lines": stats.lines,
            "events": stats.events,
            "actionEvents": stats.responses,
            "rejected": stats.rejected,
            "blank": stats.blank,
            "rejectedLines": t.rejected.iter().map(|(l, e)| json!({"line": l, "error": e})).collect::<Vec<_>>(),
        },
        "clock": {
            "first": stats.first_event.map(|t| t.rfc3339()),
            "last": stats.last_time.map(|t| t.rfc3339()),
        },
        "visitors": stats.visitors,
        "sessions": stats.sessions,
        "decisions": t.decisions,
        "actionMaps": maps,
        "workgroups": workgroups,
        "outcomes": outcomes,
        "segments": segments,
    })
}

/// The table printed after a run.
pub fn table(sc: &Scenario, stats: &Stats, t: &Tally) -> String {
    let mut out = String::new();
    match &stats.traffic {
        Some(tr) => out.push_str(&format!(
            "{} events generated · {} visitors ({} arrivals, {} returning), {} sessions, {:.1}% bounced\n\n",
            stats.events,
            stats.visitors,
            tr.arrivals,
            tr.returning,
            stats.sessions,
            if tr.sessions == 0 { 0.0 } else { 100.0 * tr.bounces as f64 / tr.sessions as f64 }
        )),
        None => out.push_str(&format!(
            "{} lines: {} events, {} responses, {} rejected · {} visitors, {} sessions\n\n",
            stats.lines, stats.events, stats.responses, stats.rejected, stats.visitors, stats.sessions
        )),
    }
    out.push_str(&format!(
        "{:<22} {:>9} {:>8} {:>8} {:>8}  {}\n",
        "action map", "qualified", "offered", "accepted", "blocked", "blocked by reason"
    ));
    for (i, m) in sc.action_maps.iter().enumerate() {
        let blocked: u64 = t.blocked[i].iter().sum();
        let reasons: Vec<String> = BlockingReason::ALL
            .iter()
            .filter(|r| t.blocked[i][**r as usize] > 0)
            .map(|r| format!("{} {}", r.name(), t.blocked[i][*r as usize]))
            .collect();
        out.push_str(&format!(
            "{:<22} {:>9} {:>8} {:>8} {:>8}  {}\n",
            m.id,
            t.state(i, ActionState::Qualified),
            t.state(i, ActionState::Offered),
            t.state(i, ActionState::Accepted),
            blocked,
            reasons.join(", ")
        ));
    }
    if !sc.workgroups.is_empty() {
        out.push_str(&format!(
            "\n{:<22} {:>7} {:>8} {:>9} {:>10} {:>11} {:>9}\n",
            "workgroup", "chats", "engaged", "abandoned", "mean wait", "SL (target)", "occupancy"
        ));
        for (i, w) in sc.workgroups.iter().enumerate() {
            let Some(ws) = stats.workgroups.get(i) else { continue };
            let pct = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.1}%", 100.0 * x));
            out.push_str(&format!(
                "{:<22} {:>7} {:>8} {:>9} {:>10} {:>11} {:>9}\n",
                w.id,
                ws.started,
                ws.engaged,
                ws.abandoned,
                ws.mean_wait_ms().map_or("-".to_string(), |m| format!("{:.1}s", m / 1000.0)),
                format!("{} ({:.0}%)", pct(ws.service_level()), 100.0 * w.service_level.percentage),
                pct(ws.occupancy()),
            ));
        }
    }
    if !sc.outcomes.is_empty() {
        out.push_str(&format!(
            "\n{:<22} {:>9} {:>14} {:>14}\n",
            "outcome", "achieved", "rate w/ chat", "rate w/o chat"
        ));
        for (i, o) in sc.outcomes.iter().enumerate() {
            let pct = |(s, a): (u64, u64)| {
                if s == 0 { "-".to_string() } else { format!("{:.1}%", 100.0 * a as f64 / s as f64) }
            };
            out.push_str(&format!(
                "{:<22} {:>9} {:>14} {:>14}\n",
                o.id,
                t.outcomes[i],
                pct(t.with_chat[i]),
                pct(t.without_chat[i])
            ));
        }
    }
    out
}

/// The value of a summary metric such as `offered{action_map=cart_help}` (SPEC §8 `expect`).
pub fn metric(sc: &Scenario, stats: &Stats, t: &Tally, text: &str) -> Result<f64, String> {
    let (name, labels) = match text.split_once('{') {
        Some((n, rest)) => (n.trim(), rest.trim_end_matches('}')),
        None => (text.trim(), ""),
    };
    let label = |key: &str| -> Option<String> {
        labels
            .split(',')
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
    };
    let map = label("action_map");
    let maps: Vec<usize> = match &map {
        Some(id) => vec![sc.action_maps.iter().position(|m| m.id == *id).ok_or(format!("no action map `{id}`"))?],
        None => (0..sc.action_maps.len()).collect(),
    };
    let workgroup = || -> Result<usize, String> {
        let id = label("workgroup").ok_or(format!("`{name}` needs a label workgroup=ID"))?;
        sc.workgroups.iter().position(|w| w.id == id).ok_or(format!("no workgroup `{id}`"))
    };
    let wg_stats = |i: usize| stats.workgroups.get(i).ok_or("no contact-center results".to_string());
    let missing = |what: &str| format!("`{text}` has no value: {what}");
    if let Some(state) = ActionState::from_name(name) {
        return Ok(maps.iter().map(|m| t.state(*m, state)).sum::<u64>() as f64);
    }
    match name {
        "events" => Ok(stats.events as f64),
        "events_rejected" => Ok(stats.rejected as f64),
        "visitors" => Ok(stats.visitors as f64),
        "sessions" => Ok(stats.sessions as f64),
        "blocked" => {
            let reason = label("reason").map(|r| BlockingReason::from_name(&r).ok_or(format!("no reason `{r}`")));
            let reason = reason.transpose()?;
            Ok(maps
                .iter()
                .map(|m| match reason {
                    Some(r) => t.blocked[*m][r as usize],
                    None => t.blocked[*m].iter().sum(),
                })
                .sum::<u64>() as f64)
        }
        "acceptance_rate" => {
            let offered: u64 = maps.iter().map(|m| t.state(*m, ActionState::Offered)).sum();
            let accepted: u64 = maps.iter().map(|m| t.state(*m, ActionState::Accepted)).sum();
            if offered == 0 { Err(missing("nothing was offered")) } else { Ok(accepted as f64 / offered as f64) }
        }
        "service_level" => wg_stats(workgroup()?)?.service_level().ok_or_else(|| missing("no chat was answered")),
        "mean_wait" => {
            wg_stats(workgroup()?)?.mean_wait_ms().map(|m| m / 1000.0).ok_or_else(|| missing("no chat was answered"))
        }
        "p90_wait" => wg_stats(workgroup()?)?
            .wait_percentile_ms(0.9)
            .map(|m| m as f64 / 1000.0)
            .ok_or_else(|| missing("no chat was answered")),
        "occupancy" => wg_stats(workgroup()?)?.occupancy().ok_or_else(|| missing("no agent was logged in")),
        "updates_published" => Ok(t.updates[workgroup()?] as f64),
        "achievement_rate" => {
            let id = label("outcome").ok_or("`achievement_rate` needs a label outcome=ID")?;
            let o = sc.outcomes.iter().position(|x| x.id == id).ok_or(format!("no outcome `{id}`"))?;
            let (ws, wa) = t.with_chat[o];
            let (ns, na) = t.without_chat[o];
            let (s, a) = match label("chat").as_deref() {
                Some("with") => (ws, wa),
                Some("without") => (ns, na),
                _ => (ws + ns, wa + na),
            };
            if s == 0 { Err(missing("no session")) } else { Ok(a as f64 / s as f64) }
        }
        other => Err(format!("unknown metric `{other}`")),
    }
}

/// In-memory results of a run, for `pesim test`'s `expect` checks.
pub struct Collect<'s> {
    pub tally: Tally,
    _sc: &'s Scenario,
}

impl<'s> Collect<'s> {
    pub fn new(sc: &'s Scenario) -> Self {
        Collect { tally: Tally::new(sc), _sc: sc }
    }
}

impl Output for Collect<'_> {
    fn decision(&mut self, d: &Decision) {
        self.tally.record(d);
    }
    fn availability(&mut self, wg: WorkgroupId, _: &Published) {
        self.tally.updates[wg.0 as usize] += 1;
    }
    fn session_ended(&mut self, end: &SessionEnd) {
        self.tally.session(end);
    }
}
