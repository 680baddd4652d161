"""The one ``--out`` convention of every benchmark script, checked before the run starts.

``--out DIR`` is a results directory (default ``benchmarks/results``, created if missing); each
script writes ``<name>.json`` there, and ``<name>.md`` where it renders a table. A value that cannot be
that directory (an existing file, a ``.json``/``.md`` file name, a path under a file, a directory that
cannot be written) stops the script at argument parsing with a message naming the flag and the fix,
instead of after a run of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
FILE_SUFFIXES = (".json", ".md")


def add_out_argument(
    parser: argparse.ArgumentParser, writes: Sequence[str], *, default: Path | None = RESULTS
) -> None:
    """Add ``--out DIR`` to `parser`; `writes` names the files the script writes into DIR. A script
    whose quick runs write nothing unless asked passes ``default=None`` and picks RESULTS itself."""
    if default is None:
        shown = "benchmarks/results, full runs only"
    else:
        shown = "benchmarks/results" if default == RESULTS else str(default)
    parser.add_argument(
        "--out",
        type=lambda value: results_dir(value, writes),
        default=None if default is None else str(default),  # a string default is checked too
        metavar="DIR",
        help=f"results directory, created if missing; gets {' and '.join(writes)} (default: {shown})",
    )


def results_dir(value: str, writes: Sequence[str]) -> Path:
    """`value` as the results directory, or `argparse.ArgumentTypeError` saying why it cannot be."""
    path = Path(value).expanduser()
    files = " and ".join(writes)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"'{value}' is a file, but --out takes a directory (the script writes {files} into it); "
            f"pass its directory, e.g. --out {path.parent}"
        )
    if not path.exists() and path.suffix in FILE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"'{value}' looks like a file name, but --out takes a directory (the script writes {files} "
            f"into it); pass e.g. --out {path.parent}"
        )
    absolute = path.absolute()
    existing = next(parent for parent in (absolute, *absolute.parents) if parent.exists())
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot create the directory '{value}': '{existing}' is a file; pick another --out"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"'{existing}' is not writable; pick another --out")
    return path


def quick_parser(doc: str, writes: Sequence[str]) -> argparse.ArgumentParser:
    """The arguments of a simulation benchmark: ``--quick`` (a smoke run that writes nothing unless
    ``--out`` is given) and ``--out``; `doc` is the script's docstring, whose first line describes it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few replications, smoke run")
    add_out_argument(parser, writes, default=None)
    return parser


def write_results(out: Path | None, *, quick: bool, name: str, data: dict[str, Any], text: str) -> None:
    """Write ``<name>.json`` (`data`) and ``<name>.md`` (`text`) into `out`, created if missing;
    without ``--out``, into RESULTS on a full run and nowhere on a quick one."""
    target = out if out is not None else (None if quick else RESULTS)
    if target is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{name}.json").write_text(json.dumps(data, indent=1, default=float) + "\n")
    (target / f"{name}.md").write_text(text)
