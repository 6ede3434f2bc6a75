"""A replay over a market whose edge flips: it promotes while the edge holds, rolls back soon after the
flip and refuses new models after it; its fits, served answers and report equal the same steps by hand."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pandas as pd

from alphaplus.ml.features import build_features
from alphaplus.ml.labels import make_labels
from alphaplus.ml.pipeline import TrainingConfig, fit_record, fit_slot, prepare_dataset
from alphaplus.ml.training import predict_proba
from alphaplus.replay.plan import known_candles
from alphaplus.replay.report import build_report
from tests.replay.conftest import FLIP_AT, plan_over

LOSS_OF_EDGE = ("rollback", "no_safe_candidate", "market_shift")


async def test_replay_rolls_back_after_a_planted_flip_and_matches_the_same_steps_by_hand(
    flip_market, test_policies, replayed, settings
):
    plan = plan_over(flip_market, 1300, len(flip_market) - 1)
    run = await replayed(plan, {"BTCUSDT": flip_market}, test_policies)
    flip = flip_market["ts"].iloc[FLIP_AT].to_pydatetime()
    decisions = run.decisions

    # While the edge holds: promotions, no rollback. After the flip: a rollback within days, and no
    # model trained afterwards is promoted once a week of the new market is in its unseen window.
    assert any(d.kind == "promote" and d.at < flip for d in decisions)
    assert not [d for d in decisions if d.kind in LOSS_OF_EDGE and d.at < flip]
    first_loss = next(d for d in decisions if d.kind in LOSS_OF_EDGE)
    assert first_loss.kind == "rollback" and flip < first_loss.at <= flip + timedelta(days=5)
    assert first_loss.to_version is not None and first_loss.to_version < first_loss.from_version
    assert not [d for d in decisions if d.kind == "promote" and d.at > flip + timedelta(days=7)]

    # The first retraining by hand: the candles known then, the same pipeline: same data hash and model.
    fit = run.fits[0]
    config = TrainingConfig(horizon=1)
    candles = known_candles(flip_market, fit.at, plan.bar)
    by_hand = fit_slot(prepare_dataset(candles, "ranging", config), config, {},
                       drift_window_bars=settings.drift_window_bars, drift_quantile=settings.drift_calibration_quantile)
    lineage, _ = fit_record(by_hand, candles, model_name=plan.model_name, regime="ranging", symbol="BTCUSDT",
                            config=config, hyperparameters={}, timeframe="1h", parent_model_version=None)
    assert lineage.training_data_hash == fit.training_data_hash
    features = build_features(flip_market)
    rows = features.iloc[1300:1400].dropna()
    np.testing.assert_allclose(predict_proba(by_hand.trained, rows), predict_proba(fit.model, rows))

    # Every served answer is the serving version's model on the bar's features, and the serving
    # version switches from the rolled-back one to its target right after the rollback.
    by_version = {f.versions["lenient"]: f.model for f in run.fits}
    served = [s for s in run.served["lenient"] if s.version is not None]
    index = {ts: i for i, ts in enumerate(flip_market["ts"])}
    for s in served[::7]:
        row = features.iloc[[index[pd.Timestamp(s.bar_ts)]]]
        assert abs(predict_proba(by_version[s.version], row)[0] - s.probability) < 1e-9
    after = [s.version for s in served if pd.Timestamp(s.bar_ts) + pd.Timedelta(hours=1) > first_loss.at]
    before = [s.version for s in served if pd.Timestamp(s.bar_ts) + pd.Timedelta(hours=1) <= first_loss.at]
    assert before[-1] == first_loss.from_version and after[0] == first_loss.to_version

    # The assessment that rolled back judged exactly the matured answers the rolled-back version served
    # since its promotion: their count and balanced accuracy, by hand, are those its reason states.
    promoted = max(d.at for d in decisions if d.kind == "promote" and d.to_version == first_loss.from_version)
    labels = make_labels(flip_market, 1)
    stint = [s for s in served if s.version == first_loss.from_version
             and promoted < pd.Timestamp(s.bar_ts) + pd.Timedelta(hours=1) <= first_loss.at - plan.bar * plan.horizon]
    y = np.array([labels.iloc[index[pd.Timestamp(s.bar_ts)]] for s in stint])
    p = np.array([int(s.probability > 0.5) for s in stint])
    balanced = (np.mean(p[y == 1] == 1) + np.mean(p[y == 0] == 0)) / 2
    stated = re.search(r"balanced accuracy over no skill \(0\.5\) ([-+]\d\.\d{3}) .* on (\d+) live outcomes",
                       first_loss.reasons[0])
    assert stated is not None, first_loss.reasons
    assert int(stated.group(2)) == len(stint) and float(stated.group(1)) == round(balanced - 0.5, 3)

    # The report's numbers for the served signal are the hit rate and MCC of those answers by hand.
    report = build_report(run, {"BTCUSDT": flip_market})
    period = report["slots"][0]["metrics"]["policy:lenient"]["periods"][-2]
    lo, hi = pd.Timestamp(period["start"]), pd.Timestamp(period["end"])
    mine = [s for s in served if lo < pd.Timestamp(s.bar_ts) + pd.Timedelta(hours=1) <= hi
            and not np.isnan(labels.iloc[index[pd.Timestamp(s.bar_ts)]])]
    hits = [int(s.probability > 0.5) == int(labels.iloc[index[pd.Timestamp(s.bar_ts)]]) for s in mine]
    assert period["answered"] == len(mine) and abs(period["hit_rate"] - np.mean(hits)) < 1e-12
    overall = report["overall"]
    assert set(overall) == {"policy:lenient", "never_retrain", "always_newest", "no_skill"}
    assert overall["no_skill"]["total"]["mcc"] == 0.0
    # After the flip the served signal (stuck with models of the old market) does worse than no skill.
    late = report["slots"][0]["metrics"]
    assert late["policy:lenient"]["periods"][-2]["hit_rate"] < late["no_skill"]["periods"][-2]["hit_rate"]
