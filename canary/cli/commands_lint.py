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


def register(verbs: Any) -> None:
    lint = verbs.add_parser("lint", help="validate Rollouts and AnalysisTemplates offline")
    lint.add_argument("files", nargs="+", type=Path, help="YAML files or directories ('-' reads stdin)")
    lint.set_defaults(run=run_lint)

    crds = verbs.add_parser(
        "crds", help="write (or check) the CustomResourceDefinitions generated from the API"
    )
    crds.add_argument(
        "--dir", type=Path, default=DEFAULT_CRD_DIR, help="output directory (default %(default)s)"
    )
    crds.add_argument("--check", action="store_true", help="exit 1 if the files differ from the models")
    crds.set_defaults(run=run_crds)

    ver = verbs.add_parser("version", help="print canary's version")
    ver.set_defaults(run=lambda _args: print(f"canary {version('canary')}") or 0)


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
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
    if args.check:
        stale = [name for name, text in rendered.items() if _read(args.dir / name) != text]
        for name in stale:
            print(f"{args.dir / name} differs from the models; run `canary crds` to regenerate it")
        return 1 if stale else 0
    args.dir.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (args.dir / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.dir / name}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None
