"""What the benchmarks share: the server they run on, a private database per run, result rows, timing
statistics, the Prefect environment, and the facts of the machine a run came from."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

ROOT = Path(__file__).resolve().parents[1]
# Benchmarks create and drop databases of their own on the server, as its superuser: the check that
# refuses a superuser for day-to-day work does not apply to them.
os.environ.setdefault("ALPHAPLUS_SUPERUSER_LOGIN", "allow")


def row(measure: str, value: float | None, unit: str, target: str | None = None,
        baseline: float | None = None, note: str | None = None) -> dict[str, Any]:
    """One result: what was measured, its value and unit, the goal (">= 2", "<= 1") and a number
    measured in the same run to read it against."""
    out: dict[str, Any] = {"measure": measure, "value": value, "unit": unit, "target": target, "baseline": baseline}
    if note:
        out["note"] = note
    return out


def server_dsn() -> str:
    """The server the benchmarks run on: ALPHAPLUS_DATABASE_URL, else the project's embedded cluster
    (started on demand), exactly as the tests choose it."""
    url = os.environ.get("ALPHAPLUS_DATABASE_URL")
    if url:
        return url
    from db.embedded import EmbeddedPostgres

    return EmbeddedPostgres.for_home(ROOT / ".alphaplus").ensure_running()


def database_source() -> str:
    return "ALPHAPLUS_DATABASE_URL" if os.environ.get("ALPHAPLUS_DATABASE_URL") else "embedded cluster (.alphaplus/pg)"


@asynccontextmanager
async def private_database(prefix: str = "alphaplus_bench") -> AsyncIterator[str]:
    """A freshly migrated database on the server, dropped (with its connections) on the way out."""
    import asyncpg

    from db.migrate import migrate
    from db.pool import close_pools, connect

    server = server_dsn()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{server.rpartition('/')[0]}/{name}"
    try:
        conn = await connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield dsn
    finally:
        try:
            await close_pools()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


def bench_settings(dsn: str, home: str | Path):
    """Settings on a private database and a private home (artifacts)."""
    from alphaplus.core.settings import Settings

    return Settings(database_url=dsn, home=Path(home))


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values, nearest rank."""
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))]


def times(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall time of each of ``repeats`` calls of ``fn``, in seconds."""
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def prefect_environment() -> str | None:
    """No telemetry, no network, quiet logs, and a throwaway Prefect home; call before prefect is
    imported (its settings are read then). Returns the home made here, or None when prefect was
    already imported and its settings are fixed."""
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    if "prefect" in sys.modules:
        return None
    home = tempfile.mkdtemp(prefix="alphaplus-bench-prefect-")
    os.environ["PREFECT_HOME"] = home
    return home


def machine_facts() -> dict[str, Any]:
    """Cores, CPU model, memory, load, Python and the database this run used."""
    facts: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "database": database_source(),
        "postgresql": _postgres_version(),
    }
    try:
        facts["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return facts


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError):
        pass
    return None


def _postgres_version() -> str | None:
    import asyncio

    import asyncpg

    async def ask() -> str:
        conn = await asyncpg.connect(server_dsn())
        try:
            return await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()

    try:
        return asyncio.run(ask())
    except Exception as e:  # noqa: BLE001 - a fact we could not read is reported, not fatal
        return f"unknown ({e.__class__.__name__})"
