"""Stored evidence (pooled live windows, candidate records) turned into the rollback policy's inputs.

Pure: the rows come from db/rollback.py, the decisions from alphaplus.rollback.policy and .target.
"""

from __future__ import annotations

from typing import Any, Mapping

from alphaplus.core import lifecycle
from alphaplus.rollback.policy import Baseline, LiveWindow
from alphaplus.rollback.target import Candidate


def metric(metrics: Mapping[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def f1_of(totals: Any) -> float | None:
    if totals.confusion is not None:
        tp, fp, fn = totals.confusion
        return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return totals.f1


def live_window(t: Any) -> LiveWindow:
    tp, fp, fn = t.confusion if t.confusion is not None else (None, None, None)
    return LiveWindow(
        window_end=t.window_end, window_start=t.window_start, n=t.n, n_correct=t.n_correct,
        f1=None if t.confusion is not None else t.f1, true_positives=tp, false_positives=fp, false_negatives=fn,
        error_count=t.errors, total_inferences=t.inferences, max_psi=t.max_psi,
    )


def baseline(validation: Mapping[str, Any], early: Any) -> Baseline:
    return Baseline(
        accuracy=metric(validation, "accuracy"), f1=metric(validation, "f1"),
        live_accuracy=early.n_correct / early.n if early.n else None,
        live_f1=f1_of(early) if early.n else None, live_samples=early.n,
    )


def candidate(rec: Any, verified: bool) -> Candidate:
    recent = rec.recent
    live = None
    if recent.n:
        live = {"accuracy": recent.n_correct / recent.n}
        f1 = f1_of(recent)
        if f1 is not None:
            live["f1"] = f1
    return Candidate(
        version=rec.version, status=rec.status, quarantined=rec.quarantine_reason is not None,
        artifact_verified=verified,
        validation_metrics={k: v for k in ("f1", "accuracy") if (v := metric(rec.validation_metrics, k)) is not None},
        live_metrics=live, live_samples=recent.n,
        served_production_without_incident=(
            rec.served_production and rec.rolled_back_for_cause_at is None and rec.status != lifecycle.FAILED
        ),
        last_production_end=rec.last_production_end, rolled_back_for_cause_at=rec.rolled_back_for_cause_at,
    )


def totals_dict(t: Any) -> dict[str, Any]:
    return {
        "windows": t.windows, "window_start": t.window_start, "window_end": t.window_end, "n": t.n,
        "n_correct": t.n_correct, "confusion": None if t.confusion is None else list(t.confusion),
        "f1": t.f1, "errors": t.errors, "inferences": t.inferences, "max_psi": t.max_psi,
    }
