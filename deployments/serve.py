"""Serve every deployment of prefect.yaml from this one process, for setups without a work pool.

``python -m deployments.serve`` (or ``make serve``) registers the same deployments as
``prefect deploy --all`` (names, schedules, parameters, tags, the rollback trigger) and runs their flow
runs here, in subprocesses of this process, until interrupted. prefect.yaml stays the only place
they are described: this module reads it instead of repeating it.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
PREFECT_YAML = PROJECT_DIR / "prefect.yaml"


def load_deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The deployment entries of prefect.yaml, with its anchors resolved."""
    with path.open(encoding="utf-8") as f:
        return list(yaml.safe_load(f)["deployments"])


def load_flow(entrypoint: str) -> Any:
    """The flow object named by an entrypoint such as ``flows/retrain.py:retrain``."""
    file_path, _, attribute = entrypoint.partition(":")
    module = ".".join(Path(file_path).with_suffix("").parts)
    return getattr(importlib.import_module(module), attribute)


def to_schedule(spec: dict[str, Any]) -> Any:
    """A Prefect schedule from a prefect.yaml schedule entry (cron or interval in seconds)."""
    from prefect.schedules import Cron, Interval

    common = {"timezone": spec.get("timezone"), "active": spec.get("active", True),
              "parameters": spec.get("parameters") or {}}
    if "cron" in spec:
        return Cron(spec["cron"], **common)
    if "interval" in spec:
        return Interval(timedelta(seconds=float(spec["interval"])), **common)
    raise ValueError(f"schedule {spec!r}: only cron and interval schedules are served")


def to_trigger(deployment_name: str, index: int, spec: dict[str, Any]) -> Any:
    """A deployment trigger from a prefect.yaml ``triggers:`` entry (named as ``prefect deploy`` names it)."""
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    spec = {"name": f"{deployment_name}__automation_{index}", **spec}
    return TypeAdapter(DeploymentTriggerTypes).validate_python(spec)


def build_deployments(specs: list[dict[str, Any]] | None = None) -> list[Any]:
    """One RunnerDeployment per prefect.yaml entry, with the same name, schedules and trigger."""
    deployments = []
    for spec in specs if specs is not None else load_deployment_specs():
        name = spec["name"]
        flow = load_flow(spec["entrypoint"])
        triggers = [to_trigger(name, i, t) for i, t in enumerate(spec.get("triggers") or [], start=1)]
        deployments.append(flow.to_deployment(
            name=name,
            description=spec.get("description"),
            tags=spec.get("tags"),
            parameters=spec.get("parameters"),
            schedules=[to_schedule(s) for s in spec.get("schedules") or []],
            triggers=triggers or None,
        ))
    return deployments


def main() -> None:
    """Register the deployments and run their flow runs until interrupted."""
    from prefect import serve

    serve(*build_deployments())


if __name__ == "__main__":
    main()
