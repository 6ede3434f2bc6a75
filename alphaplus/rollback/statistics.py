"""Statistics of the rollback decision, from outcome counts.

Live outcomes reach the assessment as confusion counts per window, not as rows, so everything here
works on counts:

- skill over no-skill references: ``balanced_accuracy_skill`` (balanced accuracy - 0.5: zero for every
  predictor that knows nothing, constant or random, whatever the share of "up" labels) and
  ``accuracy_skill`` (accuracy minus that of the version's constant reference, the majority class of
  its training window, on the same outcomes: what the model earns over always betting one way);
- ``drop_test``: is live skill below the baseline's?  A two-sample z-test whose variance is the sum of
  both sides' variances, each multiplied by its design effect (rows / effective sample size): labels
  over an h-bar horizon overlap, so n rows are worth fewer independent outcomes, and the baseline is
  itself an estimate from a finite holdout;
- ``error_rate_test``: exact binomial test of the failed share of inference calls above a limit;
- ``holm_adjusted``: Holm's step-down adjustment, so a family of tests (every metric that may roll a
  slot back) keeps its family-wise error rate at alpha instead of alpha per metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# scipy.special's kernels give the same values as scipy.stats' distributions many times faster,
# which matters when thousands of slots are assessed per run.
from scipy.special import bdtrc, ndtr

from alphaplus.core.errors import InvalidInput

UP, NOT_UP = 1, 0
_COUNT_KEYS = ("true_positives", "false_positives", "false_negatives", "true_negatives")


@dataclass(frozen=True, slots=True)
class Confusion:
    """Outcome counts of a direction classifier (class 1 is "up")."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __post_init__(self) -> None:
        values = (self.tp, self.fp, self.fn, self.tn)
        if all(type(v) is int for v in values) and min(values) >= 0:
            return
        for name, value in zip(("tp", "fp", "fn", "tn"), values):
            if int(value) != value or value < 0:
                raise InvalidInput(f"confusion counts must be non-negative integers (got {name}={value})")
            object.__setattr__(self, name, int(value))

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def correct(self) -> int:
        return self.tp + self.tn

    @property
    def positives(self) -> int:
        """Outcomes that went up."""
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        return self.fp + self.tn

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def balanced_accuracy(self) -> float | None:
        """Mean of the true-positive and true-negative rates (None unless both classes occurred)."""
        if not (self.positives and self.negatives):
            return None
        return (self.tp / self.positives + self.tn / self.negatives) / 2.0

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    def to_dict(self) -> dict[str, int]:
        return dict(zip(_COUNT_KEYS, (self.tp, self.fp, self.fn, self.tn)))

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any] | None) -> Confusion | None:
        """Counts from stored metrics: the explicit counts when present, else rebuilt from ``n``,
        ``class_balance``, ``positive_rate`` and ``recall`` (what ``alphaplus.ml.metrics`` stores);
        None when neither is there or the numbers do not fit together."""
        if not metrics:
            return None
        try:
            if all(metrics.get(k) is not None for k in _COUNT_KEYS):
                return cls(*(int(metrics[k]) for k in _COUNT_KEYS))
            n = int(metrics["n"])
            positives = round(float(metrics["class_balance"]) * n)
            predicted_up = round(float(metrics["positive_rate"]) * n)
            tp = round(float(metrics["recall"]) * positives)
            fn, fp = positives - tp, predicted_up - tp
            counts = cls(tp, fp, fn, n - positives - fp)
        except (KeyError, TypeError, ValueError, InvalidInput):
            return None
        accuracy = metrics.get("accuracy")
        if accuracy is not None and n and abs(counts.correct / n - float(accuracy)) > 1.5 / n:
            return None
        return counts


@dataclass(frozen=True, slots=True)
class Estimate:
    """A skill value and its variance as if every outcome were independent."""

    value: float
    variance: float


def balanced_accuracy_skill(c: Confusion) -> Estimate | None:
    """Balanced accuracy minus 0.5 (None unless both classes occurred)."""
    if not (c.positives and c.negatives):
        return None
    tpr, tnr = c.tp / c.positives, c.tn / c.negatives
    variance = (tpr * (1 - tpr) / c.positives + tnr * (1 - tnr) / c.negatives) / 4.0
    return Estimate((tpr + tnr) / 2.0 - 0.5, variance)


def accuracy_skill(c: Confusion, reference_class: int) -> Estimate | None:
    """Accuracy minus the accuracy of always predicting ``reference_class`` on the same outcomes.

    Per outcome the difference is +1 where the model is right and the reference wrong, -1 the other
    way round, 0 where they agree; its mean and variance follow from the counts.
    """
    if c.n == 0:
        return None
    wins, losses = (c.tn, c.fn) if reference_class == UP else (c.tp, c.fp)
    mean = (wins - losses) / c.n
    return Estimate(mean, max((wins + losses) / c.n - mean * mean, 0.0) / c.n)


SKILLS = {"balanced_accuracy_skill": "balanced accuracy over no skill (0.5)",
          "accuracy_skill": "accuracy over the constant reference"}


def skill(metric: str, c: Confusion, reference_class: int) -> Estimate | None:
    """The skill ``metric`` (a key of ``SKILLS``) of counts ``c``."""
    if metric == "balanced_accuracy_skill":
        return balanced_accuracy_skill(c)
    if metric == "accuracy_skill":
        return accuracy_skill(c, reference_class)
    raise InvalidInput(f"unknown skill metric {metric!r}; known: {', '.join(SKILLS)}")


@dataclass(frozen=True, slots=True)
class MetricTest:
    """One one-sided test of an assessment.

    live / reference: the live value and what it is tested against (the baseline's skill, or the
    error-rate limit). statistic: z for skill drops (negative: live below the baseline), the
    standardised excess over the limit for errors. n / n_effective: live rows (outcomes or inference
    calls) and what they are worth as independent outcomes; the reference's likewise (None for a
    fixed limit). adjusted_p: Holm-adjusted within the assessment's family (set by ``holm``).
    """

    metric: str
    test: str
    live: float
    reference: float
    statistic: float
    p_value: float
    n: int
    n_effective: float
    reference_n: int | None = None
    reference_n_effective: float | None = None
    adjusted_p: float | None = None

    @property
    def relative_drop(self) -> float | None:
        """(reference - live) / reference for a positive reference skill, else None."""
        return (self.reference - self.live) / self.reference if self.reference > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (non-finite numbers become null)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in ((name, getattr(self, name)) for name in self.__slots__)}


def drop_test(
    metric: str,
    live: Estimate,
    live_n: int,
    live_design_effect: float,
    baseline: Estimate,
    baseline_n: int,
    baseline_design_effect: float,
) -> MetricTest:
    """Is the live skill below the baseline's?  One-sided two-sample z-test.

    Var(live - baseline) = live.variance x its design effect + baseline.variance x its design effect:
    the baseline's own uncertainty counts, and each side's rows count as rows / design effect
    independent outcomes.  The p-value is P(Z <= z) under "live equals the baseline".
    """
    d_live, d_base = max(1.0, live_design_effect), max(1.0, baseline_design_effect)
    se = math.sqrt(live.variance * d_live + baseline.variance * d_base)
    diff = live.value - baseline.value
    if se > 0:
        z = diff / se
        p = float(ndtr(z))
    else:  # both sides without spread (e.g. a constant predictor on both): the sign decides
        z = -math.inf if diff < 0 else (math.inf if diff > 0 else 0.0)
        p = 0.0 if diff < 0 else 1.0
    return MetricTest(
        metric=metric, test="two-sample z, overlap-corrected", live=live.value, reference=baseline.value,
        statistic=z, p_value=p, n=live_n, n_effective=live_n / d_live,
        reference_n=baseline_n, reference_n_effective=baseline_n / d_base,
    )


def skill_drop_tests(live: Confusion, baseline: Confusion, reference_class: int, design_effect: float,
                     metrics: Sequence[str] = tuple(SKILLS)) -> list[MetricTest]:
    """``drop_test`` of each skill of ``metrics`` that is defined on both sides (both sides' rows at
    ``design_effect``): is ``live``'s skill below ``baseline``'s?"""
    tests = []
    for metric in metrics:
        a, b = skill(metric, live, reference_class), skill(metric, baseline, reference_class)
        if a is not None and b is not None:
            tests.append(drop_test(metric, a, live.n, design_effect, b, baseline.n, design_effect))
    return tests


def error_rate_test(errors: int, inferences: int, limit: float) -> MetricTest:
    """Is the failed share of ``inferences`` above ``limit``?  Exact binomial test (calls fail or
    succeed one by one; they do not overlap the way outcomes do)."""
    if inferences <= 0 or not 0 <= errors <= inferences:
        raise InvalidInput(f"need 0 <= errors <= inferences and inferences > 0 (got {errors} of {inferences})")
    rate = errors / inferences
    p = float(bdtrc(errors - 1, inferences, limit)) if errors > 0 else 1.0
    z = (rate - limit) / math.sqrt(limit * (1 - limit) / inferences)
    return MetricTest(metric="error_rate", test="exact binomial", live=rate, reference=limit, statistic=z,
                      p_value=min(max(p, 0.0), 1.0), n=inferences, n_effective=float(inferences))


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    Sorted ascending, the i-th smallest (from 0) becomes max over j <= i of min(1, (m - j) x p_(j));
    rejecting every adjusted p below alpha keeps the family-wise error rate at alpha.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


def holm(tests: Sequence[MetricTest]) -> tuple[MetricTest, ...]:
    """The tests with their Holm-adjusted p-values filled in."""
    if not tests:
        return ()
    return tuple(
        MetricTest(t.metric, t.test, t.live, t.reference, t.statistic, t.p_value, t.n, t.n_effective,
                   t.reference_n, t.reference_n_effective, a)
        for t, a in zip(tests, holm_adjusted([t.p_value for t in tests]))
    )
