"""`alphaplus ui` and `alphaplus history --url` on the command line: stable links, one-line errors,
and read commands that never load the web stack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from alphaplus.ui.links import slot_path
from tests.ui.conftest import HOSTILE_SYMBOL

ROOT = Path(__file__).resolve().parents[2]
WEB_STACK = ("fastapi", "starlette", "uvicorn", "jinja2")


def alphaplus(*args: str, env: dict[str, str], code: str | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "alphaplus", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)})


def cli_env(settings, **more: str) -> dict[str, str]:
    return {"ALPHAPLUS_DATABASE_URL": settings.database_url, "ALPHAPLUS_HOME": str(settings.home), **more}


def test_history_url_prints_the_slots_stable_dashboard_link(settings, seeded):
    done = alphaplus("history", seeded.hostile, "--regime", "trending", "--symbol", HOSTILE_SYMBOL,
                     "--url", env=cli_env(settings, ALPHAPLUS_UI_URL="https://dash.example/alphaplus/"))
    assert done.returncode == 0, done.stderr
    expected = "https://dash.example/alphaplus" + slot_path(seeded.hostile, "trending", HOSTILE_SYMBOL)
    assert done.stdout.strip() == expected


def test_history_url_of_an_unknown_slot_is_one_line_on_stderr(settings, seeded):
    done = alphaplus("history", seeded.model, "--regime", "trending", "--symbol", "NOPE", "--url",
                     env=cli_env(settings))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1 and "NOPE" in done.stderr


def test_ui_refuses_a_port_in_use_with_one_line(settings):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = alphaplus("ui", "--port", str(port), env=cli_env(settings))
    assert done.returncode == 1
    assert done.stderr == f"error: port {port} on 127.0.0.1 is in use; choose another with --port\n"


def test_ui_refuses_a_port_out_of_range(settings):
    done = alphaplus("ui", "--port", "70000", env=cli_env(settings))
    assert done.returncode == 1 and done.stderr == "error: --port must be between 1 and 65535, not 70000\n"


def test_ui_without_a_database_says_so_in_one_line(settings):
    from tests.db.test_security import closed_port

    from tests.ui.browser import free_port

    url = f"postgresql://nobody:s3cret-pw@127.0.0.1:{closed_port()}/none"
    done = alphaplus("ui", "--port", str(free_port()), env=cli_env(settings, ALPHAPLUS_UI_DATABASE_URL=url))
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot connect to") and "s3cret-pw" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_read_commands_do_not_load_the_web_stack(settings, seeded):
    code = (
        "import sys\n"
        "from alphaplus.cli.main import main\n"
        f"for argv in (['versions', 'list', '--model', {seeded.model!r}, '--json'], ['ui', '--help'],\n"
        f"             ['history', {seeded.model!r}, '-r', 'trending', '-s', 'BTCUSDT', '--url']):\n"
        "    assert main(argv) == 0, argv\n"
        f"print('LOADED', sorted(m for m in {WEB_STACK!r} if m in sys.modules))\n"
    )
    done = alphaplus(code=code, env=cli_env(settings))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"
