"""`get rollout NAME [--watch]` and `list rollouts`: fetch here, draw in `render_rollout`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live

from canary.api.rollout import Rollout
from canary.cli import render_rollout
from canary.cli.arguments import duration_seconds
from canary.cli.errors import CLIError
from canary.cli.output import console, output_flags, print_objects
from canary.cli.session import Session, connection_flags
from canary.cluster.port import NotFound
from canary.engine.observed import Observed

ROLLOUT_KIND = ("rollout", "rollouts", "ro")


def register(verbs: Any) -> None:
    get = verbs.add_parser("get", help="show one Rollout as a tree (phase, step, weights, pods, analysis)")
    kinds = get.add_subparsers(dest="kind", metavar="KIND", required=True)
    rollout = kinds.add_parser(
        ROLLOUT_KIND[0],
        aliases=list(ROLLOUT_KIND[1:]),
        parents=[connection_flags(), output_flags()],
        help="one Rollout",
    )
    rollout.add_argument("name", metavar="NAME")
    rollout.add_argument(
        "-w",
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="redraw in place as the rollout moves (--watch=false: once)",
    )
    rollout.add_argument(
        "--interval", type=duration_seconds, default=2.0, help="seconds between redraws (default 2s)"
    )
    rollout.add_argument(
        "--timeout", type=duration_seconds, default=None, help="stop watching after this long (e.g. 10m)"
    )
    rollout.set_defaults(run=run_get_rollout)

    listing = verbs.add_parser("list", help="list Rollouts with their phase and step")
    listed = listing.add_subparsers(dest="kind", metavar="KIND", required=True)
    rollouts = listed.add_parser(
        ROLLOUT_KIND[1],
        aliases=[ROLLOUT_KIND[0], ROLLOUT_KIND[2]],
        parents=[connection_flags(), output_flags()],
        help="every Rollout in the namespace",
    )
    rollouts.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    rollouts.set_defaults(run=run_list_rollouts)


def fetch_rollout(session: Session, name: str) -> Rollout:
    try:
        return session.port.get_rollout(session.namespace, name)
    except NotFound:
        raise CLIError(
            f"rollout '{name}' not found in namespace '{session.namespace}'; "
            f"see which exist with `canary list rollouts -n {session.namespace}`"
        ) from None


def fetch_view(session: Session, name: str) -> tuple[Rollout, Observed]:
    rollout = fetch_rollout(session, name)
    return rollout, session.port.observe(rollout)


def render(session: Session, name: str) -> RenderableType:
    rollout, observed = fetch_view(session, name)
    return render_rollout.rollout_view(rollout, observed, session.clock.now())


def watch(
    session: Session,
    name: str,
    show: Callable[[RenderableType], None],
    *,
    interval: float,
    timeout: float | None,
) -> None:
    """Show a fresh view every `interval` seconds of the session's clock until `timeout` (or Ctrl-C)."""
    deadline = None if timeout is None else session.clock.now() + timedelta(seconds=timeout)
    while True:
        show(render(session, name))
        if deadline is not None and session.clock.now() >= deadline:
            return
        session.wait(interval)


def run_get_rollout(args: argparse.Namespace) -> int:
    session: Session = args.connect()
    if args.output:
        print_objects([fetch_rollout(session, args.name).to_wire()], args.output, as_list=False)
        return 0
    out = console()
    if not args.watch:
        out.print(render(session, args.name))
        return 0
    if not out.is_terminal:
        watch(session, args.name, appended_when_changed(out), interval=args.interval, timeout=args.timeout)
        return 0
    with Live(console=out, auto_refresh=False, redirect_stdout=False) as live:
        watch(
            session,
            args.name,
            lambda view: live.update(view, refresh=True),
            interval=args.interval,
            timeout=args.timeout,
        )
    return 0


def appended_when_changed(out: Console) -> Callable[[RenderableType], None]:
    """For a pipe or a log file, where redrawing in place shows nothing until the end: each view that
    differs from the last is printed after it, flushed, as `kubectl get -w` appends lines."""
    last: list[str] = []

    def show(view: RenderableType) -> None:
        with out.capture() as captured:
            out.print(view)
        text = captured.get()
        if last != [text]:
            last[:] = [text]
            out.file.write(text)
            out.file.flush()

    return show


def run_list_rollouts(args: argparse.Namespace) -> int:
    session: Session = args.connect()
    rollouts = session.port.list_rollouts(None if args.all_namespaces else session.namespace)
    rollouts.sort(key=lambda r: (r.metadata.namespace or "", r.metadata.name))
    if args.output:
        print_objects([r.to_wire() for r in rollouts], args.output, as_list=True)
    else:
        console().print(render_rollout.rollout_table(rollouts))
    return 0
