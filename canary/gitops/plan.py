"""What to write to Git for an aborted Rollout: pure, from the abort, the target and the file.

The field in Git must still hold the aborted revision's image (then the stable one is written) or
already hold the stable one (nothing to write). Anything else is a newer commit that changed the
same field: a conflict, and Git is left alone. The commit carries a trailer naming the Rollout and
the aborted revision, by which a retry finds a revert it already made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canary.api.rollout import Rollout
from canary.engine.observed import Observed
from canary.gitops import yamledit
from canary.gitops.image import ImageRef, parse_image
from canary.gitops.target import GitTarget, KustomizeImage, PathStep, ValuePart, YamlPath

TRAILER = "Canary-Revert"

Edit = tuple[tuple[PathStep, ...], str, str, str]
"""(path, value in Git, the aborted revision's value, the stable revision's value)."""


@dataclass(frozen=True)
class Abort:
    """An aborted update: the revision given up, the stable one serving, and why."""

    namespace: str
    name: str
    aborted_hash: str
    aborted_image: ImageRef
    stable_hash: str
    stable_image: ImageRef
    reason: str

    @property
    def rollout(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def trailer(self) -> str:
        return f"{TRAILER}: {self.rollout} {self.aborted_hash}"

    @property
    def branch(self) -> str:
        """The pull request's head branch: one per Rollout and aborted revision."""
        return f"canary/revert-{self.name}-{self.aborted_hash}"


@dataclass(frozen=True)
class Write:
    text: str
    title: str
    message: str


@dataclass(frozen=True)
class AlreadyReverted:
    detail: str


@dataclass(frozen=True)
class Conflict:
    detail: str


Plan = Write | AlreadyReverted | Conflict


class PlanError(ValueError):
    """The abort or the file does not allow a plan; the message names what to fix."""


def abort_of(rollout: Rollout, observed: Observed, container: str | None) -> Abort | None:
    """The abort a Rollout is in, or None when it is not aborted (or has no stable revision)."""
    status = rollout.status
    aborted, stable = status.current_pod_hash, status.stable_rs
    if not status.abort or not aborted or not stable or aborted == stable:
        return None
    aborted_rs, stable_rs = observed.replica_set(aborted), observed.replica_set(stable)
    aborted_template = (
        aborted_rs.template if aborted_rs else (rollout.spec.template or observed.workload_template)
    )
    if stable_rs is None or aborted_template is None:
        return None
    return Abort(
        namespace=rollout.metadata.namespace or "default",
        name=rollout.metadata.name,
        aborted_hash=aborted,
        aborted_image=_image(aborted_template, container),
        stable_hash=stable,
        stable_image=_image(stable_rs.template, container),
        reason=status.message or "aborted",
    )


def plan_revert(abort: Abort, target: GitTarget, text: str) -> Plan:
    edits = _edits(abort, target, text)
    held = [(current, aborted) for _, current, aborted, _ in edits]
    if all(current == stable for _, current, _, stable in edits):
        return AlreadyReverted(
            f"{target.file} {target.field_text} already holds the stable {abort.stable_image}"
        )
    version_current, version_aborted = held[0]
    if version_current != version_aborted:
        return Conflict(
            f"{target.file} {target.field_text} holds '{version_current}', neither the aborted "
            f"'{version_aborted}' nor the stable revision's: a newer commit changed it; Git left as it is"
        )
    for steps, _, _, stable in edits:
        text = yamledit.replace_scalar(text, steps, stable)
    return Write(text=text, title=title(abort), message=commit_message(abort, target))


def title(abort: Abort) -> str:
    return f"Roll back {abort.rollout} to {abort.stable_image}"


def commit_message(abort: Abort, target: GitTarget) -> str:
    return (
        f"{title(abort)}\n\n"
        f"The canary controller aborted revision {abort.aborted_hash} ({abort.aborted_image}) of Rollout "
        f"{abort.rollout}: {abort.reason}\n\n"
        f"This sets {target.field_text} in {target.file} back to the stable revision {abort.stable_hash}, "
        "so the next sync keeps the stable pods instead of releasing the aborted image again.\n\n"
        f"{abort.trailer}\n"
    )


def _edits(abort: Abort, target: GitTarget, text: str) -> list[Edit]:
    """(path, value in Git, the aborted revision's value, the stable revision's value) for each
    scalar to write; the first is the one that pins the version."""
    field = target.field
    if isinstance(field, YamlPath):
        tags = field.part is ValuePart.TAG
        aborted = abort.aborted_image.tag if tags else str(abort.aborted_image)
        stable = abort.stable_image.tag if tags else str(abort.stable_image)
        return [(field.steps, _held(text, field.steps, target), aborted, stable)]
    return _kustomize_edits(abort, target, field, text)


def _kustomize_edits(abort: Abort, target: GitTarget, field: KustomizeImage, text: str) -> list[Edit]:
    index = yamledit.sequence_index(text, ("images",), "name", field.name)
    if index is None:
        raise PlanError(
            f"{target.file}: no images: entry named {field.name}; add it or fix gitops.canary.dev/field"
        )
    entry: tuple[PathStep, ...] = ("images", index)
    key = "digest" if yamledit.read_scalar(text, (*entry, "digest")) is not None else "newTag"
    if not _version(abort.stable_image, key):
        raise PlanError(f"the stable image {abort.stable_image} has no {key} to write to {target.file}")
    edits = [
        (
            (*entry, key),
            _held(text, (*entry, key), target),
            _version(abort.aborted_image, key),
            _version(abort.stable_image, key),
        )
    ]
    new_name = yamledit.read_scalar(text, (*entry, "newName"))
    if new_name is not None:
        edits.append(((*entry, "newName"), new_name, abort.aborted_image.name, abort.stable_image.name))
    return edits


def _held(text: str, steps: tuple[PathStep, ...], target: GitTarget) -> str:
    value = yamledit.read_scalar(text, steps)
    if value is None:
        raise PlanError(
            f"{target.file}: {target.field_text} is not in the file; add it or fix gitops.canary.dev/field"
        )
    return value


def _version(image: ImageRef, key: str) -> str:
    return image.digest if key == "digest" else image.tag


def _image(template: Mapping[str, Any], container: str | None) -> ImageRef:
    containers = (template.get("spec") or {}).get("containers") or []
    chosen = next((c for c in containers if container is None or c.get("name") == container), None)
    if chosen is None or not chosen.get("image"):
        raise PlanError(
            f"no container {container or ''} with an image in the pod template; fix gitops.canary.dev/container"
        )
    return parse_image(str(chosen["image"]))
