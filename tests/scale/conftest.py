"""Fixtures for scaling out: a local S3 endpoint (moto, loopback) and a 2-process Dask LocalCluster."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.flows.conftest import flow_env  # noqa: F401 - flows here read settings from the environment too
from tests.scale.local_s3 import local_s3_endpoint, make_bucket

# Inherited settings that would send an S3 client elsewhere than the local endpoint.
_AWS_KEYS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def needs(module: str, extra: str) -> None:
    """Skip with a clear reason when an optional extra is not installed."""
    pytest.importorskip(module, reason=f"the '{extra}' extra is not installed: pip install 'alphaplus[{extra}]'")


@pytest.fixture(scope="session")
def s3_env() -> Iterator[dict[str, str]]:
    """moto's S3 server on 127.0.0.1 for the session; this process's S3 clients point at it."""
    needs("s3fs", "s3")
    needs("moto.server", "dev")
    with local_s3_endpoint() as env, pytest.MonkeyPatch.context() as mp:
        for key in _AWS_KEYS:
            mp.delenv(key, raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        yield env


@pytest.fixture
def s3_root(s3_env) -> str:
    """A fresh bucket and prefix: the artifact root as a user would set it."""
    bucket = f"alphaplus-{uuid.uuid4().hex[:12]}"
    make_bucket(s3_env, bucket)
    return f"s3://{bucket}/models"


@pytest.fixture(scope="module")
def dask_cluster():
    """A LocalCluster of two single-threaded worker processes (loopback, no dashboard)."""
    needs("prefect_dask", "dask")
    import dask
    from distributed import Client, LocalCluster

    # The scheduler lives in this busy process: on a machine loaded far past its cores it was seen to
    # drop idle workers whose heartbeats it had not read for five minutes. Losing a worker is tested on
    # purpose below; by accident it would only make the tests flaky.
    with dask.config.set({"distributed.scheduler.worker-ttl": None}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               host="127.0.0.1")
    with cluster, Client(cluster) as client:
        yield cluster, client


def worker_pids(client) -> dict[str, int]:
    """Worker address -> process id, as the workers report it."""
    return client.run(os.getpid)
