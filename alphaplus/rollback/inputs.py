"""Stored rows -> the pure policy's inputs: live windows, baselines and rollback candidates.

The rows are db.rollback's (pooled window totals, version records); this module only reshapes them,
so the service stays about orchestration and the policy never sees a database row.
"""

from __future__ import annotations

from typing import Any

from alphaplus.core import lifecycle
from alphaplus.rollback.baseline import Baseline
from alphaplus.rollback.state import Evidence, LiveWindow
from alphaplus.rollback.statistics import SKILLS, Confusion, skill
from alphaplus.rollback.target import Candidate


def confusion_of(t: Any) -> Confusion | None:
    """All four counts of pooled window totals (None when a window lacked them)."""
    if t.confusion is None:
        return None
    tp, fp, fn = t.confusion
    return Confusion(tp, fp, fn, max(t.n - tp - fp - fn, 0))


def live_window(t: Any) -> LiveWindow:
    """Pooled window totals as the policy's live window."""
    tp, fp, fn = t.confusion if t.confusion is not None else (None, None, None)
    return LiveWindow(
        window_end=t.window_end, window_start=t.window_start, n=t.n,
        n_correct=None if t.confusion is not None else t.n_correct,
        true_positives=tp, false_positives=fp, false_negatives=fn, error_count=t.errors,
        total_inferences=t.inferences, max_psi=t.max_psi, psi_threshold=t.psi_threshold,
        label_horizon=t.label_horizon,
    )


def evidence_of(t: Any) -> Evidence:
    """Pooled window totals as Evidence (no windows: empty evidence)."""
    return live_window(t).evidence if t.windows else Evidence()


def baseline_of(record: Any) -> Baseline:
    """The version's baseline from its stored metrics (holdout, else validation)."""
    return Baseline.from_stored(record.training_metrics, record.validation_metrics)


def skills_of(counts: Confusion | None, reference_class: int) -> dict[str, float]:
    """Every skill of ``counts`` that is defined."""
    if counts is None:
        return {}
    out = {}
    for metric in SKILLS:
        est = skill(metric, counts, reference_class)
        if est is not None:
            out[metric] = est.value
    return out


def candidate(rec: Any, verified: bool) -> Candidate:
    """A rollback candidate: baseline skills from its holdout, live skills from its recent live or
    shadow windows."""
    base = baseline_of(rec)
    recent = rec.recent
    live = skills_of(confusion_of(recent), base.reference_class) if recent.n else None
    return Candidate(
        version=rec.version, status=rec.status, quarantined=rec.quarantine_reason is not None,
        artifact_verified=verified,
        baseline_metrics=skills_of(base.confusion, base.reference_class),
        baseline_source="validation" if base.source == "validation" else "holdout",
        live_metrics=live, live_samples=recent.n,
        label_horizon=int(recent.label_horizon or base.label_horizon or 1),
        served_production_without_incident=(
            rec.served_production and rec.rolled_back_for_cause_at is None and rec.status != lifecycle.FAILED
        ),
        last_production_end=rec.last_production_end, rolled_back_for_cause_at=rec.rolled_back_for_cause_at,
    )


def totals_dict(t: Any) -> dict[str, Any]:
    """JSON-able pooled window totals (for metrics snapshots)."""
    return {
        "windows": t.windows, "window_start": t.window_start, "window_end": t.window_end, "n": t.n,
        "n_correct": t.n_correct, "confusion": None if t.confusion is None else list(t.confusion),
        "errors": t.errors, "inferences": t.inferences, "max_psi": t.max_psi,
        "label_horizon": t.label_horizon, "psi_threshold": t.psi_threshold,
    }
