"""prefect.yaml, the README and the failure hook agree on how a failed run is undone."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _rollback_trigger() -> dict:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [deployment] = [d for d in config["deployments"] if d["name"] == "rollback"]
    [trigger] = deployment["triggers"]
    return trigger


def test_the_readme_lists_exactly_the_parameters_the_rollback_automation_passes():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("**Automatic rollback on failure.**"):]
    table = section[:section.index("\n\n", section.index("| parameter |"))]
    documented = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert documented == list(_rollback_trigger()["parameters"])


def test_the_failure_hook_stands_aside_for_exactly_the_flows_the_automation_covers():
    from flows.hooks import AUTOMATED_FLOWS

    related = _rollback_trigger()["match_related"]
    flows = {r["prefect.resource.name"] for r in related if r["prefect.resource.role"] == "flow"}
    assert flows == set(AUTOMATED_FLOWS)
