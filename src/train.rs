//! Fitting outcome predictors (SPEC §7, `pesim train`): a regularised logistic
//! model of "this session will achieve the outcome", fitted on the features the
//! engine computes at each event before the outcome is achieved.
//!
//! Each session weighs 1 in total (its events share it), so long sessions do
//! not dominate. Newton's method on standardised features, with the sums over
//! samples computed in parallel in fixed-size chunks added in order: the fit is
//! the same for any thread count.

use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::availability::Published;
use crate::config::model::WorkgroupId;
use crate::engine::{Decision, SessionEnd};
use crate::sim::Output;

/// One session's feature vectors (one per event before the outcome) and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub key: (Arc<str>, u32),
    pub events: Vec<Vec<f64>>,
    pub achieved: bool,
}

/// Collects training sessions from a simulation (an [`Output`]).
pub struct Collector {
    outcome: usize,
    open: FxHashMap<(Arc<str>, u32), Vec<Vec<f64>>>,
    pub sessions: Vec<Session>,
}

impl Collector {
    pub fn new(outcome: usize) -> Self {
        Collector { outcome, open: FxHashMap::default(), sessions: Vec::new() }
    }
}

impl Output for Collector {
    fn decision(&mut self, _: &Decision) {}
    fn availability(&mut self, _: WorkgroupId, _: &Published) {}
    fn features(&mut self, customer: &Arc<str>, session: u32, values: &[f64]) {
        self.open.entry((customer.clone(), session)).or_default().push(values.to_vec());
    }
    fn session_ended(&mut self, end: &SessionEnd) {
        let key = (end.customer.clone(), end.session);
        let events = self.open.remove(&key).unwrap_or_default();
        let achieved = end.outcomes.get(self.outcome).copied().unwrap_or(false);
        // A session that achieved the outcome at its first event has nothing to learn from.
        if !events.is_empty() {
            self.sessions.push(Session { key, events, achieved });
        }
    }
}

/// A fitted model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub weights: Vec<f64>,
    pub bias: f64,
}

impl Model {
    pub fn probability(&self, x: &[f64]) -> f64 {
        let z = self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// A weighted sample.
struct Sample<'a> {
    x: &'a [f64],
    y: f64,
    w: f64,
}

/// Fits a logistic model with an L2 penalty `lambda` on the weights (not the bias).
pub fn fit(sessions: &[Session], dims: usize, lambda: f64) -> Model {
    let samples: Vec<Sample<'_>> = sessions
        .iter()
        .flat_map(|s| {
            let w = 1.0 / s.events.len() as f64;
            let y = if s.achieved { 1.0 } else { 0.0 };
            s.events.iter().map(move |x| Sample { x, y, w })
        })
        .collect();
    let total: f64 = samples.iter().map(|s| s.w).sum();
    if total == 0.0 {
        return Model { weights: vec![0.0; dims], bias: 0.0 };
    }
    // Standardise: mean 0, sd 1 (constant features keep sd 1).
    let mean: Vec<f64> = (0..dims).map(|j| samples.iter().map(|s| s.w * s.x[j]).sum::<f64>() / total).collect();
    let sd: Vec<f64> = (0..dims)
        .map(|j| {
            let v = samples.iter().map(|s| s.w * (s.x[j] - mean[j]).powi(2)).sum::<f64>() / total;
            if v > 1e-12 { v.sqrt() } else { 1.0 }
        })
        .collect();
    let n = dims + 1; // the bias is the last coordinate
    let mut beta = vec![0.0; n];
    for _ in 0..50 {
        // Gradient and Hessian of the penalised, weight-normalised log-loss.
        let chunks: Vec<(Vec<f64>, Vec<f64>)> = samples
            .par_chunks(4096)
            .map(|chunk| {
                let mut g = vec![0.0; n];
                let mut h = vec![0.0; n * n];
                let mut z = vec![0.0; n];
                for s in chunk {
                    for j in 0..dims {
                        z[j] = (s.x[j] - mean[j]) / sd[j];
                    }
                    z[dims] = 1.0;
                    let eta: f64 = z.iter().zip(&beta).map(|(a, b)| a * b).sum();
                    let p = 1.0 / (1.0 + (-eta).exp());
                    let r = s.w * (p - s.y);
                    let c = s.w * p * (1.0 - p);
                    for a in 0..n {
                        g[a] += r * z[a];
                        for b in 0..n {
                            h[a * n + b] += c * z[a] * z[b];
                        }
                    }
                }
                (g, h)
            })
            .collect();
        let mut g = vec![0.0; n];
        let mut h = vec![0.0; n * n];
        for (cg, ch) in &chunks {
            g.iter_mut().zip(cg).for_each(|(a, b)| *a += b / total);
            h.iter_mut().zip(ch).for_each(|(a, b)| *a += b / total);
        }
        for j in 0..dims {
            g[j] += lambda * beta[j];
            h[j * n + j] += lambda;
        }
        h[dims * n + dims] += 1e-9; // keeps the system solvable when every label is equal
        let Some(step) = solve(h, g, n) else { break };
        let mut size = 0.0f64;
        for (b, d) in beta.iter_mut().zip(&step) {
            *b -= d;
            size = size.max(d.abs());
        }
        if size < 1e-10 {
            break;
        }
    }
    // Back to the original scale.
    let weights: Vec<f64> = (0..dims).map(|j| beta[j] / sd[j]).collect();
    let bias = beta[dims] - (0..dims).map(|j| beta[j] * mean[j] / sd[j]).sum::<f64>();
    Model { weights, bias }
}

/// Solves `h x = g` (n × n, symmetric positive definite) by Gaussian elimination with pivoting.
fn solve(mut h: Vec<f64>, mut g: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot = (col..n).max_by(|a, b| h[a * n + col].abs().total_cmp(&h[b * n + col].abs()))?;
        if h[pivot * n + col].abs() < 1e-14 {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                h.swap(col * n + k, pivot * n + k);
            }
            g.swap(col, pivot);
        }
        for row in col + 1..n {
            let f = h[row * n + col] / h[col * n + col];
            for k in col..n {
                h[row * n + k] -= f * h[col * n + k];
            }
            g[row] -= f * g[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| h[row * n + k] * x[k]).sum();
        x[row] = (g[row] - s) / h[row * n + row];
    }
    Some(x)
}

/// Area under the ROC curve of scores against labels (ties count half).
pub fn auc(scored: &mut [(f64, bool)]) -> Option<f64> {
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = scored.iter().filter(|s| s.1).count() as f64;
    let negatives = scored.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Sum of positive ranks, averaging ranks over ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < scored.len() {
        // From i + 1: a NaN score equals nothing, not even itself, and must still end its run.
        let mut j = i + 1;
        while j < scored.len() && scored[j].0 == scored[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg_rank * scored[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Mean log-loss per session (events weighted as in the fit).
pub fn log_loss(model: &Model, sessions: &[Session]) -> Option<f64> {
    if sessions.is_empty() {
        return None;
    }
    let total: f64 = sessions
        .iter()
        .map(|s| {
            let y = s.achieved;
            s.events
                .iter()
                .map(|x| {
                    let p = model.probability(x).clamp(1e-12, 1.0 - 1e-12);
                    -(if y { p.ln() } else { (1.0 - p).ln() })
                })
                .sum::<f64>()
                / s.events.len() as f64
        })
        .sum();
    Some(total / sessions.len() as f64)
}

/// The session maximum of the model's probability.
pub fn session_max(model: &Model, s: &Session) -> f64 {
    s.events.iter().map(|x| model.probability(x)).fold(0.0, f64::max)
}

/// 101 cut points (0th to 100th percentile) of the sessions' maximum probabilities.
pub fn quantile_cuts(model: &Model, sessions: &[Session]) -> Vec<f64> {
    let mut maxima: Vec<f64> = sessions.iter().map(|s| session_max(model, s)).collect();
    if maxima.is_empty() {
        return Vec::new();
    }
    maxima.sort_by(f64::total_cmp);
    (0..=100)
        .map(|k| {
            // Linear interpolation between order statistics.
            let pos = k as f64 / 100.0 * (maxima.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            maxima[lo] + (maxima[hi] - maxima[lo]) * (pos - lo as f64)
        })
        .collect()
}

/// Whether a session is in the held-out split (about one in five, by its key).
pub fn held_out(key: &(Arc<str>, u32)) -> bool {
    use rand::RngExt;
    let mut rng = crate::random::stream(0, "holdout", &key.0, u64::from(key.1));
    rng.random::<f64>() < 0.2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_ends_on_nan_scores() {
        // A NaN equals nothing: each is a run of its own, ranked last by `total_cmp`.
        let mut scored = vec![(f64::NAN, true), (0.2, false), (f64::NAN, false), (0.9, true)];
        assert!(auc(&mut scored).is_some_and(|a| (0.0..=1.0).contains(&a)));
    }
    use rand::RngExt;

    /// Sessions of one event each, drawn from a known logistic model.
    fn synthetic(n: usize, weights: &[f64], bias: f64, seed: u64) -> Vec<Session> {
        let mut rng = crate::random::stream(seed, "synthetic", "", 0);
        let truth = Model { weights: weights.to_vec(), bias };
        (0..n)
            .map(|i| {
                let x: Vec<f64> = weights
                    .iter()
                    .enumerate()
                    .map(|(j, _)| {
                        if j == 0 {
                            (rng.random::<f64>() * 10.0).floor() // a count, like pageviews
                        } else {
                            rng.random::<f64>() * 2.0 - 1.0
                        }
                    })
                    .collect();
                let achieved = rng.random::<f64>() < truth.probability(&x);
                Session { key: (format!("v{i}").into(), 1), events: vec![x], achieved }
            })
            .collect()
    }

    #[test]
    fn recovers_the_weights_of_a_known_model() {
        let (weights, bias) = ([0.3, 1.5, -0.8], -2.0);
        let train = synthetic(40_000, &weights, bias, 1);
        let test = synthetic(10_000, &weights, bias, 2);
        let model = fit(&train, 3, 1e-6);
        for (got, want) in model.weights.iter().zip(weights) {
            assert!((got - want).abs() < 0.1, "weight {got} vs {want}");
        }
        assert!((model.bias - bias).abs() < 0.15, "bias {} vs {bias}", model.bias);
        let truth = Model { weights: weights.to_vec(), bias };
        let score = |m: &Model| {
            let mut s: Vec<(f64, bool)> = test.iter().map(|s| (m.probability(&s.events[0]), s.achieved)).collect();
            auc(&mut s).unwrap()
        };
        let (ours, best) = (score(&model), score(&truth));
        assert!(ours >= best - 0.02, "AUC {ours} vs the true model's {best}");
    }

    #[test]
    fn the_fit_does_not_depend_on_the_thread_count() {
        let data = synthetic(20_000, &[0.5, -1.0], 0.3, 3);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| fit(&data, 2, 0.01));
        let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| fit(&data, 2, 0.01));
        assert_eq!(one, two);
    }

    #[test]
    fn auc_of_hand_computed_examples() {
        assert_eq!(auc(&mut [(0.1, false), (0.9, true)]), Some(1.0));
        assert_eq!(auc(&mut [(0.9, false), (0.1, true)]), Some(0.0));
        assert_eq!(auc(&mut [(0.5, false), (0.5, true)]), Some(0.5));
        // 2 positives, 2 negatives; pairs ordered right: (0.8>0.3), (0.8>0.6), (0.4>0.3) = 3 of 4.
        assert_eq!(auc(&mut [(0.3, false), (0.4, true), (0.6, false), (0.8, true)]), Some(0.75));
        assert_eq!(auc(&mut [(0.3, true)]), None);
    }

    #[test]
    fn quantile_cuts_are_percentiles_of_session_maxima() {
        let model = Model { weights: vec![1.0], bias: 0.0 };
        // Session maxima σ(0), σ(1), σ(2): the 0th, 50th and 100th percentiles.
        let sessions: Vec<Session> = (0..3)
            .map(|i| Session { key: ("v".into(), i), events: vec![vec![f64::from(i)], vec![-5.0]], achieved: false })
            .collect();
        let cuts = quantile_cuts(&model, &sessions);
        assert_eq!(cuts.len(), 101);
        let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
        assert!((cuts[0] - sigma(0.0)).abs() < 1e-12);
        assert!((cuts[50] - sigma(1.0)).abs() < 1e-12);
        assert!((cuts[100] - sigma(2.0)).abs() < 1e-12);
        assert!(cuts.windows(2).all(|w| w[0] <= w[1]));
    }
}
