"""Rollback execution: one audited transaction under the slot lock that re-checks production, chooses
and verifies the target, moves the pointer (audit rows and NOTIFY come from triggers), appends the
rollback_events row and stores the slot history.  ``RollbackService`` builds assessment on top."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any, AsyncIterator, Mapping, Sequence

from alphaplus.core import lifecycle
from alphaplus.core.entities import ChangeContext, Slot
from alphaplus.core.validation import check_on_behalf_of, check_reason, check_version_number, one_line
from alphaplus.core.errors import (
    ArtifactIntegrityError,
    InvalidInput,
    NoProductionVersion,
    VersionNotFound,
)
from alphaplus.registry.artifacts import ArtifactStore
from alphaplus.registry.service import validate_slot
from alphaplus.rollback.inputs import candidate
from alphaplus.rollback.policy import next_history, record_rollback
from alphaplus.rollback.results import RollbackOutcome, RollbackRequest, UnsafeRollbackTarget
from alphaplus.rollback.config import RollbackPolicy
from alphaplus.rollback.state import RollbackAssessment, SlotHistory
from alphaplus.rollback.target import CandidateChoice, choose_rollback_target
from alphaplus.core.records import SlotState
from db import rollback as q
from db import rollback_events as events_q
from db.errors import translated
from db.registry import RegistryRepository, lock_slot

log = logging.getLogger(__name__)
ROLLBACK_TYPES = ("automatic", "manual", "on_failure")
# A candidate's recent live/shadow record is read up to this many rows per independent outcome the
# policy wants (label horizons up to 24 bars are covered).
_ROWS_PER_OUTCOME = 24


def evidence_columns(a: RollbackAssessment | None) -> tuple[Any, ...]:
    """(n, n_effective, test, statistic, p_value) of an assessment's decisive test, for the columns."""
    if a is None:
        return (None,) * 5
    s = a.summary()
    return tuple(s[k] for k in ("n", "n_effective", "test", "statistic", "p_value"))


def state_row(slot: Slot, version: int | None, since: datetime | None, history: SlotHistory,
              window_end: datetime | None, now: datetime, a: RollbackAssessment | None,
              status: str | None = None, revision: int = 0) -> SlotState:
    """The slot_assessments row to store after an assessment."""
    return SlotState(
        slot=slot, production_version=version, production_since=since, history=history.to_dict(),
        last_window_end=window_end, last_assessed_at=now, last_status=status or (None if a is None else a.status),
        last_assessment=None if a is None else a.to_dict(), revision=revision,
    )


class RollbackExecution:
    """Rollbacks of slots over one pool, artifact store and policy."""

    def __init__(self, pool: Any, artifacts: ArtifactStore, policy: RollbackPolicy) -> None:
        self.pool = pool
        self.artifacts = artifacts
        self.policy = policy
        self.repo = RegistryRepository(pool)

    @property
    def _recent_rows(self) -> int:
        return self.policy.min_outcomes * _ROWS_PER_OUTCOME

    async def execute_rollback(
        self, request: RollbackRequest, *, now: datetime | None = None, conn: Any = None
    ) -> RollbackOutcome:
        """Roll ``slot`` back from ``assessed_version`` (None: whatever serves it when the lock is taken) to
        ``target_version`` (None: the policy's safest choice), in one transaction under the slot lock.

        Production changed since the assessment -> 'aborted', nothing written. No safe version -> a
        'no_safe_candidate' rollback_events row, production unchanged. An explicit target that is not
        safe raises UnsafeRollbackTarget. ``risk`` is the severity word; ``assessment`` and
        ``window_end`` (automatic rollbacks) are folded into the stored slot history. ``conn``: run inside
        the caller's transaction (a savepoint of it) instead of a transaction of its own.
        """
        r = request
        slot, assessed_version, target_version, reason = r.slot, r.assessed_version, r.target_version, r.reason
        rollback_type, for_cause, assessment = r.rollback_type, r.for_cause, r.assessment
        validate_slot(slot)
        if rollback_type not in ROLLBACK_TYPES:
            raise InvalidInput(f"rollback type {rollback_type!r} is not one of {', '.join(ROLLBACK_TYPES)}")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("a rollback needs a reason")
        check_reason(reason)
        check_on_behalf_of(r.on_behalf_of)
        if target_version is not None:
            check_version_number(target_version)
        now = now or datetime.now(UTC)
        snapshot = dict(r.metrics_snapshot or {})
        triggers = tuple(r.triggers) or (("manual",) if rollback_type == "manual" else ())

        def outcome(kind: str, current: int | None, choice: CandidateChoice | None, **kw: Any) -> RollbackOutcome:
            target = choice.target if choice is not None else None
            return RollbackOutcome(
                slot, kind, rollback_type, current, target, reason, choice, **kw  # type: ignore[arg-type]
            )

        if r.dry_run:
            pointer = await q.current_pointer(self.pool, slot)
            current = await self._check_pointer(slot, pointer, assessed_version)
            if current is None:
                return outcome("aborted", pointer[0] if pointer else None, None)
            records = await q.candidates(self.pool, slot, min_samples=self._recent_rows)
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
                records = await q.candidates(conn, slot, min_samples=self._recent_rows)
                history = SlotHistory.from_dict(await q.state_for_update(conn, slot))
                choice = await self._choose(slot, records, current, target_version, history, now)
                snapshot["candidates"] = choice.to_dict()
                if assessment is not None:
                    history = next_history(history, assessment, now)
                event_args = dict(
                    slot=slot, from_version=current, rollback_type=rollback_type, reason=reason, triggers=triggers,
                    metrics_snapshot=snapshot, degradation=r.degradation, confidence=r.confidence, risk=r.risk,
                    on_behalf_of=r.on_behalf_of, flow_run_id=r.flow_run_id, for_cause=for_cause,
                    evidence=evidence_columns(assessment),
                )
                if choice.target is None:
                    event_id, at, _ = await events_q.insert_event(
                        conn, to_version=None, outcome="no_safe_candidate", **event_args
                    )
                    if assessment is not None:
                        # The windows are consumed and the streak kept: the next run retries the choice.
                        await q.save_state_locked(conn, state_row(
                            slot, current, since, history, r.window_end, now, assessment))
                    log.warning("no safe rollback target for %s: %s", slot, choice.reason)
                    return outcome("no_safe_candidate", current, choice, event_id=event_id, event_time=at)
                ctx = ChangeContext(
                    reason=one_line(f"rollback ({rollback_type}): {reason}"), on_behalf_of=r.on_behalf_of,
                    flow_run_id=r.flow_run_id,
                    metadata={"rollback_type": rollback_type, "triggers": list(triggers), "for_cause": for_cause},
                )
                move = await self.repo.move_production(
                    slot, choice.target, expected_current=current,
                    previous_status=lifecycle.FAILED if for_cause else lifecycle.ROLLBACK_CANDIDATE, ctx=ctx, conn=conn,
                )
                event_id, at, _ = await events_q.insert_event(conn, to_version=choice.target, outcome="executed",
                                                              **event_args)
                history = record_rollback(history, current, now, for_cause=for_cause)
                await q.save_state_locked(conn, state_row(
                    slot, choice.target, move.at, history, None, now, assessment, status="rollback"))
        log.info("rolled back %s from version %s to %s (%s)", slot, current, choice.target, rollback_type)
        return outcome("executed", current, choice, move=move, event_id=event_id, event_time=at)

    async def clear_production(self, request: RollbackRequest, *, now: datetime | None = None) -> RollbackOutcome:
        """Restore a slot's state before its first production version: take ``assessed_version`` out
        of production (it becomes failed) and leave the slot without one, in one transaction under the
        slot lock, recorded as an 'executed' rollback_events row whose to_version is NULL.

        Production changed since (another rollback or promotion came first) -> 'aborted', nothing written.
        """
        r = request
        slot, assessed_version, reason, rollback_type = r.slot, r.assessed_version, r.reason, r.rollback_type
        on_behalf_of, flow_run_id = r.on_behalf_of, r.flow_run_id
        validate_slot(slot)
        check_version_number(assessed_version)
        check_reason(reason)
        check_on_behalf_of(on_behalf_of)
        now = now or datetime.now(UTC)

        def outcome(kind: str, current: int | None, **kw: Any) -> RollbackOutcome:
            return RollbackOutcome(slot, kind, rollback_type, current, None, reason, **kw)  # type: ignore[arg-type]

        if r.dry_run:
            pointer = await q.current_pointer(self.pool, slot)
            current = pointer[0] if pointer else None
            return outcome("dry_run" if current == assessed_version else "aborted", current)
        with translated():
            async with self._transaction() as conn:
                await lock_slot(conn, slot)
                pointer = await q.current_pointer(conn, slot)
                if pointer is None or pointer[0] != assessed_version:
                    log.info("clearing %s aborted: production is %s, not %s", slot, pointer, assessed_version)
                    return outcome("aborted", pointer[0] if pointer else None)
                history = SlotHistory.from_dict(await q.state_for_update(conn, slot))
                ctx = ChangeContext(
                    reason=one_line(f"rollback ({rollback_type}): {reason}"), on_behalf_of=on_behalf_of,
                    flow_run_id=flow_run_id,
                    metadata={"rollback_type": rollback_type, "triggers": [rollback_type], "for_cause": True},
                )
                await self.repo.clear_production(conn, slot, assessed_version, previous_status=lifecycle.FAILED,
                                                 ctx=ctx)
                event_id, at, _ = await events_q.insert_event(
                    conn, slot=slot, from_version=assessed_version, to_version=None, rollback_type=rollback_type,
                    outcome="executed", reason=reason, triggers=(rollback_type,),
                    metrics_snapshot={**(r.metrics_snapshot or {}), "production_version": assessed_version,
                                      "restored": "no production version"},
                    degradation=None, confidence=None, risk=None, on_behalf_of=on_behalf_of,
                    flow_run_id=flow_run_id, for_cause=True,
                )
                history = record_rollback(history, assessed_version, now, for_cause=True)
                await q.save_state_locked(conn, state_row(slot, None, None, history, None, now, None,
                                                          status="rollback"))
        log.info("took version %s of %s out of production: the slot has no production version (%s)",
                 assessed_version, slot, rollback_type)
        return outcome("executed", assessed_version, event_id=event_id, event_time=at)

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
                    self.artifacts.verify(rec.model_artifact_path, sha256=rec.model_artifact_hash,
                                          size=rec.model_size_bytes)
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

    async def record_market_shift(
        self, slot: Slot, *, assessed_version: int, assessment: RollbackAssessment, history: SlotHistory,
        window_end: datetime | None, target: int | None, snapshot: Mapping[str, Any], now: datetime,
        flow_run_id: str | None, on_behalf_of: str | None,
    ) -> RollbackOutcome:
        """Record a rollback withheld because the market shifted: a 'market_shift' rollback_events row
        and the slot state (its streak kept, so the next look asks again), production unchanged."""
        reason = one_line("; ".join(assessment.reasons))
        with translated():
            async with self.pool.acquire() as conn, conn.transaction():
                await lock_slot(conn, slot)
                pointer = await q.current_pointer(conn, slot)
                if pointer is None or pointer[0] != assessed_version:
                    return RollbackOutcome(slot, "aborted", "automatic", pointer[0] if pointer else None, None, reason)
                await q.state_for_update(conn, slot)
                event_id, at, _ = await events_q.insert_event(
                    conn, slot=slot, from_version=assessed_version, to_version=None, rollback_type="automatic",
                    outcome="market_shift", reason=reason, triggers=assessment.triggers,
                    metrics_snapshot={**snapshot, "withheld_target": target}, degradation=assessment.degradation,
                    confidence=assessment.confidence, risk=assessment.severity, on_behalf_of=on_behalf_of,
                    flow_run_id=flow_run_id, for_cause=False, evidence=evidence_columns(assessment),
                )
                await q.save_state_locked(conn, state_row(
                    slot, assessed_version, pointer[1], next_history(history, assessment, now), window_end, now,
                    assessment))
        log.warning("market shift on %s: rollback of version %s withheld", slot, assessed_version)
        return RollbackOutcome(slot, "market_shift", "automatic", assessed_version, None, reason,
                               event_id=event_id, event_time=at)
