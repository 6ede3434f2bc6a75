"""Artifact housekeeping: files of failed registrations go, registered versions' files never do."""

from __future__ import annotations

import asyncio
import os
import time

from alphaplus.cli.main import main
from alphaplus.registry.service import Registry
from alphaplus.core.settings import Settings, get_settings
from tests.db.conftest import make_lineage


async def test_gc_removes_only_old_files_no_registered_version_points_to(
    database_url, tmp_path, monkeypatch, model_name, capsys
):
    settings = Settings(database_url=database_url, home=tmp_path)
    registry = await Registry.open(settings)
    kept = (await registry.register_model_version(make_lineage(model_name), model={"w": 1})).version
    orphan = registry.artifacts.save({"never": "registered"})  # as a crashed registration leaves it
    fresh = registry.artifacts.save({"still": "registering"})
    partial = registry.artifacts.root / "ab" / ".incoming-x1y2"
    partial.parent.mkdir(exist_ok=True)
    partial.write_bytes(b"half a pickle")
    an_hour_ago = time.time() - 3600
    for path in (registry.artifacts.resolve(kept.artifact.path), registry.artifacts.resolve(orphan.path), partial):
        os.utime(path, (an_hour_ago, an_hour_ago))

    monkeypatch.setenv("ALPHAPLUS_DATABASE_URL", database_url)
    monkeypatch.setenv("ALPHAPLUS_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        # The CLI runs its own event loop: call it from a thread, as a terminal would from a process.
        assert await asyncio.to_thread(main, ["artifacts", "gc", "--older-than-hours", "0.5", "--dry-run"]) == 0
        assert registry.artifacts.resolve(orphan.path).exists()
        assert await asyncio.to_thread(main, ["artifacts", "gc", "--older-than-hours", "0.5"]) == 0
    finally:
        get_settings.cache_clear()
    assert "removed 2 unreferenced file(s)" in capsys.readouterr().out
    assert not registry.artifacts.resolve(orphan.path).exists() and not partial.exists()
    assert registry.artifacts.resolve(fresh.path).exists()  # too young: a registration may be in flight
    assert await registry.load_model(await registry.get_version(model_name, kept.version)) == {"w": 1}
