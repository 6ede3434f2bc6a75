"""Which task failures are retried: transient database trouble, never a user's mistake."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from alphaplus.core.errors import ConcurrentModification, DatabaseUnavailable, InvalidInput, ModelNotFound
from tasks.retry import transient_only


@pytest.mark.parametrize("error", [DatabaseUnavailable("gone"), ConcurrentModification("busy"), OSError("reset")])
def test_transient_failures_are_retried(error):
    assert transient_only(None, None, SimpleNamespace(data=error)) is True


@pytest.mark.parametrize("error", [InvalidInput("bad"), ModelNotFound("no such model")])
def test_a_users_mistake_fails_at_once(error):
    assert transient_only(None, None, SimpleNamespace(data=error)) is False
