"""The retrain flow on a Dask LocalCluster of two worker processes: real Prefect (test harness), real
PostgreSQL, real LightGBM. Slots are trained in the workers, once each, into the same bytes the thread
runner produces; a worker killed mid-run costs only its slot a second attempt."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from alphaplus.core.settings import Settings
from alphaplus.market.synth import synth_candles
from tests.flows.test_retrain_flow import import_candles
from tests.scale.conftest import needs, worker_pids

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(300)]
SMALL = {"n_estimators": 100}  # the same for both runners: smaller fits, same determinism


@pytest.fixture(autouse=True)
def _dask_extra():
    needs("prefect_dask", "dask")


def on_cluster(cluster):
    """The retrain flow with a task runner on ``cluster`` (what ALPHAPLUS_DASK_ADDRESS selects)."""
    from flows.retrain import retrain
    from flows.retrain_dask import dask_task_runner

    return retrain.with_options(task_runner=dask_task_runner(Settings(dask_address=cluster.scheduler_address)))


async def train_slot_runs(flow_run_id) -> list:
    """The train_slot task runs of a flow run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return [r for r in runs if r.name.startswith("train_slot")]


async def versions_by_regime(settings, model_name: str) -> dict:
    from alphaplus.registry.service import Registry

    versions = await (await Registry.open(settings)).list_versions(model_name=model_name)
    assert len({v.regime for v in versions}) == len(versions), "a slot got two versions"
    return {v.regime: v for v in versions}


def test_the_retrain_dask_deployment_runs_the_retrain_flow_on_the_configured_cluster():
    from prefect_dask import DaskTaskRunner

    from deployments.serve import load_deployment_specs, load_flow
    from flows.retrain_dask import dask_task_runner

    spec = next(s for s in load_deployment_specs() if s["name"] == "retrain-dask")
    flow = load_flow(spec["entrypoint"])
    # The flow's name is what the rollback trigger on failed retrain runs matches.
    assert flow.name == "retrain" and isinstance(flow.task_runner, DaskTaskRunner)
    assert dask_task_runner(Settings(dask_address="tcp://10.1.2.3:8786")).address == "tcp://10.1.2.3:8786"
    local = dask_task_runner(Settings(dask_local_workers=3))
    assert local.address is None and local.cluster_kwargs["n_workers"] == 3
    assert local.cluster_kwargs["processes"] is True


async def test_dask_workers_train_every_slot_once_into_the_thread_runners_bytes(flow_env, dask_cluster, model_name):
    from flows.retrain import retrain

    cluster, client = dask_cluster
    await import_candles(flow_env, "DASKA", synth_candles(6000, seed=11))
    threads = await retrain(symbols=["DASKA"], regime="all", model_name=f"{model_name}_t",
                            hyperparameters=SMALL, promote=False)
    state = await on_cluster(cluster)(symbols=["DASKA"], regime="all", model_name=f"{model_name}_d",
                                      hyperparameters=SMALL, promote=False, return_state=True)
    on_dask = await state.result()

    assert [r["status"] for r in threads + on_dask] == ["registered"] * 6
    pids = set(worker_pids(client).values())
    assert {int(r["trained_on"].rsplit(":", 1)[1]) for r in on_dask} <= pids  # trained in the workers
    assert all(r["trained_on"].endswith(f":{os.getpid()}") for r in threads)
    runs = await train_slot_runs(state.state_details.flow_run_id)
    assert len(runs) == 3 and all(r.state_type.value == "COMPLETED" for r in runs)
    by_thread = await versions_by_regime(flow_env, f"{model_name}_t")
    by_dask = await versions_by_regime(flow_env, f"{model_name}_d")
    assert sorted(by_dask) == ["ranging", "trending", "volatile"]
    # Determinism across processes: the same data gives the same artifact bytes, so the same address.
    assert {r: v.artifact for r, v in by_dask.items()} == {r: v.artifact for r, v in by_thread.items()}


def executing_keys(dask_worker) -> list[str]:
    """Keys a worker is running right now (its function has been called)."""
    return [str(key) for key, ts in dask_worker.state.tasks.items() if ts.state == "executing"]


async def test_a_worker_killed_mid_slot_costs_only_that_slot_a_second_attempt(flow_env, dask_cluster, model_name):
    from alphaplus.registry.service import Registry

    cluster, client = dask_cluster
    await import_candles(flow_env, "DASKB", synth_candles(6000, seed=12))
    pids = worker_pids(client)
    killed: list[int] = []
    stop = threading.Event()

    def kill_a_worker_mid_slot() -> None:
        # SIGKILL the first worker seen running train_slot: no clean-up, no goodbye to the scheduler.
        while not stop.is_set():
            for address, keys in client.run(executing_keys).items():
                if address in pids and any(k.startswith("train_slot") for k in keys):
                    os.kill(pids[address], signal.SIGKILL)
                    killed.append(pids[address])
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker_mid_slot)
    killer.start()
    try:
        state = await on_cluster(cluster)(symbols=["DASKB"], regime="all", model_name=model_name,
                                          hyperparameters=SMALL, promote=False, return_state=True)
    finally:
        stop.set()
        killer.join()
    results = await state.result()

    assert killed, "no worker was seen running a slot"
    assert [r["status"] for r in results] == ["registered"] * 3, results
    # The slot the dead worker was running was trained again by a live process; the others once.
    assert all(not r["trained_on"].endswith(f":{killed[0]}") for r in results)
    runs = await train_slot_runs(state.state_details.flow_run_id)
    assert len(runs) == 3 and all(r.state_type.value == "COMPLETED" for r in runs)
    registry = await Registry.open(flow_env)
    versions = await registry.list_versions(model_name=model_name)
    assert sorted((v.symbol, v.regime) for v in versions) == sorted((r["symbol"], r["regime"]) for r in results)
    for v in versions:  # nothing lost, nothing half-written: every artifact loads, verified
        await registry.load_model(v)
