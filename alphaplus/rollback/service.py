"""The rollback service: assess production slots from live evidence and roll back, audited, at most once.

Assessment (``assess_slots``) reads every matching production slot in one query, runs the pure policy
(alphaplus.rollback.policy) per slot, tells a market-wide shift from a model failure
(alphaplus.rollback.market), stores every slot's state in one compare-and-set statement and executes
the few rollbacks it decided (alphaplus.rollback.execution).

Evidence rules on top of the policy's:
- Each assessment consumes the live windows that ended since the last one of this production stint
  (pointer moved, stored cursor), pooled into one block; so a window counts once.
- While the new windows complete neither a look (``look_outcomes`` independent outcomes) nor an error
  check (``min_inferences`` calls), they are left unconsumed and reported as ``insufficient_evidence``:
  evidence accumulates instead of being lost.
- A new production stint (promotion or rollback) starts afresh; cooldown and no-return bars stay.
- An automatic rollback for loss of edge is withheld as a ``market_shift`` when most production slots
  of the symbol (or of all) lost their edge too and the target did no better in shadow.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Sequence

from alphaplus.core import lifecycle
from alphaplus.core.entities import Slot
from alphaplus.core.errors import AlphaPlusError, InvalidInput, ModelNotFound, NoProductionVersion
from alphaplus.core.settings import Settings, get_settings
from alphaplus.core.validation import check_reason, check_version_number, one_line
from alphaplus.registry.artifacts import ArtifactStore
from alphaplus.registry.service import validate_slot
from alphaplus.rollback.execution import RollbackExecution, state_row
from alphaplus.rollback.inputs import baseline_of, evidence_of, live_window, totals_dict
from alphaplus.rollback.market import EdgeVerdict, MarketShift, market_shift, target_does_better
from alphaplus.rollback.policy import assess_rollback_needs, horizon_of, next_history, ready_to_assess
from alphaplus.rollback.results import (
    NoSafeCandidate,
    RollbackOutcome,
    RollbackRequest,
    RollbackType,
    SlotAssessmentResult,
    SlotFilter,
    UnsafeRollbackTarget,
)
from alphaplus.rollback.config import RollbackPolicy
from alphaplus.rollback.state import RollbackAssessment, SlotHistory
from alphaplus.core.records import SlotEvidence, SlotState
from alphaplus.rollback.undo import RunUndo, undo_reason
from db import rollback as q
from db import rollback_events as events_q

__all__ = [
    "NoSafeCandidate", "RollbackOutcome", "RollbackService", "RunUndo", "SlotAssessmentResult", "SlotFilter",
    "UnsafeRollbackTarget", "policy_from_settings",
]

log = logging.getLogger(__name__)


def policy_from_settings(settings: Settings) -> RollbackPolicy:
    """The rollback policy configured by ``ALPHAPLUS_ROLLBACK_*``."""
    return RollbackPolicy(
        performance_drop=settings.rollback_performance_drop, error_rate=settings.rollback_error_rate,
        psi=settings.rollback_psi, look_outcomes=settings.rollback_look_outcomes,
        min_outcomes=settings.rollback_min_outcomes, window_looks=settings.rollback_window_looks,
        min_inferences=settings.rollback_min_inferences, confidence=settings.rollback_confidence,
        skill_metrics=tuple(settings.rollback_skill_metrics),
        consecutive=settings.rollback_consecutive, cooldown_outcomes=settings.rollback_cooldown_outcomes,
        no_return=timedelta(days=settings.rollback_no_return_days),
        eligible_statuses=tuple(sorted(lifecycle.ROLLBACK_TARGET_STATUSES)),
        market_shift_share=settings.rollback_market_shift_share,
        market_shift_min_slots=settings.rollback_market_shift_min_slots,
    )


def _edge_verdict(slot: Slot, carry: SlotHistory, horizon: int, policy: RollbackPolicy) -> EdgeVerdict:
    """Lost while a loss of edge is being confirmed; kept once the test window was tested clean."""
    if carry.consecutive_count > 0:
        return EdgeVerdict(slot, True)
    tested = sum(e.n for e in carry.looks) >= policy.min_outcomes * horizon
    return EdgeVerdict(slot, False if tested else None)


class RollbackService(RollbackExecution):
    """Assessment and rollback of production slots over one pool, artifact store and policy."""

    @classmethod
    async def open(cls, settings: Settings | None = None, policy: RollbackPolicy | None = None) -> RollbackService:
        """A service on this event loop's pool for the configured database."""
        from db.pool import get_pool

        settings = settings or get_settings()
        pool = await get_pool(settings=settings)
        return cls(pool, ArtifactStore(settings.artifacts_dir), policy or policy_from_settings(settings))

    # --- assessment --------------------------------------------------------------------------------

    async def assess_all(
        self, *, dry_run: bool = False, now: datetime | None = None, **kw: Any
    ) -> list[SlotAssessmentResult]:
        """Assess every production slot; see ``assess_slots``."""
        return await self.assess_slots(None, dry_run=dry_run, now=now, **kw)

    async def assess_slots(
        self,
        flt: SlotFilter | Sequence[Slot] | None = None,
        *,
        dry_run: bool = False,
        now: datetime | None = None,
        flow_run_id: str | None = None,
        on_behalf_of: str | None = None,
    ) -> list[SlotAssessmentResult]:
        """Assess the production slots matching ``flt`` (a filter or a list of slots) and roll back where
        the policy says so. One slot's failure is reported in its result and does not stop the others.
        ``dry_run``: store nothing, change nothing; rollbacks are returned as plans."""
        now = now or datetime.now(UTC)
        kwargs: dict[str, Any] = {}
        if isinstance(flt, SlotFilter):
            kwargs = {"model_name": flt.model_name, "regime": flt.regime, "symbol": flt.symbol}
        elif flt is not None:
            kwargs = {"slots": list(flt)}
        inputs = await q.assessment_inputs(self.pool, **kwargs)

        results: dict[Slot, SlotAssessmentResult] = {}
        states: list[SlotState] = []
        to_roll: list[tuple[SlotEvidence, RollbackAssessment, SlotHistory]] = []
        verdicts: list[EdgeVerdict] = []
        for ev in inputs:
            try:
                result, state, history, verdict = self._assess_one(ev, now)
            except Exception as e:  # noqa: BLE001 - one slot's bad data must not stop the others
                log.exception("assessment of %s failed", ev.slot)
                results[ev.slot] = SlotAssessmentResult(ev.slot, ev.version, "error", "error", error=str(e))
                continue
            results[ev.slot] = result
            verdicts.append(verdict)
            if result.assessment is not None and result.assessment.should_rollback:
                to_roll.append((ev, result.assessment, history))
            elif state is not None:
                states.append(state)

        if not dry_run and states:
            written = await q.save_states(self.pool, states)
            for s in states:
                if s.slot not in written:
                    results[s.slot] = replace(results[s.slot], outcome="superseded")

        shift = market_shift(verdicts, self.policy)
        for ev, a, history in to_roll:
            results[ev.slot] = await self._act(ev, a, history, shift, now, dry_run, flow_run_id, on_behalf_of)
        return [results[ev.slot] for ev in inputs]

    def _assess_one(
        self, ev: SlotEvidence, now: datetime
    ) -> tuple[SlotAssessmentResult, SlotState | None, SlotHistory, EdgeVerdict]:
        """(result, state to store or None, history before, edge verdict) for one slot; pure."""
        history = SlotHistory.from_dict(ev.history)
        if not ev.same_stint:
            history = history.new_stint()  # the stored evidence was about another stint
        baseline = baseline_of(ev)
        t = ev.new_windows
        horizon = max(1, int(t.label_horizon or baseline.label_horizon or 1))
        if t.windows == 0:
            result = SlotAssessmentResult(ev.slot, ev.version, "no_new_data", "no_new_data")
            return result, None, history, _edge_verdict(ev.slot, history, horizon, self.policy)
        live = live_window(t)
        horizon = horizon_of(baseline, live)
        a = assess_rollback_needs(baseline, live, history, self.policy, now)
        if not ready_to_assess(history, live, self.policy, horizon):
            # Too little to judge yet (the policy tested nothing): leave the windows for the next run
            # to pool with newer ones.
            result = SlotAssessmentResult(ev.slot, ev.version, a.status, "none", assessment=a)
            return result, None, history, _edge_verdict(ev.slot, history, horizon, self.policy)
        result = SlotAssessmentResult(ev.slot, ev.version, a.status, "none", assessment=a)
        state = state_row(ev.slot, ev.version, ev.since, next_history(history, a, now), t.window_end, now, a,
                          revision=ev.revision)
        return result, state, history, _edge_verdict(ev.slot, a.carry, horizon, self.policy)

    def _snapshot(self, ev: SlotEvidence, a: RollbackAssessment) -> dict[str, Any]:
        return {
            "assessment": a.to_dict(), "risk_score": a.risk, "policy": self.policy.to_dict(),
            "window": totals_dict(ev.new_windows), "holdout_metrics": dict(ev.training_metrics.get("holdout") or {}),
        }

    async def _act(
        self, ev: SlotEvidence, a: RollbackAssessment, history: SlotHistory, shift: MarketShift, now: datetime,
        dry_run: bool, flow_run_id: str | None, on_behalf_of: str | None,
    ) -> SlotAssessmentResult:
        """Roll back a slot the policy condemned, unless the market shifted under it and its target."""
        snapshot = self._snapshot(ev, a)
        try:
            if "performance_degradation" in a.triggers and shift.covers(ev.slot):
                withheld = await self._withhold_for_market_shift(ev, a, history, shift, snapshot, now, dry_run,
                                                                 flow_run_id, on_behalf_of)
                if withheld is not None:
                    return withheld
            out = await self.execute_rollback(RollbackRequest(
                ev.slot, assessed_version=ev.version, reason=one_line("; ".join(a.reasons)),
                rollback_type="automatic", triggers=a.triggers, metrics_snapshot=snapshot,
                degradation=a.degradation, confidence=a.confidence, risk=a.severity, for_cause=True,
                dry_run=dry_run, flow_run_id=flow_run_id, on_behalf_of=on_behalf_of,
                assessment=a, window_end=ev.new_windows.window_end,
            ), now=now)
        except Exception as e:  # noqa: BLE001 - reported in the slot's result; the others go on
            log.warning("rollback of %s failed: %s", ev.slot, e, exc_info=not isinstance(e, AlphaPlusError))
            return SlotAssessmentResult(ev.slot, ev.version, a.status, "error", assessment=a, error=str(e))
        return SlotAssessmentResult(ev.slot, ev.version, a.status, out.outcome, assessment=a, rollback=out)

    async def _withhold_for_market_shift(
        self, ev: SlotEvidence, a: RollbackAssessment, history: SlotHistory, shift: MarketShift,
        snapshot: dict[str, Any], now: datetime, dry_run: bool, flow_run_id: str | None, on_behalf_of: str | None,
    ) -> SlotAssessmentResult | None:
        """The market-shift result when the target does no better in shadow; None to go on rolling back."""
        records = await q.candidates(self.pool, ev.slot, min_samples=self._recent_rows)
        choice = await self._choose(ev.slot, records, ev.version, None, history, now)
        if choice.target is None:
            return None  # nothing to roll back to: the no-safe-candidate path records it
        shadow = (await q.shadow_since(self.pool, ev.slot, [choice.target], ev.since)).get(choice.target)
        baseline = baseline_of(ev)
        horizon = horizon_of(baseline, live_window(ev.new_windows))
        comparison = target_does_better(
            choice.target, None if shadow is None else evidence_of(shadow), a.evidence or evidence_of(ev.new_windows),
            baseline, horizon, self.policy,
        )
        if comparison.better:
            return None
        reasons = (*a.reasons, f"market shift: {shift.describe(ev.slot)}", comparison.reason,
                   "rollback withheld: an older version fails as much in this market; retrain on recent data")
        shifted = replace(a, status="market_shift", should_rollback=False, reasons=reasons)
        snapshot = {**snapshot, "assessment": shifted.to_dict(), "market_shift": shift.to_dict(),
                    "target_comparison": [t.to_dict() for t in comparison.tests]}
        if dry_run:
            out = RollbackOutcome(ev.slot, "market_shift", "automatic", ev.version, None, "; ".join(reasons), choice)
        else:
            out = await self.record_market_shift(
                ev.slot, assessed_version=ev.version, assessment=shifted, history=history,
                window_end=ev.new_windows.window_end, target=choice.target, snapshot=snapshot, now=now,
                flow_run_id=flow_run_id, on_behalf_of=on_behalf_of,
            )
        return SlotAssessmentResult(ev.slot, ev.version, "market_shift", out.outcome, assessment=shifted, rollback=out)

    # --- requests from people and flows ------------------------------------------------------------

    async def request_rollback(
        self,
        model_name: str,
        regime: str,
        symbol: str,
        *,
        to_version: int | None = None,
        reason: str,
        rollback_type: RollbackType = "manual",
        expected_version: int | None = None,
        dry_run: bool = False,
        flow_run_id: str | None = None,
        on_behalf_of: str | None = None,
        now: datetime | None = None,
    ) -> RollbackOutcome:
        """A manual or on-failure rollback of one slot, with errors a person can act on.

        ``expected_version``: roll back only if this version still serves the slot (else 'aborted').
        """
        slot = validate_slot(Slot(model_name, regime, symbol))
        if to_version is not None:
            check_version_number(to_version)
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("a rollback needs a reason")
        check_reason(reason)
        if not await q.model_exists(self.pool, model_name):
            raise ModelNotFound(f"model {model_name!r} is not registered")
        pointer = await q.current_pointer(self.pool, slot)
        if pointer is None:
            raise NoProductionVersion(f"slot {slot} has no production version: nothing to roll back")
        current = pointer[0]
        if expected_version is not None and expected_version != current:
            return RollbackOutcome(slot, "aborted", rollback_type, current, None,
                                   f"{reason} (production is version {current}, not {expected_version})")
        snapshot = {"requested_target": to_version, "production_version": current}
        return await self.execute_rollback(RollbackRequest(
            slot, assessed_version=current, target_version=to_version, reason=reason, rollback_type=rollback_type,
            metrics_snapshot=snapshot, confidence=1.0 if rollback_type == "manual" else None,
            dry_run=dry_run, flow_run_id=flow_run_id, on_behalf_of=on_behalf_of,
        ), now=now)

    async def list_events(self, **filters: Any) -> list[Any]:
        """Rollback events (optionally of one model, slot or outcome), newest first."""
        return await events_q.list_events(self.pool, **filters)

    async def moves_by_flow_run(self, flow_run_id: str) -> list[Any]:
        """Production moves made by a flow run that still stand."""
        return await events_q.moves_by_flow_run(self.pool, flow_run_id)

    async def undo_flow_run(
        self, failed_flow_run_id: str, *, reason: str, rollback_type: RollbackType = "on_failure",
        dry_run: bool = False, flow_run_id: str | None = None, on_behalf_of: str | None = None,
    ) -> RunUndo:
        """Undo every production move of a failed run that still stands, each in its own audited
        transaction: back to the version that served before, or to no production version when the run
        installed the slot's first. Idempotent: a second request finds nothing to undo and reports the
        rollbacks that did it. One slot's trouble does not stop the others (it is in ``errors``)."""
        outcomes: list[RollbackOutcome] = []
        errors: list[str] = []
        for move in await self.moves_by_flow_run(failed_flow_run_id):
            common: dict[str, Any] = dict(
                reason=undo_reason(move, failed_flow_run_id, reason), rollback_type=rollback_type,
                metrics_snapshot={"undoes_flow_run": failed_flow_run_id, "requested_target": move.from_version},
                dry_run=dry_run, flow_run_id=flow_run_id, on_behalf_of=on_behalf_of,
            )
            try:
                request = RollbackRequest(move.slot, assessed_version=move.to_version,
                                          target_version=move.from_version, **common)
                if move.from_version is None:
                    out = await self.clear_production(request)
                else:
                    out = await self.execute_rollback(request)
            except AlphaPlusError as e:
                log.warning("move of %s by run %s not undone: %s", move.slot, failed_flow_run_id, e)
                errors.append(f"{move.slot}: {e}")
                continue
            outcomes.append(out)
        ours = {o.event_id for o in outcomes}
        earlier = [e for e in await events_q.undo_events(self.pool, failed_flow_run_id) if e.id not in ours]
        # A move the other mechanism undid between our lookup and our lock is theirs, not an abort of ours.
        theirs = {e.slot for e in earlier}
        outcomes = [o for o in outcomes if not (o.outcome == "aborted" and o.slot in theirs)]
        return RunUndo(failed_flow_run_id, tuple(outcomes), tuple(earlier), tuple(errors))
