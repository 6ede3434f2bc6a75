"""The gate's tests: skill over the no-skill references of a model's own training window, and the
paired test against the champion; each with a reason a person can read."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from alphaplus.core.figures import pair
from alphaplus.ml.evidence import HIGHER_IS_BETTER, Resampler, TestResult, compare, interval_above, no_skill_references

if TYPE_CHECKING:
    from alphaplus.promotion.gate import Evaluation, GatePolicy

_LABELS = {"log_loss": "log loss", "brier": "Brier score", "roc_auc": "ROC AUC", "mcc": "MCC",
           "balanced_accuracy": "balanced accuracy", "accuracy": "accuracy"}


def no_skill_tests(
    ev: "Evaluation", rs: Resampler, policy: "GatePolicy"
) -> tuple[list[TestResult], list[str], TestResult]:
    """Every test of "better than a constant" for ``ev``, the reasons of those it fails, and the
    decisive one (the largest p-value among the tests that must be significant).

    ROC AUC above 0.5; the skill metric's loss below the training prior's; and, when the primary
    metric judges hard predictions, the primary metric above always-up and the training majority.
    """
    from alphaplus.promotion.gate import HARD_METRICS

    alpha = policy.alpha
    tests: list[TestResult] = []
    failures: list[str] = []
    auc = interval_above("roc_auc", ev.y, ev.proba, rs, null=0.5, alpha=alpha, name="ROC AUC above 0.5")
    tests.append(auc)
    if not auc.significant:
        failures.append(f"no ranking skill: ROC AUC {auc.estimate:.3f}, {auc.interval_text()} does not lie above 0.5")
    refs = no_skill_references(ev.training_prior)
    prior = next(r for r in refs if r.name == "training_prior")
    skill = compare(policy.skill_metric, ev.y, ev.proba, prior.probability, rs, alpha=alpha,
                    name=f"{policy.skill_metric} below the training prior")
    tests.append(skill)
    if not (skill.significant if policy.skill_rule == "significant" else skill.estimate > 0):
        failures.append(_not_better(policy.skill_metric, ev, prior.description, skill))
    if policy.primary_metric in HARD_METRICS:
        for ref in refs:
            if ref.name == "training_prior":
                continue
            test = compare(policy.primary_metric, ev.y, ev.proba, ref.probability, rs, alpha=alpha,
                           name=f"{policy.primary_metric} above {ref.description}")
            tests.append(test)
            if not test.significant:
                failures.append(_not_better(policy.primary_metric, ev, ref.description, test))
    required = [t for t in tests if t is not skill or policy.skill_rule == "significant"]
    return tests, failures, max(required, key=lambda t: t.p_value)


def _not_better(metric: str, ev: "Evaluation", reference: str, test: TestResult) -> str:
    ours = ev.metrics.get(metric, float("nan"))
    theirs = ours - test.estimate if HIGHER_IS_BETTER[metric] else ours + test.estimate
    verdict = "does not beat" if test.estimate <= 0 else "is not significantly better than"
    ours_text, theirs_text = pair(ours, theirs)
    return (f"{verdict} {reference}: {_LABELS[metric]} {ours_text} vs {theirs_text} "
            f"(improvement {test.estimate:+.3f}, {test.interval_text()}, p={test.p_value:.3g})")


def champion_test(
    challenger: "Evaluation", champion: "Evaluation", rs: Resampler, policy: "GatePolicy"
) -> tuple[TestResult, TestResult]:
    """(challenger better than champion, champion better than challenger) on the primary metric."""
    pm = policy.primary_metric
    versus = compare(pm, challenger.y, challenger.proba, champion.proba, rs, alpha=policy.alpha,
                     name=f"{pm} better than the champion's")
    reverse = compare(pm, challenger.y, champion.proba, challenger.proba, rs, alpha=policy.alpha,
                      name=f"{pm} worse than the champion's")
    return versus, reverse


def fold_check(ev: "Evaluation", policy: "GatePolicy") -> list[str]:
    """With walk-forward folds: the primary metric must beat the best constant in most folds."""
    from alphaplus.ml.evidence import metric_value

    k = policy.walk_forward_folds
    if k <= 1:
        return []
    pm = policy.primary_metric
    refs = [r for r in no_skill_references(ev.training_prior)]
    sign = 1.0 if HIGHER_IS_BETTER[pm] else -1.0
    wins = 0
    for rows in np.array_split(np.arange(ev.n), k):
        y, p = ev.y[rows], ev.proba[rows]
        ours = sign * metric_value(pm, y, p)
        best = max(sign * metric_value(pm, y, np.full(len(rows), r.probability)) for r in refs)
        wins += bool(ours > best)
    needed = k // 2 + 1
    if wins >= needed:
        return []
    return [f"walk-forward: beats the best constant predictor in {wins} of {k} consecutive folds "
            f"({needed} needed)"]


def describe_sample(n: int, horizon: int, test: TestResult | None) -> str:
    """The evidence a decision rests on, in independent outcomes."""
    eff = "" if test is None or test.n_effective is None else f", effective n {test.n_effective:.0f}"
    return f"evaluated on {n} unseen rows = {n // horizon} independent {horizon}-bar outcomes{eff}"
