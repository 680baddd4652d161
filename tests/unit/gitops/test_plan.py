"""The pure plan: from an aborted Rollout and the file in Git, the edit and the commit message, or
why nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from canary.api.rollout import Rollout
from canary.engine.observed import Observed
from canary.gitops.image import parse_image
from canary.gitops.plan import Abort, AlreadyReverted, Conflict, PlanError, Write, abort_of, plan_revert
from canary.gitops.target import target_from_annotations

ABORT = Abort(
    namespace="default",
    name="web",
    aborted_hash="7c9f8d6b5",
    aborted_image=parse_image("ghcr.io/example/web:2"),
    stable_hash="5d4c3b2a1",
    stable_image=parse_image("ghcr.io/example/web:1"),
    reason="RolloutAborted: metric failed",
)


def target(field: str, **extra: str) -> Any:
    annotations = {
        "gitops.canary.dev/repo": "git://h/r.git",
        "gitops.canary.dev/file": "k.yaml",
        "gitops.canary.dev/field": field,
    }
    return target_from_annotations(annotations | {f"gitops.canary.dev/{k}": v for k, v in extra.items()})


def test_an_aborted_rollout_gives_the_aborted_and_stable_images_of_the_named_container(
    aborted_rollout: Callable[..., Rollout], observed: Observed
) -> None:
    assert abort_of(aborted_rollout(), observed, "app") == ABORT


@pytest.mark.parametrize(
    "status",
    [{"abort": False}, {"current_pod_hash": "5d4c3b2a1"}, {"stable_rs": None}],
    ids=["not-aborted", "aborted-revision-is-stable", "no-stable-revision"],
)
def test_no_abort_to_write_back(
    status: dict[str, Any], aborted_rollout: Callable[..., Rollout], observed: Observed
) -> None:
    assert abort_of(aborted_rollout(**status), observed, "app") is None


def test_a_container_that_is_not_there_names_the_annotation_to_fix(
    aborted_rollout: Callable[..., Rollout], observed: Observed
) -> None:
    with pytest.raises(PlanError, match=r"gitops\.canary\.dev/container"):
        abort_of(aborted_rollout(), observed, "api")


def test_a_kustomize_entry_gets_the_stable_tag_and_a_message_naming_rollout_revision_and_reason() -> None:
    text = "images:\n  - name: ghcr.io/example/web\n    newTag: '2'\n"
    plan = plan_revert(ABORT, target("images[ghcr.io/example/web]"), text)
    assert isinstance(plan, Write)
    assert plan.text == "images:\n  - name: ghcr.io/example/web\n    newTag: '1'\n"
    assert plan.title == "Roll back default/web to ghcr.io/example/web:1"
    assert (
        "revision 7c9f8d6b5 (ghcr.io/example/web:2) of Rollout default/web: RolloutAborted: metric failed"
        in plan.message
    )
    assert plan.message.endswith("\n\nCanary-Revert: default/web 7c9f8d6b5\n")


def test_a_kustomize_entry_pinned_by_digest_gets_the_stable_digest() -> None:
    abort = Abort(
        **(
            ABORT.__dict__
            | {"aborted_image": parse_image("web@sha256:bb"), "stable_image": parse_image("web@sha256:aa")}
        )
    )
    text = "images:\n- name: web\n  digest: sha256:bb\n"
    plan = plan_revert(abort, target("images[web]"), text)
    assert isinstance(plan, Write) and plan.text == "images:\n- name: web\n  digest: sha256:aa\n"


def test_a_field_already_at_the_stable_image_is_already_reverted() -> None:
    assert isinstance(plan_revert(ABORT, target("image"), "image: ghcr.io/example/web:1\n"), AlreadyReverted)


def test_a_field_changed_by_a_newer_commit_is_a_conflict_that_names_what_git_holds() -> None:
    plan = plan_revert(ABORT, target("image.tag", value="tag"), "image:\n  tag: '3'\n")
    assert isinstance(plan, Conflict)
    assert "holds '3'" in plan.detail and "Git left as it is" in plan.detail


def test_an_images_entry_that_is_not_in_the_file_names_the_fix() -> None:
    with pytest.raises(PlanError, match=r"no images: entry named ghcr\.io/example/web"):
        plan_revert(ABORT, target("images[ghcr.io/example/web]"), "images: []\n")
