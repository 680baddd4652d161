"""The part of Go's text/template that notification templates use, as Argo Rollouts' users write them:

    {{.rollout.metadata.name}}   {{$.trigger}}   {{.}}            lookups (missing: empty)
    {{if eq .rollout.status.phase "Degraded"}}...{{else if .why}}...{{else}}...{{end}}
    {{range .rollout.status.conditions}}{{.type}}={{.status}} {{else}}none{{end}}
    {{with .why}}Why: {{.}}{{end}}
    {{.why | len}}   {{- trimmed -}}   {{/* a comment */}}

Functions: eq (true if the first argument equals any other), ne, lt, le, gt, ge, not, and, or (Go's:
the first deciding argument), len, index, print, upper, lower, default (sprig's: `default "none" .why`).
Pure: text and values in, text out. A template that does not parse, or names an unknown function,
raises `TemplateError` naming what to change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class TemplateError(ValueError):
    """A template that cannot be parsed or run; the message says where and what to write instead."""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<field>\$?(?:\.[A-Za-z_][\w\-]*)+|\$|\.)
      | (?P<name>[A-Za-z_]\w*)
      | (?P<punct>[()|])
    )""",
    re.VERBOSE,
)


# --- values -----------------------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    """Go's truth: false, 0, nil and empty strings, lists and maps are false."""
    return bool(value) if value is not None else False


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    return str(value)


def lookup(value: Any, path: Sequence[str]) -> Any:
    for part in path:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _compare(check: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(left: Any, right: Any) -> bool:
        try:
            return check(left, right)
        except TypeError:
            raise TemplateError(f"cannot compare {text_of(left)!r} with {text_of(right)!r}") from None

    return compare


def _and(*values: Any) -> Any:
    return next((v for v in values if not truthy(v)), values[-1])


def _or(*values: Any) -> Any:
    return next((v for v in values if truthy(v)), values[-1])


def _index(value: Any, *keys: Any) -> Any:
    return lookup(value, [str(k) for k in keys])


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "eq": lambda first, *others: any(first == other for other in others),
    "ne": lambda left, right: left != right,
    "lt": _compare(lambda left, right: left < right),
    "le": _compare(lambda left, right: left <= right),
    "gt": _compare(lambda left, right: left > right),
    "ge": _compare(lambda left, right: left >= right),
    "not": lambda value: not truthy(value),
    "and": _and,
    "or": _or,
    "len": lambda value: len(value) if value is not None else 0,
    "index": _index,
    "print": lambda *values: "".join(text_of(v) for v in values),
    "upper": lambda value: text_of(value).upper(),
    "lower": lambda value: text_of(value).lower(),
    "default": lambda fallback, value=None: value if truthy(value) else fallback,
}


# --- pipelines --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    kind: str
    """`field`, `literal`, `name` (a function) or `pipe` (parenthesised)."""
    value: Any


Command = tuple[Term, ...]
Pipe = tuple[Command, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise TemplateError(f"cannot read {text[position:].strip()!r} in {{{{{text.strip()}}}}}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_pipe(text: str) -> Pipe:
    tokens = _tokens(text)
    pipe, rest = _pipe(tokens, text)
    if rest:
        raise TemplateError(f"unexpected {rest[0][1]!r} in {{{{{text.strip()}}}}}")
    return pipe


def _pipe(tokens: list[tuple[str, str]], text: str) -> tuple[Pipe, list[tuple[str, str]]]:
    commands: list[Command] = []
    terms: list[Term] = []
    while tokens and tokens[0] != ("punct", ")"):
        kind, value = tokens.pop(0)
        if (kind, value) == ("punct", "|"):
            commands.append(_command(terms, text))
            terms = []
        elif (kind, value) == ("punct", "("):
            inner, tokens = _pipe(tokens, text)
            if not tokens:
                raise TemplateError(f"a '(' is not closed in {{{{{text.strip()}}}}}")
            tokens = tokens[1:]
            terms.append(Term("pipe", inner))
        else:
            terms.append(_term(kind, value))
    commands.append(_command(terms, text))
    return tuple(commands), tokens


def _term(kind: str, value: str) -> Term:
    if kind == "string":
        return Term("literal", json.loads(value) if value.startswith('"') else value[1:-1])
    if kind == "number":
        return Term("literal", float(value) if "." in value else int(value))
    if kind == "name" and value in ("true", "false", "nil"):
        return Term("literal", {"true": True, "false": False, "nil": None}[value])
    if kind == "name" and value not in FUNCTIONS:
        raise TemplateError(f"unknown function {value!r}; functions are {', '.join(FUNCTIONS)}")
    return Term(kind, value)


def _command(terms: list[Term], text: str) -> Command:
    if not terms:
        raise TemplateError(f"an empty command in {{{{{text.strip()}}}}}")
    if terms[0].kind != "name" and len(terms) > 1:
        raise TemplateError(f"{{{{{text.strip()}}}}}: only a function takes arguments")
    return tuple(terms)


def evaluate(pipe: Pipe, dot: Any, root: Any) -> Any:
    value: Any = None
    for index, command in enumerate(pipe):
        args = [_value(term, dot, root) for term in command[1:]]
        if index:
            args.append(value)
        head = command[0]
        if head.kind == "name":
            value = FUNCTIONS[head.value](*args)
        elif args:
            raise TemplateError("a value cannot be piped into anything but a function")
        else:
            value = _value(head, dot, root)
    return value


def _value(term: Term, dot: Any, root: Any) -> Any:
    if term.kind == "literal":
        return term.value
    if term.kind == "pipe":
        return evaluate(term.value, dot, root)
    if term.kind == "name":
        return FUNCTIONS[term.value]()
    base, path = (root, term.value[1:]) if term.value.startswith("$") else (dot, term.value)
    return lookup(base, [p for p in path.split(".") if p])


# --- the template tree ------------------------------------------------------------------------------


@dataclass
class Block:
    """`if`, `range` or `with`: branches of (pipe, body); the last may have no pipe (`else`)."""

    keyword: str
    branches: list[tuple[Pipe | None, list[Any]]] = field(default_factory=list)


def parse(text: str) -> list[Any]:
    """The template as a tree: text, pipes (printed) and blocks."""
    root: list[Any] = []
    stack: list[tuple[Block | None, list[Any]]] = [(None, root)]
    position = 0
    for match in _ACTION.finditer(text):
        literal = text[position : match.start()]
        if match.group(1):
            literal = literal.rstrip()
        stack[-1][1].append(literal)
        position = match.end()
        if match.group(3):
            rest = text[position:]
            position += len(rest) - len(rest.lstrip())
        _action(match.group(2).strip(), stack)
    if len(stack) > 1:
        raise TemplateError(f"{{{{{stack[-1][0].keyword if stack[-1][0] else ''} ...}}}} has no {{{{end}}}}")
    root.append(text[position:])
    return root


def _action(action: str, stack: list[tuple[Block | None, list[Any]]]) -> None:
    word, _, rest = action.partition(" ")
    block = stack[-1][0]
    if action.startswith("/*"):
        return
    if word in ("if", "range", "with"):
        opened = Block(word, [(parse_pipe(rest), [])])
        stack[-1][1].append(opened)
        stack.append((opened, opened.branches[0][1]))
    elif word == "else":
        if block is None or block.branches[-1][0] is None:
            raise TemplateError("{{else}} outside an if, range or with (or after its else)")
        nested = rest.partition(" ")
        condition = parse_pipe(nested[2]) if nested[0] == "if" and block.keyword == "if" else None
        if rest and condition is None:
            raise TemplateError(f"{{{{else {rest}}}}}: only `else if` follows an if")
        block.branches.append((condition, []))
        stack[-1] = (block, block.branches[-1][1])
    elif word == "end":
        if block is None:
            raise TemplateError("{{end}} with nothing to end")
        stack.pop()
    else:
        stack[-1][1].append(parse_pipe(action))


def execute(
    nodes: Sequence[Any], dot: Any, root: Any, escape: Callable[[str], str] = lambda text: text
) -> str:
    """The tree run with `.` bound to `dot` and `$` to `root`; `escape` applies to printed values."""
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, Block):
            out.append(_block(node, dot, root, escape))
        else:
            out.append(escape(text_of(evaluate(node, dot, root))))
    return "".join(out)


def _block(block: Block, dot: Any, root: Any, escape: Callable[[str], str]) -> str:
    (first, body), *others = block.branches
    value = evaluate(first, dot, root) if first is not None else None
    if block.keyword == "range" and truthy(value):
        if not isinstance(value, Mapping | list):
            raise TemplateError(f"range over {text_of(value)!r}: it needs a list or a map")
        items = list(value.values()) if isinstance(value, Mapping) else value
        return "".join(execute(body, item, root, escape) for item in items)
    if block.keyword == "with" and truthy(value):
        return execute(body, value, root, escape)
    if block.keyword == "if" and truthy(value):
        return execute(body, dot, root, escape)
    for condition, other in others:
        if condition is None or truthy(evaluate(condition, dot, root)):
            return execute(other, dot, root, escape)
    return ""


def render(text: str, context: Any, escape: Callable[[str], str] = lambda text: text) -> str:
    """Parse and run `text` with `.` and `$` bound to `context`."""
    return execute(parse(text), context, context, escape)
