"""The promotion service: the gate's steps over the registry (evaluate against the champion, record,
apply) and the manual promotion of a chosen version (gated, or forced and audited as forced)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from alphaplus.core.entities import ModelVersion, ProductionMove
from alphaplus.core.errors import InvalidInput
from alphaplus.promotion.gate import GatePolicy
from alphaplus.ml.pipeline import TrainingConfig
from alphaplus.promotion.comparison import GateOutcome, run_gate
from alphaplus.registry.service import Registry
from alphaplus.core.settings import Settings, get_settings
from alphaplus.core.validation import check_reason, one_line


class PromotionService:
    """The promotion gate over a registry: score a challenger and the slot's champion on rows neither has
    seen, record the decision (model_comparison), apply it; and the manual promotion of a chosen version
    (gated, or forced and audited as forced)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @classmethod
    async def open(cls, settings: Settings | None = None) -> "PromotionService":
        """The service over the registry of the configured database."""
        return cls(await Registry.open(settings))

    async def evaluate_challenger(
        self, challenger: ModelVersion, candles: pd.DataFrame, config: TrainingConfig, policy: GatePolicy
    ) -> GateOutcome:
        """Score challenger and current champion (artifacts hash-verified) on the rows neither has seen
        (by time, from their recorded data ends); decide."""
        slot = challenger.slot
        champion = await self.registry.get_production_model(slot)
        return run_gate(
            slot=slot,
            challenger=challenger,
            challenger_model=await self.registry.load_model(challenger),
            champion=champion,
            champion_model=await self.registry.load_model(champion) if champion else None,
            candles=candles,
            config=config,
            policy=policy,
            challenger_lineage=await self.registry.get_lineage(slot.model_name, challenger.version),
            champion_lineage=await self.registry.get_lineage(slot.model_name, champion.version) if champion else None,
        )


    async def record_comparison(self, outcome: GateOutcome, flow_run_id: str | None) -> int:
        """Write the model_comparison row of a decision."""
        d = outcome.decision
        decisive = d.decisive
        return await self.registry.record_comparison(
            model_name=outcome.slot.model_name,
            regime=outcome.slot.regime,
            symbol=outcome.slot.symbol,
            challenger_version=outcome.challenger_version,
            champion_version=outcome.champion_version,
            window_start=outcome.window_start.to_pydatetime() if outcome.window_start is not None else None,
            window_end=outcome.window_end.to_pydatetime() if outcome.window_end is not None else None,
            n_samples=outcome.n_samples,
            challenger_metrics=outcome.challenger_metrics,
            champion_metrics=outcome.champion_metrics,
            metric_deltas=d.to_dict()["deltas"],
            test_name=f"block bootstrap: {decisive.name}" if decisive else None,
            statistic=decisive.to_dict()["statistic"] if decisive else None,
            p_value=decisive.p_value if decisive else None,
            decision=d.outcome,
            reasons=list(d.reasons),
            flow_run_id=flow_run_id,
            label_horizon=d.horizon,
            n_outcomes=d.n_outcomes,
            n_effective=decisive.to_dict()["n_effective"] if decisive else None,
            ci_low=decisive.to_dict()["ci_low"] if decisive else None,
            ci_high=decisive.to_dict()["ci_high"] if decisive else None,
            confidence=decisive.confidence if decisive else None,
            evidence={"tests": [t.to_dict() for t in d.tests], "resampling": d.to_dict()["resampling"],
                      "unseen_from": [{"version": b.version, "ts": b.ts.isoformat() if b.ts is not None else None,
                                       "source": b.source} for b in outcome.unseen],
                      "policy": d.policy.to_dict() if d.policy else None},
        )


    async def apply_decision(
        self, outcome: GateOutcome, *, canary: bool, flow_run_id: str | None, on_behalf_of: str | None = None
    ) -> ProductionMove | ModelVersion | None:
        """Promote (only if the champion is still the one compared), start a canary, reject, or wait."""
        d = outcome.decision
        name, version = outcome.slot.model_name, outcome.challenger_version
        reason = "; ".join(d.reasons)
        ctx = {"flow_run_id": flow_run_id, "on_behalf_of": on_behalf_of}
        if d.outcome == "promote" and canary:
            return await self.registry.start_canary(
                name, version, reason=one_line(f"gate passed, canary first: {reason}"), **ctx)
        if d.outcome == "promote":
            return await self.registry.promote(
                name, version, reason=one_line(f"gate passed: {reason}"), expected_current=outcome.champion_version,
                metadata={"gate": d.to_dict()}, **ctx,
            )
        if d.outcome == "reject":
            return await self.registry.mark_failed(name, version, reason=one_line(f"gate rejected: {reason}"), **ctx)
        return None


    async def force_promote(
        self, model_name: str, version: int, *, reason: str, on_behalf_of: str | None, flow_run_id: str | None,
    ) -> dict[str, Any]:
        """Promote without the gate; audited as forced, with a 'forced' comparison row."""
        if not reason.strip():
            raise InvalidInput("a forced promotion needs a reason")
        check_reason(reason)
        target = await self.registry.get_version(model_name, version)
        slot = target.slot
        move = await self.registry.promote(
            model_name, version, reason=one_line(f"forced: {reason}"), on_behalf_of=on_behalf_of,
            flow_run_id=flow_run_id, metadata={"forced": True},
        )
        await self.registry.record_comparison(
            model_name=model_name, regime=slot.regime, symbol=slot.symbol,
            challenger_version=version, champion_version=move.from_version, window_start=None, window_end=None,
            n_samples=0, challenger_metrics={}, champion_metrics=None, metric_deltas={}, test_name=None,
            statistic=None, p_value=None, decision="forced", reasons=[f"forced by operator: {reason}"],
            flow_run_id=flow_run_id,
        )
        return {"decision": "forced", "from_version": move.from_version, "to_version": move.to_version}


    async def promote_with_gate(
        self,
        model_name: str,
        version: int,
        *,
        canary: bool = False,
        gate: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
        flow_run_id: str | None = None,
    ) -> tuple[GateOutcome, Any]:
        """Gate an already registered version against the slot's champion on the newest candles."""
        from alphaplus.market.source_service import read_candles

        target = await self.registry.get_version(model_name, version)
        lineage = await self.registry.get_lineage(model_name, version)
        try:
            config = TrainingConfig.from_lineage(lineage.training_config, lineage.feature_set)
        except InvalidInput as e:
            raise InvalidInput(
                f"version {version} of {model_name} cannot be scored by the gate: {e}; promote it with --force "
                "and a --reason instead"
            ) from None
        candles = await read_candles(symbol=target.symbol, timeframe=lineage.timeframe or "1h",
                                     settings=self.registry.settings)
        policy = gate_policy_for(gate)
        outcome = await self.evaluate_challenger(target, candles, config, policy)
        await self.record_comparison(outcome, flow_run_id)
        await self.apply_decision(outcome, canary=canary, flow_run_id=flow_run_id, on_behalf_of=on_behalf_of)
        return outcome, lineage


def gate_policy_for(gate: dict[str, Any] | None) -> GatePolicy:
    from alphaplus.promotion.config import gate_policy

    return gate_policy(get_settings(), **(gate or {}))
