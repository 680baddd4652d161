"""The pure notification planner: triggers from Event reasons, subscriptions from annotations,
services and templates from the ConfigMap and Secret, the message, and the delivery record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from canary.api.rollout import Rollout
from canary.engine import go_template
from canary.engine import notifications as notes
from canary.sim import scenarios

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ABORT = (
    "Rollout aborted update to revision 3: AnalysisRun 'web-abc-2-1' Failed: metric 'error-rate' "
    "Failed: sequential-counts: fail (e_value=43.63, p_value=0.02292)"
)


@dataclass(frozen=True)
class Ev:
    type: str
    reason: str
    message: str
    timestamp: datetime


def rollout(**annotations: str) -> Rollout:
    base = scenarios.rollout("web", namespace="shop")
    metadata = base.metadata.model_copy(
        update={"annotations": annotations, "creation_timestamp": NOW - timedelta(hours=1)}
    )
    return base.model_copy(update={"metadata": metadata})


CONFIG, PROBLEMS = notes.parse_config(
    {
        "service.slack": "token: $slack-token\n",
        "service.teams": "recipientUrls:\n  releases: $teams-url\n",
        "service.webhook.ops": "url: http://ops.example/hook\nheaders:\n- {name: X-Token, value: $hook-token}\n",
        "service.email.mail": "host: smtp.example\nport: 25\nfrom: canary@example.com\n",
    },
    {"slack-token": "xoxb-secret-1", "teams-url": "https://teams.example/secret-2", "hook-token": "tok-3"},
)


def test_trigger_names_are_argos() -> None:
    assert notes.trigger_of("RolloutAborted") == "on-rollout-aborted"
    assert notes.trigger_of("AnalysisRunFailed") == "on-analysis-run-failed"
    assert notes.trigger_of("ScalingReplicaSet") == "on-scaling-replica-set"
    assert all(notes.trigger_of(reason) == trigger for trigger, reason in notes.TRIGGERS.items())


def test_subscriptions_from_annotations() -> None:
    subs, problems = notes.subscriptions(
        {
            "notifications.canary.dev/subscribe.on-rollout-aborted.slack": "releases; oncall",
            "notifications.argoproj.io/subscribe.on-rollout-completed.teams": "releases",
            "notifications.canary.dev/subscribe.on-rollout-exploded.slack": "x",
            "unrelated": "y",
        }
    )
    assert subs == [
        notes.Subscription("on-rollout-aborted", "slack", "oncall"),
        notes.Subscription("on-rollout-aborted", "slack", "releases"),
        notes.Subscription("on-rollout-completed", "teams", "releases"),
    ]
    assert len(problems) == 1 and "unknown trigger 'on-rollout-exploded'" in problems[0]


def test_config_resolves_secrets_and_lists_them_for_redaction() -> None:
    assert PROBLEMS == []
    assert CONFIG.services["slack"].settings["token"] == "xoxb-secret-1"
    assert CONFIG.services["ops"].type == "webhook"
    assert CONFIG.services["ops"].settings["headers"][0]["value"] == "tok-3"
    assert CONFIG.services["mail"].type == "email"
    assert set(CONFIG.secrets) == {"xoxb-secret-1", "https://teams.example/secret-2", "tok-3"}
    assert notes.redact("GET https://teams.example/secret-2 failed", CONFIG.secrets) == "GET *** failed"


def test_config_problems_name_the_key() -> None:
    _, problems = notes.parse_config(
        {
            "service.slack": "token: $missing\n",
            "service.pager": "url: x\n",
            "trigger.on-rollout-aborted": "- send: [nope]\n",
        },
        {},
    )
    assert any(p.startswith("service.slack:") and "missing" in p for p in problems)
    assert any(p.startswith("service.pager:") for p in problems)
    assert any(p == "trigger.on-rollout-aborted: no template.nope" for p in problems)


def test_an_abort_notifies_each_subscribed_service_with_the_evidence_and_the_command() -> None:
    ro = rollout(
        **{
            "notifications.canary.dev/subscribe.on-rollout-aborted.slack": "releases",
            "notifications.canary.dev/subscribe.on-rollout-aborted.teams": "releases",
            "notifications.canary.dev/subscribe.on-rollout-aborted.ops": "",
            "notifications.canary.dev/subscribe.on-rollout-aborted.mail": "sre@example.com",
            "notifications.canary.dev/subscribe.on-rollout-completed.slack": "releases",
        }
    )
    events = [
        Ev("Normal", "RolloutUpdated", "Rollout updated to revision 3", NOW - timedelta(seconds=60)),
        Ev("Warning", "RolloutAborted", ABORT, NOW - timedelta(seconds=10)),
    ]
    plan = notes.plan(ro, events, CONFIG, {}, now=NOW)
    assert sorted(n.service.name for n in plan.notifications) == ["mail", "ops", "slack", "teams"]
    for n in plan.notifications:
        assert n.template == "rollout-aborted"
        text = n.content["message"]
        assert "e_value=43.63" in text  # why: the judge's evidence
        assert "kubectl canary retry web -n shop" in text  # how to act
        assert text.startswith("Rollout aborted update to revision 3")
    slack = next(n for n in plan.notifications if n.service.name == "slack")
    attachment = slack.content["slack"]["attachments"][0]
    assert attachment["title"] == "Rollout shop/web aborted"
    assert attachment["color"] == "#E01E5A"
    assert "e_value=43.63" in attachment["fields"][1]["value"]
    mail = next(n for n in plan.notifications if n.service.name == "mail")
    assert mail.content["email"]["subject"] == "Rollout shop/web aborted"


def test_delivered_events_are_not_planned_again() -> None:
    ro = rollout(**{"notifications.canary.dev/subscribe.on-rollout-step-completed.slack": "releases"})
    same_second = NOW - timedelta(seconds=30)
    events = [
        Ev("Normal", "RolloutStepCompleted", "Rollout step 1/3 completed (setWeight: 20)", same_second),
        Ev("Normal", "RolloutStepCompleted", "Rollout step 2/3 completed (pause)", same_second),
    ]
    first = notes.plan(ro, events, CONFIG, {}, now=NOW)
    assert len(first.notifications) == 2
    record = notes.delivered(first.record, first.notifications[0])
    second = notes.plan(ro, events, CONFIG, record, now=NOW)
    assert [n.event.message for n in second.notifications] == [first.notifications[1].event.message]
    record = notes.delivered(record, second.notifications[0])
    # the record survives being stored as text
    stored = notes.read_record(notes.write_record(record))
    assert notes.plan(ro, events, CONFIG, stored, now=NOW).notifications == ()
    later = [*events, Ev("Normal", "RolloutStepCompleted", "Rollout step 3/3 completed (pause)", NOW)]
    assert len(notes.plan(ro, later, CONFIG, stored, now=NOW).notifications) == 1


def test_a_new_subscription_is_not_sent_old_history() -> None:
    ro = rollout(**{"notifications.canary.dev/subscribe.on-rollout-updated.slack": "releases"})
    events = [
        Ev("Normal", "RolloutUpdated", "Rollout updated to revision 2", NOW - timedelta(minutes=50)),
        Ev("Normal", "RolloutUpdated", "Rollout updated to revision 3", NOW - timedelta(minutes=1)),
    ]
    plan = notes.plan(ro, events, CONFIG, {}, now=NOW)
    assert [n.event.message for n in plan.notifications] == ["Rollout updated to revision 3"]
    assert plan.record["on-rollout-updated.slack.releases"].at == NOW - notes.NEW_SUBSCRIPTION_LOOKBACK


def test_unknown_service_is_a_problem_not_a_crash() -> None:
    ro = rollout(**{"notifications.canary.dev/subscribe.on-rollout-aborted.pagerduty": "x"})
    plan = notes.plan(ro, [Ev("Warning", "RolloutAborted", ABORT, NOW)], CONFIG, {}, now=NOW)
    assert plan.notifications == ()
    assert "'pagerduty'" in plan.problems[0]


def test_analysis_failure_carries_the_runs_message_and_paused_says_how_to_go_on() -> None:
    ro = rollout(
        **{
            "notifications.canary.dev/subscribe.on-analysis-run-failed.slack": "releases",
            "notifications.canary.dev/subscribe.on-rollout-paused.slack": "releases",
        }
    )
    events = [
        Ev("Normal", "RolloutPaused", "Rollout is paused (CanaryPauseStep)", NOW - timedelta(seconds=20)),
        Ev(
            "Warning",
            "AnalysisRunFailed",
            "Step Analysis Run 'web-abc-2-1' Status New: 'Failed' Previous: 'Running'",
            NOW - timedelta(seconds=5),
        ),
    ]
    plan = notes.plan(
        ro, events, CONFIG, {}, now=NOW, evidence={"web-abc-2-1": "metric 'error-rate' Failed: e_value=43.63"}
    )
    paused, failed = plan.notifications
    assert "kubectl canary promote web -n shop" in paused.context["action"]
    assert "pause step" in paused.context["why"]
    assert failed.context["why"] == "metric 'error-rate' Failed: e_value=43.63"


def test_configmap_templates_and_triggers_replace_the_defaults() -> None:
    config, problems = notes.parse_config(
        {
            "service.slack": "token: t0k3n\n",
            "template.my-abort": (
                "message: 'Rollout {{.rollout.metadata.name}} aborted: {{ .why }}'\n"
                'slack:\n  attachments: |\n    [{"title": "{{.rollout.metadata.name}}", "text": "{{.what}}"}]\n'
            ),
            "trigger.on-rollout-aborted": "- send: [my-abort]\n",
        },
        {},
    )
    assert problems == []
    ro = rollout(**{"notifications.canary.dev/subscribe.on-rollout-aborted.slack": "releases"})
    (n,) = notes.plan(ro, [Ev("Warning", "RolloutAborted", ABORT, NOW)], config, {}, now=NOW).notifications
    assert n.template == "my-abort"
    assert n.content["message"].startswith("Rollout web aborted: AnalysisRun 'web-abc-2-1' Failed")
    # a value with quotes lands in JSON text escaped, and the field is parsed
    assert n.content["slack"]["attachments"] == [{"title": "web", "text": ABORT}]


def test_a_rollout_without_subscriptions_plans_nothing() -> None:
    plan = notes.plan(rollout(), [Ev("Warning", "RolloutAborted", ABORT, NOW)], CONFIG, {}, now=NOW)
    assert plan.notifications == () and plan.record == {}


def test_a_configmap_template_branches_and_loops_as_go_templates_do() -> None:
    config, problems = notes.parse_config(
        {
            "service.slack": "token: t0k3n\n",
            "template.my-abort": (
                "message: >-\n"
                '  {{if eq .rollout.status.phase "Degraded"}}rolled back{{else}}still going{{end}}:'
                "{{range .rollout.spec.strategy.canary.steps}}{{with .setWeight}} {{.}}%{{end}}{{end}}\n"
                'slack:\n  attachments: |\n    [{"text": "{{if .why}}{{.why}}{{else}}no reason{{end}}"}]\n'
            ),
            "trigger.on-rollout-aborted": "- send: [my-abort]\n",
        },
        {},
    )
    assert problems == []
    ro = rollout(**{"notifications.canary.dev/subscribe.on-rollout-aborted.slack": "releases"})
    ro = ro.model_copy(update={"status": ro.status.model_copy(update={"phase": "Degraded"})})
    (n,) = notes.plan(ro, [Ev("Warning", "RolloutAborted", ABORT, NOW)], config, {}, now=NOW).notifications
    weights = [s.set_weight for s in ro.spec.strategy.canary.steps if s.set_weight is not None]
    assert weights and n.content["message"] == "rolled back:" + "".join(f" {w}%" for w in weights)
    assert n.content["slack"]["attachments"][0]["text"].startswith("AnalysisRun 'web-abc-2-1' Failed")


def test_a_template_that_does_not_parse_is_a_problem_naming_its_field() -> None:
    _, problems = notes.parse_config(
        {
            "template.broken": "message: '{{if .why}}no end'\n",
            "template.odd": "email: {subject: '{{shout .why}}'}\n",
        },
        {},
    )
    assert problems == [
        "template.broken: message: {{if ...}} has no {{end}}",
        "template.odd: email.subject: unknown function 'shout'; functions are "
        + ", ".join(go_template.FUNCTIONS),
    ]
