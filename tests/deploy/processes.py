"""Subprocesses of the deployment tests: a Prefect server, CLI commands and process workers, on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")
T = TypeVar("T")

# Inherited settings that would point a child at another API, database or profile.
_DROPPED = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_API_DATABASE_CONNECTION_URL",
            "PREFECT_SERVER_DATABASE_CONNECTION_URL", "ALPHAPLUS_DATABASE_URL_FILE",
            "ALPHAPLUS_DATABASE_SECRET_BLOCK")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prefect_env(home: Path, api_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a Prefect child: private home, no telemetry, this API (when given)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_LOGGING_LEVEL="INFO", PREFECT_LOGGING_LOGGERS_PREFECT_SERVER_LEVEL="INFO")
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.update(extra)
    return env


def _default_sigint() -> None:
    # A child started from a non-interactive parent inherits SIGINT ignored, and a Prefect worker
    # then ignores the first SIGTERM too: restore the default so one SIGTERM stops it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """Start a long-running child in its own process group (so its flow-run children stop with it)."""
    out = log.open("ab")
    try:
        return subprocess.Popen(args, cwd=REPO_ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_default_sigint)
    finally:
        out.close()


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the child's process group, SIGKILL it if still alive after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_cli(args: list[str], env: Mapping[str, str], timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run a Prefect CLI command from the repository root; fail the test with its output if it fails."""
    result = subprocess.run([PREFECT, *args], cwd=REPO_ROOT, env=dict(env), capture_output=True, text=True,
                            timeout=timeout, check=False, preexec_fn=_default_sigint)
    if result.returncode != 0:
        raise AssertionError(f"prefect {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def wait_healthy(api_url: str, proc: subprocess.Popen, log: Path, deadline_s: float = 90.0) -> float:
    """Seconds until ``api_url``/health answers; raises with the log tail past the deadline or on exit."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if proc.poll() is not None:
            raise AssertionError(f"prefect server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2.0).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"prefect server not healthy within {deadline_s} s:\n{log.read_text()[-3000:]}")


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, deadline_s: float,
                     interval_s: float = 0.5) -> T:
    """The first truthy result of ``probe``, polled until ``deadline_s`` seconds have passed."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline_s} s (last: {last!r})")
        await asyncio.sleep(interval_s)
