"""Errors the CLI reports as one line with a fix, and exits non-zero on."""

from __future__ import annotations


class CLIError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
