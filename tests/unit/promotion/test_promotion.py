"""Champion vs challenger on the rows neither has seen, chosen by time from their recorded data ends."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import pytest

from alphaplus.core.entities import Slot
from alphaplus.market.random_walk import fx_candles
from alphaplus.market.synth import synth_candles
from alphaplus.ml.features import FeatureSpec
from alphaplus.ml.pipeline import FitResult, TrainingConfig, fit_slot, holdout_window, prepare_dataset
from alphaplus.promotion.comparison import model_card, run_gate
from alphaplus.promotion.gate import GatePolicy

POLICY = GatePolicy(min_outcomes=10, bootstrap_reps=199)


@dataclass
class Version:
    """What the gate reads of a registered version: its number, metadata and training metrics."""

    version: int
    version_metadata: dict[str, Any] = field(default_factory=dict)
    training_metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lineage:
    training_data_end: Any = None


def registered(version: int, fit: FitResult) -> Version:
    """A version as registration records it (tasks.training.register_staging)."""
    return Version(version, {"seen_data_end": fit.seen_data_end.isoformat(), "holdout_start": fit.holdout_start.isoformat()},
                   {"train": fit.training_metrics, "holdout": fit.holdout_metrics})


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return synth_candles(6000, seed=1)


@pytest.fixture(scope="module")
def config() -> TrainingConfig:
    return TrainingConfig()


@pytest.fixture(scope="module")
def full_fit(candles, config) -> FitResult:
    return fit_slot(prepare_dataset(candles, "trending", config), config, {"n_estimators": 30})


def test_the_unseen_window_of_a_fresh_training_is_its_holdout_slice(candles, config, full_fit):
    outcome = run_gate(slot=Slot("m", "trending", "X"), challenger=registered(2, full_fit),
                       challenger_model=full_fit.trained, champion=None, champion_model=None, candles=candles,
                       config=config, policy=POLICY)
    holdout = holdout_window(prepare_dataset(candles, "trending", config), config)
    assert outcome.n_samples == len(holdout)
    assert outcome.window_start == holdout.ts.iloc[0] and outcome.window_end == holdout.ts.iloc[-1]
    assert outcome.window_start >= full_fit.seen_data_end


def test_no_row_of_the_window_was_seen_by_the_champion_either(candles, config, full_fit):
    """A champion trained on later data than the challenger moves the window past its own data."""
    early = fit_slot(prepare_dataset(candles.iloc[:4000], "trending", config), config, {"n_estimators": 30})
    outcome = run_gate(slot=Slot("m", "trending", "X"), challenger=registered(1, early),
                       challenger_model=early.trained, champion=registered(2, full_fit),
                       champion_model=full_fit.trained, candles=candles, config=config, policy=POLICY)
    assert outcome.window_start >= full_fit.seen_data_end > early.seen_data_end
    assert any("v2: unseen from" in line for line in model_card(outcome).splitlines())


def test_with_no_unseen_rows_the_decision_is_needs_review_and_nothing_is_scored(candles, config, full_fit):
    training_frame = candles.iloc[:4000]
    fit = fit_slot(prepare_dataset(training_frame, "trending", config), config, {"n_estimators": 30})
    version = Version(1, {}, {"train": fit.training_metrics})
    outcome = run_gate(slot=Slot("m", "trending", "X"), challenger=version, challenger_model=fit.trained,
                       champion=None, champion_model=None, candles=training_frame, config=config, policy=POLICY,
                       challenger_lineage=Lineage(training_frame["ts"].iloc[-1]))
    assert outcome.decision.outcome == "needs_review" and outcome.n_samples == 0
    assert "never scores a model on data it has seen" in outcome.decision.reasons[0]
    assert "the end of its training data" in outcome.decision.reasons[0]
    assert outcome.challenger_metrics == {}


def test_a_version_without_a_recorded_data_end_is_not_scored(candles, config, full_fit):
    outcome = run_gate(slot=Slot("m", "trending", "X"), challenger=Version(5), challenger_model=full_fit.trained,
                       champion=None, champion_model=None, candles=candles, config=config, policy=POLICY)
    assert outcome.decision.outcome == "needs_review"
    assert outcome.decision.reasons[0].startswith("v5: unseen from unknown (no data end recorded)")


def test_models_with_different_feature_warmups_are_scored_on_the_same_rows(candles, config, full_fit):
    short = replace(config, feature_spec=FeatureSpec(return_windows=(1, 3), volatility_windows=(12,),
                                                     ma_windows=(12,), volume_window=12, range_window=12))
    champion = fit_slot(prepare_dataset(candles, "trending", short), short, {"n_estimators": 30})
    outcome = run_gate(slot=Slot("m", "trending", "X"), challenger=registered(2, full_fit),
                       challenger_model=full_fit.trained, champion=registered(1, champion),
                       champion_model=champion.trained, candles=candles, config=config, policy=POLICY)
    assert outcome.n_samples == outcome.challenger_metrics["n"] == outcome.champion_metrics["n"] > 100
    card = model_card(outcome)
    assert "| balanced_accuracy |" in card and "| mcc |" in card and "block bootstrap" in card
    assert "accuracy better than the champion's" in card or outcome.decision.outcome == "reject"


def test_on_eurusd_like_data_a_model_that_does_not_beat_always_up_is_not_promoted():
    """Hourly FX-shaped random walk, weekends closed, drift: always-up is right ~55% of the time."""
    candles = fx_candles(9000, seed=3)
    config = TrainingConfig()
    fit = fit_slot(prepare_dataset(candles, "trending", config), config, {})
    outcome = run_gate(slot=Slot("m", "trending", "EURUSD"), challenger=registered(1, fit),
                       challenger_model=fit.trained, champion=None, champion_model=None, candles=candles,
                       config=config, policy=GatePolicy())
    d = outcome.decision
    assert d.outcome != "promote"
    always_up = next(r for r in d.reasons if "always up" in r)
    ours = outcome.challenger_metrics["accuracy"]
    assert f"accuracy {ours:.3f} vs {outcome.challenger_metrics['class_balance']:.3f}" in always_up
    card = model_card(outcome)
    assert "no champion yet" not in card and "floors met" not in card
