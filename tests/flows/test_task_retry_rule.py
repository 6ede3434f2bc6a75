"""The retry rule inside real Prefect task runs: a transient failure is retried, a bug runs once."""

from __future__ import annotations

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from alphaplus.core.errors import DatabaseUnavailable
from tasks.retry import transient_only

pytestmark = pytest.mark.prefect


def _attempts_until_failure(error: Exception) -> int:
    attempts = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
    def failing() -> None:
        attempts.append(1)
        raise error

    @flow
    def run() -> None:
        failing()

    with pytest.raises(type(error)):
        run()
    return len(attempts)


def test_a_lost_database_is_retried_by_the_task_runner(prefect_harness):
    assert _attempts_until_failure(DatabaseUnavailable("connection refused")) == 3


def test_a_type_error_from_a_bug_fails_the_task_on_its_first_attempt(prefect_harness):
    assert _attempts_until_failure(TypeError("unsupported operand type(s) for +: 'int' and 'str'")) == 1
