"""Notifications on the real control plane: a release whose analysis fails is aborted, and each
service the Rollout subscribes to on-rollout-aborted (Slack, Teams, a webhook, email) receives one
message, on loopback receivers, carrying the judge's evidence and the command to act on it. The
controller runs with only the RBAC of manifests/ (the notification ConfigMaps and Secret in
canary-system)."""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Iterator
from typing import Any

from canarytier import (
    CONTROLLER_NAMESPACE,
    DATA,
    ControllerProcess,
    analysis_runs,
    deploy_stable,
    diagnose,
    eventually,
    example_rollout,
    release,
    rollout_events,
    routing_for,
    status_of,
)
from health import HealthEndpoint
from kubernetes import client
from localcluster import LocalControlPlane
from receivers import HttpReceiver, SmtpReceiver, http_receiver, smtp_receiver

NAME = "search"
SUBSCRIBE = "notifications.canary.dev/subscribe.on-rollout-aborted"


@contextlib.contextmanager
def notification_config(admin_api: Any, http: HttpReceiver, smtp: SmtpReceiver) -> Iterator[None]:
    core = client.CoreV1Api(admin_api)
    secret = {
        "slack-url": f"{http.url}/slack/T0/B0/secret",
        "teams-url": f"{http.url}/teams/secret",
        "ops-token": "ops-secret-token",
    }
    core.create_namespaced_secret(
        CONTROLLER_NAMESPACE,
        {
            "metadata": {"name": "canary-notification-secret"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()},
        },
    )
    core.create_namespaced_config_map(
        CONTROLLER_NAMESPACE,
        {
            "metadata": {"name": "canary-notification-configmap"},
            "data": {
                "service.slack": "recipientUrls:\n  releases: $slack-url\n",
                "service.teams": "recipientUrls:\n  releases: $teams-url\n",
                "service.webhook.ops": (
                    f"url: {http.url}/ops\nheaders:\n- name: X-Token\n  value: $ops-token\n"
                ),
                "service.email": f"host: {smtp.host}\nport: {smtp.port}\nfrom: canary@example.com\n",
            },
        },
    )
    try:
        yield
    finally:
        for delete, name in (
            (core.delete_namespaced_config_map, "canary-notification-configmap"),
            (core.delete_namespaced_config_map, "canary-notification-state"),
            (core.delete_namespaced_secret, "canary-notification-secret"),
        ):
            with contextlib.suppress(client.ApiException):
                delete(name, CONTROLLER_NAMESPACE)


def test_an_aborted_release_notifies_each_subscribed_service_once_with_the_evidence(
    admin_api: Any,
    namespace: str,
    control_plane: LocalControlPlane,
    controllers: Any,
    health_endpoint: HealthEndpoint,
) -> None:
    control_plane.apply_manifests(
        [*routing_for(NAME), DATA / "web-analysis-template.yaml"], namespace=namespace
    )
    check = f"bad-{namespace}"
    health_endpoint.verdicts[check] = False
    rollout = example_rollout(NAME, analysis_url=health_endpoint.url(check))
    rollout["metadata"]["annotations"] = {
        f"{SUBSCRIBE}.slack": "releases",
        f"{SUBSCRIBE}.teams": "releases",
        f"{SUBSCRIBE}.ops": "",
        f"{SUBSCRIBE}.email": "sre@example.com",
    }
    with http_receiver() as http, smtp_receiver() as smtp, notification_config(admin_api, http, smtp):
        proc: ControllerProcess = controllers(
            namespace=namespace, extra_args=["--notifications-namespace", CONTROLLER_NAMESPACE]
        )
        proc.start()
        proc.wait_ready()
        explain = lambda: diagnose(admin_api, namespace, [NAME], proc)  # noqa: E731
        deploy_stable(admin_api, namespace, rollout, proc)
        release(admin_api, namespace, NAME, "ghcr.io/example/search:7.2.0-broken")
        eventually(
            "the rollout to abort",
            lambda: status_of(admin_api, namespace, NAME).get("abort"),
            timeout=60,
            explain=explain,
        )
        eventually(
            "one notification per subscribed service",
            lambda: len(http.requests) >= 3 and len(smtp.mails) >= 1,
            timeout=30,
            explain=lambda: f"{[r.path for r in http.requests]}, {len(smtp.mails)} mails\n{proc.tail()}",
        )
        time.sleep(3)  # nothing more comes: no duplicate, not after the later reconciles either
        requests = {r.path.split("/")[1]: r for r in http.requests}
        assert sorted(r.path for r in http.requests) == ["/ops", "/slack/T0/B0/secret", "/teams/secret"]
        assert len(smtp.mails) == 1

    (aborted,) = [e for e in rollout_events(admin_api, namespace, NAME) if e.reason == "RolloutAborted"]
    evidence = aborted.message.split(": ", 1)[1]  # after "Rollout aborted update to revision 2"
    (run,) = analysis_runs(admin_api, namespace, NAME)
    assert run["status"]["phase"] == "Failed" and run["status"]["message"] in evidence
    act = f"kubectl canary retry {NAME} -n {namespace}"
    slack = requests["slack"].body
    assert evidence in slack["text"] and act in slack["text"]
    assert slack["attachments"][0]["title"] == f"Rollout {namespace}/{NAME} aborted"
    teams = requests["teams"].body
    facts = {f["name"]: f["value"] for f in teams["sections"][0]["facts"]}
    assert evidence in facts["Why"] and act in facts["Next"]
    ops = requests["ops"]
    assert ops.headers["X-Token"] == "ops-secret-token"
    assert ops.body["event"]["reason"] == "RolloutAborted" and ops.body["why"] == evidence
    (mail,) = smtp.mails
    assert mail.recipients == ["sre@example.com"] and evidence in mail.body and act in mail.body
    assert mail.message["Subject"].strip() == f"Rollout {namespace}/{NAME} aborted"  # folded: a long name
    metrics = proc.metrics()
    assert (
        'canary_notifications_sent_total{service="email",trigger="on-rollout-aborted",type="email"} 1.0'
        in metrics
    )
    log = "\n".join(proc.log_lines())
    assert "ops-secret-token" not in log and "/teams/secret" not in log
