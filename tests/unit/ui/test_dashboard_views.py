"""The dashboard's pure parts: URLs of any name, SVG charts that escape what they draw, skill,
metrics by set, badges, serving stretches and list positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alphaplus.ui import charts, links, views

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script>/a?b#c%2F'


# --- links -------------------------------------------------------------------------------------


def test_a_name_with_slashes_and_percent_signs_round_trips_through_its_url():
    path = links.slot_path(HOSTILE, "trending", "BTC/USDT")
    assert path.count("/") == 4 and "<" not in path and "#" not in path and "?" not in path
    assert links.path_segments(path.encode(), links.SLOTS) == [HOSTILE, "trending", "BTC/USDT"]
    assert links.path_segments(links.version_path(HOSTILE, 7).encode(), links.VERSIONS) == [HOSTILE, "7"]


def test_a_path_outside_the_prefix_or_not_utf8_has_no_segments():
    assert links.path_segments(b"/other/a/b/c", links.SLOTS) is None
    assert links.path_segments(b"/slots/%ff/b/c", links.SLOTS) is None


def test_flow_runs_link_into_prefect_only_for_a_flow_run_id_and_an_http_ui():
    run = "0b7e7f4e-8a52-4c6b-9f59-2d1e6f8a9b10"
    assert links.flow_run_url("http://127.0.0.1:4200/", run) == f"http://127.0.0.1:4200/runs/flow-run/{run}"
    assert links.flow_run_url(None, run) is None
    assert links.flow_run_url("javascript:alert(1)//", run) is None
    assert links.flow_run_url("http://127.0.0.1:4200", "../../admin") is None


def test_query_strings_leave_out_unset_parameters():
    assert links.with_query("/audit", {"model": "a b", "version": None, "event": ""}) == "/audit?model=a+b"
    assert links.with_query("/audit", {}) == "/audit"
    assert links.absolute("http://dash.example/", "/slots/a/b/c") == "http://dash.example/slots/a/b/c"


# --- charts -------------------------------------------------------------------------------------


def test_a_sparkline_breaks_at_missing_values_and_escapes_its_label():
    svg = charts.sparkline([0.5, 0.6, None, 0.55, 0.58], label=HOSTILE)
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 1
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_a_sparkline_without_data_says_so():
    assert "no live data" in charts.sparkline([None, None], label="x")
    assert "no live data" in charts.sparkline([], label="x")


def points(version: int, start: datetime, n: int, accuracy: float) -> list[charts.ChartPoint]:
    return [charts.ChartPoint(start + timedelta(hours=i), version, 200,
                              {"accuracy": accuracy, "skill": accuracy - 0.5, "error_rate": 0.01, "max_psi": 0.1})
            for i in range(n)]


def test_the_performance_chart_draws_a_line_per_version_and_panel_with_moves_and_limits():
    data = points(1, T0, 5, 0.6) + points(2, T0 + timedelta(hours=5), 5, 0.45)
    markers = [charts.ChartMarker(T0 + timedelta(hours=5), "promotion", "promotion to v2"),
               charts.ChartMarker(T0 + timedelta(hours=10), "rollback", f"rollback: {HOSTILE}"),
               charts.ChartMarker(T0 - timedelta(days=3), "promotion", "before the first window")]
    svg = charts.performance_chart(data, markers, thresholds={"error_rate": 0.1, "max_psi": 0.25})
    assert svg.count('class="series v1"') == 4 and svg.count('class="series v2"') == 4
    assert svg.count('class="marker promotion"') == 4  # one per panel; the move before the data is left out
    assert svg.count('class="marker rollback"') == 4  # after the newest window, still drawn
    assert svg.count('class="threshold"') == 2 and svg.count('class="zero"') == 1
    assert svg.count("<circle") == 40 and "<script>" not in svg


def test_a_long_history_is_drawn_as_lines_without_a_dot_per_window():
    svg = charts.performance_chart(points(3, T0, charts.MAX_DOTS + 1, 0.55), [])
    assert "<circle" not in svg and svg.count("<polyline") == 4


def test_a_panel_without_values_says_not_measured_and_an_empty_chart_says_why():
    data = [charts.ChartPoint(T0, 1, 10, {"accuracy": 0.5, "skill": None, "error_rate": None, "max_psi": None})]
    assert charts.performance_chart(data, []).count("not measured") == 3
    assert "no live windows yet" in charts.performance_chart([], [])


def test_the_timeline_links_each_stretch_to_its_version():
    spans = [charts.ServingSpan(1, T0, T0 + timedelta(days=2), "promotion", "v1 served", "/versions/m/1"),
             charts.ServingSpan(None, T0 + timedelta(days=2), T0 + timedelta(days=3), "withdrawal", HOSTILE, None),
             charts.ServingSpan(2, T0 + timedelta(days=3), T0 + timedelta(days=5), "rollback", "v2", "/versions/m/2")]
    svg = charts.timeline_chart(spans)
    assert svg.count("<a href=") == 2 and svg.count("<rect") == 3
    assert "&lt;script&gt;" in svg and "<script>" not in svg
    assert "no version has served" in charts.timeline_chart([])


def test_the_lineage_graph_shows_ancestors_the_version_and_its_children():
    node = lambda v, **kw: charts.LineageNode(v, "archived", f"/versions/m/{v}", **kw)  # noqa: E731
    svg = charts.lineage_graph([node(2), node(1)], node(3, current=True), [node(4), node(5, quarantined=True)])
    assert svg.count("<rect") == 5 and svg.count('class="edge"') == 4
    assert svg.index(">v1<") < svg.index(">v2<") < svg.index(">v3<")  # root on the left
    assert "node current" in svg and "node quarantined" in svg
    assert "older ancestors not shown" in charts.lineage_graph([node(2)], node(3), [], root_reached=False)


# --- views --------------------------------------------------------------------------------------


def test_skill_is_accuracy_above_the_majority_class():
    assert views.skill_from_counts(60, 70, 30) == pytest.approx(-0.10)  # always "up" scores 0.70
    assert views.skill_from_counts(60, 50, 50) == pytest.approx(0.10)
    assert views.skill_from_counts(None, 50, 50) is None and views.skill_from_counts(1, 0, 0) is None


def test_pooled_quality_sums_windows_and_none_means_no_windows():
    pooled = views.pooled_quality({"windows": 3, "n_samples": 600, "n_correct": 330, "n_up": 300, "n_down": 300,
                                   "inferences": 610, "errors": 10, "max_psi": 0.3})
    assert pooled["accuracy"] == pytest.approx(0.55) and pooled["skill"] == pytest.approx(0.05)
    assert pooled["error_rate"] == pytest.approx(10 / 610)
    assert views.pooled_quality({"windows": 0}) is None and views.pooled_quality(None) is None


def test_metrics_by_set_reads_the_retrain_flows_nested_training_metrics_and_flat_ones():
    names, rows = views.metric_sets({"train": {"accuracy": 0.7}, "holdout": {"accuracy": 0.56, "f1": 0.5}},
                                    {"accuracy": 0.57, "note": "text"}, {"accuracy": 0.55, "skill": 0.02})
    assert names == ["train", "validation", "holdout", "live"]
    assert rows[0] == ("accuracy", [0.7, 0.57, 0.56, 0.55])
    assert [k for k, _ in rows] == ["accuracy", "skill", "f1"]  # numbers only, in the usual order
    names, rows = views.metric_sets({"accuracy": 0.8}, {}, None)
    assert names == ["train", "validation"] and rows == [("accuracy", [0.8, None])]


def test_badges_flag_quarantine_canary_recent_rollback_and_market_shift():
    row = {"quarantine_reason": "bad feed", "canaries": [7], "rollbacks_24h": 2, "last_rollback_at": T0,
           "last_status": "healthy", "triggers": ["market_shift"]}
    assert [b.kind for b in views.slot_badges(row)] == ["quarantine", "canary", "rollback", "market-shift"]
    assert views.slot_badges({"last_status": "market_shift"})[0].kind == "market-shift"
    assert views.slot_badges({"last_status": "healthy", "triggers": []}) == ()


def test_serving_rows_close_each_stretch_at_the_next_move():
    moves = [  # newest first, as the slot query returns them
        {"ts": T0 + timedelta(hours=2), "from_version": 2, "to_version": 1, "actor": "ops", "reason": "rollback (manual): x",
         "metadata": {"rollback_type": "manual"}, "flow_run_id": None},
        {"ts": T0 + timedelta(hours=1), "from_version": 1, "to_version": 2, "actor": "ops", "reason": "gate", "metadata": {}},
        {"ts": T0, "from_version": None, "to_version": 1, "actor": "ops", "reason": "first", "metadata": {},
         "flow_run_id": "run-1"},
    ]
    rows = views.serving_rows(moves)
    assert [(r.version, r.kind, r.end) for r in rows] == [
        (1, "rollback", None), (2, "promotion", T0 + timedelta(hours=2)), (1, "promotion", T0 + timedelta(hours=1))]
    assert rows[-1].flow_run_id == "run-1"
    spans = views.serving_spans(rows, T0 + timedelta(hours=3), lambda v: f"/versions/m/{v}")
    assert [s.version for s in spans] == [1, 2, 1] and spans[-1].end == T0 + timedelta(hours=3)


def test_ages_read_in_their_two_largest_units():
    assert views.age(T0 - timedelta(days=3, hours=4, minutes=5), T0) == "3 d 4 h"
    assert views.age(T0 - timedelta(hours=2, minutes=5), T0) == "2 h 5 min"
    assert views.age(T0 - timedelta(seconds=40), T0) == "40 s"
    assert views.age(None, T0) == "–"


def test_list_positions_round_trip_and_garbage_is_refused():
    text = views.cursor_text({"ts": T0, "id": 42})
    assert views.parse_cursor(text) == (T0, 42)
    for bad in ("yesterday", "2026-01-05T12:00:00_1", "2026-01-05T12:00:00+00:00_x"):
        with pytest.raises(ValueError):
            views.parse_cursor(bad)


def test_the_reproduce_command_is_quoted_for_the_shell():
    assert views.reproduce_command("m; rm -rf /", 3) == "alphaplus versions reproduce 'm; rm -rf /' 3"
