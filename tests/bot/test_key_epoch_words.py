"""``/jobs`` says what the key_epoch job did in words, in the admin's language (issue 16's
"/stats and /jobs print internal labels"), for every key its run records: the summary
comes from storage.kek_epochs.CloseReport.summary() and key_epochs.close_if_due."""

from __future__ import annotations

import pytest

from medcrypt.bot.scheduler.listing import plain_summary

#: Every key a key_epoch run can record, each non-zero.
CLOSED = {"due": 1, "opened": 1, "rewrapped": 1204, "retired_keks": 1, "root_version": 3,
          "destroyed_versions": 1, "provider_calls": 4, "pending": 2,
          "removable_env_versions": 1}
BLOCKED = {"due": 1, "needs_operator": 1, "kek_age_days": 31}


@pytest.mark.parametrize("language", ["en", "es_MX"])
@pytest.mark.parametrize("summary", [CLOSED, BLOCKED])
def test_every_key_epoch_fact_is_words(summary: dict[str, int], language: str) -> None:
    text = plain_summary(summary, language)
    assert "=" not in text
    # No key comes out as "key: value", the fallback for a fact nobody put in words.
    for key in summary:
        assert f"{key.replace('_', ' ')}: " not in text, key
    assert "_" not in text.replace("medcrypt-bot keys close-epoch", "")


def test_spanish_counts_take_their_plural() -> None:
    text = plain_summary(CLOSED, "es_MX")
    assert "1204 llaves de datos recifradas" in text
    assert "1 versión raíz anterior destruida" in text
    assert "versión raíz 3" in text
    assert "en espera del operador" in plain_summary(BLOCKED, "es_MX")
    assert "31 días" in plain_summary(BLOCKED, "es_MX")
