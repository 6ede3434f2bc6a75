"""Champion vs challenger on the same unseen window: the gate's inputs, and the model card."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from alphaplus.core.entities import ModelVersion, Slot
from alphaplus.ml.pipeline import Dataset, TrainingConfig, evaluate, prepare_dataset
from alphaplus.ml.training import TrainedModel
from alphaplus.promotion.gate import GateDecision, GatePolicy, decide_promotion, unscored
from alphaplus.promotion.window import UnseenFrom, training_prior, unseen_from


@dataclass(frozen=True)
class GateOutcome:
    """A gate decision with everything the comparison row and the model card show."""

    slot: Slot
    challenger_version: int
    champion_version: int | None
    decision: GateDecision
    challenger_metrics: dict[str, Any]
    champion_metrics: dict[str, Any] | None
    window_start: pd.Timestamp | None
    window_end: pd.Timestamp | None
    n_samples: int
    unseen: tuple[UnseenFrom, ...] = ()


def _aligned(window: Dataset, other: Dataset) -> tuple[Dataset, Dataset]:
    """Restrict two datasets to the timestamps both hold (feature warm-ups may differ)."""
    common = pd.Index(window.ts).intersection(pd.Index(other.ts))
    return window.part(window.ts.isin(common).to_numpy()), other.part(other.ts.isin(common).to_numpy())


def run_gate(
    *,
    slot: Slot,
    challenger: ModelVersion,
    challenger_model: TrainedModel,
    champion: ModelVersion | None,
    champion_model: TrainedModel | None,
    candles: pd.DataFrame,
    config: TrainingConfig,
    policy: GatePolicy,
    challenger_lineage: Any | None = None,
    champion_lineage: Any | None = None,
) -> GateOutcome:
    """Score both models on the rows neither has seen (chosen by time, from their recorded data ends)
    and decide; with no such rows the decision is needs_review and nothing is scored."""
    bounds = [unseen_from(challenger, challenger_lineage)]
    if champion is not None:
        bounds.append(unseen_from(champion, champion_lineage))

    def outcome(decision: GateDecision, window: Dataset | None = None, ours: dict | None = None,
                theirs: dict | None = None) -> GateOutcome:
        empty = window is None or len(window) == 0
        return GateOutcome(
            slot=slot, challenger_version=challenger.version, champion_version=champion.version if champion else None,
            decision=decision, challenger_metrics=ours or {}, champion_metrics=theirs,
            window_start=None if empty else window.ts.iloc[0], window_end=None if empty else window.ts.iloc[-1],
            n_samples=0 if empty else len(window), unseen=tuple(bounds),
        )

    unknown = [b for b in bounds if b.ts is None]
    if unknown:
        return outcome(unscored(
            "; ".join(b.describe() for b in unknown) + ": the gate cannot tell which rows are unseen, "
            "so it scores nothing; review by hand", has_champion=champion is not None, policy=policy))
    start = max(b.ts for b in bounds)  # type: ignore[type-var]
    ours = prepare_dataset(candles, slot.regime, replace(config, feature_spec=challenger_model.feature_spec))
    window = ours.part((ours.ts >= start).to_numpy())
    theirs = None
    if champion_model is not None and len(window):
        theirs = prepare_dataset(candles, slot.regime, replace(config, feature_spec=champion_model.feature_spec))
        window, theirs = _aligned(window, theirs)
    if len(window) == 0:
        return outcome(unscored(
            f"no {slot.regime} rows with a known outcome lie after the training and validation data of every "
            f"compared version ({'; '.join(b.describe() for b in bounds)}); the gate never scores a model on "
            "data it has seen: wait for new candles or review by hand",
            has_champion=champion is not None, policy=policy))
    prior = training_prior(challenger)
    if prior is None:  # not recorded: the share of "up" among the rows before the unseen window
        before = ours.y[(ours.ts < start).to_numpy()]
        prior = float(before.mean()) if len(before) else 0.5
    challenger_eval, challenger_metrics = evaluate(challenger_model, window, training_prior=prior,
                                                   cost_per_trade=policy.cost_per_trade)
    champion_eval = champion_metrics = None
    if champion_model is not None and theirs is not None:
        champion_eval, champion_metrics = evaluate(champion_model, theirs, training_prior=prior,
                                                   cost_per_trade=policy.cost_per_trade)
    decision = decide_promotion(challenger_eval, champion_eval, policy)
    return outcome(decision, window, challenger_metrics, champion_metrics)


_CARD_METRICS = ("accuracy", "balanced_accuracy", "mcc", "roc_auc", "log_loss", "brier", "f1", "precision", "recall",
                 "positive_rate", "class_balance", "net_return_per_trade", "net_trades", "n")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if np.isfinite(value) else "–"
    return str(value)


def model_card(outcome: GateOutcome, lineage: Any | None = None) -> str:
    """Markdown model card: lineage, challenger vs champion metrics, the tests, the decision and why."""
    d = outcome.decision
    s = outcome.slot
    lines = [
        f"# {s.model_name} v{outcome.challenger_version} — {d.outcome.replace('_', ' ')}",
        "",
        f"Slot: **{s.model_name} / {s.regime} / {s.symbol}**; champion: "
        f"{'v' + str(outcome.champion_version) if outcome.champion_version else 'none (first model of the slot)'}",
        f"Unseen window: {outcome.window_start} → {outcome.window_end} ({outcome.n_samples} rows"
        + (f" = {d.n_outcomes} independent {d.horizon}-bar outcomes" if d.horizon else "")
        + (f", effective n {d.n_effective:.0f}" if d.n_effective else "") + ")",
    ]
    lines += [f"- {b.describe()}" for b in outcome.unseen]
    lines += ["", "| metric | challenger | champion | difference |", "| --- | --- | --- | --- |"]
    for m in _CARD_METRICS:
        ours = outcome.challenger_metrics.get(m)
        theirs = (outcome.champion_metrics or {}).get(m)
        lines.append(f"| {m} | {_fmt(ours)} | {_fmt(theirs)} | {_fmt(d.deltas.get(m))} |")
    if d.tests:
        method = dict(d.resampling or {})
        lines += ["", f"Tests (paired {method.get('method')} block bootstrap, block length "
                      f"{method.get('block_length', 0):.0f} rows, {method.get('reps')} resamples; one-sided, "
                      f"alpha {d.policy.alpha if d.policy else ''}):", "",
                  "| test | estimate | interval | p | effective n |", "| --- | --- | --- | --- | --- |"]
        for t in d.tests:
            lines.append(f"| {t.name} | {t.estimate:+.4f} | [{t.ci_low:+.4f}, {t.ci_high:+.4f}] | {t.p_value:.3g} | "
                         f"{_fmt(t.n_effective and round(t.n_effective))} |")
    lines += ["", "## Decision", f"**{d.outcome}**", ""] + [f"- {r}" for r in d.reasons]
    if lineage is not None:
        lines += [
            "",
            "## Lineage",
            f"- training data: `{lineage.training_data_hash}` ({lineage.training_data_start} → {lineage.training_data_end})",
            f"- feature set: `{lineage.feature_set_hash}`",
            f"- hyperparameters: `{lineage.hyperparameters_hash}`",
            f"- parent version: {lineage.parent_model_version}",
        ]
    return "\n".join(lines)
