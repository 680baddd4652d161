"""The `canary` / `kubectl canary` entry point: one argparse tree, one module per verb group.

Every command returns an exit code; expected failures raise `CLIError`, which becomes one line on
stderr and a non-zero exit, never a traceback. Commands that need a cluster call `args.connect()`,
so offline verbs (lint, analyze, completion) never touch a kubeconfig.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from canary.cli import (
    arguments,
    commands_actions,
    commands_analyze,
    commands_controller,
    commands_dashboard,
    commands_demo,
    commands_get,
    commands_gitops,
    commands_lint,
    commands_status,
    completion,
    failures,
    session,
)
from canary.cli.errors import CLIError

VERB_GROUPS = (
    commands_lint,
    commands_get,
    commands_actions,
    commands_status,
    commands_analyze,
    completion,
    commands_demo,
    commands_dashboard,
    commands_controller,
    commands_gitops,
)


def build_parser() -> argparse.ArgumentParser:
    prog = "kubectl canary" if sys.argv and sys.argv[0].endswith("kubectl-canary") else "canary"
    parser = arguments.ArgumentParser(
        prog=prog, description="Progressive delivery with statistical canary analysis."
    )
    session.add_connection_flags(parser)
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    for group in VERB_GROUPS:
        group.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None, *, embedded: session.SessionFactory | None = None) -> int:
    """Run one command. `embedded` builds the session for `--cluster memory` (tests pass their own
    in-memory cluster; by default it is the demo scenario)."""
    parser = build_parser()
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
