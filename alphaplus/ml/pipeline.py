"""The retraining pipeline's pure steps: candles -> regime dataset -> fitted model -> evaluations.

No I/O here: tasks fetch and store; these functions decide what a slot's training data is, train,
and score models on a shared out-of-sample window for the promotion gate.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from alphaplus.ml import training
from alphaplus.monitoring import drift
from alphaplus.core.errors import InsufficientData, InvalidInput
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, FeatureSpec, build_features
from alphaplus.promotion.gate import Evaluation
from alphaplus.ml.labels import forward_returns, make_labels
from alphaplus.ml.lineage import build_lineage, json_safe
from alphaplus.ml.metrics import classification_metrics, signal_after_costs
from alphaplus.ml.regimes import DEFAULT_RULE, RegimeRule, classify_regimes
from alphaplus.rollback.baseline import holdout_record


@dataclass(frozen=True)
class TrainingConfig:
    """How a slot is trained; part of the lineage key (a change is a different training)."""

    horizon: int = 12
    train_frac: float = 0.6
    valid_frac: float = 0.2
    seed: int = 7
    min_rows: int = 300
    psi_bins: int = 10
    feature_spec: FeatureSpec = DEFAULT_FEATURE_SPEC
    regime_rule: RegimeRule = DEFAULT_RULE

    @classmethod
    def from_lineage(cls, training_config: Mapping[str, Any], feature_set: Mapping[str, Any]) -> "TrainingConfig":
        """The config a version was trained with, rebuilt from its lineage record; InvalidInput when the
        record lacks a field or holds one of the wrong kind (a version registered by hand, say)."""
        try:
            rule = training_config.get("regime_rule")
            return cls(
                horizon=int(training_config["horizon"]),
                train_frac=float(training_config["train_frac"]),
                valid_frac=float(training_config["valid_frac"]),
                seed=int(training_config["seed"]),
                psi_bins=int(training_config["psi_bins"]),
                feature_spec=FeatureSpec.from_dict(dict(feature_set)),
                regime_rule=RegimeRule(**rule) if rule else DEFAULT_RULE,
            )
        except KeyError as e:
            raise InvalidInput(f"its recorded training config or feature set lacks {e.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as e:
            raise InvalidInput(f"its recorded training config or feature set is malformed: {str(e)[:200]}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon,
            "train_frac": self.train_frac,
            "valid_frac": self.valid_frac,
            "seed": self.seed,
            "psi_bins": self.psi_bins,
            "regime_rule": self.regime_rule.to_dict(),
        }


@dataclass(frozen=True)
class Dataset:
    """One slot's rows: features, labels and forward returns, time-ordered, regime-filtered.

    ``label_end`` is, per row, the bar whose close its label compares with (``horizon`` bars later):
    the last price a model trained on the row has seen.
    """

    regime: str
    X: pd.DataFrame
    y: pd.Series
    forward: pd.Series
    ts: pd.Series
    label_end: pd.Series | None = None

    def __len__(self) -> int:
        return len(self.y)

    def part(self, rows: slice | np.ndarray) -> "Dataset":
        """The rows at ``rows`` (a slice, or positions / a boolean mask), re-indexed from 0."""
        def pick(s: pd.Series | pd.DataFrame) -> Any:
            return s.iloc[rows].reset_index(drop=True)

        return Dataset(self.regime, pick(self.X), pick(self.y), pick(self.forward), pick(self.ts),
                       None if self.label_end is None else pick(self.label_end))


@dataclass(frozen=True)
class FitResult:
    """A trained slot model and what the registry stores with it."""

    trained: training.TrainedModel
    validation_metrics: dict[str, Any]
    holdout_metrics: dict[str, Any]
    training_metrics: dict[str, Any]
    holdout_start: pd.Timestamp
    holdout_end: pd.Timestamp
    # The last bar whose price entered a training or validation label: rows from here on are unseen.
    seen_data_end: pd.Timestamp | None
    psi_reference: dict[str, Any]
    sizes: tuple[int, int, int]
    duration_seconds: float
    psi_calibration: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def prepare_dataset(candles: pd.DataFrame, regime: str, config: TrainingConfig) -> Dataset:
    """Features, labels and forward returns of the bars classified as ``regime`` (causal features)."""
    candles = candles.reset_index(drop=True)
    features = build_features(candles, config.feature_spec)
    regimes = classify_regimes(candles, config.regime_rule)
    labels = make_labels(candles, config.horizon)
    fwd = forward_returns(candles, config.horizon)
    keep = (regimes == regime) & labels.notna() & features.notna().all(axis=1)
    keep = keep.to_numpy()
    return Dataset(
        regime=regime,
        X=features.loc[keep].reset_index(drop=True),
        y=labels.loc[keep].astype("int64").reset_index(drop=True),
        forward=fwd.loc[keep].reset_index(drop=True),
        ts=candles.loc[keep, "ts"].reset_index(drop=True),
        label_end=candles["ts"].shift(-config.horizon).loc[keep].reset_index(drop=True),
    )


def fit_slot(
    dataset: Dataset, config: TrainingConfig, hyperparameters: Mapping[str, Any], *,
    drift_window_bars: int = 200, drift_quantile: float = 0.99,
) -> FitResult:
    """Split in time with a purge gap, train deterministically, score validation and holdout; record
    what monitoring needs: the holdout's outcome counts and effective size (the rollback baseline),
    and the PSI reference bins with a drift threshold calibrated on ``drift_window_bars``-row windows
    of the training rows (monitoring settings: they change no model, so they are not in the lineage)."""
    if len(dataset) < config.min_rows:
        raise InsufficientData(
            f"regime '{dataset.regime}' has {len(dataset)} usable bars; at least {config.min_rows} are needed "
            "to train (import more candles or widen the date range)"
        )
    started = time.perf_counter()
    # Rebuilding the spec and parameters from their canonical JSON makes a training and its
    # reproduction from the lineage record (built from stored JSON) hold the same values (lists, not
    # tuples; plain floats), so they serialise to the same artifact bytes and their hashes compare.
    spec = FeatureSpec.from_dict(json.loads(config.feature_spec.to_json()))
    params = json_safe(hyperparameters)
    split = training.time_split(len(dataset), config.train_frac, config.valid_frac, purge=config.horizon)
    train, valid, holdout = dataset.part(split.train), dataset.part(split.valid), dataset.part(split.holdout)
    model = training.train_classifier(train.X, train.y, valid.X, valid.y, params, seed=config.seed)
    trained = training.bundle_model(model, spec, horizon=config.horizon, hyperparams=params, seed=config.seed)
    metrics = {
        name: classification_metrics(part.y, training.predict_proba(trained, part.X), forward_returns=part.forward)
        for name, part in (("train", train), ("validation", valid), ("holdout", holdout))
    }
    metrics["holdout"].update(holdout_record(
        holdout.y, training.predict_proba(trained, holdout.X), horizon=config.horizon,
        training_prior=float(train.y.mean()), seed=config.seed,
    ))
    bins = {c: drift.reference_bins(train.X[c], config.psi_bins) for c in trained.feature_names}
    reference = {c: b.to_dict() for c, b in bins.items()}
    calibration = drift.calibrate_threshold(bins, train.X, window_bars=drift_window_bars, quantile=drift_quantile)
    return FitResult(
        trained=trained,
        validation_metrics=metrics["validation"],
        holdout_metrics=metrics["holdout"],
        training_metrics=metrics["train"],
        holdout_start=holdout.ts.iloc[0],
        holdout_end=holdout.ts.iloc[-1],
        seen_data_end=valid.label_end.iloc[-1] if valid.label_end is not None else None,
        psi_reference=reference,
        psi_calibration=None if calibration is None else calibration.to_dict(),
        sizes=split.sizes,
        duration_seconds=time.perf_counter() - started,
    )


def fit_record(
    fit: FitResult,
    candles: pd.DataFrame,
    *,
    model_name: str,
    regime: str,
    symbol: str,
    config: TrainingConfig,
    hyperparameters: Mapping[str, Any],
    timeframe: str,
    parent_model_version: int | None,
    flow_run_id: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """(Lineage, version metadata) registered with a fit. ``n_samples`` is every usable row of the
    split; ``training_samples``/``validation_samples`` the fit and early-stopping parts; the holdout
    part (neither) and the purge gap go to ``lineage_metadata``."""
    train_rows, valid_rows, holdout_rows = fit.sizes
    lineage = build_lineage(
        model_name=model_name, regime=regime, symbol=symbol, training_frame=candles,
        feature_set=config.feature_spec.to_dict(), hyperparameters=hyperparameters,
        training_config=config.to_dict(), parent_model_version=parent_model_version, timeframe=timeframe,
        training_data_start=candles["ts"].iloc[0].to_pydatetime(),
        training_data_end=candles["ts"].iloc[-1].to_pydatetime(),
        n_samples=sum(fit.sizes), training_samples=train_rows, validation_samples=valid_rows,
        n_features=len(fit.trained.feature_names), training_duration_seconds=fit.duration_seconds,
        flow_run_id=flow_run_id,
        lineage_metadata={"holdout_samples": holdout_rows, "purge_rows": config.horizon},
    )
    version_metadata = {
        "feature_names": list(fit.trained.feature_names),
        "label_horizon": config.horizon,
        "timeframe": timeframe,
        "psi_reference": fit.psi_reference,
        "psi_calibration": fit.psi_calibration,
        "holdout_start": fit.holdout_start.isoformat(),
        "holdout_end": fit.holdout_end.isoformat(),
        # Rows from this bar on are unseen by the version: the promotion gate scores it only there.
        "seen_data_end": fit.seen_data_end.isoformat() if fit.seen_data_end is not None else None,
        "split_sizes": list(fit.sizes),
    }
    return lineage, version_metadata


def holdout_window(dataset: Dataset, config: TrainingConfig) -> Dataset:
    """The out-of-sample rows of a dataset: the holdout part of its time split."""
    split = training.time_split(len(dataset), config.train_frac, config.valid_frac, purge=config.horizon)
    return dataset.part(split.holdout)


def evaluate(
    trained: training.TrainedModel, window: Dataset, *, training_prior: float, cost_per_trade: float = 0.0
) -> tuple[Evaluation, dict[str, Any]]:
    """Score a model on a window: the gate's Evaluation (labels, probabilities, the training prior its
    no-skill references come from) and the full metrics dict for storage."""
    if len(window) == 0:
        raise InvalidInput("the evaluation window is empty")
    proba = training.predict_proba(trained, window.X)
    metrics = classification_metrics(window.y, proba, forward_returns=window.forward)
    metrics.update(signal_after_costs(proba, window.forward, horizon=trained.horizon, cost_per_trade=cost_per_trade))
    numeric = {k: float(v) for k, v in metrics.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)}
    evaluation = Evaluation(y=window.y.to_numpy(), proba=proba, horizon=trained.horizon,
                            training_prior=training_prior, metrics=numeric)
    metrics.update({k: v for k, v in evaluation.metrics.items() if k not in metrics})
    return evaluation, metrics
