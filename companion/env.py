"""Where the companion lives and what time it is: the edges the crypto library never reads.

* Home directory: ``--home DIR``, else ``MEDCRYPT_HOME``, else the per-user data directory
  (platformdirs, e.g. ``~/.local/share/medcrypt``).
* Passphrase: ``MEDCRYPT_PASSPHRASE`` for scripts and tests, else an interactive prompt.
* stdin: read as bytes and decoded as strict UTF-8 whatever the locale; anything else is
  :class:`NotText` (exit 3, malformed input) rather than an internal error.
* Clock: the system clock in UTC. ``MEDCRYPT_NOW=<ISO-8601 with zone>`` pins it - ONLY for
  tests and the demo's time travel (a month passing, grace ending). It is not a security
  control: a user who sets it to the past cannot resurrect a shredded key (shredding is
  one-way), and setting it to the future only shreds early.
"""

from __future__ import annotations

import getpass
import os
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

from medcrypt.crypto.clock import Clock, FixedClock
from medcrypt.crypto.errors import BadToken, ConfigError

ENV_HOME = "MEDCRYPT_HOME"
ENV_PASSPHRASE = "MEDCRYPT_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
ENV_NOW = "MEDCRYPT_NOW"


class NotText(BadToken):
    """stdin held bytes that are not UTF-8: malformed input, exit 3 like a bad token."""


def read_stdin() -> str:
    """All of stdin as text, strictly UTF-8 whatever the locale says.

    Python decodes stdin by the locale, with ``surrogateescape`` under C and C.UTF-8, so
    invalid bytes used to surface later as an internal UnicodeEncodeError. Reading the
    bytes and decoding them here gives one clear error instead. Line ends are kept as
    they came, as the text stream did.
    """
    stream = sys.stdin
    raw = getattr(stream, "buffer", None)
    try:
        if raw is not None:
            return str(raw.read().decode("utf-8"))
        text = stream.read()
        text.encode("utf-8")  # a text stream set up by a caller may still hold surrogates
    except UnicodeError:
        raise NotText("stdin is not UTF-8 text (convert it first, e.g. with iconv)") from None
    return text


class SystemClock:
    """The wall clock, timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def resolve_home(explicit: str | None) -> Path:
    """The keystore directory, by precedence: flag, environment, per-user data dir."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir  # lazy: keep cold start fast

    return Path(user_data_dir("medcrypt", appauthor=False))


def clock_from_env() -> Clock:
    """System clock, or the instant in MEDCRYPT_NOW (tests and demo only)."""
    pinned = os.environ.get(ENV_NOW)
    if not pinned:
        return SystemClock()
    try:
        at = datetime.fromisoformat(pinned)
    except ValueError:
        raise ConfigError(ENV_NOW, "not an ISO-8601 date-time") from None
    if at.tzinfo is None:
        raise ConfigError(ENV_NOW, "needs a time zone, e.g. 2026-11-23T10:00:00Z")
    return FixedClock(at.astimezone(UTC))


def read_passphrase(*, confirm: bool = False) -> str:
    """The keystore passphrase from MEDCRYPT_PASSPHRASE or a terminal prompt."""
    env = os.environ.get(ENV_PASSPHRASE)
    if env is not None:
        if not env:
            raise ConfigError(ENV_PASSPHRASE, "is set but empty")
        return env
    first = _prompt("Keystore passphrase: ")
    if not first:
        raise ConfigError("passphrase", "must not be empty")
    if confirm and _prompt("Repeat passphrase: ") != first:
        raise ConfigError("passphrase", "the two entries differ")
    return first


def ask_yes_no(question: str) -> bool | None:
    """A y/N question on the terminal: the answer, or None when there is no one to ask.

    Asked only when both stdin and stderr are a terminal, so a script (or a command
    reading a token from stdin) is never stopped by it: such callers pass a flag.
    """
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _prompt(label: str) -> str:
    """getpass on the controlling terminal; never its fallback of echoing stdin.

    stdin usually carries tokens or plaintext here, so reading the passphrase from it
    would consume (and echo) the wrong thing.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            return getpass.getpass(label)
        except getpass.GetPassWarning:
            raise ConfigError(ENV_PASSPHRASE,
                              "no terminal to prompt on; set it for scripts") from None
