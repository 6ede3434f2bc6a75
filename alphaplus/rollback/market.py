"""Market-wide shift told apart from a model failure.

A production version that loses its edge may be broken, or the market may have changed under every
model at once.  Rolling back helps only in the first case: in the second the older version fails just
as much.  So before an automatic rollback for loss of edge:

1. ``market_shift`` looks at every production slot's latest edge verdict: when more than
   ``market_shift_share`` of the tested slots of the symbol (or of all symbols), and at least
   ``market_shift_min_slots`` of them, have lost their edge, the market moved;
2. ``target_does_better`` asks whether the rollback target, scored in shadow over the same period, did
   significantly better than the production version live (two-sample skill tests, Holm).

A market move with a target that does no better (or was not scored in shadow on enough outcomes) is
a market shift: the rollback is withheld, recorded and raised, and the advice is to retrain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from alphaplus.core.entities import Slot
from alphaplus.core.figures import pair
from alphaplus.rollback.baseline import Baseline
from alphaplus.rollback.config import RollbackPolicy
from alphaplus.rollback.state import Evidence
from alphaplus.rollback.statistics import SKILLS, MetricTest, holm, skill_drop_tests


@dataclass(frozen=True)
class EdgeVerdict:
    """A production slot's latest verdict on its edge: lost (True), kept (False) or not tested (None)."""

    slot: Slot
    lost: bool | None


@dataclass(frozen=True)
class MarketShift:
    """Where most production slots lost their edge at once.

    per_symbol: symbol -> (slots that lost their edge, slots tested); overall: the same over all.
    """

    symbols: frozenset[str] = frozenset()
    everywhere: bool = False
    per_symbol: Mapping[str, tuple[int, int]] = field(default_factory=lambda: MappingProxyType({}))
    overall: tuple[int, int] = (0, 0)

    def covers(self, slot: Slot) -> bool:
        return self.everywhere or slot.symbol in self.symbols

    def describe(self, slot: Slot) -> str:
        """Plain words: how many slots lost their edge, where."""
        local = slot.symbol in self.symbols
        lost, tested = self.per_symbol.get(slot.symbol, (0, 0)) if local else self.overall
        where = f"of {slot.symbol}" if local else "of all symbols"
        return f"{lost} of {tested} tested production slots {where} lost their edge in the same period"

    def to_dict(self) -> dict[str, object]:
        return {"symbols": sorted(self.symbols), "everywhere": self.everywhere,
                "per_symbol": {k: list(v) for k, v in self.per_symbol.items()}, "overall": list(self.overall)}


def market_shift(verdicts: Iterable[EdgeVerdict], policy: RollbackPolicy) -> MarketShift:
    """The symbols (or the whole market) where most tested production slots lost their edge."""
    counts: dict[str, list[int]] = {}
    for v in verdicts:
        if v.lost is None:
            continue
        c = counts.setdefault(v.slot.symbol, [0, 0])
        c[0] += int(v.lost)
        c[1] += 1

    def moved(lost: int, tested: int) -> bool:
        return tested > 0 and lost >= policy.market_shift_min_slots and lost / tested > policy.market_shift_share

    lost_all = sum(c[0] for c in counts.values())
    tested_all = sum(c[1] for c in counts.values())
    return MarketShift(
        symbols=frozenset(s for s, (lost, tested) in counts.items() if moved(lost, tested)),
        everywhere=moved(lost_all, tested_all),
        per_symbol=MappingProxyType({s: (c[0], c[1]) for s, c in counts.items()}),
        overall=(lost_all, tested_all),
    )


@dataclass(frozen=True)
class TargetComparison:
    """Did the rollback target do better in shadow than the production version live?"""

    better: bool
    reason: str
    tests: tuple[MetricTest, ...] = ()


def target_does_better(
    target: int, shadow: Evidence | None, live: Evidence, baseline: Baseline, horizon: int, policy: RollbackPolicy,
) -> TargetComparison:
    """Two-sample skill tests (Holm) of "the target's shadow skill exceeds the production version's live
    skill" over the production stint; both sides' rows count at the production version's design effect."""
    need = policy.min_outcomes * horizon
    if shadow is None or shadow.n < need or shadow.confusion is None or live.confusion is None:
        n = 0 if shadow is None else shadow.n
        return TargetComparison(False, f"version {target} was scored in shadow on {n:,} outcomes of this period "
                                       f"(at least {need:,} are needed to show it does better)")
    # "The production version's live skill is below the target's shadow skill."
    tests = holm(skill_drop_tests(live.confusion, shadow.confusion, baseline.reference_class,
                                  baseline.design_effect(horizon), policy.skill_metrics))
    better = [t for t in tests if t.adjusted_p is not None and t.adjusted_p < policy.alpha]
    parts = "; ".join("{} {} in shadow vs {} live (Holm p={:.2g})".format(
        SKILLS[t.metric], *pair(t.reference, t.live, sign=True), t.adjusted_p) for t in tests)
    verdict = f"version {target} does better in shadow" if better else f"version {target} does no better in shadow"
    return TargetComparison(bool(better), f"{verdict}: {parts}" if parts else verdict, tests)
