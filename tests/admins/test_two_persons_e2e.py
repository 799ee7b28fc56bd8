"""Two admins means two people: the attacks of the security review, as the attacker
runs them, through the real bot and the sandbox.

An admin who controls a second platform identity - a WhatsApp number they add in chat,
or one the configuration lists for them - must not be the "second admin" who approves
their own break-glass request.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from medcrypt.crypto.errors import ConfigError
from medcrypt.storage.models.breakglass import BreakGlassRequest
from tests.support.admins import (
    A_SECOND_PHONE,
    CODE_RE,
    REQUEST_RE,
    refusals,
    wa_says,
)
from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow, pair, say
from tests.support.rigs import ADMIN_A, ADMIN_B, START, Rig, live_bot

REASON = "patient unconscious in ER"


async def open_request(rig: Rig) -> str:
    """A pairing with a message, and admin A's break-glass request for it (its code)."""
    conv = await pair(rig)
    await say(rig, conv, "physician", "Your potassium is 5.9 mmol/L.")
    reply = await rig.tg_says(ADMIN_A, f"/breakglass {conv.pairing_id.hex()[:12]} {REASON}",
                              expect="opened")
    found = REQUEST_RE.search(reply)
    assert found, reply
    return found.group(1)


def assert_not_exported(rig: Rig, code: str) -> None:
    with rig.bot.sessions() as s:
        row = s.scalar(select(BreakGlassRequest).where(BreakGlassRequest.code == code))
    assert row is not None
    assert (row.status, row.exported_at) == ("pending", None), "the bundle was exported"
    assert not any(m.document for m in rig.tg.messages_to(ADMIN_A))


async def test_an_admin_cannot_approve_their_own_request_from_a_number_they_added(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        export_env=monkeypatch,
                        clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]}) as rig:
        # Admin A adds a WhatsApp number of their own as if it were someone else.
        reply = await rig.tg_says(ADMIN_A, f"/admin_add whatsapp:{A_SECOND_PHONE}",
                                  expect="dmin")
        asked = CODE_RE.search(reply)
        if asked:  # a second admin must confirm: admin B, who takes A's word for it, does
            await rig.tg_says(ADMIN_B, f"/admin_add whatsapp:{A_SECOND_PHONE} "
                                       f"{asked.group(1)}", expect="added")
        code = await open_request(rig)
        _post, answer = await wa_says(rig, A_SECOND_PHONE, f"/approve {code}",
                                      expect="pprove")
        assert "approved:" not in answer, answer
        assert "made you an admin" in answer
        assert_not_exported(rig, code)
        assert {"command": "approve", "why": "granted_by_requester",
                "request": code} in refusals(rig)
        # Admin B - another person, who A did not appoint - still can.
        approved = await rig.tg_says(ADMIN_B, f"/approve {code}", expect="approved")
        assert "1 messages" in approved


async def test_an_admin_listed_on_both_platforms_cannot_approve_their_own_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with live_bot(
            tmp_path, clock=MovableClock(START), escrow=make_escrow(), export_env=monkeypatch,
            environ={"MEDCRYPT_ADMIN_WHATSAPP": f"lee={A_SECOND_PHONE}"},
            clinic={"admins": [{"handle": "lee", "telegram_ids": [ADMIN_A]}],
                    "admin_telegram_ids": [ADMIN_B]}) as rig:
        code = await open_request(rig)
        _post, answer = await wa_says(rig, A_SECOND_PHONE, f"/approve {code}",
                                      expect="pprove")
        assert "approved:" not in answer, answer
        assert "another person" in answer
        assert_not_exported(rig, code)
        assert {"command": "approve", "why": "same_person", "request": code} in refusals(rig)
        await rig.tg_says(ADMIN_B, f"/approve {code}", expect="approved")


async def test_one_admin_on_both_platforms_without_saying_who_is_who_is_refused_at_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The configuration that used to list one admin on both platforms: a Telegram id
    and, in the environment, their number. The bot cannot tell one person from two."""
    with pytest.raises(ConfigError, match=r"clinic\.admins"):
        async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                            export_env=monkeypatch,
                            environ={"MEDCRYPT_ADMIN_WHATSAPP": A_SECOND_PHONE},
                            clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]}) as rig:
            code = await open_request(rig)
            _post, answer = await wa_says(rig, A_SECOND_PHONE, f"/approve {code}",
                                          expect="pprove")
            assert "approved:" not in answer, answer
