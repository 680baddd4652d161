"""Go's text/template as notification templates use it: lookups, if/else if/else, range, with, pipes,
trimming, comments and Argo users' common functions; a template that cannot run says why."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.engine.go_template import TemplateError, render

CONTEXT: dict[str, Any] = {
    "rollout": {
        "metadata": {"name": "web"},
        "status": {
            "phase": "Degraded",
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "False"},
            ],
        },
    },
    "why": "p-value 0.001",
    "empty": "",
    "count": 3,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.rollout.metadata.name}}", "web"),
        ("{{ .missing.path }}", ""),
        ('{{if eq .rollout.status.phase "Degraded"}}aborted{{else}}fine{{end}}', "aborted"),
        ('{{if eq .rollout.status.phase "Healthy" "Degraded"}}settled{{end}}', "settled"),
        ('{{if ne .rollout.status.phase "Degraded"}}a{{else if .why}}b{{else}}c{{end}}', "b"),
        ("{{if .empty}}a{{else if .missing}}b{{else}}c{{end}}", "c"),
        (
            "{{range .rollout.status.conditions}}{{.type}}={{.status}};{{end}}",
            "Available=True;Progressing=False;",
        ),
        ("{{range .missing}}x{{else}}none{{end}}", "none"),
        ("{{range .rollout.status.conditions}}{{$.rollout.metadata.name}} {{end}}", "web web "),
        ("{{with .why}}Why: {{.}}{{end}}{{with .empty}}never{{end}}", "Why: p-value 0.001"),
        ("{{.why | upper}}", "P-VALUE 0.001"),
        ('{{.empty | default "none"}} {{default "none" .why}}', "none p-value 0.001"),
        ('{{len .rollout.status.conditions}} {{index .rollout.status.conditions 1 "type"}}', "2 Progressing"),
        ("{{if and .why (not .empty)}}yes{{end}}{{if or .empty .missing}}no{{end}}", "yes"),
        ("{{if gt .count 2}}many{{end}}", "many"),
        ("a  {{- .count -}}  b", "a3b"),
        ("a{{/* a note */}}b", "ab"),
        (
            "{{.rollout.status.conditions}}",
            '[{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "False"}]',
        ),
    ],
)
def test_renders_as_go_text_template(template: str, expected: str) -> None:
    assert render(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{if .why}}no end", "has no {{end}}"),
        ("{{end}}", "nothing to end"),
        ("{{else}}", "outside an if"),
        ("{{range .x}}{{else if .y}}{{end}}", "only `else if` follows an if"),
        ("{{shout .why}}", "unknown function 'shout'; functions are eq, ne"),
        ("{{.why .count}}", "only a function takes arguments"),
        ("{{if lt .why 3}}x{{end}}", "cannot compare 'p-value 0.001' with '3'"),
        ("{{range .why}}x{{end}}", "needs a list or a map"),
    ],
)
def test_a_template_that_cannot_run_says_why(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace("{", r"\{")):
        render(template, CONTEXT)


def test_printed_values_are_escaped_and_literal_text_is_not() -> None:
    assert (
        render('"{{.why}}"', {"why": 'say "hi"'}, lambda text: text.replace('"', '\\"')) == '"say \\"hi\\""'
    )


@given(st.text().filter(lambda t: "{{" not in t and "}}" not in t))
def test_text_without_actions_is_left_as_written(text: str) -> None:
    assert render(text, CONTEXT) == text
