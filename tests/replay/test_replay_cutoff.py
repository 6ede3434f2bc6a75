"""No step of a replay sees a candle after its simulated time: a planted spike changes nothing before
it closes (fits, training data hashes, decisions, served answers), and changes the first training after."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from alphaplus.replay.policies import parse_policies
from tests.replay.conftest import TEST_POLICY, plan_over
from tests.replay.markets import flipping_market

# The bar opening at the third retraining's instant (bar 1296): not closed then, so that retraining
# must not see it; the fourth (bar 1344) does. Two promotions (bars 1200 and 1248) serve before it.
SPIKE = 1296


def _spiked(frame: pd.DataFrame, at: int) -> pd.DataFrame:
    """``frame`` with bar ``at`` a huge up-spike (close x3) that stays: every later price moves with it."""
    out = frame.copy()
    out.loc[at:, ["open", "high", "low", "close"]] *= 3.0
    out.loc[at, "open"] = frame.loc[at, "open"]
    out.loc[at, "low"] = min(frame.loc[at, "low"], out.loc[at, "close"])
    return out


async def test_a_planted_future_candle_changes_nothing_before_it_closes(settings, replayed):
    from alphaplus.rollback.service import policy_from_settings

    # A gate at a loose level, so that models are promoted and served before the spike.
    loose = {**TEST_POLICY, "gate": {**TEST_POLICY["gate"], "alpha": 0.25}}
    test_policies = parse_policies({"lenient": loose}, settings, policy_from_settings(settings))
    clean = flipping_market(1550, 0, phi=0.6, seed=0)
    spiked = _spiked(clean, SPIKE)
    spiked.loc[1500:, ["open", "high", "low", "close"]] *= 5.0  # after the replay's end too
    plan = plan_over(clean, 1200, 1450, retrain_every=timedelta(days=2), validate=False, regimes=("trending",))
    a = await replayed(plan, {"BTCUSDT": clean}, test_policies)
    b = await replayed(plan, {"BTCUSDT": spiked}, test_policies)
    spike_close = clean["ts"].iloc[SPIKE] + pd.Timedelta(hours=1)

    before = [i for i, f in enumerate(a.fits) if f.at < spike_close]
    assert len(before) == 3 and len(a.fits) > len(before)
    assert any(d.kind == "promote" and d.at < spike_close for d in a.decisions)
    for i in before:
        assert a.fits[i].training_data_hash == b.fits[i].training_data_hash
        assert a.fits[i].data_end == b.fits[i].data_end
    first_after = len(before)
    assert a.fits[first_after].training_data_hash != b.fits[first_after].training_data_hash

    def decided(run):
        return [(d.at, d.kind, d.version, d.from_version, d.to_version, d.reasons) for d in run.decisions
                if d.at < spike_close]

    assert decided(a) == decided(b) and decided(a)

    def answered(run):
        return [(s.bar_ts, s.version, s.probability) for s in run.served["lenient"]
                if pd.Timestamp(s.bar_ts) < clean["ts"].iloc[SPIKE]]

    assert answered(a) == answered(b)
    assert any(version is not None for _, version, _ in answered(a))
