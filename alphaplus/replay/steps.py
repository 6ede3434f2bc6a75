"""One step of a replay at a simulated instant, over the scratch registry, through production's code:
the retrain flow's tasks (their bodies: ``task.fn``) and the promotion, outcome and rollback services.
Only the clock (``now``) and the candles (those known at ``now``) are injected.

The simulated time of every decision is recorded beside the database's real timestamps: in the audit
rows' and rollback events' ``on_behalf_of`` ("replay <policy> @ <simulated time>") and in the replay's
own decision records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

import pandas as pd

from alphaplus.core.entities import Slot
from alphaplus.core.errors import InsufficientData
from alphaplus.ml.pipeline import TrainingConfig
from alphaplus.replay.policies import ReplayPolicy


def actor_note(policy: str, now: datetime) -> str:
    """What the audit rows of a replay step carry as ``on_behalf_of``: the policy and simulated time."""
    return f"replay {policy} @ {now:%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class Decision:
    """A lifecycle decision of one policy lane at a simulated instant."""

    at: datetime
    policy: str
    # promote | reject | needs_review | rollback | no_safe_candidate | market_shift | skipped | failed | unchanged
    kind: str
    regime: str
    symbol: str
    version: int | None = None
    from_version: int | None = None
    to_version: int | None = None
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "policy": self.policy, "kind": self.kind, "regime": self.regime,
                "symbol": self.symbol, "version": self.version, "from_version": self.from_version,
                "to_version": self.to_version, "reasons": list(self.reasons)}


@dataclass
class Fit:
    """One slot's training at a retrain time, shared by every policy lane (trained once)."""

    at: datetime
    regime: str
    symbol: str
    model: Any  # alphaplus.ml.training.TrainedModel
    training_prior: float
    data_end: datetime
    training_data_hash: str | None = None
    versions: dict[str, int] = field(default_factory=dict)  # policy name -> registered version

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "regime": self.regime, "symbol": self.symbol,
                "data_end": self.data_end.isoformat(), "training_data_hash": self.training_data_hash,
                "training_prior": self.training_prior, "versions": dict(self.versions)}


@dataclass(frozen=True)
class Lane:
    """A policy and the model name its decisions live under in the scratch registry."""

    policy: ReplayPolicy
    model_name: str


async def retrain_symbol(
    registry: Any, *, now: datetime, symbol: str, candles: pd.DataFrame, regimes: Sequence[str], lanes: Sequence[Lane],
    config: TrainingConfig, hyperparameters: Mapping[str, Any], timeframe: str, artifact_root: str,
    calendar: str | None,
) -> tuple[list[Fit], list[Decision]]:
    """Train each regime's slot of ``symbol`` once on ``candles`` (those known at ``now``), then register
    and gate the fit in every lane: the retrain flow's steps (its training jobs included), without
    Prefect's bookkeeping."""
    from tasks.data import validate_candles
    from tasks.training import finish_training_job, start_training_job, train_slot

    fits: list[Fit] = []
    decisions: list[Decision] = []
    jobs = {(lane.policy.name, regime): await start_training_job.fn(
        Slot(lane.model_name, regime, symbol), timeframe, None,
        {"horizon": config.horizon, "bars": len(candles), "replay_at": now.isoformat()})
        for regime in regimes for lane in lanes}
    if calendar is not None:
        report = validate_candles.fn(candles, symbol, timeframe, calendar, config.horizon)
        if not report.success:
            for (policy, regime), job in jobs.items():
                await finish_training_job.fn(job, "failed", error=report.summary()[:4000],
                                             validation_result=report.to_dict())
                decisions.append(Decision(now, policy, "failed", regime, symbol, reasons=(report.reason(),)))
            return fits, decisions
    for regime in regimes:
        try:
            stored = train_slot.fn(candles, regime, config, dict(hyperparameters), artifact_root)
        except InsufficientData as e:
            for lane in lanes:
                await finish_training_job.fn(jobs[(lane.policy.name, regime)], "skipped", error=str(e))
                decisions.append(Decision(now, lane.policy.name, "skipped", regime, symbol, reasons=(str(e),)))
            continue
        fit = Fit(now, regime, symbol, stored.fit.trained, float(stored.fit.training_metrics["class_balance"]),
                  candles["ts"].iloc[-1].to_pydatetime())
        fits.append(fit)
        for lane in lanes:
            job = jobs[(lane.policy.name, regime)]
            try:
                decision = await _register_and_gate(registry, lane, fit, stored, candles, config, hyperparameters,
                                                    timeframe, now)
            except Exception as e:  # noqa: BLE001 - as in the flow: recorded per slot, the others go on
                await finish_training_job.fn(job, "failed", error=str(e)[:4000])
                decisions.append(Decision(now, lane.policy.name, "failed", regime, symbol, reasons=(str(e)[:2000],)))
                continue
            decisions.append(decision)
            await finish_training_job.fn(job, "succeeded", version=decision.version, metadata={"decision": decision.kind})
    return fits, decisions


async def _register_and_gate(registry: Any, lane: Lane, fit: Fit, stored: Any, candles: pd.DataFrame,
                             config: TrainingConfig, hyperparameters: Mapping[str, Any], timeframe: str,
                             now: datetime) -> Decision:
    """Register a fit as staging in the lane and gate it (a lineage registered before keeps its version)."""
    from tasks.training import register_staging

    slot = Slot(lane.model_name, fit.regime, fit.symbol)
    registration = await register_staging.fn(slot, stored, candles, config, dict(hyperparameters), timeframe, None)
    version = registration.version
    fit.versions[lane.policy.name] = version.version
    if fit.training_data_hash is None:
        fit.training_data_hash = (await registry.get_lineage(lane.model_name, version.version)).training_data_hash
    if version.status == "staging":
        return await gate_version(registry, version, candles, config, lane, now)
    return Decision(now, lane.policy.name, "unchanged", fit.regime, fit.symbol, version=version.version,
                    reasons=(f"the same training as version {version.version} ({version.status}): nothing new to gate",))


async def gate_version(registry: Any, version: Any, candles: pd.DataFrame, config: TrainingConfig, lane: Lane,
                       now: datetime) -> Decision:
    """The promotion gate on a staging version, applied (promote, reject or leave for review)."""
    from alphaplus.promotion.service import PromotionService

    promotion = PromotionService(registry)
    outcome = await promotion.evaluate_challenger(version, candles, config, lane.policy.gate)
    await promotion.record_comparison(outcome, None)
    await promotion.apply_decision(outcome, canary=False, flow_run_id=None,
                                   on_behalf_of=actor_note(lane.policy.name, now))
    d = outcome.decision
    return Decision(now, lane.policy.name, d.outcome, version.regime, version.symbol, version=version.version,
                    from_version=outcome.champion_version if d.outcome == "promote" else None,
                    to_version=version.version if d.outcome == "promote" else None, reasons=tuple(d.reasons))


async def resolve_outcomes(*, window_end: datetime) -> int:
    """Resolve the predictions made before ``window_end`` (real prediction time) that no earlier step
    resolved, with the outcome-resolution flow's resolver: an outcome is counted once the candles it
    needs are stored, and the scratch database holds only the candles closed by the simulated time, so
    nothing after it is seen. Returns the records written."""
    from alphaplus.monitoring.service import OutcomeService

    return len(await (await OutcomeService.open()).resolve_outcomes(now=window_end))


async def assess_lane(service: Any, lane: Lane, now: datetime) -> list[Decision]:
    """The rollback assessment of the lane's production slots at ``now``, with the lane's policy; the
    decisions that moved (or would have moved) production."""
    from alphaplus.rollback.service import SlotFilter

    results = await service.assess_slots(SlotFilter(model_name=lane.model_name), now=now,
                                         on_behalf_of=actor_note(lane.policy.name, now))
    out = []
    for r in results:
        rb = r.rollback
        if rb is None:
            continue
        kind = {"executed": "rollback"}.get(rb.outcome, rb.outcome)
        out.append(Decision(now, lane.policy.name, kind, r.slot.regime, r.slot.symbol, version=rb.from_version,
                            from_version=rb.from_version, to_version=rb.to_version,
                            reasons=tuple(r.assessment.reasons) if r.assessment is not None else (rb.reason,)))
    return out
