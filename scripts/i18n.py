"""Refresh the gettext catalogs with Babel (a dev tool only, docs/adr/0035).

    .venv/bin/python scripts/i18n.py            # extract, update every .po, compile .mo
    .venv/bin/python scripts/i18n.py --check    # fail if a committed .mo is stale

Two text domains, one per program, so neither ever reads the other's catalog:

* ``medcrypt`` - the bot's replies: msgids marked ``N_(...)`` / ``Nn_(singular, plural)``
  in bot/, template bot/locale/medcrypt.pot;
* ``medcrypt-companion`` - the ``medcrypt`` command line: msgids marked ``_(...)``,
  ``N_(...)``, ``ngettext(singular, plural, n)`` and ``Nn_(singular, plural)`` in
  companion/, template companion/locale/medcrypt-companion.pot (ADR 0035, amendment 2).

``extract`` collects the marked msgids into the template; ``update`` merges them into each
language's .po (new entries arrive empty, for a translator); the English catalog is its
own msgids, so its entries are filled from them; ``compile`` writes the .mo files the
runtime reads with the standard library's gettext. The .mo files are committed: the
wheel's build backend (setuptools) does not run Babel, and an install must not need it.
A template whose only change would be Babel's ``POT-Creation-Date`` is kept as it was.

Every catalog keeps the Plural-Forms it was created with: es_MX ships GNU gettext's two
forms (``nplurals=2; plural=(n != 1);``), not the three CLDR gives Babel for Spanish.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
#: The bot's catalogs (module globals: a test points them at a copy).
LOCALE = ROOT / "bot" / "locale"
TEMPLATE = LOCALE / "medcrypt.pot"
#: The companion's catalogs, likewise.
COMPANION_LOCALE = ROOT / "companion" / "locale"
COMPANION_TEMPLATE = COMPANION_LOCALE / "medcrypt-companion.pot"
LANGUAGES = ("en", "es_MX")
KEYWORDS = ["-k", "N_", "-k", "Nn_:1,2", "--no-default-keywords"]
COMPANION_KEYWORDS = ["-k", "_", "-k", "N_", "-k", "ngettext:1,2", "-k", "Nn_:1,2",
                      "--no-default-keywords"]


class Domain(NamedTuple):
    """One program's catalogs: its gettext domain, sources, marker keywords, folders.

    (A NamedTuple, not a dataclass: tests load this script by path, outside sys.modules.)
    """

    name: str
    source: Path
    keywords: tuple[str, ...]
    locale: Path
    template: Path

    def po(self, language: str) -> Path:
        return self.locale / language / "LC_MESSAGES" / f"{self.name}.po"


def bot() -> Domain:
    return Domain("medcrypt", ROOT / "bot", tuple(KEYWORDS), LOCALE, TEMPLATE)


def companion() -> Domain:
    return Domain("medcrypt-companion", ROOT / "companion", tuple(COMPANION_KEYWORDS),
                  COMPANION_LOCALE, COMPANION_TEMPLATE)


def domains() -> tuple[Domain, ...]:
    return (bot(), companion())


def _undated(pot: bytes) -> bytes:
    """The template without its ``POT-Creation-Date`` header line: what "changed" means."""
    return b"\n".join(line for line in pot.split(b"\n")
                      if not line.startswith(b'"POT-Creation-Date:'))


def extract(target: Path, domain: Domain | None = None) -> None:
    """Extract the marked msgids of ``domain``'s sources (default: the bot's) into
    ``target`` (a .pot)."""
    d = domain or bot()
    _pybabel("extract", *d.keywords, "--no-location", "--sort-output", "--width=100",
             "--project=medcrypt-bridge", "-o", str(target), str(d.source))


def _pybabel(*args: str) -> None:
    # The venv's own pybabel, with arguments this script spells out: no untrusted input.
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", *args], check=True)  # noqa: S603


def _fill_english(domain: Domain) -> None:
    """The source language translates to itself: msgstr = msgid, plural forms too."""
    path = domain.po("en")
    with path.open("rb") as f:
        catalog = read_po(f, locale="en")
    for message in catalog:
        if not message.id:
            continue
        message.string = message.id
        message.flags.discard("fuzzy")
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False)


def compiled(language: str, domain: Domain | None = None) -> bytes:
    """The .mo bytes of ``language``'s .po as committed (what the runtime must read)."""
    with (domain or bot()).po(language).open("rb") as f:
        catalog = read_po(f, locale=language)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def refresh(domain: Domain) -> None:
    """Extract, update, fill English and compile one domain's catalogs."""
    before = domain.template.read_bytes() if domain.template.exists() else None
    extract(domain.template, domain)
    if before is not None and _undated(before) == _undated(domain.template.read_bytes()):
        # Nothing changed but the date Babel stamps on every run: keep the committed file,
        # so a run without new msgids leaves the tree clean.
        domain.template.write_bytes(before)
    for language in LANGUAGES:
        common = ["-D", domain.name, "-i", str(domain.template), "-d", str(domain.locale),
                  "-l", language, "--width=100"]
        if not domain.po(language).exists():
            _pybabel("init", *common)
        _pybabel("update", *common, "--no-fuzzy-matching", "--ignore-obsolete")
    _fill_english(domain)
    for language in LANGUAGES:
        domain.po(language).with_suffix(".mo").write_bytes(compiled(language, domain))


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        stale = [f"{d.name}/{lang}" for d in domains() for lang in LANGUAGES
                 if compiled(lang, d) != d.po(lang).with_suffix(".mo").read_bytes()]
        if stale:
            sys.stderr.write(f"stale .mo: {', '.join(stale)}; run scripts/i18n.py\n")
            return 1
        return 0
    for domain in domains():
        refresh(domain)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
