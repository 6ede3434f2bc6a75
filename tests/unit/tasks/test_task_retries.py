"""Which task failures are retried: transient database trouble, never a user's mistake or a bug."""

from __future__ import annotations

import pytest
from prefect.states import Failed

from alphaplus.core.errors import ConcurrentModification, DatabaseUnavailable, InvalidInput, ModelNotFound
from tasks.retry import transient_only


def _failed(error: BaseException):
    # The state Prefect hands to retry_condition_fn: a Failed state carrying the exception.
    return Failed(data=error, message=repr(error))


@pytest.mark.parametrize("error", [DatabaseUnavailable("gone"), ConcurrentModification("busy"),
                                   ConnectionResetError("reset"), TimeoutError("slow")])
def test_transient_failures_are_retried(error):
    assert transient_only(None, None, _failed(error)) is True


@pytest.mark.parametrize("error", [InvalidInput("bad"), ModelNotFound("no such model")])
def test_a_users_mistake_fails_at_once(error):
    assert transient_only(None, None, _failed(error)) is False


@pytest.mark.parametrize("error", [TypeError("unsupported operand"), KeyError("horizon"),
                                   AttributeError("'NoneType' object has no attribute 'version'"),
                                   ZeroDivisionError("division by zero")])
def test_a_bug_is_not_retried(error):
    assert transient_only(None, None, _failed(error)) is False
