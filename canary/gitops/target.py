"""Where a Rollout's rollback is written in Git: the opt-in annotations, parsed and checked.

A Rollout opts in with `gitops.canary.dev/repo`; the other keys say where its image is held:

    gitops.canary.dev/repo: https://git.example.com/team/deploy.git
    gitops.canary.dev/branch: main                         # default main
    gitops.canary.dev/file: apps/checkout/kustomization.yaml
    gitops.canary.dev/field: images[ghcr.io/example/checkout]   # or a YAML path: image.tag,
                                                           #   spec.template.spec.containers[0].image
    gitops.canary.dev/value: tag                           # for a YAML path: image (default) or tag
    gitops.canary.dev/mode: pull-request                   # or push (default)
    gitops.canary.dev/forge: gitea                         # github, gitlab or gitea; for pull-request
    gitops.canary.dev/api-url: https://git.example.com/api/v1   # default: derived from repo
    gitops.canary.dev/secret: deploy-repo-credentials      # keys token and (optional) username
    gitops.canary.dev/container: app                       # default: the first container
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

PREFIX = "gitops.canary.dev/"
REPO = PREFIX + "repo"
KNOWN = frozenset(
    PREFIX + key
    for key in ("repo", "branch", "file", "field", "value", "mode", "forge", "api-url", "secret", "container")
)

_KUSTOMIZE_IMAGE = re.compile(r"^images\[(?P<name>[^\]]+)\]$")
_SEGMENT = re.compile(r"^(?P<key>[^.\[\]]+)(?P<indexes>(\[\d+\])*)$")


class Mode(StrEnum):
    PUSH = "push"
    PULL_REQUEST = "pull-request"


class ForgeKind(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"


class ValuePart(StrEnum):
    IMAGE = "image"
    TAG = "tag"


PathStep = str | int


@dataclass(frozen=True)
class KustomizeImage:
    """A kustomize `images:` entry, by its `name`."""

    name: str


@dataclass(frozen=True)
class YamlPath:
    """A scalar in the file at `steps` (keys and list indexes), holding the whole image or its tag."""

    steps: tuple[PathStep, ...]
    part: ValuePart = ValuePart.IMAGE


Field = KustomizeImage | YamlPath

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class GitTarget:
    repo: str
    branch: str
    file: str
    field: Field
    field_text: str
    mode: Mode = Mode.PUSH
    forge: ForgeKind | None = None
    api_url: str | None = None
    secret: str | None = None
    container: str | None = None


class TargetError(ValueError):
    """The annotations do not describe a target; the message names each annotation and its fix."""


def opted_in(annotations: Mapping[str, str] | None) -> bool:
    return bool((annotations or {}).get(REPO))


def target_from_annotations(annotations: Mapping[str, str]) -> GitTarget:
    problems = [
        f"{key}: unknown annotation; the keys are {', '.join(sorted(KNOWN))}"
        for key in annotations
        if key.startswith(PREFIX) and key not in KNOWN
    ]

    def get(key: str, default: str = "") -> str:
        return _annotation(annotations, key, default)

    for key in ("repo", "file", "field"):
        if not get(key):
            problems.append(
                f"{PREFIX}{key}: required to write a rollback to Git; set it (see docs/gitops.md)"
            )
    mode = _choice(get("mode", Mode.PUSH.value), Mode, "mode", problems)
    forge = _choice(get("forge"), ForgeKind, "forge", problems) if get("forge") else None
    if mode is Mode.PULL_REQUEST and forge is None:
        problems.append(f"{PREFIX}forge: required with mode pull-request; set github, gitlab or gitea")
    part = _choice(get("value", ValuePart.IMAGE.value), ValuePart, "value", problems)
    field = _field(get("field"), part or ValuePart.IMAGE, problems) if get("field") else None
    if problems or field is None or mode is None:
        raise TargetError("; ".join(problems))
    return GitTarget(
        repo=get("repo"),
        branch=get("branch", "main"),
        file=get("file").lstrip("/"),
        field=field,
        field_text=get("field"),
        mode=mode,
        forge=forge,
        api_url=get("api-url") or None,
        secret=get("secret") or None,
        container=get("container") or None,
    )


def _annotation(annotations: Mapping[str, str], key: str, default: str = "") -> str:
    return (annotations.get(PREFIX + key) or default).strip()


def _choice(value: str, kind: type[E], key: str, problems: list[str]) -> E | None:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        problems.append(f"{PREFIX}{key}: '{value}' is not one of {allowed}; use one of them")
        return None


def _field(text: str, part: ValuePart, problems: list[str]) -> Field | None:
    image = _KUSTOMIZE_IMAGE.match(text)
    if image:
        return KustomizeImage(image["name"])
    steps: list[PathStep] = []
    for segment in text.split("."):
        match = _SEGMENT.match(segment)
        if not match:
            problems.append(
                f"{PREFIX}field: '{text}' is neither images[<name>] nor a YAML path such as "
                "image.tag or spec.template.spec.containers[0].image; fix its segment "
                f"'{segment}'"
            )
            return None
        steps.append(match["key"])
        steps += [int(index) for index in re.findall(r"\[(\d+)\]", match["indexes"])]
    return YamlPath(tuple(steps), part)
