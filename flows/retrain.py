"""The retraining flow: candles -> quality gate -> per-slot training -> staging -> promotion gate."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from alphaplus.core.entities import Slot
from alphaplus.core.errors import RunFailed
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
from alphaplus.ml.pipeline import TrainingConfig
from alphaplus.promotion.config import gate_policy
from alphaplus.registry.artifacts import ArtifactStore
from alphaplus.ml.regimes import REGIMES
from alphaplus.core.settings import get_settings
from flows.hooks import trigger_rollback_on_failure
from flows.parameters import GateSettings, RegimeChoice
from tasks.data import fetch_candles, validate_candles
from tasks.promotion import apply_decision, evaluate_challenger, publish_decision, record_comparison
from tasks.training import finish_training_job, register_staging, start_training_job, train_slot


def _result(slot: Slot, **fields: Any) -> dict[str, Any]:
    return {"model_name": slot.model_name, "regime": slot.regime, "symbol": slot.symbol, **fields}


@flow(
    name="retrain",
    description="Retrain slots from database candles, gate them and promote the winners.",
    task_runner=ThreadPoolTaskRunner(max_workers=get_settings().train_max_workers),
    # A run that fails after moving production has its moves undone (the prefect.yaml automation
    # does the same for deployed runs; undoing is idempotent, so both may fire).
    on_failure=[trigger_rollback_on_failure],
)
async def retrain(
    symbols: Annotated[list[str], Field(min_length=1, description="Symbols to retrain.")] = ["BTCUSDT"],  # noqa: B006
    regime: Annotated[RegimeChoice, Field(description="One regime, or all of them.")] = "all",
    model_name: Annotated[str, Field(min_length=1, max_length=200)] = "alphaplus_pattern_classifier",
    timeframe: Annotated[str, Field(pattern=r"^[0-9]{1,4}[mhdw]$", description="Candle timeframe.")] = "1h",
    start: Annotated[datetime | None, Field(description="First candle used (default: all).")] = None,
    end: Annotated[datetime | None, Field(description="Use candles before this instant.")] = None,
    horizon: Annotated[int, Field(ge=1, le=1000, description="Label horizon in bars.")] = 12,
    hyperparameters: Annotated[dict[str, Any] | None, Field(description="LightGBM overrides.")] = None,
    gate: Annotated[GateSettings, Field(description="Promotion gate overrides.")] = GateSettings(),
    promote: Annotated[bool, Field(description="Run the promotion gate after registration.")] = True,
    canary: Annotated[bool, Field(description="On a passed gate, start a canary instead.")] = False,
) -> list[dict[str, Any]]:
    """Retrain every (symbol x regime) slot; one slot's failure does not lose the others' results."""
    log = get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    settings = get_settings()
    config = TrainingConfig(horizon=horizon, feature_spec=DEFAULT_FEATURE_SPEC)
    params = dict(hyperparameters or {})
    policy = gate_policy(settings, **gate.model_dump())
    regimes = REGIMES if regime == "all" else (regime,)
    results: list[dict[str, Any]] = []
    pending = []  # (slot, job_id, candles, future)
    # Workers write artifacts straight to the root this run registers from (a URL, or an absolute folder).
    artifact_root = ArtifactStore(settings.artifacts_dir).location

    for symbol in symbols:
        candles = await fetch_candles(symbol, timeframe, start, end)
        slots = [Slot(model_name, r, symbol) for r in regimes]
        jobs = {s: await start_training_job(s, timeframe, run_id, {"horizon": horizon, "bars": len(candles)})
                for s in slots}
        report = validate_candles(candles, symbol)
        if not report.success:
            summary = report.summary()
            log.error("candles of %s failed the quality gate:\n%s", symbol, summary)
            await create_markdown_artifact(
                key=f"data-quality-{symbol.lower()}"[:100].replace("_", "-"),
                markdown=f"# Candles of {symbol} ({timeframe}) failed the quality gate\n\n```\n{summary}\n```",
                description=f"quality gate failed for {symbol}",
            )
            for s in slots:
                await finish_training_job(jobs[s], False, error=summary[:4000], validation_result=report.to_dict())
                results.append(_result(s, status="failed", error=f"data quality: {', '.join(report.failed_names)}"))
            continue
        for s in slots:
            pending.append((s, jobs[s], candles, train_slot.submit(candles, s.regime, config, params, artifact_root)))

    await asyncio.to_thread(wait, [p[3] for p in pending])
    for slot, job_id, candles, future in pending:
        try:
            trained = future.result()
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
            await finish_training_job(job_id, True, version=version.version,
                                      metadata={"decision": entry.get("decision")})
            results.append(entry)
        except Exception as e:  # noqa: BLE001 - recorded per slot, re-raised below as one failure
            log.error("slot %s failed: %s", slot, e)
            await finish_training_job(job_id, False, error=str(e)[:4000])
            results.append(_result(slot, status="failed", error=str(e)))

    failed = [r for r in results if r["status"] == "failed"]
    for r in results:
        log.info("%s", r)
    if failed:
        raise RunFailed(
            f"{len(failed)} of {len(results)} slots failed: "
            + "; ".join(f"{r['symbol']}/{r['regime']}: {r['error']}" for r in failed)
        )
    return results
