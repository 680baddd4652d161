"""argparse value types shared by the verbs: bad values fail with a message naming the fix; and the
parser every verb is built with, which reads kubectl's boolean flags."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence

from canary.api.base import parse_duration


def duration_seconds(text: str) -> float:
    """`30s`, `10m`, `1h30m` or plain seconds, as the Rollout spec writes durations."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def container_image(text: str) -> tuple[str, str]:
    """`CONTAINER=IMAGE`, as `kubectl set image` takes it."""
    container, sep, image = text.partition("=")
    if not sep or not container or not image:
        raise argparse.ArgumentTypeError(f"'{text}' is not CONTAINER=IMAGE, e.g. app=ghcr.io/acme/app:1.2.3")
    return container, image


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a revision number (1, 2, ...)")
    return value


TRUE_WORDS = frozenset({"true", "t", "1", "yes"})
FALSE_WORDS = frozenset({"false", "f", "0", "no"})


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with kubectl's (cobra's) boolean flags: a `BooleanOptionalAction` flag such as
    `-w/--watch` is also given as `--watch=false` or `-w=true` (Argo Rollouts' documented
    `status NAME --watch=false`), besides `--watch` and `--no-watch`. A bare flag never takes the
    next word, so `status -w NAME` still reads NAME as the Rollout. Sub-commands are built with the
    same class (`add_subparsers` makes its parsers of the parent's class)."""

    def parse_known_args(  # type: ignore[override] # one signature for argparse's overloads
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        given = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(list(self._explicit_booleans(given)), namespace)

    def _explicit_booleans(self, args: Sequence[str]) -> Iterator[str]:
        flags = {
            option: action
            for action in self._actions
            if isinstance(action, argparse.BooleanOptionalAction)
            for option in action.option_strings
            if not option.startswith("--no-")
        }
        for index, arg in enumerate(args):
            if arg == "--":
                yield from args[index:]
                return
            option, sep, value = arg.partition("=")
            action = flags.get(option) if sep else None
            if action is None:
                yield arg
                continue
            long = next(o for o in action.option_strings if o.startswith("--") and not o.startswith("--no-"))
            if value.lower() in TRUE_WORDS:
                yield long
            elif value.lower() in FALSE_WORDS:
                yield "--no-" + long.removeprefix("--")
            else:
                names = "/".join(o for o in action.option_strings if not o.startswith("--no-"))
                self.error(f"argument {names}: '{value}' is not true or false")
