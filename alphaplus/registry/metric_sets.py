"""A version's metrics named by the set they were measured on, for the model card (dashboard and CLI).

The same metric differs from set to set (accuracy 0.64 on the validation rows that chose the
early-stopping iteration, 0.40 live), so a metric is never shown without its set:

- train: ``model_versions.training_metrics.train`` (flat training metrics of versions registered by hand);
- validation: ``model_versions.validation_metrics``;
- holdout: ``model_versions.training_metrics.holdout``;
- gate window: ``model_comparison.challenger_metrics`` of the version's latest gate (migration 0014);
- live: matured outcomes of its predictions (``model_performance_history``, source 'live').

Pure: no database, no web framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Metrics shown first, in this order; other numeric keys follow.
METRIC_ORDER = ("n", "accuracy", "skill", "f1", "precision", "recall", "roc_auc", "log_loss", "error_rate",
                "max_psi", "class_balance", "signal_pnl")

# What each set is, in the words the card prints under its table.
SET_DESCRIPTIONS = {
    "train": "the rows it was fitted on",
    "validation": "the rows that chose its early-stopping iteration",
    "holdout": "unseen rows after the purge gap, at training time",
    "gate window": "the unseen rows its promotion gate scored it on",
    "live": "matured outcomes of its predictions",
}


def metric_sets(
    training_metrics: Mapping[str, Any], validation_metrics: Mapping[str, Any],
    live: Mapping[str, Any] | None = None, *, gate: Mapping[str, Any] | None = None,
) -> tuple[list[str], list[tuple[str, list[Any]]]]:
    """(set names, rows of (metric, value per set)): train / validation / holdout / gate window / live.

    The retrain flow stores training metrics as {"train": {...}, "holdout": {...}}; a version
    registered otherwise may hold flat training metrics, shown as the train set.
    """
    nested = isinstance(training_metrics.get("train"), Mapping) or isinstance(training_metrics.get("holdout"),
                                                                              Mapping)
    sets: dict[str, Mapping[str, Any]] = {
        "train": (training_metrics.get("train") or {}) if nested else training_metrics,
        "validation": validation_metrics,
    }
    if nested and isinstance(training_metrics.get("holdout"), Mapping):
        sets["holdout"] = training_metrics["holdout"]
    if gate:
        sets["gate window"] = gate
    if live:
        sets["live"] = live
    keys = [k for k in METRIC_ORDER if any(_is_number(s.get(k)) for s in sets.values())]
    keys += sorted({k for s in sets.values() for k, v in s.items() if _is_number(v)} - set(keys))
    return list(sets), [(k, [sets[name].get(k) for name in sets]) for k in keys]


def set_notes(names: list[str]) -> str:
    """'train: the rows it was fitted on · validation: ...' for the sets shown."""
    return " · ".join(f"{n}: {SET_DESCRIPTIONS[n]}" for n in names if n in SET_DESCRIPTIONS)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
