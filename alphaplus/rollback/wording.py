"""The plain-word reasons of a rollback assessment: what was tested, on how much evidence, and why
the verdict is what it is.  Pure text from the numbers ``alphaplus.rollback.policy`` computed."""

from __future__ import annotations

from collections.abc import Sequence

from alphaplus.core.figures import pair
from alphaplus.rollback.baseline import Baseline
from alphaplus.rollback.config import RollbackPolicy
from alphaplus.rollback.state import Evidence, LiveWindow, SlotHistory, Status
from alphaplus.rollback.statistics import SKILLS, MetricTest


def _p(value: float | None) -> str:
    return "-" if value is None else (f"{value:.2g}" if value >= 0.001 else f"{value:.1e}")


def _test_reason(t: MetricTest, source: str, policy: RollbackPolicy) -> str:
    if t.metric == "error_rate":
        clear = t.adjusted_p is not None and t.adjusted_p < policy.alpha
        live, limit = pair(t.live, t.reference, 1, style="%")
        return (f"{live} of {t.n:,} inference calls failed (limit {limit}); exact binomial "
                f"p={_p(t.p_value)}: {'above the limit' if clear else 'not clearly above it'}")
    drop = t.relative_drop
    drop_shown, counts = pair(drop, policy.performance_drop, 0, style="%")
    drop_text = f", a {drop_shown} drop" if drop is not None and drop > 0 else ""
    clear = t.adjusted_p is not None and t.adjusted_p < policy.alpha
    if clear and (drop is None or drop >= policy.performance_drop):
        verdict = "a clear loss of edge"
    elif clear:
        verdict = f"clearly lower, but by less than the {counts} that counts"
    else:
        verdict = "not a clear loss of edge"
    live, reference = pair(t.live, t.reference, sign=True)
    return (
        f"{SKILLS[t.metric]} {live} vs {source} {reference}{drop_text}: z={t.statistic:.2f}, "
        f"p={_p(t.p_value)} (Holm {_p(t.adjusted_p)}) on {t.n:,} live outcomes (~{t.n_effective:.0f} independent) "
        f"and {t.reference_n or 0:,} {source} outcomes (~{t.reference_n_effective or 0:.0f}): {verdict}"
    )


def findings_reasons(
    baseline: Baseline, tests: Sequence[MetricTest], window: Evidence, pending: Evidence, calls: Evidence,
    policy: RollbackPolicy, horizon: int, look: bool, check: bool, live: LiveWindow, threshold: float,
    drift: bool, *, fired: bool,
) -> list[str]:
    """One sentence per finding, in the order: evidence, tests, drift."""
    reasons: list[str] = []
    need = policy.look_outcomes * horizon
    if not look:
        reasons.append(
            f"{pending.n:,} live outcomes since the last look; a look needs {need:,} "
            f"({policy.look_outcomes} independent outcomes of {horizon} bars)"
        )
    elif window.n < policy.min_outcomes * horizon:
        reasons.append(
            f"the test window holds {window.n:,} outcomes (~{window.n // horizon} independent); the edge is "
            f"tested from {policy.min_outcomes} independent outcomes ({policy.min_outcomes * horizon:,} rows)"
        )
    elif baseline.confusion is None:
        reasons.append(f"loss of edge cannot be tested: {baseline.note}")
    elif window.confusion is None:
        reasons.append("loss of edge cannot be tested: the live windows carry no confusion counts")
    if baseline.source == "validation" and any(t.metric != "error_rate" for t in tests):
        reasons.append(f"baseline: {baseline.note}")
    reasons.extend(_test_reason(t, baseline.source, policy) for t in tests)
    if not check and calls.inferences:
        reasons.append(f"{calls.inferences:,} inference calls since the last error check "
                       f"(one needs {policy.min_inferences:,})")
    if drift:
        psi, psi_threshold = pair(live.max_psi, threshold, 2)
        reasons.append(
            f"live inputs drifted from the training data (largest PSI {psi} over the latest bars, "
            f"threshold {psi_threshold}): "
            + ("it makes the problem above more severe" if fired
               else "retrain on recent data; drift alone does not roll back")
        )
    return reasons


def verdict_reason(
    reasons: list[str], status: Status, history: SlotHistory, carry: SlotHistory, since: Evidence,
    policy: RollbackPolicy,
    horizon: int, manual_reason: str | None, baseline: Baseline, tests: Sequence[MetricTest] = (),
) -> list[str]:
    """``reasons`` with the verdict's sentence added (last, or first for a manual request)."""
    streak = max(carry.consecutive_count, carry.error_streak)
    if status == "rollback" and manual_reason is not None:
        return [f"manual rollback requested: {manual_reason}", *reasons]
    if status == "cooldown":
        need = policy.cooldown_outcomes * horizon
        reasons.append(
            f"the slot was rolled back at {history.last_rollback_at:%Y-%m-%d %H:%M} UTC; automatic rollbacks resume "
            f"after {need:,} outcomes or inference calls ({policy.cooldown_outcomes} independent outcomes); "
            f"{max(since.n, since.inferences):,} so far"
        )
    elif status == "rollback":
        reasons.append(f"confirmed in {streak} consecutive looks: roll back")
    elif status == "triggered_pending":
        reasons.append(f"confirmed in {streak} of the {policy.consecutive} consecutive looks needed before a rollback"
                       + ("" if any(t.adjusted_p is not None and t.adjusted_p < policy.alpha for t in tests)
                          else "; neither confirmed nor cleared until the next look"))
    else:
        reasons.append(f"healthy: no clear loss of edge against the {baseline.source} baseline"
                       if baseline.confusion is not None else "healthy: no error-rate problem")
    return reasons
