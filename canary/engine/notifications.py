"""Notifications, decided without I/O: which messages the Events on a Rollout call for, to whom,
saying what.

Argo Rollouts' conventions carry over (its notifications engine, `argo-rollouts-notification-configmap`):

- A trigger is named after the Event reason it fires on, `on-<reason in kebab case>`: the nine in
  `TRIGGERS` (`on-rollout-aborted` fires on each `RolloutAborted` Event, ...).
- A subscription is an annotation on the Rollout, `notifications.canary.dev/subscribe.<trigger>.<service>:
  <recipient>[;<recipient>...]` (Argo's `notifications.argoproj.io/` prefix is read too, so a ported
  Rollout keeps its subscriptions).
- Services and templates come from a ConfigMap (`service.<type>[.<name>]`, `template.<name>`,
  `trigger.<name>`) and a Secret its values name as `$<key>`.

The shell (`canary.controller.notify`) reads the Rollout, its Events, the configuration and what was
already delivered, asks `plan` for what to send, sends it, and records each delivery as a
`Watermark` per subscription: delivery is at-least-once, never resent once recorded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import yaml

from canary.api.rollout import Rollout
from canary.engine import go_template

SUBSCRIBE_PREFIXES = ("notifications.canary.dev/subscribe.", "notifications.argoproj.io/subscribe.")

TRIGGERS: dict[str, str] = {
    "on-rollout-updated": "RolloutUpdated",
    "on-rollout-step-completed": "RolloutStepCompleted",
    "on-rollout-paused": "RolloutPaused",
    "on-rollout-completed": "RolloutCompleted",
    "on-rollout-aborted": "RolloutAborted",
    "on-analysis-run-running": "AnalysisRunRunning",
    "on-analysis-run-failed": "AnalysisRunFailed",
    "on-analysis-run-error": "AnalysisRunError",
    "on-scaling-replica-set": "ScalingReplicaSet",
}
"""Trigger name -> the Event reason it fires on (Argo's built-in triggers)."""

SERVICE_TYPES = ("slack", "teams", "webhook", "email")

NEW_SUBSCRIPTION_LOOKBACK = timedelta(minutes=5)
"""A subscription seen for the first time is sent the Events of the last five minutes (so a Rollout
created with its subscriptions hears about its first release), never the older history."""

CLOCK_SKEW = timedelta(seconds=30)
"""Events are stamped by the controller's clock, creationTimestamp by the apiserver's."""


def trigger_of(reason: str) -> str:
    """`RolloutAborted` -> `on-rollout-aborted`."""
    return "on-" + re.sub(r"(?<!^)(?=[A-Z])", "-", reason).lower()


def default_template(trigger: str) -> str:
    """The built-in template of a trigger: its name without `on-` (`rollout-aborted`), as Argo's."""
    return trigger.removeprefix("on-")


class EventLike(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    reason: str
    message: str
    time: datetime


def event_id(event: EventLike) -> str:
    """Stable across reads (and controller restarts): the Event's time, reason and message."""
    text = f"{event.timestamp.isoformat()}|{event.type}|{event.reason}|{event.message}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- subscriptions ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Subscription:
    trigger: str
    service: str
    recipient: str

    @property
    def key(self) -> str:
        """Where its deliveries are recorded."""
        return f"{self.trigger}.{self.service}.{self.recipient}"


def subscriptions(annotations: Mapping[str, str]) -> tuple[list[Subscription], list[str]]:
    """The Rollout's subscriptions and the problems with its subscription annotations."""
    found: set[Subscription] = set()
    problems: list[str] = []
    for key, value in annotations.items():
        prefix = next((p for p in SUBSCRIBE_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            continue
        trigger, _, service = key[len(prefix) :].partition(".")
        if trigger not in TRIGGERS:
            problems.append(
                f"annotation {key}: unknown trigger {trigger!r}; triggers are {', '.join(TRIGGERS)}"
            )
            continue
        if not service:
            problems.append(f"annotation {key}: no service; write {prefix}{trigger}.<service>")
            continue
        recipients = [r.strip() for r in value.split(";") if r.strip()] or [""]
        found.update(Subscription(trigger, service, recipient) for recipient in recipients)
    return sorted(found), problems


# --- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    name: str
    type: str
    settings: Mapping[str, Any]
    """With every `$key` replaced by the Secret's value."""


@dataclass(frozen=True)
class Config:
    services: Mapping[str, Service] = field(default_factory=dict)
    templates: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    triggers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Trigger -> the templates it sends (default: its built-in template)."""
    secrets: tuple[str, ...] = ()
    """The Secret values the services use: never to appear in a log line, an Event or a status."""

    def templates_for(self, trigger: str) -> tuple[str, ...]:
        return self.triggers.get(trigger) or (default_template(trigger),)

    def template(self, name: str) -> Mapping[str, Any] | None:
        return self.templates.get(name) or DEFAULT_TEMPLATES.get(name)


_SECRET_REF = re.compile(r"\$([A-Za-z0-9_.\-]+)")


def parse_config(data: Mapping[str, str], secret: Mapping[str, str]) -> tuple[Config, list[str]]:
    """The ConfigMap's `data` and the Secret's decoded values as a `Config`, and the problems found
    (each names its key and the fix; a broken entry is left out, the others still work)."""
    services: dict[str, Service] = {}
    templates: dict[str, Mapping[str, Any]] = {}
    triggers: dict[str, tuple[str, ...]] = {}
    used: set[str] = set()
    problems: list[str] = []
    for key, text in sorted(data.items()):
        kind, _, rest = key.partition(".")
        if kind not in ("service", "template", "trigger") or not rest:
            continue
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            problems.append(f"{key}: not YAML ({str(error).splitlines()[0]})")
            continue
        if kind == "service":
            service_type, _, name = rest.partition(".")
            if service_type not in SERVICE_TYPES:
                problems.append(
                    f"{key}: unknown service type {service_type!r}; types are {', '.join(SERVICE_TYPES)}"
                )
                continue
            if not isinstance(value, Mapping):
                problems.append(f"{key}: expected a mapping of settings")
                continue
            resolved, missing = _resolve_secrets(value, secret, used)
            if missing:
                problems.append(f"{key}: the notification Secret has no key {', '.join(sorted(missing))}")
                continue
            services[name or service_type] = Service(name or service_type, service_type, resolved)
        elif kind == "template":
            if not isinstance(value, Mapping):
                problems.append(f"{key}: expected a mapping (message, slack, teams, email, webhook)")
                continue
            broken = template_problem(value)
            if broken:
                problems.append(f"{key}: {broken}")
                continue
            templates[rest] = value
        else:
            if rest not in TRIGGERS:
                problems.append(f"{key}: unknown trigger {rest!r}; triggers are {', '.join(TRIGGERS)}")
                continue
            sends = _trigger_sends(value)
            if sends is None:
                problems.append(f"{key}: expected a list of {{send: [<template>, ...]}}")
                continue
            triggers[rest] = sends
    for trigger, names in triggers.items():
        for name in names:
            if name not in templates and name not in DEFAULT_TEMPLATES:
                problems.append(f"trigger.{trigger}: no template.{name}")
    return Config(
        services, templates, triggers, tuple(sorted(secret[k] for k in used if secret[k]))
    ), problems


def _trigger_sends(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    sends: list[str] = []
    for condition in value:
        if not isinstance(condition, Mapping) or not isinstance(condition.get("send"), list):
            return None
        sends.extend(str(name) for name in condition["send"])
    return tuple(sends)


def _resolve_secrets(value: Any, secret: Mapping[str, str], used: set[str]) -> tuple[Any, set[str]]:
    missing: set[str] = set()

    def resolve(item: Any) -> Any:
        if isinstance(item, str):

            def replace_ref(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in secret:
                    missing.add(name)
                    return match.group(0)
                used.add(name)
                return secret[name]

            return _SECRET_REF.sub(replace_ref, item)
        if isinstance(item, Mapping):
            return {str(k): resolve(v) for k, v in item.items()}
        if isinstance(item, list):
            return [resolve(v) for v in item]
        return item

    return resolve(value), missing


# --- what was delivered ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Watermark:
    """A subscription has been sent every Event up to `at`, and those at `at` whose ids are in `ids`."""

    at: datetime
    ids: frozenset[str] = frozenset()

    def covers(self, event: Event) -> bool:
        return event.time < self.at or (event.time == self.at and event.id in self.ids)

    def past(self, event: Event) -> Watermark:
        if event.time == self.at:
            return Watermark(self.at, self.ids | {event.id})
        return Watermark(event.time, frozenset({event.id})) if event.time > self.at else self

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "ids": sorted(self.ids)}

    @staticmethod
    def from_json(value: Mapping[str, Any]) -> Watermark:
        return Watermark(datetime.fromisoformat(value["at"]), frozenset(value.get("ids") or ()))


def read_record(text: str | None) -> dict[str, Watermark]:
    """A Rollout's delivery record as stored (JSON: subscription key -> watermark); {} if unreadable."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
        return {key: Watermark.from_json(value) for key, value in raw.items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def write_record(record: Mapping[str, Watermark]) -> str:
    return json.dumps({key: mark.to_json() for key, mark in sorted(record.items())}, sort_keys=True)


# --- the plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    namespace: str
    rollout: str
    subscription: Subscription
    service: Service
    event: Event
    template: str
    content: Mapping[str, Any]
    """The rendered template: `message`, and per service type `slack`, `teams`, `email`, `webhook`."""
    context: Mapping[str, Any]
    """What the template was rendered with (`title`, `what`, `why`, `action`, `color`, ...)."""

    @property
    def id(self) -> str:
        s = self.subscription
        return f"{self.namespace}/{self.rollout}/{self.event.id}/{s.trigger}/{s.service}/{s.recipient}/{self.template}"


@dataclass(frozen=True)
class Plan:
    notifications: tuple[Notification, ...]
    record: Mapping[str, Watermark]
    """The record to store before sending: new subscriptions start at their floor, gone ones are dropped."""
    problems: tuple[str, ...] = ()


def plan(
    rollout: Rollout,
    events: Sequence[EventLike],
    config: Config,
    delivered: Mapping[str, Watermark],
    *,
    now: datetime,
    evidence: Mapping[str, str] | None = None,
) -> Plan:
    """The notifications the Rollout's `events` call for that `delivered` does not cover, oldest
    first. `evidence`: AnalysisRun name -> its status message (the judge's verdict and numbers)."""
    subs, problems = subscriptions(rollout.metadata.annotations)
    created = rollout.metadata.creation_timestamp
    floor = now - NEW_SUBSCRIPTION_LOOKBACK
    if created is not None and created - CLOCK_SKEW > floor:
        floor = created - CLOCK_SKEW
    record = {s.key: delivered.get(s.key) or Watermark(floor) for s in subs}
    ordered = sorted(
        (Event(event_id(e), e.type, e.reason, e.message, e.timestamp) for e in events),
        key=lambda e: (e.time, _rank(e.reason)),
    )
    notifications: list[Notification] = []
    reported: set[str] = set()
    for sub in subs:
        service = config.services.get(sub.service)
        if service is None:
            if sub.service not in reported:
                reported.add(sub.service)
                problems.append(
                    f"subscription to service {sub.service!r}: no service.<type>.{sub.service} "
                    f"(or service.{sub.service}) in the notification ConfigMap"
                )
            continue
        mark = record[sub.key]
        for event in ordered:
            if event.reason != TRIGGERS[sub.trigger] or mark.covers(event):
                continue
            for name in config.templates_for(sub.trigger):
                template = config.template(name)
                if template is None:
                    continue
                context = message_context(rollout, event, sub, service, evidence or {})
                try:
                    content = render(template, context)
                except go_template.TemplateError as error:
                    problems.append(f"template.{name}: {error}")
                    continue
                notifications.append(
                    Notification(
                        rollout.metadata.namespace or "default",
                        rollout.metadata.name,
                        sub,
                        service,
                        event,
                        name,
                        content,
                        context,
                    )
                )
    notifications.sort(key=lambda n: (n.event.time, _rank(n.event.reason), n.subscription))
    return Plan(tuple(notifications), record, tuple(problems))


LIFECYCLE = (
    "RolloutUpdated",
    "ScalingReplicaSet",
    "RolloutStepCompleted",
    "AnalysisRunRunning",
    "AnalysisRunFailed",
    "AnalysisRunError",
    "RolloutPaused",
    "RolloutAborted",
    "RolloutCompleted",
)
"""The order of Events stamped in the same second (Event times are whole seconds): a release's own."""


def _rank(reason: str) -> int:
    return LIFECYCLE.index(reason) if reason in LIFECYCLE else len(LIFECYCLE)


def delivered(record: Mapping[str, Watermark], notification: Notification) -> dict[str, Watermark]:
    """`record` once `notification` is delivered."""
    key = notification.subscription.key
    updated = dict(record)
    updated[key] = (record.get(key) or Watermark(notification.event.time)).past(notification.event)
    return updated


# --- what a message says -----------------------------------------------------------------------------

_HEADLINES = {
    "on-rollout-updated": "rollout updated",
    "on-rollout-step-completed": "step completed",
    "on-rollout-paused": "paused",
    "on-rollout-completed": "completed",
    "on-rollout-aborted": "aborted",
    "on-analysis-run-running": "analysis running",
    "on-analysis-run-failed": "analysis failed",
    "on-analysis-run-error": "analysis error",
    "on-scaling-replica-set": "scaled a ReplicaSet",
}

_COLORS = {
    "on-rollout-aborted": "#E01E5A",
    "on-analysis-run-failed": "#E01E5A",
    "on-analysis-run-error": "#ECB22E",
    "on-rollout-paused": "#ECB22E",
    "on-rollout-completed": "#18BE52",
}

_PAUSE_REASONS = {
    "CanaryPauseStep": "a pause step holds the release until its duration ends or someone promotes it",
    "BlueGreenPause": "the new revision is behind the preview Service, waiting for promotion",
    "InconclusiveAnalysisRun": "the analysis could not decide; a person has to",
}

_RUN_NAME = re.compile(r"Analysis Run '([^']+)'")
_ABORTED = re.compile(r"^Rollout aborted update to revision \d+: ")
_COMPLETED = re.compile(r"^Rollout completed update to revision \d+ \([^)]*\): ")
_PAUSED = re.compile(r"^Rollout is paused \((\w+)\)")


def message_context(
    rollout: Rollout, event: Event, sub: Subscription, service: Service, evidence: Mapping[str, str]
) -> dict[str, Any]:
    """What a template can look up: `.rollout` (the object), `.event`, `.title`, `.what`, `.why`,
    `.action`, `.text` (the three as lines), `.color`, `.trigger`, `.serviceType`, `.recipient`."""
    name, namespace = rollout.metadata.name, rollout.metadata.namespace or "default"
    why = _why(rollout, event, evidence)
    action = _action(sub.trigger, name, namespace)
    title = f"Rollout {namespace}/{name} {_HEADLINES[sub.trigger]}"
    lines = [event.message]
    if why:
        lines.append(f"Why: {why}")
    lines.append(f"Next: {action}")
    return {
        "rollout": rollout.to_wire(),
        "event": {
            "reason": event.reason,
            "message": event.message,
            "type": event.type,
            "time": event.time.isoformat(),
            "id": event.id,
        },
        "title": title,
        "what": event.message,
        "why": why,
        "action": action,
        "text": "\n".join(lines),
        "color": _COLORS.get(sub.trigger, "#0DADEA"),
        "trigger": sub.trigger,
        "serviceType": service.type,
        "recipient": sub.recipient,
    }


def _why(rollout: Rollout, event: Event, evidence: Mapping[str, str]) -> str:
    if event.reason == "RolloutAborted":
        return (
            _ABORTED.sub("", event.message) if _ABORTED.match(event.message) else rollout.status.message or ""
        )
    if event.reason == "RolloutCompleted":
        return _COMPLETED.sub("", event.message) if _COMPLETED.match(event.message) else ""
    if event.reason == "RolloutPaused":
        paused = _PAUSED.match(event.message)
        return _PAUSE_REASONS.get(paused.group(1), paused.group(1)) if paused else ""
    run = _RUN_NAME.search(event.message)
    if event.reason.startswith("AnalysisRun") and run:
        return evidence.get(run.group(1), "")
    return ""


def _action(trigger: str, name: str, namespace: str) -> str:
    where = f"{name} -n {namespace}"
    match trigger:
        case "on-rollout-aborted":
            return (
                f"fix the release, then `kubectl canary retry {where}` to run the steps again "
                f"(or `kubectl canary undo {where}` to go back); details: `kubectl canary get rollout {where}`"
            )
        case "on-rollout-paused":
            return f"`kubectl canary promote {where}` to go on, `kubectl canary abort {where}` to stop"
        case "on-analysis-run-failed" | "on-analysis-run-error":
            return f"`kubectl canary get rollout {where}` shows the analysis; `kubectl canary abort {where}` stops the release"
        case _:
            return f"`kubectl canary get rollout {where} --watch` follows it"


# --- templates ---------------------------------------------------------------------------------------

DEFAULT_TEMPLATES: dict[str, Mapping[str, Any]] = {
    default_template(trigger): {
        "message": "{{.text}}",
        "email": {"subject": "{{.title}}"},
        "slack": {
            "attachments": [
                {
                    "title": "{{.title}}",
                    "color": "{{.color}}",
                    "text": "{{.text}}",
                    "fields": [
                        {"title": "What", "value": "{{.what}}", "short": False},
                        {"title": "Why", "value": "{{.why}}", "short": False},
                        {"title": "Next", "value": "{{.action}}", "short": False},
                    ],
                }
            ]
        },
        "teams": {
            "title": "{{.title}}",
            "themeColor": "{{.color}}",
            "facts": [
                {"name": "What", "value": "{{.what}}"},
                {"name": "Why", "value": "{{.why}}"},
                {"name": "Next", "value": "{{.action}}"},
            ],
        },
    }
    for trigger in TRIGGERS
}
"""Argo's built-in template names (`rollout-aborted`, ...); a `template.<name>` in the ConfigMap replaces one."""

JSON_FIELDS = {
    ("slack", "attachments"),
    ("slack", "blocks"),
    ("teams", "sections"),
    ("teams", "facts"),
    ("teams", "potentialAction"),
}
"""Template fields Argo users write as JSON text: values are substituted JSON-escaped, then parsed."""


def render(template: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Every string of the template run as a Go template against `context` (`substitute`); a
    lookup of something missing prints nothing. TemplateError when one does not parse or run."""
    return {str(k): _render(v, context, (str(k),)) for k, v in template.items()}


def _render(value: Any, context: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        if path[-2:] in JSON_FIELDS:
            text = substitute(value, context, json_escape=True)
            try:
                return json.loads(text)
            except ValueError:
                return text
        json_body = path[:1] == ("webhook",) and path[-1:] == ("body",) and _looks_like_json(value)
        return substitute(value, context, json_escape=json_body)
    if isinstance(value, Mapping):
        return {str(k): _render(v, context, (*path, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context, path) for v in value]
    return value


def template_problem(template: Mapping[str, Any]) -> str:
    """The first string of the template that is not a Go template canary runs, as `field: why`."""
    for path, text in _strings(template, ()):
        try:
            go_template.parse(text)
        except go_template.TemplateError as error:
            return f"{'.'.join(path)}: {error}"
    return ""


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _strings(inner, (*path, str(key)))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _strings(inner, (*path, str(index)))


def _looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def substitute(text: str, context: Mapping[str, Any], *, json_escape: bool = False) -> str:
    """`text` run as a Go template (`canary.engine.go_template`: lookups, if/else, range, with and
    Argo users' common functions) against `context`; `json_escape` escapes each printed value for a
    JSON string. TemplateError when it does not parse or run."""
    escape = (lambda value: json.dumps(value)[1:-1]) if json_escape else (lambda value: value)
    return go_template.render(text, context, escape)


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret value replaced by `***` (longest first, so none leaks in part)."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
