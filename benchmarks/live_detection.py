"""Live detection benchmark: how long a bad release keeps receiving real traffic, judged on live data.

Run ``python benchmarks/live_detection.py`` (needs what the live tier needs: scripts/test.sh builds it;
root or unprivileged user namespaces). It re-runs itself inside a network namespace (tests/live/netns.py)
with the live stack (tests/live/stack.py): the control plane, Traefik, the pod runner, Prometheus
scraping Traefik every second, and one controller for every app. Writes ``live_detection.json`` and
``live_detection.md`` into ``--out DIR`` (default ``benchmarks/results``). About 20 minutes; run it
with ``nice``. ``--quick``: one release per cell, a few checks (a smoke run; writes only with --out).

Each release is an app of its own (a Rollout behind its own HTTPRoute, its namespace deleted after
it): stable answers 1% of requests with 500, the release sends 50% of the traffic to the canary and
then runs one analysis on Traefik's metrics, every 5 s over a 5 s window (the templates' 1m cut down):
- ``sequential``: traefik-error-rate-sequential (sequential-counts judge, canary's 5xx share vs stable's);
- ``threshold``: traefik-success-rate, what Argo Rollouts' docs recommend, success rate >= 95% per
  interval, failureLimit 3;
- ``latency``: traefik-latency-tail-sequential (the canary's share of responses slower than 75 ms vs
  stable's, from Traefik's request-duration histogram), for apps answering in about 50 ms.

The number of checks is sized as an SRE sizes a sequential template's horizon: enough for the canary
to answer the requests the judge needs to catch a doubling of a 1% error rate 80% of the time (the
80th-percentile sample size of benchmarks/results/detection.json, 1% -> 2% errors, about 3,500): so
at 20 req/s (10 a second to the canary) 71 checks, at 100 req/s 15. Every analysis of a release gets
the same checks; a release with no failure by then is promoted.

Each bad cell (2% or 5% errors, or 30% more latency, at 20 or 100 requests/s) is released
``REPEATS`` times; per cell the JSON has every release and the table the releases detected and the
median and range of the seconds from the release to the last request a bad pod answered (after it,
100% of the traffic is on stable). False aborts: good releases (as stable) aborted, out of those run.
The load generator draws no randomness (a fixed schedule); each pod's error and latency draws are
seeded by its name, which the apiserver suffixes at random: repeats are independent samples.

Releases run side by side in two lanes of about 100 requests/s each (what two shared cores carry
alongside the control plane, Traefik and Prometheus without the load generator falling behind): one
lane runs the 20 req/s releases five at a time, the other the 100 req/s releases one at a time.
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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
from out_dir import RESULTS, quick_parser, write_results  # noqa: E402
from readme_figures import live_table  # noqa: E402

Env = list[dict[str, str]]

CANARY_WEIGHT = 50  # livetier.analysed_rollout's setWeight
RATES = (20.0, 100.0)
REPEATS = 3
GOOD_RATE = 20.0
GOOD_REPEATS = 3
LANE_RATE = 100.0  # requests/s of the releases running side by side in one lane
ERRORS = apps.behaviour_env(error_rate=0.01)
# What a release changes: (stable's behaviour, the canary's).
CHANGES: dict[str, tuple[Env, Env]] = {
    "1% -> 2% errors": (ERRORS, apps.behaviour_env(error_rate=0.02)),
    "1% -> 5% errors": (ERRORS, apps.behaviour_env(error_rate=0.05)),
    "50 -> 65 ms latency": (apps.slow_env(), apps.slow_env(1.3)),
    "none (1% errors)": (ERRORS, ERRORS),
    "none (50 ms)": (apps.slow_env(), apps.slow_env()),
}
BAD = [
    *(
        (judge, rate, change)
        for judge in ("sequential", "threshold")
        for rate in RATES
        for change in list(CHANGES)[:2]
    ),
    *(("latency", rate, "50 -> 65 ms latency") for rate in RATES),
]
GOOD = [("sequential", "none (1% errors)"), ("threshold", "none (1% errors)"), ("latency", "none (50 ms)")]


def canary_requests_needed() -> int:
    """The canary requests the sequential judge needs to catch 1% -> 2% errors 80% of the time at
    10 requests/s per arm, 1:1 (detection.json's 80th-percentile sample size)."""
    rows = json.loads((RESULTS / "detection.json").read_text(encoding="utf-8"))["rows"]
    return int(
        next(
            r["p80_canary_n"]
            for r in rows
            if r["scenario"] == "errors 1% -> 2%"
            and r["rate_per_arm"] == 10.0
            and r["split"] == "1:1"
            and r["judge"] == "sequential"
        )
    )


def checks_for(rate: float, canary_requests: int) -> int:
    """Checks of INTERVAL_S until the canary has answered ``canary_requests`` at ``rate`` req/s."""
    return math.ceil(canary_requests / (rate * CANARY_WEIGHT / 100 * INTERVAL_S))


@dataclass(frozen=True)
class Job:
    judge: str
    rate: float
    change: str
    checks: int
    namespace: str


@dataclass
class Outcome:
    judge: str
    rate: float
    change: str
    outcome: str  # "aborted" | "promoted" | "paused (inconclusive)" | "no decision"
    seconds_to_stable: float | None  # release -> last request a canary pod answered (aborted only)
    seconds_to_abort: float | None  # release -> the controller's abort seen in the Rollout's status
    requests: int
    canary_requests: int


def _released(app: App, job: Job) -> Outcome:
    _, canary_env = CHANGES[job.change]
    with app.load(job.rate) as load:
        time.sleep(2 * INTERVAL_S)  # stable's counters in Prometheus before the release
        stable = app.status()["stableRS"]
        released = time.monotonic()
        apps.release(app.api, app.namespace, NAME, "v2", canary_env)
        try:
            outcome = app.wait_release_end(stable, timeout=job.checks * INTERVAL_S + 120)
        except AssertionError:  # recorded as such rather than losing the whole run
            outcome = "no decision"
        seen = time.monotonic() - released
        if outcome == "aborted":
            app.wait_traefik_weight(0)
            time.sleep(2)
        answered = load.since(released)
    by_canary = [r.sent for r in answered if r.version == "v2"]
    return Outcome(
        judge=job.judge,
        rate=job.rate,
        change=job.change,
        outcome=outcome,
        seconds_to_stable=(max(by_canary) - released) if outcome == "aborted" and by_canary else None,
        seconds_to_abort=seen if outcome == "aborted" else None,
        requests=len(answered),
        canary_requests=len(by_canary),
    )


def _run(live: stack.LiveStack, controller: ControllerProcess, job: Job) -> Outcome:
    stable_env, _ = CHANGES[job.change]
    try:
        with analysed(
            live,
            job.namespace,
            job.judge,
            live.prometheus.address,
            count=job.checks,
            controller=controller,
            env=stable_env,
        ) as app:
            outcome = _released(app, job)
    finally:  # its pods (and their servers) gone, so finished releases cost nothing
        live.control_plane.core_v1().delete_namespace(job.namespace)
    print(f"{job.namespace}: {job.judge} {job.rate:.0f} req/s {job.change}: {outcome.outcome}", flush=True)
    return outcome


def jobs(repeats: int, good_repeats: int, canary_requests: int) -> list[Job]:
    """Every release, the slowest first (good releases run every check; they set the run's length)."""
    plan = [(judge, GOOD_RATE, change, r) for judge, change in GOOD for r in range(good_repeats)]
    plan += [(judge, rate, change, r) for judge, rate, change in BAD for r in range(repeats)]
    return [
        Job(judge, rate, change, checks_for(rate, canary_requests), f"{judge}-{rate:.0f}-{index}")
        for index, (judge, rate, change, _) in enumerate(plan)
    ]


def _lanes(live: stack.LiveStack, controller: ControllerProcess, planned: list[Job]) -> list[Outcome]:
    """Each rate's releases in a lane of LANE_RATE requests/s; the lanes side by side."""
    lanes = {rate: ThreadPoolExecutor(max(1, int(LANE_RATE // rate))) for rate in {j.rate for j in planned}}
    try:
        futures = [lanes[j.rate].submit(_run, live, controller, j) for j in planned]
        return [f.result() for f in futures]
    finally:  # every future is done, unless stopped by a signal: then no wait for the running ones
        for lane in lanes.values():
            lane.shutdown(wait=False, cancel_futures=True)


def _seconds(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(outcomes: list[Outcome], checks: dict[float, int]) -> dict[str, Any]:
    cells = []
    for judge, rate, change in BAD:
        runs = [o for o in outcomes if (o.judge, o.rate, o.change) == (judge, rate, change)]
        detected = [o.seconds_to_stable for o in runs if o.seconds_to_stable is not None]
        cells.append(
            {
                "judge": judge,
                "template": templates.JUDGES[judge],
                "rate": rate,
                "change": change,
                "checks": checks[rate],
                "detected": len(detected),
                "releases": len(runs),
                "seconds_to_stable": _seconds(detected),
                "runs": [asdict(o) for o in runs],
            }
        )
    good = {judge: [o for o in outcomes if o.judge == judge and o.change == change] for judge, change in GOOD}
    false_aborts = {
        judge: {
            "template": templates.JUDGES[judge],
            "rate": GOOD_RATE,
            "checks": checks[GOOD_RATE],
            "aborted": sum(o.outcome == "aborted" for o in runs),
            "releases": len(runs),
            "runs": [asdict(o) for o in runs],
        }
        for judge, runs in good.items()
    }
    return {"cells": cells, "false_aborts": false_aborts}


def run_inside(out: Path | None, quick: bool) -> int:
    work_dir = Path(tempfile.mkdtemp(prefix="canary-live-bench-"))
    started, load_before = time.monotonic(), os.getloadavg()
    canary_requests = canary_requests_needed() // (4 if quick else 1)  # quick: >= inconclusiveLimit checks
    checks = {rate: checks_for(rate, canary_requests) for rate in RATES}
    planned = jobs(1 if quick else REPEATS, 1 if quick else GOOD_REPEATS, canary_requests)
    with stack.running(work_dir) as live, live.controller(None) as controller:
        controller.wait_ready()
        outcomes = _lanes(live, controller, planned)
    result = {
        **summarize(outcomes, checks),
        "meta": {
            "interval_seconds": INTERVAL_S,
            "canary_requests_sized_for": canary_requests,
            "checks": {f"{rate:.0f}": n for rate, n in checks.items()},
            "repeats": 1 if quick else REPEATS,
            "stable_errors": 0.01,
            "canary_weight": CANARY_WEIGHT,
            "slow_le": templates.SLOW_LE,
            "cores": os.cpu_count(),
            "load_average": {"start": load_before, "end": os.getloadavg()},  # a shared machine
            "python": platform.python_version(),
            "seconds": round(time.monotonic() - started),
        },
    }
    text = live_table(result)
    write_results(out, quick=quick, name="live_detection", data=result, text=text + "\n")
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = quick_parser(__doc__ or "", ["live_detection.json", "live_detection.md"])
    args = parser.parse_args(argv)
    if netns.inside():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop what it started on a kill too
        try:
            return run_inside(args.out, args.quick)
        except SystemExit:  # the stack is stopped: leave without joining releases still polling it
            sys.stdout.flush()
            os._exit(143)
    for script in (stack.TRAEFIK_BUILD, ROOT / "tests" / "controlplane" / "build.sh"):
        subprocess.run(["bash", str(script)], check=True, stdout=subprocess.DEVNULL)
    forwarded = [
        *(["--quick"] if args.quick else []),
        *(["--out", str(args.out.resolve())] if args.out else []),
    ]
    return subprocess.call(netns.command([sys.executable, __file__, *forwarded]))


if __name__ == "__main__":
    sys.exit(main())
