"""Translation of driver errors into domain errors at the db/ boundary."""

from __future__ import annotations

import contextlib
from typing import Iterator

import asyncpg

from alphaplus.errors import (
    AlphaPlusError,
    ConcurrentModification,
    DatabaseUnavailable,
    IllegalTransition,
    InvalidInput,
    PermissionDenied,
    QuarantinedError,
)

# SQLSTATEs raised by the schema's own triggers (db/migrations/0002_lifecycle_rules.sql).
_BY_SQLSTATE: dict[str, type[AlphaPlusError]] = {
    "AP001": IllegalTransition,
    "AP002": QuarantinedError,
    "AP003": InvalidInput,
    "AP004": ConcurrentModification,
    "AP005": PermissionDenied,
    "42501": PermissionDenied,  # insufficient_privilege
    "55P03": ConcurrentModification,  # lock_not_available (lock_timeout)
    "40001": ConcurrentModification,  # serialization_failure
    "40P01": ConcurrentModification,  # deadlock_detected
    "23514": InvalidInput,  # check_violation
    "22P02": InvalidInput,  # invalid_text_representation
    "22001": InvalidInput,  # string_data_right_truncation
    "57014": DatabaseUnavailable,  # query_canceled (statement_timeout)
}


def translate(e: asyncpg.PostgresError) -> AlphaPlusError:
    """The domain error for a driver error (a generic AlphaPlusError when none fits)."""
    sqlstate = getattr(e, "sqlstate", None) or ""
    cls = _BY_SQLSTATE.get(sqlstate)
    message = getattr(e, "message", None) or str(e)
    if cls is PermissionDenied and sqlstate == "42501":
        message = f"permission denied: {message} (this database login lacks the rights for it)"
    if cls is None:
        return AlphaPlusError(f"database error {sqlstate}: {message}", code=f"sqlstate_{sqlstate}")
    return cls(message)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Re-raise driver errors inside the block as domain errors, chained to the original."""
    try:
        yield
    except asyncpg.PostgresError as e:
        raise translate(e) from e
    except (OSError, asyncpg.InterfaceError) as e:
        raise DatabaseUnavailable(f"database connection lost: {e}") from e
