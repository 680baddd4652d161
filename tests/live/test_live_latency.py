"""A slower release caught on live latency data: requests through Traefik to pods answering in about
50 ms (apps.slow_env), Prometheus scraping Traefik's request-duration histogram every second, our
controller running traefik-latency-tail-sequential on it (the share of responses slower than
templates.SLOW_LE, canary against stable) while the rollout runs.

- a release 30% slower (mean and deviation) is aborted, and then every request is answered by stable;
- a release as fast as stable is promoted.
"""

from __future__ import annotations

import statistics

import apps
import stack
from canarytier import analysis_runs
from livetier import NAME, analysed
from loadgen import Response

RATE = 100.0
COUNT = 15  # 15 checks of 5 s: about 3,700 canary requests at 50% of 100 req/s


def _median_latency(responses: list[Response], version: str) -> float:
    """Seconds, as the load generator measured them through Traefik."""
    return statistics.median(r.latency for r in responses if r.version == version)


def test_a_release_30_percent_slower_is_aborted_on_traefiks_latency_histogram(
    live_stack: stack.LiveStack,
) -> None:
    ns = "live-slower"
    with (
        analysed(
            live_stack, ns, "latency", live_stack.prometheus.address, count=COUNT, env=apps.slow_env()
        ) as app,
        app.load(RATE) as load,
    ):
        stable = app.status()["stableRS"]
        released = load.mark()
        apps.release(app.api, ns, NAME, "v2", apps.slow_env(1.3))
        assert app.wait_release_end(stable, timeout=COUNT * 5 + 90) == "aborted", app.explain()
        (run,) = analysis_runs(app.api, ns, NAME)
        assert run["status"]["phase"] == "Failed", run["status"]
        during = load.since(released)
        assert _median_latency(during, "v2") > 1.15 * _median_latency(during, "v1"), "v2 was not slower"
        app.wait_traefik_weight(0)
        after = load.wait_for_responses(load.mark(), 500, timeout=60)
        assert {r.version for r in after} == {"v1"}


def test_a_release_as_fast_as_stable_is_promoted_by_the_latency_template(live_stack: stack.LiveStack) -> None:
    ns = "live-as-fast"
    with (
        analysed(
            live_stack, ns, "latency", live_stack.prometheus.address, count=COUNT, env=apps.slow_env()
        ) as app,
        app.load(RATE),
    ):
        stable = app.status()["stableRS"]
        apps.release(app.api, ns, NAME, "v2", apps.slow_env())
        assert app.wait_release_end(stable, timeout=COUNT * 5 + 90) == "promoted", app.explain()
