"""The bot's replies in the recipient's language: explicit, per call, standard gettext.

Why this shape (docs/adr/0035-gettext-per-recipient.md): one bot process answers people
in several languages at once, so nothing here is global - no installed ``_``, no process
locale, no lazy string that translates whenever it is printed. A reply is translated at
the moment it is written for one person, with that person's stored language, and the
result goes only to them: nothing translated is ever logged.

Runtime uses only the standard library's :mod:`gettext` and the compiled ``.mo`` files
committed under ``bot/locale/`` (package data in the wheel). Babel is a development tool
(``scripts/i18n.py``): it extracts the msgids marked with :func:`N_`, updates the ``.po``
files and compiles them.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

#: The catalogs shipped; the first is the language the msgids are written in.
LANGUAGES: tuple[str, ...] = ("en", "es_MX")
SOURCE_LANGUAGE = "en"
#: gettext domain of every catalog (``bot/locale/<lang>/LC_MESSAGES/medcrypt.mo``).
DOMAIN = "medcrypt"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def N_(msgid: str) -> str:  # noqa: N802 - gettext's conventional name for a marker
    """Mark ``msgid`` for extraction; returns it unchanged (translated later, per person)."""
    return msgid


def Nn_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - as N_
    """Mark a plural pair for extraction; :func:`translate_plural` picks the form."""
    return singular, plural


def from_code(code: str | None) -> str | None:
    """A shipped language for a platform's or a user's language code, or None.

    Telegram sends IETF tags (``es-419``, ``es``, ``en-GB``); a person types ``es`` or
    ``en``. Every Spanish variant maps to es_MX, the one Spanish catalog; any other
    language we do not ship is None (the caller keeps what it had).
    """
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    if primary == "es":
        return "es_MX"
    if primary == "en":
        return "en"
    return None


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (English too: its entries are the msgids, so
    an English wording can be changed in its catalog). An unknown language is a
    programming error, not a silent English reply; a missing .mo fails loudly too."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalog for language {language!r}")
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language])


@dataclass(frozen=True)
class Msg:
    """A msgid with its parameters, not yet in anyone's language.

    What a domain function returns when it decides *what* to say but not *to whom*
    (a refusal, a break-glass outcome, a job's summary): the caller that knows the
    recipient writes it with :meth:`in_`. It is not a string, so it cannot be sent or
    logged by accident untranslated (it is no lazy string either: nothing translates it
    implicitly). A parameter that is itself a :class:`Msg` is written in the same
    language; ``n`` picks a plural form (``msgid`` is then a :func:`Nn_` pair).
    """

    msgid: str | tuple[str, str]
    params: Mapping[str, object] = field(default_factory=dict)
    n: int | None = None

    def in_(self, language: str) -> str:
        if isinstance(self.msgid, tuple):
            return translate_plural(language, self.msgid, self.n or 0, **self.params)
        return translate(language, self.msgid, **self.params)


class Writable(Protocol):
    """Text written in a language on demand: a :class:`Msg`, or a rendering that
    translates its own parts (the ``/jobs`` table)."""

    def in_(self, language: str) -> str: ...


def msg(msgid: str, **params: object) -> Msg:
    """A :class:`Msg` of a msgid marked with :func:`N_` (placeholders filled later)."""
    return Msg(msgid, params)


def msg_plural(forms: tuple[str, str], n: int, **params: object) -> Msg:
    """A :class:`Msg` of a :func:`Nn_` pair for the count ``n`` (the ``{n}`` placeholder)."""
    return Msg(forms, params, n)


def _filled(language: str, params: Mapping[str, object]) -> dict[str, object]:
    return {k: v.in_(language) if isinstance(v, Msg | Written) else v
            for k, v in params.items()}


@dataclass(frozen=True, slots=True)
class Written:
    """Text put together from parts written in the recipient's language, where the whole
    is no sentence a translator could hold (a command's usage line: ``/cmd`` and its
    translated forms, joined by a translated "or")."""

    parts: tuple[Msg | str, ...]
    sep: str = " "

    def in_(self, language: str) -> str:
        return self.sep.join(p.in_(language) if isinstance(p, Msg) else p
                             for p in self.parts)


def translate(language: str, msgid: str | Msg, **params: object) -> str:
    """``msgid`` in ``language``, with its named ``{placeholders}`` filled in afterwards.

    The placeholders are filled after translation so a translator may move them; a
    msgid never contains a formatted value (ruff INT001-003 enforce it at the call).
    A :class:`Msg` (as ``msgid`` or as a parameter) is written in ``language`` too.
    """
    if isinstance(msgid, Msg):
        return msgid.in_(language)
    text = _catalog(language).gettext(msgid)
    return text.format(**_filled(language, params)) if params else text


def translate_plural(language: str, forms: tuple[str, str], n: int, **params: object) -> str:
    """:func:`translate` for a count ``n`` (the ``{n}`` placeholder): the catalog's plural
    form for it (es_MX ships GNU's two forms, ``nplurals=2; plural=(n != 1);``)."""
    singular, plural = forms
    return _catalog(language).ngettext(singular, plural, n).format(
        n=n, **_filled(language, params))


def by_language(text: Msg) -> dict[str, str]:
    """``text`` in every shipped language: for notices queued set-based, where the
    database picks each member's by their stored language."""
    return {language: text.in_(language) for language in LANGUAGES}
