"""A ResourceQuota that caps pods below a Rollout's replicas: the ReplicaSet controller cannot create
the rest, and the Rollout says so (Argo's ReplicaFailure condition, the reason in its status message)
instead of only "2/5 available"; `canary get` shows it on the ReplicaSet."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from canarytier import ROOT, ControllerProcess, diagnose, eventually, example_rollout, status_of
from kubernetes import client

NAME = "search"


def test_a_quota_that_refuses_pods_is_in_the_rollout_status_and_canary_get(
    admin_api: Any, namespace: str, namespace_controller: ControllerProcess, canary_installed: Any
) -> None:
    client.CoreV1Api(admin_api).create_namespaced_resource_quota(
        namespace, {"metadata": {"name": "two-pods"}, "spec": {"hard": {"pods": "2"}}}
    )
    eventually(
        "the quota to be computed",
        lambda: client.CoreV1Api(admin_api).read_namespaced_resource_quota("two-pods", namespace).status.hard,
        timeout=30,
    )
    rollout = example_rollout(NAME, replicas=5)
    client.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", rollout
    )
    status = eventually(
        "the Rollout to report the quota",
        lambda: (
            (s := status_of(admin_api, namespace, NAME))
            and any(c["type"] == "ReplicaFailure" for c in s.get("conditions") or [])
            and s
        ),
        timeout=60,
        explain=lambda: diagnose(admin_api, namespace, [NAME], namespace_controller),
    )
    (failure,) = [c for c in status["conditions"] if c["type"] == "ReplicaFailure"]
    assert (failure["status"], failure["reason"]) == ("True", "FailedCreate")
    assert "exceeded quota: two-pods" in failure["message"]
    assert status["phase"] == "Progressing"
    assert "exceeded quota: two-pods" in status["message"]

    argv = [sys.executable, "-m", "canary.cli.main", "--kubeconfig", str(canary_installed), "-n", namespace]
    shown = subprocess.run(
        [*argv, "get", "rollout", NAME],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert shown.returncode == 0, shown.stderr
    assert "FailedCreate:" in shown.stdout and "exceeded quota: two-pods" in shown.stdout
