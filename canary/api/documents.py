"""Reading canary resources from YAML: every document becomes a typed object or a list of problems,
never an exception, so `canary lint` can report all of a file's mistakes at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from canary.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.base import GROUP_VERSION
from canary.api.problems import Problem, problems_from_validation_error
from canary.api.rollout import Rollout

Resource = Rollout | AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun

KINDS: dict[str, type[Resource]] = {
    "Rollout": Rollout,
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
    "AnalysisRun": AnalysisRun,
}

_PORTABLE_API_VERSIONS = {"argoproj.io/v1alpha1"}


@dataclass(frozen=True)
class Document:
    """One YAML document: where it came from, the object if it parsed, and what is wrong with it."""

    source: str
    resource: Resource | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.resource.metadata.name if self.resource else ""


def parse_resource(data: Any, source: str = "<input>") -> Document:
    """Validate one decoded document against the model its `kind` names."""
    if not isinstance(data, dict):
        return Document(
            source, None, [Problem("", "a document must be a mapping with apiVersion, kind and spec")]
        )
    kind, api_version = data.get("kind"), data.get("apiVersion")
    model = KINDS.get(str(kind))
    if model is None:
        supported = ", ".join(KINDS)
        return Document(
            source, None, [Problem("kind", f"'{kind}' is not a canary kind; expected one of {supported}")]
        )
    if api_version != GROUP_VERSION:
        fix = "change it to" if api_version in _PORTABLE_API_VERSIONS else "it must be"
        return Document(
            source,
            None,
            [Problem("apiVersion", f"'{api_version}' is not served here; {fix} {GROUP_VERSION}")],
        )
    try:
        return Document(source, model.model_validate(data))
    except ValidationError as error:
        return Document(source, None, problems_from_validation_error(error, model))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that rejects a key repeated in one mapping: plain YAML keeps the last one silently,
    which would let `replicas: 10` ... `replicas: 3` in one spec lint as valid."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping; keep one", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_text(text: str, source: str) -> list[Document]:
    """Every document in a YAML stream (empty documents are skipped, syntax errors are problems)."""
    try:
        decoded = [doc for doc in yaml.load_all(text, Loader=_UniqueKeyLoader) if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        return [Document(source, None, [Problem("", f"YAML syntax error at {where}{reason}")])]
    if not decoded:
        return [Document(source, None, [Problem("", "the file holds no YAML document")])]
    if len(decoded) == 1:
        return [parse_resource(decoded[0], source)]
    return [parse_resource(doc, f"{source}#{index}") for index, doc in enumerate(decoded)]


def load_file(path: Path) -> list[Document]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [Document(str(path), None, [Problem("", f"cannot read file: {error}")])]
    return load_text(text, str(path))
