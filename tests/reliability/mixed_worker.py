"""Child process of the mixed-load test: random registrations, promotions (with and without
expected_current), manual rollbacks and demotions on one slot; prints one JSON object of counts.

Usage: python -m tests.reliability.mixed_worker MODEL REGIME SYMBOL N_OPS SEED
Database and artifact root come from ALPHAPLUS_DATABASE_URL and ALPHAPLUS_HOME.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import uuid
from collections import Counter

from alphaplus.core.entities import Lineage, Slot
from alphaplus.core.errors import (
    AlphaPlusError,
    ConcurrentModification,
    IllegalTransition,
    ModelNotFound,
    NoProductionVersion,
)
from alphaplus.registry.service import Registry
from alphaplus.rollback.service import RollbackService
from db.pool import close_pools

# Expected refusals under contention: another worker changed the slot first (or, for a rollback
# before the first registration, the model does not exist yet).
EXPECTED = (ConcurrentModification, IllegalTransition, NoProductionVersion, ModelNotFound)
PROMOTABLE = ("staging", "rollback_candidate", "archived", "canary")


def lineage(model_name: str, regime: str, symbol: str) -> Lineage:
    key = uuid.uuid4().hex
    return Lineage(
        model_name=model_name, regime=regime, symbol=symbol, training_data_hash=f"xxh3_128:{key}",
        feature_set_hash="sha256:" + "f" * 64, hyperparameters_hash="sha256:" + "e" * 64, lineage_key=f"sha256:{key}",
        timeframe="1h", n_samples=100, n_features=3,
    )


async def run(model_name: str, regime: str, symbol: str, n_ops: int, seed: int) -> Counter:
    rng = random.Random(seed)
    registry = await Registry.open()
    service = await RollbackService.open()
    c: Counter = Counter()

    async def candidates() -> list:
        return [v for v in await registry.list_versions(model_name=model_name, regime=regime, symbol=symbol)
                if v.status in PROMOTABLE]

    for i in range(n_ops):
        op = rng.choices(["register", "promote", "promote_expected", "rollback", "demote"], [3, 2, 2, 2, 1])[0]
        c[f"attempt_{op}"] += 1
        try:
            if op == "register":
                reg = await registry.register_model_version(
                    lineage(model_name, regime, symbol), model={"w": f"{seed}-{i}"},
                    validation_metrics={"f1": round(rng.uniform(0.4, 0.7), 3), "accuracy": 0.6})
                c["registered"] += reg.created
            elif op in ("promote", "promote_expected"):
                pool = await candidates()
                if not pool:
                    c["skipped"] += 1
                    continue
                target = rng.choice(pool).version
                if op == "promote_expected":
                    current = await registry.get_production_model(Slot(model_name, regime, symbol))
                    move = await registry.promote(model_name, target, reason=f"mixed {seed}",
                                                  expected_current=current.version if current else None)
                else:
                    move = await registry.promote(model_name, target, reason=f"mixed {seed}")
                c["moves"] += 1
                c["status_changes"] += 1 if move.from_version is None else 2
            elif op == "rollback":
                out = await service.request_rollback(model_name, regime, symbol, reason=f"mixed {seed}",
                                                     rollback_type="manual")
                c[f"rollback_{out.outcome}"] += 1
                if out.outcome == "executed":
                    c["moves"] += 1
                    c["status_changes"] += 2
            else:
                current = await registry.get_production_model(Slot(model_name, regime, symbol))
                if current is None:
                    c["skipped"] += 1
                    continue
                await registry.demote(model_name, current.version, reason=f"mixed {seed}")
                c["moves"] += 1
                c["status_changes"] += 1
        except EXPECTED as e:
            c[f"refused_{type(e).__name__}"] += 1
        except AlphaPlusError as e:
            c["unexpected"] += 1
            c[f"unexpected: {type(e).__name__}: {str(e)[:200]}"] += 1
    await close_pools()
    return c


if __name__ == "__main__":
    model, regime, symbol, n, seed = sys.argv[1:6]
    counts = asyncio.run(run(model, regime, symbol, int(n), int(seed)))
    print(json.dumps(counts), flush=True)
