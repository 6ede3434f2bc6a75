"""Fixtures for replay tests: a planted-flip market, a cheap policy, and a replay runner against the
session database's server (each replay makes and drops its own scratch database)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alphaplus.replay.plan import ReplayPlan
from alphaplus.replay.policies import parse_policies
from tests.replay.markets import flipping_market

# A gate that decides on the ~100 unseen rows a small market gives (1-bar labels: each row independent)
# and refreshes a champion a challenger is not significantly worse than; a rollback policy that looks
# every 5 outcomes. Fewer bootstrap resamples keep the test fast; decisions stay seeded.
TEST_POLICY = {
    "gate": {"min_outcomes": 20, "on_insignificant": "promote", "bootstrap_reps": 199},
    "rollback": {"min_outcomes": 15, "look_outcomes": 5, "consecutive": 1, "min_inferences": 50},
}
FLIP_AT = 2000  # bar where the momentum edge turns into its mirror image


@pytest.fixture(scope="session")
def flip_market():
    """2,000 hourly bars with a momentum edge, then 600 with the edge reversed."""
    return flipping_market(FLIP_AT, 600, seed=0)


@pytest.fixture
def test_policies(settings):
    from alphaplus.rollback.service import policy_from_settings

    return parse_policies({"lenient": TEST_POLICY}, settings, policy_from_settings(settings))


def plan_over(frame, first: int, last: int, **kw) -> ReplayPlan:
    """A one-symbol, ranging-slot, 1-bar-horizon plan serving bars ``first``..``last - 1`` of ``frame``."""
    options = dict(regimes=("ranging",), horizon=1, retrain_every=timedelta(days=7), assess_every=timedelta(days=1))
    options.update(kw)
    return ReplayPlan(("BTCUSDT",), frame["ts"].iloc[first].to_pydatetime(),
                      frame["ts"].iloc[last].to_pydatetime(), **options)


@pytest.fixture
def replayed(settings):
    """Run a replay with the session settings as the live registry's (its scratch database is dropped)."""
    from alphaplus.replay.runner import run_replay

    async def go(plan, source, policies):
        return await run_replay(plan, source, policies, live=settings)

    return go
