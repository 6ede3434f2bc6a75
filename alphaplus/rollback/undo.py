"""Undoing what a failed flow run did to production: each of its moves that still stands is reversed
by one audited rollback, to the version that served before it or, when the run installed the slot's
first production version, to no production version.

Either the run's ``on_failure`` hook or the prefect.yaml automation undoes a run; whichever comes
second finds nothing left to undo and says which rollback events did it (``RunUndo.summary``).
Pure: the service reads and writes; this module words what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alphaplus.core.records import FlowRunMove, RollbackEvent
from alphaplus.core.validation import one_line
from alphaplus.rollback.results import RollbackOutcome


def undo_reason(move: FlowRunMove, failed_flow_run: str, why: str) -> str:
    """The reason recorded for undoing ``move``: what is done first, then why."""
    if move.from_version is None:
        done = (f"slot left without a production version, as before the run: version {move.to_version} was "
                f"its first (undoing run {failed_flow_run})")
    else:
        done = f"restored version {move.from_version}, which served before the run (undoing run {failed_flow_run})"
    return one_line(f"{done}: {why}")


def describe_event(e: RollbackEvent) -> str:
    """'rollback event #12 at 2026-01-02 10:00:00 UTC by postgres: (m, trending, BTCUSDT) version 3 ->
    no production version'."""
    to = "no production version" if e.to_version is None else f"version {e.to_version}"
    return (f"rollback event #{e.id} at {e.event_time:%Y-%m-%d %H:%M:%S} UTC by {e.actor}: {e.slot} "
            f"version {e.from_version} -> {to}")


@dataclass(frozen=True)
class RunUndo:
    """What one request to undo a failed run did.

    outcomes: one per move of the run that still stood (executed, aborted or dry_run).
    earlier: rollbacks recorded before this request that undid the run's moves (by the other mechanism).
    errors: one line per move that could not be undone (its previous version can no longer serve).
    """

    failed_flow_run_id: str
    outcomes: tuple[RollbackOutcome, ...] = ()
    earlier: tuple[RollbackEvent, ...] = ()
    errors: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: what this request did, or that an earlier rollback had already done it."""
        run = self.failed_flow_run_id
        done = [o for o in self.outcomes if o.outcome in ("executed", "dry_run")]
        if not done and self.earlier:
            return (f"flow run {run} was already undone, nothing left to do: "
                    + "; ".join(describe_event(e) for e in self.earlier))
        if not done and not self.errors:
            return f"flow run {run} moved no production pointer that still stands: nothing to undo"
        parts = [
            f"{o.slot} version {o.from_version} -> "
            + ("no production version" if o.to_version is None else f"version {o.to_version}")
            + (" (dry run)" if o.outcome == "dry_run" else f" (rollback event #{o.event_id})")
            for o in done
        ]
        return f"undid flow run {run}: " + "; ".join(parts + [f"not undone: {e}" for e in self.errors])

    def to_dicts(self) -> list[dict[str, Any]]:
        """The outcomes of this request, then the earlier rollbacks as 'already_undone' entries."""
        return [o.to_dict() for o in self.outcomes] + [
            {"model_name": e.model_name, "regime": e.regime, "symbol": e.symbol, "outcome": "already_undone",
             "rollback_type": e.rollback_type, "from_version": e.from_version, "to_version": e.to_version,
             "reason": describe_event(e), "choice": None, "event_id": e.id, "event_time": e.event_time.isoformat()}
            for e in self.earlier
        ]
