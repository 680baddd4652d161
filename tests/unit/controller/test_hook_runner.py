"""The hook runner against a real HTTP server on loopback: Flagger's payload POSTed, 2xx passes,
retries, timeouts, each call made once, and a request that never waits on the receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from receivers import HttpReceiver, http_receiver

from canary.api.hooks import Webhook
from canary.controller.hooks.runner import HookRunner, caller
from canary.controller.queue import Key
from canary.engine.actions import RunHook
from canary.engine.observed import HookResult
from canary.sim import scenarios

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CLOSED = (403, "gate closed")
ROLLOUT = scenarios.rollout("web", namespace="shop")
PAYLOAD = {
    "name": "web",
    "namespace": "shop",
    "phase": "Progressing",
    "type": "pre-rollout",
    "checksum": "abc",
    "metadata": {"cmd": "smoke"},
}


def call(receiver: HttpReceiver, key: str = "smoke/abc/-/1", **fields: Any) -> RunHook:
    hook = Webhook.model_validate(
        {"name": "smoke", "type": "pre-rollout", "url": f"{receiver.url}/hook"} | fields
    )
    return RunHook(key, hook, PAYLOAD)


def answer(runner: HookRunner, key: str, within: float = 10.0) -> HookResult:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = runner.results("shop", "web").get(key)
        if found is not None:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no answer for {key}")


def runner(on_answer: Any = None) -> HookRunner:
    return HookRunner(caller(None), lambda: NOW, workers=2, on_answer=on_answer)


def test_a_call_posts_flaggers_payload_and_a_2xx_answer_passes() -> None:
    with http_receiver() as receiver:
        hooks = runner()
        hooks.request(ROLLOUT, [call(receiver)])
        result = answer(hooks, "smoke/abc/-/1")
    assert result == HookResult(True, "HTTP 200 ok", NOW)
    assert [(r.method, r.path, r.body) for r in receiver.requests] == [("POST", "/hook", PAYLOAD)]


def test_a_non_2xx_answer_fails_with_its_status_and_body() -> None:
    with http_receiver() as receiver:
        receiver.default = (403, "gate closed")
        hooks = runner()
        hooks.request(ROLLOUT, [call(receiver)])
        result = answer(hooks, "smoke/abc/-/1")
    assert not result.succeeded
    assert result.message == "HTTP 403 gate closed"


def test_retries_call_again_at_once_before_a_failure_counts() -> None:
    with http_receiver() as receiver:
        receiver.answers = [(500, "busy"), (200, "ok")]
        hooks = runner()
        hooks.request(ROLLOUT, [call(receiver, retries=1)])
        result = answer(hooks, "smoke/abc/-/1")
    assert result.succeeded
    assert len(receiver.requests) == 2


def test_a_receiver_slower_than_the_timeout_fails_the_call() -> None:
    with http_receiver() as receiver:
        receiver.delay = 2.0
        hooks = runner()
        hooks.request(ROLLOUT, [call(receiver, timeout="200ms")])
        result = answer(hooks, "smoke/abc/-/1")
    assert not result.succeeded
    assert result.message == "no answer within 0.2s"


def test_a_request_returns_before_a_slow_receiver_answers() -> None:
    with http_receiver() as receiver:
        receiver.delay = 1.0
        hooks = runner()
        hooks.request(ROLLOUT, [call(receiver)])
        assert hooks.results("shop", "web") == {}
        assert answer(hooks, "smoke/abc/-/1").succeeded


def test_a_call_requested_again_is_made_once() -> None:
    with http_receiver() as receiver:
        hooks = runner()
        for _ in range(3):
            hooks.request(ROLLOUT, [call(receiver)])
        answer(hooks, "smoke/abc/-/1")
        hooks.request(ROLLOUT, [call(receiver)])
        hooks.shut_down()
    assert len(receiver.requests) == 1


def test_an_answer_queues_the_rollout_again() -> None:
    queued: list[Key] = []
    done = threading.Event()

    def on_answer(key: Key) -> None:
        queued.append(key)
        done.set()

    with http_receiver() as receiver:
        hooks = runner(on_answer)
        hooks.request(ROLLOUT, [call(receiver)])
        assert done.wait(10)
    assert queued == ["shop/web"]


def test_event_hooks_are_told_and_leave_no_answer_behind() -> None:
    with http_receiver() as receiver:
        hooks = runner()
        hooks.request(ROLLOUT, [call(receiver, key="feed/event/1/0", type="event")])
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        hooks.shut_down()
    results: Mapping[str, HookResult] = hooks.results("shop", "web")
    assert len(receiver.requests) == 1
    assert results == {}


def test_only_the_last_answers_of_a_gate_polled_again_and_again_are_kept() -> None:
    with http_receiver() as receiver:
        receiver.default = CLOSED
        hooks = runner()
        for attempt in range(1, 6):
            hooks.request(ROLLOUT, [call(receiver, key=f"smoke/abc/-/{attempt}")])
            answer(hooks, f"smoke/abc/-/{attempt}")
    assert sorted(hooks.results("shop", "web")) == ["smoke/abc/-/3", "smoke/abc/-/4", "smoke/abc/-/5"]


def test_a_deleted_rollouts_answers_are_forgotten() -> None:
    with http_receiver() as receiver:
        hooks = runner()
        hooks.request(ROLLOUT, [call(receiver)])
        answer(hooks, "smoke/abc/-/1")
        hooks.forget("shop", "web")
        assert hooks.results("shop", "web") == {}
        hooks.request(ROLLOUT, [call(receiver)])
        answer(hooks, "smoke/abc/-/1")
    assert len(receiver.requests) == 2, "a Rollout created again under the name is asked afresh"


def test_a_call_still_running_when_its_rollout_is_deleted_leaves_no_answer() -> None:
    answered = threading.Event()
    with http_receiver() as receiver:
        receiver.delay = 0.5
        hooks = runner(lambda key: answered.set())
        hooks.request(ROLLOUT, [call(receiver)])
        hooks.forget("shop", "web")
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        hooks.shut_down()
        time.sleep(0.7)
    assert hooks.results("shop", "web") == {}
    assert not answered.is_set()


def test_a_long_job_hook_does_not_hold_up_a_url_gate() -> None:
    release = threading.Event()

    def call_or_wait_for_job(rollout: Any, run: RunHook) -> tuple[bool, str]:
        if run.hook.job is not None:
            release.wait(10)  # the Job runs for a long while
            return True, "Job completed"
        return True, "HTTP 200 ok"

    job = Webhook.model_validate({"name": "smoke-job", "type": "pre-rollout", "job": {"spec": {}}})
    with http_receiver() as receiver:
        hooks = HookRunner(call_or_wait_for_job, lambda: NOW, workers=1)
        hooks.request(ROLLOUT, [RunHook("smoke-job/abc/-/1", job, PAYLOAD), call(receiver)])
        gate = answer(hooks, "smoke/abc/-/1", within=5)
        release.set()
    assert gate.succeeded
