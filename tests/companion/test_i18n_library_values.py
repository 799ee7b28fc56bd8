"""The library's refusals that carry values read in the user's language (issue 16): a
patient who opens an old token after its grace window is told, in Spanish, which month
was deleted and when; a physician whose scan is over the limit is told the limit, its
digits grouped as es-MX writes them, a count in its plural form - not an English
sentence, and not a sentence without its values.

The errors are raised by the real v3 session and the real zxcvbn (no hand-written
messages), then shown as the command line shows them (:func:`companion.i18n.error_text`).
"""

from __future__ import annotations

import ast
import io
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.companion import i18n
from medcrypt.companion.library_texts import PATTERNS, WORDS, ZXCVBN_TEXTS, Valued, with_values
from medcrypt.companion.passphrase_strength import estimate, require_fair
from medcrypt.crypto._primitives import hchacha20
from medcrypt.crypto.endpoint.attachment import seal_file
from medcrypt.crypto.endpoint.envelope import MAX_BODY
from medcrypt.crypto.endpoint.v3.session import MAX_SKIP
from medcrypt.crypto.endpoint.v3.verified import VerifiedPeer, fingerprint_v3, require_verified
from medcrypt.crypto.errors import ConfigError, EpochNotYet, EpochShredded, MedCryptError
from medcrypt.crypto.keyless.epochs import epoch_of, grace_end
from medcrypt.crypto.keyless.parts import MAX_PARTS, MIN_MAX_CHARS, split_token
from medcrypt.crypto.keyless.wire import Direction
from tests.support import companion as cli_support
from tests.support.companion import Cli
from tests.support.v3pairs import make_v3_pair

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOV = epoch_of(T0)
GRACE = datetime(2026, 12, 8, tzinfo=UTC)


@pytest.fixture
def spanish(monkeypatch: pytest.MonkeyPatch) -> None:
    """The language is read from the environment at every text (nothing cached)."""
    monkeypatch.setenv(i18n.ENV_LANG, "es")


def _shredded() -> MedCryptError:
    pair = make_v3_pair(NOV)
    old = pair.patient.encrypt(b"november", now=T0)
    pair.physician.shred_due(GRACE)
    with pytest.raises(EpochShredded) as caught:
        pair.physician.decrypt(old, now=GRACE)
    return caught.value


def _not_yet() -> MedCryptError:
    pair = make_v3_pair(NOV)
    future = pair.patient.encrypt(b"from the future", now=T0 + timedelta(days=45))
    with pytest.raises(EpochNotYet) as caught:
        pair.physician.decrypt(future, now=T0)
    return caught.value


def test_a_shredded_month_reads_in_spanish_with_its_dates(spanish: None) -> None:
    exc = _shredded()
    assert with_values(str(exc)) is not None, str(exc)  # the library's wording is known
    shown = i18n.error_text(exc)
    assert shown.startswith("Los mensajes de 2026-11 se borraron definitivamente")
    assert "2026-12-08" in shown and "no se pueden leer" in shown


def test_a_month_not_started_reads_in_spanish(spanish: None) -> None:
    shown = i18n.error_text(_not_yet())
    assert shown.startswith("El mes 2027-01 todavía no empieza"), shown


def test_in_english_the_same_errors_keep_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(i18n.ENV_LANG, "en")
    shown = i18n.error_text(_shredded())
    assert "2026-11" in shown and "2026-12-08" in shown


def test_every_pattern_has_its_values_in_its_msgids() -> None:
    """A msgid that dropped a value would show a sentence without its date; a count's
    singular must say the same things as its plural."""
    for entry in PATTERNS:
        assert set(entry.pattern.groupindex) == _names(entry.english), entry.english
        if entry.singular is not None:
            assert "n" in entry.pattern.groupindex, entry.english
            assert _names(entry.singular) == _names(entry.english), entry.singular


def _names(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# ------------------------------------------------------------ counts, sizes and words
# Each error below is raised by the real library code; only its display is checked.


def _raised(call: Callable[[], object]) -> MedCryptError:
    with pytest.raises(MedCryptError) as caught:
        call()
    return caught.value


def _file_over(limit: int) -> MedCryptError:
    return _raised(lambda: seal_file(
        io.BytesIO(bytes(limit + 1)), io.BytesIO(), pairing_id=bytes(16), epoch=NOV,
        direction=Direction.PATIENT_TO_PHYSICIAN, name="scan.pdf", max_size=limit))


def test_a_file_over_the_limit_reads_in_spanish_with_its_size_grouped(spanish: None) -> None:
    exc = _file_over(20_971_520)
    assert str(exc) == "file is larger than the 20971520-byte limit"  # the library's English
    shown = i18n.error_text(exc)
    assert shown == "el archivo supera el límite de 20,971,520 bytes"
    # es-MX groups digits as CLDR says (Babel, a dev tool, is the reference here)
    assert format_decimal(20_971_520, locale="es_MX") in shown


def test_in_english_a_valued_refusal_reads_exactly_as_the_library_wrote_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(i18n.ENV_LANG, "en")
    for exc in (_file_over(16_000_000), _body_too_long(), _too_many_parts(), _skipped_keys(),
                _short_key(), _changed_key(), _not_yet(), _shredded()):
        assert with_values(str(exc)) is not None, str(exc)
        assert i18n.error_text(exc) == str(exc)


def _body_too_long() -> MedCryptError:
    pair = make_v3_pair(NOV)
    return _raised(lambda: pair.patient.encrypt(bytes(MAX_BODY + 1), now=T0))


def test_a_message_too_long_reads_in_spanish(spanish: None) -> None:
    shown = i18n.error_text(_body_too_long())
    assert shown == "el mensaje supera el límite de 1,048,576 bytes"


def test_the_command_line_shows_a_valued_refusal_in_the_users_language(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through ``medcrypt encrypt`` as a patient runs it: same exit code in both
    languages, the library's English under C, Spanish with its number under es_MX."""
    pair = cli_support.make_v3_pair(cli)
    too_long = "a" * (MAX_BODY + 1)
    shown = {}
    for locale in ("C", "es_MX.UTF-8"):
        for name in ("MEDCRYPT_LANG", "LC_ALL", "LC_MESSAGES"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LANG", locale)
        result = cli(pair.pat, "encrypt", stdin=too_long)
        assert result.code == 4, result.err
        shown[locale] = result.err
    assert shown["C"] == "medcrypt: error: message body exceeds 1048576 bytes\n"
    assert shown["es_MX.UTF-8"] == (
        "medcrypt: error: el mensaje supera el límite de 1,048,576 bytes\n")


def _too_many_parts() -> MedCryptError:
    pair = make_v3_pair(NOV)
    token = pair.patient.encrypt(bytes(MAX_BODY), now=T0)
    return _raised(lambda: split_token(token, MIN_MAX_CHARS))


def test_a_token_that_needs_too_many_parts_reads_in_spanish(spanish: None) -> None:
    exc = _too_many_parts()
    parts = with_values(str(exc))
    assert parts is not None
    count = parts[1]["n"]
    assert isinstance(count, int) and count > MAX_PARTS
    assert i18n.error_text(exc) == f"el token necesitaría {count:,} partes (límite 2,048)"


def _skipped_keys() -> MedCryptError:
    pair = make_v3_pair(NOV)
    tokens = [pair.patient.encrypt(b".", now=T0) for _ in range(MAX_SKIP + 2)]
    return _raised(lambda: pair.physician.decrypt(tokens[-1], now=T0))


def test_a_token_that_skips_too_many_keys_reads_in_spanish(spanish: None) -> None:
    shown = i18n.error_text(_skipped_keys())
    assert shown == "el token se salta 1,001 llaves de mensaje (límite 1,000)"


def _short_key() -> MedCryptError:
    return _raised(lambda: hchacha20(bytes(31), bytes(16)))


def test_the_name_of_what_is_wrong_is_translated_too(spanish: None) -> None:
    exc = _short_key()
    assert str(exc) == "key must be 32 bytes"
    assert i18n.error_text(exc) == "la llave debe tener 32 bytes"


def _changed_key() -> MedCryptError:
    verified = VerifiedPeer(bytes(16), fingerprint_v3(bytes(32)), 0)
    return _raised(lambda: require_verified(verified, bytes(16), bytes([1]) * 32))


def test_a_changed_key_reads_in_spanish_with_both_fingerprints(spanish: None) -> None:
    exc = _changed_key()
    shown = i18n.error_text(exc)
    assert shown.startswith("la llave del otro lado cambió (verificada ")
    assert fingerprint_v3(bytes(32))[:16] in shown
    assert fingerprint_v3(bytes([1]) * 32)[:16] in shown


def test_a_grace_window_out_of_range_reads_in_spanish(spanish: None) -> None:
    shown = i18n.error_text(_raised(lambda: grace_end(NOV, 1000)))
    assert shown.startswith("un periodo de gracia de 1,000 días está fuera de 0 a ")


@pytest.mark.parametrize(("n", "form"), [(1, "1 parte"), (2, "2 partes"), (0, "0 partes"),
                                         (4096, "4,096 partes")])
def test_counts_take_es_mx_plural_forms(spanish: None, n: int, form: str) -> None:
    """es_MX has GNU gettext's two forms (n != 1); the count is written for the locale.
    (The library raises this only above its limit: the catalog's singular is checked
    through the same ngettext the command line uses.)"""
    entry = next(e for e in PATTERNS if e.english.startswith("token would need"))
    assert entry.singular is not None
    shown = i18n.ngettext(entry.singular, entry.english, n, limit=2048)
    assert shown == f"el token necesitaría {form} (límite 2,048)"
    english = i18n.catalog("en").ngettext(entry.singular, entry.english, n)
    assert english.format(n=n, limit=2048).endswith(
        f"{n} part (limit 2048)" if n == 1 else f"{n} parts (limit 2048)")


@given(st.sampled_from(PATTERNS), st.data())
def test_any_values_read_back_from_the_english(entry: Valued, data: st.DataObject) -> None:
    """The English a pattern describes, with any values of the kinds it allows, is
    recognised by that pattern (or an earlier, more specific one) with those values."""
    values: dict[str, object] = {}
    for name in entry.pattern.groupindex:
        values[name] = data.draw(_VALUE_KINDS.get(name, st.integers(-10, 10**9)), label=name)
    english = entry.english.format(**values)
    found = with_values(english)
    assert found is not None, english
    if found[0] is entry:
        assert {k: str(v) for k, v in found[1].items()} == {k: str(v) for k, v in values.items()}
    else:
        assert PATTERNS.index(found[0]) < PATTERNS.index(entry)


_VALUE_KINDS: dict[str, st.SearchStrategy[object]] = {
    "month": st.from_regex(r"\A[12][0-9]{3}-(0[1-9]|1[0-2])\Z"),
    "when": st.from_regex(r"\A[0-9T:+\-]{1,30}\Z"),
    "grace": st.from_regex(r"\A[0-9T:+\-]{1,30}\Z"),
    "prefix": st.from_regex(r"\Amedcrypt-pair:[0-9]{1,2}:\Z"),
    "verified": st.from_regex(r"\A[0-9a-f]{16}\Z"),
    "current": st.from_regex(r"\A[0-9a-f]{16}\Z"),
    "what": st.sampled_from(WORDS),
    "role": st.sampled_from(["patient", "physician"]),
}


def test_zxcvbn_still_says_every_text_we_translate() -> None:
    """Our catalog translates zxcvbn's advice by its exact words: a reworded sentence in a
    new zxcvbn release would silently go untranslated, so it fails here instead."""
    import zxcvbn.feedback

    source = Path(zxcvbn.feedback.__file__).read_text(encoding="utf-8")
    # zxcvbn splits some sentences over adjacent string literals: join them as Python does.
    joined = "\n".join(_literals(source))
    for text in ZXCVBN_TEXTS:
        assert text in joined, text


def _literals(source: str) -> list[str]:
    return [n.value for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


@pytest.mark.parametrize("passphrase", ["aaaaaaaaaa", "Password1", "P@ssw0rd", "1987"])
def test_a_weak_passphrase_is_refused_with_spanish_advice(
        spanish: None, passphrase: str) -> None:
    with pytest.raises(ConfigError) as caught:
        require_fair(passphrase)
    shown = i18n.error_text(caught.value)
    strength = estimate(passphrase)
    for english in (strength.warning, *strength.suggestions):
        if english:
            assert english not in shown
            assert i18n.catalog("es_MX").gettext(english) in shown
    assert "Agregue una o dos palabras más" in shown
    # the English message keeps zxcvbn's own words (what a traceback or a test sees)
    assert all(s in str(caught.value) for s in strength.suggestions)


@given(st.one_of(st.text(), st.sampled_from(PATTERNS).flatmap(
    lambda e: st.text(alphabet=st.sampled_from(sorted(set(e.english) | set("0123456789-"))),
                      max_size=len(e.english) + 60))))
def test_any_message_is_shown_without_an_error(message: str) -> None:
    """Whatever a message says (near-misses of the patterns included), showing it never
    fails: a message no pattern reads keeps its English."""
    found = with_values(message)
    shown = i18n.error_text(MedCryptError(message))
    if found is None:
        assert shown == i18n._(message)
    else:
        assert isinstance(shown, str) and shown
