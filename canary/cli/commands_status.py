"""`status NAME [--watch=false] [--timeout 10m]`: Argo Rollouts' `status`, for pipelines that gate on a
release.

Exit codes are the contract: 0 Healthy, 1 Degraded, 2 timed out. Each line is Argo's client-side
status line (`Paused - CanaryPauseStep`, `Progressing - waiting for rollout spec update to be
observed`, `Healthy`; see `render_rollout.client_status`), followed while the rollout is under way by
its step and canary weight. A line is printed each time it changes, never on a quiet poll, so CI logs
stay short. `--watch=false` prints the line once and exits at once: 1 if Degraded, else 0.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from canary.api.rollout import Rollout, RolloutPhase
from canary.cli import render_rollout
from canary.cli.arguments import duration_seconds
from canary.cli.commands_get import fetch_view
from canary.cli.session import Session, connection_flags
from canary.engine.observed import Observed

EXIT_HEALTHY = 0
EXIT_DEGRADED = 1
EXIT_TIMEOUT = 2

UNDER_WAY = (RolloutPhase.PROGRESSING, RolloutPhase.PAUSED)


def register(verbs: Any) -> None:
    status = verbs.add_parser(
        "status",
        help="wait until a rollout is Healthy (exit 0), Degraded (1) or the timeout passes (2)",
        parents=[connection_flags()],
    )
    status.add_argument("name", metavar="NAME", help="the Rollout")
    status.add_argument(
        "-w",
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="watch until the rollout is done (default); --watch=false prints its status once",
    )
    status.add_argument(
        "-t",
        "--timeout",
        type=duration_seconds,
        default=None,
        help="give up after this long, e.g. 10m (default: never)",
    )
    status.add_argument(
        "--interval", type=duration_seconds, default=2.0, help="seconds between checks (default 2s)"
    )
    status.set_defaults(run=run_status)


def progress_line(rollout: Rollout, observed: Observed) -> str:
    """`Paused - CanaryPauseStep · step 1/6 · canary 25%`: Argo's status line, and while the
    rollout is under way the step and canary weight a pipeline log needs at a glance."""
    line = render_rollout.status_line(rollout)
    if render_rollout.phase_of(rollout) not in UNDER_WAY:
        return line
    blue_green = rollout.spec.strategy.blue_green
    if blue_green is not None:  # `Paused - BlueGreenPause · active rev 1 · preview rev 2`
        shown = [
            f"{role} rev {rs.revision}"
            for role, service in (
                ("active", blue_green.active_service),
                ("preview", blue_green.preview_service),
            )
            if service and (rs := observed.replica_set(observed.service_selectors.get(service))) is not None
        ]
        return " · ".join([line, *shown])
    position = render_rollout.step_position(rollout)
    canary_weight, _ = render_rollout.weights(rollout, observed)
    return f"{line} · step {position.done}/{position.total} · canary {canary_weight:g}%"


def _exit_code(phase: RolloutPhase) -> int | None:
    return {RolloutPhase.HEALTHY: EXIT_HEALTHY, RolloutPhase.DEGRADED: EXIT_DEGRADED}.get(phase)


def show_once(session: Session, name: str) -> int:
    """`--watch=false`: the line now; 1 if Degraded, else 0 (as Argo's, even while under way)."""
    rollout, observed = fetch_view(session, name)
    print(progress_line(rollout, observed), flush=True)
    return EXIT_DEGRADED if render_rollout.phase_of(rollout) == RolloutPhase.DEGRADED else EXIT_HEALTHY


def wait_for_outcome(session: Session, name: str, *, timeout: float | None, interval: float) -> int:
    start = session.clock.now()
    deadline = None if timeout is None else start + timedelta(seconds=timeout)
    last = ""
    while True:
        rollout, observed = fetch_view(session, name)
        line = progress_line(rollout, observed)
        if line != last:
            print(line, flush=True)
            last = line
        phase = render_rollout.phase_of(rollout)
        code = _exit_code(phase)
        if code is not None:
            return code
        now = session.clock.now()
        if deadline is not None and now >= deadline:
            print(f"rollout '{name}': timed out after {timeout:g}s, still {phase}", flush=True)
            return EXIT_TIMEOUT
        session.wait(interval if deadline is None else min(interval, (deadline - now).total_seconds()))


def run_status(args: argparse.Namespace) -> int:
    session = args.connect()
    if not args.watch:
        return show_once(session, args.name)
    return wait_for_outcome(session, args.name, timeout=args.timeout, interval=args.interval)
