"""SQL of the inference engine: the LISTEN connection for slot changes, the batched write of
inference events (COPY) with their usage aggregates.

Events are written with binary COPY. asyncpg's own record encoder spends ~6 us per row on a
22-float array alone, more than the server needs to store the row, so the common rows (successful,
no NULLs) are encoded here for a whole batch at once with numpy; the others (failures, rows without
features) go through asyncpg's encoder in the same transaction.
"""

from __future__ import annotations

from typing import Callable, Sequence

import asyncpg
import numpy as np
import pandas as pd

from alphaplus.core.errors import DatabaseUnavailable
from alphaplus.core.records import EVENT_FIELDS, UsageRow
from alphaplus.core.settings import Settings
from db.errors import translate
from db.pool import connect
# The running-mean usage update is defined once, with the registry; it runs here inside the same
# transaction as the COPY so a batch and its usage are written together or not at all.
from db.registry_sql import RECORD_USAGE

CHANNEL = "alphaplus_slots"

_PING = "SELECT 1"

# SQLSTATE classes and codes that mean "the server is not there right now", not "this data is wrong":
# connection exceptions, insufficient resources, operator intervention (shutdown, starting up).
_TRANSIENT_CLASSES = ("08", "53", "57P")


def _is_transient(e: asyncpg.PostgresError) -> bool:
    state = getattr(e, "sqlstate", None) or ""
    return state.startswith(_TRANSIENT_CLASSES)


# Binary COPY framing (PostgreSQL docs, "COPY ... Binary Format").
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_FLOAT4_OID = 700


def _text_field(name: str, size: int) -> list[tuple]:
    return [(f"{name}_len", ">i4"), (name, f"S{size}")] if size else [(f"{name}_len", ">i4")]


def _uniform_rows(rows: list[tuple], model_name: str, regime: str, symbol_size: int, shadow: bool,
                  width: int) -> bytes:
    """Binary COPY tuples of rows sharing their model, regime, flags, feature count and the UTF-8 size of
    their symbols (symbols of one size fill one fixed-width column: a bar close of many symbols is a
    few groups, not one per symbol); no NULLs."""
    n = len(rows)
    cols = list(zip(*rows))
    texts = {"model": model_name.encode("utf-8"), "regime": regime.encode("utf-8")}
    fields = [("nfields", ">i2"), ("ts_len", ">i4"), ("ts", ">i8"), ("bar_len", ">i4"), ("bar", ">i8")]
    fields += _text_field("model", len(texts["model"]))
    fields += [("version_len", ">i4"), ("version", ">i4")]
    fields += _text_field("regime", len(texts["regime"])) + _text_field("symbol", symbol_size)
    fields += [("shadow_len", ">i4"), ("shadow", "u1"), ("success_len", ">i4"), ("success", "u1"),
               ("error_len", ">i4"), ("latency_len", ">i4"), ("latency", ">f8"),
               ("prediction_len", ">i4"), ("prediction", ">i2"), ("probability_len", ">i4"), ("probability", ">f8"),
               ("features_len", ">i4"), ("ndim", ">i4"), ("hasnull", ">i4"), ("elemtype", ">i4"), ("dim", ">i4"),
               ("lbound", ">i4"), ("values", [("len", ">i4"), ("v", ">f4")], (width,))]
    out = np.empty(n, dtype=np.dtype(fields))
    out["nfields"] = len(EVENT_FIELDS)
    out["ts_len"] = out["bar_len"] = 8
    out["ts"] = pd.DatetimeIndex(cols[0]).as_unit("us").asi8 - _PG_EPOCH_US
    out["bar"] = pd.DatetimeIndex(cols[1]).as_unit("us").asi8 - _PG_EPOCH_US
    for name, data in texts.items():
        out[f"{name}_len"] = len(data)
        if data:
            out[name] = data
    out["symbol_len"] = symbol_size
    if symbol_size:
        out["symbol"] = np.array([symbol.encode("utf-8") for symbol in cols[5]], dtype=f"S{symbol_size}")
    out["version_len"] = 4
    out["version"] = np.asarray(cols[3], dtype=np.int64)
    out["shadow_len"] = out["success_len"] = 1
    out["shadow"] = 1 if shadow else 0
    out["success"] = 1
    out["error_len"] = -1
    out["latency_len"] = out["probability_len"] = 8
    out["latency"] = np.asarray(cols[9], dtype=np.float64)
    out["prediction_len"] = 2
    out["prediction"] = np.asarray(cols[10], dtype=np.int64)
    out["probability"] = np.asarray(cols[11], dtype=np.float64)
    out["features_len"] = 20 + 8 * width
    out["ndim"], out["hasnull"], out["elemtype"], out["dim"], out["lbound"] = 1, 0, _FLOAT4_OID, width, 1
    out["values"]["len"] = 4
    out["values"]["v"] = np.asarray(cols[12], dtype=np.float32).reshape(n, width)
    return out.tobytes()


def _split(events: Sequence[tuple]) -> tuple[dict[tuple, list[tuple]], list[tuple]]:
    """Rows the fast encoder takes, grouped by what they share; and the rest."""
    groups: dict[tuple, list[tuple]] = {}
    rest: list[tuple] = []
    for ev in events:
        features = ev[12]
        if (ev[7] is True and ev[8] is None and ev[1] is not None and ev[10] is not None
                and ev[11] is not None and features is not None):
            key = (ev[2], ev[4], len(ev[5].encode("utf-8")), bool(ev[6]), len(features))
            group = groups.get(key)
            if group is None:
                groups[key] = [ev]
            else:
                group.append(ev)
        else:
            rest.append(ev)
    return groups, rest


async def _copy(conn: asyncpg.Connection, events: Sequence[tuple]) -> None:
    groups, rest = _split(events)
    if groups:
        payload = b"".join([_COPY_HEADER, *(_uniform_rows(rows, *key) for key, rows in groups.items()),
                            _COPY_TRAILER])

        async def source():
            yield payload

        await conn.copy_to_table("inference_events", source=source(), columns=list(EVENT_FIELDS), format="binary")
    if rest:
        await conn.copy_records_to_table("inference_events", records=rest, columns=EVENT_FIELDS)


async def write_events(pool: asyncpg.Pool, events: Sequence[tuple], usage: Sequence[UsageRow]) -> None:
    """COPY a batch of event tuples into inference_events and add its usage, in one transaction.

    Raises DatabaseUnavailable when the server cannot be reached (the batch may be retried) and a
    domain error when the database refuses the rows.
    """
    try:
        async with pool.acquire() as conn, conn.transaction():
            await _copy(conn, events)
            if usage:
                await conn.execute(RECORD_USAGE, *[list(c) for c in zip(*usage)])
    except asyncpg.PostgresError as e:
        if _is_transient(e):
            raise DatabaseUnavailable(f"database unavailable: {e}") from e
        raise translate(e) from e
    except (OSError, asyncpg.InterfaceError, TimeoutError) as e:
        raise DatabaseUnavailable(f"database connection lost: {e}") from e


def event_writer(pool: asyncpg.Pool) -> Callable:
    """The recorder's sink over ``pool``."""

    async def sink(events: list[tuple], usage: list[UsageRow]) -> None:
        await write_events(pool, events, usage)

    return sink


async def open_listener(
    dsn: str,
    settings: Settings,
    on_notify: Callable[[str], None],
    on_lost: Callable[[], None],
) -> asyncpg.Connection:
    """A dedicated connection LISTENing on the slot channel: ``on_notify(payload)`` per notification,
    ``on_lost()`` when the connection ends. Raises DatabaseUnavailable when it cannot connect."""
    conn = await connect(dsn, settings)
    try:
        conn.add_termination_listener(lambda _conn: on_lost())
        await conn.add_listener(CHANNEL, lambda _conn, _pid, _channel, payload: on_notify(payload))
    except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as e:
        conn.terminate()
        raise DatabaseUnavailable(f"cannot LISTEN on {CHANNEL}: {e}") from e
    return conn


async def ping(conn: asyncpg.Connection, timeout: float) -> bool:
    """True when the connection still answers within ``timeout`` seconds."""
    try:
        await conn.fetchval(_PING, timeout=timeout)
        return True
    except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError):
        return False


async def close_listener(conn: asyncpg.Connection) -> None:
    """Close a listener connection, abruptly if the server is gone."""
    if conn.is_closed():
        return
    try:
        await conn.close(timeout=2)
    except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError):
        conn.terminate()
