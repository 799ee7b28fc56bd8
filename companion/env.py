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

from medcrypt.companion.i18n import N_, _, error
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
        raise error(NotText, N_("stdin is not UTF-8 text (convert it first, e.g. with "
                                "iconv)")) from None
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
        raise error(ConfigError, N_("not an ISO-8601 date-time"), key=ENV_NOW) from None
    if at.tzinfo is None:
        raise error(ConfigError, N_("needs a time zone, e.g. 2026-11-23T10:00:00Z"),
                    key=ENV_NOW)
    return FixedClock(at.astimezone(UTC))


def read_passphrase(*, confirm: bool = False) -> str:
    """The keystore passphrase from MEDCRYPT_PASSPHRASE or a terminal prompt."""
    env = os.environ.get(ENV_PASSPHRASE)
    if env is not None:
        if not env:
            raise error(ConfigError, N_("is set but empty"), key=ENV_PASSPHRASE)
        return env
    first = _prompt(_("Keystore passphrase: "))
    if not first:
        raise error(ConfigError, N_("must not be empty"), key="passphrase")
    if confirm and _prompt(_("Repeat passphrase: ")) != first:
        raise error(ConfigError, N_("the two entries differ"), key="passphrase")
    return first


def ask_yes_no(question: str) -> bool | None:
    """A y/N question on the terminal: the answer, or None when there is no one to ask.

    Asked only when both stdin and stderr are a terminal, so a script (or a command
    reading a token from stdin) is never stopped by it: such callers pass a flag.
    ``question`` is already in the user's language; so are the answers taken (Spanish
    "s", "si", "sí" as well as "y", "yes").
    """
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    sys.stderr.write(_("{question} [y/N] ", question=question))
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes", *_("y|yes").split("|"))


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
            raise error(ConfigError, N_("no terminal to prompt on; set it for scripts"),
                        key=ENV_PASSPHRASE) from None
