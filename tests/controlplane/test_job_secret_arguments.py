"""A job metric with a secret argument on the real control plane: the controller (only the RBAC of
manifests/) creates the Job, the Job controller its Pod, and neither holds the Secret's value, which
reaches the container as an environment variable from the Secret; nor does the AnalysisRun, an Event
or the controller's log."""

from __future__ import annotations

import json
from typing import Any

from canarytier import GROUP, VERSION, ControllerProcess, custom, eventually
from kubernetes import client

SECRET_VALUE = "smoke-T0ken-9f8e7d6c5b4a"
SECRET_NAME = "canary-analysis"  # the one name the cluster-wide install may read (manifests/cluster-wide)
TOKEN_REF = {"secretKeyRef": {"name": SECRET_NAME, "key": "smoke-token"}}


def smoke_run(name: str) -> dict[str, Any]:
    container = {
        "name": "smoke",
        "image": "curlimages/curl:8.8.0",
        "command": ["curl", "-fsS", "-H", "Authorization: Bearer {{args.token}}", "{{args.url}}"],
        "env": [{"name": "TOKEN", "value": "{{args.token}}"}],
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AnalysisRun",
        "metadata": {"name": name},
        "spec": {
            "args": [
                {"name": "token", "valueFrom": TOKEN_REF},
                {"name": "url", "value": "http://checkout.shop/health"},
            ],
            "metrics": [
                {
                    "name": "smoke",
                    "provider": {
                        "job": {
                            "spec": {
                                "backoffLimit": 0,
                                "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
                            }
                        }
                    },
                }
            ],
        },
    }


def test_a_secret_argument_reaches_the_jobs_pod_only_by_reference(
    admin_api: Any, namespace: str, controllers: Any
) -> None:
    core, batch = client.CoreV1Api(admin_api), client.BatchV1Api(admin_api)
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=SECRET_NAME), string_data={"smoke-token": SECRET_VALUE}
        ),
    )
    controller: ControllerProcess = controllers(namespace=namespace)
    controller.start()
    controller.wait_ready()
    custom(admin_api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "analysisruns", smoke_run("smoke")
    )

    job = eventually(
        "the measurement's Job",
        lambda: next(iter(batch.list_namespaced_job(namespace).items), None),
        timeout=60,
        explain=controller.tail,
    )
    pod = eventually(
        "the Job's Pod",
        lambda: next(
            iter(core.list_namespaced_pod(namespace, label_selector=f"job-name={job.metadata.name}").items),
            None,
        ),
        timeout=60,
    )
    (container,) = pod.spec.containers
    assert container.command == [
        "curl",
        "-fsS",
        "-H",
        "Authorization: Bearer $(CANARY_SECRET_TOKEN)",
        "http://checkout.shop/health",
    ]
    env = {var.name: var for var in container.env}
    for name in ("CANARY_SECRET_TOKEN", "TOKEN"):
        ref = env[name].value_from.secret_key_ref
        assert (ref.name, ref.key, env[name].value) == (SECRET_NAME, "smoke-token", None)

    run = custom(admin_api).get_namespaced_custom_object(GROUP, VERSION, namespace, "analysisruns", "smoke")
    events = [e.message or "" for e in core.list_namespaced_event(namespace).items]
    stored = [
        json.dumps(admin_api.sanitize_for_serialization(job)),
        json.dumps(admin_api.sanitize_for_serialization(pod)),
        json.dumps(run),
        *events,
        *controller.log_lines(),
    ]
    assert not [text for text in stored if SECRET_VALUE in text]
