"""prefect.yaml against a real `prefect server start`: deploy, process workers, typed runs, the rollback trigger.

One server (its own PostgreSQL database, a private PREFECT_HOME, UI and scheduler off) and one deployment of
prefect.yaml serve the whole module; flow runs reach the session's PostgreSQL test database through
the workers' environment, as they would in production.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.processes import (
    PREFECT,
    REPO_ROOT,
    eventually,
    free_port,
    prefect_env,
    run_cli,
    start,
    stop,
    wait_healthy,
)

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(300)]

POOL = "alphaplus"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Printed at the end of the module (pytest -s) to keep an eye on the cost of this module.
TIMINGS: dict[str, float] = {}


class Server:
    """A running Prefect server and what a client or worker needs to reach it."""

    def __init__(self, api_url: str, home: Path, logs: Path) -> None:
        self.api_url, self.home, self.logs = api_url, home, logs

    def env(self, **extra: str) -> dict[str, str]:
        return prefect_env(self.home, self.api_url, **extra)

    def client(self):
        from prefect.client.orchestration import PrefectClient

        return PrefectClient(self.api_url)


@pytest.fixture(scope="module")
async def prefect_database(make_database) -> str:
    """A fresh PostgreSQL database for the server's tables, on the tests' server (dropped with the session).

    Measured here: a fresh server is healthy in ~9 s on PostgreSQL and ~13 s on SQLite, whose schema
    migrations are slower."""
    from deployments.server_db import prefect_database_url

    url = await make_database("prefect_test")
    return prefect_database_url(url, database=url.rpartition("/")[2])


@pytest.fixture(scope="module")
def server(tmp_path_factory, prefect_database) -> Iterator[Server]:
    """`prefect server start` on a free loopback port; its process group is killed at the end."""
    root = tmp_path_factory.mktemp("prefect-server")
    home, logs = root / "home", root / "logs"
    home.mkdir()
    logs.mkdir()
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = prefect_env(
        home, None, PREFECT_API_DATABASE_CONNECTION_URL=prefect_database,
        # No UI to build; no scheduler, so the scheduled deployments create no runs behind the tests' backs.
        PREFECT_SERVER_UI_ENABLED="false", PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
    )
    proc = start([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, logs / "server.log")
    try:
        TIMINGS["server start (s)"] = wait_healthy(api_url, proc, logs / "server.log")
        yield Server(api_url, home, logs)
    finally:
        stop(proc)
        if TIMINGS:
            print("\n" + "\n".join(f"{k}: {v:.1f}" for k, v in TIMINGS.items()))


@pytest.fixture(scope="module")
def deployed(server) -> Server:
    """The work pool and every deployment of prefect.yaml, created the way `make deploy` does."""
    env = server.env()
    started = time.monotonic()
    run_cli(["work-pool", "create", POOL, "--type", "process"], env)
    run_cli(["--no-prompt", "deploy", "--all"], env, timeout=180)
    TIMINGS["work pool + deploy --all (s)"] = time.monotonic() - started
    return server


@pytest.fixture(scope="module")
def worker_env(deployed, database_url, tmp_path_factory) -> dict[str, str]:
    """What a worker host sets: the API, the database, a private AlphaPlus home, the project folder."""
    return deployed.env(
        ALPHAPLUS_DATABASE_URL=database_url,
        ALPHAPLUS_HOME=str(tmp_path_factory.mktemp("alphaplus-worker-home")),
        ALPHAPLUS_PROJECT_DIR=str(REPO_ROOT),
        # Poll every second instead of every 10 s so runs start promptly.
        PREFECT_WORKER_QUERY_SECONDS="1",
    )


def start_worker(server: Server, env: dict[str, str], name: str):
    """A process worker of the pool; at most two concurrent runs, so a burst of runs is shared out."""
    return start([PREFECT, "worker", "start", "--pool", POOL, "--type", "process", "--name", name, "--limit", "2"],
                 env, server.logs / f"{name}.log")


@pytest.fixture(scope="module")
def worker(deployed, worker_env) -> Iterator[str]:
    """One process worker for the module; yields its name."""
    proc = start_worker(deployed, worker_env, "worker-a")
    try:
        yield "worker-a"
    finally:
        stop(proc)


async def deployment_id(server: Server, name: str):
    async with server.client() as client:
        return (await client.read_deployment_by_name(name)).id


async def final_state(server: Server, flow_run_id, deadline_s: float) -> str:
    """The terminal state type of a flow run, waiting up to ``deadline_s`` seconds."""

    async def probe():
        async with server.client() as client:
            run = await client.read_flow_run(flow_run_id)
        state = run.state.type.value if run.state else None
        return state if state in TERMINAL else None

    return await eventually(probe, f"flow run {flow_run_id} finished", deadline_s)


def run_from_cli(server: Server, deployment: str, *params: str) -> uuid.UUID:
    """`prefect deployment run DEPLOYMENT --param k=v ...`, as a person would type it; the run's id."""
    args = ["deployment", "run", deployment]
    for p in params:
        args += ["--param", p]
    out = run_cli(args, server.env()).stdout
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
    assert match, out
    return uuid.UUID(match.group(1))


async def import_candles(settings, symbol: str, n: int, seed: int) -> None:
    from alphaplus.market.synth import synth_candles
    from db.candles import upsert_candles
    from db.pool import get_pool

    pool = await get_pool(settings.database_url, settings)
    await upsert_candles(pool, symbol=symbol, timeframe="1h", frame=synth_candles(n, seed=seed))


async def test_every_deployment_of_prefect_yaml_is_created_with_its_schedule_and_trigger(deployed):
    async with deployed.client() as client:
        scheduled = await client.read_deployment_by_name("retrain/retrain-scheduled")
        manual = await client.read_deployment_by_name("retrain/retrain-manual")
        assess = await client.read_deployment_by_name("assess-rollbacks/assess-rollbacks")
        rollback = await client.read_deployment_by_name("rollback/rollback")
        automations = await client.read_automations_by_name("rollback-after-failed-retrain")
    assert scheduled.parameters == {"symbols": ["BTCUSDT", "ETHUSDT"], "regime": "all"}
    assert [s.schedule.cron for s in scheduled.schedules] == ["0 2 * * *"]
    assert manual.schedules == [] and manual.parameters == {}
    # The typed signature is the UI's form: a list of symbols and a regime choice.
    props = manual.parameter_openapi_schema["properties"]
    assert props["symbols"]["type"] == "array" and "regime" in props
    # Every field of every custom-run form has help text; choices are choices, not free text.
    for deployment in (manual, assess, rollback):
        schema = deployment.parameter_openapi_schema
        fields = {**schema["properties"], **{f"{name}.{k}": v for name, d in schema.get("definitions", {}).items()
                                            for k, v in d["properties"].items()}}
        assert all(f.get("description") for f in fields.values()), [k for k, f in fields.items()
                                                                       if not f.get("description")]
    assert "enum" in manual.parameter_openapi_schema["definitions"]["GateSettings"]["properties"]["on_insignificant"]
    assert [s.schedule.interval.total_seconds() for s in assess.schedules] == [900]
    assert all(d.work_pool_name == POOL for d in (scheduled, manual, assess, rollback))
    assert len(automations) == 1 and automations[0].actions[0].deployment_id == rollback.id


async def test_a_manual_retrain_run_with_typed_parameters_completes_on_a_process_worker(
    deployed, worker, settings, model_name
):
    from alphaplus.registry.service import Registry

    await import_candles(settings, "DEPLOYA", 6000, seed=31)
    started = time.monotonic()
    run_id = run_from_cli(deployed, "retrain/retrain-manual", 'symbols=["DEPLOYA"]', "regime=trending",
                          f"model_name={model_name}", "horizon=12")
    state = await final_state(deployed, run_id, deadline_s=150)
    TIMINGS["retrain-manual run, submit to completed (s)"] = time.monotonic() - started
    assert state == "COMPLETED", (deployed.logs / f"{worker}.log").read_text()[-4000:]
    versions = await (await Registry.open(settings)).list_versions(model_name=model_name)
    assert [(v.regime, v.symbol) for v in versions] == [("trending", "DEPLOYA")]


async def test_a_failed_retrain_run_triggers_an_on_failure_rollback_run_of_its_slot(deployed, worker, model_name):
    rollback_id = await deployment_id(deployed, "rollback/rollback")
    # No candles for this symbol: the run fails at the quality gate, before touching production.
    failed_id = run_from_cli(deployed, "retrain/retrain-manual", 'symbols=["NOCANDLES"]', "regime=ranging",
                             f"model_name={model_name}")
    assert await final_state(deployed, failed_id, deadline_s=120) == "FAILED"
    failed_at = time.monotonic()

    async def rollback_run():
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        async with deployed.client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[rollback_id]))
            )
        return next((r for r in runs if r.parameters.get("failed_flow_run_id") == str(failed_id)), None)

    run = await eventually(rollback_run, "a rollback run after the failed retrain run", deadline_s=60)
    TIMINGS["failed run -> rollback run created (s)"] = time.monotonic() - failed_at
    assert run.parameters["rollback_type"] == "on_failure"
    assert "retrain-manual" in run.parameters["reason"]
    # The failed run moved no production pointer, so its rollback run completes having changed nothing.
    assert await final_state(deployed, run.id, deadline_s=120) == "COMPLETED"


async def test_two_workers_on_one_pool_share_a_burst_of_runs(deployed, worker, worker_env):
    second = start_worker(deployed, worker_env, "worker-b")
    try:
        await eventually(lambda: _worker_online(deployed, "worker-b"), "worker-b polling", deadline_s=60)
        assess_id = await deployment_id(deployed, "assess-rollbacks/assess-rollbacks")
        run_ids = []
        async with deployed.client() as client:
            for _ in range(6):
                # A model nobody registered: the assessment finds no slot and completes quickly. Created
                # back to back, so whichever worker polls next finds several waiting.
                run = await client.create_flow_run_from_deployment(
                    assess_id, parameters={"model_name": f"nobody_{uuid.uuid4().hex[:8]}", "dry_run": True}
                )
                run_ids.append(run.id)
        states = [await final_state(deployed, rid, deadline_s=150) for rid in run_ids]
        assert states == ["COMPLETED"] * 6
        picked = {name: ran_by(deployed, name, run_ids) for name in ("worker-a", "worker-b")}
        assert all(picked.values()), picked
        assert sorted(str(r) for rs in picked.values() for r in rs) == sorted(str(r) for r in run_ids)
    finally:
        stop(second)


def ran_by(server: Server, worker_name: str, run_ids: list) -> list:
    """The runs a worker submitted and kept, from its log (both workers may try to claim a run; the
    server lets one have it and the other logs the abort)."""
    log = (server.logs / f"{worker_name}.log").read_text()
    return [rid for rid in run_ids
            if f"submitting flow run '{rid}'" in log and f"Aborted submission of flow run '{rid}'" not in log]


async def _worker_online(server: Server, name: str) -> bool:
    async with server.client() as client:
        workers = await client.read_workers_for_work_pool(POOL)
    return any(w.name == name for w in workers)
