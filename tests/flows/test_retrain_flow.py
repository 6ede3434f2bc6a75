"""The retrain flow end to end: real Prefect (test harness), real PostgreSQL, real LightGBM and GX."""

from __future__ import annotations

from datetime import datetime

import pytest

from alphaplus.core.entities import Slot
from alphaplus.market.synth import synth_candles

pytestmark = pytest.mark.prefect


async def import_candles(settings, symbol: str, frame) -> None:
    from db.candles import upsert_candles
    from db.pool import get_pool

    await upsert_candles(await get_pool(settings.database_url, settings), symbol=symbol, timeframe="1h", frame=frame)


async def test_retraining_two_regimes_registers_two_versions_with_complete_lineage(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from flows.retrain import retrain

    await import_candles(flow_env, "SYNA", synth_candles(6000, seed=11))
    results = await retrain(symbols=["SYNA"], regime="trending", model_name=model_name, promote=False)
    results += await retrain(symbols=["SYNA"], regime="ranging", model_name=model_name, promote=False)
    assert [r["status"] for r in results] == ["registered", "registered"]
    registry = await Registry.open(flow_env)
    versions = await registry.list_versions(model_name=model_name)
    assert sorted(v.regime for v in versions) == ["ranging", "trending"]
    assert {v.status for v in versions} == {"staging"}
    for v in versions:
        lineage = await registry.get_lineage(model_name, v.version)
        assert lineage.training_data_hash.startswith("xxh3_128:")
        assert lineage.feature_set_hash.startswith("sha256:") and lineage.hyperparameters_hash.startswith("sha256:")
        assert lineage.training_environment["packages"]["lightgbm"] and lineage.model_version == v.version
        # every usable row is in one part of the split: fitted, validation (early stopping) or holdout
        train_rows, valid_rows, holdout_rows = v.version_metadata["split_sizes"]
        assert (lineage.training_samples, lineage.validation_samples) == (train_rows, valid_rows)
        assert lineage.n_samples == train_rows + valid_rows + holdout_rows
        assert lineage.lineage_metadata["holdout_samples"] == holdout_rows
        assert set(v.version_metadata["psi_reference"]) == set(v.version_metadata["feature_names"])
        assert isinstance(await registry.load_model(v), object)


async def test_rerunning_on_identical_inputs_returns_the_existing_version(flow_env, model_name):
    from flows.retrain import retrain

    await import_candles(flow_env, "SYNB", synth_candles(5000, seed=12))
    first = await retrain(symbols=["SYNB"], regime="trending", model_name=model_name, promote=False)
    again = await retrain(symbols=["SYNB"], regime="trending", model_name=model_name, promote=False)
    assert first[0]["created"] is True and again[0]["created"] is False
    assert first[0]["version"] == again[0]["version"]


async def test_the_first_model_of_a_slot_is_promoted_through_the_gate_with_a_comparison_row(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from db.comparisons import list_comparisons
    from db.pool import get_pool
    from flows.retrain import retrain

    await import_candles(flow_env, "SYNC", synth_candles(6000, seed=6, dynamics="strong_trend"))
    results = await retrain(symbols=["SYNC"], regime="trending", model_name=model_name,
                            gate={"min_outcomes": 10})
    assert results[0]["decision"] == "promote", results
    registry = await Registry.open(flow_env)
    production = await registry.get_production_model(Slot(model_name, "trending", "SYNC"))
    assert production.version == results[0]["version"]
    rows = await list_comparisons(await get_pool(flow_env.database_url, flow_env), model_name=model_name)
    row = rows[0]
    assert row["decision"] == "promote" and row["champion_version"] is None
    # The evidence in independent outcomes, not rows: overlapping 12-bar labels.
    assert row["label_horizon"] == 12 and row["n_outcomes"] == row["n_samples"] // 12
    assert 0 < row["n_effective"] < row["n_samples"] and row["ci_low"] <= row["ci_high"]
    assert row["test_name"].startswith("block bootstrap: ") and row["p_value"] < 0.05
    assert {t["name"] for t in row["evidence"]["tests"]} >= {"ROC AUC above 0.5", "accuracy above always up"}
    # Scored on its holdout only: rows after everything it was fitted or early-stopped on.
    assert row["window_start"] >= datetime.fromisoformat(production.version_metadata["seen_data_end"])


async def test_bad_candles_fail_the_run_name_the_expectation_and_register_nothing(flow_env, model_name):
    from alphaplus.core.errors import RunFailed
    from alphaplus.registry.service import Registry
    from db.pool import get_pool
    from db.training_jobs import list_jobs
    from flows.retrain import retrain

    frame = synth_candles(3000, seed=5)
    frame = frame.drop(index=range(1000, 1400))  # a gap of 400 bars: an "absurd gap"
    await import_candles(flow_env, "SYND", frame)
    with pytest.raises(RunFailed, match="data quality"):
        await retrain(symbols=["SYND"], regime="trending", model_name=model_name)
    registry = await Registry.open(flow_env)
    assert await registry.list_versions(model_name=model_name) == []
    jobs = await list_jobs(await get_pool(flow_env.database_url, flow_env), model_name=model_name)
    assert jobs[0]["status"] == "failed" and jobs[0]["validation_result"]["success"] is False
    assert "400 missing" in jobs[0]["error"] and "--calendar" in jobs[0]["error"]


def _fx_week_candles(bars: int, seed: int):
    """Synthetic prices on the FX week's hours: closed from Friday to Sunday 17:00 New York."""
    import pandas as pd

    from alphaplus.market.calendars import expected_bar_opens

    frame = synth_candles(bars, seed=seed)
    hours = expected_bar_opens("24/5", pd.Timestamp("2023-01-02", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC"),
                               pd.Timedelta(hours=1))
    return frame.assign(ts=hours[:bars])


async def test_a_24_5_symbol_fails_under_24_7_saying_how_to_fix_it_then_trains_once_its_calendar_is_set(
    flow_env, model_name
):
    from alphaplus.core.errors import RunFailed
    from db.instruments import set_calendar
    from db.pool import get_pool
    from flows.retrain import retrain

    await import_candles(flow_env, "SYNFX", _fx_week_candles(5000, seed=11))
    fix = "SYNFX has calendar 24/7; if it trades 24/5 run `alphaplus symbols set SYNFX --calendar 24/5`"
    with pytest.raises(RunFailed, match="data quality") as failed:
        await retrain(symbols=["SYNFX"], regime="trending", model_name=model_name, promote=False)
    assert fix in str(failed.value)
    await set_calendar(await get_pool(flow_env.database_url, flow_env), symbol="SYNFX", calendar="24/5")
    results = await retrain(symbols=["SYNFX"], regime="trending", model_name=model_name, promote=False)
    assert [r["status"] for r in results] == ["registered"], results


async def test_reproducing_a_version_yields_identical_hashes_and_reports_a_tampered_stored_file(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from alphaplus.registry.reproduce import reproduce_version
    from flows.retrain import retrain

    await import_candles(flow_env, "SYNE", synth_candles(5000, seed=21))
    results = await retrain(symbols=["SYNE"], regime="trending", model_name=model_name, promote=False)
    registry = await Registry.open(flow_env)
    outcome = await reproduce_version(registry, model_name, results[0]["version"])
    assert outcome.data_matches, outcome
    assert outcome.artifact_hash == outcome.recorded_artifact_hash, outcome
    assert outcome.artifact_matches and outcome.stored_format == "alphaplus-model v1"
    assert outcome.stored_matches and outcome.all_match, outcome
    # A stored file changed on disk is reported, not hidden behind the recorded hash.
    stored = registry.artifacts.resolve(outcome.artifact_path)
    stored.write_bytes(stored.read_bytes()[:-1] + b"\x00")
    tampered = await reproduce_version(registry, model_name, results[0]["version"])
    assert tampered.data_matches and tampered.artifact_matches
    assert not tampered.stored_matches and not tampered.all_match
    stored.unlink()
    assert (await reproduce_version(registry, model_name, results[0]["version"])).stored_artifact_hash is None


WEAK = {"n_estimators": 1, "num_leaves": 2, "learning_rate": 0.001, "min_child_samples": 1000}


async def test_a_clearly_better_challenger_replaces_the_champion_which_becomes_rollback_candidate(flow_env, model_name):
    from alphaplus.promotion.service import PromotionService
    from alphaplus.registry.service import Registry
    from db.comparisons import list_comparisons
    from flows.retrain import retrain

    await import_candles(flow_env, "SYNF", synth_candles(6000, seed=6, dynamics="strong_trend"))
    weak = await retrain(symbols=["SYNF"], regime="trending", model_name=model_name, hyperparameters=WEAK,
                         promote=False)
    registry = await Registry.open(flow_env)
    await PromotionService(registry).force_promote(model_name, weak[0]["version"], reason="test champion",
                                          on_behalf_of=None, flow_run_id=None)
    results = await retrain(symbols=["SYNF"], regime="trending", model_name=model_name, gate={"min_outcomes": 10})
    assert results[0]["decision"] == "promote", results
    assert (await registry.get_version(model_name, weak[0]["version"])).status == "rollback_candidate"
    assert (await registry.get_production_model(Slot(model_name, "trending", "SYNF"))).version == results[0]["version"]
    comparison = (await list_comparisons(registry.repo.pool, model_name=model_name))[0]
    assert (comparison["champion_version"], comparison["decision"]) == (weak[0]["version"], "promote")
    assert comparison["p_value"] is not None
    moves = [e for e in await registry.audit_events(model_name) if e.event == "production_moved"]
    assert [(m.from_version, m.to_version) for m in moves][-1] == (weak[0]["version"], results[0]["version"])
    assert moves[-1].flow_run_id is not None


async def test_a_clearly_worse_challenger_is_rejected_and_production_is_unchanged(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from flows.retrain import retrain

    await import_candles(flow_env, "SYNG", synth_candles(6000, seed=6, dynamics="strong_trend"))
    good = await retrain(symbols=["SYNG"], regime="trending", model_name=model_name, gate={"min_outcomes": 10})
    assert good[0]["decision"] == "promote", good
    worse = await retrain(symbols=["SYNG"], regime="trending", model_name=model_name, hyperparameters=WEAK,
                          gate={"min_outcomes": 10})
    assert worse[0]["decision"] == "reject", worse
    registry = await Registry.open(flow_env)
    assert (await registry.get_production_model(Slot(model_name, "trending", "SYNG"))).version == good[0]["version"]
    assert (await registry.get_version(model_name, worse[0]["version"])).status == "failed"


async def test_one_slots_failure_does_not_lose_the_other_slots_results(flow_env, model_name):
    from alphaplus.core.errors import RunFailed
    from alphaplus.registry.service import Registry
    from db.pool import get_pool
    from db.training_jobs import list_jobs
    from flows.retrain import retrain

    await import_candles(flow_env, "SYNH", synth_candles(6000, seed=11))
    await import_candles(flow_env, "SYNI", synth_candles(300, seed=12))  # too few rows: fails the gate
    with pytest.raises(RunFailed, match="3 of 6 slots failed: SYNI/trending"):
        await retrain(symbols=["SYNH", "SYNI"], regime="all", model_name=model_name, promote=False,
                      hyperparameters={"n_estimators": 20})
    registry = await Registry.open(flow_env)
    versions = await registry.list_versions(model_name=model_name)
    assert sorted((v.symbol, v.regime) for v in versions) == [
        ("SYNH", "ranging"), ("SYNH", "trending"), ("SYNH", "volatile")
    ]
    jobs = await list_jobs(await get_pool(flow_env.database_url, flow_env), model_name=model_name)
    assert sorted(j["status"] for j in jobs) == ["failed"] * 3 + ["succeeded"] * 3


async def test_a_slot_with_too_few_bars_is_skipped_with_its_reason_and_the_run_succeeds(flow_env, model_name):
    from db.pool import get_pool
    from db.training_jobs import list_jobs
    from flows.retrain import retrain

    # 1,500 bars: trending and ranging have enough usable bars, volatile has 216 of the 300 needed.
    await import_candles(flow_env, "SYNS", synth_candles(1500, seed=7))
    results = await retrain(symbols=["SYNS"], regime="all", model_name=model_name, promote=False)
    by_regime = {r["regime"]: r for r in results}
    assert by_regime["volatile"]["status"] == "skipped"
    assert "216 usable bars; at least 300 are needed" in by_regime["volatile"]["reason"]
    assert by_regime["trending"]["status"] == by_regime["ranging"]["status"] == "registered"
    jobs = await list_jobs(await get_pool(flow_env.database_url, flow_env), model_name=model_name)
    assert sorted(j["status"] for j in jobs) == ["skipped", "succeeded", "succeeded"]
async def test_manual_promotion_scores_only_rows_after_the_versions_training_and_validation(flow_env, model_name):
    """A version trained from a later start: the gate window is its own holdout, not the last 20% of all
    candles by position (which would hold its training and validation rows)."""
    from datetime import timedelta

    import pandas as pd

    from alphaplus.promotion.service import PromotionService
    from alphaplus.registry.service import Registry
    from db.comparisons import list_comparisons
    from flows.retrain import retrain

    frame = synth_candles(6000, seed=6, dynamics="strong_trend")
    await import_candles(flow_env, "SYNJ", frame)
    later_start = frame["ts"].iloc[2500].to_pydatetime()
    trained = await retrain(symbols=["SYNJ"], regime="trending", model_name=model_name, start=later_start,
                            promote=False)
    registry = await Registry.open(flow_env)
    version = await registry.get_version(model_name, trained[0]["version"])
    outcome, _ = await PromotionService(registry).promote_with_gate(model_name, version.version)
    holdout_start = pd.Timestamp(version.version_metadata["holdout_start"])
    assert outcome.n_samples > 0 and outcome.window_start >= holdout_start
    assert outcome.window_start > pd.Timestamp(version.version_metadata["seen_data_end"]) - timedelta(seconds=1)
    row = (await list_comparisons(registry.repo.pool, model_name=model_name))[0]
    assert row["window_start"] == outcome.window_start.to_pydatetime()
    assert row["evidence"]["unseen_from"][0]["source"] == "its holdout start"
