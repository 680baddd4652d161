"""Each verb applies the engine's patch through the cluster port and says in one line what changed."""

from __future__ import annotations

import pytest
import yaml

from canary.api.analysis import AnalysisTemplate
from tests.unit.cli.conftest import TEMPLATE, Shop


def test_promote_skips_the_manual_pause(shop: Shop) -> None:
    shop.at_manual_pause()
    code, out, _ = shop.canary("promote", "web")
    assert code == 0
    assert out.startswith("rollout 'web' promoted: ")
    assert "status.currentStepIndex: 1 → 2" in out
    assert shop.rollout().status.current_step_index == 2


def test_promote_full_skips_every_remaining_step(shop: Shop) -> None:
    canary_hash = shop.release("web:2.0")
    shop.run_until(lambda r: r.status.current_step_index == 1)
    code, out, _ = shop.canary("promote", "web", "--full")
    assert code == 0
    assert "status.promoteFull: ∅ → true" in out or "status.promoteFull: false → true" in out
    shop.run_until(lambda r: r.status.stable_rs == canary_hash and r.status.phase == "Healthy", 300)


def test_abort_sends_traffic_back_to_stable(shop: Shop) -> None:
    shop.at_manual_pause()
    code, out, _ = shop.canary("abort", "web")
    assert code == 0
    assert "status.abort" in out
    rollout = shop.run_until(lambda r: r.status.phase == "Degraded", 60)
    assert rollout.status.canary.weights is not None
    assert rollout.status.canary.weights.stable.weight == 100


def test_abort_takes_effect_while_a_template_the_steps_use_is_invalid(shop: Shop) -> None:
    shop.at_manual_pause()
    # The memory cluster holds validated templates only; this one validates but the engine cannot
    # use it (it requires an argument the Rollout never passes): InvalidSpec, as a broken one is.
    needs_service = yaml.safe_load(TEMPLATE)
    needs_service["spec"]["args"].append({"name": "service"})
    shop.sim.cluster.create(AnalysisTemplate.model_validate(needs_service))
    shop.run_until(lambda r: r.status.phase == "Degraded", 60)
    code, out, err = shop.canary("abort", "web")
    assert (code, err) == (0, "")
    assert out.startswith("rollout 'web' aborted")
    rollout = shop.run_until(lambda r: shop.sim.cluster.traffic(r) == {r.status.stable_rs: 1.0}, 60)
    assert rollout.status.canary.weights is not None and rollout.status.canary.weights.canary.weight == 0
    (invalid,) = [c for c in rollout.status.conditions if c.type == "InvalidSpec"]
    assert "template 'error-rate' requires argument 'service'" in invalid.message
    assert rollout.status.phase == "Degraded"


def test_abort_of_a_fully_promoted_rollout_is_a_no_op_that_says_there_is_nothing_to_abort(shop: Shop) -> None:
    before = shop.rollout()
    code, out, err = shop.canary("abort", "web")
    assert (code, out, err) == (0, "rollout 'web' is fully promoted; nothing to abort\n", "")
    assert shop.rollout().metadata.resource_version == before.metadata.resource_version


def test_abort_of_an_aborted_rollout_says_it_is_already_aborted(shop: Shop) -> None:
    shop.at_manual_pause()
    shop.canary("abort", "web")
    code, out, _ = shop.canary("abort", "web")
    assert (code, out) == (0, "rollout 'web' is already aborted; nothing changed\n")


def test_retry_restarts_an_aborted_rollout_at_step_zero(shop: Shop) -> None:
    shop.at_manual_pause()
    shop.canary("abort", "web")
    shop.run_until(lambda r: r.status.phase == "Degraded", 60)
    code, out, _ = shop.canary("retry", "web")
    assert code == 0
    assert "status.abort: true → ∅" in out or "status.abort: true → false" in out
    assert shop.rollout().status.current_step_index == 0


def test_retry_of_a_rollout_that_is_not_aborted_is_refused_with_the_reason(shop: Shop) -> None:
    code, _, err = shop.canary("retry", "web")
    assert code == 1
    assert err == "error: rollout 'web' is not aborted; only an aborted rollout can be retried\n"


def test_pause_then_resume_flip_spec_paused(shop: Shop) -> None:
    paused = shop.canary("pause", "web")
    resumed = shop.canary("resume", "web")
    assert paused == (0, "rollout 'web' paused: spec.paused: ∅ → true\n", "") or paused[1].endswith(
        "spec.paused: false → true\n"
    )
    assert resumed[0] == 0 and "spec.paused: true →" in resumed[1]
    assert shop.rollout().spec.paused is False


def test_a_verb_with_nothing_to_do_says_so(shop: Shop) -> None:
    code, out, _ = shop.canary("resume", "web")
    assert code == 0
    assert out == "rollout 'web' is already resumed; nothing changed\n"


def test_set_image_changes_one_container_and_starts_a_revision(shop: Shop) -> None:
    code, out, _ = shop.canary("set", "image", "web", "web=web:3.0")
    assert code == 0
    assert out == "rollout 'web' updated: spec.template.spec.containers[web].image: web:1.0 → web:3.0\n"
    shop.run_until(lambda r: r.status.current_pod_hash != r.status.stable_rs, 30)


def test_set_image_of_an_unknown_container_names_the_containers(shop: Shop) -> None:
    code, _, err = shop.canary("set", "image", "web", "sidecar=x:1")
    assert code == 1
    assert "container 'sidecar' not found in spec.template; containers: web" in err


def test_set_image_needs_container_equals_image(shop: Shop) -> None:
    with pytest.raises(SystemExit) as exit_info:
        shop.canary("set", "image", "web", "web:3.0")
    assert exit_info.value.code == 2


def test_undo_goes_back_to_the_previous_template(shop: Shop) -> None:
    shop.release("web:2.0")
    shop.run_until(lambda r: r.status.current_step_index == 1)
    code, out, _ = shop.canary("undo", "web")
    assert code == 0
    assert "containers[web].image: web:2.0 → web:1.0" in out


def test_undo_to_an_unknown_revision_lists_the_kept_ones(shop: Shop) -> None:
    code, _, err = shop.canary("undo", "web", "--to-revision", "9")
    assert code == 1
    assert "revision 9 not found; revisions kept: 1" in err


def test_restart_sets_restart_at_to_now(shop: Shop) -> None:
    code, out, _ = shop.canary("restart", "web")
    assert code == 0
    assert out.startswith("rollout 'web' restarted: spec.restartAt: ∅ → 2024-01-01T")
