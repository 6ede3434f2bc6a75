"""``alphaplus replay``: bad input is one line and a non-zero exit with nothing written; a replay of
two policies trains each slot once and decides per policy, and writes its JSON and HTML report."""

from __future__ import annotations

import json

import pytest

from alphaplus.cli.main import main
from tests.cli.conftest import cli_env, symbol  # noqa: F401  (shared fixtures)
from tests.replay.conftest import TEST_POLICY
from tests.replay.markets import flipping_market


@pytest.fixture
async def stored_market(cli_env, symbol):  # noqa: F811
    """1,400 hourly bars of a momentum market stored under a fresh symbol."""
    from db.candles import upsert_candles
    from db.pool import get_pool

    frame = flipping_market(1400, 0, phi=0.6, seed=0)
    await upsert_candles(await get_pool(settings=cli_env), symbol=symbol, timeframe="1h", frame=frame)
    return symbol, frame


@pytest.mark.parametrize("args, message", [
    (["--from", "2024-02-20", "--to", "2024-02-10"], "must be after"),
    (["--from", "2024-02-20", "--to", "2024-03-01", "--retrain-every", "weekly"], "is not a period"),
    (["--from", "2024-02-20", "--to", "2024-03-01", "--policy-file", "/nonexistent.yaml"], "cannot read the policy file"),
    (["--from", "2023-01-01", "--to", "2023-02-01"], "no 1h candles of"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit_with_nothing_written(stored_market, tmp_path, capsys, args,
                                                                         message):
    symbol, _ = stored_market
    out = tmp_path / "report"
    assert main(["replay", "--symbol", symbol, *args, "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_two_policies_decide_on_the_same_fits_and_the_report_is_written(stored_market, tmp_path, capsys):
    symbol, frame = stored_market
    policies = tmp_path / "policies.json"
    policies.write_text(json.dumps({"lenient": TEST_POLICY, "strict": {"gate": {"alpha": 0.001, "bootstrap_reps": 199}}}))
    out = tmp_path / "report"
    start, end = frame["ts"].iloc[1200], frame["ts"].iloc[1350]
    capsys.readouterr()
    assert main(["replay", "--symbol", symbol, "--from", start.isoformat(), "--to", end.isoformat(),
                 "--retrain-every", "2d", "--regime", "trending", "--horizon", "1", "--policy-file", str(policies),
                 "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["series"] for r in printed["summary"]] == ["policy:lenient", "policy:strict", "never_retrain",
                                                         "always_newest", "no_skill"]
    report = json.loads((out / "replay.json").read_text())
    # Trained once per retraining (not per policy), registered and decided in each policy's lane.
    assert len(report["fits"]) == 4 and all(set(f["versions"]) == {"lenient", "strict"} for f in report["fits"])
    gated = [d for d in report["decisions"] if d["kind"] in ("promote", "reject", "needs_review")]
    assert sorted(d["policy"] for d in gated) == ["lenient"] * 4 + ["strict"] * 4
    assert {d["kind"] for d in gated if d["policy"] == "strict"} != {"promote"}
    assert any(d["kind"] == "promote" for d in gated if d["policy"] == "lenient")
    page = (out / "replay.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "policy:strict" in page
