"""Quarantine of training data or of a version, in one transaction with what it does to production.

A quarantined version never serves production (the database checks it at commit, migration 0011): the
quarantine transaction first stops every pointer move and status change (it locks ``slot_locks``, whose
rows every such change locks first, in EXCLUSIVE mode: they wait, reads do not, and the rollbacks below
take their slot locks inside this transaction without waiting on anyone), writes the quarantine once (a repeated one changes nothing and is not
audited again), then finds the slots now serving a quarantined version. Without a way to roll them
back it refuses, naming them and what to do; with one (``roll_back``), it rolls them back inside the
same transaction, so quarantine and rollbacks commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence

import asyncpg

from alphaplus.core.entities import Quarantine, Slot
from alphaplus.core.errors import QuarantineOfServingVersion, VersionNotFound
from db.errors import translated

_LOCK_POINTERS = "LOCK TABLE slot_locks IN EXCLUSIVE MODE"
_INSERT = """
INSERT INTO quarantine (kind, training_data_hash, model_name, version, reason)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING kind, training_data_hash, model_name, version, reason, created_by, created_at
"""
_EXISTING = """
SELECT kind, training_data_hash, model_name, version, reason, created_by, created_at FROM quarantine
WHERE kind = $1 AND training_data_hash IS NOT DISTINCT FROM $2 AND model_name IS NOT DISTINCT FROM $3
  AND version IS NOT DISTINCT FROM $4
"""
_VERSION_EXISTS = "SELECT EXISTS (SELECT 1 FROM model_versions WHERE model_name = $1 AND version = $2)"
_SERVING_QUARANTINED = """
SELECT p.model_name, p.regime, p.symbol, p.version, alphaplus_quarantine_reason(p.model_name, p.version) AS why
FROM production_slots p
WHERE ($1::text IS NULL OR p.model_name = $1)
  AND alphaplus_quarantine_reason(p.model_name, p.version) IS NOT NULL
ORDER BY p.model_name, p.regime, p.symbol
"""


@dataclass(frozen=True)
class ServingQuarantined:
    """A slot whose production version is (now) quarantined."""

    slot: Slot
    version: int
    why: str


RollBack = Callable[[asyncpg.Connection, Sequence[ServingQuarantined], str], Awaitable[None]]


def _refusal(serving: Sequence[ServingQuarantined]) -> QuarantineOfServingVersion:
    first = serving[0]
    slots = "; ".join(f"version {s.version} serves {s.slot}" for s in serving[:5])
    more = f" and {len(serving) - 5} more" if len(serving) > 5 else ""
    return QuarantineOfServingVersion(
        f"nothing was quarantined: {slots}{more}. Roll the slot back first (alphaplus rollback "
        f"{first.slot.model_name} --regime {first.slot.regime} --symbol {first.slot.symbol} --reason ...), "
        "or quarantine with --roll-back to roll back and quarantine in one step"
    )


async def quarantine(
    pool: asyncpg.Pool,
    *,
    reason: str,
    training_data_hash: str | None = None,
    model_name: str | None = None,
    version: int | None = None,
    roll_back: RollBack | None = None,
) -> Quarantine:
    """Quarantine data (``training_data_hash``) or a version (``model_name``, ``version``), once.

    Serving versions it covers are rolled back by ``roll_back(conn, serving, reason)`` in the same
    transaction; without it they make the call fail (QuarantineOfServingVersion), writing nothing.
    """
    kind = "training_data" if training_data_hash is not None else "version"
    key = (kind, training_data_hash, model_name, version)
    with translated():
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(_LOCK_POINTERS)
            if kind == "version" and not await conn.fetchval(_VERSION_EXISTS, model_name, version):
                raise VersionNotFound(f"version {version} of {model_name} does not exist")
            row = await conn.fetchrow(_INSERT, *key, reason)
            created = row is not None
            if not created:
                row = await conn.fetchrow(_EXISTING, *key)
            serving = [
                ServingQuarantined(Slot(r["model_name"], r["regime"], r["symbol"]), r["version"], r["why"])
                for r in await conn.fetch(_SERVING_QUARANTINED, model_name if kind == "version" else None)
            ]
            if serving:
                if roll_back is None:
                    raise _refusal(serving)
                await roll_back(conn, serving, reason)
    return Quarantine(**dict(row), created=created)
