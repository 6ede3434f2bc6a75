"""Builds the decision policies from the one settings object (and per-run overrides)."""

from __future__ import annotations

from typing import Any

from alphaplus.core.settings import Settings
from alphaplus.promotion.gate import GatePolicy

# GatePolicy fields read one-to-one from ``gate_<field>`` settings.
_PLAIN_FIELDS = ("alpha", "min_outcomes", "primary_metric", "skill_metric", "skill_rule", "max_degradation", "compared_metrics",
                 "min_improvement", "on_insignificant", "resampling", "bootstrap_reps", "block_floor", "seed",
                 "walk_forward_folds", "cost_per_trade")


def gate_policy(settings: Settings, **overrides: Any) -> GatePolicy:
    """The promotion gate's thresholds: settings, with any non-None override applied.

    ``min_f1`` / ``min_roc_auc`` (settings or overrides) become point floors when set.
    """
    values: dict[str, Any] = {name: getattr(settings, f"gate_{name}") for name in _PLAIN_FIELDS}
    floors = {"f1": settings.gate_min_f1, "roc_auc": settings.gate_min_roc_auc}
    for metric in ("f1", "roc_auc"):
        value = overrides.pop(f"min_{metric}", None)
        if value is not None:
            floors[metric] = value
    values["floors"] = {k: v for k, v in floors.items() if v is not None}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return GatePolicy(**values)
