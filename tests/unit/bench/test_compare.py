"""The benches' report: best of each, and the median of the rounds' paired ratios."""

from __future__ import annotations

import pytest

from bench.compare import Rate, report


def test_report_gives_best_of_each_and_the_paired_median(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # round 2's host was slow for both; round 3 fast for the floor only
    floors = [Rate(10_000, 20_000), Rate(5_000, 10_000), Rate(12_000, 25_000)]
    rates = [Rate(8_000, 16_000), Rate(4_500, 9_000), Rate(8_000, 16_000)]
    report(floors, rates, floor_label="floor", label="stage", name="stage", target=">= 0.8")
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["floor", "12,000", "25,000", "40.0"]
    assert out[2].split() == ["stage", "8,000", "16,000", "62.5"]
    # pairs: 0.80, 0.90, 0.64 -> median 0.80; best of each: 16,000 / 25,000 = 0.64
    assert out[3] == "per round stage/floor per CPU-second: 0.80, 0.90, 0.64; median 0.80"
    assert out[4].startswith("elapsed-time ratio 0.67 ")
    assert out[5] == "stage/floor = 0.64   (target >= 0.8; paired median 0.80)"


def test_rounds_must_pair() -> None:
    with pytest.raises(ValueError):
        report(
            [Rate(1, 1)], [Rate(1, 1), Rate(1, 1)], floor_label="f", label="s", name="s", target="t"
        )
