"""The distance scores every kind of target as calibration/distance.py documents."""

import math

import pytest

from calibration.distance import (MISSING_MISS, averaged_relative_difference, band, distance,
                                  met, miss)
from calibration.targets import Target


def make(kind, value=1000.0, tolerance=0.1, tid="t", measurable=True):
    return Target(id=tid, label=tid, seed="001_3c5efb37f70223ed.txt", quote="q", seed_says="s",
                  value=value, kind=kind, tolerance=tolerance, columns=("encounters",),
                  first="2019-05", last="2019-05", measurable=measurable,
                  reason="" if measurable else "no output")


@pytest.mark.parametrize("kind, simulated, expected_miss, expected_met", [
    ("about", 1000, 0.0, True), ("about", 1100, 1.0, True), ("about", 900, 1.0, True),
    ("about", 1150, 1.5, False), ("about", 700, 3.0, False),
    ("exact", 1000, 0.0, True), ("exact", 1000.4, 0.004, True), ("exact", 1001, 0.01, False),
    ("exact", 1100, 1.0, False),
    ("at_least", 1000, 0.0, True), ("at_least", 5000, 0.0, True), ("at_least", 999, 0.01, False),
    ("at_least", 800, 2.0, False),
    ("at_most", 1000, 0.0, True), ("at_most", -5000, 0.0, True), ("at_most", 1001, 0.01, False),
    ("at_most", 1300, 3.0, False),
])
def test_each_kind_is_scored_and_judged_as_documented(kind, simulated, expected_miss, expected_met):
    t = make(kind)
    assert miss(t, simulated) == pytest.approx(expected_miss)
    assert met(t, simulated) is expected_met
    low, high = band(t)
    assert (low <= simulated <= high) is expected_met or kind == "exact"


def test_misses_are_on_the_tolerance_scale_whatever_the_figures_size():
    small, large = make("about", value=96, tolerance=0.25), make("about", value=1.7e6, tolerance=0.05)
    assert miss(small, 96 * 1.25) == pytest.approx(miss(large, 1.7e6 * 1.05)) == pytest.approx(1)
    negative = make("at_most", value=-0.70, tolerance=0.1)  # a relative change: a drop of 70 %
    assert miss(negative, -0.75) == 0 and miss(negative, -0.63) == pytest.approx(1)


def test_distance_is_the_root_mean_square_of_the_measurable_targets_misses():
    targets = (make("about", tid="a"), make("at_least", tid="b"), make("at_most", tid="c"),
               make("about", tid="x", measurable=False))
    simulated = {"a": 1200, "b": 2000, "c": 1100, "x": 1e9}
    assert distance(targets, simulated) == pytest.approx(math.sqrt((2 ** 2 + 0 + 1 ** 2) / 3))
    assert distance(targets, {"a": 1000, "b": 1000, "c": 1000}) == 0
    assert distance(targets, {"a": math.nan, "b": 1000, "c": 1000}) == pytest.approx(
        MISSING_MISS / math.sqrt(3))
    with pytest.raises(ValueError):
        distance((targets[3],), simulated)


def test_averaged_relative_difference_is_flees_score():
    targets = (make("about", tid="a"), make("at_least", tid="b"), make("exact", tid="x",
                                                                          measurable=False))
    simulated = {"a": 1100, "b": 1500}
    assert averaged_relative_difference(targets, simulated) == pytest.approx((0.1 + 0.5) / 2)
    assert averaged_relative_difference(targets, simulated, honour_kinds=True) == \
        pytest.approx(0.1 / 2)
    assert averaged_relative_difference(targets, {"a": 1000, "b": 500}, honour_kinds=True) == \
        pytest.approx(0.5 / 2)
