"""No-skill references of a training window (the constant predictors every model must beat) and
skill scores over them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphaplus.ml.resampled_metrics import HIGHER_IS_BETTER, metric_value


@dataclass(frozen=True)
class Reference:
    """A constant predictor: its name, what it says, and its constant probability of "up"."""

    name: str
    description: str
    probability: float


def no_skill_references(training_prior: float) -> tuple[Reference, ...]:
    """The constant predictors of a training window whose share of "up" labels is ``training_prior``:
    its majority class and always-up (hard predictions; one entry when they coincide) and the prior
    itself as a probability (the reference of proper scores such as log loss and Brier)."""
    if not 0.0 <= training_prior <= 1.0:
        raise ValueError(f"a prior is a share in [0, 1], got {training_prior}")
    refs = [Reference("always_up", "always up", 1.0)]
    if training_prior < 0.5:
        refs.append(Reference("majority_class", "the training majority (always not-up)", 0.0))
    refs.append(Reference("training_prior", f"the training prior ({training_prior:.3f} up)", float(training_prior)))
    return tuple(refs)


def skill_score(metric: str, y: Any, p: Any, reference_probability: float) -> float:
    """1 - loss(model) / loss(reference) for a loss metric (log loss or Brier): 0 is no skill."""
    if HIGHER_IS_BETTER.get(metric, True):
        raise ValueError(f"skill scores are defined for losses (log_loss, brier), not {metric!r}")
    labels = np.asarray(y).astype(bool)
    ref = metric_value(metric, labels, np.full(len(labels), float(reference_probability)))
    return 1.0 - metric_value(metric, labels, np.asarray(p, dtype=float)) / ref if ref > 0 else math.nan
