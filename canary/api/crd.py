"""CustomResourceDefinitions generated from the pydantic models, so the schema the apiserver enforces
and the one the controller parses can never drift apart (a test regenerates them byte for byte).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from canary.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.base import API_GROUP, API_VERSION
from canary.api.rollout import Rollout

JSONSchema = dict[str, Any]

_DROPPED_KEYWORDS = {"title", "default", "discriminator"}


@dataclass(frozen=True)
class CRDInfo:
    model: type[BaseModel]
    plural: str
    scope: str
    short_names: tuple[str, ...]
    columns: tuple[tuple[str, str, str], ...]
    scale: bool = False


_AGE = ("Age", "date", ".metadata.creationTimestamp")

CRDS: tuple[CRDInfo, ...] = (
    CRDInfo(
        Rollout,
        "rollouts",
        "Namespaced",
        ("cro",),
        (
            ("Desired", "integer", ".spec.replicas"),
            ("Current", "integer", ".status.replicas"),
            ("Available", "integer", ".status.availableReplicas"),
            ("Phase", "string", ".status.phase"),
            ("Step", "integer", ".status.currentStepIndex"),
            ("Weight", "integer", ".status.canary.weights.canary.weight"),
            _AGE,
        ),
        scale=True,
    ),
    CRDInfo(AnalysisTemplate, "analysistemplates", "Namespaced", ("cat",), (_AGE,)),
    CRDInfo(ClusterAnalysisTemplate, "clusteranalysistemplates", "Cluster", ("ccat",), (_AGE,)),
    CRDInfo(
        AnalysisRun,
        "analysisruns",
        "Namespaced",
        ("car",),
        (("Status", "string", ".status.phase"), _AGE),
    ),
)


def structural_schema(model: type[BaseModel]) -> JSONSchema:
    """The model's JSON schema rewritten into a Kubernetes structural schema (no $ref, no null, int-or-string)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions = raw.pop("$defs", {})
    schema: JSONSchema = _rewrite(raw, definitions)
    properties = schema["properties"]
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"type": "object"}
    schema.pop("required", None)
    schema["required"] = ["spec"]
    return schema


def _rewrite(node: Any, definitions: dict[str, JSONSchema]) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _rewrite(definitions[node["$ref"].split("/")[-1]], definitions)
    if "anyOf" in node:
        return _rewrite_any_of(node, definitions)
    if "const" in node:
        return {"type": "string", "enum": [node["const"]]}
    out = {key: _rewrite(value, definitions) for key, value in node.items() if key not in _DROPPED_KEYWORDS}
    if out.get("type") == "object":
        extra = out.get("additionalProperties")
        if extra is True or (extra is None and "properties" not in out):
            out.pop("additionalProperties", None)
            out["x-kubernetes-preserve-unknown-fields"] = True
        elif extra is False:
            out.pop("additionalProperties")
    return out


def _rewrite_any_of(node: JSONSchema, definitions: dict[str, JSONSchema]) -> JSONSchema:
    options = [option for option in node["anyOf"] if option.get("type") != "null"]
    kept = {key: value for key, value in node.items() if key not in _DROPPED_KEYWORDS | {"anyOf"}}
    types = {option.get("type") for option in options}
    if types == {"integer", "string"}:
        return {**kept, "x-kubernetes-int-or-string": True}
    if len(options) != 1:
        raise ValueError(f"cannot express anyOf {node['anyOf']} in a structural schema")
    return {**_rewrite(options[0], definitions), **_rewrite(kept, definitions)}


def custom_resource_definition(info: CRDInfo) -> dict[str, Any]:
    kind = str(info.model.model_fields["kind"].default)
    version: dict[str, Any] = {
        "name": API_VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": structural_schema(info.model)},
        "subresources": {"status": {}},
        "additionalPrinterColumns": [
            {"name": name, "type": type_, "jsonPath": path} for name, type_, path in info.columns
        ],
    }
    if "status" not in info.model.model_fields:
        del version["subresources"]
    elif info.scale:
        version["subresources"]["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{info.plural}.{API_GROUP}"},
        "spec": {
            "group": API_GROUP,
            "scope": info.scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": info.plural,
                "singular": kind.lower(),
                "shortNames": list(info.short_names),
                "categories": ["canary"],
            },
            "versions": [version],
        },
    }


def render_crds() -> dict[str, str]:
    """File name -> YAML text for every CRD, exactly as committed under manifests/crds/."""
    header = "# Generated by `canary crds` from canary/api; do not edit by hand.\n"
    return {
        f"{info.plural}.yaml": header
        + yaml.safe_dump(custom_resource_definition(info), sort_keys=False, width=120)
        for info in CRDS
    }
