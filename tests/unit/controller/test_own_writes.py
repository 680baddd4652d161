"""The watch events of the controller's own status writes queue no reconcile; every other one does."""

from __future__ import annotations

from canary.controller.own_writes import OwnWrites
from canary.controller.queue import Key

KEY = Key("ns/web")


def _own_writes() -> tuple[OwnWrites, list[Key]]:
    queued: list[Key] = []
    return OwnWrites(queued.append), queued


def test_the_event_of_the_version_a_status_write_stored_is_own() -> None:
    own, _ = _own_writes()
    own.writing(KEY)
    own.written(KEY, "7")
    assert own.is_own(KEY, "7")


def test_an_event_of_any_later_version_is_not_own() -> None:
    own, _ = _own_writes()
    own.writing(KEY)
    own.written(KEY, "7")
    assert not own.is_own(KEY, "8")


def test_an_event_seen_before_the_write_answered_is_dropped_when_it_was_the_writes_own() -> None:
    own, queued = _own_writes()
    own.writing(KEY)
    assert own.is_own(KEY, "7")  # held
    own.written(KEY, "7")
    assert queued == []


def test_an_event_seen_during_a_write_is_queued_when_it_was_another_change() -> None:
    own, queued = _own_writes()
    own.writing(KEY)
    assert own.is_own(KEY, "6")  # held
    own.written(KEY, "7")
    assert queued == [KEY]


def test_events_held_during_a_failed_write_are_queued() -> None:
    own, queued = _own_writes()
    own.writing(KEY)
    own.is_own(KEY, "6")
    own.written(KEY, None)
    assert queued == [KEY]


def test_a_write_whose_event_must_be_reconciled_leaves_no_version_to_skip() -> None:
    own, _ = _own_writes()
    own.writing(KEY)
    own.written(KEY, "7")
    own.writing(KEY)
    own.written(KEY, None)  # e.g. it set a router weight, which no watch reports
    assert not own.is_own(KEY, "7")


def test_a_forgotten_rollouts_versions_are_not_own() -> None:
    own, _ = _own_writes()
    own.writing(KEY)
    own.written(KEY, "7")
    own.forget(KEY)
    assert not own.is_own(KEY, "7")
