"""Rollback target choice: the safest previous version of a slot to restore, with reasons.

Pure, like the assessment policy it serves: eligibility rules (never failed, quarantined, unverified,
the current version, or one rolled back for cause within the no-return window) and the ranking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from alphaplus.rollback.config import RollbackPolicy
from alphaplus.rollback.state import SlotHistory, as_utc, json_float


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A version of the slot that might be rolled back to.

    baseline_metrics / baseline_source: its out-of-sample scores, from its holdout ("validation" only for
        versions stored without holdout outcomes: validation chose the early-stopping iteration).
    live_metrics / live_samples / label_horizon: recent live or shadow scores, the outcome rows they
        rest on and bars per label (rows / horizon = independent outcomes).
    served_production_without_incident: it was production before and left for a routine reason.
    last_production_end: when it last stopped serving production (recency tie-break).
    rolled_back_for_cause_at: when it was last rolled back because of a problem.
    """

    version: int
    status: str
    quarantined: bool = False
    artifact_verified: bool = False
    baseline_metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    baseline_source: Literal["holdout", "validation"] = "holdout"
    live_metrics: Mapping[str, float] | None = None
    live_samples: int = 0
    label_horizon: int = 1
    served_production_without_incident: bool = False
    last_production_end: datetime | None = None
    rolled_back_for_cause_at: datetime | None = None

    def __post_init__(self) -> None:
        # Accept a lifecycle enum as well as its string value.
        object.__setattr__(self, "status", str(getattr(self.status, "value", self.status)))
        object.__setattr__(self, "baseline_metrics", MappingProxyType(dict(self.baseline_metrics)))
        if self.live_metrics is not None:
            object.__setattr__(self, "live_metrics", MappingProxyType(dict(self.live_metrics)))
        object.__setattr__(self, "last_production_end", as_utc(self.last_production_end))
        object.__setattr__(self, "rolled_back_for_cause_at", as_utc(self.rolled_back_for_cause_at))


@dataclass(frozen=True, kw_only=True)
class RankedCandidate:
    """One candidate's place in the choice: rank (1 = chosen) when eligible, else why it was excluded."""

    version: int
    eligible: bool
    rank: int | None
    score: float | None
    score_source: Literal["live", "holdout", "validation"] | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "version": self.version, "eligible": self.eligible, "rank": self.rank,
            "score": json_float(self.score), "score_source": self.score_source, "reasons": list(self.reasons),
        }


@dataclass(frozen=True, kw_only=True)
class CandidateChoice:
    """The rollback target (None when no version is safe) and the full ranking behind it."""

    target: int | None
    reason: str
    ranking: tuple[RankedCandidate, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"target": self.target, "reason": self.reason, "ranking": [r.to_dict() for r in self.ranking]}


def _exclusions(
    c: Candidate, current_version: int | None, policy: RollbackPolicy, now: datetime, barred_at: datetime | None
) -> list[str]:
    out: list[str] = []
    if current_version is not None and c.version == current_version:
        out.append("it is the version being rolled back")
    if c.status == "failed":
        out.append("it is marked failed")
    elif c.status not in policy.eligible_statuses:
        out.append(f"its status is {c.status!r} (only {' or '.join(policy.eligible_statuses)} may be restored)")
    if c.quarantined:
        out.append("it is quarantined")
    if not c.artifact_verified:
        out.append("its artifact did not verify against the recorded hash")
    if barred_at is not None and now - barred_at < policy.no_return:
        until = barred_at + policy.no_return
        out.append(
            f"it was rolled back for cause at {barred_at:%Y-%m-%d %H:%M} UTC "
            f"and is barred until {until:%Y-%m-%d %H:%M} UTC"
        )
    return out


# Excluded versions named in a no-candidate reason; the rest are counted (the full ranking is in the
# rollback's JSON: ``alphaplus rollback ... --dry-run --json``, ``alphaplus rollbacks list --json``).
_NAMED_EXCLUSIONS = 5


def no_candidate_reason(excluded: Iterable[RankedCandidate]) -> str:
    """Why no version can be restored, naming each excluded version (newest first) and why."""
    rows = sorted(excluded, key=lambda r: -r.version)
    others = [r for r in rows if "it is the version being rolled back" not in r.reasons]
    if not others:
        return "no safe candidate: the slot has no other version to restore"
    named = "; ".join(f"version {r.version}: {', '.join(r.reasons)}" for r in rows[:_NAMED_EXCLUSIONS])
    more = len(rows) - _NAMED_EXCLUSIONS
    tail = (f"; and {more} older versions (all listed by `alphaplus rollback ... --dry-run --json`)"
            if more > 0 else "")
    return f"no safe candidate, every version is excluded: {named}{tail}"


def choose_rollback_target(
    candidates: Iterable[Candidate],
    current_version: int | None,
    policy: RollbackPolicy | None,
    now: datetime,
    *,
    history: SlotHistory | None = None,
) -> CandidateChoice:
    """Pick the safest version to restore, or none.

    Eligible: status in ``policy.eligible_statuses`` (never failed), not quarantined, artifact verified,
    not ``current_version``, not rolled back for cause within ``policy.no_return`` (from the candidate or
    ``history``).  Ranked by, in order: served production without incident; scored on live/shadow
    metrics with at least ``min_outcomes`` independent outcomes (a rollback should return to something
    known to work under live conditions); the score of ``ranking_metric`` (live, else holdout, else
    validation, which is rosier); most recent production service; highest version.
    """
    policy = policy or RollbackPolicy()
    now = as_utc(now)
    barred_by_history = history.rolled_back_for_cause if history is not None else {}
    eligible: list[tuple[tuple[Any, ...], Candidate, float | None, str | None, list[str]]] = []
    excluded: list[RankedCandidate] = []
    metric = policy.ranking_metric
    for c in candidates:
        # The slot history records each rollback at the service's clock (``now``, simulated in a replay);
        # the event's own time is the database's. Every rollback updates the history, so its time is the
        # one to compare with ``now``; the event's time counts when the history has none for the version.
        barred = barred_by_history.get(c.version) or c.rolled_back_for_cause_at
        why_not = _exclusions(c, current_version, policy, now, barred)
        if why_not:
            excluded.append(
                RankedCandidate(
                    version=c.version, eligible=False, rank=None, score=None, score_source=None,
                    reasons=tuple(why_not),
                )
            )
            continue
        notes: list[str] = []
        need = policy.min_outcomes * max(1, c.label_horizon)
        live_ok = c.live_metrics is not None and c.live_samples >= need and metric in c.live_metrics
        if live_ok:
            score, src = float(c.live_metrics[metric]), "live"  # type: ignore[index]
            notes.append(f"live {metric} {score:+.3f} on {c.live_samples} outcomes")
        elif metric in c.baseline_metrics:
            score, src = float(c.baseline_metrics[metric]), c.baseline_source
            if c.live_metrics is not None:
                notes.append(f"only {c.live_samples} live outcomes (need {need}); ranked on {src}")
            notes.append(f"{src} {metric} {score:+.3f}")
        else:
            score, src = None, None
            notes.append(f"no {metric} recorded; ranked last")
        if c.served_production_without_incident:
            notes.append("served production before without incident")
        comparable = score if score is not None and math.isfinite(score) else -math.inf
        recency = c.last_production_end.timestamp() if c.last_production_end is not None else -math.inf
        key = (c.served_production_without_incident, src == "live", comparable, recency, c.version)
        eligible.append((key, c, score, src, notes))

    eligible.sort(key=lambda item: item[0], reverse=True)
    ranked = tuple(
        RankedCandidate(
            version=c.version, eligible=True, rank=i, score=score, score_source=src,  # type: ignore[arg-type]
            reasons=tuple(notes),
        )
        for i, (_, c, score, src, notes) in enumerate(eligible, start=1)
    )
    ranking = ranked + tuple(sorted(excluded, key=lambda r: -r.version))
    if not ranked:
        return CandidateChoice(target=None, reason=no_candidate_reason(excluded), ranking=ranking)
    best = ranked[0]
    return CandidateChoice(
        target=best.version,
        reason=f"restore version {best.version}: " + "; ".join(best.reasons),
        ranking=ranking,
    )
