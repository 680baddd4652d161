"""argparse value types shared by the verbs: bad values fail with a message naming the fix."""

from __future__ import annotations

import argparse

from canary.api.base import parse_duration


def duration_seconds(text: str) -> float:
    """`30s`, `10m`, `1h30m` or plain seconds, as the Rollout spec writes durations."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def container_image(text: str) -> tuple[str, str]:
    """`CONTAINER=IMAGE`, as `kubectl set image` takes it."""
    container, sep, image = text.partition("=")
    if not sep or not container or not image:
        raise argparse.ArgumentTypeError(f"'{text}' is not CONTAINER=IMAGE, e.g. app=ghcr.io/acme/app:1.2.3")
    return container, image


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a revision number (1, 2, ...)")
    return value
