"""The dashboard on a slot made by the real pipeline pieces: trained LightGBM versions, live predictions
of the inference engine resolved into performance history, shadow scores, and a rollback."""

from __future__ import annotations

import re

from alphaplus.ui.links import slot_path, version_path, with_query
from tests.ui.test_pages import assert_secure, section


async def test_the_slot_of_real_models_shows_their_live_history_shadow_scores_and_the_rollback(
    client, trained_slot, settings
):
    from db.pool import get_pool

    t = trained_slot
    pool = await get_pool(settings.database_url, settings)
    live = await pool.fetch("SELECT version, accuracy, max_psi FROM model_performance_history "
                            "WHERE model_name = $1 AND source = 'live' ORDER BY ts", t.model)
    assert [r["version"] for r in live] == [t.v1, t.v1, t.v2, t.v2, t.v1]
    shadow = await pool.fetchval("SELECT count(*) FROM model_performance_history "
                                 "WHERE model_name = $1 AND source = 'shadow' AND version = $2", t.model, t.v1)
    assert shadow == 2  # v1 scored in shadow while v2 served

    r = client.get(slot_path(t.model, t.regime, t.symbol))
    assert r.status_code == 200
    assert_secure(r)
    html = r.text
    assert section(html, "timeline").count("<tr>") == 4  # header, v1, v2, v1 again
    chart = section(html, "performance")
    assert chart.count("<circle") == 5 * 4 - sum(r["max_psi"] is None for r in live)  # a dot per window and panel
    # A marker per panel drawn (the drift panel only once PSI was measured over enough distinct bars).
    panels = 4 if any(r["max_psi"] is not None for r in live) else 3
    assert chart.count('class="marker rollback"') == panels and chart.count('class="marker promotion"') == panels
    assert f"v{t.v1}</a>" in section(html, "shadow")
    assert "live accuracy below v1&#39;s" in section(html, "rollbacks")
    assert "forced" in section(html, "gate")

    r = client.get(with_query("/", {"model": t.model}))
    assert f"acc <b>{live[-1]['accuracy']:.3f}</b>" in r.text

    r = client.get(version_path(t.model, t.v2))
    html = r.text
    assert '<th scope="col">live</th>' in section(html, "metrics")
    assert ">yes<" in section(html, "artifact")  # the real artifact hashes to its registered SHA-256
    assert re.search(r"xxh3_128:[0-9a-f]{32}", section(html, "lineage"))
