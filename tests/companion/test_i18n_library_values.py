"""The library's refusals that carry a month or a date read in the user's language
(issue 16): a patient who opens an old token after its grace window is told, in Spanish,
which month was deleted and when - not an English sentence, and not a sentence without
its dates.

The errors are raised by the real v3 session and the real zxcvbn (no hand-written
messages), then shown as the command line shows them (:func:`companion.i18n.error_text`).
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medcrypt.companion import i18n
from medcrypt.companion.library_texts import PATTERNS, ZXCVBN_TEXTS, with_values
from medcrypt.companion.passphrase_strength import estimate, require_fair
from medcrypt.crypto.errors import ConfigError, EpochNotYet, EpochShredded, MedCryptError
from medcrypt.crypto.keyless.epochs import epoch_of
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


def test_every_pattern_has_its_values_in_its_msgid() -> None:
    """A msgid that dropped a value would show a sentence without its date."""
    for pattern, msgid in PATTERNS:
        for name in pattern.groupindex:
            assert "{" + name + "}" in msgid, (pattern.pattern, name)


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
