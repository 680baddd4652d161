"""What the write-back tests revert: one abort, and targets made from the opt-in annotations."""

from __future__ import annotations

from canary.gitops import plan
from canary.gitops.image import parse_image
from canary.gitops.target import GitTarget, target_from_annotations

ABORT = plan.Abort(
    namespace="shop",
    name="checkout",
    aborted_hash="7c9f8d6b5",
    aborted_image=parse_image("ghcr.io/example/checkout:1.2.0"),
    stable_hash="5d4c3b2a1",
    stable_image=parse_image("ghcr.io/example/checkout:1.1.0"),
    reason="RolloutAborted: Rollout aborted update to revision 2: metric success-rate assessed Failed",
)


def annotated_target(url: str, **annotations: str) -> GitTarget:
    """The target of a Rollout annotated gitops.canary.dev/repo: `url` and gitops.canary.dev/<key>
    for each of `annotations` (file and field at least)."""
    keys = {"repo": url} | annotations
    return target_from_annotations({f"gitops.canary.dev/{k}": v for k, v in keys.items()})
