"""structlog configuration shared by both command-line programs.

JSON lines when stderr is not a terminal (production, CI, journald), a readable console
format when it is. :func:`crypto.redact.redact_event` runs last before rendering, so
every renderer - and every exception rendered into the event - sees scrubbed data.
The caller passes the timestamp processor: crypto/ itself never reads the clock.

Libraries log through stdlib :mod:`logging`, and their messages quote whatever they
were handed: python-telegram-bot logs a whole update batch ("Error while parsing
updates! Received data was ...") with a patient's words and name in it. Scrubbing by
shape cannot recognise free text, so a library's record is reduced to its logger name,
level and exception type, and re-emitted as a structlog event through the same
processors and renderer (one format in the journal). Only loggers on the caller's
reviewed allow-list keep their message, and that still scrubbed by shape. Tracebacks
of library records are never written: exception messages quote values too.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO, cast

import structlog

from medcrypt.crypto.redact import redact_event, scrub_text


def _scrub_exception(
    _logger: object, _method: str, event_dict: Any
) -> Any:
    """Render exceptions to text, then scrub them: tracebacks quote values."""
    exc = event_dict.get("exception")
    if isinstance(exc, str):
        event_dict["exception"] = scrub_text(exc)
    return event_dict


def configure_logging(
    *,
    level: str = "INFO",
    json: bool | None = None,
    stream: TextIO | None = None,
    extra_processors: Sequence[Any] = (),
    library_loggers_allowed: Mapping[str, str] | None = None,
) -> None:
    """Configure structlog (and stdlib logging, which libraries use) for this process.

    ``library_loggers_allowed`` maps the exact names of library loggers whose messages
    may be kept (scrubbed) to the reason they were judged safe; every other library
    record keeps only logger name, level and exception type.
    """
    out: TextIO = stream if stream is not None else cast(TextIO, _CurrentStderr())
    use_json = (not out.isatty()) if json is None else json
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        *extra_processors,
        redact_event,
        structlog.processors.format_exc_info,
        _scrub_exception,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Libraries (httpx, PTB, twilio, uvicorn, alembic) log through stdlib logging: their
    # records become structlog events of name, level and exception type (module doc).
    handler = _LibraryRecords(frozenset(library_loggers_allowed or ()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.WARNING))


class _CurrentStderr:
    """A stream that is always *today's* ``sys.stderr``.

    Binding the logger to the stderr object present at configuration time breaks when
    that object is later swapped and closed (test capture, daemonisers); resolving it on
    every write keeps logging working whoever owns stderr now.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class _LibraryRecords(logging.Handler):
    """Re-emit a library's stdlib record as a structlog event without its content.

    Kept: the logger's name, the level and the exception's type. The message (with
    its arguments) survives only for a logger named exactly in ``allowed`` - not its
    children, which may be other code - and is then scrubbed by shape. Nothing of the
    record is formatted unless it is kept, so a hostile ``__repr__`` or a huge
    argument costs nothing.
    """

    def __init__(self, allowed: frozenset[str]) -> None:
        super().__init__()
        self._allowed = allowed

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, Any] = {"logger_name": record.name}
        if record.exc_info and record.exc_info[0] is not None:
            fields["exc_type"] = record.exc_info[0].__name__
        if record.name in self._allowed:
            try:
                fields["detail"] = scrub_text(record.getMessage())
            except Exception:  # a record whose arguments do not fit its format string
                fields["detail"] = "[unformattable]"
        # Logging must never take its caller down, and Handler.handleError would print
        # the record's message and arguments: a failure here is dropped.
        with contextlib.suppress(Exception):
            structlog.get_logger().log(_standard_level(record.levelno), "library_log",
                                       **fields)


def _standard_level(levelno: int) -> int:
    """The highest standard level at or below ``levelno`` (libraries may define others)."""
    standard = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
    return max((lvl for lvl in standard if lvl <= levelno), default=logging.DEBUG)
