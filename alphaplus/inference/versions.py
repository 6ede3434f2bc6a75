"""Which version serves each slot, as an engine knows it: looked up once, kept until a notification on
'alphaplus_slots' names the slot, all dropped when the listener reconnects (notifications may have been
missed meanwhile). While the listener is down the last known versions keep serving: a trading process
should not stop because the registry is unreachable.

This module holds every registry read an engine makes about versions.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from alphaplus.core import lifecycle
from alphaplus.core.entities import ModelVersion, Slot
from alphaplus.core.errors import DatabaseUnavailable, NoProductionVersion
from alphaplus.core.settings import Settings
from alphaplus.inference.recorder import first_of

log = logging.getLogger(__name__)

SHADOW_STATUSES = (lifecycle.CANARY, lifecycle.ROLLBACK_CANDIDATE)
# Listener upkeep: a silent TCP connection is only known dead when used, so it is pinged.
LISTEN_KEEPALIVE_SECONDS = 5.0
LISTEN_PING_TIMEOUT_SECONDS = 2.0
# Reconnect backoff; capped low because a missed promotion is served late until reconnection.
RECONNECT_FIRST_DELAY_SECONDS = 0.05
RECONNECT_MAX_DELAY_SECONDS = 1.0


class ServingVersions:
    """Production and shadow versions of ``model_name``'s slots, cached and invalidated by LISTEN/NOTIFY."""

    def __init__(self, registry: Any, model_name: str, *, dsn: str, settings: Settings, shadow_limit: int,
                 keepalive_seconds: float = LISTEN_KEEPALIVE_SECONDS) -> None:
        self.registry = registry
        self.model_name = model_name
        self._dsn = dsn
        self._settings = settings
        self._shadow_limit = shadow_limit
        self._keepalive = keepalive_seconds
        self._production: dict[tuple[str, str], ModelVersion | None] = {}
        self._shadows: dict[tuple[str, str], tuple[ModelVersion, ...]] = {}
        # Bumped by every invalidation: a lookup that started before it must not fill the cache.
        self._generation = 0
        self.listener: Any = None
        self._lost = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.counts = dict(production_lookups=0, cache_hits=0, invalidations=0, listener_connects=0)

    # --- lookups ---------------------------------------------------------------------------------

    def known_production(self, regime: str, symbol: str) -> ModelVersion | None:
        """The production version when the cache knows it (NoProductionVersion when it knows the slot has
        none); None when it must be looked up."""
        try:
            version = self._production[(regime, symbol)]
        except KeyError:
            return None
        self.counts["cache_hits"] += 1
        if version is None:
            raise NoProductionVersion(
                f"no production version of {self.model_name} for regime '{regime}' and symbol '{symbol}'"
            )
        return version

    async def production(self, regime: str, symbol: str) -> ModelVersion:
        """The production version of (model_name, regime, symbol); NoProductionVersion when there is none."""
        known = self.known_production(regime, symbol)
        if known is not None:
            return known
        generation = self._generation
        self.counts["production_lookups"] += 1
        version = await self.registry.get_production_model(Slot(self.model_name, regime, symbol))
        if generation == self._generation:
            self._production[(regime, symbol)] = version
        if version is None:
            raise NoProductionVersion(
                f"no production version of {self.model_name} for regime '{regime}' and symbol '{symbol}'"
            )
        return version

    async def shadows(self, regime: str, symbol: str) -> tuple[ModelVersion, ...]:
        """Versions scored alongside production: the slot's canaries and rollback candidates, newest first."""
        key = (regime, symbol)
        cached = self._shadows.get(key)
        if cached is not None:
            return cached
        generation = self._generation
        numbers = await self.registry.versions_in(Slot(self.model_name, regime, symbol), SHADOW_STATUSES,
                                                 self._shadow_limit)
        versions = tuple([await self.registry.get_version(self.model_name, n) for n in numbers])
        if generation == self._generation:
            self._shadows[key] = versions
        return versions

    # --- invalidation ----------------------------------------------------------------------------

    def on_notify(self, payload: str) -> None:
        try:
            change = json.loads(payload)
            model_name, key = change["model_name"], (change["regime"], change["symbol"])
        except (ValueError, KeyError, TypeError):
            self.invalidate_all()
            return
        if model_name != self.model_name:
            return
        self._generation += 1
        self.counts["invalidations"] += 1
        self._production.pop(key, None)
        self._shadows.pop(key, None)

    def invalidate_all(self) -> None:
        self._generation += 1
        self.counts["invalidations"] += 1
        self._production.clear()
        self._shadows.clear()

    # --- the listener ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the listener (raises DatabaseUnavailable if it cannot) and keep it connected."""
        await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._keep_listening(),
                                                            name="alphaplus-inference-listener")

    async def close(self) -> None:
        from db.inference import close_listener

        self._closing.set()
        if self._task is not None:
            await self._task
        if self.listener is not None:
            await close_listener(self.listener)
            self.listener = None

    async def _connect(self) -> None:
        from db.inference import open_listener

        self._lost.clear()
        self.listener = await open_listener(self._dsn, self._settings, self.on_notify, self._lost.set)
        # Changes committed while nobody listened were not announced to this engine.
        self.invalidate_all()
        self.counts["listener_connects"] += 1

    async def _keep_listening(self) -> None:
        from db.inference import close_listener, ping

        delay = RECONNECT_FIRST_DELAY_SECONDS
        while not self._closing.is_set():
            if self.listener is None:
                try:
                    await self._connect()
                    log.info("inference listener reconnected")
                    delay = RECONNECT_FIRST_DELAY_SECONDS
                except DatabaseUnavailable as e:
                    log.warning("inference listener cannot reconnect (retrying in %.2f s): %s", delay, e)
                    await first_of(self._closing, timeout=delay)
                    delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)
                    continue
            await first_of(self._lost, self._closing, timeout=self._keepalive)
            if self._closing.is_set():
                return
            if self._lost.is_set() or not await ping(self.listener, LISTEN_PING_TIMEOUT_SECONDS):
                log.warning("inference listener connection lost; reconnecting")
                await close_listener(self.listener)
                self.listener = None
