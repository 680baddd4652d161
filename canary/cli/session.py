"""Which cluster a command talks to, and how time passes there.

`--cluster kube` (the default) reaches the Kubernetes API with kubectl's flags; `--cluster memory`
(or `CANARY_CLUSTER=memory`) targets the embedded in-memory cluster, where time is virtual and
"waiting" advances the simulation. Commands see only a `Session`, so `status`, `get --watch` and
every verb run unchanged against both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from canary.cli import output
from canary.cli.errors import CLIError
from canary.cluster.port import ClusterPort
from canary.engine.clock import Clock

if TYPE_CHECKING:  # the simulation (numpy) loads only with the embedded cluster
    from canary.sim.driver import Simulation

CLUSTER_ENV = "CANARY_CLUSTER"
CLUSTER_KINDS = ("kube", "memory")


@dataclass(frozen=True)
class Session:
    """A connected cluster, its clock, and `wait(seconds)`: a sleep on a real cluster, a simulation
    step on the embedded one."""

    port: ClusterPort
    clock: Clock
    wait: Callable[[float], None]
    namespace: str


SessionFactory = Callable[[argparse.Namespace], Session]


def connection_flags() -> argparse.ArgumentParser:
    """kubectl's connection flags, accepted before or after the verb (`parents=` of each command)."""
    flags = argparse.ArgumentParser(add_help=False)
    add_connection_flags(flags, default=argparse.SUPPRESS)
    return flags


def add_connection_flags(parser: argparse.ArgumentParser, default: object = None) -> None:
    """On the top parser `default` is None; on each verb it is SUPPRESS, so an absent flag after the
    verb does not hide one given before it."""
    group = parser.add_argument_group("cluster connection")
    group.add_argument("--kubeconfig", default=default, help="path to the kubeconfig file")
    group.add_argument("--context", default=default, help="the kubeconfig context to use")
    group.add_argument("-n", "--namespace", default=default, help="namespace (default: the context's)")
    group.add_argument(
        "--cluster",
        choices=CLUSTER_KINDS,
        default=default,
        help=f"kube: the Kubernetes API (default); memory: the embedded demo cluster (env {CLUSTER_ENV})",
    )


def cluster_kind(args: argparse.Namespace) -> str:
    kind: str = args.cluster or os.environ.get(CLUSTER_ENV) or "kube"
    if kind not in CLUSTER_KINDS:
        raise CLIError(f"{CLUSTER_ENV}={kind} is not a cluster kind; use one of: {', '.join(CLUSTER_KINDS)}")
    return kind


def connect(args: argparse.Namespace, embedded: SessionFactory | None) -> Session:
    """The session the flags ask for: the Kubernetes API, or the embedded cluster."""
    if cluster_kind(args) == "memory":
        factory = embedded or demo_session
        return factory(args)
    return kube_session(args)


def wall_clock_wait(seconds: float) -> None:
    time.sleep(max(0.0, seconds))


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def kube_session(args: argparse.Namespace) -> Session:
    """kubectl's rules: --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else in-cluster."""
    # Imported here: the Kubernetes client is slow to import and offline verbs never need it.
    from kubernetes import client as kube_client
    from kubernetes import config as kube_config

    from canary.cluster.kube import KubeCluster
    from canary.cluster.kube_api import KubeApi

    kubeconfig = getattr(args, "kubeconfig", None)
    context = getattr(args, "context", None)
    try:
        client = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context
        )
        namespace = _context_namespace(kubeconfig, context)
    except kube_config.ConfigException:
        if kubeconfig or context or not os.environ.get("KUBERNETES_SERVICE_HOST"):
            raise
        kube_config.load_incluster_config()  # type: ignore[no-untyped-call]
        client, namespace = kube_client.ApiClient(), _in_cluster_namespace()
    clock = WallClock()
    cluster = KubeCluster(KubeApi(client), clock=clock.now)
    return Session(cluster, clock, wall_clock_wait, getattr(args, "namespace", None) or namespace)


def _context_namespace(kubeconfig: str | None, context: str | None) -> str:
    from kubernetes import config as kube_config

    contexts, active = kube_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
        config_file=kubeconfig
    )
    chosen = next((c for c in contexts if c.get("name") == context), active) if context else active
    namespace: str = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    return namespace


def _in_cluster_namespace() -> str:
    path = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    return path.read_text(encoding="utf-8").strip() if path.exists() else "default"


def simulation_session(simulation: Simulation, namespace: str, pace: float | None = None) -> Session:
    """A session on the embedded cluster: waiting runs the controller's loop on the virtual clock
    (`pace` virtual seconds per real second slows it down to be watched; None: as fast as possible)."""

    def wait(seconds: float) -> None:
        deadline = simulation.clock.now() + timedelta(seconds=seconds)
        while simulation.clock.now() < deadline:
            before = simulation.clock.now()
            simulation.tick()
            if pace:
                time.sleep((simulation.clock.now() - before).total_seconds() / pace)

    return Session(simulation.cluster, simulation.clock, wait, namespace)


def demo_session(args: argparse.Namespace) -> Session:
    """`--cluster memory` on its own: the demo's cluster (namespace `demo`, Rollout `checkout`)."""
    from canary.cli import commands_demo

    output.quiet_library_logs()
    simulation = commands_demo.build_simulation(seed=7)
    simulation.settle()
    pace = commands_demo.WATCHABLE_SPEEDUP if sys.stdout.isatty() else None
    return simulation_session(simulation, getattr(args, "namespace", None) or commands_demo.NAMESPACE, pace)
