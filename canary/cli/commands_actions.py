"""The verbs that change a Rollout: promote, abort, retry, pause, resume, undo, restart, set image.

Each verb is the engine's pure function (`canary.engine.commands`) turning the Rollout as read into
merge patches; this module only reads, applies the patches through the cluster port, and says in
one line what changed. A status patch carries the resourceVersion it was computed from, so when the
controller moved on meanwhile the verb is computed again from the new state.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from canary.api.rollout import Rollout
from canary.cli import changes
from canary.cli.arguments import container_image, positive_int
from canary.cli.commands_get import fetch_view
from canary.cli.errors import CLIError
from canary.cli.session import Session, connection_flags
from canary.cluster.port import Conflict
from canary.engine import commands
from canary.engine.commands import Patch
from canary.engine.observed import Observed

CONFLICT_ATTEMPTS = 5
"""Re-reads after a Conflict before giving up: each one means the controller wrote in between."""

Verb = Callable[[Session, Rollout, Observed, argparse.Namespace], tuple[Patch, ...]]


def _already(done: str) -> Callable[[Rollout], str]:
    return lambda rollout: f"rollout '{rollout.metadata.name}' is already {done}; nothing changed"


def _nothing_to_abort(rollout: Rollout) -> str:
    if commands.is_complete(rollout):
        return f"rollout '{rollout.metadata.name}' is fully promoted; nothing to abort"
    return _already("aborted")(rollout)


@dataclass(frozen=True)
class VerbSpec:
    """One verb: its name, the past tense its line uses, its help, its patches, and the line said
    when it has nothing to patch (default: already <done>)."""

    name: str
    done: str
    help: str
    patches: Verb
    unchanged: Callable[[Rollout], str] | None = None

    def nothing_changed(self, rollout: Rollout) -> str:
        return (self.unchanged or _already(self.done))(rollout)


VERBS = (
    VerbSpec(
        "promote",
        "promoted",
        "skip the current step (--full: every remaining step)",
        lambda _s, r, _o, a: commands.promote_full(r) if a.full else commands.promote(r),
    ),
    VerbSpec(
        "abort",
        "aborted",
        "send all traffic back to stable and stop the canary",
        lambda s, r, _o, _a: commands.abort(r, s.clock.now()),
        unchanged=_nothing_to_abort,
    ),
    VerbSpec(
        "retry",
        "retried",
        "clear an abort and start the steps again",
        lambda _s, r, _o, _a: commands.retry(r),
    ),
    VerbSpec(
        "pause",
        "paused",
        "hold the rollout where it is (spec.paused)",
        lambda _s, r, _o, _a: commands.pause(r),
    ),
    VerbSpec("resume", "resumed", "release a pause", lambda _s, r, _o, _a: commands.resume(r)),
    VerbSpec(
        "undo",
        "rolled back",
        "set the template back to an earlier revision",
        lambda _s, r, o, a: commands.undo(r, o.replica_sets, a.to_revision),
    ),
    VerbSpec(
        "restart",
        "restarted",
        "restart every pod, keeping availability",
        lambda s, r, _o, _a: commands.restart(r, s.clock.now()),
    ),
)

SET_IMAGE = VerbSpec(
    "image",
    "updated",
    "change a container's image (starts a new revision)",
    lambda _s, r, _o, a: commands.set_image(r, *a.container_image),
)


def register(verbs: Any) -> None:
    for spec in VERBS:
        parser = verbs.add_parser(spec.name, help=spec.help, parents=[connection_flags()])
        parser.add_argument("name", metavar="NAME", help="the Rollout")
        parser.set_defaults(run=_runner(spec))
        if spec.name == "promote":
            parser.add_argument(
                "--full", action="store_true", help="skip all remaining steps, even after an abort"
            )
        if spec.name == "undo":
            parser.add_argument(
                "--to-revision", type=positive_int, help="revision to go back to (default: previous)"
            )
    set_verb = verbs.add_parser("set", help="change a field of a Rollout's template")
    fields = set_verb.add_subparsers(dest="field", metavar="FIELD", required=True)
    image = fields.add_parser(SET_IMAGE.name, help=SET_IMAGE.help, parents=[connection_flags()])
    image.add_argument("name", metavar="NAME", help="the Rollout")
    image.add_argument("container_image", metavar="CONTAINER=IMAGE", type=container_image)
    image.set_defaults(run=_runner(SET_IMAGE))


def _runner(spec: VerbSpec) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(apply_verb(args.connect(), args.name, spec, args))
        return 0

    return run


def apply_verb(session: Session, name: str, spec: VerbSpec, args: argparse.Namespace) -> str:
    """Read, compute the verb's patches, apply them; one line saying what changed."""
    for _ in range(CONFLICT_ATTEMPTS):
        before, observed = fetch_view(session, name)
        try:
            patches = spec.patches(session, before, observed, args)
        except commands.CommandError as error:
            raise CLIError(str(error)) from None
        if not patches:
            return spec.nothing_changed(before)
        try:
            after = before
            for patch in patches:
                after = session.port.patch_rollout(session.namespace, name, patch)
        except Conflict:
            continue
        changed = changes.changed_fields(before.to_wire(), after.to_wire(), {p.target for p in patches})
        return f"rollout '{name}' {spec.done}" + (f": {changes.summarise(changed)}" if changed else "")
    raise CLIError(
        f"rollout '{name}' kept changing under {spec.name} ({CONFLICT_ATTEMPTS} conflicts); try again"
    )
