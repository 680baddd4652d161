"""The `canary` / `kubectl canary` entry point: one argparse tree, one module per verb group.

Every command returns an exit code; expected failures raise `CLIError`, which becomes one line on
stderr and a non-zero exit, never a traceback. Commands that need a cluster call `args.connect()`,
so offline verbs (lint, analyze, completion) never touch a kubeconfig.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from canary.cli import arguments, failures, session
from canary.cli.errors import CLIError

VERB_GROUPS = (
    "commands_lint",
    "commands_get",
    "commands_actions",
    "commands_status",
    "commands_analyze",
    "completion",
    "commands_demo",
    "commands_dashboard",
    "commands_controller",
    "commands_gitops",
)
"""The modules under canary.cli that each register a group of verbs."""

PROCESS_VERBS = {"controller": "commands_controller"}
"""Verbs that run for the life of a process, parsed with only their own group: the others import
scipy, numpy and plotly, which would stay resident in the controller (about 100 MiB)."""


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """Every verb, or only `verb`'s group when it is one of PROCESS_VERBS."""
    prog = "kubectl canary" if sys.argv and sys.argv[0].endswith("kubectl-canary") else "canary"
    parser = arguments.ArgumentParser(
        prog=prog, description="Progressive delivery with statistical canary analysis."
    )
    session.add_connection_flags(parser)
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    groups = (PROCESS_VERBS[verb],) if verb in PROCESS_VERBS else VERB_GROUPS
    for group in groups:
        importlib.import_module(f"canary.cli.{group}").register(verbs)
    return parser


def requested_verb(argv: Sequence[str] | None) -> str | None:
    """The verb in `argv` (connection flags may come before it), without parsing its arguments."""
    finder = argparse.ArgumentParser(add_help=False)
    session.add_connection_flags(finder)
    finder.add_argument("verb", nargs="?")
    known, _ = finder.parse_known_args(argv)
    verb: str | None = known.verb
    return verb


def main(argv: Sequence[str] | None = None, *, embedded: session.SessionFactory | None = None) -> int:
    """Run one command. `embedded` builds the session for `--cluster memory` (tests pass their own
    in-memory cluster; by default it is the demo scenario)."""
    parser = build_parser(requested_verb(argv))
    args = parser.parse_args(argv)
    args.parser = parser
    args.connect = lambda: session.connect(args, embedded)
    try:
        with failures.translated():
            code: int = args.run(args)
    except CLIError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
