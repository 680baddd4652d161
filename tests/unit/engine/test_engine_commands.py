"""The user verbs as patches: what each writes, and the errors that say what to do instead."""

import pytest

from canary.api.rollout import RolloutStatus
from canary.engine import commands
from canary.engine.clock import EPOCH
from canary.engine.commands import CommandError, Patch, apply_patch, merge_patch
from canary.sim import scenarios

IN_PROGRESS = RolloutStatus(stable_rs="a", current_pod_hash="b", current_step_index=1)


def rollout(**status: object):  # type: ignore[no-untyped-def]
    base = scenarios.rollout(steps=[{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}])
    return base.model_copy(update={"status": IN_PROGRESS.model_copy(update=status)})


def test_merge_patch_merges_objects_and_deletes_nulls() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": None, "e": 4}, "d": [1]}) == {
        "a": {"c": 2, "e": 4},
        "d": [1],
    }


def test_promote_skips_the_current_step_and_clears_pauses() -> None:
    (patch,) = commands.promote(rollout())
    assert patch.target == "status"
    assert apply_patch(rollout(), patch).status.current_step_index == 2


def test_promote_also_unpauses_a_paused_spec() -> None:
    paused = rollout().model_copy(update={"spec": rollout().spec.model_copy(update={"paused": True})})
    assert [p.target for p in commands.promote(paused)] == ["status", "spec"]


def test_promote_refuses_an_aborted_rollout_and_names_the_way_out() -> None:
    with pytest.raises(CommandError, match="retry"):
        commands.promote(rollout(abort=True))


def test_promote_full_clears_an_abort() -> None:
    promoted = apply_patch(rollout(abort=True), commands.promote_full(rollout(abort=True))[0])
    assert promoted.status.promote_full and not promoted.status.abort


def test_abort_records_when() -> None:
    aborted = apply_patch(rollout(), commands.abort(rollout(), EPOCH)[0])
    assert aborted.status.abort and aborted.status.aborted_at == EPOCH


def test_abort_of_a_fully_promoted_rollout_patches_nothing() -> None:
    assert commands.abort(rollout(stable_rs="b", current_pod_hash="b"), EPOCH) == ()


def test_abort_of_an_aborted_rollout_patches_nothing() -> None:
    assert commands.abort(rollout(abort=True), EPOCH) == ()


def test_retry_needs_an_abort() -> None:
    with pytest.raises(CommandError, match="not aborted"):
        commands.retry(rollout())


def test_status_patches_carry_the_resource_version_they_were_computed_from() -> None:
    versioned = rollout().model_copy(
        update={"metadata": rollout().metadata.model_copy(update={"resource_version": "7"})}
    )
    assert commands.promote(versioned)[0].resource_version == "7"


def test_pause_and_resume_write_spec_paused() -> None:
    assert commands.pause(rollout()) == (Patch("spec", {"paused": True}),)
    assert commands.resume(rollout()) == ()


def test_set_image_changes_one_container() -> None:
    patched = apply_patch(rollout(), commands.set_image(rollout(), "web", "web:9")[0])
    assert patched.spec.template is not None
    assert patched.spec.template["spec"]["containers"][0]["image"] == "web:9"


def test_set_image_names_the_containers_when_one_is_unknown() -> None:
    with pytest.raises(CommandError, match="containers: web"):
        commands.set_image(rollout(), "api", "api:2")


def test_undo_to_an_unknown_revision_lists_the_kept_ones() -> None:
    with pytest.raises(CommandError, match="revisions kept: none"):
        commands.undo(rollout(), [], to_revision=3)


def test_restart_sets_restart_at() -> None:
    assert apply_patch(rollout(), commands.restart(rollout(), EPOCH)[0]).spec.restart_at == EPOCH
