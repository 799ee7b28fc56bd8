"""/admin_add, /admin_remove and /admins through the real bot and the sandbox, with two
configured admin persons (A and B on Telegram)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from medcrypt.bot.domain import notices
from tests.support.admins import CODE_RE, WA_NEWCOMER, wa_says
from tests.support.clocks import MovableClock
from tests.support.rigs import ADMIN_A, ADMIN_B, START, Rig, live_bot, until

NEW_TG = 5550777


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clock=MovableClock(START),
                        clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]}) as running:
        yield running


def code_of(reply: str) -> str:
    found = CODE_RE.search(reply)
    assert found, reply
    return found.group(1)


def refused(rig: Rig) -> list[dict[str, object]]:
    return [dict(e.details or {}) for e in rig.audit_log().export()
            if e.action == "confirmation.refused"]


async def test_a_grant_needs_a_second_person_and_records_both(rig: Rig) -> None:
    add = f"/admin_add whatsapp:{WA_NEWCOMER}"
    code = code_of(await rig.tg_says(ADMIN_A, add, expect="another person"))
    # A cannot confirm their own proposal; the code is used by the try.
    answer = await rig.tg_says(ADMIN_A, f"{add} {code}", expect="Nothing was done")
    assert "another person" in answer
    answer = await rig.tg_says(ADMIN_B, f"{add} {code}", expect="Nothing was done")
    assert "used already" in answer
    # B confirms a fresh code, but for another number: bound to the arguments.
    code = code_of(await rig.tg_says(ADMIN_A, add, expect="another person"))
    answer = await rig.tg_says(ADMIN_B, f"/admin_add whatsapp:+15557770099 {code}",
                               expect="Nothing was done")
    assert "other arguments" in answer
    code = code_of(await rig.tg_says(ADMIN_A, add, expect="another person"))
    await rig.tg_says(ADMIN_B, f"/admin_add whatsapp:{WA_NEWCOMER[:5]} {WA_NEWCOMER[5:]}",
                      expect="needs different arguments")  # not one address
    assert await rig.tg_says(ADMIN_B, f"{add} {code}", expect="Admin") == "Admin added."
    await until(lambda: any("confirmed by another admin" in t for t in rig.tg_texts(ADMIN_A)))
    assert [r["reason"] for r in refused(rig)] == ["same_person", "used", "mismatch"]
    _post, listing = await wa_says(rig, WA_NEWCOMER, "/admins", expect="one line per person")
    assert "whatsapp …013 (added in chat)" in listing
    added = [e for e in rig.audit_log().export()
             if (e.details or {}).get("event") == "admin_added"]
    assert len(added) == 1 and str((added[0].details or {})["proposer"]).startswith("person:")

    # A second identity of the new person: their Telegram account, joined by B, confirmed
    # by A. One person, two identities, on one line.
    join = f"/admin_add telegram:{NEW_TG} whatsapp:{WA_NEWCOMER}"
    code = code_of(await rig.tg_says(ADMIN_B, join, expect="another person"))
    assert await rig.tg_says(ADMIN_A, f"{join} {code}", expect="Admin") == "Admin added."
    listing = await rig.tg_says(NEW_TG, "/admins", expect="one line per person")
    (line,) = [line for line in listing.splitlines() if "…013" in line]
    assert f"telegram …{str(NEW_TG)[-3:]}" in line and line.endswith("(added in chat)")
    # The new person cannot confirm what they asked for from their other identity.
    code = code_of(await rig.tg_says(NEW_TG, "/admin_add telegram:4242", expect="another"))
    _post, answer = await wa_says(rig, WA_NEWCOMER, f"/admin_add telegram:4242 {code}",
                                  expect="Nothing was done")
    assert "another account" in answer
    # Configured identities change in the configuration only.
    answer = await rig.tg_says(ADMIN_A, f"/admin_add telegram:{ADMIN_B}", expect="admin")
    assert answer == "That identity is an admin already."
    answer = await rig.tg_says(ADMIN_A, f"/admin_add telegram:4242 telegram:{ADMIN_B}",
                               expect="configuration")
    assert "added in chat" in answer


async def test_removal_takes_a_fresh_code_from_the_same_admin(rig: Rig) -> None:
    add = f"/admin_add telegram:{NEW_TG}"
    code = code_of(await rig.tg_says(ADMIN_A, add, expect="another person"))
    await rig.tg_says(ADMIN_B, f"{add} {code}", expect="Admin added")
    remove = f"/admin_remove telegram:{NEW_TG}"
    code = code_of(await rig.tg_says(ADMIN_A, remove, expect="code"))
    answer = await rig.tg_says(ADMIN_B, f"{remove} {code}", expect="Nothing was done")
    assert "only the person who asked" in answer
    assert await rig.tg_says(NEW_TG, "/admins", expect="") != notices.ADMIN_ONLY
    code = code_of(await rig.tg_says(ADMIN_A, remove, expect="code"))
    assert await rig.tg_says(ADMIN_A, f"{remove} {code}", expect="Admin") == "Admin removed."
    assert await rig.tg_says(NEW_TG, "/admins", expect="") == notices.ADMIN_ONLY
    answer = await rig.tg_says(ADMIN_A, f"{remove} {code}", expect="not an admin added")
    assert "config" in answer
