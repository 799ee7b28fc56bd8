"""The companion's own catalog, and a source check that what it prints is a msgid.

The catalog half mirrors the bot's (tests/bot/test_i18n_catalogs.py) for the
``medcrypt-companion`` text domain: every msgid of the template translated in es_MX, no
empty plural form, placeholders kept, the template current but for its date, and a
refresh with nothing new leaving the catalogs byte for byte as committed.

The source half (modelled on tests/bot/test_i18n_send_sites.py) reads companion/ and
fails on English words that reach the user without a translating call: printed or
written to stdout/stderr, given as argparse help/description/epilog, put in an output
line list (``_emit``), asked as a question, or passed as the message of a typed error
(which must be written with ``companion.i18n.error`` from an ``N_`` msgid). A module
listed in ``NOT_YET`` is still English; the test also fails when such a module no longer
has any finding, so the list cannot go stale.
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from medcrypt.companion import i18n, library_texts
from medcrypt.crypto import errors
from tests.support.catalogs import load_i18n_script, msgids, placeholder_names, untranslated

ROOT = Path(__file__).resolve().parents[2]
COMPANION = ROOT / "companion"
TEMPLATE = i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot"
#: Modules whose user-facing text is not translated yet (English for everyone), each with
#: what they are - none left. Everything else in companion/ is checked.
NOT_YET: dict[str, str] = {}
#: Not the command line's text: the web companion (its own page and strings).
NOT_CLI = ("companion/webui/",)
#: Translations that are the same words in Spanish.
SAME_IN_SPANISH = {"medcrypt: error: {message}"}
_WORD = re.compile(r"[A-Za-z]{3,}")
_TRANSLATING = {"_", "ngettext"}
_ERRORS = {name for name, value in vars(errors).items()
           if isinstance(value, type) and issubclass(value, errors.MedCryptError)} | {"NotText"}


# ----------------------------------------------------------------------------- catalog


def _po(language: str) -> Catalog:
    path = i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as f:
        return read_po(f, locale=language)




@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_msgid_of_the_template_is_translated(language: str) -> None:
    with TEMPLATE.open("rb") as f:
        template = read_po(f)
    catalog = _po(language)
    assert msgids(catalog) == msgids(template)
    assert untranslated(catalog) == []


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_no_plural_entry_is_empty(language: str) -> None:
    catalog = _po(language)
    plurals = [m for m in catalog if isinstance(m.id, tuple)]
    assert plurals  # the check has something to see
    assert [m.id for m in plurals if not isinstance(m.string, tuple)
            or len(m.string) != catalog.num_plurals or not all(m.string)] == []


def test_es_mx_uses_gnu_two_plural_forms_at_runtime() -> None:
    assert _po("es_MX").plural_forms == "nplurals=2; plural=(n != 1);"
    forms = ("[attachment {name} - {n} byte, {mime_type}; open it with: medcrypt open-file "
             "CONTAINER]",
             "[attachment {name} - {n} bytes, {mime_type}; open it with: medcrypt open-file "
             "CONTAINER]")
    es = i18n.catalog("es_MX")
    assert es.ngettext(*forms, 1).startswith("[archivo adjunto {name} - {n} byte,")
    assert es.ngettext(*forms, 2).startswith("[archivo adjunto {name} - {n} bytes,")


def test_es_mx_is_spanish_not_a_copy() -> None:
    copies = {m.id for m in _po("es_MX") if m.id and m.string == m.id}
    assert copies == SAME_IN_SPANISH


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_translations_keep_the_placeholders_of_their_msgid(language: str) -> None:
    for m in _po(language):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set().union(*(placeholder_names(str(i)) for i in ids))
        for text in strings:
            assert placeholder_names(str(text)) == wanted, (language, str(ids[0])[:40])


def test_the_companion_domain_is_not_the_bots() -> None:
    assert i18n.DOMAIN == "medcrypt-companion"
    assert not (i18n.LOCALE_DIR / "es_MX" / "LC_MESSAGES" / "medcrypt.mo").exists()
    assert (i18n.LOCALE_DIR / "es_MX" / "LC_MESSAGES" / "medcrypt-companion.mo").is_file()



def test_the_template_is_current_but_for_its_date(tmp_path: Path) -> None:
    script = load_i18n_script()
    fresh = tmp_path / "fresh.pot"
    script.extract(fresh, script.companion())
    assert script._undated(fresh.read_bytes()) == script._undated(TEMPLATE.read_bytes()), (
        "companion/locale/medcrypt-companion.pot is stale: run scripts/i18n.py")


def test_a_refresh_without_new_msgids_changes_nothing(tmp_path: Path) -> None:
    script = load_i18n_script()
    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, locale)
    domain = script.companion()._replace(locale=locale, template=locale / f"{i18n.DOMAIN}.pot")
    before = {p: p.read_bytes() for p in locale.rglob("*") if p.is_file()}
    script.refresh(domain)
    assert {p: p.read_bytes() for p in locale.rglob("*") if p.is_file()} == before


def _crypto_texts() -> set[str]:
    texts: set[str] = set()
    for path in (ROOT / "crypto").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.add(node.value)
    return texts


def test_every_library_text_is_still_raised_word_for_word_in_crypto() -> None:
    texts = _crypto_texts()
    assert [t for t in library_texts.TEXTS if t not in texts] == []


# ----------------------------------------------------------------------------- sources


def _wordy(node: ast.AST | None) -> bool:
    """English words that reach the user as they are (not through ``_``/``ngettext``)."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(
            _WORD.search(node.value.replace("medcrypt", "")))
    if isinstance(node, ast.JoinedStr):
        return any(_wordy(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _wordy(node.left) or _wordy(node.right)
    if isinstance(node, ast.IfExp):
        return _wordy(node.body) or _wordy(node.orelse)
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(_wordy(e) for e in node.elts)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in _TRANSLATING:
            return False
        if isinstance(func, ast.Attribute) and func.attr == "format":
            return _wordy(func.value)
    return False


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def findings(source: str) -> list[str]:
    """Where ``source`` shows English to the user without translating it."""
    found: list[str] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        args: list[ast.expr] = []
        if name in ("print", "write", "ask_yes_no"):
            args = list(node.args)
        elif name in _ERRORS:  # a typed error's message: error(Cls, N_(...)) instead
            args = list(node.args[1:] if name == "ConfigError" else node.args)
        elif name == "_emit" and len(node.args) >= 3:
            args = [node.args[2]]
        if name in ("add_parser", "add_argument", "ArgumentParser", "_Parser"):
            args += [k.value for k in node.keywords if k.arg in ("help", "description",
                                                                 "epilog")]
        found += [f"line {a.lineno}: {name}({ast.unparse(a)[:60]})" for a in args if _wordy(a)]
    for stmt in tree.body:  # a module-level text constant must be a marked msgid
        if isinstance(stmt, ast.Assign) and stmt.targets and isinstance(
                stmt.targets[0], ast.Name) and stmt.targets[0].id.isupper() and (
                isinstance(stmt.value, ast.Constant) and _wordy(stmt.value)
                and " " in str(stmt.value.value)):
            found.append(f"line {stmt.lineno}: {stmt.targets[0].id} is not marked N_")
    return found


def _sources() -> Iterator[tuple[str, Path]]:
    for path in sorted(COMPANION.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(NOT_CLI):
            yield rel, path


@pytest.mark.parametrize("bad", [
    'print(f"Paired: {x}")',
    'sys.stderr.write("Nothing changed.\\n")',
    'raise ConfigError("--pairing", "no pairings yet")',
    'raise WrongPairing(f"{what} belongs to another pairing")',
    'p.add_argument("--json", help="machine-readable output")',
    'sub.add_parser("x", help="HELP " + y)',
    '_emit(args, {}, ["Send this token:", token])',
    'ask_yes_no("End it?")',
    'print("Pairing {p} ended".format(p=p))',
    'QUESTION = "Keep a copy of the messages?"',
])
def test_the_source_check_catches_untranslated_text(bad: str) -> None:
    assert findings(bad) != []


@pytest.mark.parametrize("good", [
    'print(_("Paired: {pairing}", pairing=x))',
    'print(f"medcrypt: {note}", file=sys.stderr)',
    'print(json.dumps(data))',
    'sys.stdout.write("\\n".join(lines) + "\\n")',
    'raise error(ConfigError, N_("no pairings yet"), key="--pairing")',
    'p.add_argument("--json", help=_("machine-readable output"))',
    'QUESTION = N_("Keep a copy of the messages?")',
    'print(ngettext("{n} file", "{n} files", n))',
])
def test_the_source_check_lets_translated_text_through(good: str) -> None:
    assert findings(good) == []


def test_the_companion_prints_no_untranslated_english() -> None:
    unexpected = {rel: hits for rel, path in _sources() if rel not in NOT_YET
                  for hits in [findings(path.read_text())] if hits}
    assert unexpected == {}


def test_every_module_listed_as_not_yet_translated_still_is() -> None:
    done = [rel for rel in NOT_YET if not findings((ROOT / rel).read_text())]
    assert done == [], "translated now: remove them from NOT_YET"
