"""The whole ``alphaplus`` command tree: help text everywhere, every command in the README, and read
commands that start without loading prefect, lightgbm, great_expectations or matplotlib."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from alphaplus.cli.main import app, main

README = Path(__file__).resolve().parents[2] / "README.md"
HEAVY_MODULES = ("prefect", "lightgbm", "great_expectations", "matplotlib")


def _walk(group, prefix: tuple[str, ...] = ()):
    # Typer ships its own click: a group is whatever has sub-commands.
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path, command
        if getattr(command, "commands", None) is not None:
            yield from _walk(command, path)


COMMANDS = list(_walk(typer.main.get_command(app)))
LEAVES = [" ".join(path) for path, c in COMMANDS if getattr(c, "commands", None) is None]


def _command_line_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Command line")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_the_tree_holds_the_operator_commands():
    for expected in ("data import", "data synth", "data show", "models list", "versions list", "versions show",
                     "versions lineage", "history", "usage", "quarantine data", "quarantine version", "report"):
        assert expected in LEAVES


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_text(path):
    command = dict((" ".join(p), c) for p, c in COMMANDS)[path]
    assert (command.help or command.short_help or "").strip(), f"`alphaplus {path}` has no help text"


@pytest.mark.parametrize("path", LEAVES)
def test_every_command_is_listed_in_the_readme_command_line_section(path):
    pattern = rf"`alphaplus {re.escape(path)}(?![\w-])"
    assert re.search(pattern, _command_line_section()), f"`alphaplus {path}` is missing from README.md"


def test_help_of_a_read_command_prints_its_options(capsys):
    assert main(["versions", "list", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--status" in out and "--json" in out


_READS = [
    ["models", "list", "--json"],
    ["versions", "list", "--help"],
    ["versions", "list", "--model", "{model}", "--json"],
    ["versions", "show", "{model}", "1", "--json"],
    ["versions", "lineage", "{model}", "1", "--json"],
    ["history", "{model}", "-r", "trending", "-s", "BTCUSDT", "--json"],
    ["usage", "{model}", "--json"],
    ["data", "show", "--json"],
]


def test_read_commands_import_no_prefect_lightgbm_great_expectations_or_matplotlib(run_child, served_slot,
                                                                                  model_name):
    reads = [[a.format(model=model_name) for a in argv] for argv in _READS]
    code = (
        "import sys\n"
        "from alphaplus.cli.main import main\n"
        f"for argv in {reads!r}:\n"
        "    assert main(argv) == 0, argv\n"
        f"print('LOADED', sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    done = run_child(code=code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"
