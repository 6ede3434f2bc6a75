"""The rollback commands of the ``alphaplus`` CLI on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alphaplus.cli.main import main
from alphaplus.core.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(monkeypatch, settings):
    monkeypatch.setenv("ALPHAPLUS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ALPHAPLUS_HOME", str(settings.home))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


@pytest.fixture
async def served_slot(registry, register, model_name):
    """v1 then v2 promoted in the slot (model, trending, BTCUSDT)."""
    versions = [await register(model_name) for _ in range(2)]
    for v in versions:
        await registry.promote(model_name, v.version, reason="test promotion")
    return versions


def test_every_rollback_command_has_help_text(capsys):
    for argv in (["assess", "--help"], ["rollback", "--help"], ["rollbacks", "list", "--help"]):
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Assess production slots" in out and "Roll a slot back" in out and "List rollback events" in out


def test_rollback_by_hand_then_list_it_with_its_reason(cli_env, served_slot, model_name, capsys):
    v1, v2 = served_slot
    base = ["rollback", model_name, "--regime", "trending", "--symbol", "BTCUSDT", "--reason", "bad fills"]
    assert main([*base, "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["outcome"], plan["to_version"]) == ("dry_run", v1.version)
    assert main(base) == 0
    assert f"version {v2.version} -> {v1.version}" in capsys.readouterr().out
    assert main(["rollbacks", "list", "--model", model_name, "--json"]) == 0
    [event] = json.loads(capsys.readouterr().out)
    assert (event["rollback_reason"], event["outcome"], event["from_version"]) == ("bad fills", "executed", v2.version)
    assert main(["assess", "--model", model_name, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["version"], row["outcome"]) == (v1.version, "no_new_data")


@pytest.mark.parametrize(
    "args, message",
    [
        (["rollback", "no_such_model", "--regime", "trending", "--symbol", "BTCUSDT", "--reason", "x"],
         "is not registered"),
        (["rollback", "{model}", "--regime", "ranging", "--symbol", "BTCUSDT", "--reason", "x"],
         "has no production version"),
        (["rollback", "{model}", "--regime", "trending", "--symbol", "BTCUSDT", "--to", "99", "--reason", "x"],
         "does not exist"),
        (["rollback", "{model}", "--regime", "trending", "--symbol", "BTCUSDT", "--to", "2", "--reason", "x"],
         "is the production version now"),
    ],
)
def test_user_mistakes_end_in_one_line_and_exit_code_1(cli_env, served_slot, model_name, capsys, args, message):
    assert main([a.format(model=model_name) for a in args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_no_safe_candidate_is_an_error_and_is_recorded(cli_env, served_slot, model_name, capsys):
    import asyncio

    v1, _ = served_slot
    asyncio.run(_mark_failed(cli_env, model_name, v1.version))
    assert main(["rollback", model_name, "-r", "trending", "-s", "BTCUSDT", "--reason", "x"]) == 1
    err = capsys.readouterr().err
    assert "no version of" in err and f"version {v1.version}: it is marked failed" in err
    assert main(["rollbacks", "list", "-m", model_name, "--json"]) == 0
    assert [e["outcome"] for e in json.loads(capsys.readouterr().out)] == ["no_safe_candidate"]


async def _mark_failed(settings, model_name, version):
    from alphaplus.registry.service import Registry
    from db.pool import close_pools

    try:
        await (await Registry.open(settings)).mark_failed(model_name, version, reason="broken")
    finally:
        await close_pools()


def test_reading_rollback_history_imports_no_prefect_lightgbm_or_great_expectations(cli_env):
    code = (
        "import sys\n"
        "from alphaplus.cli.main import main\n"
        "assert main(['rollbacks', 'list', '--json']) == 0\n"
        "print(sorted(m for m in ('prefect', 'lightgbm', 'great_expectations') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture
async def pool(settings):
    from db.pool import get_pool

    return await get_pool(settings.database_url, settings)


async def test_assess_shows_the_evidence_and_raises_a_market_shift(cli_env, registry, model_name, pool, capsys):
    import asyncio
    from datetime import UTC, datetime, timedelta

    from tests.db.conftest import make_lineage
    from tests.db.live_windows import HOLDOUT, HOUR, write_window

    served = {}
    for regime in ("trending", "ranging"):
        for i in range(2):
            reg = await registry.register_model_version(
                make_lineage(model_name, regime=regime), model={"w": f"{regime}{i}"},
                training_metrics={"holdout": HOLDOUT})
            await registry.promote(model_name, reg.version.version, reason="test promotion")
            served[regime] = reg.version
    t = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    for _ in range(3):
        for v in served.values():
            await write_window(pool, v, start=t, acc=0.30)
        t += HOUR
        assert await asyncio.to_thread(main, ["assess", "--model", model_name, "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in rows} == {"triggered_pending"}
    assert {(r["n"], round(r["n_effective"])) for r in rows} == {(360, 51)}  # 360 rows at design effect 7
    for v in served.values():
        await write_window(pool, v, start=t, acc=0.30)
    assert await asyncio.to_thread(main, ["assess", "--model", model_name, "--wide"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "rollback of version" in out and "withheld" in out and "(~69" in out
    assert "2 of 2 tested production slots of BTCUSDT lost their edge" in out
