"""``alphaplus symbols`` and calendars at import: stored in the database, shown by ``data show``."""

from __future__ import annotations

import json

from alphaplus.cli.main import main
from tests.market_shapes import market_candles


def _json(capsys, *args) -> object:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_symbol_without_a_calendar_trades_around_the_clock(cli_env, symbol, tmp_path, capsys):
    path = tmp_path / "btc.csv"
    market_candles("24/7", "2024-01-01", "2024-01-03", "1h").to_csv(path, index=False)
    assert main(["data", "import", str(path), "-s", symbol, "-t", "1h"]) == 0
    [row] = _json(capsys, "data", "show", "-s", symbol)
    assert row["calendar"] == "24/7"


def test_import_with_a_calendar_records_it_and_show_and_list_name_it(cli_env, symbol, tmp_path, capsys):
    path = tmp_path / "eurusd.csv"
    market_candles("24/5", "2024-06-03", "2024-06-17", "1h").to_csv(path, index=False)
    assert main(["data", "import", str(path), "-s", symbol, "-t", "1h", "--calendar", "24/5"]) == 0
    assert "on calendar 24/5" in capsys.readouterr().out
    [row] = _json(capsys, "data", "show", "-s", symbol)
    assert row["calendar"] == "24/5"
    listed = {r["symbol"]: r for r in _json(capsys, "symbols", "list")}
    assert listed[symbol]["calendar"] == "24/5" and listed[symbol]["bars"] == row["bars"]


def test_symbols_set_changes_the_calendar_and_the_next_import_is_judged_by_it(cli_env, symbol, tmp_path, capsys):
    assert main(["symbols", "set", symbol, "--calendar", "xnys"]) == 0
    assert f"{symbol} trades on calendar XNYS" in capsys.readouterr().out
    path = tmp_path / "fx.csv"
    market_candles("24/5", "2024-06-03", "2024-06-10", "1h").to_csv(path, index=False)
    assert main(["data", "import", str(path), "-s", symbol, "-t", "1h"]) == 1
    err = capsys.readouterr().err.strip()
    assert "calendar XNYS expects no 1h bar" in err and "\n" not in err
    assert _json(capsys, "data", "show", "-s", symbol) == []


def test_an_unknown_calendar_is_one_line_and_stores_nothing(cli_env, symbol, tmp_path, capsys):
    path = tmp_path / "x.csv"
    market_candles("24/7", "2024-01-01", "2024-01-02", "1h").to_csv(path, index=False)
    assert main(["data", "import", str(path), "-s", symbol, "-t", "1h", "--calendar", "MOON"]) == 1
    assert "unknown calendar" in capsys.readouterr().err
    assert main(["symbols", "set", symbol, "--calendar", "MOON"]) == 1
    assert _json(capsys, "data", "show", "-s", symbol) == []
    assert symbol not in {r["symbol"] for r in _json(capsys, "symbols", "list")}


def test_symbols_list_fits_eighty_columns(cli_env, symbol, capsys, monkeypatch):
    from alphaplus.cli import common

    assert main(["symbols", "set", symbol, "--calendar", "24/5"]) == 0
    monkeypatch.setattr(common.console, "width", 80)
    capsys.readouterr()
    assert main(["symbols", "list"]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 80


def test_a_train_failing_on_data_quality_ends_in_one_line_with_the_fix_and_no_traceback(cli_env, symbol, tmp_path,
                                                                                        capsys, run_child,
                                                                                        monkeypatch):
    # As under `make test`, which exports a Prefect log level of its own for its processes.
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "WARNING")
    path = tmp_path / "fx.csv"
    market_candles("24/5", "2024-01-01", "2024-03-01", "1h").to_csv(path, index=False)
    assert main(["data", "import", str(path), "-s", symbol, "-t", "1h", "--calendar", "24/5"]) == 0
    assert main(["symbols", "set", symbol, "--calendar", "24/7"]) == 0
    done = run_child("train", "--symbol", symbol, "--regime", "trending", "--no-promote")
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert f"symbols set {symbol} --calendar 24/5" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr
