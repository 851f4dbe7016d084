"""Medians and the p90 read by rank from bucketed values equal Python's statistics module (§5)."""

import random
import statistics

import pytest

from core.kpis import Ranked, median, p90, quantile_ranks


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9, 10, 11, 57, 200])
def test_median_and_p90_equal_the_statistics_module(n):
    rng = random.Random(n)
    values = [rng.choice((rng.uniform(0, 300), float(rng.randint(0, 80)), 47.999, 48.0)) for _ in range(n)]
    ranked = Ranked.of(values)
    assert median(ranked) == statistics.median(values)
    expected = statistics.quantiles(values, n=10, method="inclusive")[-1] if n > 1 else values[0]
    assert p90(ranked) == expected


def test_no_values_give_no_median_and_no_p90():
    assert median(Ranked.of([])) is None
    assert p90(Ranked.of([])) is None


def test_the_ranks_read_are_the_ones_the_quantiles_need():
    assert quantile_ranks(0) == set()
    assert quantile_ranks(1) == {0}
    assert quantile_ranks(10) == {4, 5, 8, 9}  # median: 5th and 6th; p90: 9th and 10th (j = 8)


def test_negative_durations_are_ranked_too():
    values = [-2.5, -0.25, 0.0, 3.0]
    assert median(Ranked.of(values)) == statistics.median(values)
