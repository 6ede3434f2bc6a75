"""The slot report: pure rendering without a database, and ``alphaplus report`` on a real one."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from alphaplus.cli.main import main
from alphaplus.core.entities import Slot
from alphaplus.core.errors import InvalidInput
from alphaplus.monitoring.report import (
    EMPTY_MESSAGE,
    PerformancePoint,
    SlotMove,
    SlotReport,
    move_kind,
    render_html,
    render_png,
    report_format,
    timeline,
    version_summary,
)

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report(points=(), moves=()) -> SlotReport:
    return SlotReport(Slot("m", "trending", "BTCUSDT"), tuple(points), tuple(moves), T0,
                      {"error_rate": 0.1, "max_psi": 0.25})


def _points() -> list[PerformancePoint]:
    return [PerformancePoint(T0 + timedelta(hours=h), v, 100, acc, acc - 0.1, 0.01, psi)
            for h, v, acc, psi in [(1, 1, 0.6, 0.05), (2, 1, 0.62, 0.06), (3, 2, 0.4, 0.3), (4, 1, 0.61, None)]]


def _moves() -> list[SlotMove]:
    return [SlotMove(T0, None, 1, "promotion", "alphaplus", "alice", "first"),
            SlotMove(T0 + timedelta(hours=2, minutes=30), 1, 2, "promotion", "alphaplus", None, "gate passed"),
            SlotMove(T0 + timedelta(hours=3, minutes=30), 2, 1, "rollback", "alphaplus", None, "F1 dropped")]


def test_an_empty_history_still_renders_a_plot_and_a_page_saying_so():
    png = render_png(_report())
    assert png.startswith(PNG_MAGIC) and len(png) > 1000
    page = render_html(_report())
    assert EMPTY_MESSAGE in page and "data:image/png;base64," in page and "no production version yet" in page


def test_a_history_with_moves_renders_every_version_and_the_timeline():
    report = _report(_points(), _moves())
    assert render_png(report).startswith(PNG_MAGIC)
    page = render_html(report)
    assert page.count("<tr>") == 1 + 3 + 1 + 2  # headers and rows of both tables
    assert "F1 dropped" in page and "rollback" in page and "alice" in page


def test_html_escapes_what_people_typed_into_reasons():
    moves = [SlotMove(T0, None, 1, "promotion", "a", None, "<script>alert(1)</script>")]
    assert "<script>alert" not in render_html(_report(moves=moves), png=b"x")


def test_timeline_closes_each_stretch_at_the_next_move():
    entries = timeline(_moves())
    assert [(e.version, e.end) for e in entries] == [(1, _moves()[1].ts), (2, _moves()[2].ts), (1, None)]


def test_version_summary_weights_quality_by_outcomes_and_keeps_the_worst_drift():
    [v1, v2] = version_summary(_points())
    assert (v1["windows"], v1["outcomes"], v1["max_psi"]) == (3, 300, 0.06)
    assert v1["accuracy"] == pytest.approx(0.61) and v2["max_psi"] == 0.3


def test_moves_are_classified_from_the_audit_metadata():
    assert move_kind(2, {}) == "promotion"
    assert move_kind(1, {"rollback_type": "automatic"}) == "rollback"
    assert move_kind(None, {}) == "withdrawal"


def test_only_png_and_html_files_into_existing_directories_are_accepted(tmp_path):
    assert report_format(tmp_path / "r.PNG") == "png" and report_format(tmp_path / "r.html") == "html"
    with pytest.raises(InvalidInput, match="must end in .png or .html"):
        report_format(tmp_path / "r.pdf")
    with pytest.raises(InvalidInput, match="does not exist"):
        report_format(tmp_path / "missing" / "r.png")


async def _seed_history(settings, model_name: str) -> None:
    from alphaplus.monitoring.outcomes import PerformanceRecord, WindowMetrics
    from db.performance import insert_performance
    from db.pool import get_pool

    pool = await get_pool(settings.database_url, settings)
    records = []
    for i, (version, accuracy) in enumerate([(1, 0.6), (1, 0.61), (2, 0.45), (2, 0.4)]):
        end = T0 + timedelta(hours=i + 1)
        metrics = WindowMetrics(200, int(200 * accuracy), accuracy, accuracy - 0.05, 0.5, 0.5, 50, 50, 50, 50,
                                220, 2, 2 / 220, 1.0, 2.0, 3.0)
        records.append(PerformanceRecord(end - timedelta(hours=1), end, model_name, version, "trending", "BTCUSDT",
                                         "live", metrics, {}, 0.1 * (i + 1), {}))
    assert await insert_performance(pool, records) == 4


async def test_report_writes_a_png_and_an_html_page_with_the_timeline(cli_env, served_slot, model_name, tmp_path,
                                                                      capsys):
    await _seed_history(cli_env, model_name)
    base = ["report", model_name, "--regime", "trending", "--symbol", "BTCUSDT", "--out"]
    assert await asyncio.to_thread(main, [*base, str(tmp_path / "r.png")]) == 0
    assert "4 live windows of 2 version(s), 3 production move(s)" in capsys.readouterr().out
    assert (tmp_path / "r.png").read_bytes().startswith(PNG_MAGIC)
    assert await asyncio.to_thread(main, [*base, str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "data:image/png;base64," in page and "fills got worse" in page and "rollback" in page


def test_report_of_a_slot_without_live_history_is_still_a_picture(cli_env, served_slot, model_name, tmp_path, capsys):
    assert main(["report", model_name, "-r", "trending", "-s", "BTCUSDT", "-o", str(tmp_path / "e.png")]) == 0
    assert "0 live windows" in capsys.readouterr().out
    assert (tmp_path / "e.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "{model}", "-r", "trending", "-s", "BTCUSDT", "-o", "{tmp}/r.pdf"], "must end in .png or .html"),
        (["report", "{model}", "-r", "trending", "-s", "BTCUSDT", "-o", "{tmp}/no/r.png"], "does not exist"),
        (["report", "{model}", "-r", "volatile", "-s", "BTCUSDT", "-o", "{tmp}/r.png"], "has no version for regime"),
        (["report", "no_such_model", "-r", "trending", "-s", "BTCUSDT", "-o", "{tmp}/r.png"], "is not registered"),
    ],
)
def test_report_mistakes_end_in_one_line_and_a_nonzero_exit(cli_env, served_slot, model_name, tmp_path, capsys,
                                                             args, message):
    assert main([a.format(model=model_name, tmp=tmp_path) for a in args]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err
    assert not list(tmp_path.glob("r.*"))
