"""Builds the decision policies from the one settings object (and per-run overrides)."""

from __future__ import annotations

from typing import Any

from alphaplus.promotion.gate import GatePolicy
from alphaplus.core.settings import Settings


def gate_policy(settings: Settings, **overrides: Any) -> GatePolicy:
    """The promotion gate's thresholds: settings, with any non-None override applied."""
    values: dict[str, Any] = {
        "floors": {"f1": settings.gate_min_f1, "roc_auc": settings.gate_min_roc_auc},
        "max_degradation": settings.gate_max_degradation,
        "min_improvement": settings.gate_min_improvement,
        "min_samples": settings.gate_min_samples,
        "alpha": settings.gate_alpha,
        "compared_metrics": settings.gate_compared_metrics,
        "primary_metric": settings.gate_primary_metric,
    }
    floors = dict(values["floors"])
    for metric in ("f1", "roc_auc"):
        value = overrides.pop(f"min_{metric}", None)
        if value is not None:
            floors[metric] = value
    values["floors"] = floors
    values.update({k: v for k, v in overrides.items() if v is not None})
    return GatePolicy(**values)
