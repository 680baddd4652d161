"""What happened when, for explaining a failed request: Traefik's applied config (weights and each
Service's servers, polled from its API), the namespace's EndpointSlices, ReplicaSets and HTTPRoutes
(watched), on the load generator's clock (time.monotonic()).

    with Timeline(live, namespace) as timeline:
        origin = time.monotonic()
        ...
        print(timeline.around(failed.sent, 3.0, origin))   # seconds since origin, source, event
        print(timeline.text(origin))                        # everything

It showed why requests of the abort test were answered by Traefik itself (issue 15): its first
config for the app had no stable server yet, and a weight could be written before the canary's pods
were ready endpoints.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import stack
from kubernetes import client, watch


@dataclass(frozen=True)
class Entry:
    at: float  # time.monotonic()
    source: str
    what: str


class Timeline:
    def __init__(self, live: stack.LiveStack, namespace: str) -> None:
        self.live = live
        self.namespace = namespace
        self.entries: list[Entry] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        api = live.control_plane.api
        custom = client.CustomObjectsApi(api)

        core, apps_api, discovery = client.CoreV1Api(api), client.AppsV1Api(api), client.DiscoveryV1Api(api)
        custom_list = custom.list_namespaced_custom_object
        watched: list[tuple[str, Any, tuple[str, ...], Any]] = [
            ("endpointslice", discovery.list_namespaced_endpoint_slice, (namespace,), _slice),
            ("pod", core.list_namespaced_pod, (namespace,), _pod),
            ("replicaset", apps_api.list_namespaced_replica_set, (namespace,), _replica_set),
            ("httproutes", custom_list, ("gateway.networking.k8s.io", "v1", namespace, "httproutes"), _route),
            (
                "traefikservices",
                custom_list,
                ("traefik.io", "v1alpha1", namespace, "traefikservices"),
                _service,
            ),
        ]
        self._threads = [threading.Thread(target=self._poll_traefik, daemon=True)] + [
            threading.Thread(target=self._follow, args=entry, daemon=True) for entry in watched
        ]

    def __enter__(self) -> Timeline:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()

    def record(self, source: str, what: str, at: float | None = None) -> None:
        with self._lock:
            self.entries.append(Entry(time.monotonic() if at is None else at, source, what))

    def text(self, origin: float, since: float = float("-inf"), until: float = float("inf")) -> str:
        with self._lock:
            near = sorted((e for e in self.entries if since <= e.at <= until), key=lambda e: e.at)
        return "\n".join(f"{e.at - origin:9.3f} {e.source:14} {e.what}" for e in near)

    def around(self, at: float, seconds: float, origin: float) -> str:
        return self.text(origin, at - seconds, at + seconds)

    def _poll_traefik(self) -> None:
        last: dict[str, str] = {}
        while not self._stop.is_set():
            try:
                services = json.loads(stack._get(f"{self.live.traefik_api}/api/http/services"))
            except (OSError, ValueError):
                time.sleep(0.05)
                continue
            for service in services:
                name = service["name"]
                if self.namespace not in name:
                    continue
                summary = _traefik_summary(service)
                if last.get(name) != summary:
                    last[name] = summary
                    self.record("traefik", f"{name}: {summary}")
            time.sleep(0.02)

    def _follow(self, source: str, lister: Any, args: tuple[str, ...], summary: Any) -> None:
        """Record every event of watches on ``lister(*args)`` until stopped (a watch that ends or fails, e.g.
        as the control plane stops, is started again or, once stopped, left)."""
        seen: dict[str, str] = {}
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(lister, *args, timeout_seconds=5):
                    raw = event["raw_object"]
                    name, what = raw["metadata"]["name"], summary(raw)
                    state = "deleted" if event["type"] == "DELETED" else what
                    if seen.get(name) != state:  # a new watch starts with every object again
                        seen[name] = state
                        self.record(source, f"{event['type']} {name}: {what}")
            except Exception:  # a diagnostic never fails the test
                time.sleep(0.2)


def _traefik_summary(service: dict[str, Any]) -> str:
    if "weighted" in service:
        return "weights " + json.dumps(
            {b["name"]: b.get("weight", 1) for b in service["weighted"].get("services") or []}
        )
    servers = (service.get("loadBalancer") or {}).get("servers") or []
    return "servers " + ",".join(sorted(s.get("url", "") for s in servers))


def _slice(raw: dict[str, Any]) -> str:
    endpoints = raw.get("endpoints") or []
    return ",".join(
        f"{e['addresses'][0]}{'' if (e.get('conditions') or {}).get('ready') else '(unready)'}"
        for e in endpoints
    )


def _pod(raw: dict[str, Any]) -> str:
    meta, status = raw["metadata"], raw.get("status") or {}
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
    deleting = " deleting" if meta.get("deletionTimestamp") else ""
    return f"{status.get('podIP')} ready={ready}{deleting}"


def _replica_set(raw: dict[str, Any]) -> str:
    spec, status = raw.get("spec") or {}, raw.get("status") or {}
    return (
        f"spec {spec.get('replicas')} ready {status.get('readyReplicas', 0)} "
        f"available {status.get('availableReplicas', 0)}"
    )


def _route(raw: dict[str, Any]) -> str:
    refs = [ref for rule in raw["spec"].get("rules") or [] for ref in rule.get("backendRefs") or []]
    return json.dumps({ref["name"]: ref.get("weight") for ref in refs})


def _service(raw: dict[str, Any]) -> str:
    services = (raw["spec"].get("weighted") or {}).get("services") or []
    return json.dumps({s["name"]: s.get("weight") for s in services})
