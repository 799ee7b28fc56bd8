"""The gettext catalogs the bot ships (issue 16, Spanish; docs/adr/0035).

What a translator or a new msgid can break without any other test noticing: an empty
plural form (Python's gettext then replies with an empty string), a msgid left
untranslated in es_MX, a placeholder renamed in a translation (a KeyError at the moment
a patient needs the reply), a .mo older than its .po, a template missing a marked msgid,
and a runtime that imports Babel (36 MB the companion install must not need).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.bot.domain import i18n, notices
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.errors import ConfigError
from tests.support.catalogs import msgids, placeholder_names, untranslated

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = i18n.LOCALE_DIR / "medcrypt.pot"


def _po(language: str) -> Catalog:
    path = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "medcrypt.po"
    with path.open("rb") as f:
        return read_po(f, locale=language)



def _empty_plurals(catalog: Catalog) -> list[object]:
    """Plural entries with a missing or empty form."""
    return [m.id for m in catalog if isinstance(m.id, tuple) and (
        not isinstance(m.string, tuple) or len(m.string) != catalog.num_plurals
        or not all(m.string))]



def test_the_empty_plural_check_catches_an_empty_form() -> None:
    catalog = Catalog(locale="es_MX")
    catalog.add(("{n} second", "{n} seconds"), ("{n} segundo", ""))
    assert _empty_plurals(catalog) == [("{n} second", "{n} seconds")]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_no_catalog_has_an_empty_plural_entry(language: str) -> None:
    catalog = _po(language)
    assert any(isinstance(m.id, tuple) for m in catalog)  # the check has something to see
    assert _empty_plurals(catalog) == []


def test_es_mx_ships_gnu_two_plural_forms_and_the_runtime_uses_them() -> None:
    assert _po("es_MX").plural_forms == "nplurals=2; plural=(n != 1);"
    one = i18n.translate_plural("es_MX", notices.PIECES_INCOMPLETE, 1)
    many = i18n.translate_plural("es_MX", notices.PIECES_INCOMPLETE, 30)
    assert "1 segundo." in one and "30 segundos." in many


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_msgid_of_the_template_is_translated(language: str) -> None:
    with TEMPLATE.open("rb") as f:
        template = read_po(f)
    catalog = _po(language)
    assert msgids(catalog) == msgids(template)
    assert untranslated(catalog) == []


def test_es_mx_is_spanish_not_a_copy() -> None:
    copies = [m.id for m in _po("es_MX") if m.id and m.string == m.id]
    assert copies == []


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_translations_keep_the_placeholders_of_their_msgid(language: str) -> None:
    for m in _po(language):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set().union(*(placeholder_names(i) for i in ids))
        for text in strings:
            assert placeholder_names(text) == wanted, (language, ids[0][:40])


def test_the_template_holds_every_marked_msgid(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-k", "N_",
                    "-k", "Nn_:1,2", "--no-default-keywords", "-o", str(fresh),
                    str(ROOT / "bot")], check=True)
    with fresh.open("rb") as f, TEMPLATE.open("rb") as g:
        assert msgids(read_po(f)) == msgids(read_po(g))


def test_the_committed_mo_files_are_compiled_from_the_committed_po() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "i18n.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_runtime_reads_the_catalogs_without_babel() -> None:
    code = ("import sys\n"
            "from medcrypt.bot.domain import i18n, notices\n"
            "print(i18n.translate('es_MX', notices.UNKNOWN_COMMAND))\n"
            "assert 'babel' not in sys.modules, 'babel imported at runtime'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Comando desconocido. Escriba /help."


def test_an_unknown_language_is_an_error_not_silent_english() -> None:
    with pytest.raises(ValueError, match="no catalog"):
        i18n.translate("fr", notices.UNKNOWN_COMMAND)


@pytest.mark.parametrize(("code", "language"), [
    ("es-419", "es_MX"), ("es", "es_MX"), ("es-ES", "es_MX"), ("ES_mx", "es_MX"),
    ("en", "en"), ("en-GB", "en"), ("fr", None), ("", None), (None, None), ("pt-BR", None),
])
def test_platform_language_codes_map_to_shipped_catalogs(code: str | None,
                                                         language: str | None) -> None:
    assert i18n.from_code(code) == language


@given(st.one_of(st.none(), st.text(max_size=40)))
def test_any_language_code_maps_to_a_shipped_catalog_or_none(code: str | None) -> None:
    mapped = i18n.from_code(code)
    assert mapped is None or mapped in i18n.LANGUAGES
    if code and code.strip().lower().startswith("es") and (
            len(code.strip()) == 2 or code.strip()[2] in "-_"):
        assert mapped == "es_MX"


def test_clinic_language_settings_are_taken() -> None:
    clinic = parse_settings({"clinic": {
        "default_language": "es_MX",
        "emergency_text_by_language": {"es_MX": "Llame al 911 si es una emergencia."},
    }}).clinic
    assert clinic.default_language == "es_MX"
    assert clinic.emergency_text_for("es_MX") == "Llame al 911 si es una emergencia."
    assert clinic.emergency_text_for("en") == clinic.emergency_text


@pytest.mark.parametrize(("clinic", "key"), [
    ({"default_language": "es"}, "clinic.default_language"),
    ({"default_language": "fr"}, "clinic.default_language"),
    ({"emergency_text_by_language": {"fr": "Appelez le 15."}},
     "clinic.emergency_text_by_language.fr"),
    ({"emergency_text_by_language": {"es_MX": "dos\nlíneas"}},
     "clinic.emergency_text_by_language.es_MX"),
    ({"emergency_text_by_language": {"es_MX": 911}},
     "clinic.emergency_text_by_language.es_MX"),
    ({"emergency_text_by_language": "es_MX"}, "clinic.emergency_text_by_language"),
])
def test_bad_language_settings_stop_the_start_naming_the_key(clinic: dict[str, object],
                                                             key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"clinic": clinic})
    assert caught.value.key == key


def test_the_catalog_reader_is_babel_only_in_tests() -> None:
    # Babel is a dev dependency; the companion and bot locks must not carry it.
    for lock in ("companion.lock", "bot.lock"):
        text = (ROOT / "requirements" / lock).read_text()
        assert "\nbabel==" not in text.lower()
    assert "\nbabel==" in (ROOT / "requirements" / "dev.lock").read_text().lower()
