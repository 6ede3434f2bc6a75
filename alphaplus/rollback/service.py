"""The rollback service: assess production slots from live evidence and roll back, audited, at most once.

Assessment (``assess_slots``) reads every matching production slot in one query, runs the pure policy
(alphaplus.rollback.policy) per slot, stores every slot's state in one compare-and-set statement and
executes the few rollbacks it decided. A rollback (``execute_rollback``) is one transaction under the
slot lock: re-check production, choose and verify the target, move the pointer (audit rows and
NOTIFY come from triggers), append the rollback_events row, store the slot history.

Evidence rules on top of the policy's:
- Each assessment consumes the live windows that ended since the last one of this production stint
  (pointer moved, stored cursor), pooled into one window; so a window counts once in a streak.
- While the new windows hold fewer than ``min_samples`` outcomes and inferences, they are left
  unconsumed and reported as ``insufficient_evidence``: evidence accumulates instead of being lost.
- A new production stint (promotion or rollback) starts a fresh streak; cooldown and the
  no-return bars of the slot history stay.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, AsyncIterator, Mapping, Sequence

from alphaplus.core import lifecycle
from alphaplus.registry.artifacts import ArtifactStore
from alphaplus.core.entities import ChangeContext, Slot
from alphaplus.core.errors import (
    AlphaPlusError,
    ArtifactIntegrityError,
    InvalidInput,
    ModelNotFound,
    NoProductionVersion,
    VersionNotFound,
)
from alphaplus.registry.service import validate_slot
from alphaplus.rollback.results import (
    NoSafeCandidate,
    RollbackOutcome,
    RollbackType,
    SlotAssessmentResult,
    SlotFilter,
    UnsafeRollbackTarget,
)
from alphaplus.rollback.policy import (
    RollbackAssessment,
    RollbackPolicy,
    SlotHistory,
    assess_rollback_needs,
    next_history,
    record_rollback,
)
from alphaplus.rollback.evidence import baseline, candidate, live_window, totals_dict
from alphaplus.rollback.target import CandidateChoice, choose_rollback_target
from alphaplus.core.settings import Settings, get_settings
from alphaplus.core.validation import check_on_behalf_of, check_reason, check_version_number, one_line
from db import rollback as q
from db.errors import translated
from db.registry import RegistryRepository, lock_slot

__all__ = [
    "NoSafeCandidate", "RollbackOutcome", "RollbackService", "SlotAssessmentResult", "SlotFilter",
    "UnsafeRollbackTarget", "policy_from_settings",
]

log = logging.getLogger(__name__)
_ROLLBACK_TYPES = ("automatic", "manual", "on_failure")


def policy_from_settings(settings: Settings) -> RollbackPolicy:
    """The rollback policy configured by ``ALPHAPLUS_ROLLBACK_*`` (hours and days become timedeltas)."""
    return RollbackPolicy(
        performance_drop=settings.rollback_performance_drop,
        error_rate=settings.rollback_error_rate,
        psi=settings.rollback_psi,
        min_samples=settings.rollback_min_samples,
        consecutive=settings.rollback_consecutive,
        cooldown=timedelta(hours=settings.rollback_cooldown_hours),
        no_return=timedelta(days=settings.rollback_no_return_days),
        eligible_statuses=tuple(sorted(lifecycle.ROLLBACK_TARGET_STATUSES)),
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RollbackService:
    """Assessment and rollback of production slots over one pool, artifact store and policy."""

    def __init__(self, pool: Any, artifacts: ArtifactStore, policy: RollbackPolicy) -> None:
        self.pool = pool
        self.artifacts = artifacts
        self.policy = policy
        self.repo = RegistryRepository(pool)

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
        now = now or _utcnow()
        kwargs: dict[str, Any] = {}
        if isinstance(flt, SlotFilter):
            kwargs = {"model_name": flt.model_name, "regime": flt.regime, "symbol": flt.symbol}
        elif flt is not None:
            kwargs = {"slots": list(flt)}
        inputs = await q.assessment_inputs(self.pool, min_samples=self.policy.min_samples, **kwargs)

        results: dict[Slot, SlotAssessmentResult] = {}
        states: list[q.SlotState] = []
        to_roll: list[tuple[q.SlotEvidence, RollbackAssessment]] = []
        for ev in inputs:
            try:
                result, state, roll = self._assess_one(ev, now)
            except Exception as e:  # noqa: BLE001 - one slot's bad data must not stop the others
                log.exception("assessment of %s failed", ev.slot)
                results[ev.slot] = SlotAssessmentResult(ev.slot, ev.version, "error", "error", error=str(e))
                continue
            results[ev.slot] = result
            if roll is not None:
                to_roll.append((ev, roll))
            elif state is not None:
                states.append(state)

        if not dry_run and states:
            written = await q.save_states(self.pool, states)
            for s in states:
                if s.slot not in written:
                    results[s.slot] = replace(results[s.slot], outcome="superseded")

        for ev, a in to_roll:
            results[ev.slot] = await self._roll_back_assessed(ev, a, now, dry_run, flow_run_id, on_behalf_of)
        return [results[ev.slot] for ev in inputs]

    def _assess_one(
        self, ev: Any, now: datetime
    ) -> tuple[SlotAssessmentResult, Any | None, RollbackAssessment | None]:
        """(result, state to store or None, assessment when a rollback is due) for one slot; pure."""
        history = SlotHistory.from_dict(ev.history)
        if not ev.same_stint:
            # The streak was about another version (or an earlier stint of this one).
            history = replace(history, consecutive_count=0, evidence=None)
        t = ev.new_windows
        if t.windows == 0:
            return SlotAssessmentResult(ev.slot, ev.version, "no_new_data", "no_new_data"), None, None
        a = assess_rollback_needs(
            baseline(ev.validation_metrics, ev.early_live), live_window(t), history, self.policy, now
        )
        if t.n < self.policy.min_samples and t.inferences < self.policy.min_samples:
            # Too little to judge yet: leave the windows for the next run to pool with newer ones.
            return SlotAssessmentResult(ev.slot, ev.version, "insufficient_evidence", "none", assessment=a), None, None
        result = SlotAssessmentResult(ev.slot, ev.version, a.status, "none", assessment=a)
        if a.should_rollback:
            return result, None, a
        state = q.SlotState(
            slot=ev.slot, production_version=ev.version, production_since=ev.since,
            history=next_history(history, a, now).to_dict(), last_window_end=t.window_end,
            last_assessed_at=now, last_status=a.status, last_assessment=a.to_dict(),
            revision=ev.revision,
        )
        return result, state, None

    async def _roll_back_assessed(
        self, ev: Any, a: RollbackAssessment, now: datetime, dry_run: bool, flow_run_id: str | None,
        on_behalf_of: str | None,
    ) -> SlotAssessmentResult:
        snapshot = {
            "assessment": a.to_dict(), "risk_score": a.risk, "policy": self.policy.to_dict(),
            "window": totals_dict(ev.new_windows), "early_live": totals_dict(ev.early_live),
            "validation_metrics": dict(ev.validation_metrics),
        }
        try:
            out = await self.execute_rollback(
                ev.slot, assessed_version=ev.version, target_version=None, reason=one_line("; ".join(a.reasons)),
                rollback_type="automatic", triggers=a.triggers, metrics_snapshot=snapshot,
                degradation=a.degradation, confidence=a.confidence, risk=a.severity, for_cause=True,
                dry_run=dry_run, flow_run_id=flow_run_id, on_behalf_of=on_behalf_of, now=now,
                assessment=a, window_end=ev.new_windows.window_end,
            )
        except Exception as e:  # noqa: BLE001 - reported in the slot's result; the others go on
            log.warning("rollback of %s failed: %s", ev.slot, e, exc_info=not isinstance(e, AlphaPlusError))
            return SlotAssessmentResult(ev.slot, ev.version, a.status, "error", assessment=a, error=str(e))
        return SlotAssessmentResult(ev.slot, ev.version, a.status, out.outcome, assessment=a, rollback=out)

    # --- rollback ----------------------------------------------------------------------------------

    async def execute_rollback(
        self,
        slot: Slot,
        *,
        assessed_version: int | None,
        target_version: int | None = None,
        reason: str,
        rollback_type: RollbackType = "manual",
        triggers: Sequence[str] = (),
        metrics_snapshot: Mapping[str, Any] | None = None,
        degradation: float | None = None,
        confidence: float | None = None,
        risk: str | None = None,
        for_cause: bool = True,
        dry_run: bool = False,
        flow_run_id: str | None = None,
        on_behalf_of: str | None = None,
        now: datetime | None = None,
        assessment: RollbackAssessment | None = None,
        window_end: datetime | None = None,
        conn: Any = None,
    ) -> RollbackOutcome:
        """Roll ``slot`` back from ``assessed_version`` (None: whatever serves it when the lock is taken) to
        ``target_version`` (None: the policy's safest choice), in one transaction under the slot lock.

        Production changed since the assessment -> 'aborted', nothing written. No safe version -> a
        'no_safe_candidate' rollback_events row, production unchanged. An explicit target that is not
        safe raises UnsafeRollbackTarget. ``risk`` is the severity word; ``assessment`` and
        ``window_end`` (automatic rollbacks) are folded into the stored slot history. ``conn``: run inside
        the caller's transaction (a savepoint of it) instead of a transaction of its own.
        """
        validate_slot(slot)
        if rollback_type not in _ROLLBACK_TYPES:
            raise InvalidInput(f"rollback type {rollback_type!r} is not one of {', '.join(_ROLLBACK_TYPES)}")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("a rollback needs a reason")
        check_reason(reason)
        check_on_behalf_of(on_behalf_of)
        if target_version is not None:
            check_version_number(target_version)
        now = now or _utcnow()
        snapshot = dict(metrics_snapshot or {})
        triggers = tuple(triggers) or (("manual",) if rollback_type == "manual" else ())

        def outcome(kind: str, current: int | None, choice: CandidateChoice | None, **kw: Any) -> RollbackOutcome:
            target = choice.target if choice is not None else None
            return RollbackOutcome(
                slot, kind, rollback_type, current, target, reason, choice, **kw  # type: ignore[arg-type]
            )

        if dry_run:
            pointer = await q.current_pointer(self.pool, slot)
            current = await self._check_pointer(slot, pointer, assessed_version)
            if current is None:
                return outcome("aborted", pointer[0] if pointer else None, None)
            records = await q.candidates(self.pool, slot, min_samples=self.policy.min_samples)
            history = await self._stored_history(slot)
            choice = await self._choose(slot, records, current, target_version, history, now)
            return outcome("dry_run", current, choice)

        # A connection lost mid-rollback (the transaction is rolled back) is one clear error.
        with translated():
            async with self._transaction(conn) as conn:
                await lock_slot(conn, slot)
                pointer = await q.current_pointer(conn, slot)
                current = await self._check_pointer(slot, pointer, assessed_version)
                if current is None:
                    log.info("rollback of %s aborted: production is %s, not %s", slot, pointer, assessed_version)
                    return outcome("aborted", pointer[0] if pointer else None, None)
                since = pointer[1]
                records = await q.candidates(conn, slot, min_samples=self.policy.min_samples)
                history = SlotHistory.from_dict(await q.state_for_update(conn, slot))
                choice = await self._choose(slot, records, current, target_version, history, now)
                snapshot["candidates"] = choice.to_dict()
                if assessment is not None:
                    history = next_history(history, assessment, now)
                event_args = dict(
                    slot=slot, from_version=current, rollback_type=rollback_type, reason=reason, triggers=triggers,
                    metrics_snapshot=snapshot, degradation=degradation, confidence=confidence, risk=risk,
                    on_behalf_of=on_behalf_of, flow_run_id=flow_run_id, for_cause=for_cause,
                )
                if choice.target is None:
                    event_id, at, _ = await q.insert_event(
                        conn, to_version=None, outcome="no_safe_candidate", **event_args
                    )
                    if assessment is not None:
                        # The windows are consumed and the streak kept: the next run retries the choice.
                        await q.save_state_locked(conn, q.SlotState(
                            slot=slot, production_version=current, production_since=since, history=history.to_dict(),
                            last_window_end=window_end, last_assessed_at=now, last_status=assessment.status,
                            last_assessment=assessment.to_dict(),
                        ))
                    log.warning("no safe rollback target for %s: %s", slot, choice.reason)
                    return outcome("no_safe_candidate", current, choice, event_id=event_id, event_time=at)
                ctx = ChangeContext(
                    reason=one_line(f"rollback ({rollback_type}): {reason}"), on_behalf_of=on_behalf_of,
                    flow_run_id=flow_run_id,
                    metadata={"rollback_type": rollback_type, "triggers": list(triggers), "for_cause": for_cause},
                )
                move = await self.repo.move_production(
                    slot, choice.target, expected_current=current,
                    previous_status=lifecycle.FAILED if for_cause else lifecycle.ROLLBACK_CANDIDATE, ctx=ctx, conn=conn,
                )
                event_id, at, _ = await q.insert_event(conn, to_version=choice.target, outcome="executed", **event_args)
                history = record_rollback(history, current, now, for_cause=for_cause)
                await q.save_state_locked(conn, q.SlotState(
                    slot=slot, production_version=choice.target, production_since=move.at, history=history.to_dict(),
                    last_window_end=None, last_assessed_at=now, last_status="rollback",
                    last_assessment=None if assessment is None else assessment.to_dict(),
                ))
        log.info("rolled back %s from version %s to %s (%s)", slot, current, choice.target, rollback_type)
        return outcome("executed", current, choice, move=move, event_id=event_id, event_time=at)

    @contextlib.asynccontextmanager
    async def _transaction(self, conn: Any = None) -> AsyncIterator[Any]:
        """A transaction on a pooled connection, or a savepoint in the caller's ``conn``."""
        if conn is not None:
            async with conn.transaction():
                yield conn
            return
        async with self.pool.acquire() as own, own.transaction():
            yield own

    async def _check_pointer(
        self, slot: Slot, pointer: tuple[int, datetime] | None, assessed_version: int | None
    ) -> int | None:
        """The current production version when the request still applies, else None (abort)."""
        if pointer is None:
            if assessed_version is None:
                raise NoProductionVersion(f"slot {slot} has no production version: nothing to roll back")
            return None
        if assessed_version is not None and pointer[0] != assessed_version:
            return None
        return pointer[0]

    async def _stored_history(self, slot: Slot) -> SlotHistory:
        return SlotHistory.from_dict(await q.read_state(self.pool, slot))

    async def _choose(
        self, slot: Slot, records: Sequence[Any], current: int, target_version: int | None, history: SlotHistory,
        now: datetime,
    ) -> CandidateChoice:
        """The policy's choice (or the checked explicit target), verifying artifact hashes lazily: only a
        version about to be chosen is read and hashed, and one that fails is excluded and the choice redone."""
        by_version = {r.version: r for r in records}
        verified: dict[int, bool] = {}

        def verify(version: int) -> bool:
            if version not in verified:
                rec = by_version[version]
                try:
                    self.artifacts.verify(rec.model_artifact_path, sha256=rec.model_artifact_hash, size=rec.model_size_bytes)
                    verified[version] = True
                except ArtifactIntegrityError as e:
                    log.error("version %s of %s cannot be restored: %s", version, slot.model_name, e)
                    verified[version] = False
            return verified[version]

        def choose() -> CandidateChoice:
            cands = [candidate(r, verified.get(r.version, True)) for r in records]
            return choose_rollback_target(cands, current, self.policy, now, history=history)

        if target_version is not None:
            if target_version not in by_version:
                await self._explain_unknown_target(slot, target_version, current)
            verify(target_version)
            choice = choose()
            ranked = next(r for r in choice.ranking if r.version == target_version)
            if not ranked.eligible:
                raise UnsafeRollbackTarget(
                    f"version {target_version} of {slot.model_name} cannot be restored: {'; '.join(ranked.reasons)}"
                )
            return CandidateChoice(
                target=target_version,
                reason=f"restore version {target_version} as requested: " + "; ".join(ranked.reasons),
                ranking=choice.ranking,
            )
        while True:
            choice = choose()
            if choice.target is None or choice.target in verified or verify(choice.target):
                return choice

    async def _explain_unknown_target(self, slot: Slot, version: int, current: int) -> None:
        brief = await q.version_brief(self.pool, slot.model_name, version)
        if brief is None:
            raise VersionNotFound(f"version {version} of {slot.model_name} does not exist")
        if (brief["regime"], brief["symbol"]) != (slot.regime, slot.symbol):
            raise InvalidInput(
                f"version {version} of {slot.model_name} belongs to slot "
                f"{Slot(slot.model_name, brief['regime'], brief['symbol'])}, not {slot}"
            )
        if version == current:
            raise UnsafeRollbackTarget(f"version {version} of {slot.model_name} is the production version now")
        raise UnsafeRollbackTarget(
            f"version {version} of {slot.model_name} is '{brief['status']}'; only "
            f"{' or '.join(self.policy.eligible_statuses)} versions can be rollback targets"
        )

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
        return await self.execute_rollback(
            slot, assessed_version=current, target_version=to_version, reason=reason, rollback_type=rollback_type,
            metrics_snapshot=snapshot, confidence=1.0 if rollback_type == "manual" else None, risk=None,
            for_cause=True, dry_run=dry_run, flow_run_id=flow_run_id, on_behalf_of=on_behalf_of, now=now,
        )

    async def list_events(self, **filters: Any) -> list[Any]:
        """Rollback events (optionally of one model, slot or outcome), newest first."""
        return await q.list_events(self.pool, **filters)

    async def moves_by_flow_run(self, flow_run_id: str) -> list[Any]:
        """Production moves made by a flow run that still stand."""
        return await q.moves_by_flow_run(self.pool, flow_run_id)
