"""The pod-template hash: a short, stable name for one revision of the pod template.

Computed like Kubernetes' own (FNV-1a, 32 bit, over a canonical serialisation, spelled in the
alphabet Kubernetes uses for generated names, which has no vowels and so spells no words), so the
same template always gets the same hash, on any machine and in any process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from canary.api.rollout import CanaryStep
from canary.engine.actions import PodHash

HASH_LABEL = "rollouts-pod-template-hash"
"""The label that carries the hash on ReplicaSets, pods and Service selectors (Argo's name)."""


def replica_set_name(rollout_name: str, pod_hash: str) -> str:
    """The name of the Rollout's ReplicaSet for one revision: `<rollout>-<pod-template-hash>`."""
    return f"{rollout_name}-{pod_hash}"


_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def _fnv1a_32(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def _without_hash_label(template: Mapping[str, Any]) -> dict[str, Any]:
    # The controller adds the hash label to pods; it must not feed back into the hash.
    metadata = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != HASH_LABEL}
    return {**template, "metadata": {**metadata, "labels": labels}}


def _short_hash(value: Any) -> str:
    return _spelled_hash(json.dumps(value, sort_keys=True, separators=(",", ":")))


@lru_cache(maxsize=1 << 15)
def _spelled_hash(canonical: str) -> str:
    # FNV-1a in Python costs a loop step per byte; every reconcile hashes the same few templates
    # and step lists again, so the result is kept per canonical text (a pure function of it).
    digits = str(_fnv1a_32(canonical.encode()))
    return "".join(_ALPHABET[ord(char) % len(_ALPHABET)] for char in digits)


def pod_template_hash(template: Mapping[str, Any]) -> PodHash:
    """The hash of a pod template; key order and the hash label itself do not change it."""
    return PodHash(_short_hash(_without_hash_label(template)))


def steps_hash(steps: Sequence[CanaryStep]) -> str:
    """The hash of a step list (status.currentStepHash): when it changes mid-rollout, the steps
    restart from the first, as in Argo Rollouts, since the old index means nothing in the new list."""
    return _short_hash([step.to_wire() for step in steps])
