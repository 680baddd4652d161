"""Edit one scalar of a YAML file in place: every other byte (comments, order, quoting, other
documents) stays as it was, so the commit's diff is the one line that changed.

The node is found through PyYAML's composed tree, whose marks give the scalar's exact span.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from canary.gitops.target import PathStep


class YamlEditError(ValueError):
    """The file cannot be edited as asked; the message names the path and the fix."""


def read_scalar(text: str, steps: Sequence[PathStep]) -> str | None:
    """The scalar at `steps` in the first document that has it; None when no document has it."""
    node = _locate(text, steps)
    return None if node is None else str(node.value)


def replace_scalar(text: str, steps: Sequence[PathStep], value: str) -> str:
    node = _locate(text, steps)
    if node is None:
        raise YamlEditError(f"{_path(steps)}: not in the file; add it or fix the field")
    if node.style in ("|", ">"):
        raise YamlEditError(f"{_path(steps)}: a block scalar; write the value on one line")
    start, end = node.start_mark.index, node.end_mark.index
    rendered = _render(value, node.style)
    if start == end and text[start - 1 : start] == ":":  # an empty plain value right after its key
        rendered = " " + rendered
    return text[:start] + rendered + text[end:]


def sequence_index(text: str, steps: Sequence[PathStep], key: str, value: str) -> int | None:
    """The index of the mapping in the list at `steps` whose `key` is `value` (say, the kustomize
    `images:` entry named `value`)."""
    for document in _documents(text):
        node = _walk(document, steps)
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                found = _walk(item, (key,))
                if isinstance(found, yaml.ScalarNode) and found.value == value:
                    return index
    return None


def _documents(text: str) -> list[yaml.Node]:
    try:
        return [node for node in yaml.compose_all(text, Loader=yaml.SafeLoader) if node is not None]
    except yaml.YAMLError as error:
        raise YamlEditError(f"not valid YAML ({error}); fix the file in Git") from error


def _locate(text: str, steps: Sequence[PathStep]) -> yaml.ScalarNode | None:
    for document in _documents(text):
        node = _walk(document, steps)
        if isinstance(node, yaml.ScalarNode):
            return node
    return None


def _walk(node: yaml.Node | None, steps: Sequence[PathStep]) -> yaml.Node | None:
    for step in steps:
        if isinstance(step, int) and isinstance(node, yaml.SequenceNode):
            node = node.value[step] if step < len(node.value) else None
        elif isinstance(step, str) and isinstance(node, yaml.MappingNode):
            node = next(
                (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step), None
            )
        else:
            return None
    return node


def _render(value: str, style: str | None) -> str:
    if style == "'" and all(_printable(ch) for ch in value):
        return "'" + value.replace("'", "''") + "'"
    if style in ("'", '"') or not _plain_safe(value):
        return _double_quoted(value)
    return value


def _double_quoted(value: str) -> str:
    """YAML's double-quoted style, escaping what would not read back as itself (JSON's escapes do
    not do: a character outside the BMP becomes a surrogate pair, which YAML reads as two)."""
    return '"' + "".join(_escape(ch) for ch in value) + '"'


def _escape(ch: str) -> str:
    if ch in '\\"':
        return "\\" + ch
    if _printable(ch):
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _printable(ch: str) -> bool:
    # YAML folds these line and paragraph separators, and drops a byte order mark.
    return ch.isprintable() and ch not in "\x85\u2028\u2029\ufeff"


def _plain_safe(value: str) -> bool:
    """Whether `value` written plain reads back as the same string (a tag such as 1.10 would not)."""
    try:
        return (
            bool(value)
            and all(_printable(ch) for ch in value)
            and yaml.safe_load(value) == value
            and "#" not in value
            and ": " not in value
        )
    except yaml.YAMLError:
        return False


def _path(steps: Sequence[PathStep]) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in steps).lstrip(".")
