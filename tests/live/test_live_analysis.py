"""The whole loop on live data: requests through Traefik, Prometheus scraping Traefik's counters every
second, our controller running the sequential judge on them while the rollout runs.

- a release as good as stable is promoted;
- a release with 5% errors against stable's 1% is aborted, and then every request is answered by
  stable; no request fails because of the switch itself (every error carries a version: it came from a
  pod's own error rate, never from Traefik finding no backend), from the release to 3 s after the
  aborted canary's pods are gone. Its timeline (timeline.py) is in the work dir (CANARY_LIVE_KEEP=1);
- Prometheus stopped in the middle of the analysis gives Error measurements and no promotion.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any

import apps
import stack
from canarytier import analysis_runs, get_rollout, replica_sets
from livetier import NAME, App, analysed
from loadgen import LoadGenerator, Response
from timeline import Timeline

from canary.engine.hashing import HASH_LABEL

RATE = 100.0
COUNT = 6  # a good release passes after 6 clean checks of 5 s


def _deployed(live: stack.LiveStack, namespace: str, prometheus: str) -> AbstractContextManager[App]:
    return analysed(live, namespace, "sequential", prometheus, count=COUNT)


def _ends(app: App, stable: str) -> str:
    """'promoted' or 'aborted', whichever the release comes to (``stable``: the hash before it)."""

    def outcome() -> str | None:
        status = app.status()
        if status.get("abort"):
            return "aborted"
        if status.get("phase") == "Healthy" and status.get("stableRS") not in (None, stable):
            return "promoted"
        return None

    return str(app.wait_for("the release to be promoted or aborted", outcome, timeout=150))


def _switch_failures(responses: list[Response]) -> list[Response]:
    """Responses no pod gave: Traefik's own 502/503, refused or timed-out connections."""
    return [r for r in responses if not r.version]


def test_a_release_as_good_as_stable_is_promoted_on_live_prometheus_data(live_stack: stack.LiveStack) -> None:
    ns = "live-good"
    with _deployed(live_stack, ns, live_stack.prometheus.address) as app, app.load(RATE):
        stable = app.status()["stableRS"]
        apps.release(app.api, ns, NAME, "v2", apps.behaviour_env(error_rate=0.01))
        assert _ends(app, stable) == "promoted", app.explain()
        app.wait_traefik_weight(0)
        assert app.status()["stableRS"] == app.status()["currentPodHash"]
        (run,) = analysis_runs(app.api, ns, NAME)
        assert run["status"]["phase"] == "Successful", run["status"]


def test_a_release_with_5_percent_errors_against_1_is_aborted_and_all_traffic_returns_to_stable(
    live_stack: stack.LiveStack,
) -> None:
    ns = "live-bad"
    with (
        _deployed(live_stack, ns, live_stack.prometheus.address) as app,
        Timeline(live_stack, ns) as timeline,
    ):
        stable = app.status()["stableRS"]
        _wait_traefik_serves_every_stable_pod(app)
        with app.load(RATE) as load:
            released = load.mark()
            apps.release(app.api, ns, NAME, "v2", apps.behaviour_env(error_rate=0.05))
            assert _ends(app, stable) == "aborted", app.explain()
            (run,) = analysis_runs(app.api, ns, NAME)
            assert run["status"]["phase"] == "Failed", run["status"]
            app.wait_traefik_weight(0)
            after = load.wait_for_responses(load.mark(), 1000, timeout=60)
            app.wait_for("the aborted canary's pods gone", lambda: _pods_beside(app, stable) == 0, timeout=60)
            load.wait_for_responses(load.mark(), 300, timeout=30)  # and 3 s without them
            _record_responses(load, timeline, released)
            (live_stack.work_dir / f"timeline-{ns}.txt").write_text(timeline.text(released))
            assert {r.version for r in after} == {"v1"}
            failed = _switch_failures(load.since(released))
            failures = [(round(r.sent - released, 2), r.status) for r in failed]
            assert failures == [], (
                "(seconds after the release, status) of requests no pod answered\n"
                + _explained(failed, timeline, released)
            )


def _wait_traefik_serves_every_stable_pod(app: App) -> None:
    """The Rollout is Healthy once its ReplicaSet's pods are available, but Traefik routes by the
    stable Service's EndpointSlice, which the endpoint controller updates apart from that status, and
    applies it up to its providers' throttle (2 s) later: requests sent before are answered 503 by
    Traefik itself (seen: 113 in the first 1.15 s)."""
    prefix = f"{app.namespace}-{NAME}-stable-"
    replicas = int(get_rollout(app.api, app.namespace, NAME)["spec"]["replicas"])

    def served() -> bool:
        services = json.loads(stack._get(f"{app.live.traefik_api}/api/http/services"))
        return any(
            s["name"].startswith(prefix)
            and len((s.get("loadBalancer") or {}).get("servers") or []) == replicas
            for s in services
        )

    app.wait_for(f"Traefik to route to the {replicas} stable pods", served, timeout=30)


def _pods_beside(app: App, stable: str) -> int:
    """Pods of the Rollout's ReplicaSets other than ``stable`` (the hash)."""
    return sum(
        rs.status.replicas or 0
        for rs in replica_sets(app.api, app.namespace, NAME)
        if (rs.metadata.labels or {}).get(HASH_LABEL) != stable
    )


def test_prometheus_stopped_mid_analysis_gives_error_measurements_and_no_promotion(
    live_stack: stack.LiveStack,
) -> None:
    ns = "live-no-prometheus"
    prometheus = stack.Prometheus(live_stack.work_dir, port=9091)
    prometheus.start()
    try:
        with (
            _deployed(live_stack, ns, prometheus.address) as app,
            LoadGenerator(live_stack.entrypoint, host=apps.host(ns), rate=RATE),
        ):
            stable = app.status()["stableRS"]
            apps.release(app.api, ns, NAME, "v2", apps.behaviour_env(error_rate=0.01))
            app.wait_for("a first measurement", lambda: _measurements(app), timeout=60)
            prometheus.stop()
            outcome = _ends(app, stable)
            phases = {m["phase"] for m in _measurements(app)}
            assert outcome == "aborted", app.explain()
            assert "Error" in phases, phases
            assert app.status()["stableRS"] == stable
    finally:
        prometheus.stop()


def _explained(failed: list[Response], timeline: Timeline, origin: float) -> str:
    """What happened around the first and last failed request, on the release's clock."""
    ends = {failed[0].sent: failed[0], failed[-1].sent: failed[-1]}
    return "\n---\n".join(timeline.around(r.sent, 4.0, origin) for r in ends.values())


def _record_responses(load: LoadGenerator, timeline: Timeline, origin: float) -> None:
    """Requests no pod answered, and the first each version answered, on the timeline at their sending."""
    seen: set[str] = set()
    for r in sorted(load.since(origin), key=lambda r: r.sent):
        if not r.version or r.version not in seen:
            seen.add(r.version)
            timeline.record(
                "response", f"{r.status} {r.version or '(no pod)'} in {r.latency:.3f}s", at=r.sent
            )


def _measurements(app: App) -> list[dict[str, Any]]:
    runs = analysis_runs(app.api, app.namespace, NAME)
    return [
        m
        for run in runs
        for r in (run.get("status") or {}).get("metricResults") or []
        for m in r.get("measurements") or []
    ]
