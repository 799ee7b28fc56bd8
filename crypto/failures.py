"""Turn any exception that reaches a CLI's top into one line and a documented exit code.

The project's own errors already carry their family's exit code (README "Exit codes")
and a message written to be shown. Everything else is a library's exception that got
past the code meant to translate it; it is still mapped by *family* - database (6),
platform or network (5), a file (2) - so an operator under systemd sees the cause and
a stable status instead of a traceback, and a restart loop is recognisable in the
journal. A foreign exception's *message* is never printed: PTB puts the bot token into
``InvalidToken``, psycopg quotes row values in a constraint violation's detail, and an
HTTP client's message can carry a URL with a token in it. The type name is printed
instead; ``--debug`` shows the traceback to whoever needs more.

The foreign families are recognised without importing their libraries: an exception of
a library means the library is already in :data:`sys.modules`, and a library that is not
loaded cannot have raised. That keeps ``--help`` from paying for SQLAlchemy or PTB.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from medcrypt.crypto.errors import MedCryptError

EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_TRANSPORT = 5
EXIT_STORAGE = 6
EXIT_INTERRUPTED = 130

#: (module, class) of each library's exception root, by the family it belongs to.
STORAGE_ROOTS = (("sqlalchemy.exc", "SQLAlchemyError"), ("sqlite3", "Error"),
                 ("psycopg", "Error"), ("alembic.util.exc", "CommandError"))
TRANSPORT_ROOTS = (("telegram.error", "TelegramError"), ("httpx", "HTTPError"),
                   ("aiohttp", "ClientError"), ("twilio.base.exceptions", "TwilioException"))

#: Longest message shown; a project error is one sentence, never a dump.
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class Failure:
    """What the CLI prints (after its program name) and the status it exits with."""

    exit_code: int
    message: str


def _is_instance(exc: BaseException, roots: tuple[tuple[str, str], ...]) -> bool:
    for module_name, class_name in roots:
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if isinstance(cls, type) and isinstance(exc, cls):
            return True
    return False


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 3] + "..."


def describe(exc: BaseException, *, debug_hint: str) -> Failure:
    """The one line and exit code for ``exc``; ``debug_hint`` says how to get more."""
    if isinstance(exc, MedCryptError):
        return Failure(exc.exit_code, _first_line(str(exc)) or type(exc).__name__)
    if isinstance(exc, KeyboardInterrupt):
        return Failure(EXIT_INTERRUPTED, "interrupted")
    name = type(exc).__name__
    if _is_instance(exc, STORAGE_ROOTS):
        return Failure(EXIT_STORAGE, f"database error ({name}); {debug_hint}")
    if _is_instance(exc, TRANSPORT_ROOTS):
        return Failure(EXIT_TRANSPORT, f"platform or network unreachable ({name}); {debug_hint}")
    if isinstance(exc, OSError):
        if exc.filename:  # a file somebody named: README's exit 2
            return Failure(EXIT_USAGE, f"{exc.strerror or name}: {exc.filename}")
        return Failure(EXIT_TRANSPORT, f"network error ({exc.strerror or name}); {debug_hint}")
    return Failure(EXIT_INTERNAL, f"internal error ({name}); {debug_hint}")
