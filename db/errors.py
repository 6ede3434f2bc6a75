"""Translation of driver errors into domain errors at the db/ boundary."""

from __future__ import annotations

import contextlib
from typing import Iterator

import asyncpg

from alphaplus.core.errors import (
    AlphaPlusError,
    ConcurrentModification,
    DatabaseUnavailable,
    IllegalTransition,
    InvalidInput,
    PermissionDenied,
    QuarantinedError,
    SchemaOutOfDate,
)
from alphaplus.core.redaction import mask_secrets

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
    "42P01": SchemaOutOfDate,  # undefined_table
    "42703": SchemaOutOfDate,  # undefined_column
    "42883": SchemaOutOfDate,  # undefined_function
}

MIGRATE_HINT = "run `alphaplus db migrate` (as the database owner) to create or update the schema"


# Classes of SQLSTATEs meaning the server is away or not yet accepting work (connection exceptions,
# too many connections, shutting down or starting up after a restart): retrying later can succeed.
_UNAVAILABLE_CLASSES = ("08", "53", "57P")


def translate(e: asyncpg.PostgresError) -> AlphaPlusError:
    """The domain error for a driver error (a generic AlphaPlusError when none fits)."""
    sqlstate = getattr(e, "sqlstate", None) or ""
    cls = _BY_SQLSTATE.get(sqlstate)
    message = mask_secrets(getattr(e, "message", None) or str(e))
    if cls is None and sqlstate.startswith(_UNAVAILABLE_CLASSES):
        return DatabaseUnavailable(f"database unavailable ({sqlstate}): {message}")
    if cls is PermissionDenied:
        message = _permission_message(message, sqlstate)
    if cls is SchemaOutOfDate:
        message = f"the database schema is missing or older than this code ({message}): {MIGRATE_HINT}"
    if cls is None:
        return AlphaPlusError(f"database error {sqlstate}: {message}", code=f"sqlstate_{sqlstate}")
    return cls(message)


def _permission_message(message: str, sqlstate: str) -> str:
    """One line starting with "permission denied: " whether the server or a trigger refused."""
    prefix = "permission denied for "
    if sqlstate == "42501" and message.startswith(prefix):
        # The server's own wording ("permission denied for table production_slots").
        what = message[len(prefix):]
        return (f"permission denied: this database login has no right to do that on {what} "
                "(see the README section on database roles)")
    return f"permission denied: {message}"


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Re-raise driver errors inside the block as domain errors, chained to the original."""
    try:
        yield
    except asyncpg.PostgresError as e:
        raise translate(e) from e
    except (OSError, asyncpg.InterfaceError) as e:
        raise DatabaseUnavailable(f"database connection lost: {mask_secrets(str(e))}") from e
