"""structlog configuration shared by both command-line programs.

JSON lines when stderr is not a terminal (production, CI, journald), a readable console
format when it is. :func:`crypto.redact.redact_event` runs last before rendering, so
every renderer - and every exception rendered into the event - sees scrubbed data.
The caller passes the timestamp processor: crypto/ itself never reads the clock.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
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
) -> None:
    """Configure structlog (and stdlib logging, which libraries use) for this process."""
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
    # Libraries (httpx, PTB, twilio, alembic) log through stdlib logging; route them
    # through a handler that applies the same scrubbing to their formatted messages.
    handler = logging.StreamHandler(out)
    handler.addFilter(_StdlibScrubber())
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


class _StdlibScrubber(logging.Filter):
    """Scrub stdlib log records; httpx logs request URLs, which can hold bot tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub_text(record.getMessage())
        record.args = None
        return True
