//! Scenario sweeps (`pesim sweep`): the cross product of `--set` values × N
//! seeds, one row per run, in a fixed order whatever the thread count, and
//! sliceable into shards whose CSVs concatenate to the whole.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::config::{self, Scenario};
use crate::report::Collect;
use crate::sim::{Options, simulate};

/// One varied setting: a key and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// Splits `KEY=V1,V2,...` on top-level commas (a value may be `[a, b]` or `{k: v}`).
pub fn parse_axes(sets: &[String]) -> Result<Vec<Axis>, String> {
    sets.iter()
        .map(|s| {
            let (key, values) = s.split_once('=').ok_or(format!("`--set {s}` needs KEY=V1,V2,..."))?;
            if key.is_empty() {
                return Err(format!("`--set {s}` needs a key before `=`"));
            }
            let mut out = Vec::new();
            let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
            for (i, c) in values.char_indices() {
                match (c, quote) {
                    ('"' | '\'', None) => quote = Some(c),
                    (q, Some(open)) if q == open => quote = None,
                    ('[' | '{', None) => depth += 1,
                    (']' | '}', None) => depth -= 1,
                    (',', None) if depth == 0 => {
                        out.push(values[start..i].trim().to_string());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            out.push(values[start..].trim().to_string());
            if out.iter().any(String::is_empty) {
                return Err(format!("`--set {s}` has an empty value"));
            }
            Ok(Axis { key: key.to_string(), values: out })
        })
        .collect()
}

/// What a sweep runs: every combination of the axes, `runs` seeds each.
#[derive(Clone, Debug)]
pub struct Plan {
    pub axes: Vec<Axis>,
    pub runs: u64,
}

/// The most rows one process runs (a shard's, or a whole sweep's): at a
/// second a run, a million is days on one machine; past that, shards.
pub const MAX_ROWS: usize = 1_000_000;

/// One run of a sweep.
#[derive(Clone, Debug)]
pub struct Row {
    pub index: usize,
    /// `KEY=VALUE` per axis.
    pub sets: Vec<String>,
    pub seed: u64,
}

impl Plan {
    pub fn new(axes: Vec<Axis>, runs: u64) -> Self {
        Plan { axes, runs }
    }

    /// Every combination as `KEY=VALUE` lists; the first axis varies slowest.
    pub fn combinations(&self) -> Vec<Vec<String>> {
        let mut combos: Vec<Vec<String>> = vec![Vec::new()];
        for axis in &self.axes {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    axis.values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push(format!("{}={v}", axis.key));
                        c
                    })
                })
                .collect();
        }
        combos
    }

    /// Rows in all: combinations × runs (`None` when that does not fit a `usize`).
    pub fn row_count(&self) -> Option<usize> {
        let runs = usize::try_from(self.runs.max(1)).ok()?;
        self.axes.iter().try_fold(runs, |n, axis| n.checked_mul(axis.values.len()))
    }

    /// All rows in order: each combination with seeds `base`, `base+1`, ...
    pub fn rows(&self, base_seed: u64) -> Vec<Row> {
        self.rows_in(0..self.row_count().unwrap_or(0), base_seed)
    }

    /// The rows `range` of [`Plan::rows`], made alone: a shard holds only its own.
    pub fn rows_in(&self, range: std::ops::Range<usize>, base_seed: u64) -> Vec<Row> {
        let combos = self.combinations();
        let runs = self.runs.max(1) as usize;
        range
            .map(|i| Row { index: i, sets: combos[i / runs].clone(), seed: base_seed.wrapping_add((i % runs) as u64) })
            .collect()
    }
}

/// The `i`-th of `n` contiguous slices of `len` rows (0-based): in order, the
/// slices cover every row once, so their CSVs concatenate to the whole.
pub fn shard_range(len: usize, i: u64, n: u64) -> std::ops::Range<usize> {
    let at = |k: u64| ((len as u128 * k as u128) / n as u128) as usize;
    at(i)..at(i + 1)
}

/// Key figures of one run.
#[derive(Clone, Debug)]
pub struct RowResult {
    pub row: Row,
    pub figures: Vec<(String, Option<f64>)>,
    pub error: Option<String>,
}

/// The figures every row reports, in column order, for a scenario.
fn figure_names(sc: &Scenario) -> Vec<String> {
    let mut names: Vec<String> =
        ["visitors", "sessions", "events", "qualified", "offered", "accepted", "acceptance_rate", "blocked"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    for w in &sc.workgroups {
        for m in ["chats", "abandoned", "service_level", "mean_wait", "occupancy"] {
            names.push(format!("{m}{{workgroup={}}}", w.id));
        }
    }
    for o in &sc.outcomes {
        for chat in ["with", "without"] {
            names.push(format!("achievement_rate{{outcome={},chat={chat}}}", o.id));
        }
    }
    names
}

/// Runs one row: loads the scenario with its settings and seed, simulates, reads the figures.
pub fn run_row(file: &Path, row: &Row) -> RowResult {
    let fail = |why: String| RowResult { row: row.clone(), figures: Vec::new(), error: Some(why) };
    let loaded = config::load_with(file, None, &row.sets);
    let Some(mut sc) = loaded.scenario.filter(|_| !loaded.diagnostics.has_errors()) else {
        return fail("the scenario does not load with these settings".into());
    };
    sc.seed = row.seed;
    let mut collect = Collect::new(&sc);
    let Some(stats) = simulate(&sc, &Options::default(), &mut collect, None) else {
        return fail("the scenario has no `traffic`".into());
    };
    let figures = figure_names(&sc)
        .into_iter()
        .map(|name| {
            let value = workgroup_figure(&sc, &stats, &name)
                .unwrap_or_else(|| crate::report::metric(&sc, &stats, &collect.tally, &name).ok());
            (name, value)
        })
        .collect();
    RowResult { row: row.clone(), figures, error: None }
}

/// The contact-center figures, read from the workgroup's own results.
/// `None` if `name` is not one of them.
fn workgroup_figure(sc: &Scenario, stats: &crate::sim::Stats, name: &str) -> Option<Option<f64>> {
    let (metric, rest) = name.split_once("{workgroup=")?;
    let id = rest.strip_suffix('}')?;
    let i = sc.workgroups.iter().position(|w| w.id == id)?;
    let ws = stats.workgroups.get(i)?;
    Some(match metric {
        "chats" => Some(ws.started as f64),
        "abandoned" => Some(ws.abandoned as f64),
        "service_level" => ws.service_level(),
        "mean_wait" => ws.mean_wait_ms().map(|m| m / 1000.0),
        "occupancy" => ws.occupancy(),
        _ => return None,
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn number(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => format!("{x:.6}"),
    }
}

/// sweep.csv (with a header line if `header`) and sweep.jsonl, rows in plan order.
pub fn render(sc: &Scenario, plan: &Plan, results: &[RowResult], header: bool) -> (String, String) {
    let names = figure_names(sc);
    let mut csv = String::new();
    if header {
        let mut cols: Vec<String> = vec!["run".into()];
        cols.extend(plan.axes.iter().map(|a| a.key.clone()));
        cols.push("seed".into());
        cols.extend(names.iter().cloned());
        cols.push("error".into());
        csv.push_str(&cols.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        csv.push('\n');
    }
    let mut jsonl = String::new();
    for r in results {
        let values: Vec<&str> = r.row.sets.iter().map(|s| s.split_once('=').map_or("", |(_, v)| v)).collect();
        let mut cols: Vec<String> = vec![r.row.index.to_string()];
        cols.extend(values.iter().map(|v| csv_field(v)));
        cols.push(r.row.seed.to_string());
        for name in &names {
            let v = r.figures.iter().find(|(n, _)| n == name).and_then(|(_, v)| *v);
            cols.push(number(v));
        }
        cols.push(csv_field(r.error.as_deref().unwrap_or("")));
        csv.push_str(&cols.join(","));
        csv.push('\n');

        let mut settings = Map::new();
        for (axis, v) in plan.axes.iter().zip(values) {
            settings.insert(axis.key.clone(), json!(v));
        }
        let figures: Map<String, Value> = r.figures.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
        let line =
            json!({"run": r.row.index, "settings": settings, "seed": r.row.seed, "figures": figures, "error": r.error});
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    (csv, jsonl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_on_top_level_commas_only() {
        let axes = parse_axes(&["a.b=1,2,3".into(), "t=[x, y],[z]".into(), "q='a,b',c".into()]).unwrap();
        assert_eq!(axes[0].values, ["1", "2", "3"]);
        assert_eq!(axes[1].values, ["[x, y]", "[z]"]);
        assert_eq!(axes[2].values, ["'a,b'", "c"]);
        assert!(parse_axes(&["novalue".into()]).is_err());
        assert!(parse_axes(&["k=1,,2".into()]).is_err());
    }

    #[test]
    fn a_slice_of_rows_is_that_slice_of_all_rows() {
        let plan = Plan::new(parse_axes(&["a=1,2,3".into(), "b=x,y".into()]).unwrap(), 3);
        assert_eq!(plan.row_count(), Some(18));
        let all = plan.rows(5);
        assert_eq!(all.len(), 18);
        for range in [0..18, 4..11, 17..18, 9..9] {
            let part = plan.rows_in(range.clone(), 5);
            let expect = &all[range];
            assert_eq!(part.len(), expect.len());
            for (p, e) in part.iter().zip(expect) {
                assert_eq!((p.index, &p.sets, p.seed), (e.index, &e.sets, e.seed));
            }
        }
        let huge = Plan::new(parse_axes(&["a=1,2".into()]).unwrap(), u64::MAX);
        assert_eq!(huge.row_count(), None);
    }

    #[test]
    fn combinations_vary_the_first_axis_slowest() {
        let plan = Plan::new(parse_axes(&["a=1,2".into(), "b=x,y".into()]).unwrap(), 2);
        let rows = plan.rows(10);
        let text: Vec<String> = rows.iter().map(|r| format!("{} {}", r.sets.join(" "), r.seed)).collect();
        assert_eq!(text[0], "a=1 b=x 10");
        assert_eq!(text[1], "a=1 b=x 11");
        assert_eq!(text[2], "a=1 b=y 10");
        assert_eq!(text[7], "a=2 b=y 11");
    }

    #[test]
    fn shards_cover_every_row_once_in_order() {
        for len in [0, 1, 7, 10, 13] {
            for n in 1..6 {
                let covered: Vec<usize> = (0..n).flat_map(|i| shard_range(len, i, n)).collect();
                assert_eq!(covered, (0..len).collect::<Vec<_>>(), "len {len}, {n} shards");
            }
        }
    }
}
