"""The `canary` / `kubectl canary` entry point: one argparse tree, one module per verb group.

Every command returns an exit code; expected failures raise `CLIError`, which becomes one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from canary.cli import commands_lint
from canary.cli.errors import CLIError

VERB_GROUPS = (commands_lint,)


def build_parser() -> argparse.ArgumentParser:
    prog = "kubectl canary" if sys.argv and sys.argv[0].endswith("kubectl-canary") else "canary"
    parser = argparse.ArgumentParser(
        prog=prog, description="Progressive delivery with statistical canary analysis."
    )
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    for group in VERB_GROUPS:
        group.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except CLIError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
