"""``alphaplus outcomes resolve``: no window to choose; every matured prediction resolves once, the rest
wait (and the command says for what); a period is selected with --since/--until."""

from __future__ import annotations

import json
import uuid

import pandas as pd

from alphaplus.cli.common import run
from alphaplus.cli.main import main
from alphaplus.ml.labels import make_labels
from tests.db.conftest import make_lineage
from tests.market_shapes import market_candles

HORIZON = 12


async def _live_eurusd(settings, model_name: str, symbol: str, candles: pd.DataFrame) -> None:
    """Candles of a 24/5 symbol and one right prediction per bar, recorded as each bar closed."""
    from alphaplus.registry.service import Registry
    from db.candles import upsert_candles
    from db.inference import write_events
    from db.instruments import set_calendar

    registry = await Registry.open(settings)
    pool = registry.repo.pool
    await upsert_candles(pool, symbol=symbol, timeframe="1h", frame=candles)
    await set_calendar(pool, symbol=symbol, calendar="24/5")
    reg = await registry.register_model_version(
        make_lineage(model_name, symbol=symbol), model={"w": uuid.uuid4().hex},
        version_metadata={"label_horizon": HORIZON, "timeframe": "1h", "feature_names": []})
    labels = make_labels(candles, HORIZON).fillna(0).astype(int)
    events = [((r.ts + pd.Timedelta(hours=1, seconds=2)).to_pydatetime(), r.ts.to_pydatetime(), model_name,
               reg.version.version, "trending", symbol, False, True, None, 1.0, int(labels.iloc[i]), 0.6, None)
              for i, r in candles.iterrows()]
    await write_events(pool, events, [])


def _resolve(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["outcomes", "resolve", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_every_matured_prediction_resolves_once_without_a_window(cli_env, model_name, capsys):
    symbol = f"EUR{uuid.uuid4().hex[:6].upper()}"
    candles = market_candles("24/5", "2026-01-26", "2026-02-27", "1h", seed=2).iloc[-468:].reset_index(drop=True)
    assert len(candles) == 468
    run(lambda: _live_eurusd(cli_env, model_name, symbol, candles))

    first = _resolve(capsys, "--model", model_name, "--until", "2026-02-20T00:00")
    second = _resolve(capsys, "--model", model_name)
    (a,), (b,) = first["records"], second["records"]
    # The wall clock is long past every bar: only the last HORIZON bars, whose exits are not in the
    # candles, wait (for candles, not for time).
    assert a["n_samples"] + b["n_samples"] == 468 - HORIZON and a["accuracy"] == b["accuracy"] == 1.0
    assert (second["bars_immature"], second["bars_awaiting_candles"]) == (0, HORIZON)
    assert _resolve(capsys, "--model", model_name)["predictions_accounted"] == 0

    assert main(["outcomes", "resolve", "--model", model_name]) == 0
    assert f"{HORIZON} matured bars await their candles" in capsys.readouterr().out


def test_a_period_that_is_not_a_time_or_is_empty_is_one_clear_line(cli_env, capsys):
    assert main(["outcomes", "resolve", "--since", "yesterday"]) == 1
    err = capsys.readouterr().err
    assert "--since 'yesterday' is not a time" in err and len(err.strip().splitlines()) == 1
    assert main(["outcomes", "resolve", "--since", "2026-03-02", "--until", "2026-03-01"]) == 1
    assert "must be after since" in capsys.readouterr().err
