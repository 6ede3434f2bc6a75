"""Operating characteristics of the rollback decision, on simulated live outcome streams.

Market (fixed seeds): a persistent signal s_t (AR(1), coefficient 0.97) moves the next return,
r_{t+1} = edge * s_t + noise; the label of bar t is "the next 12 bars went up" (labels overlap: 11 of
12 bars shared with the neighbour), and the model predicts "up" when s_t > 0.  ``edge`` 0.055 gives
accuracy ~0.55 (the healthy model); edge 0 gives ~0.50 (the edge is lost).  Bars are hourly and every
bar gets one prediction and one outcome: 8,760 outcomes per slot-year (a 24/7 market).

Each slot's version has a holdout of ``HOLDOUT_ROWS`` outcomes from the healthy market, recorded at
"training" exactly as the pipeline records it (counts, block-bootstrap effective size).  Measured:

- false rollbacks of a healthy model (live skill equal to its holdout's) per slot-year: after a
  rollback the slot goes on with another healthy version (a fresh holdout), as it would in life;
- the share of looks (assessments) in which a trigger fired for that healthy model;
- time to detect a lost edge (holdout 0.55, live 0.50 from the start): the median number of outcomes
  (and days at hourly bars) until the rollback, and the share detected within a year.

BEFORE is the decision rule this project used until now (restated compactly in ``before_rollbacks``:
15% relative drop of accuracy or F1 in a window of 200 outcomes, three in a row, pooled one-sided
binomial test at 95% treating every row as independent, validation or early-live baseline).  AFTER is
``alphaplus.rollback.policy`` at the default settings.

    .venv/bin/python -m benchmarks.bench_rollback_oc [--quick]
"""

from __future__ import annotations

import math
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from scipy.signal import lfilter
from scipy.special import bdtr

from benchmarks.common import row

HORIZON = 12
HEALTHY_EDGE = 0.125
LOST_EDGE = 0.0
PERSISTENCE = 0.8
HOLDOUT_ROWS = 4_000
BARS_PER_DAY = 24
YEAR = 365 * BARS_PER_DAY
HEALTHY_SLOT_YEARS = 150
LOST_SLOTS = 100
DETECT_YEARS = 2
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def stream(rng: np.random.Generator, n: int, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels (1 = the next HORIZON bars went up) and predictions of ``n`` consecutive bars."""
    burn = 200
    signal = lfilter([math.sqrt(1 - PERSISTENCE**2)], [1, -PERSISTENCE], rng.standard_normal(n + HORIZON + burn))
    signal = signal[burn:]
    returns = np.r_[0.0, edge * signal[:-1]] + rng.standard_normal(n + HORIZON)
    csum = np.r_[0.0, np.cumsum(returns)]
    idx = np.arange(n)
    y = (csum[idx + 1 + HORIZON] - csum[idx + 1] > 0).astype(int)
    return y, (signal[:n] > 0).astype(int)


def _counts(y: np.ndarray, p: np.ndarray) -> tuple[int, int, int, int]:
    return (int(np.sum((y == 1) & (p == 1))), int(np.sum((y == 0) & (p == 1))),
            int(np.sum((y == 1) & (p == 0))), int(np.sum((y == 0) & (p == 0))))


# --- after: the project's policy -------------------------------------------------------------------


def _baseline(rng: np.random.Generator, seed: int):
    from alphaplus.rollback.baseline import Baseline, holdout_record

    y, p = stream(rng, HOLDOUT_ROWS, HEALTHY_EDGE)
    record = holdout_record(y, p.astype(float), horizon=HORIZON, training_prior=float(y.mean()), seed=seed)
    return Baseline.from_stored({"holdout": record})


def after_rollbacks(seed: int, edge: float, bars: int) -> tuple[list[int], int, int]:
    """(bar indices of rollbacks, looks, looks with a confirmed trigger) of one slot under the policy."""
    from alphaplus.rollback.policy import (
        LiveWindow, RollbackPolicy, SlotHistory, assess_rollback_needs, next_history, record_rollback,
    )

    rng = np.random.default_rng(seed)
    policy = RollbackPolicy()
    baseline = _baseline(rng, seed)
    y, p = stream(rng, bars, edge)
    step = policy.look_outcomes * HORIZON  # the service hands a look's worth of hourly windows at once
    history, out, looks, fired = SlotHistory(), [], 0, 0
    for end in range(step, bars + 1, step):
        tp, fp, fn, tn = _counts(y[end - step:end], p[end - step:end])
        at = T0 + timedelta(hours=end)
        w = LiveWindow(window_start=at - timedelta(hours=step), window_end=at, n=step, true_positives=tp,
                       false_positives=fp, false_negatives=fn, total_inferences=step, label_horizon=HORIZON)
        a = assess_rollback_needs(baseline, w, history, policy, at)
        history = next_history(history, a, at)
        looks += 1
        fired += "performance_degradation" in a.triggers
        if a.should_rollback:
            out.append(end)
            history = record_rollback(history, 1, at)
            baseline = _baseline(rng, seed + 7919 * len(out))  # the restored version: another holdout
    return out, looks, fired


# --- before: the rule this project used until now ---------------------------------------------------

BEFORE_MIN_SAMPLES, BEFORE_DROP, BEFORE_CONSECUTIVE, BEFORE_ALPHA = 200, 0.15, 3, 0.05


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def _before_significant(pool: np.ndarray, ref_acc: float, ref_f1: float) -> bool:
    tp, fp, fn, tn = (int(x) for x in pool)
    n = tp + fp + fn + tn
    acc_p = bdtr(tp + tn, n, ref_acc * (1 - BEFORE_DROP))
    f1_limit = ref_f1 * (1 - BEFORE_DROP)
    m = tp + fp + fn
    f1_p = bdtr(tp, m, f1_limit / (2 - f1_limit)) if m else 1.0
    return min(acc_p, f1_p) < BEFORE_ALPHA  # accuracy OR F1, each at alpha, rows taken as independent


def before_rollbacks(seed: int, edge: float, bars: int) -> tuple[list[int], int, int]:
    """The same slot under the previous rule: windows of 200 outcomes, validation then early-live baseline."""
    rng = np.random.default_rng(seed)
    yv, pv = stream(rng, HOLDOUT_ROWS, HEALTHY_EDGE)  # its validation set, as large as the holdout
    tp, fp, fn, tn = _counts(yv, pv)
    validation = ((tp + tn) / len(yv), _f1(tp, fp, fn))
    y, p = stream(rng, bars, edge)
    out, looks, fired = [], 0, 0
    early, streak, pool = None, 0, np.zeros(4)
    for end in range(BEFORE_MIN_SAMPLES, bars + 1, BEFORE_MIN_SAMPLES):
        c = np.array(_counts(y[end - BEFORE_MIN_SAMPLES:end], p[end - BEFORE_MIN_SAMPLES:end]))
        acc, f1 = (c[0] + c[3]) / c.sum(), _f1(*c[:3])
        if early is None:  # the version's first 200 live outcomes become its baseline unless already bad
            early = (acc, f1)
        ref = tuple(e if e >= v * (1 - BEFORE_DROP) else v for e, v in zip(early, validation))
        looks += 1
        if acc <= ref[0] * (1 - BEFORE_DROP) or f1 <= ref[1] * (1 - BEFORE_DROP):
            fired += 1
            streak, pool = streak + 1, pool + c
            if streak >= BEFORE_CONSECUTIVE and _before_significant(pool, *ref):
                out.append(end)
                early, streak, pool = None, 0, np.zeros(4)
        else:
            streak, pool = 0, np.zeros(4)
    return out, looks, fired


# --- the constructed case -----------------------------------------------------------------


def _windows_at(accuracy: float, windows: int, size: int) -> list[tuple[int, int, int, int]]:
    """``windows`` windows of ``size`` balanced outcomes with exactly ``accuracy`` (F1 alike)."""
    correct = round(accuracy * size)
    tp, fp = correct // 2, (size - correct) // 2
    return [(tp, fp, size - correct - fp, correct - tp)] * windows


def constructed_case(windows: int = 6, size: int = 1_000) -> tuple[int | None, int | None]:
    """Outcomes until a rollback when a 0.55 baseline meets six 1,000-outcome windows at exactly 0.50
    (None: never): (before, with a 0.55 validation baseline; after, with a 0.55 holdout whose effective
    size is what the simulated market's holdouts measure)."""
    from alphaplus.rollback.baseline import Baseline
    from alphaplus.rollback.policy import LiveWindow, SlotHistory, assess_rollback_needs, next_history
    from alphaplus.rollback.statistics import Confusion

    ref = (0.55, 0.55)
    streak, pool, before = 0, np.zeros(4), None
    for i, c in enumerate(_windows_at(0.50, windows, size)):
        acc, f1 = (c[0] + c[3]) / size, _f1(*c[:3])
        if acc <= ref[0] * (1 - BEFORE_DROP) or f1 <= ref[1] * (1 - BEFORE_DROP):
            streak, pool = streak + 1, pool + np.array(c)
            if streak >= BEFORE_CONSECUTIVE and _before_significant(pool, *ref) and before is None:
                before = (i + 1) * size
        else:
            streak, pool = 0, np.zeros(4)
    measured = _baseline(np.random.default_rng(0), 0)
    holdout = Baseline(confusion=Confusion(*_windows_at(0.55, 1, HOLDOUT_ROWS)[0]),
                       n_effective=HOLDOUT_ROWS / measured.design_effect(HORIZON), label_horizon=HORIZON)
    history, after = SlotHistory(), None
    for i, (tp, fp, fn, _) in enumerate(_windows_at(0.50, windows, size)):
        at = T0 + timedelta(hours=(i + 1) * size)
        w = LiveWindow(window_end=at, window_start=at - timedelta(hours=size), n=size, true_positives=tp,
                       false_positives=fp, false_negatives=fn, total_inferences=size, label_horizon=HORIZON)
        a = assess_rollback_needs(holdout, w, history, None, at)
        history = next_history(history, a, at)
        if a.should_rollback and after is None:
            after = (i + 1) * size
    return before, after


# --- measures --------------------------------------------------------------------------------------


def measure(rule: Any, healthy: int, lost: int) -> dict[str, float]:
    false = [rule(seed, HEALTHY_EDGE, YEAR) for seed in range(healthy)]
    detect = []
    for seed in range(lost):
        rollbacks, _, _ = rule(100_000 + seed, LOST_EDGE, DETECT_YEARS * YEAR)
        detect.append(rollbacks[0] if rollbacks else math.inf)
    d = np.array(detect, dtype=float)
    return {
        "false_per_year": float(np.mean([len(r) for r, _, _ in false])),
        "fired_share": float(sum(f for _, _, f in false) / max(1, sum(n for _, n, _ in false))),
        "median_outcomes": float(np.median(d)),
        "detected_in_year": float(np.mean(d <= YEAR)),
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    healthy, lost = (20, 10) if quick else (HEALTHY_SLOT_YEARS, LOST_SLOTS)
    started = time.perf_counter()
    before = measure(before_rollbacks, healthy, lost)
    after = measure(after_rollbacks, healthy, lost)
    setting = (f"{HOLDOUT_ROWS:,}-outcome holdout, label horizon {HORIZON}, hourly bars "
               f"({YEAR:,} outcomes per slot-year); {healthy} slot-years, {lost} slots losing their edge")

    def days(outcomes: float) -> float | None:
        return None if not math.isfinite(outcomes) else outcomes / BARS_PER_DAY

    def finite(x: float) -> float | None:
        return x if math.isfinite(x) else None

    case_before, case_after = constructed_case()
    return [
        row("constructed: 0.55 baseline, six 1,000-outcome windows at 0.50: outcomes until rollback",
            case_after, "outcomes", None, case_before, "baseline: before; empty = never (healthy every time)"),
        row("healthy model (live = holdout 0.55): false rollbacks per slot-year", after["false_per_year"], "/slot-year",
            "<= 1", before["false_per_year"], f"baseline: before (same streams); {setting}"),
        row("healthy model: share of looks with a confirmed trigger", after["fired_share"], "share", None,
            before["fired_share"], "baseline: before, share of 200-outcome windows past the 15% drop"),
        row("lost edge (0.55 -> 0.50): median outcomes to rollback", finite(after["median_outcomes"]), "outcomes",
            None, finite(before["median_outcomes"]), "baseline: before; empty = not detected in most of 2 years"),
        row("lost edge: median days to rollback at hourly bars", days(after["median_outcomes"]), "days", None,
            days(before["median_outcomes"]), "baseline: before"),
        row("lost edge: share rolled back within a year", after["detected_in_year"], "share", None,
            before["detected_in_year"], f"baseline: before; run took {time.perf_counter() - started:.0f} s"),
    ]


def main(argv: list[str] | None = None) -> None:
    from benchmarks.__main__ import print_table

    print_table([{"bench": "bench_rollback_oc", **r} for r in run(quick="--quick" in (argv or sys.argv[1:]))])


if __name__ == "__main__":
    main()
