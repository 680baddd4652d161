"""Cluster failures become one line on stderr saying what and how to fix it, a non-zero exit, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from canary.cli import failures
from canary.cli.errors import CLIError
from canary.cli.main import main


def api_error(status: int, body: dict[str, object]) -> ApiException:
    error = ApiException(status=status, reason="x")
    error.body = json.dumps(body)
    return error


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            404,
            {"message": "the server could not find the requested resource"},
            "the canary CRDs are not installed in this cluster (the server could not find the requested "
            "resource); install them with `kubectl apply -f manifests/crds/` (or regenerate them with `canary crds`)",
        ),
        (
            403,
            {"message": 'rollouts.canary.dev "web" is forbidden: User "dev" cannot patch resource'},
            'forbidden by RBAC: rollouts.canary.dev "web" is forbidden: User "dev" cannot patch resource; '
            "ask a cluster admin to bind the canary role from manifests/ to your user or service account",
        ),
        (
            401,
            {},
            "the cluster rejected your credentials (401 Unauthorized); refresh them in your kubeconfig",
        ),
        (404, {"details": {"name": "web", "kind": "rollouts"}}, "rollouts 'web' not found"),
        (500, {"message": "etcd timeout"}, "the Kubernetes API answered 500: etcd timeout"),
    ],
)
def test_api_errors_read_as_what_and_how_to_fix(status: int, body: dict[str, object], expected: str) -> None:
    with pytest.raises(CLIError) as raised, failures.translated():
        raise api_error(status, body)
    assert str(raised.value) == expected


def kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "config"
    path.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: ctx, context: {{cluster: c, user: u, namespace: shop}}}}]
current-context: ctx
""")
    return path


def test_an_unreachable_cluster_is_one_line_naming_the_flags_to_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = kubeconfig(tmp_path, "http://127.0.0.1:1")
    code = main(["get", "rollout", "web", "--kubeconfig", str(config), "--cluster", "kube"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: cannot reach the Kubernetes API (")
    assert "--kubeconfig/--context" in err and err.count("\n") == 1


def test_a_missing_kubeconfig_says_how_to_point_at_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["list", "rollouts", "--kubeconfig", str(tmp_path / "absent"), "--cluster", "kube"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: no usable kubeconfig (")
    assert "pass --kubeconfig or set KUBECONFIG" in err


def test_an_unknown_context_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = kubeconfig(tmp_path, "http://127.0.0.1:1")
    code = main(["list", "rollouts", "--kubeconfig", str(config), "--context", "nope", "--cluster", "kube"])
    assert code == 1
    assert capsys.readouterr().err.startswith("error: no usable kubeconfig (")
