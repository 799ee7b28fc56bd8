"""``medcrypt`` - the companion command line (console script ``companion.cli:main``).

Every command group lives in its own module of this package and exposes
``register(subparsers)``; handlers take ``(args)`` and return an exit status. Errors are
one line on stderr and a documented exit status (README "Exit codes"), taken from the
error family in :mod:`crypto.errors`:

====  ===========================================================================
0     success
1     unexpected internal error (the traceback only with ``--debug`` or
      ``MEDCRYPT_DEBUG=1``)
2     usage or configuration error (bad flag, bad MEDCRYPT_NOW, missing passphrase,
      a named file that cannot be read or written)
3     bad token or file: malformed, or authentication failed (``DecryptionFailed``);
      stdin that is not UTF-8 text (``env.NotText``)
4     refused by policy: shredded/future epoch, replay, expired or reused offer,
      wrong pairing, size limit; a v3 pairing cancelled, aborted (QR shared) or not
      verified yet, a changed peer key
5     transport error
6     keystore problem: missing, locked (wrong passphrase), damaged
130   interrupted (Ctrl-C)
====  ===========================================================================

The last resort is shared with ``medcrypt-bot`` (:mod:`crypto.failures`): an exception
nothing translated still becomes one line and its family's exit code, never a
traceback, and its message is never printed (it may quote input).

What is shown to the user - help, messages, errors - is in the user's language
(:mod:`companion.i18n`: ``MEDCRYPT_LANG``, else the system locale); the error's class
and exit code are the same in every language.

Start-up cost matters (``medcrypt decrypt`` should feel instant), so this module imports
only the standard library, :mod:`crypto.errors` and :mod:`companion.i18n` (stdlib
gettext and one small .mo file); command modules import their heavy
dependencies (segno, Pillow, zxing) inside the handlers that need them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from medcrypt.companion.i18n import _, error_text, language
from medcrypt.crypto.errors import ConfigError, MedCryptError
from medcrypt.crypto.failures import EXIT_STORAGE, EXIT_TRANSPORT, EXIT_USAGE, describe

COMMAND_MODULES = ("setup", "pair", "messages", "files", "info", "v1cmd", "ui")
EXIT_INTERNAL = 1
DIST = "medcrypt-bridge"
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


class _UsageError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout with its "usage: " prefix in the user's language."""

    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup],
                  prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line instead of exiting itself, with the
    words of its help screens (section titles, ``-h``) in the user's language.

    argparse's own error sentences ("the following arguments are required: ...") are
    English from its templates; :mod:`companion.cli.usage_errors` writes them again in
    the user's language.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = _("show this help message and exit")

    def error(self, message: str) -> NoReturn:
        from medcrypt.companion.cli.usage_errors import translated

        raise _UsageError(_("{message} (see '{prog} --help')", message=translated(message),
                            prog=self.prog))


def version() -> str:
    """The installed distribution's version, from ``importlib.metadata``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(DIST)
    except PackageNotFoundError:
        return _("unknown (not installed)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="medcrypt",
        description=_("MedCrypt companion: end-to-end encryption for patient-physician "
                      "chats."),
        epilog=_("Environment: MEDCRYPT_HOME (keystore dir), MEDCRYPT_PASSPHRASE (for "
                 "scripts), MEDCRYPT_LANG (en or es; default: the system language), "
                 "MEDCRYPT_NOW (tests/demo time travel only)."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}",
                        help=_("show the program's version number and exit"))
    parser.add_argument("--home", help=_("keystore directory (default: $MEDCRYPT_HOME or "
                                         "the per-user data directory)"))
    parser.add_argument("--debug", action="store_true",
                        help=_("print the traceback of an unexpected failure (as "
                               "MEDCRYPT_DEBUG=1)"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"medcrypt.companion.cli.{name}").register(sub)
    return parser


def _fail(message: str, code: int) -> int:
    print(_("medcrypt: error: {message}", message=message), file=sys.stderr)
    return code


def _unexpected(exc: Exception) -> tuple[str, int]:
    """describe()'s family and exit code for a foreign exception, its line translated.

    The message of a foreign exception is never shown (it may quote input): only its
    type name, or the operating system's reason for a file the user named.
    """
    failure = describe(exc, debug_hint="--debug")  # its family and code; the words are ours
    name = type(exc).__name__
    if isinstance(exc, MedCryptError):
        return error_text(exc), failure.exit_code
    if failure.exit_code == EXIT_USAGE and isinstance(exc, OSError):
        return f"{exc.strerror or name}: {exc.filename}", failure.exit_code
    if failure.exit_code == EXIT_STORAGE:
        text = _("database error ({name}); rerun with --debug for the traceback", name=name)
    elif failure.exit_code == EXIT_TRANSPORT:
        text = _("network error ({name}); rerun with --debug for the traceback", name=name)
    else:
        text = _("internal error ({name}); rerun with --debug for the traceback", name=name)
    return text, failure.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns (and, as a console script, exits with) its status."""
    try:
        language()  # a MEDCRYPT_LANG we do not ship: said once, in English, exit 2
    except ConfigError as exc:
        return _fail(str(exc), exc.exit_code)
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    handler: Handler = args.handler
    try:
        return handler(args)
    except MedCryptError as exc:
        text = error_text(exc)
        return _fail(text.splitlines()[0] if text else type(exc).__name__, exc.exit_code)
    except KeyboardInterrupt:
        return _fail(_("interrupted"), EXIT_INTERRUPTED)
    except BrokenPipeError:
        return EXIT_INTERNAL
    except OSError as exc:  # a file the user named: missing, unreadable, not writable
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or type(exc).__name__}{where}", EXIT_USAGE)
    except Exception as exc:
        if args.debug or os.environ.get("MEDCRYPT_DEBUG") == "1":
            traceback.print_exception(exc, file=sys.stderr)
        # The message may quote input (plaintext, tokens): only the type is named.
        return _fail(*_unexpected(exc))


def entry() -> NoReturn:
    sys.exit(main())


if __name__ == "__main__":
    entry()
