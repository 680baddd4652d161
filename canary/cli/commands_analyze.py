"""`analyze`: a verdict without a rollout, and a report a person can read to see why.

    canary analyze samples --judge sequential-location --stable stable.csv --canary canary.csv
    canary analyze template template.yaml --prometheus http://prometheus:9090 --arg service=web

Exit codes: 0 pass, 1 fail, 2 anything undecided (inconclusive, no data, errors), so a pipeline can
gate on it. `--report report.html` writes a self-contained HTML page with the plots.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Group
from rich.table import Table
from rich.text import Text

from canary.analysis.judges import KINDS
from canary.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.documents import load_file
from canary.cli import (
    analysis_report,
    arm_samples,
    kayenta_report,
    offline_judge,
    offline_template,
    render_rollout,
    report_html,
)
from canary.cli.arguments import duration_seconds
from canary.cli.errors import CLIError
from canary.cli.output import console, output_flags, print_objects, quiet_library_logs

EXIT_PASS, EXIT_FAIL, EXIT_UNDECIDED = 0, 1, 2
DEFAULT_WINDOW_SECONDS = 600.0
"""The window replayed for a template whose metrics measure until terminated, unless --window says."""


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE")
    return key, value


def register(verbs: Any) -> None:
    analyze = verbs.add_parser("analyze", help="judge canary against stable offline, with an HTML report")
    forms = analyze.add_subparsers(dest="source", metavar="SOURCE", required=True)

    samples = forms.add_parser(
        "samples",
        parents=[output_flags()],
        help="judge CSV files of stable and canary data with a judge kind",
    )
    samples.add_argument("--judge", required=True, choices=KINDS, help="the statistical test")
    samples.add_argument("--stable", required=True, type=Path, help="CSV: time,value or time,events,total")
    samples.add_argument("--canary", required=True, type=Path, help="CSV with the same columns as --stable")
    samples.add_argument(
        "--config",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a judge setting, e.g. alpha=0.01 (repeatable)",
    )
    samples.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    samples.set_defaults(run=run_samples)

    template = forms.add_parser(
        "template",
        parents=[output_flags()],
        help="run an AnalysisTemplate over a past window against a Prometheus",
    )
    template.add_argument("file", type=Path, help="YAML with an AnalysisTemplate or ClusterAnalysisTemplate")
    template.add_argument(
        "--prometheus", metavar="URL", help="send every query here instead of the template's address"
    )
    template.add_argument(
        "--arg", action="append", type=key_value, default=[], metavar="NAME=VALUE", help="a template argument"
    )
    template.add_argument(
        "--window", type=duration_seconds, help="how far back to replay (default: what the metrics need)"
    )
    template.add_argument(
        "--end", type=datetime.fromisoformat, help="end of the window, ISO 8601 (default now)"
    )
    template.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    template.set_defaults(run=run_template)


def _read_arm(path: Path) -> arm_samples.ArmData:
    try:
        # utf-8-sig: spreadsheets write a byte-order mark that would otherwise rename the first column.
        return arm_samples.parse(path.read_text(encoding="utf-8-sig"), str(path))
    except OSError as error:
        raise CLIError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a UTF-8 text file; export the samples as CSV (time,value)") from None
    except arm_samples.SampleFileError as error:
        raise CLIError(str(error)) from None


def _write_report(path: Path | None, report: report_html.Report) -> None:
    if path is None:
        return
    try:
        path.write_text(report_html.render(report), encoding="utf-8")
    except OSError as error:
        raise CLIError(f"cannot write the report to {path}: {error.strerror}") from None
    print(f"report written to {path}")


def run_samples(args: argparse.Namespace) -> int:
    stable, canary = _read_arm(args.stable), _read_arm(args.canary)
    config = {key: yaml.safe_load(value) for key, value in args.config}
    try:
        judgement = offline_judge.judge_arms(args.judge, config, stable, canary)
    except ValueError as error:
        raise CLIError(str(error)) from None
    if args.output:
        intervals = [
            {"interval": i.label, "verdict": i.verdict, "evidence": dict(i.evidence)}
            for i in judgement.intervals
        ]
        print_objects(
            [{"judge": judgement.kind, "verdict": judgement.verdict, "intervals": intervals}],
            args.output,
            as_list=False,
        )
    else:
        print(f"verdict: {judgement.verdict} ({judgement.kind})")
        print(analysis_report.why(judgement))
    _write_report(args.report, analysis_report.judgement_report(judgement, stable, canary))
    return {"pass": EXIT_PASS, "fail": EXIT_FAIL}.get(judgement.verdict, EXIT_UNDECIDED)


def _load_template(path: Path) -> AnalysisTemplate | ClusterAnalysisTemplate:
    documents = load_file(path)
    for document in documents:
        if isinstance(document.resource, AnalysisTemplate | ClusterAnalysisTemplate):
            return document.resource
    problems = "; ".join(f"{d.source}: {p}" for d in documents for p in d.problems)
    raise CLIError(problems or f"{path} holds no AnalysisTemplate; check its kind (run `canary lint {path}`)")


def run_template(args: argparse.Namespace) -> int:
    template = _load_template(args.file)
    quiet_library_logs()
    end = args.end or datetime.now(UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    window = (
        args.window if args.window is not None else offline_template.needed_seconds(template, dict(args.arg))
    )
    start = end - timedelta(seconds=DEFAULT_WINDOW_SECONDS if window is None else window)
    run = offline_template.build_run(template, dict(args.arg), args.prometheus)
    run = offline_template.replay(run, start=start, end=end, registry=offline_template.providers())
    if args.output:
        print_objects([run.to_wire()], args.output, as_list=False)
    else:
        _print_run(run)
    _write_report(args.report, analysis_report.run_report(run, str(args.file)))
    phase = str(run.status.phase)
    return {"Successful": EXIT_PASS, "Failed": EXIT_FAIL}.get(phase, EXIT_UNDECIDED)


def _print_run(run: AnalysisRun) -> None:
    out = console()
    out.print(render_rollout.analysis_tree(run))
    for score in kayenta_report.run_score_tables(run):
        out.print(score_tables(score))


def score_tables(score: kayenta_report.ScoreTable) -> Group:
    """A kayenta metric's score as the terminal shows it: the headline, its groups, each metric's part."""
    groups, metrics = Table(*kayenta_report.GROUP_COLUMNS), Table(*kayenta_report.METRIC_COLUMNS)
    for row in score.groups:
        groups.add_row(*row)
    for row in score.metrics:
        metrics.add_row(*row)
    headline = Text(score.headline, style="bold")
    return (
        Group(headline, Text(score.reason), groups, metrics)
        if score.reason
        else Group(headline, groups, metrics)
    )
