"""`canary controller`: run the controller in-cluster (service-account credentials) or with a kubeconfig."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from kubernetes import client, config

from canary import logs
from canary.cli.errors import CLIError
from canary.cluster.kube_api import KubeApi
from canary.controller.health import HealthServer
from canary.controller.leader import LeaderElector
from canary.controller.manager import Controller, Settings
from canary.controller.metrics import Metrics

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def register(verbs: Any) -> None:
    run = verbs.add_parser("controller", help="run the Rollout controller")
    # SUPPRESS: the top-level parser defines these too; a flag given before the verb must survive.
    quiet = argparse.SUPPRESS
    run.add_argument(
        "--kubeconfig", default=quiet, help="kubeconfig file (default: in-cluster, then ~/.kube/config)"
    )
    run.add_argument("--context", default=quiet, help="kubeconfig context to use")
    run.add_argument(
        "-n", "--namespace", default=quiet, help="watch only this namespace (default: all namespaces)"
    )
    run.add_argument(
        "--namespaced",
        action="append",
        metavar="NAMESPACES",
        help="watch and act only in these namespaces (comma-separated, or repeat the flag) and read "
        "nothing cluster-scoped: RoleBindings there are all the RBAC it needs (manifests/ installs it so)",
    )
    run.add_argument(
        "--secret-label",
        metavar="KEY=VALUE",
        help="read only Secrets carrying this label for analysis arguments, e.g. "
        f"{SECRET_LABEL}; others fail the measurement with the fix (default: any Secret RBAC allows)",
    )
    run.add_argument(
        "--workers", type=int, default=10, help="reconcile worker threads per queue (default %(default)s)"
    )
    run.add_argument(
        "--instance-id",
        help="handle only Rollouts labelled canary.dev/controller-instance-id=<id> (shards a fleet); "
        "without it, only unlabelled Rollouts",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=8080,
        help="/metrics, /healthz, /readyz port (default %(default)s)",
    )
    run.add_argument(
        "--resync-seconds",
        type=float,
        default=300.0,
        help="re-queue everything this often (default %(default)s)",
    )
    run.add_argument(
        "--leader-elect", action="store_true", help="run for leadership on a Lease; only the leader writes"
    )
    run.add_argument(
        "--lease-name",
        help="Lease name (default canary-controller, or canary-controller-<instance id> with --instance-id, "
        "so each shard elects its own leader)",
    )
    run.add_argument(
        "--lease-namespace", help="Lease namespace (default: this pod's namespace, else 'default')"
    )
    run.add_argument("--lease-duration", type=float, default=15.0, help="seconds (default %(default)s)")
    run.add_argument(
        "--notifications-namespace",
        help="namespace of the notification ConfigMap canary-notification-configmap, its Secret "
        "canary-notification-secret and the delivery record canary-notification-state "
        "(default: this pod's namespace, else 'default')",
    )
    run.add_argument(
        "--no-notifications",
        action="store_true",
        help="send no notifications (and read no ConfigMap for them)",
    )
    run.add_argument(
        "--log-level", default="info", help="debug, info, warning or error (default %(default)s)"
    )
    run.set_defaults(run=run_controller)


def _api_client(args: argparse.Namespace) -> client.ApiClient:
    try:
        kubeconfig, context = getattr(args, "kubeconfig", None), getattr(args, "context", None)
        if kubeconfig or context or "KUBERNETES_SERVICE_HOST" not in os.environ:
            loaded: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context
            )
        else:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            loaded = client.ApiClient()
    except (config.ConfigException, OSError) as error:
        raise CLIError(
            f"cannot load Kubernetes credentials: {error}; pass --kubeconfig or run in a pod"
        ) from error
    hook = loaded.configuration.refresh_api_key_hook
    if hook is not None:
        loaded.configuration.refresh_api_key_hook = at_most_every(CREDENTIAL_REFRESH_SECONDS, hook)
    return loaded


CREDENTIAL_REFRESH_SECONDS = 1.0
"""How often the client library may re-check the credentials (a token that expires is renewed at
most this late). Its hook runs before every request and re-applies the whole configuration (host,
TLS files, proxy settings read from the environment): about 4% of the controller's CPU in a fleet."""


def at_most_every(
    seconds: float, hook: Callable[[Any], None], clock: Callable[[], float] = time.monotonic
) -> Callable[[Any], None]:
    """`hook`, skipped when it last ran less than `seconds` ago."""
    last: float | None = None

    def throttled(configuration: Any) -> None:
        nonlocal last
        now = clock()
        if last is None or now - last >= seconds:
            last = now
            hook(configuration)
            # The kubeconfig loader's hook re-applies the whole configuration, itself included:
            # without this, only its first run was throttled.
            configuration.refresh_api_key_hook = throttled

    return throttled


SECRET_LABEL = "canary.dev/analysis-secret=true"
"""The label manifests/ makes the controller require on the Secrets it reads (`--secret-label`)."""


def lease_name(given: str | None, instance_id: str | None) -> str:
    """The Lease the replicas of one controller instance campaign for: one per shard."""
    if given:
        return given
    return f"canary-controller-{instance_id}" if instance_id else "canary-controller"


def _namespaces(args: argparse.Namespace) -> tuple[str, ...]:
    names = [n.strip() for value in args.namespaced or [] for n in value.split(",") if n.strip()]
    if args.namespaced is not None and not names:
        raise CLIError("--namespaced needs at least one namespace, e.g. --namespaced=shop,payments")
    if names and getattr(args, "namespace", None):
        raise CLIError("give either -n/--namespace or --namespaced, not both")
    return tuple(dict.fromkeys(names))


def _label(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    key, sep, label_value = value.partition("=")
    if not sep or not key:
        raise CLIError(f"--secret-label must be KEY=VALUE, e.g. {SECRET_LABEL}; got {value!r}")
    return key, label_value


def _pod_namespace() -> str:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return "default"


def run_controller(args: argparse.Namespace) -> int:
    # First, so a SIGTERM at any point of start-up (before the informers or the election started)
    # is a clean stop rather than the default handler's kill.
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in STOP_SIGNALS}
    try:
        return _run(args, stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(args: argparse.Namespace, stop: threading.Event) -> int:
    """Run until `stop`: exit code 0 on a requested stop in any state, 1 if leadership was lost."""
    try:
        logs.configure(args.log_level)
    except ValueError as error:
        raise CLIError(str(error)) from error
    if args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")
    namespaces, secret_label = _namespaces(args), _label(args.secret_label)
    api = KubeApi(_api_client(args))
    leader = None
    if args.leader_elect:
        identity = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
        leader = LeaderElector(
            api,
            namespace=args.lease_namespace or _pod_namespace(),
            name=lease_name(args.lease_name, args.instance_id),
            identity=identity,
            lease_duration=args.lease_duration,
            renew_deadline=args.lease_duration * 2 / 3,
            retry_period=args.lease_duration / 7,
        )
    metrics = Metrics()
    settings = Settings(
        namespace=getattr(args, "namespace", None),
        namespaces=namespaces,
        secret_label=secret_label,
        workers=args.workers,
        instance_id=args.instance_id,
        resync_seconds=args.resync_seconds,
        notifications_namespace=None
        if args.no_notifications
        else (args.notifications_namespace or _pod_namespace()),
    )
    controller = Controller(api, settings, metrics=metrics, leader=leader)
    health = HealthServer(
        args.metrics_port, metrics.registry, healthy=controller.healthy, ready=controller.ready
    )
    health.start()
    flags = {k: v for k, v in vars(args).items() if v is None or isinstance(v, str | int | float | bool)}
    structlog.get_logger(__name__).info("starting controller", **flags)
    controller.run(stop)
    health.stop()
    return 1 if controller.lost_leadership else 0
