"""A drop folder of candle files: ``<root>/<SYMBOL>/<timeframe>/*.csv|*.parquet``, written by another
process. Every retrain reads the files there now; files are immutable once read:

- a new file is read, checked row by row (as ``alphaplus data import`` checks a file) and remembered
  (path, size, modification time, SHA-256, rows, span) in the database;
- a remembered file whose size or modification time changed is hashed again: same content, it is
  read as before; other content is refused with a one-line error (a model trained on the earlier
  content could no longer be reproduced). Corrections go in a new file: for a bar present in several
  files, the file read later wins (then the later name);
- hidden files and names ending in .tmp or .part (still being written) are skipped: write a file
  under such a name and rename it into place;
- a file removed from the folder is simply no longer read.

No database, no Prefect: the service hands the remembered files in and records what is returned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from alphaplus.core.errors import InvalidInput
from alphaplus.market.frame import read_candles
from alphaplus.market.sanity import check_storable
from alphaplus.market.sources import canonical_candles

SUFFIXES = (".csv", ".parquet", ".pq")
_PARTIAL = (".tmp", ".part")
_HASH_CHUNK = 1 << 20


class ChangedFile(InvalidInput):
    """A file of the drop folder changed after it was read."""


@dataclass(frozen=True)
class DroppedFile:
    """One file as found now: its path relative to the folder, size, modification time and (once
    hashed) content hash."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None = None


@dataclass(frozen=True)
class FolderRead:
    """The candles of one (symbol, timeframe) and the files to remember (tuples for the record)."""

    candles: pd.DataFrame
    new_files: list[tuple]
    files_read: int


def series_folder(root: Path, symbol: str, timeframe: str) -> Path:
    """Where the files of (symbol, timeframe) are dropped."""
    return root / symbol / timeframe


def list_files(root: Path, symbol: str, timeframe: str) -> list[DroppedFile]:
    """The candle files of (symbol, timeframe) now, by name; a missing root is a clear error."""
    if not root.is_dir():
        raise InvalidInput(f"drop folder {root} does not exist or is not a folder (ALPHAPLUS_CANDLE_FOLDER)")
    folder = series_folder(root, symbol, timeframe)
    if not folder.resolve().is_relative_to(root.resolve()):
        raise InvalidInput(f"symbol {symbol[:40]!r} and timeframe {timeframe[:10]!r} name no folder inside {root}")
    if not folder.is_dir():
        return []
    out = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        name = entry.name.lower()
        if entry.name.startswith(".") or name.endswith(_PARTIAL) or not name.endswith(SUFFIXES) or not entry.is_file():
            continue
        stat = entry.stat()
        out.append(DroppedFile(str(entry.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_folder(root: Path, symbol: str, timeframe: str, remembered: Mapping[str, Mapping[str, Any]]) -> FolderRead:
    """Read every file of (symbol, timeframe), refusing one whose content changed since it was
    remembered; the candles of all files, later files winning a shared bar."""
    frames: list[tuple[tuple, pd.DataFrame]] = []
    new_files: list[tuple] = []
    for found in list_files(root, symbol, timeframe):
        path = root / found.path
        known = remembered.get(found.path)
        unchanged = known is not None and (known["size"], known["mtime_ns"]) == (found.size, found.mtime_ns)
        digest = known["sha256"] if unchanged else file_sha256(path)
        if known is not None and digest != known["sha256"]:
            raise ChangedFile(
                f"drop folder file {found.path} changed after it was read on {_when(known.get('first_read_at'))}; "
                "files are immutable once read: put corrections in a new file (a later file wins a shared bar)")
        frame = read_candles(path)
        check_storable(frame, source=f"drop folder file {found.path}")
        frame = canonical_candles(frame)
        order = (0, known["first_read_at"], found.path) if known is not None else (1, None, found.path)
        frames.append((order, frame))
        if known is None or not unchanged:
            first, last = (frame["ts"].iloc[0], frame["ts"].iloc[-1]) if len(frame) else (None, None)
            new_files.append((found.path, found.size, found.mtime_ns, digest, len(frame),
                              None if first is None else first.to_pydatetime(),
                              None if last is None else last.to_pydatetime()))
    return FolderRead(combine([f for _, f in sorted(frames, key=_read_order)]), new_files, len(frames))


def _read_order(item: tuple) -> tuple:
    (fresh, first_read_at, path), _ = item
    # Remembered files in the order they were first read, then new ones by name.
    return (fresh, first_read_at.timestamp() if first_read_at is not None else 0.0, path)


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One canonical frame of ``frames`` in read order: for a bar in several, the last one's row."""
    if not frames:
        return canonical_candles(pd.DataFrame({c: [] for c in ("ts", "open", "high", "low", "close", "volume")}))
    joined = pd.concat(frames, ignore_index=True)
    joined = joined[~joined["ts"].duplicated(keep="last")]
    return canonical_candles(joined)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "an earlier run"
