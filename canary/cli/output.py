"""How commands print: a rich console for people, `-o json|yaml` for scripts."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import yaml
from rich.console import Console

from canary import logs

OUTPUT_FORMATS = ("json", "yaml")


def output_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "-o", "--output", choices=OUTPUT_FORMATS, help="print the object(s) as json or yaml instead of a view"
    )
    return flags


def quiet_library_logs() -> None:
    """Keep stdout for the command's own output: the in-process analysis runner and engine log
    each measurement as structlog events; a CLI shows only their warnings, on stderr."""
    logs.configure("warning", json=False)


def console() -> Console:
    """A console on the current stdout (looked up at print time, so tests can capture it)."""
    return Console(highlight=False, soft_wrap=False)


def format_objects(objects: Sequence[dict[str, Any]], fmt: str, *, as_list: bool) -> str:
    """One object, or a kubectl-style `List` of them, as json or yaml text."""
    document: Any = {"apiVersion": "v1", "kind": "List", "items": list(objects)} if as_list else objects[0]
    if fmt == "json":
        return json.dumps(document, indent=2, sort_keys=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False)


def print_objects(objects: Sequence[dict[str, Any]], fmt: str, *, as_list: bool) -> None:
    print(format_objects(objects, fmt, as_list=as_list), end="")
