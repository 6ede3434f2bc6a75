"""Validation-gated promotion: decide whether a freshly trained challenger may replace the champion.

Both models are scored on the SAME out-of-sample window, so their per-sample correctness can be
paired and compared with McNemar's exact test.  The rules run in this order; the first one that
decides, decides (later checks still add their findings to ``reasons`` where they were computed):

1. Too few evaluation samples (challenger ``n`` below ``min_samples``)       -> needs_review
2. Any metric floor missed, or a floor metric missing / not a number          -> reject
3. No champion (first model of the slot): floors and sample minimum decide    -> promote
4. Any compared metric worse than the champion by more than its tolerance     -> reject
   (a metric that is not a number for either model is skipped and named in the reasons)
5. McNemar: challenger significantly worse (p < alpha, more pairs lost)       -> reject
6. Primary metric's relative improvement below ``min_improvement``            -> reject
7. Improvement not statistically significant (p >= alpha, or untestable)      -> ``on_insignificant``
                                                                                 (default needs_review)
8. Otherwise                                                                   -> promote

Why rule 6 rejects rather than asking a person: the champion already serves; a challenger that is not
better gives no reason to change, retraining will try again, and a review queue flooded with
non-improvements teaches people to ignore it.  Why rule 7 defaults to ``needs_review``: a gain the
test cannot tell from noise is exactly where a person (who knows the data was refreshed or the regime
changed) should choose; auto-promoting it makes production follow noise, auto-rejecting it would keep
a stale champion forever.  Set ``on_insignificant="promote"`` for a non-inferiority gate.

All metrics are treated as higher-is-better (accuracy, precision, recall, f1, roc_auc, ...).
McNemar's test is on per-sample correctness (the only per-sample quantity that pairs up), so
"significant" means the challenger is right on significantly more rows; the primary metric must
improve as well (rule 6).  The two-sided p-value is used in both directions, so each direction is
tested at alpha / 2: deliberately conservative for a decision that replaces a working model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from scipy.stats import binomtest

from alphaplus.core.errors import InvalidInput

Outcome = Literal["promote", "reject", "needs_review"]


def _frozen_metrics(metrics: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in metrics.items()})


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """One model's scores on the shared out-of-sample window.

    ``correct`` is the per-sample correctness (prediction == label) in the window's row order; it is
    what McNemar's test pairs between challenger and champion.  ``n`` defaults to ``len(correct)``.
    ``window`` optionally identifies the evaluation window (e.g. a hash of its index); when both
    models carry one they must match.
    """

    metrics: Mapping[str, float]
    correct: Sequence[bool] | np.ndarray | None = field(default=None, compare=False)
    n: int | None = None
    window: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", _frozen_metrics(self.metrics))
        if self.correct is not None:
            arr = np.asarray(self.correct)
            if arr.ndim != 1:
                raise InvalidInput("per-sample correctness must be a flat sequence of booleans")
            arr = arr.astype(bool, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, "correct", arr)
            if self.n is None:
                object.__setattr__(self, "n", int(arr.size))
            elif int(self.n) != arr.size:
                raise InvalidInput(f"evaluation says n={self.n} but has {arr.size} per-sample results")
        if self.n is None:
            raise InvalidInput("an evaluation needs its sample count n (or the per-sample correctness)")
        if int(self.n) < 0:
            raise InvalidInput(f"sample count cannot be negative (got {self.n})")
        object.__setattr__(self, "n", int(self.n))


@dataclass(frozen=True, kw_only=True)
class GatePolicy:
    """Thresholds of the promotion gate; the settings object constructs one from ``ALPHAPLUS_GATE_*``.

    floors: minimum value per metric, checked on the challenger alone (absolute).
    max_degradation: largest absolute loss vs the champion allowed on each compared metric.
    max_degradation_by_metric: per-metric overrides of ``max_degradation``.
    compared_metrics: metrics checked for degradation when both models report them; the primary
        metric is held to ``min_improvement`` instead.
    primary_metric: the metric whose relative improvement justifies a change of champion.
    min_improvement: required relative gain of the primary metric, (challenger - champion) / champion;
        0.0 means "at least as good".
    min_samples: evaluation samples needed before the gate will decide anything automatically.
    alpha: significance level of McNemar's exact (two-sided) test on paired correctness.
    on_insignificant: what an improvement the test cannot tell from noise leads to.
    """

    floors: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"f1": 0.45, "roc_auc": 0.50})
    )
    max_degradation: float = 0.02
    max_degradation_by_metric: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    compared_metrics: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "roc_auc")
    primary_metric: str = "f1"
    min_improvement: float = 0.0
    min_samples: int = 200
    alpha: float = 0.05
    on_insignificant: Outcome = "needs_review"

    def __post_init__(self) -> None:
        object.__setattr__(self, "floors", _frozen_metrics(self.floors))
        object.__setattr__(self, "max_degradation_by_metric", _frozen_metrics(self.max_degradation_by_metric))
        object.__setattr__(self, "compared_metrics", tuple(self.compared_metrics))
        if not 0.0 < self.alpha < 1.0:
            raise InvalidInput(f"gate alpha must be between 0 and 1 (got {self.alpha})")
        if self.on_insignificant not in ("promote", "reject", "needs_review"):
            raise InvalidInput(
                f"on_insignificant must be promote, reject or needs_review (got {self.on_insignificant!r})"
            )

    def tolerance(self, metric: str) -> float:
        """Largest absolute loss allowed on ``metric``."""
        return self.max_degradation_by_metric.get(metric, self.max_degradation)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot, stored with each decision so an audit shows the thresholds in force."""
        return {
            "floors": dict(self.floors),
            "max_degradation": self.max_degradation,
            "max_degradation_by_metric": dict(self.max_degradation_by_metric),
            "compared_metrics": list(self.compared_metrics),
            "primary_metric": self.primary_metric,
            "min_improvement": self.min_improvement,
            "min_samples": self.min_samples,
            "alpha": self.alpha,
            "on_insignificant": self.on_insignificant,
        }


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test on paired correctness.

    b: samples the challenger got right and the champion wrong; c: the reverse.
    statistic: min(b, c), as statsmodels reports for the exact test; p_value: two-sided binomial test
    of b against b + c trials at 0.5 (1.0 when there are no discordant pairs).
    """

    b: int
    c: int
    statistic: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"b": self.b, "c": self.c, "statistic": self.statistic, "p_value": self.p_value}


def mcnemar_exact(
    correct_a: Sequence[bool] | np.ndarray, correct_b: Sequence[bool] | np.ndarray
) -> tuple[int, int, float]:
    """McNemar's exact test: (b, c, two-sided p) where b = a right & b wrong, c = a wrong & b right."""
    a = np.asarray(correct_a).astype(bool)
    b_arr = np.asarray(correct_b).astype(bool)
    if a.shape != b_arr.shape or a.ndim != 1:
        raise InvalidInput(
            f"paired correctness must have the same length (got {a.size} and {b_arr.size}): "
            "both models must be scored on the same window"
        )
    b = int(np.count_nonzero(a & ~b_arr))
    c = int(np.count_nonzero(~a & b_arr))
    # Only discordant pairs carry information; with none the models are indistinguishable.
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    return b, c, min(p, 1.0)


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided and why, in words a person can act on.

    deltas: challenger minus champion, absolute, per metric both report.
    relative_improvement: of the primary metric, (challenger - champion) / champion; None without champion.
    """

    outcome: Outcome
    reasons: tuple[str, ...]
    primary_metric: str
    n: int
    has_champion: bool
    deltas: Mapping[str, float] = field(default_factory=dict)
    relative_improvement: float | None = None
    mcnemar: McNemarResult | None = None
    policy: GatePolicy | None = None

    @property
    def promoted(self) -> bool:
        """True when the challenger may become the champion."""
        return self.outcome == "promote"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (non-finite numbers become null) for audit rows and JSONB columns."""
        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "primary_metric": self.primary_metric,
            "n": self.n,
            "has_champion": self.has_champion,
            "deltas": {k: _json_float(v) for k, v in self.deltas.items()},
            "relative_improvement": _json_float(self.relative_improvement),
            "mcnemar": None if self.mcnemar is None else self.mcnemar.to_dict(),
            "policy": None if self.policy is None else self.policy.to_dict(),
        }


def _json_float(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _relative(new: float, old: float) -> float:
    if old == 0.0:
        # A champion scoring exactly 0 makes any gain infinitely large; keep the sign meaningful.
        return math.inf if new > 0 else (0.0 if new == 0 else -math.inf)
    return (new - old) / abs(old)


def decide_promotion(
    challenger: Evaluation, champion: Evaluation | None, policy: GatePolicy | None = None
) -> GateDecision:
    """Decide promote / reject / needs_review for ``challenger`` against ``champion`` (None: first model)."""
    policy = policy or GatePolicy()
    pm = policy.primary_metric
    reasons: list[str] = []

    def done(outcome: Outcome, **kw: Any) -> GateDecision:
        return GateDecision(
            outcome=outcome, reasons=tuple(reasons), primary_metric=pm, n=challenger.n,
            has_champion=champion is not None, policy=policy, **kw,
        )

    if champion is not None:
        if champion.n != challenger.n:
            raise InvalidInput(
                f"challenger was scored on {challenger.n} samples and the champion on {champion.n}: "
                "both must be scored on the same out-of-sample window"
            )
        if challenger.window and champion.window and challenger.window != champion.window:
            raise InvalidInput(
                f"challenger window {challenger.window!r} differs from champion window {champion.window!r}: "
                "both must be scored on the same out-of-sample window"
            )

    # Computed up front so every decision, even an early one, reports the comparison.
    deltas: dict[str, float] = {}
    rel: float | None = None
    mc: McNemarResult | None = None
    if champion is not None:
        for name in sorted(set(challenger.metrics) & set(champion.metrics)):
            deltas[name] = challenger.metrics[name] - champion.metrics[name]
        if _finite(challenger.metrics.get(pm)) and _finite(champion.metrics.get(pm)):
            rel = _relative(challenger.metrics[pm], champion.metrics[pm])
        if challenger.correct is not None and champion.correct is not None:
            b, c, p = mcnemar_exact(challenger.correct, champion.correct)
            mc = McNemarResult(b=b, c=c, statistic=min(b, c), p_value=p)
    extra = {"deltas": MappingProxyType(deltas), "relative_improvement": rel, "mcnemar": mc}

    # 1. Sample minimum: too little evidence to decide either way automatically.
    if challenger.n < policy.min_samples:
        reasons.append(
            f"only {challenger.n} out-of-sample rows were evaluated (at least {policy.min_samples} needed); "
            "collect a longer validation window or review by hand"
        )
        return done("needs_review", **extra)

    # 2. Floors: absolute quality bar, champion or not.
    missed = False
    for name, floor in policy.floors.items():
        value = challenger.metrics.get(name)
        if value is None:
            reasons.append(f"{name} was not reported, so its floor of {floor:.3f} cannot be checked")
            missed = True
        elif not (math.isfinite(value) and value >= floor):  # NaN must fail, and NaN >= x is False
            reasons.append(f"{name} {value:.3f} is below the floor of {floor:.3f}")
            missed = True
    if missed:
        return done("reject", **extra)

    # 3. First model of the slot: nothing to compare against.
    if champion is None:
        reasons.append(f"no champion yet; all floors met on {challenger.n} samples")
        return done("promote", **extra)

    # 4. Degradation vs champion on secondary metrics; the primary metric is judged by rule 6.
    degraded = False
    for name in policy.compared_metrics:
        if name == pm or name not in deltas:
            continue
        new, old = challenger.metrics[name], champion.metrics[name]
        if not (math.isfinite(new) and math.isfinite(old)):
            # Skipped, not fatal: e.g. roc_auc is undefined on a window holding one class only.
            reasons.append(f"{name} could not be compared (not a number for one of the models)")
            continue
        tol = policy.tolerance(name)
        if old - new > tol:
            reasons.append(f"{name} fell from {old:.3f} to {new:.3f}, more than the allowed {tol:.3f}")
            degraded = True
    if degraded:
        return done("reject", **extra)

    # 5. Significantly worse on paired correctness.
    if mc is not None and mc.p_value < policy.alpha and mc.c > mc.b:
        reasons.append(
            f"challenger is significantly less often right than the champion "
            f"({mc.c} rows lost vs {mc.b} won, p={mc.p_value:.3g} < {policy.alpha})"
        )
        return done("reject", **extra)

    # 6. Improvement of the primary metric.
    if rel is None:
        reasons.append(f"primary metric {pm} is missing or not a number for one of the models; review by hand")
        return done("needs_review", **extra)
    old_pm, new_pm = champion.metrics[pm], challenger.metrics[pm]
    if rel < policy.min_improvement:
        reasons.append(
            f"{pm} {new_pm:.3f} vs champion {old_pm:.3f} ({rel:+.1%}) does not reach the required "
            f"{policy.min_improvement:+.1%}; the champion stays"
        )
        return done("reject", **extra)

    # 7. Significance of the improvement.
    if mc is None:
        significant = False
        why = "per-sample correctness was not provided, so significance could not be tested"
    else:
        significant = mc.p_value < policy.alpha and mc.b > mc.c
        why = (
            f"McNemar p={mc.p_value:.3g} ({mc.b} rows won vs {mc.c} lost)"
            + ("" if significant else f" is not below {policy.alpha}")
        )
    if not significant:
        reasons.append(f"{pm} improved {old_pm:.3f} -> {new_pm:.3f} ({rel:+.1%}) but {why}")
        return done(policy.on_insignificant, **extra)

    # 8. Better, significantly, and nothing degraded.
    reasons.append(f"{pm} improved {old_pm:.3f} -> {new_pm:.3f} ({rel:+.1%}); {why}; no metric degraded")
    return done("promote", **extra)
