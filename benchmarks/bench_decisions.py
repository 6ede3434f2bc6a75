"""Operating characteristics of the promotion gate on simulated markets with fixed seeds.

    .venv/bin/python -m benchmarks.bench_decisions [SIMS]      (or ALPHAPLUS_BENCH_DECISION_SIMS)

Markets (alphaplus.market.random_walk), hourly bars, label horizon 12:
- random walk: no drift, no edge: every promotion is a false promotion;
- FX drift: EURUSD-shaped, weekends removed, a drift that makes "always up" right ~55% of the time
  over 12 bars (still no edge beyond the drift);
- planted edge: the price is pulled back to its 24-bar EMA with strength ``edge``; a model that sees
  the distance to its moving averages can learn it.

Markets have 3,000 bars (unseen holdouts of ~580 rows = 48 independent outcomes); the planted edge
of 0.1 is also run on 6,000 bars (~1,150 rows = 96 outcomes) to show how power grows with the window.  Per market and seed, two models are fitted on the same time split (60% train, 20% validation, 20%
unseen holdout, purged by the horizon): a "champion" that sees only volatility, volume and candle-shape
features, and a "challenger" that sees every feature.  Both are logistic regressions on the project's
features (fast enough for hundreds of repetitions; the LightGBM pipeline is run on a few seeds by the
last rows).  The gate decides on the holdout: the challenger as a first model (no champion), and the
challenger against the champion.

Measured: the share of promotions on no-skill markets (false promotion rate; target <= 5%) and on the
planted edges (power), plus the share of 500-row windows in which two no-skill rules look different
to McNemar's test on rows (as if independent) and to the paired block-bootstrap test.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.common import row

HORIZON = 12
BARS = 3_000
POWER_BARS = 6_000
SIMS = int(os.environ.get("ALPHAPLUS_BENCH_DECISION_SIMS", "60"))
PIPELINE_SEEDS = int(os.environ.get("ALPHAPLUS_BENCH_DECISION_PIPELINE_SEEDS", "8"))
RULE_WINDOWS = 500
FALSE_PROMOTION_TARGET = "<= 0.05"
# Measured with the same seeds and sizes (3,000 bars) on the gate this benchmark replaced (McNemar's
# test on rows, point floors for first models), 100 seeds: shown beside today's numbers.
BEFORE = {
    "first_random": 0.38, "first_fx": 0.42, "versus_random": 0.05, "versus_fx": 0.06,
    "first_edge_0.05": 0.80, "versus_edge_0.05": 0.41, "first_edge_0.1": 0.99, "versus_edge_0.1": 0.72,
    "pipeline": 0.125,
}

# Features a no-skill champion sees: nothing about where the price is relative to its recent path.
BLIND_FEATURES = ("vol_12", "vol_48", "vol_ratio", "atr_14", "range_rel", "volume_z_48", "body_ratio",
                  "upper_wick_ratio", "lower_wick_ratio")


@dataclass(frozen=True)
class Window:
    """One market's unseen holdout with both models' probabilities, and the challenger's training prior."""

    y: np.ndarray
    challenger: np.ndarray
    champion: np.ndarray
    training_prior: float
    accuracy_always_up: float


def market(kind: str, seed: int, edge: float = 0.0, bars: int = BARS):
    from alphaplus.market.random_walk import fx_candles, random_walk_candles

    if kind == "fx":
        return fx_candles(bars, seed=seed)
    return random_walk_candles(bars, seed=seed, edge=edge)


def fitted_window(candles) -> Window:
    """Features and labels of every bar, a purged time split, two logistic models, the holdout."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from alphaplus.ml.features import build_features
    from alphaplus.ml.labels import make_labels
    from alphaplus.ml.training import time_split

    X = build_features(candles)
    y = make_labels(candles, HORIZON)
    keep = (y.notna() & X.notna().all(axis=1)).to_numpy()
    X, y = X.loc[keep].reset_index(drop=True), y.loc[keep].astype(int).to_numpy()
    split = time_split(len(y), 0.6, 0.2, purge=HORIZON)
    probs = []
    for columns in (list(BLIND_FEATURES), list(X.columns)):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
        model.fit(X.iloc[split.train][columns], y[split.train])
        probs.append(model.predict_proba(X.iloc[split.holdout][columns])[:, 1])
    y_hold = y[split.holdout]
    return Window(y_hold, probs[1], probs[0], float(y[split.train].mean()), float(y_hold.mean()))


# --- the gate under test ---------------------------------------------------------------------------


def gate_decisions(w: Window, policy: Any = None) -> tuple[str, str]:
    """(first-model decision, challenger-vs-champion decision) of the gate (default settings)."""
    from alphaplus.promotion.gate import Evaluation, GatePolicy, decide_promotion

    policy = policy or GatePolicy()
    challenger = Evaluation(y=w.y, proba=w.challenger, horizon=HORIZON, training_prior=w.training_prior)
    champion = Evaluation(y=w.y, proba=w.champion, horizon=HORIZON, training_prior=w.training_prior)
    return decide_promotion(challenger, None, policy).outcome, decide_promotion(challenger, champion, policy).outcome


# --- the scenarios -----------------------------------------------------------------------------------


def promotion_rates(kind: str, sims: int, edge: float = 0.0, bars: int = BARS,
                    policies: dict[str, Any] | None = None) -> dict[str, dict[str, float]]:
    """Per policy: the share of seeds whose challenger is promoted as a first model and over the champion."""
    policies = policies or {"default": None}
    counts = {name: [0, 0] for name in policies}
    always_up = []
    for seed in range(sims):
        w = fitted_window(market(kind, 10_000 + seed, edge, bars))
        always_up.append(w.accuracy_always_up)
        for name, policy in policies.items():
            a, b = gate_decisions(w, policy)
            counts[name][0] += a == "promote"
            counts[name][1] += b == "promote"
    return {name: {"first": c[0] / sims, "versus": c[1] / sims, "always_up": float(np.mean(always_up))}
            for name, c in counts.items()}


def rule_windows(horizon: int, windows: int) -> dict[str, float]:
    """Two no-skill rules (5-bar momentum, 12-bar reversal) on random-walk windows of 500 rows:
    how often each test calls them different at the 5% level (two-sided)."""
    from scipy.stats import binomtest

    from alphaplus.ml.evidence import Resampler, compare

    rng = np.random.default_rng(7)
    mcnemar = boot = 0
    for k in range(windows):
        path = np.cumsum(rng.standard_normal(RULE_WINDOWS + horizon + 20))
        now = path[20 : 20 + RULE_WINDOWS]
        y = (path[20 + horizon : 20 + horizon + RULE_WINDOWS] - now > 0).astype(int)
        momentum = 1 / (1 + np.exp(-(now - path[15 : 15 + RULE_WINDOWS])))
        reversal = 1 / (1 + np.exp((now - path[8 : 8 + RULE_WINDOWS]) / 2))
        a, b = (momentum > 0.5) == y, (reversal > 0.5) == y
        won, lost = int(np.sum(a & ~b)), int(np.sum(~a & b))
        mcnemar += won + lost > 0 and binomtest(won, won + lost).pvalue < 0.05
        rs = Resampler.draw(RULE_WINDOWS, horizon=horizon, series=(a.astype(float) - b), reps=499, seed=k)
        p = compare("accuracy", y, momentum, reversal, rs).p_value
        boot += p < 0.025 or p > 0.975
    return {"mcnemar": mcnemar / windows, "bootstrap": boot / windows}


def pipeline_first_models(seeds: int) -> dict[str, float]:
    """The real pipeline (LightGBM, regime datasets, the gate as the retrain flow runs it) on random
    walks: the share of first models promoted."""
    from alphaplus.core.entities import Slot
    from alphaplus.core.settings import Settings
    from alphaplus.ml.pipeline import TrainingConfig, fit_slot, prepare_dataset
    from alphaplus.promotion.comparison import run_gate
    from alphaplus.promotion.config import gate_policy
    from alphaplus.market.random_walk import random_walk_candles

    policy = gate_policy(Settings())
    config = TrainingConfig(horizon=HORIZON)
    promoted = fitted = 0
    for seed in range(seeds):
        candles = random_walk_candles(6_000, seed=20_000 + seed)
        slot = Slot("bench", "ranging", "RW")
        fit = fit_slot(prepare_dataset(candles, slot.regime, config), config, {})
        version = _pipeline_version(slot, fit)
        outcome = run_gate(slot=slot, challenger=version, challenger_model=fit.trained, champion=None,
                           champion_model=None, candles=candles, config=config, policy=policy)
        fitted += 1
        promoted += outcome.decision.outcome == "promote"
    return {"promoted": promoted / fitted}


def _pipeline_version(slot, fit):
    from datetime import UTC, datetime
    from uuid import uuid4

    from alphaplus.core.entities import ModelVersion, StoredArtifact, UsageStats

    now = datetime.now(UTC)
    return ModelVersion(model_name=slot.model_name, version=1, regime=slot.regime, symbol=slot.symbol,
                        status="staging", lineage_id=uuid4(), artifact=StoredArtifact("x", 1, "0" * 64),
                        training_metrics={"train": fit.training_metrics, "holdout": fit.holdout_metrics},
                        validation_metrics=fit.validation_metrics,
                        version_metadata={"seen_data_end": fit.seen_data_end.isoformat(),
                                          "holdout_start": fit.holdout_start.isoformat()},
                        created_at=now, updated_at=now, promoted_at=None, deprecated_at=None,
                        usage=UsageStats())


def run(sims: int | None = None, quick: bool = False) -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_limits

    # One BLAS thread: hundreds of small fits, and a multi-threaded BLAS on 2 busy cores is 5x slower.
    with threadpool_limits(limits=1):
        return _run(sims or (20 if quick else SIMS), quick)


def _before(key: str) -> str:
    return f"before: {BEFORE[key]:.2f}"


def _run(sims: int, quick: bool) -> list[dict[str, Any]]:
    from alphaplus.promotion.gate import GatePolicy

    rows: list[dict[str, Any]] = []
    target = FALSE_PROMOTION_TARGET
    for h in (HORIZON, 1):
        r = rule_windows(h, max(20, sims))
        rows.append(row(f"two no-skill rules told apart, 500-row windows, horizon {h}: paired block bootstrap",
                        r["bootstrap"], "share", None, r["mcnemar"],
                        note="baseline: McNemar on rows; both two-sided at a nominal 0.05"))

    noskill = promotion_rates("random", sims)["default"]
    fx = promotion_rates("fx", sims)["default"]
    rows += [
        row(f"false promotion, first model, random walk ({sims} seeds)", noskill["first"], "share", target,
            note=_before("first_random")),
        row(f"false promotion, first model, FX drift (always-up right {fx['always_up']:.2f})", fx["first"], "share",
            target, note=_before("first_fx")),
        row("false promotion, no-skill challenger vs no-skill champion, random walk", noskill["versus"], "share",
            target, note=_before("versus_random")),
        row("false promotion, no-skill challenger vs no-skill champion, FX drift", fx["versus"], "share", target,
            note=_before("versus_fx")),
    ]
    strict = GatePolicy(skill_rule="significant")
    for edge, bars in ((0.05, BARS), (0.1, BARS), (0.1, POWER_BARS)):
        power = promotion_rates("edge", sims, edge, bars, {"default": None, "strict": strict})
        before = f"before: {BEFORE[f'first_edge_{edge}']:.2f}; " if bars == BARS else ""
        rows.append(row(f"power: first model on a planted edge {edge}, {bars} bars", power["default"]["first"],
                        "share", note=before + f"skill_rule=significant: {power['strict']['first']:.2f}"))
        before = f"before: {BEFORE[f'versus_edge_{edge}']:.2f}; " if bars == BARS else ""
        rows.append(row(f"power: edge {edge} challenger vs no-skill champion, {bars} bars", power["default"]["versus"],
                        "share", note=before + f"skill_rule=significant: {power['strict']['versus']:.2f}"))

    seeds = min(PIPELINE_SEEDS, 1) if quick else PIPELINE_SEEDS  # quick: one seed, so the path stays exercised
    if seeds:
        p = pipeline_first_models(seeds)
        rows.append(row(f"false promotion, LightGBM pipeline first model, random walk ({seeds} seeds)",
                        p["promoted"], "share", target, note=_before("pipeline")))
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import print_table

    started = time.perf_counter()
    print_table(run(int(sys.argv[1]) if len(sys.argv) > 1 else None))
    print(f"\n{time.perf_counter() - started:.0f} s")
