"""The committed CRDs are exactly what the models generate, and their schemas are structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.api import crd

CRD_DIR = Path(__file__).resolve().parents[3] / "manifests/crds"


@pytest.mark.parametrize("name", sorted(crd.render_crds()))
def test_committed_crd_is_regenerated_byte_for_byte(name: str) -> None:
    committed = (CRD_DIR / name).read_text(encoding="utf-8")
    assert committed == crd.render_crds()[name], "run `canary crds` and commit manifests/crds/"


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *[n for value in node.values() for n in _walk(value)]]
    if isinstance(node, list):
        return [n for item in node for n in _walk(item)]
    return []


@pytest.mark.parametrize("name", sorted(crd.render_crds()))
def test_crd_schema_is_structural(name: str) -> None:
    schema = yaml.safe_load(crd.render_crds()[name])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for node in _walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "default" not in node
        if "properties" in node or "items" in node:
            assert node.get("type") in ("object", "array"), node


def test_rollout_crd_has_status_and_scale_subresources() -> None:
    version = yaml.safe_load(crd.render_crds()["rollouts.yaml"])["spec"]["versions"][0]
    assert version["subresources"]["status"] == {}
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"


def test_rollout_crd_prints_phase_step_and_weight_columns() -> None:
    version = yaml.safe_load(crd.render_crds()["rollouts.yaml"])["spec"]["versions"][0]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Phase"] == ".status.phase"
    assert columns["Step"] == ".status.currentStepIndex"
    assert columns["Weight"] == ".status.canary.weights.canary.weight"
    assert columns["Age"] == ".metadata.creationTimestamp"


def test_int_or_string_fields_are_marked() -> None:
    schema = yaml.safe_load(crd.render_crds()["rollouts.yaml"])["spec"]["versions"][0]["schema"]
    canary = schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]
    assert canary["properties"]["maxSurge"] == {"x-kubernetes-int-or-string": True}


def test_crds_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    from canary.cli.main import main

    assert main(["crds", "--dir", str(tmp_path)]) == 0
    assert main(["crds", "--dir", str(tmp_path), "--check"]) == 0
    (tmp_path / "rollouts.yaml").write_text("stale", encoding="utf-8")
    assert main(["crds", "--dir", str(tmp_path), "--check"]) == 1
