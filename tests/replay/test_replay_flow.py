"""The ``replay`` flow: typed parameters in, the report out as the run's markdown and table artifacts."""

from __future__ import annotations

import uuid

from tests.flows.conftest import flow_env  # noqa: F401  (shared fixture)
from tests.replay.conftest import TEST_POLICY
from tests.replay.markets import flipping_market


async def test_the_replay_flow_publishes_its_report_as_artifacts(flow_env, tmp_path):  # noqa: F811
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from db.candles import upsert_candles
    from db.pool import get_pool
    from flows.replay import replay

    symbol = f"R{uuid.uuid4().hex[:8].upper()}"
    frame = flipping_market(1400, 0, phi=0.6, seed=0)
    await upsert_candles(await get_pool(settings=flow_env), symbol=symbol, timeframe="1h", frame=frame)
    rows = await replay(start=frame["ts"].iloc[1200].to_pydatetime(), end=frame["ts"].iloc[1300].to_pydatetime(),
                        symbols=[symbol], retrain_every="2d", regime="trending", horizon=1,
                        policies={"lenient": TEST_POLICY}, out_dir=str(tmp_path))
    assert [r["series"] for r in rows] == ["policy:lenient", "never_retrain", "always_newest", "no_skill"]
    assert rows[0]["promotions"] >= 1
    assert (tmp_path / "replay.html").exists() and (tmp_path / "replay.json").exists()
    async with get_client() as client:
        [markdown] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["replay-report"])), limit=1, sort="CREATED_DESC")
        [table] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["replay-series"])), limit=1, sort="CREATED_DESC")
    assert f"Lifecycle replay: {symbol}" in markdown.data and "| promote |" in markdown.data
    assert table.type == "table" and "policy:lenient" in str(table.data)
