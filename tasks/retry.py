"""When a task's retry may help: transient database trouble, never a mistake a retry would repeat."""

from __future__ import annotations

from typing import Any

from alphaplus.core.errors import ConcurrentModification, DatabaseUnavailable

# Failures a retry can cure: the database was away, or another writer won a race for the slot.
# Everything else fails the task at once: a user's mistake (any other AlphaPlusError) would be
# repeated, and a bug (TypeError, KeyError, ...) would only be hidden and delayed by a retry.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable, ConcurrentModification, ConnectionError, TimeoutError,
)


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn``: retry lost connections and lost races; anything else fails at once."""
    return isinstance(getattr(state, "data", None), TRANSIENT_ERRORS)
