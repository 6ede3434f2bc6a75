"""Numbers printed side by side never contradict the comparison they illustrate."""

from __future__ import annotations

import math

from alphaplus.core.figures import figure, pair


def test_two_close_numbers_get_the_digits_that_tell_them_apart():
    assert pair(0.5201, 0.5204) == ("0.5201", "0.5204")
    assert pair(0.52, 0.5200001) == ("0.5200000", "0.5200001")


def test_numbers_far_apart_or_equal_keep_the_usual_digits():
    assert pair(0.401, 0.635) == ("0.401", "0.635")
    assert pair(0.52, 0.52) == ("0.520", "0.520")


def test_percentages_signs_and_significant_digits_are_told_apart_too():
    assert pair(0.0496, 0.05, 0, style="%") == ("4.96%", "5.00%")
    assert pair(0.04996, 0.05, style="g") == ("0.04996", "0.05")
    assert pair(0.1234, -0.1236, sign=True) == ("+0.123", "-0.124")
    assert pair(0.12341, 0.12349, sign=True) == ("+0.1234", "+0.1235")


def test_missing_and_non_finite_numbers_print_as_words():
    assert figure(None) == "none" and figure(math.nan) == "not a number" and figure(-math.inf) == "-inf"
    assert pair(math.nan, 0.5) == ("not a number", "0.500")
