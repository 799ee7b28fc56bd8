"""The companion's words in its user's language: standard gettext, its own text domain.

Why this shape (docs/adr/0035, amendment 2): the ``medcrypt`` command serves the one
person at this terminal, so the language is theirs - ``MEDCRYPT_LANG`` when set, else the
system's (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, the first one set, as POSIX reads them).
Any Spanish locale (``es_MX.UTF-8``, ``es_ES``, ``es``) gets the es_MX catalog; anything
else, ``C`` and ``POSIX`` included, English. Nothing is installed globally (no builtin
``_``, no ``setlocale``): a text is translated where it is printed, by :func:`_`.

The catalogs are their own gettext domain, ``medcrypt-companion`` under
``companion/locale/``, so the companion never opens the bot's catalog (and may not import
the bot at all: an import-linter contract). Runtime is the standard library only; the
compiled ``.mo`` files are committed and shipped as package data (Babel, which writes
them, is a development tool: ``scripts/i18n.py``).

Typed errors keep their classes and exit codes and their English message (what a
traceback, a test or a log sees); :func:`error` attaches the msgid and parameters the
error was written from, so the command line can print it in the user's language
(:func:`error_text`). Nothing translated goes to a log.
"""

from __future__ import annotations

import gettext as _gettext
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TypeVar

from medcrypt.crypto.errors import ConfigError, MedCryptError

#: The catalogs shipped; the first is the language the msgids are written in.
LANGUAGES: tuple[str, ...] = ("en", "es_MX")
SOURCE_LANGUAGE = "en"
#: gettext domain (``companion/locale/<lang>/LC_MESSAGES/medcrypt-companion.mo``): not the
#: bot's ``medcrypt``, so neither program ever reads the other's catalog.
DOMAIN = "medcrypt-companion"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ENV_LANG = "MEDCRYPT_LANG"
#: The POSIX message-locale variables, by precedence.
POSIX_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

_E = TypeVar("_E", bound=MedCryptError)
#: Attribute an error written by :func:`error` carries: (msgid, parameters).
_TEXT_ATTR = "_medcrypt_text"


def N_(msgid: str) -> str:  # noqa: N802 - gettext's conventional name for a marker
    """Mark ``msgid`` for extraction; returns it unchanged (translated where printed)."""
    return msgid


def Nn_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - as N_
    """Mark a plural pair for extraction; :func:`ngettext` picks the form where printed."""
    return singular, plural


def from_locale(value: str | None) -> str | None:
    """The shipped language for a locale name or a language code, or None if it is unset.

    ``es_MX.UTF-8``, ``es_ES@euro``, ``es-419``, ``es`` -> es_MX; ``C``, ``POSIX``,
    ``C.UTF-8``, ``en_US``, ``fr_FR`` and anything else we do not ship -> en (English is
    the fallback, never an error: a system locale is not a request for a catalog).
    """
    if value is None or not value.strip():
        return None
    name = value.strip().split(".", 1)[0].split("@", 1)[0]
    primary = name.replace("-", "_").split("_", 1)[0].lower()
    return "es_MX" if primary == "es" else SOURCE_LANGUAGE


def language(environ: Mapping[str, str] | None = None) -> str:
    """This user's language: ``MEDCRYPT_LANG``, else the first POSIX variable set.

    ``MEDCRYPT_LANG`` is a request, so a value we do not ship (``fr``) is a
    :class:`ConfigError` rather than silent English; ``en``/``es``/``es_MX`` and any
    locale name (``es_MX.UTF-8``) are taken.
    """
    env = os.environ if environ is None else environ
    chosen = env.get(ENV_LANG, "").strip()
    if chosen:
        primary = chosen.replace("-", "_").split(".", 1)[0].split("_", 1)[0].lower()
        if primary not in ("en", "es"):
            raise error(ConfigError, N_("unknown language; use en or es"), key=ENV_LANG)
        return "es_MX" if primary == "es" else "en"
    for name in POSIX_VARIABLES:
        found = from_locale(env.get(name))
        if found is not None:
            return found
    return SOURCE_LANGUAGE


@cache
def catalog(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``lang``; an unknown language or a missing .mo fails loudly."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalog for language {lang!r}")
    return _gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang])


def _current() -> _gettext.NullTranslations:
    try:
        return catalog(language())
    except ConfigError:
        # A bad MEDCRYPT_LANG is reported once, in English, by the command line itself
        # (cli.main checks it first); texts printed while reporting it stay English.
        return catalog(SOURCE_LANGUAGE)


def _(msgid: str, **params: object) -> str:
    """``msgid`` in this user's language, named ``{placeholders}`` filled afterwards (so a
    translator may move them; ruff INT001-003 refuse a formatted msgid)."""
    text = _current().gettext(msgid)
    return text.format(**params) if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    """:func:`_` for a count ``n`` (the ``{n}`` placeholder): the catalog's plural form."""
    return _current().ngettext(singular, plural, n).format(n=n, **params)


class Word(str):
    """A parameter that is itself a msgid (``N_("a token")``): :func:`error_text` writes it
    in the user's language too; as a plain ``str`` it is the English in ``str(exc)``."""

    __slots__ = ()


class Sentences(str):
    """A parameter made of several msgids (another library's fixed sentences, such as
    zxcvbn's advice): each written in the user's language by :func:`error_text`; as a
    plain ``str`` the English sentences joined by spaces."""

    parts: tuple[str, ...]

    def __new__(cls, parts: Sequence[str]) -> Sentences:
        made = super().__new__(cls, " ".join(parts))
        made.parts = tuple(parts)
        return made


def _filled(params: Mapping[str, object]) -> dict[str, object]:
    return {k: (" ".join(_(p) for p in v.parts) if isinstance(v, Sentences)
                else _(v) if isinstance(v, Word) else v) for k, v in params.items()}


def error(exc_type: type[_E], msgid: str, /, *, key: str | None = None,
          **params: object) -> _E:
    """A typed error written from a msgid: English message, translatable when shown.

    ``key`` is a :class:`ConfigError`'s offending setting (never translated: it is a flag
    or a variable name the user types). The exception's class, exit code and ``str()``
    are what they were; :func:`error_text` prints it in the user's language.
    """
    english = msgid.format(**params) if params else msgid
    exc = exc_type(key, english) if key is not None else exc_type(english)
    setattr(exc, _TEXT_ATTR, (msgid, dict(params)))
    return exc


def error_text(exc: MedCryptError) -> str:
    """The one line the command line shows for a typed error, in the user's language.

    An error written by :func:`error` is translated from its msgid; one raised with a
    fixed English message that the catalog holds (the crypto library's, listed in
    ``companion/library_texts.py``) is looked up by that message, and one whose message
    carries values (a month, a byte count) by its shape there, a count through
    :func:`ngettext`; any other keeps its English message.
    """
    written = getattr(exc, _TEXT_ATTR, None)
    if written is not None:
        msgid, params = written
        reason = _(msgid, **_filled(params))
    elif isinstance(exc, ConfigError):
        reason = _(exc.reason)
    else:
        # Imported here: library_texts marks its texts with this module's N_.
        from medcrypt.companion.library_texts import with_values

        valued = with_values(str(exc))
        if valued is None:
            reason = _(str(exc))
        else:
            entry, values = valued
            filled = _filled(values)
            if entry.singular is None:
                reason = _(entry.english, **filled)
            else:
                count = filled.pop("n")
                assert isinstance(count, int)  # the pattern matched digits
                reason = ngettext(entry.singular, entry.english, count, **filled)
    if isinstance(exc, ConfigError):
        return _("config error: {key}: {reason}", key=exc.key, reason=reason)
    return reason
