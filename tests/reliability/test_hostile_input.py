"""Hostile input: malformed candle files and frames, and hostile names and artifact paths. Each is
refused with one clear line (or stored exactly, when it is valid after all); nothing is stored from
bad data, and no file is written outside the artifact root."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg
import numpy as np
import pandas as pd
import pytest

from alphaplus.cli.main import main
from alphaplus.core.entities import Slot, StoredArtifact
from alphaplus.core.errors import ArtifactIntegrityError, InvalidInput
from alphaplus.market.frame import CandleFormatError
from alphaplus.market.synth import synth_candles
from alphaplus.core.settings import get_settings
from tests.db.conftest import make_lineage
from tests.reliability.hostile_files import ACCEPTED, REFUSED, csv_text, good_rows

pytestmark = pytest.mark.reliability

SEEDED_ROWS = 10


def count_candles(database_url: str, symbol: str) -> int:
    async def go() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM candles WHERE symbol = $1", symbol)
        finally:
            await conn.close()

    return asyncio.run(asyncio.wait_for(go(), 30))


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {captured.err[:2000]!r}"
    assert lines[0].startswith("error: ") and "Traceback" not in captured.err, lines[0][:500]
    return lines[0]


@pytest.fixture
def cli(monkeypatch, settings):
    """Run ``alphaplus`` in-process against the session database."""
    monkeypatch.setenv("ALPHAPLUS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ALPHAPLUS_HOME", str(settings.home))
    get_settings.cache_clear()
    yield main
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def seeded_symbol(tmp_path_factory, settings) -> str:
    """A symbol holding SEEDED_ROWS good candles, which no refused import may change."""
    symbol = f"HOSTILE{uuid.uuid4().hex[:8].upper()}"
    path = tmp_path_factory.mktemp("seed") / "seed.csv"
    path.write_text(csv_text(synth_candles(SEEDED_ROWS, seed=3, start=pd.Timestamp("2023-01-01"))))
    os.environ["ALPHAPLUS_DATABASE_URL"], saved = settings.database_url, os.environ.get("ALPHAPLUS_DATABASE_URL")
    get_settings.cache_clear()
    try:
        assert main(["data", "import", str(path), "--symbol", symbol, "--timeframe", "1h"]) == 0
    finally:
        if saved is None:
            del os.environ["ALPHAPLUS_DATABASE_URL"]
        else:
            os.environ["ALPHAPLUS_DATABASE_URL"] = saved
        get_settings.cache_clear()
    assert count_candles(settings.database_url, symbol) == SEEDED_ROWS
    return symbol


# --- candle files through `alphaplus data import` ---------------------------------------------------


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_malformed_candle_file_is_refused_with_one_line_and_stores_nothing(
    case, cli, seeded_symbol, settings, tmp_path, capsys
):
    path = REFUSED[case](tmp_path)
    capsys.readouterr()
    code = cli(["data", "import", str(path), "--symbol", seeded_symbol, "--timeframe", "1h"])
    line = one_error_line(capsys)
    assert code != 0
    assert len(line) < 1000, f"the error line is {len(line)} characters long"
    assert count_candles(settings.database_url, seeded_symbol) == SEEDED_ROWS


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_an_unusual_but_valid_candle_file_is_stored_exactly(case, cli, settings, tmp_path, capsys):
    maker, rows = ACCEPTED[case]
    symbol = f"ODD{uuid.uuid4().hex[:8].upper()}"
    assert cli(["data", "import", str(maker(tmp_path)), "--symbol", symbol, "--timeframe", "1h"]) == 0, (
        capsys.readouterr().err)
    assert count_candles(settings.database_url, symbol) == rows


@pytest.mark.parametrize(
    "symbol, timeframe",
    [
        ("BTC\nUSDT", "1h"),
        ("BTC\x00USDT", "1h"),
        ("\x1b[31mRED", "1h"),
        ("S" * 10_000, "1h"),
        ("", "1h"),
        ("   ", "1h"),
        ("BTCUSDT", "1x"),
        ("BTCUSDT", "'; DROP TABLE candles; --"),
        ("BTCUSDT", "0h"),
        ("BTCUSDT", "9" * 10_000 + "h"),
        ("BTCUSDT", "999999999w"),
    ],
    ids=["newline", "nul", "escape-sequence", "10k-chars", "empty", "blank", "bad-timeframe",
         "sql-timeframe", "zero-timeframe", "10k-timeframe",
         "overflowing-timeframe"],
)
def test_a_hostile_symbol_or_timeframe_on_import_is_refused_with_one_line(
    symbol, timeframe, cli, settings, tmp_path, capsys
):
    path = tmp_path / "good.csv"
    path.write_text(csv_text(good_rows()))
    capsys.readouterr()
    assert cli(["data", "import", str(path), "--symbol", symbol, "--timeframe", timeframe]) != 0
    line = one_error_line(capsys)
    assert len(line) < 1000
    if "\x00" not in symbol:  # PostgreSQL text cannot hold NUL at all
        assert count_candles(settings.database_url, symbol) == 0


@pytest.mark.parametrize(
    "symbol",
    ["x'; DROP TABLE candles; --", "../../etc/passwd", "币安/BTC-€", "\u202eDSUCTB", "%s%n{0}$1", "BTC/USDT",
     "-rf", ".hidden"],
    ids=["sql", "path-traversal", "unicode", "right-to-left", "format-strings", "slash", "option-like", "dot-first"],
)
def test_a_symbol_outside_the_naming_rule_is_refused_with_one_line(symbol, cli, settings, tmp_path, capsys):
    path = tmp_path / "good.csv"
    path.write_text(csv_text(good_rows()))
    capsys.readouterr()
    assert cli(["data", "import", str(path), "--symbol", symbol, "--timeframe", "1h"]) != 0
    assert "is not a valid name" in one_error_line(capsys)
    assert count_candles(settings.database_url, symbol) == 0
    assert not (Path.cwd() / "etc").exists() and not (tmp_path / "etc").exists()


@pytest.mark.parametrize("symbol", ["BTC-USD", "ES=F", "^GSPC", "BRK.B", "EUR_USD", "7203.T", "CME:6E"])
def test_a_symbol_within_the_naming_rule_is_stored_verbatim(symbol, cli, settings, tmp_path, capsys):
    symbol = f"{symbol}{uuid.uuid4().hex[:6].upper()}"
    path = tmp_path / "good.csv"
    path.write_text(csv_text(good_rows()))
    assert cli(["data", "import", str(path), "--symbol", symbol, "--timeframe", "1h"]) == 0, capsys.readouterr().err
    assert count_candles(settings.database_url, symbol) == len(good_rows())


# --- frames through the quality gate ------------------------------------------------------------


def _bad_frames() -> dict[str, pd.DataFrame]:
    base = synth_candles(600, seed=9)
    return {
        "no_rows": base.iloc[:0],
        "missing_column": base.drop(columns=["volume"]),
        "text_timestamps": base.assign(ts=base["ts"].astype(str)),
        "text_prices": base.assign(open=base["open"].astype(str)),
        "bool_volume": base.assign(volume=True),
        "nan_close": base.assign(close=base["close"].where(base.index != 10, np.nan)),
        "inf_high": base.assign(high=base["high"].where(base.index != 20, np.inf)),
        "duplicate_timestamps": base.assign(ts=base["ts"].where(base.index != 30, base["ts"].iloc[29])),
        "unsorted": base.iloc[::-1].reset_index(drop=True),
        "high_below_low": base.assign(high=base["low"] * 0.5),
        "negative_volume": base.assign(volume=-base["volume"]),
        "negative_prices": base.assign(open=-base["open"], high=-base["low"], low=-base["high"], close=-base["close"]),
        "too_few_rows": base.iloc[:20],
        "a_price_jump": base.assign(close=base["close"].where(base.index != 300, base["close"] * 50)),
    }


def test_every_malformed_frame_is_rejected_by_the_quality_gate_with_named_reasons():
    from alphaplus.ml.quality import validate_candles

    outcomes = {}
    for name, frame in _bad_frames().items():
        try:
            report = validate_candles(frame)
        except CandleFormatError as e:
            assert "\n" not in str(e) and str(e), name
            outcomes[name] = f"refused: {e}"
            continue
        assert not report.success, f"{name} passed the quality gate"
        assert report.failed_names and all(n.strip() for n in report.failed_names), name
        assert report.summary().splitlines()[0].startswith("data quality FAILED"), name
        outcomes[name] = f"failed: {', '.join(report.failed_names)}"
    assert len(outcomes) == len(_bad_frames())
    assert validate_candles(synth_candles(600, seed=9)).success, "the unspoilt frame passes"


# --- hostile names in the registry and on the command line ----------------------------------------------

REFUSED_NAMES = {
    "10k-chars": "m" * 10_000,
    "nul": "model\x00name",
    "newline": "model\nname",
    "escape-sequence": "\x1b[2Jmodel",
    "delete-char": "model\x7f",
    "empty": "",
    "blank": "   ",
    "sql": "x'; DROP TABLE model_versions; --",
    "path-traversal": "../../etc/passwd",
    "unicode": "模型-αβγ-🚀",
    "right-to-left": "\u202elanif",
    "format-strings": "%s%n{0}$1",
    "markup": "[/bold]model",
}
STORED_NAMES = {
    "dashes": "btc-usd",
    "dots-and-colons": "cme:6e.h25",
    "equals": "ES=F",
    "caret": "^GSPC",
    "digits-first": "7203.T",
}


def _tree(folder: Path, skip: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_relative_to(skip)}


def _lineage_with(field: str, name: str, model_name: str):
    names = {"model_name": model_name, "regime": "trending", "symbol": "BTCUSDT", field: name}
    return make_lineage(names["model_name"], regime=names["regime"], symbol=names["symbol"])


@pytest.fixture
def boxed_registry(registry, tmp_path):
    """The session registry with an artifact root one level inside a watched folder."""
    from alphaplus.registry.artifacts import ArtifactStore
    from alphaplus.registry.service import Registry

    box = tmp_path / "box"
    (box / "root").mkdir(parents=True)
    return Registry(registry.repo, ArtifactStore(box / "root")), box


async def _versions_named(conn, name: str) -> int:
    if "\x00" in name:  # PostgreSQL text cannot hold NUL at all
        return 0
    return await conn.fetchval(
        "SELECT count(*) FROM model_versions WHERE model_name = $1 OR regime = $1 OR symbol = $1", name)


@pytest.mark.parametrize("field", ["model_name", "regime", "symbol"])
@pytest.mark.parametrize("case", sorted(REFUSED_NAMES))
async def test_a_hostile_name_is_refused_before_anything_is_stored(case, field, boxed_registry, conn, model_name):
    registry, box = boxed_registry
    name = REFUSED_NAMES[case]
    lineage = _lineage_with(field, name, model_name)
    before = _tree(box, box / "root")
    with pytest.raises(InvalidInput) as err:
        await registry.register_model_version(lineage, model={"w": 1})
    assert "\n" not in str(err.value) and len(str(err.value)) < 300
    assert await _versions_named(conn, name) == 0
    assert await conn.fetchval("SELECT count(*) FROM model_versions WHERE model_name = $1", model_name) == 0
    assert _tree(box, box / "root") == before
    assert not any(p.is_file() for p in (box / "root").rglob("*")), "an artifact was stored for a refused registration"


@pytest.mark.parametrize("field", ["model_name", "regime", "symbol"])
@pytest.mark.parametrize("case", sorted(STORED_NAMES))
async def test_a_name_within_the_naming_rule_is_stored_verbatim_and_writes_only_inside_the_root(
    case, field, boxed_registry, conn, model_name
):
    registry, box = boxed_registry
    name = STORED_NAMES[case]
    lineage = _lineage_with(field, name, model_name)
    before = _tree(box, box / "root")
    reg = await registry.register_model_version(lineage, model={"w": case})
    version = await registry.get_version(lineage.model_name, reg.version.version)
    assert getattr(version, field) == name
    assert await conn.fetchval("SELECT to_regclass('model_versions') IS NOT NULL")
    await registry.promote(lineage.model_name, version.version, reason=f"hostile name {case}")
    assert (await registry.get_production_model(Slot(lineage.model_name, lineage.regime, lineage.symbol))).version == \
        version.version
    assert await registry.load_model(version) == {"w": case}
    assert _tree(box, box / "root") == before, "a file was written outside the artifact root"
    root = (box / "root").resolve()
    assert all(p.resolve().is_relative_to(root) for p in (box / "root").rglob("*"))


@pytest.mark.parametrize("case", sorted({**REFUSED_NAMES, **STORED_NAMES}))
def test_a_hostile_model_name_on_the_command_line_ends_in_one_line(case, cli, capsys):
    # Printable names get a unique tail: other tests register them, and here they must be unknown.
    name = REFUSED_NAMES[case] if case in REFUSED_NAMES else f"{STORED_NAMES[case]}-{uuid.uuid4().hex[:6]}"
    commands = [
        ["versions", "list", "--model", name],
        ["versions", "show", name, "1"],
        ["versions", "lineage", name, "1"],
        ["rollback", name, "--regime", "trending", "--symbol", "BTCUSDT", "--reason", "hostile"],
        ["rollback", "m", "--regime", name, "--symbol", "BTCUSDT", "--reason", "hostile"],
        ["rollback", "m", "--regime", "trending", "--symbol", name, "--reason", name or "x"],
        ["history", name, "--regime", "trending", "--symbol", "BTCUSDT"],
    ]
    for argv in commands:
        capsys.readouterr()
        code = cli(argv)
        line = one_error_line(capsys)
        assert code != 0, argv
        assert len(line) < 20_500, argv


# --- artifact paths ---------------------------------------------------------------------------------

ESCAPING_PATHS = ["../../etc/passwd", "/etc/passwd", "ab/../../outside.joblib", "..", ".", "", "a\x00b",
                  "ab/../../../tmp/x", "//etc/passwd", "..\\..\\windows"]


@pytest.mark.parametrize("path", ESCAPING_PATHS)
def test_the_artifact_store_refuses_a_path_leading_outside_its_root(path, tmp_path):
    from alphaplus.registry.artifacts import ArtifactStore

    store = ArtifactStore(tmp_path / "root")
    (tmp_path / "root").mkdir()
    try:
        resolved = store.resolve(path)
    except ArtifactIntegrityError as e:
        assert "\n" not in str(e)
    else:  # a backslash is an ordinary character on POSIX: the name stays inside the root
        assert resolved.is_relative_to((tmp_path / "root").resolve()) and resolved != (tmp_path / "root").resolve()
    with pytest.raises(ArtifactIntegrityError):
        store.verify(path, sha256="0" * 64, size=1)


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "ab/../../outside.joblib"])
async def test_registering_an_artifact_path_outside_the_root_is_refused_and_registers_nothing(
    path, boxed_registry, conn, model_name
):
    registry, box = boxed_registry
    with pytest.raises(ArtifactIntegrityError):
        await registry.register_model_version(make_lineage(model_name),
                                              artifact=StoredArtifact(path, 10, "0" * 64))
    # The database refuses such a row even when the application's check is bypassed.
    with pytest.raises(InvalidInput):
        await registry.repo.register_version(lineage=make_lineage(model_name), artifact=StoredArtifact(path, 10, "0" * 64),
                                             training_metrics={}, validation_metrics={})
    assert await conn.fetchval("SELECT count(*) FROM model_versions WHERE model_name = $1", model_name) == 0


class _Trap:
    """Unpickling this touches a marker file: proof that an unverified artifact was loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


async def test_a_version_whose_artifact_is_a_symlink_out_of_the_root_is_refused_on_load(
    boxed_registry, conn, model_name
):
    import hashlib
    import io

    import joblib

    registry, box = boxed_registry
    marker = box / "unpickled"
    buffer = io.BytesIO()
    joblib.dump(_Trap(str(marker)), buffer)
    outside = box / "outside.joblib"
    outside.write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    (box / "root" / "ev").mkdir()
    (box / "root" / "ev" / "evil.joblib").symlink_to(outside)
    artifact = StoredArtifact("ev/evil.joblib", len(buffer.getvalue()), digest)
    # The facade refuses to register it...
    with pytest.raises(ArtifactIntegrityError):
        await registry.register_model_version(make_lineage(model_name), artifact=artifact)
    # ...and a row written past the facade (hash and size even match the outside file) is refused on load.
    reg = await registry.repo.register_version(lineage=make_lineage(model_name), artifact=artifact,
                                               training_metrics={}, validation_metrics={})
    with pytest.raises(ArtifactIntegrityError) as err:
        await registry.load_model(reg.version)
    assert "outside the artifact root" in str(err.value)
    assert not marker.exists(), "the artifact was unpickled"
