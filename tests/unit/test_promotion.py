"""Champion vs challenger on the same window: the gate's inputs are paired row by row."""

from __future__ import annotations

from dataclasses import replace

from alphaplus.core.entities import Slot
from alphaplus.ml.features import FeatureSpec
from alphaplus.promotion.gate import GatePolicy
from alphaplus.market.synth import synth_candles
from alphaplus.ml.pipeline import TrainingConfig, fit_slot, prepare_dataset
from alphaplus.promotion.comparison import model_card, run_gate


class _Version:
    def __init__(self, version: int) -> None:
        self.version = version


def test_models_with_different_feature_warmups_are_scored_on_the_same_rows():
    candles = synth_candles(6000, seed=1)
    config = TrainingConfig()
    short = replace(config, feature_spec=FeatureSpec(return_windows=(1, 3), volatility_windows=(12,),
                                                     ma_windows=(12,), volume_window=12, range_window=12))
    challenger = fit_slot(prepare_dataset(candles, "trending", config), config, {"n_estimators": 30})
    champion = fit_slot(prepare_dataset(candles, "trending", short), short, {"n_estimators": 30})
    outcome = run_gate(
        slot=Slot("m", "trending", "X"), challenger=_Version(2), challenger_model=challenger.trained,
        champion=_Version(1), champion_model=champion.trained, candles=candles, config=config,
        policy=GatePolicy(min_samples=50),
    )
    assert outcome.n_samples == outcome.challenger_metrics["n"] == outcome.champion_metrics["n"] > 50
    assert outcome.decision.mcnemar is not None
    assert outcome.window_start is not None and outcome.window_end > outcome.window_start
    card = model_card(outcome)
    assert "| accuracy |" in card and "McNemar" in card and outcome.decision.outcome in card
