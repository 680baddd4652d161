"""The report as a person reads it: long inputs aggregated to a readable number of points, the table
folded behind a summary line, and the verdict naming the deciding interval by number and by time."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.cli import analysis_report, offline_judge, report_html
from canary.cli.arm_samples import ArmData, Interval
from canary.cli.plots import MAX_POINTS, Summary, aggregate, tick_step

INTERVALS = 3000


def one_sample_arms(shift_from: int) -> tuple[ArmData, ArmData]:
    """3,000 one-sample intervals at times 0.0, 0.1, ...; the canary is much slower from `shift_from` on."""
    times = [f"{t / 10:g}" for t in range(INTERVALS)]
    stable = ArmData(
        "stable.csv", False, tuple(Interval(t, (1.0 + (i % 7) / 10,)) for i, t in enumerate(times))
    )
    canary = ArmData(
        "canary.csv",
        False,
        tuple(
            Interval(t, (1.0 + (i % 7) / 10 + (5.0 if i >= shift_from else 0.0),))
            for i, t in enumerate(times)
        ),
    )
    return stable, canary


Judged = tuple[offline_judge.Judgement, ArmData, ArmData]


@pytest.fixture(scope="module")
def judged() -> Judged:
    """The canary slows down from interval 1501 on (judged once: 3,000 intervals take a while)."""
    stable, canary = one_sample_arms(shift_from=1500)
    return offline_judge.judge_arms("sequential-location", {}, stable, canary), stable, canary


@given(st.lists(st.floats(allow_nan=True, allow_infinity=False), max_size=2000))
def test_buckets_cover_every_value_once_in_order_and_never_exceed_the_maximum(values: list[float]) -> None:
    buckets = aggregate(values, Summary.MEAN)
    assert len(buckets) <= MAX_POINTS
    covered = [i for b in buckets for i in range(b.first, b.last + 1)]
    assert covered == list(range(len(values)))


def test_a_short_input_keeps_one_point_per_interval() -> None:
    buckets = aggregate([3.0, 1.0, 2.0], Summary.MEAN)
    assert [(b.first, b.last, b.value) for b in buckets] == [(0, 0, 3.0), (1, 1, 1.0), (2, 2, 2.0)]


def test_a_p_value_run_shows_its_smallest_value_so_a_fall_to_the_threshold_stays_visible() -> None:
    p_values = [0.5] * 299 + [0.01] + [0.5] * 2700
    assert min(b.value for b in aggregate(p_values, Summary.MIN)) == 0.01


def test_a_run_without_any_finite_value_is_a_gap() -> None:
    assert math.isnan(aggregate([math.nan, math.nan], Summary.MEAN, max_points=1)[0].value)


def test_a_point_standing_for_a_run_names_its_intervals_and_times() -> None:
    bucket = aggregate([1.0] * 10, Summary.MEAN, max_points=2)[1]
    labels = [f"t{i}" for i in range(10)]
    assert bucket.describe(labels) == "intervals 6 to 10 (time t5 to t9)"


def test_three_thousand_intervals_are_drawn_as_at_most_the_maximum_points_per_line(judged: Judged) -> None:
    judgement, stable, canary = judged
    report = analysis_report.judgement_report(judgement, stable, canary)
    lines = [trace for figure in report.figures for trace in figure.plot.data if trace.type == "scatter"]
    assert lines and all(len(trace.x) <= MAX_POINTS for trace in lines)


def test_the_failure_names_the_interval_by_number_and_by_its_time(judged: Judged) -> None:
    judgement, _, _ = judged
    line = analysis_report.why(judgement)
    found = re.match(r"Failed at interval (\d+) of 3000 \(time ([0-9.]+)\): p-value", line)
    assert found, line
    number, time = int(found[1]), found[2]
    assert number > 1500 and time == f"{(number - 1) / 10:g}"


def test_the_table_of_every_interval_is_folded_behind_a_summary_of_the_verdicts(judged: Judged) -> None:
    judgement, stable, canary = judged
    html = report_html.render(analysis_report.judgement_report(judgement, stable, canary))
    found = re.search(r"<details><summary>([^<]*)</summary><table>", html)
    assert found, "the table sits inside <details>"
    assert re.fullmatch(r"Verdict and evidence of every interval \(3000: .*\d+ fail.*\)", found[1]), found[1]
    assert html.index("<details>") > html.rindex('class="plotly-graph-div"'), "plots come before the table"


@pytest.mark.parametrize(("count", "step"), [(1, 1), (10, 1), (12, 2), (60, 10), (3000, 500)])
def test_interval_ticks_fall_on_round_whole_numbers(count: int, step: int) -> None:
    assert tick_step(count) == step


def test_the_evidence_plot_marks_the_interval_that_failed(judged: Judged) -> None:
    judgement, stable, canary = judged
    found = re.match(r"Failed at interval (\d+)", analysis_report.why(judgement))
    assert found
    failed = int(found[1])
    evidence = analysis_report.judgement_report(judgement, stable, canary).figures[-1].plot
    (line,) = evidence.layout.shapes
    assert line.x0 == line.x1 == failed
    assert evidence.layout.annotations[0].text == f"failed at interval {failed}"
