"""Validation-gated promotion: decide whether a freshly trained challenger may serve a slot.

Both models are scored on the same UNSEEN window (rows after the training and validation data of
both, chosen by time: ``alphaplus.promotion.window``).  Labels look ``horizon`` bars ahead, so rows
overlap and are not independent: every test is a paired block bootstrap (``alphaplus.ml.evidence``)
and the sample minimum is counted in independent outcomes (rows // horizon).  The rules, in order:

1. Fewer independent outcomes than ``min_outcomes``                               -> needs_review
2. An optional point floor (``floors``) missed                                    -> reject
3. No skill: the challenger must beat the no-skill references of its OWN training
   window, each with a one-sided test at ``alpha`` (all must pass):
   ROC AUC interval above 0.5; ``primary_metric`` above always-up and the training
   majority class; ``skill_metric`` loss below the training prior's (on the
   estimate, or with its interval when ``skill_rule="significant"``)             -> reject
   (optional: with ``walk_forward_folds`` > 1, above the best constant in most folds)
4. No champion (first model of the slot): all of the above passed                 -> promote
5. A compared metric worse than the champion's by more than its tolerance         -> reject
6. Champion significantly better on the primary metric (paired test)              -> reject
7. Primary metric's relative improvement below ``min_improvement``                -> reject
8. Improvement not significant                                                    -> ``on_insignificant``
9. Otherwise                                                                      -> promote

Why every model must pass rule 3, the first one included: a constant "always up" predictor is right
55% of the time in a rising market, and a model that merely learned the drift looks good on accuracy,
F1 and recall; only a comparison with the constants of its own window tells skill from drift.  Rule 3
is an intersection of level-alpha tests, so its false-pass rate on no-skill data is at most alpha.
Why rule 8 defaults to ``needs_review``: a gain the test cannot tell from noise is where a person who
knows the data should choose; auto-promoting it makes production follow noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from alphaplus.core.errors import InvalidInput
from alphaplus.core.figures import pair
from alphaplus.core.settings import Settings
from alphaplus.ml.evidence import HIGHER_IS_BETTER, METHODS, Resampler, TestResult, independent_outcomes, metric_value

Outcome = Literal["promote", "reject", "needs_review"]
HARD_METRICS = ("accuracy", "balanced_accuracy", "mcc")
LOSS_METRICS = ("log_loss", "brier")


def _setting(name: str) -> Any:
    """The default of ``gate_<name>`` in the settings: the one source of the gate's defaults."""
    return Settings.model_fields[f"gate_{name}"].default


def _default_floors() -> Mapping[str, float]:
    floors = {"f1": _setting("min_f1"), "roc_auc": _setting("min_roc_auc")}
    return MappingProxyType({k: v for k, v in floors.items() if v is not None})


def _frozen_metrics(metrics: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in metrics.items()})


def _frozen_array(values: Any, dtype: Any) -> np.ndarray:
    arr = np.array(values, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """One model's predictions on the shared unseen window.

    y: the labels (0/1) in time order; proba: the model's probability of "up" per row; horizon: bars
    each label looks ahead; training_prior: share of "up" labels in the model's training window (the
    no-skill references come from it); metrics: extra reported metrics (e.g. f1, signal returns),
    merged with the ones computed here.  ``window`` optionally identifies the window (both models'
    must match when both carry one).
    """

    y: Any
    proba: Any
    horizon: int
    training_prior: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    window: str | None = None

    def __post_init__(self) -> None:
        y = _frozen_array(self.y, np.int64)
        p = _frozen_array(self.proba, float)
        if y.ndim != 1 or p.shape != y.shape:
            raise InvalidInput(f"labels and probabilities must be flat and of one length (got {y.shape}, {p.shape})")
        if not np.isin(y, (0, 1)).all():
            raise InvalidInput("labels must be 0 or 1")
        if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
            raise InvalidInput("probabilities must lie in [0, 1]")
        if int(self.horizon) != self.horizon or self.horizon < 1:
            raise InvalidInput(f"the label horizon must be a positive number of bars (got {self.horizon})")
        if not 0.0 <= float(self.training_prior) <= 1.0:
            raise InvalidInput(f"the training prior is a share in [0, 1] (got {self.training_prior})")
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "proba", p)
        object.__setattr__(self, "horizon", int(self.horizon))
        object.__setattr__(self, "training_prior", float(self.training_prior))
        computed = {}
        if len(y):
            computed = {m: metric_value(m, y, p) for m in HIGHER_IS_BETTER}
        merged = {**{k: v for k, v in dict(self.metrics).items() if _finite(v)},
                  **{k: v for k, v in computed.items() if _finite(v)}}
        object.__setattr__(self, "metrics", _frozen_metrics(merged))

    @property
    def n(self) -> int:
        return int(len(self.y))


@dataclass(frozen=True, kw_only=True)
class GatePolicy:
    """Thresholds of the promotion gate; defaults are the settings' (``ALPHAPLUS_GATE_*``) defaults.

    alpha: level of each one-sided test; intervals are reported at ``1 - 2 alpha``.
    min_outcomes: independent outcomes (rows // horizon) needed to decide automatically.
    primary_metric: tested against the hard no-skill references and the champion.
    skill_metric: loss (log_loss or brier) whose reduction over the training prior is tested.
    skill_rule: "positive" (the reduction's estimate must be above 0) or "significant" (its interval).
    floors: optional point-estimate floors per metric.
    max_degradation / max_degradation_by_metric / compared_metrics: largest absolute loss allowed vs
        the champion on each compared metric (point estimates).
    min_improvement: required relative gain of the primary metric over the champion.
    on_insignificant: what a gain over the champion the test cannot confirm leads to.
    resampling, bootstrap_reps, block_floor, seed: how rows are resampled (``alphaplus.ml.evidence``).
    walk_forward_folds: > 1 splits the window into consecutive folds; the primary metric must beat the
        best constant in more than half of them.
    cost_per_trade: round-trip cost of the reported net signal return (reported, not tested).
    """

    alpha: float = _setting("alpha")
    min_outcomes: int = _setting("min_outcomes")
    primary_metric: str = _setting("primary_metric")
    skill_metric: str = _setting("skill_metric")
    skill_rule: str = _setting("skill_rule")
    floors: Mapping[str, float] = field(default_factory=_default_floors)
    max_degradation: float = _setting("max_degradation")
    max_degradation_by_metric: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    compared_metrics: tuple[str, ...] = _setting("compared_metrics")
    min_improvement: float = _setting("min_improvement")
    on_insignificant: Outcome = _setting("on_insignificant")
    resampling: str = _setting("resampling")
    bootstrap_reps: int = _setting("bootstrap_reps")
    block_floor: float = _setting("block_floor")
    seed: int = _setting("seed")
    walk_forward_folds: int = _setting("walk_forward_folds")
    cost_per_trade: float = _setting("cost_per_trade")

    def __post_init__(self) -> None:
        object.__setattr__(self, "floors", _frozen_metrics(self.floors))
        object.__setattr__(self, "max_degradation_by_metric", _frozen_metrics(self.max_degradation_by_metric))
        object.__setattr__(self, "compared_metrics", tuple(self.compared_metrics))
        if not 0.0 < self.alpha < 0.5:
            raise InvalidInput(f"gate alpha must be between 0 and 0.5 (got {self.alpha})")
        if self.on_insignificant not in ("promote", "reject", "needs_review"):
            raise InvalidInput(
                f"on_insignificant must be promote, reject or needs_review (got {self.on_insignificant!r})"
            )
        if self.primary_metric not in HIGHER_IS_BETTER:
            raise InvalidInput(f"primary metric must be one of {', '.join(HIGHER_IS_BETTER)} (got {self.primary_metric!r})")
        if self.skill_metric not in LOSS_METRICS:
            raise InvalidInput(f"skill metric must be log_loss or brier (got {self.skill_metric!r})")
        if self.skill_rule not in ("positive", "significant"):
            raise InvalidInput(f"skill rule must be positive or significant (got {self.skill_rule!r})")
        if self.resampling not in METHODS:
            raise InvalidInput(f"resampling must be one of {', '.join(METHODS)} (got {self.resampling!r})")
        if self.min_outcomes < 1 or self.bootstrap_reps < 99 or self.block_floor <= 0 or self.walk_forward_folds < 1:
            raise InvalidInput("min_outcomes and walk_forward_folds must be >= 1, bootstrap_reps >= 99, "
                               "block_floor > 0")

    def tolerance(self, metric: str) -> float:
        """Largest absolute loss allowed on ``metric``."""
        return self.max_degradation_by_metric.get(metric, self.max_degradation)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot, stored with each decision so an audit shows the thresholds in force."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out.update(floors=dict(self.floors), max_degradation_by_metric=dict(self.max_degradation_by_metric),
                   compared_metrics=list(self.compared_metrics))
        return out


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided and why, in words a person can act on.

    tests: every bootstrap test run (no-skill references, then the champion); decisive: the test the
    decision rests on (the weakest of the no-skill tests for a first model, the champion test for a
    challenger); n_outcomes: independent outcomes (rows // horizon); deltas: challenger minus champion
    per metric both report; relative_improvement: of the primary metric over the champion's.
    """

    outcome: Outcome
    reasons: tuple[str, ...]
    primary_metric: str
    n: int
    has_champion: bool
    horizon: int | None = None
    n_outcomes: int | None = None
    tests: tuple[TestResult, ...] = ()
    decisive: TestResult | None = None
    deltas: Mapping[str, float] = field(default_factory=dict)
    relative_improvement: float | None = None
    resampling: Mapping[str, Any] | None = None
    policy: GatePolicy | None = None

    @property
    def promoted(self) -> bool:
        """True when the challenger may become the champion."""
        return self.outcome == "promote"

    @property
    def n_effective(self) -> float | None:
        """What the decisive test's rows are worth as independent outcomes."""
        return self.decisive.n_effective if self.decisive else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (non-finite numbers become null) for audit rows and JSONB columns."""
        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "primary_metric": self.primary_metric,
            "n": self.n,
            "horizon": self.horizon,
            "n_outcomes": self.n_outcomes,
            "n_effective": _json_float(self.n_effective),
            "has_champion": self.has_champion,
            "tests": [t.to_dict() for t in self.tests],
            "decisive": None if self.decisive is None else self.decisive.name,
            "deltas": {k: _json_float(v) for k, v in self.deltas.items()},
            "relative_improvement": _json_float(self.relative_improvement),
            "resampling": None if self.resampling is None else dict(self.resampling),
            "policy": None if self.policy is None else self.policy.to_dict(),
        }


def _json_float(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _relative(new: float, old: float) -> float:
    if old == 0.0:
        # A champion scoring exactly 0 makes any gain infinitely large; keep the sign meaningful.
        return math.inf if new > 0 else (0.0 if new == 0 else -math.inf)
    return (new - old) / abs(old)


def unscored(reason: str, *, has_champion: bool, policy: GatePolicy | None = None) -> GateDecision:
    """``needs_review`` without scoring anything, e.g. when no row is unseen by both models."""
    policy = policy or GatePolicy()
    return GateDecision(outcome="needs_review", reasons=(reason,), primary_metric=policy.primary_metric, n=0,
                        has_champion=has_champion, n_outcomes=0, policy=policy)


def decide_promotion(
    challenger: Evaluation, champion: Evaluation | None, policy: GatePolicy | None = None
) -> GateDecision:
    """Decide promote / reject / needs_review for ``challenger`` against ``champion`` (None: first model)."""
    from alphaplus.promotion.skill import champion_test, describe_sample, fold_check, no_skill_tests

    policy = policy or GatePolicy()
    pm = policy.primary_metric
    _check_pairing(challenger, champion)
    n, h = challenger.n, challenger.horizon
    outcomes = independent_outcomes(n, h)
    reasons: list[str] = []
    tests: list[TestResult] = []
    deltas: dict[str, float] = {}
    rel: float | None = None
    if champion is not None:
        deltas = {k: challenger.metrics[k] - champion.metrics[k]
                  for k in sorted(set(challenger.metrics) & set(champion.metrics))}
        if pm in challenger.metrics and pm in champion.metrics:
            rel = _relative(challenger.metrics[pm], champion.metrics[pm])
            rel = rel if HIGHER_IS_BETTER[pm] else -rel  # a lower loss is the improvement
    state: dict[str, Any] = {"decisive": None, "resampling": None}

    def done(outcome: Outcome) -> GateDecision:
        return GateDecision(
            outcome=outcome, reasons=tuple(reasons), primary_metric=pm, n=n, has_champion=champion is not None,
            horizon=h, n_outcomes=outcomes, tests=tuple(tests), decisive=state["decisive"], deltas=MappingProxyType(deltas),
            relative_improvement=rel, resampling=state["resampling"], policy=policy,
        )

    # 1. Sample minimum, in independent outcomes.
    if outcomes < policy.min_outcomes:
        reasons.append(
            f"only {n} unseen rows = {outcomes} independent {h}-bar outcomes were evaluated "
            f"(at least {policy.min_outcomes} needed); wait for more data or review by hand"
        )
        return done("needs_review")

    # 2. Optional point floors.
    missed = ["{} {} is below the floor of {}".format(name, *pair(challenger.metrics.get(name, math.nan), floor))
              for name, floor in policy.floors.items()
              if not challenger.metrics.get(name, -math.inf) >= floor]
    if missed:
        reasons.extend(missed)
        return done("reject")

    resampler = _resampler(challenger, champion, policy)
    state["resampling"] = MappingProxyType(resampler.to_dict())

    # 3. Skill over the no-skill references of the challenger's own training window.
    skill, failures, state["decisive"] = no_skill_tests(challenger, resampler, policy)
    tests.extend(skill)
    failures += fold_check(challenger, policy)
    if failures:
        reasons.extend(failures)
        reasons.append(describe_sample(n, h, state["decisive"]))
        return done("reject")

    # 4. First model of the slot.
    if champion is None:
        reasons.append("no champion yet; beats the no-skill references of its training window: "
                       + "; ".join(f"{t.name} ({t.estimate:+.3f}, p={t.p_value:.3g})" for t in skill))
        reasons.append(describe_sample(n, h, state["decisive"]))
        return done("promote")

    # 5. Degradation vs the champion on compared metrics (the primary metric is judged by its test).
    degraded = False
    for name in policy.compared_metrics:
        if name == pm or name not in deltas:
            continue
        old, new = champion.metrics[name], challenger.metrics[name]
        loss = (old - new) if HIGHER_IS_BETTER.get(name, True) else (new - old)
        if loss > policy.tolerance(name):
            was, now = pair(old, new)
            lost, allowed = pair(loss, policy.tolerance(name))
            reasons.append(f"{name} fell from {was} to {now}, by {lost}: more than the allowed {allowed}")
            degraded = True
    if degraded:
        return done("reject")

    # 6-9. The champion test on the primary metric.
    versus, reverse = champion_test(challenger, champion, resampler, policy)
    tests.extend((versus, reverse))
    state["decisive"] = versus
    old_pm, new_pm = champion.metrics.get(pm, math.nan), challenger.metrics.get(pm, math.nan)
    new_text, old_text = pair(new_pm, old_pm)
    change = f"{pm} {new_text} vs champion {old_text} ({versus.estimate:+.3f}, {versus.interval_text()})"
    sample = describe_sample(n, h, versus)
    if reverse.significant:
        reasons += [f"the champion is significantly better: {change}, p={reverse.p_value:.3g}", sample]
        return done("reject")
    if rel is None or rel < policy.min_improvement:
        shown, required = pair(rel, policy.min_improvement, 1, style="%", sign=True)
        shown = "not a number" if rel is None else shown
        reasons += [f"{change}: a relative change of {shown} does not reach the required "
                    f"{required}; the champion stays", sample]
        return done("reject")
    if not versus.significant:
        p, alpha = pair(versus.p_value, policy.alpha, style="g")
        reasons += [f"{change} is not a significant improvement (p={p} >= {alpha})", sample]
        return done(policy.on_insignificant)
    p, alpha = pair(versus.p_value, policy.alpha, style="g")
    reasons += [f"{change}, p={p} < {alpha}; no compared metric degraded", sample]
    return done("promote")


def _check_pairing(challenger: Evaluation, champion: Evaluation | None) -> None:
    if champion is None:
        return
    if champion.n != challenger.n or not np.array_equal(champion.y, challenger.y):
        raise InvalidInput(
            f"challenger was scored on {challenger.n} rows and the champion on {champion.n} (or other labels): "
            "both must be scored on the same unseen window"
        )
    if challenger.window and champion.window and challenger.window != champion.window:
        raise InvalidInput(
            f"challenger window {challenger.window!r} differs from champion window {champion.window!r}: "
            "both must be scored on the same unseen window"
        )


def _resampler(challenger: Evaluation, champion: Evaluation | None, policy: GatePolicy) -> Resampler:
    """One set of resamples for every test of the decision; blocks sized on the rows' own persistence."""
    y = challenger.y.astype(float)
    columns = [y, ((challenger.proba > 0.5) == challenger.y).astype(float)]
    if champion is not None:
        columns.append(((champion.proba > 0.5) == champion.y).astype(float) - columns[1])
    return Resampler.draw(challenger.n, horizon=challenger.horizon, series=np.column_stack(columns),
                          method=policy.resampling, reps=policy.bootstrap_reps,  # type: ignore[arg-type]
                          block_floor=policy.block_floor, seed=policy.seed)
