"""Commands that run flows (``train``, ``demo``) end a user-level failure in one line and a non-zero
exit, with Prefect's logs only under --verbose; an unexpected failure (a bug) still shows its traceback.
Each runs in a child process, as a user's shell runs it."""

from __future__ import annotations

import pytest

from alphaplus.cli.main import main
from tests.market_shapes import market_candles

# The child breaks one step of training, as a bug would, then runs the CLI (the module patched imports no
# Prefect: the CLI configures its logging first, as in a real run).
_BROKEN = """
import sys
import {module} as target
def broken(*args, **kwargs):
    raise RuntimeError("boom in {name}")
target.{name} = broken
from alphaplus.cli.main import main
sys.exit(main({argv!r}))
"""


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _importable(symbol: str, tmp_path) -> None:
    path = tmp_path / "btc.csv"
    market_candles("24/7", "2024-01-01", "2024-02-15", "1h", seed=3).to_csv(path, index=False)
    assert main(["data", "import", str(path), "-s", symbol, "-t", "1h"]) == 0


def test_train_shows_the_traceback_of_a_slot_failing_for_an_unexpected_reason(cli_env, symbol, tmp_path, run_child):
    _importable(symbol, tmp_path)
    argv = ["train", "--symbol", symbol, "--regime", "trending", "--no-promote"]
    done = run_child(code=_BROKEN.format(module="alphaplus.ml.pipeline", name="prepare_dataset", argv=argv))
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "RuntimeError: boom in prepare_dataset" in done.stderr
    assert f"slot {symbol}/trending failed unexpectedly" in done.stderr
    assert _lines(done.stderr)[-1].startswith("error: 1 of 1 slots failed")


def test_train_shows_the_traceback_of_a_run_failing_for_an_unexpected_reason(cli_env, symbol, tmp_path, run_child):
    _importable(symbol, tmp_path)
    argv = ["train", "--symbol", symbol, "--regime", "trending", "--no-promote"]
    done = run_child(code=_BROKEN.format(module="alphaplus.ml.quality", name="validate_candles", argv=argv))
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "RuntimeError: boom in validate_candles" in done.stderr
    assert _lines(done.stderr)[-1] == ("error: unexpected RuntimeError: boom in validate_candles "
                                       "(this is a bug; its traceback is above)")


@pytest.fixture
async def own_database(cli_env, make_database, monkeypatch):
    """A database of its own for a child that writes the demo's market data (BTCUSDT, ETHUSDT)."""
    monkeypatch.setenv("ALPHAPLUS_DATABASE_URL", await make_database("alphaplus_demo"))


def test_demo_ends_a_user_level_failure_in_one_line_and_shows_the_logs_only_when_verbose(own_database, run_child):
    quiet = run_child("demo", "--model", "no spaces allowed")
    assert quiet.returncode == 1, quiet.stderr
    assert _lines(quiet.stderr) == [_lines(quiet.stderr)[0]] and "is not a valid name" in quiet.stderr
    assert "Traceback" not in quiet.stdout + quiet.stderr

    verbose = run_child("demo", "--model", "no spaces allowed", "--verbose")
    assert verbose.returncode == 1
    logs = verbose.stdout + verbose.stderr
    assert "Finished in state Failed" in logs
    assert any(line.startswith("error: model name") for line in _lines(verbose.stderr))


def test_train_refuses_an_unknown_candle_source_before_running_anything(cli_env, capsys):
    assert main(["train", "--symbol", "EURUSD", "--source", "s3"]) == 1
    err = capsys.readouterr().err
    assert _lines(err) == ["error: unknown candle source 's3'; choose candles, table or folder"]
