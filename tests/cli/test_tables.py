"""Read commands at 80 and 160 columns: rows stay on one line, columns chosen to fit, --wide shows all."""

from __future__ import annotations

import pytest

from alphaplus.cli import common
from alphaplus.cli.main import main
from alphaplus.cli.tables import Column, fitting, table


def _render(monkeypatch, capsys, width: int, *args: str) -> list[str]:
    monkeypatch.setattr(common.console, "width", width)
    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("width", [80, 160])
def test_versions_list_fits_the_terminal_with_one_line_per_version(cli_env, served_slot, model_name,
                                                                     monkeypatch, capsys, width):
    lines = _render(monkeypatch, capsys, width, "versions", "list", "--model", model_name)
    assert max(len(line) for line in lines) <= width
    for v in served_slot:
        assert sum(f" {v.version} " in line and model_name[:10] in line for line in lines) == 1, lines
    header = next(line for line in lines if "version" in line and "status" in line)
    assert ("validation metrics" in header) == (width == 160)
    assert any("more column(s) with --wide" in line for line in lines) == (width == 80)


def test_wide_shows_every_column_whatever_the_width(cli_env, served_slot, model_name, monkeypatch, capsys):
    lines = _render(monkeypatch, capsys, 80, "versions", "list", "--model", model_name, "--wide")
    # Every column is there (cells wrap instead): the validation metrics and the creation times.
    text = "\n".join(lines)
    assert "metrics" in text and "f1=" in text and "created" in text
    assert not any("more column(s) with --wide" in line for line in lines)


@pytest.mark.parametrize("args", [["rollbacks", "list"], ["history", "{model}", "-r", "trending", "-s", "BTCUSDT"]])
def test_history_and_rollbacks_fit_80_columns(cli_env, served_slot, model_name, monkeypatch, capsys, args):
    lines = _render(monkeypatch, capsys, 80, *[a.format(model=model_name) for a in args])
    assert max(len(line) for line in lines) <= 80


def test_control_characters_and_markup_in_stored_text_are_shown_as_text_never_acted_on():
    from rich.console import Console

    console = Console(width=120, record=True, color_system=None)
    console.print(table([Column("reason")], [["fills\x1b[2J got [bold]worse\u202e"]], width=120))
    out = console.export_text()
    assert "fills\\x1b[2J got [bold]worse\\u202e" in out and "\x1b" not in out


def test_columns_are_kept_by_rank_and_shown_in_their_own_order():
    columns = [Column("a", 1), Column("b", 0), Column("c", 2), Column("d", 0)]
    rows = [["x" * 10, "y" * 10, "z" * 10, "w" * 10]]
    assert fitting(columns, rows, 40) == [0, 1, 3]  # b, d, then a; c no longer fits
    assert fitting(columns, rows, 20) == [1]
