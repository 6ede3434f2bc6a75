"""The import rules of the layout, read from the source itself (every import statement, including those
inside functions): pure modules stay pure, ``db/`` depends on ``alphaplus.core`` alone, and the
orchestration layers point one way (flows -> tasks -> features -> db)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("alphaplus", "db", "tasks", "flows")
IO_PACKAGES = ("db", "asyncpg", "prefect")

# The modules of the feature folders that talk to the database (each opens or is handed a pool, or runs
# a flow's I/O); every other module of alphaplus/ is pure. The command line (alphaplus.cli) is the
# composition root: it builds services from settings and runs flows, so it may import anything.
IO_MODULES = {
    "alphaplus.registry.service": "the registry: versions, pointers, artifacts",
    "alphaplus.market.source_service": "reads candles from the configured source (table, user table, folder)",
    "alphaplus.rollback.service": "assessment of every production slot",
    "alphaplus.rollback.execution": "the rollback service's pointer moves (its base class)",
    "alphaplus.rollback.quarantine": "quarantine that rolls back what it covers, in one transaction",
    "alphaplus.monitoring.service": "outcome resolution into performance windows",
    "alphaplus.inference.engine": "the engine embedded in trading processes",
    "alphaplus.inference.sync": "the engine's synchronous wrapper (its own loop and pool)",
    "alphaplus.inference.versions": "which version serves each slot, kept fresh by LISTEN",
    "alphaplus.ui.service": "the dashboard's reads",
    "alphaplus.ui.app": "the dashboard's web application (opens its pool)",
}
COMPOSITION_ROOT = "alphaplus.cli"
# The lifecycle replay drives the production steps on a simulated clock: these modules call the retrain
# flow's task bodies and open the scratch database, as a flow would; its plan, policies, metrics and
# report stay pure.
REPLAY_DRIVERS = {"alphaplus.replay.runner", "alphaplus.replay.steps", "alphaplus.replay.service",
                  "alphaplus.replay.scratch"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every absolute module an import statement of ``path`` names (``from a.b import c`` gives a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def source_imports() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))}


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(graph: dict[str, set[str]]) -> list[str]:
    """One line per import that breaks a rule of the layout."""
    found = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            layer, to = _top(module), _top(target)
            if layer == "db" and to == "alphaplus" and not _within(target, "alphaplus.core"):
                found.append(f"{module} imports {target}: db/ may use alphaplus.core only")
            elif layer == "tasks" and to == "flows":
                found.append(f"{module} imports {target}: tasks never import flows")
            elif layer != "alphaplus" or _within(module, COMPOSITION_ROOT) or module in REPLAY_DRIVERS:
                continue
            elif to in ("tasks", "flows"):
                found.append(f"{module} imports {target}: features never import the orchestration layers")
            elif _within(module, "alphaplus.core") and to == "alphaplus" and not _within(target, "alphaplus.core"):
                found.append(f"{module} imports {target}: core depends on no feature")
            elif to in IO_PACKAGES and module not in IO_MODULES:
                found.append(f"{module} imports {target}: a pure module (not one of IO_MODULES)")
    return found


def test_every_module_keeps_the_import_rules_of_the_layout():
    assert violations(source_imports()) == []


def test_every_declared_io_module_exists_and_does_io():
    graph = source_imports()
    assert REPLAY_DRIVERS <= graph.keys()
    idle = [m for m in IO_MODULES if m not in graph or not any(_top(t) in IO_PACKAGES for t in graph[m])]
    assert idle == [], "declared as talking to the database but missing or pure: " + ", ".join(idle)


@pytest.mark.parametrize("module, target", [
    ("db.performance", "alphaplus.monitoring.outcomes"),
    ("tasks.training", "flows.retrain"),
    ("alphaplus.ml.features", "db.candles"),
    ("alphaplus.promotion.gate", "asyncpg"),
    ("alphaplus.core.settings", "alphaplus.ml.features"),
    ("alphaplus.rollback.policy", "flows.rollback"),
])
def test_a_planted_violation_is_named(module, target):
    [line] = violations({module: {target}})
    assert line.startswith(f"{module} imports {target}: ")


def test_the_composition_root_and_declared_io_modules_may_use_the_database():
    assert violations({"alphaplus.cli.train": {"db.pool", "flows.retrain"},
                       "alphaplus.registry.service": {"db.registry"}, "db.registry": {"alphaplus.core.entities"}}) == []
