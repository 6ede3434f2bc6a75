"""Every route of the dashboard over HTTP, on a reader login: what each page shows, its error pages
(never a traceback), security headers, escaping of hostile names, pagination and read-only sessions."""

from __future__ import annotations

import re
import uuid

import pytest

from alphaplus.ui.app import create_app
from alphaplus.ui.links import slot_path, version_path, with_query
from tests.ui.conftest import HOSTILE_SYMBOL, PAGE_SIZE

HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_secure(response) -> None:
    for name, expected in HEADERS.items():
        assert expected in response.headers.get(name, ""), (name, response.headers.get(name))
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp
    assert "server" not in response.headers


def assert_no_traceback(response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text


def section(html: str, ident: str) -> str:
    start = html.index(f'id="{ident}"')
    end = html.find("<section", start)
    return html[start:end if end > 0 else len(html)]


def test_the_overview_shows_each_slot_with_its_production_version_quality_and_badges(client, seeded):
    r = client.get(with_query("/", {"model": seeded.model}))
    assert r.status_code == 200
    assert_secure(r)
    html = r.text
    assert f'data-model="{seeded.model}"' in html
    assert html.count('class="cell"') == 3  # trending/BTCUSDT, ranging/BTCUSDT, trending/ETHUSDT
    assert f'href="{slot_path(seeded.model, "trending", "BTCUSDT")}"' in html
    assert f'v{seeded.versions["v1"]}</span>' in html
    assert "rolled back" in html and f"canary v{seeded.versions['v3']}" in html
    assert "market shift" in html
    assert "no production" in html  # trending/ETHUSDT
    assert 'class="spark"' in html and "<polyline" in html
    assert "acc <b>0.560</b>" in html  # the latest live window: 112 of 200


async def test_the_overview_pages_through_many_slots(client, settings):
    from alphaplus.registry.service import Registry
    from alphaplus.ui.service import SLOTS_PER_PAGE
    from tests.db.conftest import make_lineage

    registry = await Registry.open(settings)
    model = f"ui_many_{uuid.uuid4().hex[:8]}"
    for i in range(SLOTS_PER_PAGE + 1):
        await registry.register_model_version(make_lineage(model, symbol=f"S{i:03d}"), model={"w": i})
    first = client.get(with_query("/", {"model": model}))
    assert first.text.count('class="cell"') == SLOTS_PER_PAGE and "page 1 of 2" in first.text
    assert f"{SLOTS_PER_PAGE + 1} slots" in first.text
    second = client.get(re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&"))
    assert second.text.count('class="cell"') == 1 and "S050" in second.text


def test_the_overview_pages_and_filters_models(client, seeded):
    r = client.get(with_query("/", {"model": "no model has this name"}))
    assert r.status_code == 200 and 'id="no-slots"' in r.text
    r = client.get("/?page=999")
    assert r.status_code == 200 and "No slots on this page" in r.text


def test_the_slot_page_shows_timeline_chart_gate_rollbacks_shadow_and_versions(client, seeded):
    v = seeded.versions
    r = client.get(slot_path(seeded.model, "trending", "BTCUSDT"))
    assert r.status_code == 200
    assert_secure(r)
    html = r.text
    timeline = section(html, "timeline")
    assert timeline.count("<tr>") == 4  # header + three stretches: v1, v2, v1 again
    assert "rollback (manual): live accuracy fell after the promotion" in timeline
    assert 'class="move rollback"' in timeline and "forced: first model" in timeline
    # The forced promotion's flow run, linked into the Prefect UI.
    assert re.search(r'href="http://127\.0\.0\.1:4200/runs/flow-run/[0-9a-f-]{36}"', timeline)
    assert '<svg class="timeline"' in timeline
    chart = section(html, "performance")
    assert '<svg class="chart"' in chart
    assert chart.count('class="marker rollback"') == 4  # one per panel
    assert chart.count('class="marker promotion"') >= 4
    assert f'series v{v["v2"] % 8}' in chart and f'series v{v["v1"] % 8}' in chart
    assert 'class="threshold"' in chart
    gate = section(html, "gate")
    assert "mcnemar_exact" in gate and "forced by operator: first model" in gate
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;" in gate  # the hostile reason, as text
    rollbacks = section(html, "rollbacks")
    assert "executed" in rollbacks and "manual" in rollbacks
    shadow = section(html, "shadow")
    assert f'v{v["v1"]}</a>' in shadow and "0.555" in shadow  # 111 of 200 correct, 12 windows
    versions = section(html, "versions")
    statuses = dict(re.findall(r'>v(\d+)</a></td><td><span class="status s-[a-z-]+">([a-z_]+)</span>', versions))
    assert statuses == {str(v["v1"]): "production", str(v["v2"]): "failed", str(v["v3"]): "canary"}


def test_the_slot_page_flags_a_market_shift_and_pages_its_versions(client, seeded):
    r = client.get(slot_path(seeded.model, "ranging", "BTCUSDT"))
    assert r.status_code == 200
    assert "market shift" in section(r.text, "slot-head")
    r = client.get(with_query(slot_path(seeded.model, "trending", "BTCUSDT"), {"windows": 10, "versions_page": 2}))
    assert r.status_code == 200  # three versions, page size 4: an empty second page, not an error


def test_the_version_page_shows_metrics_by_set_artifact_lineage_and_reproduce(client, seeded):
    v = seeded.versions
    r = client.get(version_path(seeded.model, v["v2"]))
    assert r.status_code == 200
    assert_secure(r)
    html = r.text
    metrics = section(html, "metrics")
    for name in ("train", "validation", "holdout", "gate window", "live"):
        assert f'<th scope="col">{name}</th>' in metrics
    assert "0.7100" in metrics and "0.5600" in metrics and "0.5700" in metrics and "0.5800" in metrics
    assert "gate window: the unseen rows its promotion gate scored it on (1,500 rows" in metrics
    assert "Metrics in these reasons are measured on each gate" in section(html, "decisions")
    artifact = section(html, "artifact")
    assert "matches its registered size and SHA-256" in artifact and ">yes<" in artifact
    lineage = section(html, "lineage")
    assert '<svg class="lineage"' in lineage
    assert f'href="{version_path(seeded.model, v["v1"])}"' in lineage  # parent
    assert f'href="{version_path(seeded.model, v["v3"])}"' in lineage  # child
    assert f"alphaplus versions reproduce {seeded.model} {v['v2']}" in section(html, "reproduce")


def test_a_quarantined_version_says_why(client, seeded):
    r = client.get(version_path(seeded.model, seeded.versions["v4"]))
    assert r.status_code == 200
    assert "trained on a bad vendor feed" in r.text and 'id="quarantine"' in r.text


def test_a_missing_artifact_shows_as_not_verified(client, seeded, reader_settings, tmp_path):
    from fastapi.testclient import TestClient

    other = reader_settings.model_copy(update={"artifact_root": tmp_path})
    with TestClient(create_app(other)) as c:
        r = c.get(version_path(seeded.model, seeded.versions["v1"]))
    assert r.status_code == 200
    assert ">NO<" in section(r.text, "artifact") and "is missing from" in r.text


def test_rollbacks_are_listed_newest_first_filtered_and_paginated(client, seeded):
    r = client.get(with_query("/rollbacks", {"model": seeded.model}))
    assert r.status_code == 200
    assert_secure(r)
    # Header, the manual rollback and the quarantine's rollback.
    assert r.text.count("<tr>") == 3 and "live accuracy fell after the promotion" in r.text
    r = client.get(with_query("/rollbacks", {"model": seeded.model, "outcome": "dry_run"}))
    assert 'id="no-rows"' in r.text
    r = client.get(with_query("/rollbacks", {"type": "manual", "outcome": "executed"}))
    assert r.status_code == 200


def newest_first_times(html: str) -> list[str]:
    return re.findall(r"<tr><td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td>", html)


def test_the_audit_log_pages_back_and_forth_without_gaps_or_repeats(client, seeded):
    params = {"model": seeded.model, "regime": "trending", "symbol": "BTCUSDT"}
    first = client.get(with_query("/audit", params))
    assert first.status_code == 200
    assert_secure(first)
    rows = [first.text.count("<tr><td>")]
    older = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(older)
    assert second.status_code == 200
    rows.append(second.text.count("<tr><td>"))
    assert rows == [PAGE_SIZE, PAGE_SIZE]
    assert newest_first_times(first.text)[-1] >= newest_first_times(second.text)[0]
    newer = re.search(r'rel="prev" href="([^"]+)"', second.text).group(1).replace("&amp;", "&")
    back = client.get(newer)
    assert newest_first_times(back.text) == newest_first_times(first.text)
    assert 'rel="prev"' not in back.text  # the newest page again


def test_the_audit_log_filters_by_version_and_event(client, seeded):
    v1 = seeded.versions["v1"]
    r = client.get(with_query("/audit", {"model": seeded.model, "version": v1, "event": "production_moved"}))
    assert r.status_code == 200
    assert r.text.count("<tr><td>") == 3  # in, out (v2 promoted), in again (rollback)


@pytest.mark.parametrize("path", [
    slot_path("no_such_model", "trending", "BTCUSDT"),
    "/slots/only/two",
    "/slots/a/b/c/d",
    version_path("no_such_model", 1),
    "/versions/x/notanumber",
    "/versions/x/0",
    "/no/such/page",
])
def test_unknown_addresses_answer_a_404_page(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert_secure(r)
    assert_no_traceback(r)
    assert 'id="error"' in r.text and "404" in r.text


def test_an_unknown_slot_of_a_known_model_is_a_404_naming_it(client, seeded):
    r = client.get(slot_path(seeded.model, "trending", "NOPE"))
    assert r.status_code == 404 and "&#39;NOPE&#39;" in r.text


@pytest.mark.parametrize("path", [
    "/?page=0", "/?page=x", "/audit?version=abc", "/audit?event=deleted", "/rollbacks?type=bad",
    "/rollbacks?outcome=nope", "/audit?before=yesterday", "/audit?before=2026-01-01T00:00:00_1",
    "/audit?before=2026-01-01T00:00:00%2B00:00_1&after=2026-01-01T00:00:00%2B00:00_2",
    "/slots/a/b/c?windows=1",
])
def test_bad_parameters_answer_a_400_page(client, path):
    r = client.get(path)
    assert r.status_code == 400, r.text
    assert_secure(r)
    assert_no_traceback(r)


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_nothing_changes_state_every_other_method_is_refused(client, seeded, method):
    r = getattr(client, method)(slot_path(seeded.model, "trending", "BTCUSDT"))
    assert r.status_code == 405
    assert_secure(r)


def test_a_hostile_model_name_renders_as_text_on_every_page(client, seeded):
    hostile = seeded.hostile
    pages = ["/", with_query("/", {"model": hostile}), slot_path(hostile, "trending", HOSTILE_SYMBOL),
             version_path(hostile, seeded.versions["h1"]), with_query("/rollbacks", {"model": hostile}),
             with_query("/audit", {"model": hostile})]
    for page in pages:
        r = client.get(page)
        assert r.status_code == 200, page
        assert "<script>alert" not in r.text and "<img src=x" not in r.text and "<svg onload" not in r.text
        assert r.text.count("<script") == 1  # /static/theme.js only
    html = client.get(slot_path(hostile, "trending", HOSTILE_SYMBOL)).text
    assert hostile in html and HOSTILE_SYMBOL in html
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in html
    # Its links lead back to it: the name survives percent-encoding, '/' and '%' included.
    link = version_path(hostile, seeded.versions["h2"])
    assert f'href="{link}"' in html
    assert client.get(link).status_code == 200


def test_static_assets_are_served_by_the_app(client):
    for path, kind in (("/static/style.css", "text/css"), ("/static/theme.js", "javascript"),
                       ("/static/favicon.svg", "image/svg+xml")):
        r = client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert_secure(r)
    assert client.get("/favicon.ico", follow_redirects=False).headers["location"] == "/static/favicon.svg"


def test_a_request_for_another_host_name_is_refused(client):
    r = client.get("/", headers={"host": "attacker.example"})
    assert r.status_code == 400
    assert_secure(r)


def test_an_unreachable_database_is_a_503_page_without_the_password(reader_settings):
    from fastapi.testclient import TestClient

    from tests.db.test_security import closed_port

    url = f"postgresql://someone:hunter2secret@127.0.0.1:{closed_port()}/nowhere"
    with TestClient(create_app(reader_settings, database_url=url)) as c:
        r = c.get("/")
    assert r.status_code == 503
    assert_secure(r)
    assert "hunter2secret" not in r.text and "Database unavailable" in r.text


def test_an_unexpected_error_is_a_500_page_with_headers_and_no_traceback(reader_settings, monkeypatch):
    from fastapi.testclient import TestClient

    from alphaplus.ui.service import Dashboard

    async def broken(self, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Dashboard, "overview", broken)
    with TestClient(create_app(reader_settings)) as c:
        r = c.get("/")
    assert r.status_code == 500
    assert_secure(r)
    assert_no_traceback(r)
    assert "secret internals" not in r.text


async def test_the_dashboards_database_sessions_are_read_only(reader_settings, settings):
    """Even on a login that could write, a statement through the dashboard's pool cannot."""
    from alphaplus.core.errors import AlphaPlusError
    from alphaplus.ui.service import Dashboard
    from db.errors import translated

    dashboard = Dashboard(settings, settings.database_url)  # the session's owner login
    pool = await dashboard.pool()
    with pytest.raises(AlphaPlusError, match="read-only transaction"):
        with translated():
            await pool.execute("INSERT INTO ml_models (model_name) VALUES ('written_by_the_dashboard')")


async def test_a_parent_in_another_model_is_linked_both_ways(client, seeded, settings):
    from dataclasses import replace

    from alphaplus.registry.service import Registry
    from tests.db.conftest import make_lineage

    registry = await Registry.open(settings)
    other = f"ui_distilled_{uuid.uuid4().hex[:8]}"  # not matched by the overview filter of seeded.model
    lineage = replace(make_lineage(other), parent_model_name=seeded.model, parent_model_version=seeded.versions["v1"])
    child = (await registry.register_model_version(lineage, model={"w": other})).version.version
    r = client.get(version_path(other, child))
    assert r.status_code == 200
    assert f'href="{version_path(seeded.model, seeded.versions["v1"])}"' in section(r.text, "lineage")
    r = client.get(version_path(seeded.model, seeded.versions["v1"]))
    assert f'href="{version_path(other, child)}"' in section(r.text, "lineage")
