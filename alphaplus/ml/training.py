"""Deterministic LightGBM training: time-ordered purged splits, the fit, and the saved model bundle.

Determinism: ``deterministic=True``, ``force_row_wise=True``, a fixed seed and a fixed thread count
make the fitted booster, and so its model text and artifact bytes, identical for identical data and
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from alphaplus.ml.features import FeatureSpec
from alphaplus.ml.labels import LABEL_NAMES

# Conservative defaults for noisy, small-signal financial data: shallow trees, strong subsampling.
DEFAULT_HYPERPARAMS: dict[str, Any] = {
    "objective": "binary",
    "n_estimators": 400,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "max_depth": -1,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "reg_alpha": 0.0,
}

# Set by train_classifier itself: callers cannot switch determinism off through params.
_FIXED_PARAMS = ("deterministic", "force_row_wise", "random_state", "n_jobs", "verbose")


@dataclass(frozen=True)
class TimeSplit:
    """Positional slices of a time-ordered frame: train, then validation, then holdout."""

    train: slice
    valid: slice
    holdout: slice
    purge: int

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Rows in (train, valid, holdout)."""
        return tuple(s.stop - s.start for s in (self.train, self.valid, self.holdout))  # type: ignore[return-value]


def time_split(n: int, train_frac: float = 0.6, valid_frac: float = 0.2, purge: int = 12) -> TimeSplit:
    """Split ``n`` time-ordered rows into train/valid/holdout with ``purge`` rows dropped between parts.

    A label of row t looks ``horizon`` bars ahead; dropping ``purge = horizon`` rows after train and
    after validation keeps any label window from overlapping the next part's rows.
    """
    if not (0 < train_frac < 1 and 0 < valid_frac < 1 and train_frac + valid_frac < 1):
        raise ValueError(
            f"need 0 < train_frac, valid_frac and train_frac + valid_frac < 1, got {train_frac}, {valid_frac}"
        )
    if purge < 0:
        raise ValueError(f"purge must be >= 0, got {purge}")
    train_end = int(n * train_frac)
    valid_end = int(n * (train_frac + valid_frac))
    split = TimeSplit(
        train=slice(0, train_end),
        valid=slice(min(train_end + purge, valid_end), valid_end),
        holdout=slice(min(valid_end + purge, n), n),
        purge=purge,
    )
    if min(split.sizes) <= 0:
        raise ValueError(
            f"{n} rows are too few to split {train_frac:.0%}/{valid_frac:.0%}/rest with a purge of {purge}: "
            f"sizes would be {split.sizes}"
        )
    return split


class BoosterClassifier:
    """A fitted LightGBM binary classifier held as its model text, the form an artifact stores.

    Predictions come from the booster LightGBM parses from that text, so a model predicts the same
    right after training and after it is loaded from its artifact.
    """

    def __init__(self, model_text: str, *, best_iteration: int | None = None) -> None:
        import lightgbm as lgb

        self.model_text = model_text
        self.best_iteration = best_iteration
        self.booster_ = lgb.Booster(model_str=model_text)

    @classmethod
    def from_fitted(cls, model: Any) -> "BoosterClassifier":
        """The classifier of a fitted ``lightgbm.LGBMClassifier`` (every tree it kept)."""
        best = getattr(model, "best_iteration_", None)
        return cls(model.booster_.model_to_string(num_iteration=-1), best_iteration=int(best) if best else None)

    @property
    def feature_name_(self) -> list[str]:
        """Feature names in the order the booster was trained on."""
        return list(self.booster_.feature_name())

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of (not up, up) per row, like scikit-learn's ``predict_proba``."""
        up = np.asarray(self.booster_.predict(X, num_iteration=self.best_iteration or -1), dtype=np.float64)
        return np.column_stack((1.0 - up, up))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BoosterClassifier) and self.model_text == other.model_text
                and self.best_iteration == other.best_iteration)

    __hash__ = None  # type: ignore[assignment]  # equal by value; the booster inside is mutable


@dataclass(frozen=True)
class TrainedModel:
    """What an artifact holds: the fitted classifier and everything needed to use it correctly."""

    model: BoosterClassifier
    feature_spec: FeatureSpec
    feature_names: tuple[str, ...]
    horizon: int
    label_names: tuple[str, ...] = LABEL_NAMES
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def label_mapping(self) -> dict[int, str]:
        """Class index -> meaning, e.g. ``{0: "not_up", 1: "up"}``."""
        return dict(enumerate(self.label_names))


def train_classifier(
    X_train: pd.DataFrame,
    y_train: pd.Series | np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: pd.Series | np.ndarray,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    *,
    n_jobs: int = 2,
    early_stopping_rounds: int = 50,
):
    """Fit an LGBMClassifier with early stopping on the validation part; deterministic for a seed."""
    import lightgbm as lgb

    _check_xy(X_train, y_train, "train")
    _check_xy(X_valid, y_valid, "validation")
    merged = {**DEFAULT_HYPERPARAMS, **dict(params or {})}
    for key in _FIXED_PARAMS:
        merged.pop(key, None)
    model = lgb.LGBMClassifier(
        **merged,
        random_state=int(seed),
        deterministic=True,
        force_row_wise=True,
        n_jobs=int(n_jobs),
        verbose=-1,
    )
    callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)] if early_stopping_rounds > 0 else []
    model.fit(
        X_train,
        np.asarray(y_train, dtype=np.int64),
        # LightGBM 4.7 deprecates eval_set in favour of eval_X/eval_y.
        eval_X=(X_valid,),
        eval_y=(np.asarray(y_valid, dtype=np.int64),),
        eval_metric="binary_logloss",
        callbacks=callbacks,
    )
    return model


def _check_xy(X: pd.DataFrame, y: pd.Series | np.ndarray, part: str) -> None:
    if len(X) != len(y):
        raise ValueError(f"{part} features have {len(X)} rows but labels have {len(y)}")
    if len(X) == 0:
        raise ValueError(f"{part} part is empty")
    y_arr = np.asarray(y, dtype=float)
    if np.isnan(y_arr).any():
        raise ValueError(f"{part} labels contain NaN (unknown outcomes must be dropped before training)")
    if part == "train" and len(np.unique(y_arr)) < 2:
        raise ValueError("train labels hold a single class; a classifier cannot be trained on them")


def bundle_model(
    model,
    feature_spec: FeatureSpec,
    *,
    horizon: int,
    hyperparams: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> TrainedModel:
    """Wrap a fitted ``lightgbm.LGBMClassifier`` with its feature spec and label meaning, ready to save."""
    return TrainedModel(
        model=BoosterClassifier.from_fitted(model),
        feature_spec=feature_spec,
        feature_names=tuple(str(c) for c in model.feature_name_),
        horizon=int(horizon),
        hyperparams=dict(hyperparams or {}),
        seed=int(seed),
    )


def predict_proba(trained: TrainedModel, X: pd.DataFrame) -> np.ndarray:
    """Probability of "up" for every row of ``X`` (columns are matched by name, extra ones ignored)."""
    missing = [c for c in trained.feature_names if c not in X.columns]
    if missing:
        raise ValueError(f"features missing for prediction: {', '.join(missing)}")
    proba = trained.model.predict_proba(X.loc[:, list(trained.feature_names)])
    return np.asarray(proba[:, 1], dtype=np.float64)
