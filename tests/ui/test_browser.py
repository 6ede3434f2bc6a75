"""The dashboard in a real headless chromium, served by `alphaplus ui` under a reader login: every page
renders its parts, the console stays free of errors (CSP violations included), hostile names stay
text, links, filters, pagination and the theme switch work. Screenshots go to .alphaplus/ui-screenshots/."""

from __future__ import annotations

import pytest

from alphaplus.ui.links import slot_path, version_path, with_query
from tests.ui import browser
from tests.ui.conftest import HOSTILE_SYMBOL, PAGE_SIZE

_MISSING = browser.missing_browser()
if _MISSING:
    print(f"\nbrowser tests skipped: {_MISSING}")
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"browser tests need a browser: {_MISSING}")


@pytest.fixture(scope="module")
def base_url(reader_settings, seeded, tmp_path_factory):
    """`alphaplus ui` on a free port, on the reader login; stopped after the module."""
    env = {"ALPHAPLUS_DATABASE_URL": reader_settings.database_url, "ALPHAPLUS_HOME": str(reader_settings.home),
           "ALPHAPLUS_UI_PAGE_SIZE": str(PAGE_SIZE), "PREFECT_UI_URL": "http://127.0.0.1:4200"}
    child, port = browser.serve(env, tmp_path_factory.mktemp("ui-server") / "server.log")
    yield f"http://127.0.0.1:{port}"
    browser.stop(child)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    d = browser.start_browser(tmp_path_factory.mktemp("chromium-profile"))
    yield d
    d.quit()


def visit(driver, base_url: str, path: str, shot: str):
    from selenium.webdriver.common.by import By

    driver.get(base_url + path)
    assert driver.find_element(By.CSS_SELECTOR, "header.top nav")  # the page rendered
    errors = browser.console_errors(driver)
    assert not errors, errors
    browser.screenshot(driver, shot)
    return driver


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def test_the_overview_renders_the_slot_grid_with_sparklines_and_badges(driver, base_url, seeded):
    visit(driver, base_url, with_query("/", {"model": seeded.model}), "overview")
    model = css(driver, "section.model")
    assert len(model) == 1 and model[0].find_element("css selector", "h2").text == seeded.model
    cells = css(driver, "a.cell")
    assert len(cells) == 3
    assert len(css(driver, "svg.spark polyline")) == 1 and len(css(driver, "svg.spark.empty")) == 2
    badges = {b.text for b in css(driver, ".badge")}
    assert {"rolled back", f"canary v{seeded.versions['v3']}", "market shift"} <= badges
    cells[0].click()  # ranging/BTCUSDT sorts first
    assert driver.current_url.endswith(slot_path(seeded.model, "ranging", "BTCUSDT"))
    assert not browser.console_errors(driver)


def test_the_slot_page_renders_timeline_chart_and_tables(driver, base_url, seeded):
    visit(driver, base_url, slot_path(seeded.model, "trending", "BTCUSDT"), "slot")
    assert len(css(driver, "#timeline svg.timeline rect.span")) == 3
    assert len(css(driver, "#performance svg.chart polyline.series")) >= 8  # two versions x four panels
    # A rollback marker per panel drawn (the drift panel only once PSI was measured over enough bars).
    assert len(css(driver, "#performance svg.chart line.marker.rollback")) in (3, 4)
    assert len(css(driver, "#gate table.list tbody tr")) == 2
    assert len(css(driver, "#rollbacks table.list tbody tr")) == 1
    assert len(css(driver, "#shadow table.list tbody tr")) == 1
    flow_links = [a.get_attribute("href") for a in css(driver, "#timeline a[rel~=noopener]")]
    assert flow_links and flow_links[0].startswith("http://127.0.0.1:4200/runs/flow-run/")
    css(driver, "#timeline svg.timeline a")[0].click()  # a stretch of the bar opens its version
    assert "/versions/" in driver.current_url
    assert not browser.console_errors(driver)


def test_the_version_page_renders_metrics_artifact_and_lineage_graph(driver, base_url, seeded):
    v = seeded.versions
    visit(driver, base_url, version_path(seeded.model, v["v2"]), "version")
    headers = [th.text for th in css(driver, "#metrics thead th")]
    assert headers == ["metric", "train", "validation", "holdout", "gate window", "live"]
    assert css(driver, "#verified")[0].text.startswith("yes")
    nodes = css(driver, "#lineage svg.lineage rect.node")
    assert len(nodes) == 3 and len(css(driver, "#lineage svg.lineage rect.node.current")) == 1
    assert "alphaplus versions reproduce" in css(driver, "#reproduce code")[0].text
    css(driver, "#lineage svg.lineage a")[0].click()  # the parent
    assert driver.current_url.endswith(version_path(seeded.model, v["v1"]))


def test_the_rollbacks_page_filters_with_its_form(driver, base_url, seeded):
    visit(driver, base_url, "/rollbacks", "rollbacks")
    assert css(driver, "#rollback-list tbody tr")
    field = css(driver, "form.filters input[name=model]")[0]
    field.send_keys(seeded.model)
    field.submit()
    rows = css(driver, "#rollback-list tbody tr")
    # The manual rollback and the one its quarantine made.
    assert len(rows) == 2 and all(seeded.model in row.text for row in rows)
    assert not browser.console_errors(driver)


def test_the_audit_page_pages_back_with_its_links(driver, base_url, seeded):
    visit(driver, base_url, with_query("/audit", {"model": seeded.model}), "audit")
    first = [r.text for r in css(driver, "#audit-list tbody tr")]
    assert len(first) == PAGE_SIZE
    css(driver, "a[rel=next]")[0].click()
    second = [r.text for r in css(driver, "#audit-list tbody tr")]
    assert second and not set(first) & set(second)
    css(driver, "a[rel=prev]")[0].click()
    assert [r.text for r in css(driver, "#audit-list tbody tr")] == first
    assert not browser.console_errors(driver)


def test_a_hostile_model_name_is_shown_as_text_and_runs_nothing(driver, base_url, seeded):
    from selenium.common.exceptions import NoAlertPresentException

    hostile = seeded.hostile
    for path, shot in ((with_query("/", {"model": hostile}), "hostile-overview"),
                       (slot_path(hostile, "trending", HOSTILE_SYMBOL), "hostile-slot"),
                       (version_path(hostile, seeded.versions["h1"]), "hostile-version")):
        visit(driver, base_url, path, shot)
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert  # an injected alert() would be open now
        assert driver.execute_script("return document.scripts.length") == 1  # /static/theme.js
        assert driver.execute_script("return document.querySelectorAll('img, svg[onload]').length") == 0
        assert hostile in css(driver, ".model-name")[0].text
    visit(driver, base_url, slot_path(hostile, "trending", HOSTILE_SYMBOL), "hostile-slot")
    assert css(driver, "h1")[0].text.endswith(f"trending / {HOSTILE_SYMBOL}")


def test_an_unknown_slot_shows_the_404_page(driver, base_url):
    from selenium.webdriver.common.by import By

    driver.get(base_url + slot_path("no_such_model", "trending", "BTCUSDT"))
    assert "404" in driver.find_element(By.CSS_SELECTOR, "#error h1").text
    errors = browser.console_errors(driver)
    # The browser reports the 404 status of the page itself; nothing else may fail.
    assert all("404" in e["message"] and "no_such_model" in e["message"] for e in errors), errors
    browser.screenshot(driver, "not-found")


def test_the_theme_switch_turns_dark_and_light_and_is_remembered(driver, base_url, seeded):
    visit(driver, base_url, slot_path(seeded.model, "trending", "BTCUSDT"), "slot-light")
    background = "return getComputedStyle(document.documentElement).backgroundColor"
    driver.execute_script("document.documentElement.setAttribute('data-theme', 'light')")
    light = driver.execute_script(background)
    css(driver, "#theme-toggle")[0].click()
    dark = driver.execute_script(background)
    assert dark != light and driver.execute_script("return document.documentElement.dataset.theme") == "dark"
    driver.refresh()
    assert driver.execute_script(background) == dark
    browser.screenshot(driver, "slot-dark")
    css(driver, "#theme-toggle")[0].click()
    assert driver.execute_script(background) == light
    assert not browser.console_errors(driver)


def test_a_slot_of_real_trained_models_renders_its_history_and_rollback(driver, base_url, trained_slot):
    t = trained_slot
    visit(driver, base_url, slot_path(t.model, t.regime, t.symbol), "trained-slot")
    assert len(css(driver, "#performance svg.chart circle.point")) >= 3 * t.live_windows
    # A rollback marker per panel drawn (the drift panel only once PSI was measured over enough bars).
    assert len(css(driver, "#performance svg.chart line.marker.rollback")) in (3, 4)
    assert len(css(driver, "#timeline svg.timeline rect.span")) == 3
    assert len(css(driver, "#shadow table.list tbody tr")) == 1
    visit(driver, base_url, version_path(t.model, t.v1), "trained-version")
    assert css(driver, "#verified")[0].text.startswith("yes")
    assert "live" in [th.text for th in css(driver, "#metrics thead th")]
