"""The command line against hostile input and hostile stored text: a superuser login refused, input
checked at the boundary, stored text printed inert, and every mistake one line instead of a traceback."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from alphaplus.cli.main import main

ESC_CLEAR = "\x1b[2J\x1b[H"


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err[:2000]
    assert len(lines[0]) < 1200, f"an error line of {len(lines[0])} characters"
    return lines[0]


# --- 1. a superuser login for day-to-day work -------------------------------------------------------------


def test_day_to_day_commands_refuse_a_superuser_login_and_set_up_commands_do_not(run_child, monkeypatch):
    monkeypatch.setenv("ALPHAPLUS_SUPERUSER_LOGIN", "refuse")
    refused = run_child("versions", "list")
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: permission denied: the database login 'postgres' is a superuser, and day-to-day "
                           "commands refuse it"), line
    assert run_child("db", "status").returncode == 0  # set-up and inspection of the schema: a superuser's job
    monkeypatch.setenv("ALPHAPLUS_SUPERUSER_LOGIN", "warn")
    warned = run_child("versions", "list", "--limit", "1")
    assert warned.returncode == 0
    assert warned.stderr.strip().startswith("warning: the database login 'postgres' is a superuser"), warned.stderr


# --- 11. input is checked at the boundary ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--symbol", ""], "symbol must not be empty"),
        (["train", "--symbol", "S" * 100_000], "is too long"),
        (["train", "--symbol", "BTC/USDT"], "is not a valid name"),
        (["data", "synth", "--symbol", "../../../../etc/passwd", "--bars", "10"], "is not a valid name"),
        (["quarantine", "data", "h" * 100_000, "--reason", "x"], "is not a hash"),
        (["quarantine", "data", "xxh3_128:\u202e" + "0" * 32, "--reason", "x"], "is not a hash"),
        (["quarantine", "data", "\x1b[2J\nxxh3_128:00", "--reason", "x"], "is not a hash"),
        (["rollback", "m", "--regime", "trending", "--symbol", "BTCUSDT", "--reason", "r" * 1_000_000],
         "reason is 1000000 characters long"),
        (["rollback", "m", "--regime", "trending", "--symbol", "BTCUSDT", "--reason", "ok" + ESC_CLEAR],
         "control or invisible character U+001B"),
    ],
    ids=["empty-symbol", "100k-symbol", "slash-symbol", "path-symbol", "100k-hash", "rtl-hash", "escape-hash",
         "megabyte-reason", "escape-reason"],
)
def test_hostile_input_is_refused_with_one_short_line(cli_env, capsys, argv, message):
    assert main(argv) == 1
    line = one_line(capsys)
    assert message in line and "\x1b" not in line and "\u202e" not in line


# --- 12. stored text cannot act on the terminal ----------------------------------------------------------------


async def test_reasons_holding_escape_sequences_or_markup_print_inert(cli_env, served_slot, database_url, model_name,
                                                                     capsys):
    # Rows written before the input limits existed (the limits' triggers off, as a restore would).
    hostile = f"{ESC_CLEAR}[/bold]\u202egnirut\nline two"
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                "INSERT INTO rollback_events (model_name, regime, symbol, rollback_type, rollback_reason, actor) "
                "VALUES ($1, 'trending', 'BTCUSDT', 'manual', $2, 'legacy')", model_name, hostile)
            await conn.execute(
                "INSERT INTO lifecycle_audit (event, model_name, regime, symbol, to_version, reason, actor) "
                "VALUES ('production_moved', $1, 'trending', 'BTCUSDT', 1, $2, 'legacy')", model_name, hostile)
    finally:
        await conn.close()
    for argv in (["rollbacks", "list", "--model", model_name], ["history", model_name, "-r", "trending",
                                                                 "-s", "BTCUSDT"]):
        capsys.readouterr()
        assert await asyncio.to_thread(main, argv) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\u202e" not in out, argv
        assert "\\x1b[2J" in out and "[/bold]" in out and "\\u202e" in out, argv


def test_an_unknown_hundred_kilobyte_name_is_not_echoed_back(cli_env, capsys):
    assert main(["history", "m" * 100_000, "-r", "trending", "-s", "BTCUSDT"]) == 1
    assert "(100000 characters)" in one_line(capsys)


# --- 13. one line, never a traceback ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "synth", "--symbol", "X", "--bars", "99999999999999999999"], "--bars must be at least 1 and at most"),
        (["data", "synth", "--symbol", "X", "--bars", "2147483648"], "--bars must be at least 1 and at most"),
        (["promote", "{model}", "2147483648", "--regime", "trending", "--symbol", "BTCUSDT"],
         "beyond the largest version number"),
        (["rollback", "{model}", "--regime", "trending", "--symbol", "BTCUSDT", "--to", "2147483648", "--reason", "x"],
         "beyond the largest version number"),
        (["promote", "{model}", "3", "--regime", "trending", "--symbol", "BTCUSDT"],
         "cannot be scored by the gate: its recorded training config or feature set lacks 'horizon'"),
    ],
    ids=["huge-bars", "int4-bars", "int4-version", "int4-rollback-target", "no-training-config"],
)
def test_mistakes_that_once_ended_in_a_traceback_end_in_one_line(cli_env, served_slot, model_name, capsys, argv,
                                                                 message):
    assert main([a.format(model=model_name) for a in argv]) == 1
    assert message in one_line(capsys)


def test_a_malformed_setting_is_one_line_naming_the_variable(run_child, monkeypatch):
    monkeypatch.setenv("ALPHAPLUS_POOL_MAX_SIZE", "abc")
    result = run_child("versions", "list")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: bad setting in the environment: ALPHAPLUS_POOL_MAX_SIZE:"), line
