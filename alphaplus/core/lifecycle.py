"""The lifecycle state machine of a model version, as one table; the database holds the same table."""

from __future__ import annotations

from alphaplus.core.errors import IllegalTransition

STAGING = "staging"
CANARY = "canary"
PRODUCTION = "production"
ROLLBACK_CANDIDATE = "rollback_candidate"
ARCHIVED = "archived"
FAILED = "failed"

STATUSES: tuple[str, ...] = (STAGING, CANARY, PRODUCTION, ROLLBACK_CANDIDATE, ARCHIVED, FAILED)

# from status -> statuses it may become. Production is entered only by a pointer move (promotion or
# rollback); a version that left production keeps a track record and can return to it unless it
# failed. Failed is terminal except for archiving.
TRANSITIONS: dict[str, frozenset[str]] = {
    STAGING: frozenset({CANARY, PRODUCTION, FAILED, ARCHIVED}),
    CANARY: frozenset({PRODUCTION, FAILED, ARCHIVED}),
    PRODUCTION: frozenset({ROLLBACK_CANDIDATE, FAILED, ARCHIVED}),
    ROLLBACK_CANDIDATE: frozenset({PRODUCTION, ARCHIVED, FAILED}),
    ARCHIVED: frozenset({PRODUCTION, ROLLBACK_CANDIDATE, FAILED}),
    FAILED: frozenset({ARCHIVED}),
}

# Statuses from which a version may be chosen as a rollback target.
ROLLBACK_TARGET_STATUSES = frozenset({ROLLBACK_CANDIDATE, ARCHIVED})


def allowed(from_status: str, to_status: str) -> bool:
    """True when the state machine allows ``from_status`` -> ``to_status``."""
    return to_status in TRANSITIONS.get(from_status, frozenset())


def check_transition(model_name: str, version: int, from_status: str, to_status: str) -> None:
    """Raise :class:`IllegalTransition` with an actionable message unless the move is allowed."""
    if to_status not in STATUSES:
        raise IllegalTransition(f"'{to_status}' is not a status; statuses are {', '.join(STATUSES)}")
    if from_status == to_status:
        raise IllegalTransition(f"version {version} of {model_name} is already '{to_status}'")
    if not allowed(from_status, to_status):
        sources = sorted(s for s, targets in TRANSITIONS.items() if to_status in targets)
        raise IllegalTransition(
            f"version {version} of {model_name} is '{from_status}'; only {' or '.join(sources)} "
            f"versions can become '{to_status}'"
        )
