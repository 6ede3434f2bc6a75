"""A process killed with SIGKILL at random points of promotions, rollbacks and registrations leaves
no trace but committed work: after every kill the invariants hold and the next operation succeeds."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from alphaplus.core.entities import Slot
from alphaplus.core.errors import ConcurrentModification, IllegalTransition
from tests.db.conftest import make_lineage
from tests.reliability.invariants import check_model

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
TRIALS = 100
LINE_DEADLINE_SECONDS = 30
# Backends of AlphaPlus connections (the check connection below names itself differently) that are
# inside a transaction.
_OPEN_TRANSACTIONS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'alphaplus' AND xact_start IS NOT NULL
"""
# Backends of AlphaPlus connections still working (the test's own sit idle between operations).
_BUSY_BACKENDS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'alphaplus' AND state <> 'idle'
"""
SETTLE_SECONDS = 30


async def settled(watcher) -> None:
    """Wait until the killed child's backends are done. A COMMIT the child sent just before the kill
    still completes on the server (it may wait its turn behind other commits): until it has, the
    slot is not the state the next operation must start from."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while await watcher.fetchval(_BUSY_BACKENDS):
        assert time.monotonic() < deadline, "a killed client's backend is still busy"
        await asyncio.sleep(0.01)


class Zygote:
    """The fork server of tests/reliability/crash_zygote.py, driven line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self) -> str:
        raw = await asyncio.wait_for(self.proc.stdout.readline(), LINE_DEADLINE_SECONDS)
        assert raw, "the fork server ended unexpectedly"
        return raw.decode().strip()

    async def expect(self, prefix: str, pid: int | None = None) -> int:
        while True:
            words = (await self.line()).split()
            assert words[0] != "error", f"a child failed: {' '.join(words)}"
            if words[0] == prefix and (pid is None or int(words[1]) == pid):
                return int(words[1])

    async def fork(self, seed: int) -> int:
        self.proc.stdin.write(f"fork {seed}\n".encode())
        await self.proc.stdin.drain()
        return await self.expect("go")


async def next_operation_succeeds(registry, service, model_name: str, rng: random.Random) -> str:
    """One promotion (registering a version when none can be promoted) or one manual rollback."""
    if rng.random() < 0.5:
        current = await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))
        if current is not None:
            out = await service.request_rollback(model_name, "trending", "BTCUSDT", reason="after a kill",
                                                 rollback_type="manual")
            assert out.outcome in ("executed", "no_safe_candidate"), out
            return f"rollback {out.outcome}"
    candidates = [v for v in await registry.list_versions(model_name=model_name)
                  if v.status in ("staging", "rollback_candidate", "archived")]
    if not candidates:
        reg = await registry.register_model_version(make_lineage(model_name), model={"w": rng.random()})
        candidates = [reg.version]
    current = await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))
    move = await registry.promote(model_name, rng.choice(candidates).version, reason="after a kill",
                                  expected_current=current.version if current else None)
    return f"promote {move.from_version}->{move.to_version}"


async def test_processes_killed_mid_promotion_or_rollback_leave_consistent_state_and_a_working_slot(
    database_url, settings, model_name, registry, rollback_service, conn
):
    rng = random.Random(20240501)
    for _ in range(3):
        await registry.register_model_version(make_lineage(model_name), model={"w": rng.random()})
    await registry.promote(model_name, 1, reason="seed")

    env = {**os.environ, "ALPHAPLUS_DATABASE_URL": database_url, "ALPHAPLUS_HOME": str(settings.home),
           "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.reliability.crash_zygote", model_name, "trending", "BTCUSDT",
        env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    zygote = Zygote(proc)
    watcher = await asyncpg.connect(database_url, server_settings={"application_name": "reliability-watch"})
    killed_in_transaction = 0
    try:
        assert await zygote.line() == "ready"
        for trial in range(TRIALS):
            pid = await zygote.fork(trial)
            await asyncio.sleep(rng.uniform(0.005, 0.2))
            # Sampled just before the kill: the child (the only other AlphaPlus client now) had a
            # transaction open.
            killed_in_transaction += bool(await watcher.fetchval(_OPEN_TRANSACTIONS))
            os.kill(pid, signal.SIGKILL)
            await zygote.expect("dead", pid)
            await settled(watcher)
            await check_model(conn, model_name)
            try:
                await next_operation_succeeds(registry, rollback_service, model_name, rng)
            except (ConcurrentModification, IllegalTransition) as e:  # pragma: no cover - would be a bug
                pytest.fail(f"trial {trial}: the slot is wedged after a kill: {e}")
            await check_model(conn, model_name)
    finally:
        await watcher.close()
        if proc.returncode is None:
            proc.stdin.write(b"exit\n")
            await proc.stdin.drain()
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    print(f"kills with a transaction open: {killed_in_transaction}/{TRIALS}")
    # Random kill times over a tight loop do land inside transactions.
    assert killed_in_transaction >= TRIALS // 10, f"only {killed_in_transaction} kills hit an open transaction"
    state = await check_model(conn, model_name)
    assert state.audit_counts["production_moved"] > TRIALS
