"""`analyze samples --judge mann-whitney`: the why line names what decided the verdict.

The judge decides by the confidence interval of the shift canary - stable against the allowed
margin (tolerance x |estimate|) and by the mean ratio against allowed_increase/allowed_decrease,
not by the p-value; on samples too small for the confidence the line says so instead of quoting
an interval.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from canary.analysis.judges.mann_whitney import interval_reachable as reachable
from canary.analysis.judges.mann_whitney import samples_needed
from canary.cli.main import main

STABLE = [100.0 + (7 * i) % 40 for i in range(40)]
"""Forty distinct latencies, 100 to 139 ms."""

SLOWER = [v + 30 for v in STABLE]
FASTER = [v - 30 for v in STABLE]
INTERVAL = r"the 98% interval of the shift canary - stable is \[(?P<low>\S+), (?P<high>\S+)\]"

Why = Callable[..., str]


def write(path: Path, rows: Sequence[tuple[str, float]]) -> Path:
    path.write_text("time,value\n" + "".join(f"{label},{value}\n" for label, value in rows))
    return path


def one_interval(values: Sequence[float]) -> list[tuple[str, float]]:
    return [("1", v) for v in values]


@pytest.fixture
def why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Why:
    """The line `analyze` prints after `verdict: ...` for two arms' rows, given judge settings."""

    def why_line(
        stable: Sequence[tuple[str, float]], canary: Sequence[tuple[str, float]], *config: str
    ) -> str:
        settings = [arg for setting in config for arg in ("--config", setting)]
        files = [str(write(tmp_path / f"{arm}.csv", rows)) for arm, rows in (("s", stable), ("c", canary))]
        argv = ["analyze", "samples", "--judge", "mann-whitney", "--stable", files[0], "--canary", files[1]]
        main([*argv, *settings])
        return capsys.readouterr().out.splitlines()[1]

    return why_line


def test_a_failure_is_explained_by_the_interval_lying_beyond_the_allowed_margin(why: Why) -> None:
    line = why(one_interval(STABLE), one_interval(SLOWER))
    found = re.fullmatch(
        rf"fail at interval 1 of 1 \(time 1\): {INTERVAL} \(estimate (?P<estimate>\S+), 40 stable and 40 canary "
        r"samples\); it lies above \+(?P<margin>\S+) \(tolerance 0.25 times \|estimate\|\): a significant "
        r"increase, and the mean ratio canary / stable \S+ ≥ allowed_increase 1\.",
        line,
    )
    assert found, line
    assert (
        float(found["low"])
        > float(found["margin"])
        == pytest.approx(0.25 * float(found["estimate"]), rel=1e-3)
    )


def test_the_why_line_does_not_quote_the_p_value(why: Why) -> None:
    assert "p-value" not in why(one_interval(STABLE), one_interval(SLOWER))


def test_a_pass_says_the_interval_does_not_clear_the_margin_on_either_side(why: Why) -> None:
    line = why(one_interval(STABLE), one_interval([v + 1 for v in STABLE]))
    assert re.fullmatch(
        rf"pass at interval 1 of 1 \(time 1\), the last: {INTERVAL} \(.*\); it does not lie entirely above \+\S+ or "
        r"below -\S+ \(tolerance 0.25 times \|estimate\|\): no significant change\.",
        line,
    ), line


def test_a_change_the_direction_allows_passes_naming_the_direction(why: Why) -> None:
    line = why(one_interval(STABLE), one_interval(FASTER), "direction=increase")
    assert line.startswith("pass at interval 1 of 1 (time 1), the last: the 98% interval")
    assert line.endswith("a decrease, which direction increase lets pass.")


def test_a_significant_increase_below_allowed_increase_passes_naming_the_ratio(why: Why) -> None:
    line = why(one_interval(STABLE), one_interval(SLOWER), "allowed_increase=1.5")
    assert re.search(
        r"a significant increase, but the mean ratio canary / stable 1\.2\d* < allowed_increase 1\.5, "
        r"so it passes\.$",
        line,
    ), line


def test_a_decrease_fails_by_the_interval_below_the_negative_margin(why: Why) -> None:
    line = why(one_interval(STABLE), one_interval(FASTER), "direction=decrease")
    assert re.search(
        r"it lies below -\S+ \(tolerance 0.25 times \|estimate\|\): a significant decrease, and the mean "
        r"ratio canary / stable 0\.7\d* ≤ allowed_decrease 1\.$",
        line,
    ), line


def test_three_samples_per_arm_are_too_small_to_conclude_instead_of_an_interval(why: Why) -> None:
    line = why(one_interval([100, 101, 102]), one_interval([200, 201, 202]))
    assert line == (
        "nodata at interval 1 of 1 (time 1), the last: the sample is too small to conclude; with 3 stable and 3 canary "
        "samples no interval of the shift reaches 98% confidence; give each arm at least 5 samples per "
        "interval."
    )


def test_arms_of_three_tied_values_are_too_small_to_conclude(why: Why) -> None:
    line = why(one_interval([5, 5, 5]), one_interval([6, 6, 6]))
    assert "the sample is too small to conclude" in line
    assert "[1, 1]" not in line


def test_an_arm_of_tied_values_with_enough_samples_gets_its_interval(why: Why) -> None:
    line = why(one_interval([120.0] * 40), one_interval(SLOWER))
    assert re.match(rf"fail at interval 1 of 1 \(time 1\): {INTERVAL}", line), line


def test_a_lower_confidence_makes_three_samples_per_arm_enough(why: Why) -> None:
    line = why(one_interval([100, 101, 102]), one_interval([200, 201, 202]), "confidence=0.9")
    assert line.startswith("fail at interval 1 of 1 (time 1): the 90% interval of the shift canary - stable is [")


def test_the_first_failing_interval_decides_over_later_passes(why: Why) -> None:
    stable = one_interval(STABLE) + [("2", v) for v in STABLE]
    canary = one_interval(SLOWER) + [("2", v) for v in STABLE]
    assert why(stable, canary).startswith("fail at interval 1 of 2 (time 1): ")


def test_an_arm_without_samples_in_the_last_interval_is_no_data(why: Why) -> None:
    stable = one_interval(STABLE) + [("2", v) for v in STABLE]
    assert (
        why(stable, one_interval(STABLE))
        == "nodata at interval 2 of 2 (time 2), the last: no canary samples to compare."
    )


def test_an_arm_without_samples_fails_with_must_have_data(why: Why) -> None:
    stable = one_interval(STABLE) + [("2", v) for v in STABLE]
    line = why(stable, one_interval(STABLE), "must_have_data=true")
    assert line == "fail at interval 2 of 2 (time 2): no canary samples to compare, and must_have_data is set."


@pytest.mark.parametrize(
    ("n_stable", "n_canary", "confidence", "expected"),
    [
        (3, 3, 0.98, False),  # at most 1 - 2/20 = 90%
        (3, 3, 0.90, True),
        (4, 4, 0.98, False),  # 1 - 2/70 = 97.1%
        (5, 5, 0.98, True),  # 1 - 2/252 = 99.2%
        (40, 1, 0.98, False),  # one canary sample among 41: 1 - 2/41 = 95.1%
        (200, 1, 0.98, True),  # 1 - 2/201 = 99.0%
    ],
)
def test_a_rank_interval_reaches_the_confidence_only_with_enough_arrangements(
    n_stable: int, n_canary: int, confidence: float, expected: bool
) -> None:
    assert reachable(n_stable, n_canary, confidence) is expected


def test_the_samples_needed_per_arm_grow_with_the_confidence() -> None:
    assert [samples_needed(c) for c in (0.9, 0.98, 0.999)] == [3, 5, 7]


def test_the_mann_whitney_report_draws_no_p_value_threshold(tmp_path: Path) -> None:
    stable, canary = (
        write(tmp_path / "s.csv", one_interval(STABLE)),
        write(tmp_path / "c.csv", one_interval(SLOWER)),
    )
    report = tmp_path / "report.html"
    argv = ["analyze", "samples", "--judge", "mann-whitney", "--stable", str(stable), "--canary", str(canary)]
    main([*argv, "--report", str(report)])
    html = report.read_text()
    assert "fails at ≤" not in html
    assert "the 98% interval of the shift canary - stable is [" in html
