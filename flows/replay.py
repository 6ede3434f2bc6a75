"""The replay flow: what retraining, the promotion gate and rollback would have done over history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger
from pydantic import Field

from flows.parameters import RegimeChoice
from tasks.replay import publish_replay_report, replay_history, write_replay_report

PERIOD = r"^[0-9]{1,6}[mhdw]$"


@flow(name="replay", description="Replay retraining, the gate, serving and rollback over history on a simulated clock.")
async def replay(
    start: datetime,
    end: datetime,
    symbols: Annotated[list[str], Field(min_length=1)] = ["BTCUSDT"],  # noqa: B006
    retrain_every: Annotated[str, Field(pattern=PERIOD)] = "7d",
    assess_every: Annotated[str, Field(pattern=PERIOD)] = "1d",
    regime: RegimeChoice = "all",
    model_name: Annotated[str, Field(min_length=1, max_length=200)] = "alphaplus_pattern_classifier",
    timeframe: Annotated[str, Field(pattern=r"^[0-9]{1,4}[mhdw]$")] = "1h",
    horizon: Annotated[int, Field(ge=1, le=1000)] = 12,
    policies: dict[str, Any] | None = None,
    out_dir: str | None = None,
    keep: bool = False,
) -> list[dict[str, Any]]:
    """Replay the model lifecycle over the registry's candles in a scratch database of its own.

    Args:
        start: First simulated instant (UTC): the first retraining; candles before it are the first history.
        end: End of the replay (UTC, exclusive).
        symbols: Symbols whose slots are replayed; their candles must be in the database.
        retrain_every: Retraining period, e.g. 7d, 12h, 2w.
        assess_every: Period of outcome resolution and rollback assessment, e.g. 1d.
        regime: One market regime's slots, or all of them.
        model_name: Model name of the replayed slots (in the scratch registry).
        timeframe: Candle timeframe to replay, e.g. 1h.
        horizon: Label horizon in bars.
        policies: Named policies to compare on the same fits, as in a policy file, e.g.
            {"strict": {"gate": {"alpha": 0.01}, "rollback": {"consecutive": 1}}}; empty: the configured ones.
        out_dir: Folder to write replay.json and replay.html into (on the worker); empty: artifacts only.
        keep: Keep the scratch database afterwards (its name is in the report).
    """
    from alphaplus.core.settings import get_settings
    from alphaplus.core.validation import check_model_name, check_name
    from alphaplus.ml.regimes import REGIMES
    from alphaplus.replay.plan import ReplayPlan, parse_instant, parse_period
    from alphaplus.replay.policies import parse_policies
    from alphaplus.replay.service import policies_for, summary_rows
    from alphaplus.rollback.service import policy_from_settings

    for symbol in symbols:
        check_name("symbol", symbol)
    settings = get_settings()
    plan = ReplayPlan(
        symbols=tuple(symbols), start=parse_instant(start, what="start"), end=parse_instant(end, what="end"),
        retrain_every=parse_period(retrain_every, what="retrain_every"),
        assess_every=parse_period(assess_every, what="assess_every"),
        regimes=tuple(REGIMES) if regime == "all" else (regime,), model_name=check_model_name(model_name),
        timeframe=timeframe, horizon=horizon,
    )
    chosen = (parse_policies(policies, settings, policy_from_settings(settings)) if policies
              else policies_for(None, settings))
    report = await replay_history(plan, chosen, keep)
    await publish_replay_report(report)
    if out_dir:
        get_run_logger().info("report written: %s", ", ".join(write_replay_report(report, out_dir)))
    return summary_rows(report)
