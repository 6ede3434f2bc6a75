"""Market-wide shift told apart from a model failure."""

from __future__ import annotations

from alphaplus.core.entities import Slot
from alphaplus.rollback.baseline import Baseline
from alphaplus.rollback.market import EdgeVerdict, market_shift, target_does_better
from alphaplus.rollback.config import RollbackPolicy
from alphaplus.rollback.state import Evidence
from alphaplus.rollback.statistics import Confusion

POLICY = RollbackPolicy()
BASE = Baseline(confusion=Confusion(1_100, 900, 900, 1_100), n_effective=4_000 / 7, label_horizon=12)


def verdicts(symbol: str, *lost: bool | None) -> list[EdgeVerdict]:
    return [EdgeVerdict(Slot("m", f"r{i}", symbol), v) for i, v in enumerate(lost)]


def test_most_slots_of_a_symbol_losing_their_edge_is_a_shift_of_that_symbol():
    shift = market_shift(verdicts("BTC", True, True, False) + verdicts("ETH", False, False, True), POLICY)
    assert shift.symbols == {"BTC"} and not shift.everywhere
    assert shift.covers(Slot("m", "r9", "BTC")) and not shift.covers(Slot("m", "r0", "ETH"))
    assert shift.describe(Slot("m", "r0", "BTC")) == (
        "2 of 3 tested production slots of BTC lost their edge in the same period")


def test_one_failing_slot_is_a_model_failure_and_untested_slots_do_not_count():
    shift = market_shift(verdicts("BTC", True, False, None, None), POLICY)
    assert shift.symbols == frozenset() and not shift.everywhere
    assert market_shift(verdicts("BTC", True), POLICY).symbols == frozenset()  # one slot alone proves nothing


def test_most_slots_of_all_symbols_losing_their_edge_is_a_shift_everywhere():
    v = verdicts("BTC", True, False) + verdicts("ETH", True, False) + verdicts("SOL", True)
    shift = market_shift(v, POLICY)
    assert shift.everywhere and shift.overall == (3, 5) and shift.covers(Slot("m", "x", "XRP"))


def evidence(acc: float, n: int) -> Evidence:
    correct = round(acc * n)
    tp, fp = correct // 2, (n - correct) // 2
    return Evidence(windows=1, n=n, n_correct=correct, confusion=Confusion(tp, fp, n - correct - fp, correct - tp))


def test_a_target_clearly_better_in_shadow_means_a_model_failure():
    c = target_does_better(4, evidence(0.58, 2_400), evidence(0.45, 2_400), BASE, 12, POLICY)
    assert c.better and "version 4 does better in shadow" in c.reason
    assert all(t.adjusted_p is not None for t in c.tests)


def test_a_target_failing_as_much_or_unscored_does_no_better():
    same = target_does_better(4, evidence(0.46, 2_400), evidence(0.45, 2_400), BASE, 12, POLICY)
    assert not same.better and "does no better in shadow" in same.reason
    thin = target_does_better(4, evidence(0.70, 100), evidence(0.45, 2_400), BASE, 12, POLICY)
    assert not thin.better and "scored in shadow on 100 outcomes" in thin.reason and thin.tests == ()
    assert not target_does_better(4, None, evidence(0.45, 2_400), BASE, 12, POLICY).better
