"""Refresh the bot's gettext catalogs with Babel (a dev tool only, docs/adr/0035).

    .venv/bin/python scripts/i18n.py            # extract, update every .po, compile .mo
    .venv/bin/python scripts/i18n.py --check    # fail if a committed .mo is stale

``extract`` collects the msgids marked ``N_(...)`` / ``Nn_(singular, plural)`` in bot/
into bot/locale/medcrypt.pot; ``update`` merges them into each language's .po (new
entries arrive empty, for a translator); the English catalog is its own msgids, so its
entries are filled from them; ``compile`` writes the .mo files the runtime reads with the
standard library's gettext. The .mo files are committed: the wheel's build backend
(setuptools) does not run Babel, and a clinic's install must not need it.

Every catalog keeps the Plural-Forms it was created with: es_MX ships GNU gettext's two
forms (``nplurals=2; plural=(n != 1);``), not the three CLDR gives Babel for Spanish.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "bot" / "locale"
TEMPLATE = LOCALE / "medcrypt.pot"
LANGUAGES = ("en", "es_MX")
KEYWORDS = ["-k", "N_", "-k", "Nn_:1,2", "--no-default-keywords"]


def _undated(pot: bytes) -> bytes:
    """The template without its ``POT-Creation-Date`` header line: what "changed" means."""
    return b"\n".join(line for line in pot.split(b"\n")
                      if not line.startswith(b'"POT-Creation-Date:'))


def extract(target: Path) -> None:
    """Extract the marked msgids of bot/ into ``target`` (a .pot)."""
    _pybabel("extract", *KEYWORDS, "--no-location", "--sort-output", "--width=100",
             "--project=medcrypt-bridge", "-o", str(target), str(ROOT / "bot"))


def _pybabel(*args: str) -> None:
    # The venv's own pybabel, with arguments this script spells out: no untrusted input.
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), *args], check=True)  # noqa: S603


def _po(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "medcrypt.po"


def _fill_english() -> None:
    """The source language translates to itself: msgstr = msgid, plural forms too."""
    path = _po("en")
    with path.open("rb") as f:
        catalog = read_po(f, locale="en")
    for message in catalog:
        if not message.id:
            continue
        message.string = message.id
        message.flags.discard("fuzzy")
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False)


def compiled(language: str) -> bytes:
    """The .mo bytes of ``language``'s .po as committed (what the runtime must read)."""
    import io

    with _po(language).open("rb") as f:
        catalog = read_po(f, locale=language)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        stale = [lang for lang in LANGUAGES
                 if compiled(lang) != _po(lang).with_suffix(".mo").read_bytes()]
        if stale:
            sys.stderr.write(f"stale .mo: {', '.join(stale)}; run scripts/i18n.py\n")
            return 1
        return 0
    before = TEMPLATE.read_bytes() if TEMPLATE.exists() else None
    extract(TEMPLATE)
    if before is not None and _undated(before) == _undated(TEMPLATE.read_bytes()):
        # Nothing changed but the date Babel stamps on every run: keep the committed file,
        # so a run without new msgids leaves the tree clean.
        TEMPLATE.write_bytes(before)
    for language in LANGUAGES:
        if not _po(language).exists():
            _pybabel("init", "-D", "medcrypt", "-i", str(TEMPLATE), "-d", str(LOCALE),
                     "-l", language, "--width=100")
        _pybabel("update", "-D", "medcrypt", "-i", str(TEMPLATE), "-d", str(LOCALE),
                 "-l", language, "--no-fuzzy-matching", "--width=100",
                 "--ignore-obsolete")
    _fill_english()
    for language in LANGUAGES:
        _po(language).with_suffix(".mo").write_bytes(compiled(language))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
