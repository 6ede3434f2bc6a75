"""The documented columns of model_versions, queried with plain SQL as a dashboard would, agree with
what ``alphaplus versions list/show --json`` says about the same versions: after promotions, live
windows with drift, an assessment and an automatic rollback (what the demo does, in less time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alphaplus.rollback.service import RollbackService, SlotFilter
from db.pool import get_pool
from tests.db.live_windows import HOLDOUT
from tests.cli.test_registry_cli import _ajson
from tests.db.test_version_live_columns import write_window

CONTRACT_QUERY = """
select version, model_artifact_path, model_artifact_size_mb, model_artifact_hash, performance_metrics,
       drift_metrics, rollback_metrics, deployment_timestamp
from model_versions where model_name = $1 order by version
"""


def _as_cli(value):
    """A column value as ``--json`` prints it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return str(value)
    return value


async def test_the_documented_columns_agree_with_the_cli_view_of_the_same_versions(
    cli_env, settings, registry, register, model_name, capsys
):
    pool = await get_pool(settings.database_url, settings)
    v1, v2, _ = [await register(model_name, training_metrics={"holdout": HOLDOUT}) for _ in range(3)]
    for v in (v1, v2):
        await registry.promote(model_name, v.version, reason="in turn")
    service = await RollbackService.open(settings)
    t = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    t = await write_window(pool, v2, start=t, acc=0.6, psi={"ret_1": 0.04, "vol": 0.31})
    await service.assess_slots(SlotFilter(model_name=model_name), now=t)
    for _ in range(3):  # until the loss of edge is confirmed
        t = await write_window(pool, v2, start=t, acc=0.4, psi={"ret_1": 0.02})
        [result] = await service.assess_slots(SlotFilter(model_name=model_name), now=t)
        if result.outcome == "executed":
            break
    assert result.outcome == "executed"
    await write_window(pool, v1, start=t, acc=0.62)

    rows = await pool.fetch(CONTRACT_QUERY, model_name)
    listed = {v["version"]: v for v in await _ajson(["versions", "list", "--model", model_name], capsys)}
    assert sorted(listed) == [r["version"] for r in rows] == [1, 2, 3]
    columns = [c for c in rows[0].keys() if c != "version"]
    for r in rows:
        shown = await _ajson(["versions", "show", model_name, str(r["version"])], capsys)
        expected = {c: _as_cli(r[c]) for c in columns}
        assert {c: listed[r["version"]][c] for c in columns} == expected
        assert {c: shown[c] for c in columns} == expected
        # JSON values compare as JSON: the CLI prints exactly what the columns hold.
        assert json.dumps(shown["performance_metrics"], sort_keys=True) == json.dumps(
            r["performance_metrics"], sort_keys=True)

    # ... and the values are the ones the design promises, not merely equal.
    one, two, three = rows
    assert two["rollback_metrics"]["source"] == "rollback_event" and two["rollback_metrics"]["rollback"]["to_version"] == 1
    assert two["drift_metrics"]["psi"] == {"ret_1": 0.02} and two["performance_metrics"]["accuracy"] == 0.4
    assert one["performance_metrics"]["accuracy"] == 0.62 and one["rollback_metrics"] is None
    assert one["deployment_timestamp"] > two["deployment_timestamp"] and three["deployment_timestamp"] is None
    assert three["performance_metrics"] is None and three["drift_metrics"] is None
    assert all(r["model_artifact_hash"] == listed[r["version"]]["model_artifact_hash"] for r in rows)
    assert shown["model_artifact_size_mb"] == float(three["model_artifact_size_mb"])
