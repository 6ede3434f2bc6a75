"""The replay's pure parts: periods, the schedule, what a step may see, named policies, the HTML page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from alphaplus.core.errors import InvalidInput
from alphaplus.core.settings import Settings
from alphaplus.replay.html import render_html
from alphaplus.replay.plan import ReplayPlan, TimeMap, known_candles, parse_instant, parse_period, schedule, timeline
from alphaplus.replay.policies import load_policy_file, parse_policies
from alphaplus.rollback.config import RollbackPolicy
from tests.market_shapes import candles_at

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _plan(**kw) -> ReplayPlan:
    return ReplayPlan(("BTCUSDT",), T0, T0 + timedelta(days=3), **kw)


def test_periods_and_instants_parse_or_fail_in_one_line():
    assert parse_period("7d") == timedelta(days=7) and parse_period("12h") == timedelta(hours=12)
    assert parse_period("2w") == timedelta(weeks=2) and parse_period("30m") == timedelta(minutes=30)
    for bad in ("0d", "7", "d7", "7y", "-1d", ""):
        with pytest.raises(InvalidInput, match="is not a period"):
            parse_period(bad)
    assert parse_instant("2024-03-01", what="--from") == T0
    with pytest.raises(InvalidInput, match="--from 'soon' is not a date"):
        parse_instant("soon", what="--from")


def test_a_plan_refuses_an_empty_or_backward_span():
    with pytest.raises(InvalidInput, match="must be after"):
        ReplayPlan(("BTCUSDT",), T0, T0)
    with pytest.raises(InvalidInput, match="at least one --symbol"):
        ReplayPlan((), T0, T0 + timedelta(days=1))


def test_the_schedule_assesses_before_it_retrains_at_one_instant_and_stops_before_the_end():
    steps = schedule(_plan(retrain_every=timedelta(days=1), assess_every=timedelta(hours=12)))
    assert steps[0] == (T0, "retrain")
    assert steps[1:4] == [(T0 + timedelta(hours=12), "assess"), (T0 + timedelta(days=1), "assess"),
                          (T0 + timedelta(days=1), "retrain")]
    assert all(t < T0 + timedelta(days=3) for t, _ in steps)


def test_a_step_sees_exactly_the_candles_closed_by_its_instant():
    frame = candles_at(pd.date_range(T0 - timedelta(hours=5), periods=10, freq="1h"))
    seen = known_candles(frame, T0, timedelta(hours=1))
    # The bar opening at T0 closes at T0 + 1h: not known at T0; the one opening an hour before is.
    assert seen["ts"].iloc[-1] == pd.Timestamp(T0 - timedelta(hours=1)) and len(seen) == 5


def test_bars_close_before_the_steps_of_the_same_instant():
    frame = candles_at(pd.date_range(T0 - timedelta(hours=2), periods=30, freq="1h"))
    events = list(timeline(_plan(assess_every=timedelta(hours=12)), {"BTCUSDT": frame}))
    at_noon = [kind for t, kind, _ in events if t == T0 + timedelta(hours=12)]
    assert at_noon == ["bars", "assess"]
    assert events[0][1] == "retrain" and events[1] == (T0 + timedelta(hours=1), "bars", events[1][2])


def test_the_time_map_gives_the_real_instant_after_a_simulated_one():
    clock = TimeMap()
    real = datetime(2030, 1, 1, tzinfo=timezone.utc)
    for h in range(4):
        clock.mark(T0 + timedelta(hours=h), real + timedelta(seconds=h))
    assert clock.real_after(T0 + timedelta(hours=1), real) == real + timedelta(seconds=2)
    assert clock.real_after(T0 + timedelta(hours=9), real) == real
    with pytest.raises(ValueError):
        clock.mark(T0, real)


def test_a_policy_file_names_policies_on_top_of_the_configured_settings(tmp_path):
    settings = Settings(gate_alpha=0.05)
    base = RollbackPolicy()
    path = tmp_path / "policies.yaml"
    path.write_text("policies:\n  configured: {}\n  strict:\n    gate: {alpha: 0.01, compared_metrics: [accuracy]}\n"
                    "    rollback: {consecutive: 1, no_return_days: 3}\n")
    configured, strict = load_policy_file(path, settings, base)
    assert configured.gate.alpha == 0.05 and configured.rollback == base
    assert strict.gate.alpha == 0.01 and strict.gate.compared_metrics == ("accuracy",)
    assert strict.rollback.consecutive == 1 and strict.rollback.no_return == timedelta(days=3)


@pytest.mark.parametrize("document, message", [
    ({"p": {"gate": {"alpah": 0.1}}}, "unknown gate setting"),
    ({"p": {"rollback": {"consecutive": 0}}}, "consecutive must be at least 1"),
    ({"p": {"canary": {}}}, "only 'gate' and 'rollback'"),
    ({"bad name!": {}}, "must be a short name"),
    ([], "must map policy names"),
])
def test_a_bad_policy_document_is_one_clear_error(document, message):
    with pytest.raises(InvalidInput, match=message):
        parse_policies(document, Settings(), RollbackPolicy())


def test_the_html_report_is_self_contained_and_escapes_reasons():
    report = {
        "plan": {"symbols": ["BTCUSDT"], "start": T0.isoformat(), "end": (T0 + timedelta(days=2)).isoformat(),
                 "retrain_every": "7d", "assess_every": "1d", "horizon": 1, "timeframe": "1h"},
        "series": ["policy:p", "no_skill"], "policies": [{"name": "p"}], "fits": [],
        "overall": {s: {"total": {"bars": 1, "answered": 1, "hit_rate": 1.0, "mcc": 0.0, "net_return": 0.01,
                                  "trades": 1},
                        "periods": [{"start": T0.isoformat(), "end": T0.isoformat(), "bars": 1, "answered": 1,
                                     "hit_rate": 1.0, "mcc": 0.0, "net_return": 0.01, "trades": 1}]}
                    for s in ("policy:p", "no_skill")},
        "slots": [],
    }
    decision = {"at": T0.isoformat(), "policy": "p", "kind": "rollback", "version": 2, "from_version": 2,
                "to_version": 1, "reasons": ["<script>x</script>"], "regime": "trending", "symbol": "BTCUSDT"}
    report["slots"] = [{"regime": "trending", "symbol": "BTCUSDT", "bars": 1, "metrics": report["overall"],
                        "timeline": {"p": [{"version": 2, "from": T0.isoformat(), "to": T0.isoformat(), "bars": 1}]},
                        "decisions": [decision]}]
    report["decisions"] = [decision]
    page = render_html(report)
    assert "<svg" in page and "<script" not in page and "&lt;script&gt;" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
