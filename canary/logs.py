"""Logging, configured in this one place for every entry point: structlog key-value events (JSON
lines in the controller, readable lines on a terminal), with the standard library's loggers
(kubernetes, urllib3) routed through the same renderer. Everything goes to stderr, so a command's
own output on stdout stays machine-readable.
"""

from __future__ import annotations

import logging
import sys
import threading

import structlog

_WRITE_LOCK = threading.Lock()
"""One record at a time on stderr, from structlog and stdlib loggers alike."""


def write_record(record: str) -> None:
    """Write one log record as one line with a single write call, under a process-wide lock, so
    records from different threads never share a line (`print` writes the text and the newline
    separately, and another thread's record could land between them)."""
    line = record + "\n"
    with _WRITE_LOCK:
        stream = sys.stderr
        stream.write(line)
        stream.flush()


class _StderrLogger:
    """Writes to whatever `sys.stderr` is at the time of the call (not at configuration time), so
    a replaced or captured stderr never leaves loggers writing to a closed file."""

    def msg(self, message: str) -> None:
        write_record(message)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_record(self.format(record))
        except Exception:  # the logging module's contract: report, never raise from emit
            self.handleError(record)


def configure(level: str = "info", *, json: bool = True) -> None:
    """Route structlog and stdlib logging to stderr at `level`; safe to call again to reconfigure."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"log level '{level}' is not one of debug, info, warning, error")
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,  # reconfiguring (e.g. a quieter CLI) must reach existing loggers
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))
    # urllib3 warns on each connection retry; callers report the failure that matters themselves.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
