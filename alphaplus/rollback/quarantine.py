"""Quarantine that rolls back what it covers: the slots serving a version it quarantines are rolled
back to their safest unquarantined version in the same transaction (audited like any manual
rollback), or nothing happens at all."""

from __future__ import annotations

from typing import Any, Sequence

from alphaplus.core.entities import Quarantine
from alphaplus.core.errors import QuarantineOfServingVersion
from alphaplus.core.validation import (
    check_hash,
    check_model_name,
    check_on_behalf_of,
    check_reason,
    check_version_number,
    one_line,
)
from alphaplus.rollback.results import RollbackRequest
from alphaplus.rollback.service import RollbackService


async def quarantine_and_roll_back(
    service: RollbackService,
    *,
    reason: str,
    training_data_hash: str | None = None,
    model_name: str | None = None,
    version: int | None = None,
    on_behalf_of: str | None = None,
) -> tuple[Quarantine, list[Any]]:
    """Quarantine data or a version and roll back every slot it takes out of service; returns the
    quarantine and the rollbacks (RollbackOutcome). A slot with no safe version to restore refuses
    the whole request, naming it: nothing is quarantined or rolled back then."""
    from db.quarantine import ServingQuarantined, quarantine

    check_reason(reason)
    check_on_behalf_of(on_behalf_of)
    if training_data_hash is not None:
        check_hash(training_data_hash)
    else:
        check_model_name(model_name)
        check_version_number(version)
    done: list[Any] = []

    async def roll_back(conn: Any, serving: Sequence[ServingQuarantined], why: str) -> None:
        for s in serving:
            out = await service.execute_rollback(RollbackRequest(
                s.slot, assessed_version=s.version, reason=one_line(f"quarantine: {why}"), rollback_type="manual",
                metrics_snapshot={"quarantine": s.why}, on_behalf_of=on_behalf_of,
            ), conn=conn)
            if out.outcome != "executed":
                raise QuarantineOfServingVersion(
                    f"nothing was quarantined: version {s.version} serves {s.slot} and no other version of it "
                    f"is safe to restore ({out.choice.reason if out.choice else out.outcome}); promote a clean "
                    "version of that slot first, then quarantine"
                )
            done.append(out)

    record = await quarantine(service.pool, reason=reason, training_data_hash=training_data_hash,
                              model_name=model_name, version=version, roll_back=roll_back)
    return record, done
