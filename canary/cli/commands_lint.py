"""Offline commands that need no cluster: `lint`, `crds`, `version`."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from canary.analysis.lint import judge_config_problems
from canary.api import crd
from canary.api.documents import Document, load_file, load_text
from canary.api.lint import lint_documents
from canary.cli.errors import CLIError

DEFAULT_CRD_DIR = Path("manifests/crds")
CHART_CRD_DIR = Path("charts/canary/files/crds")
"""The Helm chart's copy, written and checked with the default directory when the chart is there."""


def register(verbs: Any) -> None:
    lint = verbs.add_parser("lint", help="validate Rollouts and AnalysisTemplates offline")
    lint.add_argument("files", nargs="+", type=Path, help="YAML files or directories ('-' reads stdin)")
    lint.set_defaults(run=run_lint)

    crds = verbs.add_parser(
        "crds", help="write (or check) the CustomResourceDefinitions generated from the API"
    )
    crds.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_CRD_DIR,
        help=f"output directory (default %(default)s, and {CHART_CRD_DIR} when it exists)",
    )
    crds.add_argument("--check", action="store_true", help="exit 1 if the files differ from the models")
    crds.set_defaults(run=run_crds)

    ver = verbs.add_parser("version", help="print canary's version")
    ver.set_defaults(run=lambda _args: print(f"canary {version('canary')}") or 0)


def _expand(paths: list[Path]) -> list[Path]:
    """The YAML files named or under the directories named, leaving out Helm charts' sources (their
    templates are not YAML until `helm template` renders them), each skip noted on stderr."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            charts = sorted(chart.parent for chart in path.rglob("Chart.yaml"))
            for chart in charts:
                print(
                    f"{chart}: skipped, a Helm chart (lint the Rollouts and AnalysisTemplates "
                    f"`helm template {chart}` renders)",
                    file=sys.stderr,
                )
            files += sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml") and not any(c == p or c in p.parents for c in charts)
            )
        elif str(path) == "-" or path.exists():
            files.append(path)
        else:
            raise CLIError(f"{path}: no such file or directory")
    return files


def run_lint(args: argparse.Namespace) -> int:
    """Problems and the closing summary go to stdout, as ruff and yamllint print theirs, so
    `canary lint ... > report.txt` keeps the whole report; stderr is only for the tool's own errors
    (a missing path, no YAML file at all), which raise `CLIError`. Exit 1 if any file is invalid."""
    documents: list[Document] = []
    files = _expand(args.files)
    if not files:
        raise CLIError(f"no .yaml or .yml files in {', '.join(map(str, args.files))}; check the path")
    for path in files:
        documents += load_text(sys.stdin.read(), "<stdin>") if str(path) == "-" else load_file(path)
    report = lint_documents(documents)
    for document in documents:
        report[document.source] += judge_config_problems(document)
    failed = 0
    for source, problems in report.items():
        for problem in problems:
            print(f"{source}: {problem}")
        failed += bool(problems)
    ok = len(report) - failed
    print(f"{ok} valid, {failed} invalid")
    return 1 if failed else 0


def run_crds(args: argparse.Namespace) -> int:
    rendered = crd.render_crds()
    dirs = [args.dir]
    if args.dir == DEFAULT_CRD_DIR and CHART_CRD_DIR.parent.is_dir():
        dirs.append(CHART_CRD_DIR)
    if args.check:
        stale = [d / name for d in dirs for name, text in rendered.items() if _read(d / name) != text]
        for path in stale:
            print(f"{path} differs from the models; run `canary crds` to regenerate it")
        return 1 if stale else 0
    for directory in dirs:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in rendered.items():
            (directory / name).write_text(text, encoding="utf-8")
            print(f"wrote {directory / name}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None
