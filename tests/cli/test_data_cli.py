"""``alphaplus data``: importing files, generating candles, showing what is stored (real database)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from alphaplus.cli.main import main
from alphaplus.market.synth import synth_candles


def _show(symbol, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["data", "show", "--symbol", symbol, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, captured.err
    return err


def test_importing_a_small_csv_stores_its_bars_and_show_lists_them(cli_env, symbol, tmp_path, capsys):
    frame = synth_candles(48, seed=1)
    # A user's file: other column names, epoch milliseconds, rows not in order.
    raw = pd.DataFrame({"timestamp": frame["ts"].astype("int64") // 1_000_000, "Open": frame["open"],
                        "High": frame["high"], "Low": frame["low"], "Close": frame["close"],
                        "Volume": frame["volume"]}).iloc[::-1]
    path = tmp_path / "btc.csv"
    raw.to_csv(path, index=False)
    assert main(["data", "import", str(path), "--symbol", symbol, "--timeframe", "1h"]) == 0
    assert f"imported 48 candles of {symbol} 1h" in capsys.readouterr().out
    [row] = _show(symbol, capsys)
    assert (row["timeframe"], row["bars"]) == ("1h", 48)
    assert pd.Timestamp(row["first"]) == frame["ts"].iloc[0] and pd.Timestamp(row["last"]) == frame["ts"].iloc[-1]


def test_importing_the_same_file_twice_replaces_bars_instead_of_adding_them(cli_env, symbol, tmp_path, capsys):
    path = tmp_path / "c.csv"
    synth_candles(30, seed=2).to_csv(path, index=False)
    for _ in range(2):
        assert main(["data", "import", str(path), "-s", symbol, "-t", "1H", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["written"] == 30
    assert [r["bars"] for r in _show(symbol, capsys)] == [30]


def test_an_insane_row_is_named_and_nothing_of_the_file_is_imported(cli_env, symbol, tmp_path, capsys):
    frame = synth_candles(20, seed=3)
    frame.loc[6, "high"] = frame.loc[6, "low"] / 2
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    assert main(["data", "import", str(path), "-s", symbol, "-t", "1h"]) == 1
    err = _one_line_error(capsys)
    assert "row 7, column" in err and "bad.csv" in err
    assert _show(symbol, capsys) == []


def test_synth_writes_the_same_candles_for_the_same_seed(cli_env, symbol, capsys):
    args = ["data", "synth", "--symbol", symbol, "--bars", "120", "--seed", "5", "--start", "2023-06-01", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == first
    [row] = _show(symbol, capsys)
    assert row["bars"] == 120 and row["first"].startswith("2023-06-01")


def test_synth_without_a_seed_gives_each_symbol_its_own_candles_and_each_run_the_same(cli_env, tmp_path, capsys):
    def closes(symbol: str, name: str) -> pd.Series:
        out = tmp_path / name
        assert main(["data", "synth", "--symbol", symbol, "--bars", "300", "--out", str(out), "--json"]) == 0
        return pd.read_csv(out)["close"]

    btc, eth, btc_again = closes("BTCUSDT", "btc.csv"), closes("ETHUSDT", "eth.csv"), closes("BTCUSDT", "again.csv")
    assert (btc != eth).mean() > 0.99
    assert btc.equals(btc_again)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_synth_to_a_file_writes_candles_that_import_reads_back(cli_env, symbol, tmp_path, capsys, suffix):
    out = tmp_path / f"s{suffix}"
    assert main(["data", "synth", "-s", symbol, "-n", "40", "--dynamics", "shifted", "-t", "15m",
                 "--out", str(out)]) == 0
    assert _show(symbol, capsys) == [], "--out must not write to the database"
    assert main(["data", "import", str(out), "-s", symbol, "-t", "15m"]) == 0
    [row] = _show(symbol, capsys)
    assert (row["timeframe"], row["bars"]) == ("15m", 40)


def test_a_long_file_is_imported_with_a_progress_bar_in_one_piece(cli_env, symbol, tmp_path, capsys):
    path = tmp_path / "long.parquet"
    synth_candles(60_000, seed=4, timeframe="1m").to_parquet(path)
    assert main(["data", "import", str(path), "-s", symbol, "-t", "1m"]) == 0
    assert "imported 60000 candles" in capsys.readouterr().out
    assert [r["bars"] for r in _show(symbol, capsys)] == [60_000]


def test_show_without_candles_says_so(cli_env, symbol, capsys):
    assert main(["data", "show", "--symbol", symbol]) == 0
    assert f"no candles of {symbol} stored" in capsys.readouterr().out


def _write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda p: ["data", "import", str(p / "missing.csv"), "-s", "X", "-t", "1h"], "does not exist"),
        (lambda p: ["data", "import", str(_write(p, "one.csv", "a\n1\n2\n")), "-s", "X", "-t", "1h"],
         "single column"),
        (lambda p: ["data", "import", str(_write(p, "bin.csv", b"\x00\x01\x02garbage")), "-s", "X", "-t", "1h"],
         "binary"),
        (lambda p: ["data", "import", str(_write(p, "txt.csv", "ts,open,high,low,close,volume\n"
                                                  "2024-01-01,1,2,0.5,oops,3\n")), "-s", "X", "-t", "1h"],
         "non-numeric value 'oops'"),
        (lambda p: ["data", "import", str(_write(p, "nocol.csv", "ts,open,high,low,close\n2024-01-01,1,2,0.5,1\n")),
                    "-s", "X", "-t", "1h"], "missing column(s) volume"),
        (lambda p: ["data", "import", str(_write(p, "dup.csv", "ts,open,high,low,close,volume\n"
                                                  "2024-01-01,1,2,0.5,1,3\n2024-01-01,1,2,0.5,1,3\n")),
                    "-s", "X", "-t", "1h"], "row 2, column ts"),
        (lambda p: ["data", "import", str(_write(p, "ok.csv", "ts,open,high,low,close,volume\n"
                                                  "2024-01-01,1,2,0.5,1,3\n")), "-s", "X", "-t", "hourly"],
         "unknown timeframe"),
        (lambda p: ["data", "synth", "-s", "X", "--bars", "0"], "--bars must be at least 1"),
        (lambda p: ["data", "synth", "-s", "X", "-n", "5", "--dynamics", "wild"], "unknown dynamics 'wild'"),
        (lambda p: ["data", "synth", "-s", "X", "-n", "5", "--out", str(p / "x.json")], "must end in .csv or .parquet"),
        (lambda p: ["data", "synth", "-s", "X", "-n", "5", "--out", str(p / "no" / "x.csv")], "does not exist"),
        (lambda p: ["data", "synth", "-s", "X", "-n", "5", "--start", "yesterday-ish"], "is not a date"),
    ],
)
def test_data_mistakes_end_in_one_line_and_a_nonzero_exit(cli_env, tmp_path, capsys, make_args, message):
    assert main(make_args(tmp_path)) != 0
    assert message in _one_line_error(capsys)


def test_a_malformed_file_fails_in_a_child_process_with_one_line_and_no_traceback(run_child, tmp_path):
    path = _write(tmp_path, "bad.csv", "ts,open,high,low,close,volume\n2024-01-01,1,2,-1,1,3\n")
    done = run_child("data", "import", str(path), "--symbol", "X", "--timeframe", "1h")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: candle file bad.csv: row 1, column low: -1.0 is not a positive price"]
