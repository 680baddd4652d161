"""The processes behind kwok's pods: one small HTTP server per pod, on the pod's IP and container port.

kwok pods get an IP and become Ready but run nothing. This runner watches the pods of the cluster and,
for each pod with an IP, serves HTTP on ``<podIP>:<first containerPort>`` (8080 without one) until the
pod is gone. It must run where pod IPs are local addresses (the live tier's network namespace, where
10.244.0.0/16 is routed to ``lo``).

What a pod's server does comes from its first container:
- env ``ERROR_RATE`` (0..1, default 0): the share of requests answered 500;
- env ``LATENCY_MS`` (default 0) and ``LATENCY_SIGMA`` (ms, default 0): each response waits a normal
  draw of that mean and deviation (never below 0);
- the image tag (after the last ``:``) is sent back in the ``X-Version`` header, the pod's name in
  ``X-Pod``, so a client can count which version answered.

``GET /metrics`` is not a request of the app: it answers, in Prometheus' text format, the counter
``http_requests_total{code}`` of the requests this pod answered (what a pod's own instrumentation
exports, for Prometheus' Kubernetes service discovery of the pods).

    python tests/live/podrunner.py --kubeconfig admin.kubeconfig [--namespace team-a]

Readiness follows the process: once a pod's server listens, the runner annotates the pod
``live.canary.dev/serving: "true"``, and the live tier's kwok stages (stack.live_kwok_stages) make a
pod Ready only then, so no Service routes to an address nothing answers on. A server that cannot bind
leaves its pod unready.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import random
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_PORT = 8080
READY_LINE = "podrunner: watching pods"
# Set on a pod once its server listens; the live tier's kwok stages make the pod Ready only then.
SERVING_ANNOTATION = "live.canary.dev/serving"


@dataclass(frozen=True)
class Behaviour:
    version: str
    error_rate: float = 0.0
    latency_ms: float = 0.0
    latency_sigma: float = 0.0

    def delay(self, rng: random.Random) -> float:
        """Seconds to wait before answering."""
        if self.latency_ms <= 0 and self.latency_sigma <= 0:
            return 0.0
        return max(0.0, rng.gauss(self.latency_ms, self.latency_sigma)) / 1000.0


@dataclass(frozen=True)
class PodSpec:
    """What the runner needs of a pod: where to listen and how to answer."""

    key: str
    ip: str
    port: int
    behaviour: Behaviour


def pod_spec(pod: dict[str, Any]) -> PodSpec | None:
    """The server a pod should have, or None while it has no IP or is being deleted."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    ip = status.get("podIP")
    if not ip or meta.get("deletionTimestamp"):
        return None
    container = (spec.get("containers") or [{}])[0]
    ports = container.get("ports") or [{}]
    env = {e["name"]: e.get("value", "") for e in container.get("env") or [] if "name" in e}
    image = str(container.get("image", ""))
    behaviour = Behaviour(
        version=image.rsplit(":", 1)[-1] if ":" in image else image,
        error_rate=float(env.get("ERROR_RATE") or 0),
        latency_ms=float(env.get("LATENCY_MS") or 0),
        latency_sigma=float(env.get("LATENCY_SIGMA") or 0),
    )
    return PodSpec(
        key=f"{meta.get('namespace')}/{meta.get('name')}",
        ip=str(ip),
        port=int(ports[0].get("containerPort", DEFAULT_PORT)),
        behaviour=behaviour,
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    # Without it a response waits for Nagle plus the client's delayed ACK (18-44 ms measured).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: PodServer

    def do_GET(self) -> None:
        if self.path == "/metrics":
            self._metrics()
            return
        behaviour, rng = self.server.behaviour, self.server.rng
        time.sleep(behaviour.delay(rng))
        failed = rng.random() < behaviour.error_rate
        body = b"error\n" if failed else b"ok\n"
        self.server.answered(500 if failed else 200)
        self.send_response(500 if failed else 200)
        self.send_header("X-Version", behaviour.version)
        self.send_header("X-Pod", self.server.pod_name)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _metrics(self) -> None:
        body = self.server.exposition().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        super().finish()
        self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PodServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, spec: PodSpec) -> None:
        self.behaviour = spec.behaviour
        self.pod_name = spec.key.split("/", 1)[-1]
        self.rng = random.Random(spec.key)
        self.connections: set[socket.socket] = set()
        self.by_code: Counter[int] = Counter()
        self._counting = threading.Lock()
        super().__init__((spec.ip, spec.port), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, name=spec.key, daemon=True)
        self.thread.start()

    def answered(self, code: int) -> None:
        with self._counting:
            self.by_code[code] += 1

    def exposition(self) -> str:
        """The pod's counters in Prometheus' text format."""
        with self._counting:
            counts = sorted(self.by_code.items())
        lines = [
            "# HELP http_requests_total Requests this pod answered, by status code.",
            "# TYPE http_requests_total counter",
            *(f'http_requests_total{{code="{code}"}} {n}' for code, n in counts),
        ]
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        """Stop listening and drop every open connection, as a process that exits does: a proxy's
        kept-alive connection must not outlive the pod (kwok may give its IP to the next pod)."""
        self.shutdown()
        self.server_close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Runner:
    """Keeps one PodServer per pod that has an IP; reconciles on every watch event. ``mark_serving``
    (namespace, name) annotates a pod whose server listens."""

    def __init__(self, mark_serving: Callable[[str, str], None]) -> None:
        self.servers: dict[str, tuple[PodSpec, PodServer]] = {}
        self.mark_serving = mark_serving

    def observe(self, event_type: str, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        wanted = None if event_type == "DELETED" else pod_spec(pod)
        current = self.servers.get(key)
        if current is not None and current[0] != wanted and (wanted is None or current[0].ip != wanted.ip):
            self._stop(key)
            current = None
        if wanted is not None and current is None:
            self._start(wanted)
        annotations = meta.get("annotations") or {}
        if key in self.servers and annotations.get(SERVING_ANNOTATION) != "true":
            self.mark_serving(str(meta.get("namespace")), str(meta.get("name")))

    def _start(self, spec: PodSpec) -> None:
        try:
            self.servers[spec.key] = (spec, PodServer(spec))
        except OSError as error:
            print(f"podrunner: cannot serve {spec.key} on {spec.ip}:{spec.port}: {error}", file=sys.stderr)
            return
        print(f"podrunner: serving {spec.key} on {spec.ip}:{spec.port} ({spec.behaviour})", flush=True)

    def _stop(self, key: str) -> None:
        _spec, server = self.servers.pop(key)
        server.stop()
        print(f"podrunner: stopped {key}", flush=True)

    def stop_all(self) -> None:
        for key in list(self.servers):
            self._stop(key)


def watch(api: Any, namespace: str | None, runner: Runner) -> None:
    """Feed every pod event to the runner, forever (a watch that times out is started again)."""
    from kubernetes import watch

    api.list_pod_for_all_namespaces(limit=1)
    print(READY_LINE, flush=True)
    while True:
        stream = watch.Watch()
        if namespace:
            events = stream.stream(api.list_namespaced_pod, namespace, timeout_seconds=300)
        else:
            events = stream.stream(api.list_pod_for_all_namespaces, timeout_seconds=300)
        for event in events:
            raw = event.get("raw_object") or {}
            if raw.get("kind") == "Pod":
                runner.observe(event["type"], raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default=None, help="only this namespace's pods (default: all)")
    args = parser.parse_args(argv)
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=args.kubeconfig))

    def mark_serving(namespace: str, name: str) -> None:
        patch = {"metadata": {"annotations": {SERVING_ANNOTATION: "true"}}}
        try:
            api.patch_namespaced_pod(name, namespace, patch)
        except client.ApiException as error:  # e.g. deleted meanwhile: its DELETED event follows
            print(f"podrunner: cannot mark {namespace}/{name} serving: {error.status}", file=sys.stderr)

    runner = Runner(mark_serving)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        watch(api, args.namespace, runner)
    finally:
        with contextlib.suppress(Exception):
            runner.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
