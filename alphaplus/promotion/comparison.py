"""Champion vs challenger on the same out-of-sample window: the gate's inputs, and the model card."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from alphaplus.core.entities import ModelVersion, Slot
from alphaplus.promotion.gate import GateDecision, GatePolicy, decide_promotion
from alphaplus.ml.pipeline import Dataset, TrainingConfig, evaluate, holdout_window, prepare_dataset
from alphaplus.ml.training import TrainedModel


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


def _aligned(window: Dataset, other: Dataset) -> tuple[Dataset, Dataset]:
    """Restrict two datasets to the timestamps both hold (feature warm-ups may differ)."""
    common = pd.Index(window.ts).intersection(pd.Index(other.ts))
    return _select(window, common), _select(other, common)


def _select(d: Dataset, ts: pd.Index) -> Dataset:
    mask = d.ts.isin(ts).to_numpy()
    return Dataset(d.regime, d.X.loc[mask].reset_index(drop=True), d.y.loc[mask].reset_index(drop=True),
                   d.forward.loc[mask].reset_index(drop=True), d.ts.loc[mask].reset_index(drop=True))


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
) -> GateOutcome:
    """Score both models on the challenger's holdout window (the newest bars, unseen by it) and decide."""
    window = holdout_window(prepare_dataset(candles, slot.regime, replace(config, feature_spec=challenger_model.feature_spec)), config)
    champion_eval = champion_metrics = None
    if champion_model is not None:
        theirs = prepare_dataset(candles, slot.regime, replace(config, feature_spec=champion_model.feature_spec))
        window, theirs = _aligned(window, theirs)
        champion_eval, champion_metrics = evaluate(champion_model, theirs)
    challenger_eval, challenger_metrics = evaluate(challenger_model, window)
    decision = decide_promotion(challenger_eval, champion_eval, policy)
    return GateOutcome(
        slot=slot,
        challenger_version=challenger.version,
        champion_version=champion.version if champion else None,
        decision=decision,
        challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics,
        window_start=window.ts.iloc[0] if len(window) else None,
        window_end=window.ts.iloc[-1] if len(window) else None,
        n_samples=len(window),
    )


_CARD_METRICS = ("accuracy", "f1", "precision", "recall", "roc_auc", "log_loss", "signal_pnl", "n")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def model_card(outcome: GateOutcome, lineage: Any | None = None) -> str:
    """Markdown model card: lineage, challenger vs champion metrics, the decision and its reasons."""
    d = outcome.decision
    s = outcome.slot
    lines = [
        f"# {s.model_name} v{outcome.challenger_version} — {d.outcome.replace('_', ' ')}",
        "",
        f"Slot: **{s.model_name} / {s.regime} / {s.symbol}**; champion: "
        f"{'v' + str(outcome.champion_version) if outcome.champion_version else 'none (first model of the slot)'}",
        f"Evaluation window: {outcome.window_start} → {outcome.window_end} ({outcome.n_samples} bars)",
        "",
        "| metric | challenger | champion | difference |",
        "| --- | --- | --- | --- |",
    ]
    for m in _CARD_METRICS:
        ours = outcome.challenger_metrics.get(m)
        theirs = (outcome.champion_metrics or {}).get(m)
        lines.append(f"| {m} | {_fmt(ours)} | {_fmt(theirs)} | {_fmt(d.deltas.get(m))} |")
    if d.mcnemar is not None:
        lines += ["", f"McNemar exact test: b={d.mcnemar.b}, c={d.mcnemar.c}, p={d.mcnemar.p_value:.4g}"]
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
