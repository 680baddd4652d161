"""The opt-in annotations: what a Rollout says about where its image lives in Git."""

from __future__ import annotations

import pytest

from canary.gitops.target import (
    ForgeKind,
    KustomizeImage,
    Mode,
    TargetError,
    ValuePart,
    YamlPath,
    opted_in,
    target_from_annotations,
)

BASE = {
    "gitops.canary.dev/repo": "https://git.example.com/team/deploy.git",
    "gitops.canary.dev/file": "apps/checkout/kustomization.yaml",
    "gitops.canary.dev/field": "images[ghcr.io/example/checkout]",
}


def test_a_rollout_without_the_repo_annotation_has_not_opted_in() -> None:
    assert not opted_in({"gitops.canary.dev/file": "x.yaml"})
    assert opted_in(BASE)


def test_defaults_are_push_to_main_without_credentials() -> None:
    target = target_from_annotations(BASE)
    assert (target.branch, target.mode, target.secret, target.forge) == ("main", Mode.PUSH, None, None)
    assert target.field == KustomizeImage("ghcr.io/example/checkout")


def test_a_yaml_path_field_with_list_indexes_and_the_tag_part() -> None:
    target = target_from_annotations(
        BASE
        | {
            "gitops.canary.dev/field": "spec.template.spec.containers[0].image",
            "gitops.canary.dev/value": "tag",
        }
    )
    assert target.field == YamlPath(("spec", "template", "spec", "containers", 0, "image"), ValuePart.TAG)


def test_pull_request_mode_without_a_forge_names_the_annotation_and_the_choices() -> None:
    with pytest.raises(
        TargetError,
        match=r"gitops.canary.dev/forge: required with mode pull-request; set github, gitlab or gitea",
    ):
        target_from_annotations(BASE | {"gitops.canary.dev/mode": "pull-request"})


def test_every_problem_is_reported_at_once_with_its_fix() -> None:
    with pytest.raises(TargetError) as raised:
        target_from_annotations(
            {"gitops.canary.dev/repo": "r", "gitops.canary.dev/mode": "merge", "gitops.canary.dev/brnch": "x"}
        )
    message = str(raised.value)
    assert "gitops.canary.dev/file: required" in message
    assert "gitops.canary.dev/field: required" in message
    assert "gitops.canary.dev/mode: 'merge' is not one of push, pull-request" in message
    assert "gitops.canary.dev/brnch: unknown annotation" in message


def test_a_field_that_is_no_path_names_the_bad_segment() -> None:
    with pytest.raises(TargetError, match=r"fix its segment 'containers\[x\]'"):
        target_from_annotations(BASE | {"gitops.canary.dev/field": "spec.containers[x].image"})


def test_a_forge_and_its_api_url_are_read() -> None:
    target = target_from_annotations(
        BASE
        | {
            "gitops.canary.dev/mode": "pull-request",
            "gitops.canary.dev/forge": "gitlab",
            "gitops.canary.dev/api-url": "https://gl/api/v4",
        }
    )
    assert (target.forge, target.api_url) == (ForgeKind.GITLAB, "https://gl/api/v4")
