"""``alphaplus models``, ``versions``, ``history``, ``usage`` and ``quarantine`` on a real database."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest

from alphaplus.cli.main import main
from alphaplus.core.entities import Slot


def _json(argv, capsys):
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


async def _ajson(argv, capsys):
    """Like _json, from an async test: the CLI runs its own event loop, so it runs in a thread."""
    capsys.readouterr()
    assert await asyncio.to_thread(main, [*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


async def _amain(argv) -> int:
    return await asyncio.to_thread(main, argv)


def test_models_list_shows_version_counts_and_production_slots(cli_env, served_slot, model_name, capsys):
    [model] = [m for m in _json(["models", "list"], capsys) if m["model_name"] == model_name]
    assert model["versions"] == 3 and sum(model["by_status"].values()) == 3
    assert [(p["regime"], p["symbol"], p["version"]) for p in model["production"]] == [("trending", "BTCUSDT", 1)]
    assert main(["models", "list"]) == 0
    assert model_name in capsys.readouterr().out


def test_versions_list_filters_by_model_slot_and_status(cli_env, served_slot, model_name, capsys):
    assert [v["version"] for v in _json(["versions", "list", "--model", model_name], capsys)] == [3, 2, 1]
    staging = _json(["versions", "list", "-m", model_name, "--status", "staging"], capsys)
    assert [(v["version"], v["status"]) for v in staging] == [(3, "staging")]
    assert _json(["versions", "list", "-m", model_name, "--symbol", "ETHUSDT"], capsys) == []
    assert main(["versions", "list", "-m", model_name, "-r", "trending"]) == 0
    assert "production" in capsys.readouterr().out


async def test_versions_show_names_the_set_of_every_metric_and_the_gate_window(
    cli_env, registry, register, model_name, capsys
):
    from datetime import timedelta

    from db.comparisons import insert_comparison

    v = await register(model_name, training_metrics={"train": {"accuracy": 0.71}, "holdout": {"accuracy": 0.401}})
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    await insert_comparison(
        registry.repo.pool, model_name=model_name, regime="trending", symbol="BTCUSDT", challenger_version=v.version,
        champion_version=None, window_start=start, window_end=start + timedelta(days=30), n_samples=720,
        challenger_metrics={"accuracy": 0.635}, champion_metrics=None, metric_deltas={}, test_name=None,
        statistic=None, p_value=None, decision="promote", reasons=["no champion yet"], flow_run_id=None)
    capsys.readouterr()
    assert await _amain(["versions", "show", model_name, str(v.version)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "metric" in line and "holdout" in line)
    for name in ("train", "validation", "holdout", "gate window"):
        assert name in header
    accuracy = next(line for line in out.splitlines() if "accuracy" in line)
    assert "0.401" in accuracy and "0.635" in accuracy and "0.710" in accuracy
    assert "gate window: the unseen rows its promotion gate scored it on (720 rows" in out
    shown = await _ajson(["versions", "show", model_name, str(v.version)], capsys)
    assert shown["gate_window"]["metrics"] == {"accuracy": 0.635}


async def test_versions_show_gives_metrics_artifact_usage_and_quarantine(
    cli_env, served_slot, registry, model_name, capsys
):
    _, _, v3 = served_slot
    await registry.record_usage([(model_name, 3, 40, 2, 80.0, datetime.now(timezone.utc))])
    await registry.quarantine_version(model_name, 3, reason="trained on a bad feed")
    shown = await _ajson(["versions", "show", model_name, "3"], capsys)
    assert shown["validation_metrics"] == {"f1": 0.6} and shown["status"] == "staging"
    assert (shown["model_artifact_hash"], shown["model_artifact_path"]) == (v3.artifact.sha256, v3.artifact.path)
    assert (shown["model_size_bytes"], shown["model_artifact_size_mb"]) == (v3.artifact.size, 0.0)
    assert (shown["total_inferences"], shown["error_rate"]) == (40, 0.05)
    assert "trained on a bad feed" in shown["quarantine_reason"]
    assert await _amain(["versions", "show", model_name, "3"]) == 0
    out = capsys.readouterr().out
    assert any("f1" in line and "0.600" in line for line in out.splitlines()) and v3.artifact.sha256 in out and "quarantined: " in out and "40 inferences" in out


async def test_lineage_walks_the_parent_chain_up_to_the_root(cli_env, register, model_name, capsys):
    await register(model_name)
    await register(model_name, parent_model_version=1)
    v3 = await register(model_name, parent_model_version=2)
    lineage = await _ajson(["versions", "lineage", model_name, "3"], capsys)
    assert [(link["version"], link["parent_model_name"], link["parent_model_version"]) for link in lineage["chain"]] == [
        (3, model_name, 2), (2, model_name, 1), (1, None, None)]
    assert lineage["chain"][0]["model_artifact_hash"] == v3.artifact.sha256
    assert lineage["chain"][0]["training_data_hash"].startswith("xxh3_128:")
    assert await _amain(["versions", "lineage", model_name, "3"]) == 0
    out = capsys.readouterr().out
    assert "root" in out and "feature set:" in out and "environment:" in out


def test_history_tells_who_served_when_and_why_including_the_rollback(cli_env, served_slot, model_name, capsys):
    history = _json(["history", model_name, "--regime", "trending", "--symbol", "BTCUSDT"], capsys)
    assert [p["version"] for p in history["served"]] == [1, 2, 1]
    assert history["served"][0]["reason"] == "first model" and history["served"][-1]["end"] is None
    moves = [e for e in history["events"] if e["event"] == "production_moved"]
    assert [(m["kind"], m["to_version"]) for m in moves] == [("promotion", 1), ("promotion", 2), ("rollback", 1)]
    assert moves[0]["on_behalf_of"] == "alice" and "fills got worse" in moves[-1]["reason"]
    assert any(e["event"] == "status_changed" and e["to_status"] == "production" for e in history["events"])
    assert main(["history", model_name, "-r", "trending", "-s", "BTCUSDT"]) == 0
    out = capsys.readouterr().out
    assert "rollback" in out and "fills got worse" in out and "for alice" in out


async def test_usage_lists_every_version_or_just_one(cli_env, served_slot, registry, model_name, capsys):
    await registry.record_usage([(model_name, 1, 10, 1, 5.0, datetime.now(timezone.utc))])
    rows = await _ajson(["usage", model_name], capsys)
    assert [(r["version"], r["total_inferences"]) for r in rows] == [(3, 0), (2, 0), (1, 10)]
    [one] = await _ajson(["usage", model_name, "--version", "1"], capsys)
    assert (one["error_count"], one["avg_inference_time_ms"], one["error_rate"]) == (1, 0.5, 0.1)
    assert await _amain(["usage", model_name]) == 0
    assert "10.00%" in capsys.readouterr().out


async def test_quarantined_data_blocks_the_versions_trained_on_it(cli_env, served_slot, registry, model_name, capsys):
    lineage = await registry.get_lineage(model_name, 3)
    assert await _amain(["quarantine", "data", lineage.training_data_hash, "--reason", "exchange glitch"]) == 0
    assert f"trained on it: {model_name} v3" in capsys.readouterr().out
    shown = await _ajson(["versions", "show", model_name, "3"], capsys)
    assert "exchange glitch" in shown["quarantine_reason"]
    # v1 serves the slot: a quarantine of it is refused, saying what to do; with --roll-back it is
    # refused too, as no other version is safe to restore (v2 failed, v3 was never gated).
    assert await _amain(["quarantine", "version", model_name, "1", "--reason", "look-ahead bug"]) == 1
    assert "nothing was quarantined: version 1 serves" in capsys.readouterr().err
    assert await _amain(["quarantine", "version", model_name, "1", "--reason", "look-ahead bug", "--roll-back"]) == 1
    assert "no other version of it is safe to restore" in capsys.readouterr().err
    assert await registry.quarantine_reason(model_name, 1) is None
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == 1
    # Quarantining again keeps the first record and says so.
    assert await _amain(["quarantine", "data", lineage.training_data_hash, "--reason", "again"]) == 0
    assert "was already quarantined by" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["versions", "show", "no_such_model", "1"], "model 'no_such_model' is not registered"),
        (["versions", "lineage", "no_such_model", "1"], "model 'no_such_model' is not registered"),
        (["versions", "list", "--model", "no_such_model"], "model 'no_such_model' is not registered"),
        (["history", "no_such_model", "-r", "trending", "-s", "BTCUSDT"], "model 'no_such_model' is not registered"),
        (["usage", "no_such_model"], "model 'no_such_model' is not registered"),
        (["quarantine", "version", "no_such_model", "1", "--reason", "x"], "is not registered"),
        (["versions", "show", "{model}", "abc"], "version must be a whole number such as 3, not 'abc'"),
        (["versions", "lineage", "{model}", "1.5"], "version must be a whole number"),
        (["usage", "{model}", "--version", "x"], "version must be a whole number"),
        (["versions", "show", "{model}", "0"], "version numbers start at 1"),
        (["versions", "show", "{model}", "99"], "version 99 of {model} does not exist; the latest is 3"),
        (["versions", "lineage", "{model}", "99"], "does not exist; the latest is 3"),
        (["usage", "{model}", "-v", "99"], "does not exist; the latest is 3"),
        (["versions", "list", "--status", "live"], "unknown status 'live'; statuses are staging"),
        (["history", "{model}", "-r", "ranging", "-s", "BTCUSDT"], "its slots are: trending/BTCUSDT"),
        (["quarantine", "version", "{model}", "1", "--reason", " "], "a quarantine needs a reason"),
        (["quarantine", "data", "xxh3_128:" + "a" * 32, "--reason", ""], "a quarantine needs a reason"),
    ],
)
def test_registry_mistakes_end_in_one_line_and_a_nonzero_exit(cli_env, served_slot, model_name, capsys, args, message):
    assert main([a.format(model=model_name) for a in args]) != 0
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in captured.err, captured.err
    assert message.format(model=model_name) in err


def test_versions_list_in_a_child_process_prints_json(run_child, served_slot, model_name):
    done = run_child("versions", "list", "--model", model_name, "--json")
    assert done.returncode == 0, done.stderr
    assert [v["status"] for v in json.loads(done.stdout)][-1] == "production"


def test_a_bad_version_in_a_child_process_is_one_line_without_traceback(run_child, served_slot, model_name):
    done = run_child("versions", "show", model_name, "seven")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: version must be a whole number such as 3, not 'seven'"]
