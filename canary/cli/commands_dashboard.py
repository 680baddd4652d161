"""`canary dashboard`: every Rollout on a web page (default port 3100, as Argo Rollouts' dashboard),
live, with promote / abort / retry / undo acting through the user's own kubeconfig.

With `--cluster memory` the page watches the embedded cluster while the demo's releases play on it.
"""

from __future__ import annotations

import argparse
from typing import Any

from canary.cli import commands_demo, output
from canary.cli.arguments import duration_seconds
from canary.cli.session import Session, cluster_kind, connection_flags, simulation_session

DEFAULT_PORT = 3100


def register(verbs: Any) -> None:
    dashboard = verbs.add_parser(
        "dashboard", help="serve a live web page of the Rollouts (port 3100)", parents=[connection_flags()]
    )
    dashboard.add_argument("-p", "--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    dashboard.add_argument(
        "--address", default="127.0.0.1", help="address to listen on (default %(default)s: this machine only)"
    )
    dashboard.add_argument(
        "--root-path", default="", help="serve under this path prefix, e.g. /canary behind a proxy"
    )
    dashboard.add_argument("--read-only", action="store_true", help="show only: no promote/abort/retry/undo")
    dashboard.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace, not only the context's"
    )
    dashboard.add_argument(
        "--refresh",
        type=duration_seconds,
        default=1.0,
        help="seconds between reads of the cluster (default 1s)",
    )
    dashboard.add_argument(
        "--demo-speed",
        type=float,
        default=commands_demo.WATCHABLE_SPEEDUP,
        help="--cluster memory: virtual seconds of the demo per real second (default %(default)s)",
    )
    dashboard.set_defaults(run=run_dashboard)


def run_dashboard(args: argparse.Namespace) -> int:
    # Imported here: the web stack is needed by this verb only.
    import uvicorn

    from canary.dashboard.app import create_app, root_url
    from canary.dashboard.embedded import DemoDriver
    from canary.dashboard.source import Source

    driver = None
    if cluster_kind(args) == "memory":
        output.quiet_library_logs()
        simulation = commands_demo.build_simulation(seed=7)
        simulation.settle()
        session: Session = simulation_session(simulation, args.namespace or commands_demo.NAMESPACE)
        source = Source(session, args.all_namespaces)
        driver = DemoDriver(simulation, source.lock, args.demo_speed)
        driver.start()
    else:
        source = Source(args.connect(), args.all_namespaces)
    app = create_app(source, read_only=args.read_only, root_path=args.root_path, refresh=args.refresh)
    print(f"canary dashboard on http://{args.address}:{args.port}{root_url(args.root_path)}/", flush=True)
    try:
        uvicorn.run(app, host=args.address, port=args.port, log_level="warning")
    finally:
        if driver is not None:
            driver.stop()
    return 0
