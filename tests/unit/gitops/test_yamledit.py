"""One scalar edited in place: every other byte of the file stays."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from canary.gitops.yamledit import YamlEditError, read_scalar, replace_scalar, sequence_index

MANIFESTS = """\
# two documents; the Rollout is the second
apiVersion: v1
kind: Service
metadata: {name: checkout}
---
apiVersion: canary.dev/v1alpha1
kind: Rollout
spec:
  template:
    spec:
      containers:
        - name: app
          image: 'ghcr.io/example/checkout:1.2.0'  # bumped by CI
"""
IMAGE = ("spec", "template", "spec", "containers", 0, "image")


def test_a_manifest_path_in_the_second_document_is_replaced_keeping_quotes_and_comment() -> None:
    edited = replace_scalar(MANIFESTS, IMAGE, "ghcr.io/example/checkout:1.1.0")
    assert edited == MANIFESTS.replace("1.2.0", "1.1.0")


def test_a_tag_that_would_read_back_as_a_number_is_double_quoted() -> None:
    assert replace_scalar("tag: v2\n", ("tag",), "1.10") == 'tag: "1.10"\n'


def test_an_empty_value_gets_the_new_one_after_its_key() -> None:
    edited = replace_scalar("image:\n  tag:\n  pullPolicy: Always\n", ("image", "tag"), "1.1.0")
    assert yaml.safe_load(edited) == {"image": {"tag": "1.1.0", "pullPolicy": "Always"}}


def test_a_missing_path_is_an_error_naming_it() -> None:
    with pytest.raises(YamlEditError, match=r"image\.tag: not in the file"):
        replace_scalar("image: {}\n", ("image", "tag"), "1")


def test_read_scalar_is_none_for_a_missing_path_and_the_value_otherwise() -> None:
    assert read_scalar(MANIFESTS, IMAGE) == "ghcr.io/example/checkout:1.2.0"
    assert read_scalar(MANIFESTS, ("spec", "replicas")) is None


def test_sequence_index_finds_the_kustomize_images_entry_by_name() -> None:
    text = "images:\n  - name: a\n    newTag: '1'\n  - name: b\n    newTag: '2'\n"
    assert sequence_index(text, ("images",), "name", "b") == 1
    assert sequence_index(text, ("images",), "name", "c") is None


@settings(deadline=None)
@given(
    value=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30),
    before=st.sampled_from(["plain", "'single'", '"double"', "1.0"]),
)
def test_any_value_reads_back_as_written_and_the_other_keys_are_unchanged(value: str, before: str) -> None:
    text = f"# comment\nfirst: 1\nimage:\n  tag: {before}  # note\nlast: [a, b]\n"
    edited = replace_scalar(text, ("image", "tag"), value)
    assert yaml.safe_load(edited) == {"first": 1, "image": {"tag": value}, "last": ["a", "b"]}
    assert edited.startswith("# comment\nfirst: 1\nimage:\n  tag: ")
    assert edited.endswith("  # note\nlast: [a, b]\n")
