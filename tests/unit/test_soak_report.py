"""The soak report's growth rates (tests/soak/soak.py): a creep under a trim's saw-tooth."""

from __future__ import annotations

from tests.soak.soak import rss_slopes


def test_flat_memory_under_a_saw_tooth_has_no_lowest_slope() -> None:
    # Two hours of 10 s samples: +1 MB between trims, back down at each minute.
    samples = [{"t_s": float(t), "rss_mb": 70.0 + (t % 60) / 60} for t in range(0, 7200, 10)]
    slopes = rss_slopes(samples)
    assert slopes["rss_lowest_per_10min_slope_mb_per_h"] == 0.0
    assert abs(slopes["rss_slope_mb_per_h"] or 0.0) < 0.01


def test_a_creep_shows_in_both_slopes() -> None:
    samples = [{"t_s": float(t), "rss_mb": 70.0 + 0.5 * t / 3600 + (t % 60) / 60}
               for t in range(0, 7200, 10)]
    slopes = rss_slopes(samples)
    assert slopes["rss_lowest_per_10min_slope_mb_per_h"] == 0.5
    assert abs((slopes["rss_slope_mb_per_h"] or 0.0) - 0.5) < 0.01


def test_too_few_samples_give_no_slope() -> None:
    assert rss_slopes([{"t_s": 0.0, "rss_mb": 1.0}]) == {
        "rss_slope_mb_per_h": None, "rss_lowest_per_10min_slope_mb_per_h": None}
