"""Two hosts on one machine: separate processes with their own project folder, HOME and AlphaPlus home,
sharing only the database, the Prefect API and an S3 artifact root (moto's server on 127.0.0.1).
A model trained on one (its slots on a local Dask cluster) is served by an engine on the other."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alphaplus.market.synth import synth_candles
from tests.flows.test_retrain_flow import import_candles
from tests.scale.conftest import needs

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(400)]
REPO = Path(__file__).resolve().parents[2]
# What one host inherits from the machine it runs on: nothing of the other host, nor of this test.
_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "TZ", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK",
                   "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def host_env(root: Path, shared: dict[str, str]) -> dict[str, str]:
    """A host's environment: its own HOME, AlphaPlus home and Prefect home under ``root``; the shared rest."""
    env = {k: os.environ[k] for k in _HOST_VARIABLES if k in os.environ}
    env.update(shared)
    env.update(HOME=str(root / "home"), ALPHAPLUS_HOME=str(root / "home" / ".alphaplus"),
               PREFECT_HOME=str(root / "home" / ".prefect"), PYTHONPATH=str(REPO), PREFECT_LOGGING_LEVEL="WARNING")
    return env


async def run_host(root: Path, shared: dict[str, str], *args: str) -> dict:
    """Run ``python -m tests.scale.host ARGS`` as a host in its own project folder; its JSON answer."""
    for folder in (root / "project", root / "home"):
        folder.mkdir(parents=True, exist_ok=True)
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tests.scale.host", *args], cwd=root / "project",
        env=host_env(root, shared), capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, f"host {root.name} exited {result.returncode}:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


async def test_a_model_trained_on_one_host_is_served_by_an_engine_on_another(
    settings, prefect_harness, s3_env, s3_root, model_name, tmp_path
):
    needs("prefect_dask", "dask")
    from prefect.settings import PREFECT_API_URL

    await import_candles(settings, "HOSTS", synth_candles(6000, seed=6, dynamics="strong_trend"))
    # The suite's database login is the server's superuser (it creates databases and roles).
    shared = {**s3_env, "ALPHAPLUS_DATABASE_URL": settings.database_url, "ALPHAPLUS_ARTIFACT_ROOT": s3_root,
              "ALPHAPLUS_SUPERUSER_LOGIN": "allow",
              "PREFECT_API_URL": PREFECT_API_URL.value(), "ALPHAPLUS_DASK_LOCAL_WORKERS": "2"}

    trained = await run_host(tmp_path / "host-a", shared, "train", "HOSTS", model_name)
    [result] = trained["results"]
    assert result["decision"] == "promote", result
    assert not result["trained_on"].endswith(f":{trained['pid']}")  # a Dask worker process trained it

    served = await run_host(tmp_path / "host-b", shared, "serve", "HOSTS", model_name, "1", "8000")
    assert (served["version"], served["regime"]) == (result["version"], "trending")
    assert 0.0 <= served["probability"] <= 1.0
    for host in ("host-a", "host-b"):  # the artifact lives only in the bucket
        assert not list((tmp_path / host).rglob("*.joblib")), host
