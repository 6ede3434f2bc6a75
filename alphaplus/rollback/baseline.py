"""The baseline a production version is monitored against: its holdout outcomes, recorded at training
(``holdout_record``) and read back at assessment (``Baseline.from_stored``).

A version is expected to keep the skill it showed on its holdout, the out-of-sample rows after its
validation data.  Validation metrics are not a baseline: validation chose the early-stopping
iteration, so they flatter the model.  With the counts, training stores what the holdout rows are
worth as independent outcomes (block bootstrap of the per-row correctness and skill, see
``alphaplus.ml.evidence``): labels over an h-bar horizon overlap, and the monitoring test needs the
baseline's own uncertainty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphaplus.rollback.state import BaselineSource
from alphaplus.rollback.statistics import NOT_UP, UP, Confusion

# Bootstrap resamples behind the holdout's effective size: the size is a ratio of variances, stable
# to a few percent at this many draws, and it costs tens of milliseconds per training.
HOLDOUT_BOOTSTRAP_REPS = 499


def holdout_record(y_true: Any, proba: Any, *, horizon: int, training_prior: float, seed: int = 0) -> dict[str, Any]:
    """What monitoring needs from a version's holdout, as JSON-safe values (stored with its holdout
    metrics): confusion counts, the effective number of independent outcomes, the no-skill reference
    class (the training window's majority, "up" on a tie) and the label horizon."""
    from alphaplus.ml.evidence import Resampler, effective_sample_size

    y = np.asarray(y_true).astype(int)
    pred = (np.asarray(proba, dtype=float) > 0.5).astype(int)
    reference = UP if training_prior >= 0.5 else NOT_UP
    counts = Confusion(
        int(np.count_nonzero((y == UP) & (pred == UP))), int(np.count_nonzero((y != UP) & (pred == UP))),
        int(np.count_nonzero((y == UP) & (pred != UP))), int(np.count_nonzero((y != UP) & (pred != UP))),
    )
    record: dict[str, Any] = {**counts.to_dict(), "reference_class": reference, "label_horizon": int(horizon),
                              "n_effective": None}
    if len(y) < 2 * max(1, horizon) + 2:
        return record
    correct = (y == pred).astype(float)
    # Per-row accuracy skill over the constant reference: +1 right where it is wrong, -1 the reverse.
    skill = correct - (y == reference).astype(float)
    series = np.column_stack([correct, skill])
    resampler = Resampler.draw(len(y), horizon=horizon, series=series, reps=HOLDOUT_BOOTSTRAP_REPS, seed=seed)
    sizes = [s for s in (effective_sample_size(correct, resampler), effective_sample_size(skill, resampler))
             if s is not None]
    # The smaller size is the more cautious: it makes the baseline (and live evidence) worth less.
    record["n_effective"] = float(min(sizes)) if sizes else None
    record["block_length"] = resampler.block
    return record


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """What the production version achieved out of sample: its holdout outcome counts.

    reference_class: the no-skill constant predictor, the majority class of its training window.
    n_effective: what the holdout rows are worth as independent outcomes (block bootstrap at
        training); None for versions registered before it was measured (rows / horizon is used).
    label_horizon: bars per label. source: "holdout", or "validation" (with ``note`` saying why) for
    versions registered without holdout counts, or "none".
    """

    confusion: Confusion | None = None
    reference_class: int = UP
    n_effective: float | None = None
    label_horizon: int | None = None
    source: BaselineSource = "holdout"
    note: str = ""

    def design_effect(self, horizon: int) -> float:
        """Rows per independent outcome: measured on the holdout when known, else the label horizon."""
        c = self.confusion
        if c is not None and c.n and self.n_effective and self.n_effective > 0:
            return max(1.0, c.n / self.n_effective)
        return float(max(1, horizon))

    @classmethod
    def from_stored(cls, training_metrics: Mapping[str, Any] | None,
                    validation_metrics: Mapping[str, Any] | None = None) -> Baseline:
        """The baseline of a registered version: ``training_metrics["holdout"]`` (counts, effective
        size, reference class and horizon as training stores them; counts rebuilt from the plain
        metrics of older versions), else its validation metrics, saying so."""
        training = dict(training_metrics or {})
        holdout = training.get("holdout") or {}
        prior = (training.get("train") or {}).get("class_balance")
        reference = holdout.get("reference_class")
        if reference is None:
            reference = UP if prior is None or float(prior) >= 0.5 else 0
        counts = Confusion.from_metrics(holdout)
        if counts is not None and counts.n:
            n_eff = holdout.get("n_effective")
            return cls(confusion=counts, reference_class=int(reference),
                       n_effective=None if n_eff is None else float(n_eff),
                       label_horizon=_int_or_none(holdout.get("label_horizon")), source="holdout")
        counts = Confusion.from_metrics(validation_metrics)
        if counts is not None and counts.n:
            return cls(confusion=counts, reference_class=int(reference), source="validation",
                       note="no holdout outcomes were stored with this version, so its validation metrics are "
                            "the baseline (they chose the early-stopping iteration and flatter the model)")
        return cls(source="none", note="the version has neither holdout nor validation outcome counts")


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)

