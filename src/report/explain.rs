//! `pesim explain`: a terminal-readable account of one visitor, event by event,
//! from the engine's own trace (the same step, not a second implementation).

use std::io::{self, Write};

use crate::availability::Published;
use crate::config::Scenario;
use crate::config::model::WorkgroupId;
use crate::engine::{Decision, Engine, Trace};
use crate::events::{Event, EventKind};
use crate::sim::Output;

pub struct Explainer<'a> {
    sc: &'a Scenario,
    visitor: String,
    out: &'a mut dyn Write,
    pending: Vec<Decision>,
    events: u64,
    error: Option<io::Error>,
}

impl<'a> Explainer<'a> {
    pub fn new(sc: &'a Scenario, visitor: &str, out: &'a mut dyn Write) -> Self {
        Explainer { sc, visitor: visitor.to_string(), out, pending: Vec::new(), events: 0, error: None }
    }

    pub fn events_seen(&self) -> u64 {
        self.events
    }

    /// Prints what happened after the visitor's last event, and any write error.
    pub fn finish(&mut self) -> io::Result<()> {
        let rest = std::mem::take(&mut self.pending);
        let r = self.timer_lines(&rest);
        self.keep(r);
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn keep(&mut self, r: io::Result<()>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    fn timer_lines(&mut self, decisions: &[Decision]) -> io::Result<()> {
        for d in decisions {
            writeln!(
                self.out,
                "{}  (timer) {}",
                d.time.rfc3339(),
                d.describe(self.sc, None).split_once("  ").map_or("", |x| x.1)
            )?;
        }
        Ok(())
    }

    fn event_block(&mut self, ev: &Event, trace: &Trace, engine: &Engine<'_>) -> io::Result<()> {
        let sc = self.sc;
        let (before, now): (Vec<Decision>, Vec<Decision>) =
            std::mem::take(&mut self.pending).into_iter().partition(|d| d.time < ev.time);
        self.timer_lines(&before)?;
        let EventKind::Track(t) = &ev.kind else { return Ok(()) };
        let out = &mut *self.out;
        let page = t.page.as_ref().map(|p| format!("  {}", p.url)).unwrap_or_default();
        writeln!(out, "{}  {}{page}   (line {})", ev.time.rfc3339(), t.name_text, ev.line)?;
        let Some(v) = engine.visitor_lookup(&self.visitor) else { return Ok(()) };
        if let Some(view) = engine.session_view(v) {
            let names = |ids: Vec<String>| if ids.is_empty() { "-".to_string() } else { ids.join(", ") };
            writeln!(out, "  session   {}:{}", self.visitor, view.number)?;
            writeln!(out, "  segments  {}", names(view.segments.iter().map(|s| sc.segment(*s).id.clone()).collect()))?;
            writeln!(out, "  outcomes  {}", names(view.outcomes.iter().map(|o| sc.outcome(*o).id.clone()).collect()))?;
            for (i, o) in sc.outcomes.iter().enumerate() {
                let Some(p) = &o.predictor else { continue };
                let s = &view.scores[i];
                let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
                writeln!(
                    out,
                    "  score     {}: probability {} (max {}), quantile {} (max {})",
                    o.id,
                    f(s.probability),
                    f(s.max_probability),
                    f(s.quantile),
                    f(s.max_quantile)
                )?;
                for (name, value, contribution) in engine.feature_contributions(v, ev, p) {
                    writeln!(out, "            {name} = {value:.3} → {:+.3}", contribution + 0.0)?;
                }
            }
        }
        writeln!(out, "  action maps")?;
        for (map, held) in &trace.triggers {
            let m = sc.action_map(*map);
            let trig = match held {
                Some(true) => "trigger true".to_string(),
                Some(false) => "trigger false".to_string(),
                None if !m.active => "inactive".to_string(),
                None => "not evaluated (qualified this session, or outside its start/end window)".to_string(),
            };
            writeln!(out, "    {:<24} {trig}", m.id)?;
            for (gmap, gates) in trace.gates.iter().filter(|(g, _)| g == map) {
                let _ = gmap;
                let text: Vec<String> =
                    gates.iter().map(|(g, ok)| format!("{} {}", g.name(), if *ok { "ok" } else { "FAILED" })).collect();
                writeln!(out, "    {:<24}   gates: {}", "", text.join(" · "))?;
            }
        }
        if !now.is_empty() {
            writeln!(out, "  decisions")?;
            for d in &now {
                writeln!(out, "    {}", d.describe(sc, None).split_once("  ").map_or("", |x| x.1))?;
            }
        }
        writeln!(out)
    }
}

impl Output for Explainer<'_> {
    fn decision(&mut self, d: &Decision) {
        if *d.customer == *self.visitor {
            self.pending.push(d.clone());
        }
    }
    fn availability(&mut self, _: WorkgroupId, _: &Published) {}
    fn traced(&mut self, ev: &Event, trace: Trace, engine: &Engine<'_>) {
        self.events += 1;
        let r = self.event_block(ev, &trace, engine);
        self.keep(r);
    }
}
