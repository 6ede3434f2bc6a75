"""A temporary Prefect API for one CLI process that dies with it.

Without ``PREFECT_API_URL``, Prefect starts a temporary server of its own in a child process and
stops it at exit; a CLI process killed with SIGKILL never reaches its exit handlers, and that server
(~190 MB) is left running for good. So the CLI starts the temporary API itself, before Prefect is
imported, as a child that ends when its parent does: on Linux the kernel sends it SIGTERM when the
parent dies (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread stops it once it has been
orphaned. ``PREFECT_API_URL`` then points the CLI's flows at it.

Run as ``python -m alphaplus.cli.temporary_api PORT PARENT_PID`` by ``start`` only.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from alphaplus.core.errors import ConfigurationError

_PR_SET_PDEATHSIG = 1
_ATTEMPTS = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start(home: Path, timeout: float) -> str | None:
    """Start the temporary API unless ``PREFECT_API_URL`` is set; set it and return it (None: set already).

    Call before anything imports prefect: Prefect reads ``PREFECT_API_URL`` when it is imported."""
    if os.environ.get("PREFECT_API_URL") or "prefect" in sys.modules:
        return None  # a server is configured, or Prefect already read its settings (it starts its own)
    log_path = Path(home) / "temporary-api.log"
    env = {**os.environ, "PREFECT_UI_ENABLED": "0"}
    for _ in range(_ATTEMPTS):
        port = _free_port()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "alphaplus.cli.temporary_api", str(port), str(os.getpid())],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if _healthy(port):
                atexit.register(_stop, process)
                url = f"http://127.0.0.1:{port}/api"
                os.environ["PREFECT_API_URL"] = url
                return url
            time.sleep(0.2)
        _stop(process)
        if time.monotonic() >= deadline:
            break  # a slow start, not a port taken in between: trying again would not help
    tail = log_path.read_text(errors="replace")[-500:].strip().splitlines()[-1:] if log_path.exists() else []
    raise ConfigurationError(
        f"the temporary Prefect API did not start within {timeout:.0f} s"
        + (f": {tail[0]}" if tail else "") + f" (log: {log_path}); or set PREFECT_API_URL to a running server"
    )


def _die_with(parent: int) -> None:
    """End this process when ``parent`` ends: PR_SET_PDEATHSIG where the kernel has it, and a watchdog."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog below does it

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10.0)  # a graceful shutdown that hangs is cut short
        os._exit(1)

    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)
    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _serve(port: int, parent: int) -> None:
    _die_with(parent)
    import uvicorn
    from prefect.server.api.server import create_app

    uvicorn.run(create_app(ephemeral=True, final=True), host="127.0.0.1", port=port, log_level="error",
                lifespan="on")


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
