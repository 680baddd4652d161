"""Issue #13, "an abort must take effect whatever else is broken", on the real control plane: a
release paused at 50% behind a Gateway API HTTPRoute, the AnalysisTemplate its steps use edited into
CEL that does not compile (the CRD schema admits any string), then `canary abort`."""

from __future__ import annotations

from typing import Any

from canarytier import (
    GROUP,
    HASH_LABEL,
    VERSION,
    ControllerProcess,
    custom,
    diagnose,
    eventually,
    rollout_events,
    route_weights,
    service_selector,
    status_of,
)
from localcluster import LocalControlPlane
from test_cli_verbs import NAME, canary_cli, paused_canary

TEMPLATE = "web-health"
STEPS = [
    {"setWeight": 50},
    {"pause": {}},
    {
        "analysis": {
            "templates": [{"templateName": TEMPLATE}],
            "args": [{"name": "url", "value": "http://127.0.0.1:9/never-measured"}],
        }
    },
]


def break_success_condition(api: Any, namespace: str) -> None:
    """`kubectl edit` of the template: its successCondition becomes `result == = true`."""
    template = custom(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "analysistemplates", TEMPLATE
    )
    template["spec"]["metrics"][0]["successCondition"] = "result == = true"
    custom(api).replace_namespaced_custom_object(
        GROUP, VERSION, namespace, "analysistemplates", TEMPLATE, template
    )


def test_abort_takes_effect_and_the_broken_template_is_reported_while_its_condition_does_not_compile(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    stable, _ = paused_canary(admin_api, namespace, namespace_controller, steps=STEPS)
    assert route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 50, f"{NAME}-canary": 50}
    break_success_condition(admin_api, namespace)

    aborted = canary_cli(control_plane.kubeconfig, namespace, "abort", NAME)
    assert (aborted.returncode, aborted.stderr) == (0, ""), aborted.stdout + aborted.stderr
    assert aborted.stdout.startswith(f"rollout '{NAME}' aborted")

    eventually(
        "traffic back on stable, the canary Service on stable pods, the rollout Degraded",
        lambda: (
            route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 100, f"{NAME}-canary": 0}
            and service_selector(admin_api, namespace, f"{NAME}-canary").get(HASH_LABEL) == stable
            and status_of(admin_api, namespace, NAME).get("phase") == "Degraded"
        ),
        timeout=30,
        explain=lambda: diagnose(admin_api, namespace, [NAME], namespace_controller),
    )
    status = status_of(admin_api, namespace, NAME)
    assert status["abort"] is True
    (invalid,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    assert (
        f"AnalysisTemplate '{TEMPLATE}' is invalid: spec.metrics[0].successCondition: " in invalid["message"]
    )
    assert "'result == = true' is not a valid CEL expression" in invalid["message"]
    assert "fix the AnalysisTemplate and apply it again" in invalid["message"]
    warnings = [e for e in rollout_events(admin_api, namespace, NAME) if e.type == "Warning"]
    assert "InvalidSpec" in [e.reason for e in warnings], diagnose(admin_api, namespace, [NAME])

    shown = canary_cli(control_plane.kubeconfig, namespace, "status", NAME, "--watch=false")
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert shown.stdout.startswith("Degraded - "), shown.stdout
