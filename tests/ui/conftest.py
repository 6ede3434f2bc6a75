"""Fixtures of the dashboard tests: a registry made through the real services (versions with
lineage, promotions, a gated decision, a rollback, a canary, a quarantine, live and shadow history),
a model with a hostile name, a login in alphaplus_reader, and the app on that login."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from alphaplus.core.settings import Settings
from tests.db.conftest import make_lineage
from tests.db.test_security import dsn_for

# Names are refused unless made of ASCII letters, digits and . _ - : = ^ (by the code and the database):
# the hostile names use every such character a URL or a template could get wrong. Free text (reasons)
# may hold markup, and must render as text.
HOSTILE_MODEL = "^a:b=c..d-_e"
HOSTILE_SYMBOL = "^X=Y:Z.."
HOSTILE_REASON = "</td></tr><script>alert(3)</script><img src=x onerror=alert(1)><svg onload=alert(2)>"
PAGE_SIZE = 4


@dataclass(frozen=True)
class Registry:
    """What the seeded registry holds, for assertions."""

    model: str
    hostile: str
    regime: str
    symbol: str
    versions: dict[str, int]


@pytest.fixture(scope="session")
async def reader_dsn(database_url):
    """A LOGIN in alphaplus_reader (unique to this session, dropped at the end)."""
    admin = await asyncpg.connect(database_url)
    name = f"ap_ui_reader_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE alphaplus_reader')
    yield dsn_for(database_url, name)
    await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name)
    for _ in range(50):
        try:
            await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
            break
        except asyncpg.DependentObjectsStillReferencedError:
            await asyncio.sleep(0.1)
    await admin.close()


async def write_window(pool, model: str, version: int, regime: str, symbol: str, *, end: datetime, correct: int,
                       source: str = "live", n: int = 200, psi: float = 0.05) -> None:
    """One resolved window, as outcome resolution stores it (confusion counts in ``metrics``)."""
    tp, tn = correct // 2, correct - correct // 2
    fp, fn = (n - correct) // 2, n - correct - (n - correct) // 2
    await pool.execute(
        """INSERT INTO model_performance_history (ts, window_start, model_name, version, regime, symbol, source,
               n_samples, n_correct, accuracy, f1, total_inferences, error_count, error_rate, max_psi, metrics)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 2, $13, $14, $15)""",
        end, end - timedelta(hours=1), model, version, regime, symbol, source, n, correct, correct / n,
        correct / n, n + 2, 2 / (n + 2), psi,
        {"true_positives": tp, "true_negatives": tn, "false_positives": fp, "false_negatives": fn})


@pytest.fixture(scope="session")
async def seeded(settings) -> Registry:
    """The registry the dashboard tests read, made through the registry, promotion and rollback services."""
    from alphaplus.promotion.service import PromotionService
    from alphaplus.registry.service import Registry as RegistryService
    from alphaplus.rollback.service import RollbackService
    from db.comparisons import insert_comparison

    registry = await RegistryService.open(settings)
    pool = registry.repo.pool
    model = f"ui_model_{uuid.uuid4().hex[:8]}"
    hostile = f"{HOSTILE_MODEL}{uuid.uuid4().hex[:6]}"
    versions: dict[str, int] = {}

    async def register(name, regime="trending", symbol="BTCUSDT", parent=None, **metrics):
        reg = await registry.register_model_version(
            make_lineage(name, regime=regime, symbol=symbol, parent_model_version=parent),
            model={"w": uuid.uuid4().hex},
            training_metrics={"train": {"accuracy": 0.71, "f1": 0.7}, "holdout": {"accuracy": 0.56, "f1": 0.55}},
            validation_metrics={"accuracy": 0.57, "f1": 0.56, "roc_auc": 0.6, **metrics})
        return reg.version.version

    # trending/BTCUSDT: v1 forced in, v2 promoted by the gate, rolled back to v1; v3 in canary.
    versions["v1"] = await register(model)
    versions["v2"] = await register(model, parent=versions["v1"])
    versions["v3"] = await register(model, parent=versions["v2"])
    start = datetime.now(UTC) - timedelta(hours=40)
    await PromotionService(registry).force_promote(model, versions["v1"], reason="first model", on_behalf_of="alice",
                        flow_run_id=str(uuid.uuid4()))
    for h in range(12):
        await write_window(pool, model, versions["v1"], "trending", "BTCUSDT", end=start + timedelta(hours=h),
                           correct=110 + h % 4)
    await insert_comparison(
        pool, model_name=model, regime="trending", symbol="BTCUSDT", challenger_version=versions["v2"],
        champion_version=versions["v1"], window_start=start, window_end=start + timedelta(hours=12), n_samples=1500,
        challenger_metrics={"accuracy": 0.58}, champion_metrics={"accuracy": 0.55}, metric_deltas={"accuracy": 0.03},
        test_name="mcnemar_exact", statistic=4.2, p_value=0.012, decision="promote",
        reasons=["accuracy 0.580 beats 0.550 (p=0.012)", HOSTILE_REASON], flow_run_id=None)
    await registry.promote(model, versions["v2"], reason="gate: better accuracy")
    for h in range(12, 24):
        await write_window(pool, model, versions["v2"], "trending", "BTCUSDT", end=start + timedelta(hours=h),
                           correct=90 - h % 5, psi=0.3)
        await write_window(pool, model, versions["v1"], "trending", "BTCUSDT", end=start + timedelta(hours=h),
                           correct=111, source="shadow")
    service = await RollbackService.open(settings)
    outcome = await service.request_rollback(model, "trending", "BTCUSDT", to_version=versions["v1"],
                                             reason="live accuracy fell after the promotion")
    assert outcome.outcome == "executed"
    for h in range(24, 30):
        await write_window(pool, model, versions["v1"], "trending", "BTCUSDT", end=start + timedelta(hours=h),
                           correct=112)
    await registry.start_canary(model, versions["v3"], reason="canary on 5% of traffic")

    # ranging/BTCUSDT: v4 served, then was quarantined with the slot rolled back to v4a in the same step
    # (a serving version is never left quarantined); the latest assessment saw a market shift.
    from alphaplus.rollback.quarantine import quarantine_and_roll_back

    versions["v4a"] = await register(model, regime="ranging")
    await registry.promote(model, versions["v4a"], reason="first ranging model")
    versions["v4"] = await register(model, regime="ranging")
    await registry.promote(model, versions["v4"], reason="second ranging model")
    await quarantine_and_roll_back(service, model_name=model, version=versions["v4"],
                                   reason="trained on a bad vendor feed")
    await pool.execute(
        "INSERT INTO slot_assessments (model_name, regime, symbol, production_version, last_assessed_at, last_status, "
        "last_assessment) VALUES ($1, 'ranging', 'BTCUSDT', $2, now(), 'market_shift', $3) "
        "ON CONFLICT (model_name, regime, symbol) DO UPDATE SET production_version = EXCLUDED.production_version, "
        "last_assessed_at = EXCLUDED.last_assessed_at, last_status = EXCLUDED.last_status, "
        "last_assessment = EXCLUDED.last_assessment",
        model, versions["v4a"], {"triggers": ["market_shift"], "reasons": ["the market's regime mix changed"]})
    # trending/ETHUSDT: registered, never served.
    versions["v5"] = await register(model, symbol="ETHUSDT")

    # The hostile model: a hostile symbol, reasons and a rollback.
    h1 = await register(hostile, symbol=HOSTILE_SYMBOL)
    h2 = await register(hostile, symbol=HOSTILE_SYMBOL, parent=h1)
    await registry.promote(hostile, h1, reason=HOSTILE_REASON)
    await registry.promote(hostile, h2, reason="second")
    for h in range(6):
        await write_window(pool, hostile, h2, "trending", HOSTILE_SYMBOL, end=start + timedelta(hours=h), correct=100)
    await service.request_rollback(hostile, "trending", HOSTILE_SYMBOL, to_version=h1, reason=HOSTILE_REASON)
    versions["h1"], versions["h2"] = h1, h2
    return Registry(model, hostile, "trending", "BTCUSDT", versions)


@pytest.fixture(scope="session")
def reader_settings(settings, reader_dsn) -> Settings:
    """The dashboard's settings: the reader login, the session's artifacts, small pages."""
    return Settings(database_url=reader_dsn, home=settings.home, ui_allowed_hosts="testserver",
                    ui_page_size=PAGE_SIZE)


@pytest.fixture(scope="session")
def client(reader_settings, seeded):
    """The dashboard on the reader login, over ASGI (no socket)."""
    from fastapi.testclient import TestClient

    from alphaplus.ui.app import create_app

    app = create_app(reader_settings, prefect_ui_url="http://127.0.0.1:4200")
    with TestClient(app) as c:
        yield c


@dataclass(frozen=True)
class TrainedSlot:
    """A slot served by real LightGBM versions: live history of both, shadow scores, a rollback."""

    model: str
    regime: str
    symbol: str
    v1: int
    v2: int
    live_windows: int


LIVE_BARS_PER_WINDOW = 40
WINDOW_BARS = 600  # candles handed to each prediction


async def _trade(settings, model: str, symbol: str, candles, ends: list[int], *, windows: int) -> None:
    """Predict the bars ending at ``ends`` with the real engine (shadow scoring on), in ``windows``
    stretches; each stretch's matured outcomes are resolved into one window of performance history."""
    from alphaplus.inference.engine import InferenceEngine
    from alphaplus.monitoring.service import OutcomeService

    size = -(-len(ends) // windows)
    for i in range(windows):
        batch = ends[i * size:(i + 1) * size]
        engine = await InferenceEngine.open(settings, model_name=model, shadow=True)
        try:
            for end in batch:
                await engine.predict(symbol, candles.iloc[end - WINDOW_BARS:end])
        finally:
            await engine.close()  # finishes shadow scoring and writes every event
        await (await OutcomeService.open(settings)).resolve_outcomes(model_name=model)


@pytest.fixture(scope="session")
async def trained_slot(settings) -> TrainedSlot:
    """Real flows end to end: candles in the database, two trained versions registered with lineage,
    v1 forced in, live trading through the inference engine with outcome resolution, v2 promoted
    (v1 scored in shadow), v2 rolled back to v1 by the rollback service, then v1 trades on."""
    from alphaplus.market.synth import synth_candles
    from alphaplus.ml.regimes import classify_regimes
    from alphaplus.promotion.service import PromotionService
    from alphaplus.registry.service import Registry as RegistryService
    from alphaplus.rollback.service import RollbackService
    from db.candles import upsert_candles
    from tests.db.trained_versions import HORIZON, register_trained

    registry = await RegistryService.open(settings)
    model, symbol = f"ui_trained_{uuid.uuid4().hex[:8]}", f"UI{uuid.uuid4().hex[:6].upper()}"
    candles = synth_candles(1600, seed=11)
    await upsert_candles(registry.repo.pool, symbol=symbol, timeframe="1h", frame=candles)
    regimes = classify_regimes(candles)
    usable = range(WINDOW_BARS + 100, len(candles) - HORIZON - 1)
    regime = regimes.iloc[list(usable)].value_counts().idxmax()
    ends = [i + 1 for i in usable if regimes.iloc[i] == regime][:5 * LIVE_BARS_PER_WINDOW]

    v1 = (await register_trained(registry, model, regime, symbol, seed=201)).version
    v2 = (await register_trained(registry, model, regime, symbol, seed=202)).version
    await PromotionService(registry).force_promote(model, v1, reason="first model of the slot", on_behalf_of="ops",
                        flow_run_id=None)
    step = LIVE_BARS_PER_WINDOW
    await _trade(settings, model, symbol, candles, ends[:2 * step], windows=2)
    await registry.promote(model, v2, reason="higher holdout accuracy")
    await _trade(settings, model, symbol, candles, ends[2 * step:4 * step], windows=2)
    service = await RollbackService.open(settings)
    outcome = await service.request_rollback(model, regime, symbol, to_version=v1,
                                             reason="live accuracy below v1's")
    assert outcome.outcome == "executed"
    await _trade(settings, model, symbol, candles, ends[4 * step:], windows=1)
    return TrainedSlot(model, regime, symbol, v1, v2, live_windows=5)
