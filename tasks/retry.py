"""When a task's retry may help: transient database trouble, not a mistake a retry would repeat."""

from __future__ import annotations

from typing import Any

from alphaplus.core.errors import AlphaPlusError, ConcurrentModification, DatabaseUnavailable


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn``: retry lost connections and lost races; a user's error fails at once."""
    error = getattr(state, "data", None)
    if isinstance(error, (DatabaseUnavailable, ConcurrentModification)):
        return True
    return not isinstance(error, AlphaPlusError)
