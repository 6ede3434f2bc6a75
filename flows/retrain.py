"""The retraining flow: candles -> quality gate -> per-slot training -> staging -> promotion gate."""

from __future__ import annotations

import asyncio
import traceback
from datetime import datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from alphaplus.core.entities import Slot
from alphaplus.core.errors import AlphaPlusError, InsufficientData, RunFailed
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
from alphaplus.ml.pipeline import TrainingConfig
from alphaplus.promotion.config import gate_policy
from alphaplus.registry.artifacts import ArtifactStore
from alphaplus.ml.regimes import REGIMES
from alphaplus.core.settings import get_settings
from alphaplus.core.validation import check_model_name, check_name
from flows.hooks import trigger_rollback_on_failure
from flows.parameters import CandleSourceChoice, GateSettings, RegimeChoice
from tasks.data import fetch_candles, symbol_calendar, validate_candles
from tasks.promotion import apply_decision, artifact_key, evaluate_challenger, publish_decision, record_comparison
from tasks.training import (
    close_stale_training_jobs,
    finish_training_job,
    publish_run_summary,
    register_staging,
    start_training_job,
    train_slot,
    training_heartbeat,
)


def format_exception_text(e: BaseException) -> str:
    """The exception's traceback as text."""
    return "".join(traceback.format_exception(e))


def _result(slot: Slot, **fields: Any) -> dict[str, Any]:
    return {"model_name": slot.model_name, "regime": slot.regime, "symbol": slot.symbol, **fields}


@flow(
    name="retrain",
    description="Retrain slots from database candles, gate them and promote the winners.",
    task_runner=ThreadPoolTaskRunner(max_workers=get_settings().train_max_workers),
    # A run that fails after moving production has its moves undone: by this hook for runs from the
    # CLI or Python, by the prefect.yaml automation for deployed runs (the hook then stands aside).
    on_failure=[trigger_rollback_on_failure],
)
async def retrain(
    symbols: Annotated[list[str], Field(min_length=1)] = ["BTCUSDT"],  # noqa: B006
    regime: RegimeChoice = "all",
    model_name: Annotated[str, Field(min_length=1, max_length=200)] = "alphaplus_pattern_classifier",
    timeframe: Annotated[str, Field(pattern=r"^[0-9]{1,4}[mhdw]$")] = "1h",
    start: datetime | None = None,
    end: datetime | None = None,
    horizon: Annotated[int, Field(ge=1, le=1000)] = 12,
    hyperparameters: dict[str, Any] | None = None,
    gate: GateSettings = GateSettings(),
    promote: bool = True,
    canary: bool = False,
    candle_source: CandleSourceChoice = "configured",
) -> list[dict[str, Any]]:
    """Retrain every (symbol x regime) slot; one slot's failure does not lose the others' results.

    Args:
        symbols: Symbols to retrain, e.g. ["BTCUSDT", "ETHUSDT"]; their candles must be in the candle source.
        regime: One market regime to retrain, or all of them (one slot per regime and symbol).
        model_name: Model the new versions are registered under.
        timeframe: Candle timeframe to train on, e.g. 1h, 15m, 1d.
        start: First candle used (UTC); empty: from the first stored candle.
        end: Use only candles before this instant (UTC); empty: up to the newest.
        horizon: Label horizon in bars: each row's label is the direction of the close this many bars later.
        hyperparameters: LightGBM parameters that override the defaults, e.g. {"num_leaves": 15}.
        gate: Overrides of the promotion gate for this run; empty fields keep the configured settings.
        promote: Run the promotion gate after registration (off: register as staging only).
        canary: On a passed gate, start a canary instead of promoting to production.
        candle_source: Where candles are read: the candles table, the configured table or view, the
            drop folder, or configured (ALPHAPLUS_CANDLE_SOURCE).
    """
    for symbol in symbols:
        check_name("symbol", symbol)
    check_model_name(model_name)
    log = get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    settings = get_settings()
    config = TrainingConfig(horizon=horizon, feature_spec=DEFAULT_FEATURE_SPEC)
    params = dict(hyperparameters or {})
    policy = gate_policy(settings, **gate.overrides())
    regimes = REGIMES if regime == "all" else (regime,)
    results: list[dict[str, Any]] = []
    pending = []  # (slot, job_id, candles, future)
    job_ids: list[int] = []  # kept alive by the heartbeat while the run works on them
    stale = await close_stale_training_jobs(settings.training_job_lease_seconds)
    if stale:
        log.warning("closed %d training job(s) abandoned by killed runs: %s", len(stale), stale)
    # Workers write artifacts straight to the root this run registers from (a URL, or an absolute folder).
    artifact_root = ArtifactStore(settings.artifacts_dir).location

    async with training_heartbeat(job_ids, settings.training_job_lease_seconds):
        for symbol in symbols:
            candles = await fetch_candles(symbol, timeframe, start, end,
                                          None if candle_source == "configured" else candle_source)
            slots = [Slot(model_name, r, symbol) for r in regimes]
            jobs = {s: await start_training_job(s, timeframe, run_id, {"horizon": horizon, "bars": len(candles)})
                    for s in slots}
            job_ids.extend(jobs.values())
            calendar = await symbol_calendar(symbol)
            report = validate_candles(candles, symbol, timeframe, calendar, horizon)
            if not report.success:
                summary = report.summary()
                log.error("candles of %s failed the quality gate:\n%s", symbol, summary)
                await create_markdown_artifact(
                    key=artifact_key(f"data-quality-{symbol}"),
                    markdown=f"# Candles of {symbol} ({timeframe}) failed the quality gate\n\n```\n{summary}\n```",
                    description=f"quality gate failed for {symbol}",
                )
                failure = report.reason()
                for s in slots:
                    await finish_training_job(jobs[s], "failed", error=summary[:4000], validation_result=report.to_dict())
                    results.append(_result(s, status="failed", error=failure))
                continue
            for s in slots:
                pending.append((s, jobs[s], candles, train_slot.submit(candles, s.regime, config, params, artifact_root)))

        await asyncio.to_thread(wait, [p[3] for p in pending])
        for slot, job_id, candles, future in pending:
            try:
                try:
                    trained = future.result()
                except InsufficientData as e:
                    # Not an error of the run: the slot cannot be trained on the data there is.
                    log.warning("slot %s skipped: %s", slot, e)
                    await finish_training_job(job_id, "skipped", error=str(e))
                    results.append(_result(slot, status="skipped", reason=str(e)))
                    continue
                registration = await register_staging(slot, trained, candles, config, params, timeframe, run_id)
                version = registration.version
                entry = _result(slot, status="registered", version=version.version, created=registration.created,
                                trained_on=trained.trained_on)
                if promote and version.status == "staging":
                    outcome = await evaluate_challenger(version, candles, config, policy)
                    await record_comparison(outcome, run_id)
                    await apply_decision(outcome, canary, run_id)
                    publish_decision(outcome)
                    entry.update(decision=outcome.decision.outcome, reasons=list(outcome.decision.reasons),
                                 champion=outcome.champion_version)
                await finish_training_job(job_id, "succeeded", version=version.version,
                                          metadata={"decision": entry.get("decision")})
                results.append(entry)
            except Exception as e:  # noqa: BLE001 - recorded per slot, re-raised below as one failure
                log.error("slot %s failed: %s", slot, e)
                await finish_training_job(job_id, "failed", error=str(e)[:4000])
                # A user-level failure is its message; anything else (a bug) keeps its traceback for
                # the CLI to show under the one-line reason.
                unexpected = {} if isinstance(e, AlphaPlusError) else {"traceback": format_exception_text(e)}
                results.append(_result(slot, status="failed", error=str(e), **unexpected))

    for r in results:
        log.info("%s", r)
    await publish_run_summary(results)
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        raise RunFailed(
            f"{len(failed)} of {len(results)} slots failed: "
            + "; ".join(f"{r['symbol']}/{r['regime']}: {r['error']}" for r in failed),
            results=results,
        )
    return results
