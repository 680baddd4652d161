"""`status NAME [--timeout 10m]`: block until the rollout is done, for pipelines that gate on it.

Exit codes are the contract: 0 Healthy, 1 Degraded, 2 timed out. A progress line is printed each time
what it says changes (phase, step, weights, message), never on a quiet poll, so CI logs stay short.
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


def register(verbs: Any) -> None:
    status = verbs.add_parser(
        "status",
        help="wait until a rollout is Healthy (exit 0), Degraded (1) or the timeout passes (2)",
        parents=[connection_flags()],
    )
    status.add_argument("name", metavar="NAME", help="the Rollout")
    status.add_argument(
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
    """`Progressing · step 2/8 · canary 20% · message`: what a pipeline log needs at a glance."""
    position = render_rollout.step_position(rollout)
    canary_weight, _ = render_rollout.weights(rollout, observed)
    parts = [
        str(render_rollout.phase_of(rollout)),
        f"step {position.done}/{position.total}",
        f"canary {canary_weight:g}%",
    ]
    if rollout.status.message:
        parts.append(rollout.status.message)
    return " · ".join(parts)


def wait_for_outcome(session: Session, name: str, *, timeout: float | None, interval: float) -> int:
    start = session.clock.now()
    deadline = None if timeout is None else start + timedelta(seconds=timeout)
    last = ""
    while True:
        rollout, observed = fetch_view(session, name)
        line = progress_line(rollout, observed)
        if line != last:
            print(f"rollout '{name}': {line}", flush=True)
            last = line
        phase = render_rollout.phase_of(rollout)
        if phase == RolloutPhase.HEALTHY:
            return EXIT_HEALTHY
        if phase == RolloutPhase.DEGRADED:
            return EXIT_DEGRADED
        now = session.clock.now()
        if deadline is not None and now >= deadline:
            print(f"rollout '{name}': timed out after {timeout:g}s, still {phase}", flush=True)
            return EXIT_TIMEOUT
        session.wait(interval if deadline is None else min(interval, (deadline - now).total_seconds()))


def run_status(args: argparse.Namespace) -> int:
    return wait_for_outcome(args.connect(), args.name, timeout=args.timeout, interval=args.interval)
