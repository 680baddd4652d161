"""What the analysis report shows, built from a verdict's data: why it passed or failed, with plots.

Two sources: a `Judgement` of two arms' CSV data (canary vs stable over time, their distributions,
the evidence against its threshold), and an AnalysisRun taken offline from a template (each metric's
measurements over time; a judge metric's p-value, against its threshold where that decides).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import plotly.graph_objects as go

from canary.api.analysis import AnalysisRun, Metric, MetricResult
from canary.cli import kayenta_report, mann_whitney_why, offline_judge, plots
from canary.cli.arm_samples import ArmData, aligned_labels, summary_value
from canary.cli.plots import CANARY_COLOUR, STABLE_COLOUR, Series, Summary, Threshold
from canary.cli.report_html import Figure, Report, Section

EVIDENCE_COLUMNS = ("p_value", "estimate", "ci_low", "ci_high", "n_stable", "n_canary")


def _fmt(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.4g}"


def why(judgement: offline_judge.Judgement) -> str:
    deciding = judgement.deciding
    if deciding is None:
        return "no intervals to judge"
    if judgement.kind == "mann-whitney":
        return mann_whitney_why.why(judgement, deciding)
    p = deciding.evidence.get("p_value")
    estimate = deciding.evidence.get("estimate")
    verdict = judgement.verdict
    threshold = f"{judgement.significance:g}"
    if verdict == "fail":
        return (
            f"Failed at {offline_judge.position(judgement, deciding)}: p-value {_fmt(p)} ≤ {threshold}, "
            f"estimated canary minus stable difference {_fmt(estimate)}."
        )
    return (
        f"{verdict} after {len(judgement.intervals)} intervals: p-value {_fmt(p)} "
        f"(fails at ≤ {threshold}), estimated difference {_fmt(estimate)}."
    )


def judgement_report(judgement: offline_judge.Judgement, stable: ArmData, canary: ArmData) -> Report:
    labels = aligned_labels(stable, canary)
    stable_at, canary_at = stable.by_label(), canary.by_label()
    what = "event rate" if stable.counts else "mean"
    over_time = plots.line_chart(
        f"Canary vs stable: {what} per interval",
        labels,
        [
            Series("stable", [summary_value(stable_at.get(x)) for x in labels], STABLE_COLOUR),
            Series("canary", [summary_value(canary_at.get(x)) for x in labels], CANARY_COLOUR),
        ],
        y_title=what,
    )
    figures = [Figure(over_time, f"The {what} of each arm in each interval of the input files.")]
    figures.append(Figure(_distributions(stable, canary), "How the values of the two arms are distributed."))
    figures.append(
        Figure(
            _p_value_chart(
                "Evidence: p-value after each interval",
                labels,
                offline_judge.p_values(judgement),
                judgement.kind,
                judgement.significance,
                x_title="interval",
                mark=_failure_mark(judgement),
            ),
            "The p-value of each interval's test, for reference: the verdict comes from the interval "
            "of the shift, as the line above says."
            if judgement.kind == "mann-whitney"
            else "The judge fails the canary once the p-value falls to the dashed threshold "
            "(sequential: it never rises again).",
        )
    )
    rows = [
        [str(n), i.label, i.verdict, *(_fmt(i.evidence.get(c)) for c in EVIDENCE_COLUMNS)]
        for n, i in enumerate(judgement.intervals, start=1)
    ]
    verdicts = [i.verdict for i in judgement.intervals]
    tally = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts))
    facts = [
        ("judge", judgement.kind),
        ("config", json.dumps(dict(judgement.config), sort_keys=True) or "{}"),
        ("stable", stable.name),
        ("canary", canary.name),
        ("intervals", str(len(judgement.intervals))),
    ]
    return Report(
        f"Canary analysis: {judgement.kind}",
        judgement.verdict,
        why(judgement),
        facts,
        figures,
        ("interval", "time", "verdict", *EVIDENCE_COLUMNS),
        rows,
        f"Verdict and evidence of every interval ({len(rows)}: {tally})",
    )


def _distributions(stable: ArmData, canary: ArmData) -> go.Figure:
    def values(arm: ArmData) -> list[float]:
        if arm.counts:
            return [summary_value(i) for i in arm.intervals]
        return [v for i in arm.intervals for v in i.samples]

    return plots.histogram(
        "Distributions" + (" of per-interval event rates" if stable.counts else " of all samples"),
        [Series("stable", values(stable), STABLE_COLOUR), Series("canary", values(canary), CANARY_COLOUR)],
        x_title="event rate" if stable.counts else "value",
    )


def _number(text: str | None) -> float:
    try:
        return float(text) if text is not None else math.nan
    except ValueError:
        return math.nan


def _judge_evidence(result: MetricResult, key: str) -> list[float]:
    """One field of a judge's evidence (e.g. `p_value`, or a kayenta metric's `score`) per measurement."""
    values = []
    for measurement in result.measurements:
        try:
            evidence = json.loads(measurement.value or "{}")
        except ValueError:
            evidence = {}
        values.append(float(evidence.get(key, math.nan)) if isinstance(evidence, dict) else math.nan)
    return values


def _failure_mark(judgement: offline_judge.Judgement) -> tuple[int, str] | None:
    """The interval that failed the canary, to mark on the evidence plot."""
    deciding = judgement.deciding
    if deciding is None or deciding.verdict != "fail":
        return None
    failed = offline_judge.number(judgement, deciding)
    return failed, f"failed at interval {failed}"


def _p_value_chart(
    title: str,
    labels: Sequence[str],
    p_values: list[float],
    kind: str,
    alpha: float,
    *,
    x_title: str,
    mark: tuple[int, str] | None = None,
) -> go.Figure:
    """P-values on a log scale, with the threshold only where it decides: mann-whitney decides by the
    interval of the shift, so a p-value under its 1 - confidence may still pass and one above it fail."""
    threshold = None if kind == "mann-whitney" else Threshold(alpha, f"fails at ≤ {alpha:g}")
    return plots.line_chart(
        title,
        labels,
        [Series("p-value", p_values, CANARY_COLOUR, Summary.MIN)],
        x_title=x_title,
        y_title="p-value (log)",
        log_y=True,
        mark=mark,
        threshold=threshold,
    )


def _score_figure(metric: Metric, result: MetricResult, labels: Sequence[str]) -> Figure:
    judge = metric.provider.judge
    passing = judge.thresholds.pass_ if judge is not None and judge.thresholds is not None else 100.0
    plot = plots.line_chart(
        f"{metric.name}: canary score",
        labels,
        [Series("score", _judge_evidence(result, "score"), CANARY_COLOUR)],
        x_title="measurement",
        y_title="score (0-100)",
        threshold=Threshold(passing, f"passes at ≥ {passing:g}"),
    )
    return Figure(plot, f"{metric.name} ({result.phase}): Kayenta's score at each measurement.")


def metric_figure(metric: Metric, result: MetricResult) -> Figure:
    labels = [m.started_at.strftime("%H:%M:%S") if m.started_at else "" for m in result.measurements]
    judge = metric.provider.judge
    if kayenta_report.is_kayenta(metric):
        return _score_figure(metric, result, labels)
    if judge is not None:
        alpha = offline_judge.significance(judge.kind, judge.config)
        plot = _p_value_chart(
            f"{metric.name}: judge {judge.kind} p-value",
            labels,
            _judge_evidence(result, "p_value"),
            judge.kind,
            alpha,
            x_title="measurement",
        )
        return Figure(plot, f"{metric.name} ({result.phase}): the judge's evidence at each measurement.")
    plot = plots.line_chart(
        f"{metric.name}: measured value",
        labels,
        [Series(metric.name, [_number(m.value) for m in result.measurements], CANARY_COLOUR)],
        x_title="measurement",
        y_title="value",
    )
    conditions = " and ".join(
        f"{name} {c}"
        for name, c in (("success", metric.success_condition), ("failure", metric.failure_condition))
        if c
    )
    return Figure(plot, f"{metric.name} ({result.phase}): {conditions or 'no conditions'}.")


def run_report(run: AnalysisRun, source: str) -> Report:
    results = {r.name: r for r in run.status.metric_results}
    figures: list[Figure] = []
    rows: list[Sequence[str]] = []
    for metric in run.spec.metrics:
        result = results.get(metric.name, MetricResult(name=metric.name))
        figures.append(metric_figure(metric, result))
        rows += [
            [
                metric.name,
                m.started_at.isoformat() if m.started_at else "",
                str(m.phase),
                m.value or "",
                m.message,
            ]
            for m in result.measurements
        ]
    phase = str(run.status.phase)
    verdict = {"Successful": "pass", "Failed": "fail"}.get(phase, phase.lower())
    facts = [("template", source), ("phase", phase), ("metrics", str(len(run.spec.metrics)))]
    return Report(
        f"Canary analysis: {source}",
        verdict,
        run.status.message or f"The run is {phase}.",
        facts,
        figures,
        ("metric", "time", "phase", "value", "message"),
        rows,
        f"Every measurement ({len(rows)})",
        _score_sections(run),
    )


def _score_sections(run: AnalysisRun) -> list[Section]:
    """Each kayenta metric's latest score: its groups, then each metric's part."""
    sections = []
    for score in kayenta_report.run_score_tables(run):
        sections.append(Section(score.headline, score.reason, kayenta_report.GROUP_COLUMNS, score.groups))
        sections.append(Section("Each metric's part", "", kayenta_report.METRIC_COLUMNS, score.metrics))
    return sections
