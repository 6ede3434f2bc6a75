"""The replay's own database: created beside the live registry, migrated, made the process's
configured database for the replay's duration (every service and task reads its settings, so they all
write there), dropped afterwards unless kept. The live registry is only read (its candles)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from alphaplus.core.settings import Settings, environment, get_settings

log = logging.getLogger(__name__)

# Variables that choose the database or the artifact root: the replay sets the first and the last, and
# unsets the others (they are exclusive with the URL).
_DATABASE_VARS = ("ALPHAPLUS_DATABASE_URL", "ALPHAPLUS_DATABASE_URL_FILE", "ALPHAPLUS_DATABASE_SECRET_BLOCK",
                  "ALPHAPLUS_ARTIFACT_ROOT")


@dataclass(frozen=True)
class Scratch:
    """The scratch database and artifact folder of one replay."""

    name: str
    dsn: str
    artifact_root: Path
    settings: Settings


@contextlib.asynccontextmanager
async def scratch_database(live: Settings | None = None, *, keep: bool = False) -> AsyncIterator[Scratch]:
    """A migrated scratch database on the live registry's server, configured for the block's duration."""
    from db.pool import close_pool, resolve_dsn
    from db.scratch import create_scratch, drop_scratch, migrate_scratch, scratch_name

    live = live or get_settings()
    live_dsn = resolve_dsn(live)
    name = scratch_name(live_dsn, f"{os.getpid()}_{os.urandom(3).hex()}")
    dsn = await create_scratch(live_dsn, name)
    artifacts = Path(tempfile.mkdtemp(prefix=f"{name}_artifacts_"))
    try:
        await migrate_scratch(dsn)
        with environment({**dict.fromkeys(_DATABASE_VARS), "ALPHAPLUS_DATABASE_URL": dsn,
                          "ALPHAPLUS_ARTIFACT_ROOT": str(artifacts)}):
            yield Scratch(name, dsn, artifacts, get_settings())
    finally:
        await close_pool(dsn)
        if keep:
            log.warning("kept the replay's scratch database %s and artifacts under %s", name, artifacts)
        else:
            await drop_scratch(live_dsn, name)
            shutil.rmtree(artifacts, ignore_errors=True)
