"""Fork server for the crash test: imports the registry once, then forks one child per trial; a child
loops registrations, promotions and rollbacks on one slot until the test kills it with SIGKILL.

Forking a warm process costs milliseconds where a fresh interpreter costs a second or more, so a
hundred kills stay cheap. The server never connects to the database itself: each child opens its own
connections after the fork.

Protocol (lines): the server prints ``ready``; on ``fork SEED`` it forks a child, which prints
``go PID`` once connected (or ``error PID MESSAGE`` on an unexpected error); when a child ends the
server prints ``dead PID``. ``exit`` (or end of input) stops the server.

Usage: python -m tests.reliability.crash_zygote MODEL REGIME SYMBOL
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import uuid

from alphaplus.core.entities import Lineage, Slot
from alphaplus.core.errors import AlphaPlusError, ConcurrentModification, IllegalTransition, NoProductionVersion
from alphaplus.registry.service import Registry
from alphaplus.rollback.service import RollbackService

EXPECTED = (ConcurrentModification, IllegalTransition, NoProductionVersion)
PROMOTABLE = ("staging", "rollback_candidate", "archived")


def say(line: str) -> None:
    # One write() per line: lines of the server and its children never interleave.
    os.write(1, (line + "\n").encode())


def lineage(model_name: str, regime: str, symbol: str) -> Lineage:
    key = uuid.uuid4().hex
    return Lineage(
        model_name=model_name, regime=regime, symbol=symbol, training_data_hash=f"xxh3_128:{key}",
        feature_set_hash="sha256:" + "f" * 64, hyperparameters_hash="sha256:" + "e" * 64, lineage_key=f"sha256:{key}",
        timeframe="1h", n_samples=100, n_features=3,
    )


async def loop_operations(model_name: str, regime: str, symbol: str, seed: int) -> None:
    rng = random.Random(seed)
    registry = await Registry.open()
    service = await RollbackService.open()
    say(f"go {os.getpid()}")
    i = 0
    while True:
        i += 1
        op = rng.choices(["register", "promote", "rollback"], [1, 2, 2])[0]
        try:
            if op == "register":
                await registry.register_model_version(
                    lineage(model_name, regime, symbol), model={"w": f"{seed}-{i}"},
                    validation_metrics={"f1": 0.6, "accuracy": 0.6})
            elif op == "promote":
                pool = [v for v in await registry.list_versions(model_name=model_name, regime=regime, symbol=symbol)
                        if v.status in PROMOTABLE]
                if pool:
                    current = await registry.get_production_model(Slot(model_name, regime, symbol))
                    await registry.promote(model_name, rng.choice(pool).version, reason="crash loop",
                                           expected_current=current.version if current else None)
            else:
                await service.request_rollback(model_name, regime, symbol, reason="crash loop",
                                               rollback_type="manual")
        except EXPECTED:
            pass


def child(model_name: str, regime: str, symbol: str, seed: int) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        asyncio.run(loop_operations(model_name, regime, symbol, seed))
    except BaseException as e:  # noqa: BLE001 - reported to the test, which fails on it
        kind = "domain" if isinstance(e, AlphaPlusError) else "bug"
        say(f"error {os.getpid()} {kind} {type(e).__name__}: {str(e)[:300]!r}")
    os._exit(3)


def main(model_name: str, regime: str, symbol: str) -> None:
    def reap(_signum, _frame) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            say(f"dead {pid}")

    signal.signal(signal.SIGCHLD, reap)
    say("ready")
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "exit":
            break
        if words[0] == "fork":
            if os.fork() == 0:
                child(model_name, regime, symbol, int(words[1]))


if __name__ == "__main__":
    main(*sys.argv[1:4])
