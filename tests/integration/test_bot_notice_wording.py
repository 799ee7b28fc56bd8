"""`medcrypt pair complete` reads the bot's "pairing answer arrived" notice in every
language the bot writes it in (issue 16).

The physician pastes the chat: the relayed accept, then the bot's notice of when it
arrived and from which masked account. The bot writes that notice in the physician's
stored language, which need not be the terminal's; the companion may not read the bot's
catalog, so it keeps one pattern per language. Rendered here from the bot's own catalogs,
so a change of wording in either catalog fails this test rather than silently dropping
the account from the physician's screen.
"""

from __future__ import annotations

import pytest

from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import LANGUAGES, translate
from medcrypt.companion.cli.pair_v3 import _reported

TOKEN = "[MEDCRYPT:v3:accept-token-stand-in]"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("platform", ["Telegram", "WhatsApp"])
def test_the_companion_reads_the_arrival_notice_in_each_bot_language(
        language: str, platform: str) -> None:
    notice = translate(language, notices.ACCEPT_ARRIVED, n=2, tag="K7Q-2MX", at="09:41:07",
                       platform=platform, tail="57")
    pasted = f"earlier chat\n{TOKEN}\n{notice}\n"
    reported = _reported(pasted, TOKEN, None)
    assert reported.account == "57"
    assert "09:41:07" in reported.line and platform in reported.line


def test_a_notice_before_the_token_is_not_taken_for_it() -> None:
    notice = translate("es_MX", notices.ACCEPT_ARRIVED, n=1, tag="K7Q-2MX", at="09:41:07",
                       platform="Telegram", tail="57")
    assert _reported(f"{notice}\n{TOKEN}\n", TOKEN, None).account == ""


def test_the_account_flag_wins_over_the_notice() -> None:
    notice = translate("es_MX", notices.ACCEPT_ARRIVED, n=1, tag="K7Q-2MX", at="09:41:07",
                       platform="WhatsApp", tail="57")
    assert _reported(f"{TOKEN}\n{notice}", TOKEN, "+5215512345678").account == "+5215512345678"
