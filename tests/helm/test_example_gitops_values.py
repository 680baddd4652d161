"""examples/helm's values.schema.json, checked by the real `helm lint`, and its `gitops` values: each
key becomes the Rollout's gitops.canary.dev/<key> annotation, which the controller accepts."""

from __future__ import annotations

from helmtool import APP_CHART, Helm, set_args

from canary.gitops.target import GitTarget, target_from_annotations

GITOPS = {
    "repo": "https://git.example.com/team/deploy.git",
    "file": "apps/checkout/values.yaml",
    "field": "image.tag",
    "value": "tag",
    "mode": "pull-request",
    "forge": "gitea",
    "secret": "deploy-repo-token",
}


def test_the_default_values_pass_helm_lint(helm: Helm) -> None:
    helm("lint", "--strict", str(APP_CHART))


def test_helm_lint_names_each_value_the_schema_refuses(helm: Helm) -> None:
    done = helm(
        "lint",
        str(APP_CHART),
        *set_args({"replicas": "four", "gitops": {"repo": "r", "mode": "merge"}}),
        check=False,
    )
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "/replicas" in said and "want integer" in said
    assert "/gitops/mode" in said and "'push', 'pull-request'" in said
    assert "'file', 'field' required" in said


def test_gitops_values_become_annotations_the_controller_accepts(helm: Helm) -> None:
    (rollout,) = [
        d for d in helm.template("shop", APP_CHART, *set_args({"gitops": GITOPS})) if d["kind"] == "Rollout"
    ]
    target = target_from_annotations(rollout["metadata"]["annotations"])
    assert isinstance(target, GitTarget)
    assert (target.file, target.field_text, target.secret) == (
        GITOPS["file"],
        "image.tag",
        "deploy-repo-token",
    )


def test_without_gitops_values_the_rollout_has_no_gitops_annotation(helm: Helm) -> None:
    (rollout,) = [d for d in helm.template("shop", APP_CHART) if d["kind"] == "Rollout"]
    assert not any(
        key.startswith("gitops.canary.dev/") for key in rollout["metadata"].get("annotations") or {}
    )
