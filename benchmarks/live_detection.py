"""Live detection benchmark: how long a bad release keeps receiving real traffic, judged on live data.

Run ``python benchmarks/live_detection.py`` (needs what the live tier needs: scripts/test.sh builds it;
root or unprivileged user namespaces). It re-runs itself inside a network namespace (tests/live/netns.py)
with the live stack (tests/live/stack.py): the control plane, Traefik, the pod runner, Prometheus
scraping Traefik every second, and one controller for every app. Writes ``live_detection.json`` and
``live_detection.md`` into ``--out DIR`` (default ``benchmarks/results``). About 10 minutes; run it
with ``nice``.

Each app is a Rollout behind its own HTTPRoute: stable v1 answers 1% of requests with 500, a release
sends 50% of the traffic to the canary and then runs one analysis, on Traefik's request counters:
- ``sequential``: error-rate-sequential (sequential-counts judge, canary's 5xx share vs stable's);
- ``threshold``: what Argo Rollouts' docs recommend, success rate >= 95% per interval, failureLimit 3.
Both check every 5 s over a 5 s window (the templates' 1m-5m cut down so the run stays short) up to
12 times; a release with no failure by then is promoted.

Measured per bad release (2% or 5% errors, at 20 or 100 requests/s): the seconds from the release to
the last request a bad pod answered (after it, 100% of the traffic is on stable), or "promoted" if the
analysis let it through. False aborts: good releases (1% errors, as stable) aborted, out of those run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT / "tests" / "live"),
    str(ROOT / "tests" / "controlplane"),
    str(Path(__file__).parent),
]

import apps  # noqa: E402
import netns  # noqa: E402
import stack  # noqa: E402
import templates  # noqa: E402
from canarytier import ControllerProcess  # noqa: E402
from livetier import INTERVAL_S, NAME, App, analysed  # noqa: E402
from loadgen import LoadGenerator  # noqa: E402
from out_dir import RESULTS, add_out_argument  # noqa: E402

COUNT = 12
STABLE_ERRORS = 0.01
JUDGES = tuple(templates.JUDGES)
BAD = [(rate, errors) for rate in (20.0, 100.0) for errors in (0.02, 0.05)]
GOOD_PER_JUDGE = 4
GOOD_RATE = 20.0
# Apps released together in one round: about 200 requests/s in all, what two shared cores carry
# alongside the control plane and Traefik without the load generator falling behind.
ROUNDS: list[list[tuple[str, float, float]]] = [
    [(judge, rate, errors) for judge in JUDGES for rate, errors in BAD if rate == 20.0],
    [(judge, 100.0, 0.02) for judge in JUDGES],
    [(judge, 100.0, 0.05) for judge in JUDGES],
    [(judge, GOOD_RATE, STABLE_ERRORS) for judge in JUDGES for _ in range(GOOD_PER_JUDGE)],
]


@dataclass
class Outcome:
    judge: str
    rate: float
    canary_errors: float
    outcome: str  # "aborted" | "promoted" | "paused (inconclusive)": waiting for a person
    seconds_to_stable: float | None  # release -> last request a canary pod answered (aborted only)
    seconds_to_abort: float | None  # release -> the controller's abort seen in the Rollout's status
    requests: int


def _released(app: App, load: LoadGenerator, errors: float, judge: str, rate: float) -> Outcome:
    stable = app.status()["stableRS"]
    released = time.monotonic()
    apps.release(app.api, app.namespace, NAME, "v2", apps.behaviour_env(error_rate=errors))

    def ended() -> str | None:
        status = app.status()
        if status.get("abort"):
            return "aborted"
        if status.get("phase") == "Healthy" and status.get("stableRS") not in (None, stable):
            return "promoted"
        if any(c.get("reason") == "InconclusiveAnalysisRun" for c in status.get("pauseConditions") or []):
            return "paused (inconclusive)"
        return None

    try:
        outcome = str(app.wait_for("the release to end", ended, timeout=COUNT * INTERVAL_S + 120))
    except AssertionError:  # recorded as such rather than losing the whole run
        outcome = "no decision"
    seen = time.monotonic() - released
    if outcome == "aborted":
        app.wait_traefik_weight(0)
        time.sleep(2)
    answered_by_canary = [r.sent for r in load.since(released) if r.version == "v2"]
    return Outcome(
        judge=judge,
        rate=rate,
        canary_errors=errors,
        outcome=outcome,
        seconds_to_stable=(max(answered_by_canary) - released) if outcome == "aborted" else None,
        seconds_to_abort=seen if outcome == "aborted" else None,
        requests=len(load.since(released)),
    )


@contextmanager
def _app(
    live: stack.LiveStack, controller: ControllerProcess, namespace: str, judge: str, rate: float
) -> Iterator[tuple[App, LoadGenerator]]:
    with (
        analysed(live, namespace, judge, live.prometheus.address, count=COUNT, controller=controller) as app,
        app.load(rate) as load,
    ):
        yield app, load


def _round(
    live: stack.LiveStack, controller: ControllerProcess, number: int, plan: list[tuple[str, float, float]]
) -> list[Outcome]:
    from concurrent.futures import ThreadPoolExecutor

    with ExitStack() as running:
        started = [
            (
                running.enter_context(_app(live, controller, f"r{number}-{i}-{judge}", judge, rate)),
                judge,
                rate,
                errors,
            )
            for i, (judge, rate, errors) in enumerate(plan)
        ]
        time.sleep(3 * INTERVAL_S)  # stable's counters in Prometheus before the release
        with ThreadPoolExecutor(len(started)) as pool:
            futures = [
                pool.submit(_released, app, load, errors, judge, rate)
                for (app, load), judge, rate, errors in started
            ]
            return [f.result() for f in futures]


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    bad = [o for o in outcomes if o.canary_errors != STABLE_ERRORS]
    good = [o for o in outcomes if o.canary_errors == STABLE_ERRORS]
    return {
        "bad_releases": [asdict(o) for o in bad],
        "false_aborts": {
            judge: {
                "aborted": sum(o.outcome == "aborted" for o in good if o.judge == judge),
                "releases": sum(o.judge == judge for o in good),
            }
            for judge in JUDGES
        },
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| analysis | req/s | canary errors (stable 1%) | outcome | bad release to 100% on stable |",
        "|---|---|---|---|---|",
    ]
    for row in result["bad_releases"]:
        back = f"{row['seconds_to_stable']:.1f} s" if row["seconds_to_stable"] is not None else "never"
        lines.append(
            f"| {row['judge']} | {row['rate']:.0f} | {row['canary_errors']:.0%} | {row['outcome']} | {back} |"
        )
    lines.append("")
    for judge, counts in result["false_aborts"].items():
        lines.append(f"- {judge}: {counts['aborted']} false aborts in {counts['releases']} good releases")
    return "\n".join(lines)


def run_inside(out: Path) -> int:
    work_dir = Path(tempfile.mkdtemp(prefix="canary-live-bench-"))
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with stack.running(work_dir) as live, live.controller(None) as controller:
        controller.wait_ready()
        for number, plan in enumerate(ROUNDS):
            outcomes += _round(live, controller, number, plan)
            print(f"round {number + 1}/{len(ROUNDS)} done ({time.monotonic() - started:.0f}s)", flush=True)
    result = {
        **summarize(outcomes),
        "meta": {
            "interval_seconds": INTERVAL_S,
            "count": COUNT,
            "stable_errors": STABLE_ERRORS,
            "canary_weight": 50,
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "seconds": round(time.monotonic() - started),
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "live_detection.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "live_detection.md").write_text(table(result) + "\n", encoding="utf-8")
    print(table(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_out_argument(parser, ["live_detection.json", "live_detection.md"])
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else RESULTS
    if netns.inside():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop what it started on a kill too
        return run_inside(out)
    for script in (stack.TRAEFIK_BUILD, ROOT / "tests" / "controlplane" / "build.sh"):
        subprocess.run(["bash", str(script)], check=True, stdout=subprocess.DEVNULL)
    return subprocess.call(netns.command([sys.executable, __file__, "--out", str(out.resolve())]))


if __name__ == "__main__":
    sys.exit(main())
