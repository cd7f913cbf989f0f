#!/usr/bin/env python3
"""Cross-check pesim's contact-center queue against queueing theory and Ciw.

For three queues -- two M/M/N reference queues (Erlang C) and one M/M/N+M
queue with exponential patience (Erlang A) -- this script

* computes the theory itself (Erlang C closed form; Erlang A from the
  birth-death chain plus a tagged-customer chain for the service level and
  ASA), and compares it with the theory pesim prints;
* runs pesim's `mmc` example (built with cargo if needed) for several seeds;
* simulates the same queue in Ciw for several seeds;
* prints the three side by side with 95% confidence intervals over seeds, and
  the customers simulated per second by each simulator.

It exits 1 if pesim disagrees with theory by more than 3% (relative) on
P(wait) or the service level of an Erlang C queue, or by more than 1.5
percentage points on P(abandon) of the Erlang A queue.

All measured figures use pesim's definitions (src/availability/stats.rs):

* P(wait): share of *answered* chats that waited at all;
* SL: answered within the target over answered plus abandoned, abandons
  sooner than the short-abandon threshold (10 s by default) left out;
* ASA: mean wait of answered chats;
* P(abandon): abandoned over answered plus abandoned;
* occupancy: agent busy time over logged-in time.

Usage: python3 tools/erlang_crosscheck.py [--seeds N] [--hours H] [--pesim-hours H]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import ciw

ROOT = Path(__file__).resolve().parent.parent
MMC = ROOT / "target" / "release" / "examples" / "mmc"
WARMUP_HOURS = 1.0
# Ciw runs on past the measured window so every measured arrival finishes.
DRAIN_HOURS = 2.0
# pesim's default short-abandon threshold (src/config/decode.rs).
SHORT_ABANDON_S = 10.0
METRICS = ("p_wait", "service_level", "asa_seconds", "p_abandon", "occupancy")

# Two-sided 95% Student t quantiles by degrees of freedom.
# fmt: off
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
       11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
       20: 2.086, 25: 2.060, 30: 2.042}
# fmt: on


@dataclass(frozen=True)
class Case:
    name: str
    erlangs: float
    agents: int
    aht_s: float
    target_s: float
    patience_s: float | None = None

    @property
    def label(self) -> str:
        kind = "M/M/N+M (Erlang A)" if self.patience_s else "M/M/N (Erlang C)"
        extra = f", patience mean {self.patience_s:g} s" if self.patience_s else ""
        return (
            f"{self.name}: {kind}  A={self.erlangs:g} Erl on N={self.agents}, AHT {self.aht_s:g} s, "
            f"T={self.target_s:g} s{extra}"
        )


CASES = (
    Case("C1", 10.0, 14, 180.0, 20.0),
    Case("C2", 48.0, 55, 240.0, 15.0),
    Case("A1", 10.0, 11, 180.0, 20.0, patience_s=90.0),
)


# ---------------------------------------------------------------- theory


def erlang_c(a: float, n: int) -> float:
    """Probability that an arrival waits, for `a` Erlangs on `n` agents."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b / (1.0 - (a / n) * (1.0 - b))


def erlang_c_theory(case: Case) -> dict[str, float]:
    a, n, aht, t = case.erlangs, case.agents, case.aht_s, case.target_s
    c = erlang_c(a, n)
    return {
        "p_wait": c,
        "service_level": 1.0 - c * math.exp(-(n - a) * t / aht),
        "asa_seconds": c * aht / (n - a),
        "p_abandon": 0.0,
        "occupancy": a / n,
    }


def birth_death(lam: float, mu: float, theta: float, n: int) -> list[float]:
    """Stationary distribution of the number in an M/M/n+M system, truncated where it vanishes."""
    p = [1.0]
    k = 0
    while True:
        k += 1
        p.append(p[-1] * lam / (min(k, n) * mu + max(k - n, 0) * theta))
        if k > n and p[-1] < 1e-17 * sum(p):
            break
    total = sum(p)
    return [x / total for x in p]


def tagged_transient(q: list[float], n_mu: float, theta: float, t: float) -> tuple[float, float]:
    """A customer who finds j others waiting ahead (with probability q[j]) leaves the queue
    for service at rate n_mu + j*theta per step and abandons at rate theta.  Returns
    (P(answered by t), P(abandoned by t)), by uniformization."""
    k = len(q)
    down = [n_mu + j * theta for j in range(k)]
    rate = max(down) + theta
    v, served, abandoned = list(q), 0.0, 0.0
    lt = rate * t
    weight = math.exp(-lt)
    acc_s, acc_a, cum = 0.0, 0.0, 0.0
    step = 0
    while cum < 1.0 - 1e-14 and step < 100_000:
        acc_s += weight * served
        acc_a += weight * abandoned
        cum += weight
        served += v[0] * down[0] / rate
        abandoned += sum(v) * theta / rate
        v = [
            v[j] * (1.0 - (down[j] + theta) / rate) + (v[j + 1] * down[j + 1] / rate if j + 1 < k else 0.0)
            for j in range(k)
        ]
        step += 1
        weight *= lt / step
    return acc_s, acc_a


def erlang_a_theory(case: Case) -> dict[str, float]:
    """Erlang A (M/M/N+M) in pesim's definitions, plus the textbook P(wait on arrival)."""
    assert case.patience_s is not None
    n, aht = case.agents, case.aht_s
    lam, mu, theta = case.erlangs / aht, 1.0 / aht, 1.0 / case.patience_s
    pi = birth_death(lam, mu, theta, n)
    p_wait_arrival = sum(pi[n:])
    p_abandon = theta * sum((k - n) * p for k, p in enumerate(pi) if k > n) / lam
    q = pi[n:]  # by PASTA: an arrival finds j = k - n waiting ahead
    # h[j]: P(answered | j ahead); m[j]: E[wait * 1{answered} | j ahead].
    h_prev, m_prev = 1.0, 0.0
    answered_after_wait, wait_x_answered = 0.0, 0.0
    for j, qj in enumerate(q):
        out = n * mu + j * theta
        r = out + theta
        h = out / r * h_prev
        m = h / r + out / r * m_prev
        answered_after_wait += qj * h
        wait_x_answered += qj * m
        h_prev, m_prev = h, m
    p_answered = 1.0 - p_wait_arrival + answered_after_wait
    answered_in_t, _ = tagged_transient(q, n * mu, theta, case.target_s)
    _, short_abandons = tagged_transient(q, n * mu, theta, SHORT_ABANDON_S)
    return {
        "p_wait": answered_after_wait / p_answered,
        "service_level": (1.0 - p_wait_arrival + answered_in_t) / (1.0 - short_abandons),
        "asa_seconds": wait_x_answered / p_answered,
        "p_abandon": p_abandon,
        "occupancy": case.erlangs * (1.0 - p_abandon) / n,
        # Not in pesim's definitions; kept to compare with pesim's printed theory.
        "p_wait_arrival": p_wait_arrival,
        "p_abandon_check": 1.0 - p_answered,
    }


def theory(case: Case) -> dict[str, float]:
    return erlang_a_theory(case) if case.patience_s else erlang_c_theory(case)


# ---------------------------------------------------------------- pesim


def build_pesim() -> None:
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    if not Path(cargo).exists():
        if MMC.exists():
            print("cargo not found; using the existing mmc binary", file=sys.stderr)
            return
        sys.exit("cargo not found and target/release/examples/mmc missing")
    subprocess.run([cargo, "build", "--release", "--quiet", "--example", "mmc"], cwd=ROOT, check=True)


def run_pesim(case: Case, hours: float, seed: int) -> dict:
    args = [
        str(MMC),
        f"{case.erlangs:g}",
        str(case.agents),
        f"{case.aht_s:g}",
        f"{case.target_s:g}",
        f"{hours:g}",
        str(seed),
    ]
    if case.patience_s:
        args.append(f"{case.patience_s:g}")
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


# ---------------------------------------------------------------- Ciw


def run_ciw(case: Case, hours: float, seed: int) -> dict:
    """One Ciw run in seconds; measures arrivals in [warm-up, warm-up + hours)."""
    kwargs = {
        "arrival_distributions": [ciw.dists.Exponential(case.erlangs / case.aht_s)],
        "service_distributions": [ciw.dists.Exponential(1.0 / case.aht_s)],
        "number_of_servers": [case.agents],
    }
    if case.patience_s:
        kwargs["reneging_time_distributions"] = [ciw.dists.Exponential(1.0 / case.patience_s)]
    network = ciw.create_network(**kwargs)
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    lo, hi = WARMUP_HOURS * 3600.0, (WARMUP_HOURS + hours) * 3600.0
    started = time.perf_counter()
    sim.simulate_until_max_time(hi + DRAIN_HOURS * 3600.0)
    secs = time.perf_counter() - started
    records = sim.get_all_records()

    answered = waited = within = abandoned = short = 0
    wait_sum = busy = 0.0
    for r in records:
        if r.record_type == "service":
            busy += max(0.0, min(r.service_end_date, hi) - max(r.service_start_date, lo))
        if not lo <= r.arrival_date < hi:
            continue
        if r.record_type == "service":
            answered += 1
            wait_sum += r.waiting_time
            waited += r.waiting_time > 0.0
            within += r.waiting_time <= case.target_s
        elif r.record_type == "renege":
            abandoned += 1
            short += r.waiting_time < SHORT_ABANDON_S
    return {
        "chats": answered + abandoned,
        "p_wait": waited / answered,
        "service_level": within / (answered + abandoned - short),
        "asa_seconds": wait_sum / answered,
        "p_abandon": abandoned / (answered + abandoned),
        "occupancy": busy / (case.agents * (hi - lo)),
        "seconds": secs,
        "customers": len(records),
        "chats_per_second": len(records) / secs,
    }


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class Estimate:
    mean: float
    half_width: float | None

    @classmethod
    def of(cls, xs: list[float]) -> Estimate:
        if len(xs) < 2:
            return cls(xs[0], None)
        df = len(xs) - 1
        t = T95[max(d for d in T95 if d <= df)]  # conservative between table entries
        return cls(statistics.fmean(xs), t * statistics.stdev(xs) / math.sqrt(len(xs)))

    def fmt(self, digits: int) -> str:
        hw = "n/a" if self.half_width is None else f"{self.half_width:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {hw}"


METRIC_LABELS = {
    "p_wait": ("P(wait)", 4),
    "service_level": ("SL", 4),
    "asa_seconds": ("ASA (s)", 2),
    "p_abandon": ("P(abandon)", 4),
    "occupancy": ("occupancy", 4),
}


def speed(x: float) -> str:
    return f"{x:,.0f}"


def check(case: Case, th: dict[str, float], pe: dict[str, Estimate]) -> list[str]:
    """The acceptance gates; returns the failures."""
    failures = []
    if case.patience_s is None:
        for m in ("p_wait", "service_level"):
            rel = abs(pe[m].mean - th[m]) / th[m]
            if rel > 0.03:
                failures.append(f"{case.name} {m}: pesim {pe[m].mean:.5f} vs theory {th[m]:.5f} ({rel:.2%} > 3%)")
    else:
        diff = abs(pe["p_abandon"].mean - th["p_abandon"])
        if diff > 0.015:
            failures.append(
                f"{case.name} p_abandon: pesim {pe['p_abandon'].mean:.5f} vs theory "
                f"{th['p_abandon']:.5f} ({diff * 100:.2f} pp > 1.5 pp)"
            )
    return failures


def pesim_theory_agreement(case: Case, th: dict[str, float], printed: dict[str, float]) -> str:
    keys = {"p_wait": "p_wait_arrival"} if case.patience_s else {}
    worst = max(abs(v - th[keys.get(k, k)]) / max(abs(th[keys.get(k, k)]), 1e-12) for k, v in printed.items())
    names = ", ".join(sorted(printed))
    return f"pesim's printed theory ({names}) vs this script's: max relative difference {worst:.1e}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per simulator and queue (default 5)")
    parser.add_argument(
        "--hours", type=float, default=400.0, help="measured hours per Ciw run, after a 1-hour warm-up (default 400)"
    )
    parser.add_argument(
        "--pesim-hours",
        type=float,
        default=10000.0,
        help="measured hours per pesim run, after a 1-hour warm-up (default 10000)",
    )
    args = parser.parse_args()
    if args.seeds < 1 or args.hours <= 0 or args.pesim_hours <= 0:
        parser.error("--seeds, --hours and --pesim-hours must be positive")

    build_pesim()
    seeds = range(1, args.seeds + 1)
    print(
        f"Erlang cross-check: pesim {args.seeds} seeds x {args.pesim_hours:g} h, "
        f"Ciw {ciw.__version__} {args.seeds} seeds x {args.hours:g} h, 1 h warm-up each; "
        f"mean ± 95% CI over seeds"
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} CPUs, {cpu_model()}; Python {platform.python_version()}; "
        f"load average at start {load}"
    )
    print(
        "P(wait), SL, ASA over answered chats; SL leaves out abandons under "
        f"{SHORT_ABANDON_S:g} s (pesim's definitions)"
    )

    failures: list[str] = []
    ratios: list[float] = []
    for case in CASES:
        th = theory(case)
        pesim_runs, ciw_runs = [], []
        # Interleaved, so that load from other processes hits both simulators alike.
        for s in seeds:
            print(f"  {case.name} seed {s}: pesim", file=sys.stderr, flush=True)
            pesim_runs.append(run_pesim(case, args.pesim_hours, s))
            print(f"  {case.name} seed {s}: Ciw", file=sys.stderr, flush=True)
            run = run_ciw(case, args.hours, s)
            if run["seconds"] > 60:
                print(f"  warning: Ciw run took {run['seconds']:.0f} s; lower --hours", file=sys.stderr)
            ciw_runs.append(run)
        pe = {m: Estimate.of([r[m] or 0.0 for r in pesim_runs]) for m in METRICS}
        cw = {m: Estimate.of([r[m] for r in ciw_runs]) for m in METRICS}
        pe_speed = statistics.fmean(r["chats_per_second"] for r in pesim_runs)
        cw_speed = statistics.fmean(r["chats_per_second"] for r in ciw_runs)
        ratios.append(pe_speed / cw_speed)

        print()
        print(case.label)
        pe_chats = statistics.fmean(r["chats"] for r in pesim_runs)
        cw_chats = statistics.fmean(r["chats"] for r in ciw_runs)
        print(f"  measured chats per run: pesim {pe_chats:,.0f}, Ciw {cw_chats:,.0f}")
        header = f"  {'metric':<12} {'theory':>9}  {'pesim':>20}  {'Ciw':>20}  {'pesim-theory':>13}"
        print(header)
        print("  " + "-" * (len(header) - 2))
        for m in METRICS:
            label, digits = METRIC_LABELS[m]
            if m == "service_level":
                label = f"SL ({case.target_s:g} s)"
            dev = pe[m].mean - th[m]
            if m in ("p_abandon", "occupancy"):
                dev_s = f"{dev * 100:+.2f} pp"
            else:
                dev_s = f"{dev / th[m]:+.2%}"
            print(f"  {label:<12} {th[m]:>9.{digits}f}  {pe[m].fmt(digits):>20}  {cw[m].fmt(digits):>20}  {dev_s:>13}")
        print(
            f"  {'customers/s':<12} {'':>9}  {speed(pe_speed):>20}  {speed(cw_speed):>20}  "
            f"{'ratio ' + f'{pe_speed / cw_speed:,.0f}x':>13}"
        )
        if case.patience_s:
            print(
                f"  (Erlang A P(wait) on arrival, textbook definition: {th['p_wait_arrival']:.4f}; "
                f"abandon check {th['p_abandon_check']:.6f})"
            )
        print("  " + pesim_theory_agreement(case, th, pesim_runs[0]["theory"]))
        failures += check(case, th, pe)

    print()
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    geo = math.exp(statistics.fmean(math.log(r) for r in ratios))
    per_case = ", ".join(f"{c.name} {r:,.0f}x" for c, r in zip(CASES, ratios, strict=True))
    verdict = "met" if min(ratios) >= 200 else "NOT met"
    print(f"speed pesim/Ciw (customers per second): {per_case}; geometric mean {geo:,.0f}x; target >= 200x: {verdict}")
    if failures:
        print("FAIL: pesim disagrees with theory")
        for f in failures:
            print("  " + f)
        return 1
    print("PASS: pesim within 3% of Erlang C on P(wait) and SL, within 1.5 pp of Erlang A on P(abandon)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
