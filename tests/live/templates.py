"""The analyses the live tier runs: the ready-made templates of analysis-templates/, applied as they
are, on Traefik's counters in Prometheus, with their interval args cut to seconds.

- ``sequential``: traefik-error-rate-sequential, the sequential-counts judge comparing the canary's
  5xx share with stable's;
- ``threshold``: traefik-success-rate, what Argo Rollouts' docs recommend (the canary's success rate
  >= 95% in every interval, failureLimit 3);
- ``latency``: traefik-latency-tail-sequential, the sequential-counts judge comparing the canary's share
  of responses slower than ``SLOW_LE`` (a bucket bound of Traefik's request-duration histogram,
  stack.LATENCY_BUCKETS, near the p99 of apps.SLOW) with stable's.

Traefik names each arm by its load-balanced Service: ``<namespace>-<service>-<port name>-<port>
@kubernetesgateway`` for an HTTPRoute's backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
JUDGES = {
    "sequential": "traefik-error-rate-sequential",
    "threshold": "traefik-success-rate",
    "latency": "traefik-latency-tail-sequential",
}
SLOW_LE = "0.075"


def template(judge: str) -> dict[str, Any]:
    with (ROOT / "analysis-templates" / f"{JUDGES[judge]}.yaml").open() as f:
        return dict(yaml.safe_load(f))


def gateway_service_label(namespace: str, service: str) -> str:
    return f"{namespace}-{service}-http-80@kubernetesgateway"


def analysis_step(
    judge: str, namespace: str, app: str, prometheus: str, *, interval_s: int, count: int
) -> dict[str, Any]:
    """A Rollout step running the judge's template on the app's two arms (only the args it declares)."""
    values = {
        "stable-service": gateway_service_label(namespace, f"{app}-stable"),
        "canary-service": gateway_service_label(namespace, f"{app}-canary"),
        "prometheus-address": prometheus,
        "interval": f"{interval_s}s",
        "count": str(count),
        "slow-le": SLOW_LE,
    }
    declared = {arg["name"] for arg in template(judge)["spec"]["args"]}
    args = [{"name": name, "value": value} for name, value in values.items() if name in declared]
    return {"analysis": {"templates": [{"templateName": JUDGES[judge]}], "args": args}}
