"""Eight processes hammering one slot with registrations, promotions, rollbacks and demotions: the
database keeps every invariant, and the audit log accounts for exactly the operations that succeeded."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.reliability.invariants import check_model

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
WORKERS = 8
OPS_PER_WORKER = 100
DEADLINE_SECONDS = 150


async def run_workers(database_url: str, home: Path, model_name: str) -> Counter:
    env = {**os.environ, "ALPHAPLUS_DATABASE_URL": database_url, "ALPHAPLUS_HOME": str(home),
           "PYTHONPATH": str(REPO)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.reliability.mixed_worker", model_name, "trending", "BTCUSDT",
            str(OPS_PER_WORKER), str(seed), env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for seed in range(WORKERS)
    ]
    try:
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), DEADLINE_SECONDS)
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    failures = [err.decode()[-2000:] for p, (_, err) in zip(procs, outputs) if p.returncode != 0]
    assert not failures, failures
    total: Counter = Counter()
    for out, _ in outputs:
        total.update(json.loads(out.decode().strip().splitlines()[-1]))
    return total


async def test_eight_processes_of_random_lifecycle_operations_keep_every_invariant_and_audit_each_success(
    database_url, settings, model_name, conn
):
    counts = await run_workers(database_url, settings.home, model_name)
    unexpected = {k: v for k, v in counts.items() if k.startswith("unexpected")}
    assert not unexpected, unexpected
    assert sum(v for k, v in counts.items() if k.startswith("attempt_")) == WORKERS * OPS_PER_WORKER
    # The load really mixed: each kind of operation succeeded, and contention was real.
    assert counts["registered"] > 0 and counts["moves"] > 0 and counts["rollback_executed"] > 0
    assert sum(v for k, v in counts.items() if k.startswith("refused_")) > 0, counts

    state = await check_model(conn, model_name)
    assert len(state.versions) == counts["registered"]
    assert state.audit_counts["registered"] == counts["registered"]
    assert state.audit_counts["production_moved"] == counts["moves"], (state.audit_counts, counts)
    assert state.audit_counts["status_changed"] == counts["status_changes"], (state.audit_counts, counts)
    assert state.rollback_outcomes["executed"] == counts["rollback_executed"]
    assert state.rollback_outcomes["no_safe_candidate"] == counts["rollback_no_safe_candidate"]
    assert set(state.rollback_outcomes) <= {"executed", "no_safe_candidate"}
