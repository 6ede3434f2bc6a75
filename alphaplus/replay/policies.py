"""Named decision policies a replay compares: a promotion gate and a rollback policy each (pure).

A policy file (YAML or JSON) maps names to overrides of the configured settings::

    policies:
      configured: {}
      strict:
        gate: {alpha: 0.01, min_outcomes: 40}
        rollback: {performance_drop: 0.10, consecutive: 1, no_return_days: 3}

(the top-level ``policies:`` key is optional). Gate keys are those of ``alphaplus.promotion.config.
gate_policy`` (``GatePolicy`` fields, ``min_f1``, ``min_roc_auc``); rollback keys are ``RollbackPolicy``
fields, with ``no_return_days`` for ``no_return``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from alphaplus.core.errors import InvalidInput
from alphaplus.core.settings import Settings
from alphaplus.core.validation import NAME_PATTERN
from alphaplus.promotion.config import gate_policy
from alphaplus.promotion.gate import GatePolicy
from alphaplus.rollback.config import RollbackPolicy

DEFAULT_POLICY = "configured"
MAX_POLICIES = 12


@dataclass(frozen=True)
class ReplayPolicy:
    """One named pair of decision policies: a lane of the replay."""

    name: str
    gate: GatePolicy
    rollback: RollbackPolicy

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "gate": self.gate.to_dict(), "rollback": self.rollback.to_dict()}


def configured_policy(settings: Settings, rollback: RollbackPolicy) -> ReplayPolicy:
    """The policies the settings configure (what production runs with)."""
    return ReplayPolicy(DEFAULT_POLICY, gate_policy(settings), rollback)


def parse_policies(document: Any, settings: Settings, rollback: RollbackPolicy) -> list[ReplayPolicy]:
    """The named policies of a parsed policy file, each on top of the configured ones."""
    import re

    if isinstance(document, Mapping) and "policies" in document:
        document = document["policies"]
    if not isinstance(document, Mapping) or not document:
        raise InvalidInput("the policy file must map policy names to {gate: {...}, rollback: {...}}")
    if len(document) > MAX_POLICIES:
        raise InvalidInput(f"the policy file names {len(document)} policies; at most {MAX_POLICIES} are replayed")
    out = []
    for name, body in document.items():
        if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name) or len(name) > 40:
            raise InvalidInput(f"policy name {str(name)[:40]!r} must be a short name of letters, digits and . _ -")
        body = body or {}
        if not isinstance(body, Mapping) or set(body) - {"gate", "rollback"}:
            raise InvalidInput(f"policy {name!r} may hold only 'gate' and 'rollback' sections")
        out.append(ReplayPolicy(name, _gate(name, body.get("gate") or {}, settings),
                                _rollback(name, body.get("rollback") or {}, rollback)))
    return out


def load_policy_file(path: Path, settings: Settings, rollback: RollbackPolicy) -> list[ReplayPolicy]:
    """Read and parse a YAML or JSON policy file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot read the policy file {path}: {e.strerror or e}") from None
    if Path(path).suffix.lower() == ".json":
        try:
            document = json.loads(text)
        except ValueError as e:
            raise InvalidInput(f"the policy file {path} is not valid JSON: {e}") from None
    else:
        import yaml

        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InvalidInput(f"the policy file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    return parse_policies(document, settings, rollback)


def _gate(name: str, overrides: Mapping[str, Any], settings: Settings) -> GatePolicy:
    if not isinstance(overrides, Mapping):
        raise InvalidInput(f"policy {name!r}: 'gate' must be a mapping of settings")
    allowed = {f.name for f in dataclasses.fields(GatePolicy)} | {"min_f1", "min_roc_auc"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise InvalidInput(f"policy {name!r}: unknown gate setting(s) {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    try:
        return gate_policy(settings, **values)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"policy {name!r}: bad gate setting: {e}") from None


def _rollback(name: str, overrides: Mapping[str, Any], base: RollbackPolicy) -> RollbackPolicy:
    if not isinstance(overrides, Mapping):
        raise InvalidInput(f"policy {name!r}: 'rollback' must be a mapping of settings")
    values = dict(overrides)
    if "no_return_days" in values:
        values["no_return"] = timedelta(days=float(values.pop("no_return_days")))
    allowed = {f.name for f in dataclasses.fields(RollbackPolicy)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InvalidInput(f"policy {name!r}: unknown rollback setting(s) {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return dataclasses.replace(base, **values)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"policy {name!r}: bad rollback setting: {e}") from None
