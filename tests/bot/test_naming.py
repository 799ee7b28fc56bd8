"""Names in every flow (issue 16), through the sandbox with the real bot.

Pairing tags in every pairing reply, the admins' /pairings, /shred and /breakglass by
tag, /unpair and /delete_me behind the confirmation step, /start for admins, /stats and
/jobs in plain words, and the abuse cases: a stranger's guessed tag, a tag that names no
pairing, a confirmation replayed or sent from another account.
"""

from __future__ import annotations

import os

from sqlalchemy import select

from medcrypt.bot.commands import delete_me, start, unpair
from medcrypt.bot.domain import names, notices
from medcrypt.bot.domain.breakglass import texts as breakglass_texts
from medcrypt.bot.domain.confirmations import _REPLIES as CONFIRMATION_REPLIES
from medcrypt.bot.domain.confirmations import Refusal
from medcrypt.crypto.keyless.tags import tag_of
from medcrypt.storage.models.pairings import Pairing
from tests.support.admins import REQUEST_RE, confirmation_line, wa_says
from tests.support.monitoring import get
from tests.support.rigs import ADMIN_A, PATIENT_WA, PHYSICIAN_TG, Rig, until
from tests.support.tags import colliding_ids
from tests.support.tokens import accept_token, register_token

FIRST, SECOND = colliding_ids()
SECOND_PATIENT = "+15551230002"
STRANGER_TG = 4040404


async def pair_with(rig: Rig, pid: bytes, patient: str = PATIENT_WA) -> None:
    """The physician (Telegram) registers ``pid``; ``patient`` (WhatsApp) accepts."""
    tag = tag_of(pid)
    await rig.tg_says(PHYSICIAN_TG, register_token(pid),
                      expect=notices.REGISTERED.format(tag=tag))
    posted = await rig.tw.user_sends_whatsapp_async(patient, accept_token(pid))
    assert posted.http_status == 200
    await rig.tw.wait_until_async(lambda: any(
        notices.PAIRED_PATIENT.format(tag=tag) == m.body for m in rig.tw.messages_to(patient)))
    await until(lambda: notices.PAIRED_PHYSICIAN.format(tag=tag)
                                  in rig.tg_texts(PHYSICIAN_TG))


def status_of(rig: Rig, pid: bytes) -> str | None:
    with rig.bot.sessions() as s:
        row = s.get(Pairing, pid.hex())
        return None if row is None else row.status


async def test_every_pairing_reply_names_the_pairing_by_its_tag(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair_with(rig, pid)
    status = await rig.tg_says(PHYSICIAN_TG, "/status", expect="you are the physician")
    assert f"Pairing 1 ({tag_of(pid)}): you are the physician; active." in status
    with rig.bot.sessions() as s:
        assert s.scalar(select(Pairing.tag).where(Pairing.pairing_id == pid.hex())) == \
            tag_of(pid)


async def test_no_tag_in_the_metrics(rig: Rig) -> None:
    """A tag is a pseudonym of a pairing: never a metric label (a refused registration
    counts under the reason ``tag_taken``, not under its tag)."""
    first, second = bytes.fromhex(FIRST), bytes.fromhex(SECOND)
    await pair_with(rig, first)
    await rig.tg_says(PHYSICIAN_TG, register_token(second), expect="Not registered")
    await rig.tg_says(ADMIN_A, "/pairings", expect="Pairings 1-1 of 1")
    body = (await get(rig.bot.monitoring_port, "/metrics")).text
    assert "tag_taken" in body
    for name in (tag_of(first), tag_of(first).replace("-", ""), FIRST, FIRST[:8]):
        assert name not in body


async def test_an_offer_whose_tag_is_taken_is_refused_and_nothing_is_stored(rig: Rig) -> None:
    first, second = bytes.fromhex(FIRST), bytes.fromhex(SECOND)
    assert tag_of(first) == tag_of(second)
    await rig.tg_says(PHYSICIAN_TG, register_token(first), expect="registered")
    refusal = await rig.tg_says(PHYSICIAN_TG, register_token(second), expect="Not registered")
    assert refusal == notices.TAG_TAKEN.format(tag=tag_of(second))
    assert status_of(rig, second) is None and status_of(rig, first) == "pending"


async def test_admins_list_pairings_and_strangers_get_nothing(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair_with(rig, pid)
    listing = await rig.tg_says(ADMIN_A, "/pairings", expect="Pairings 1-1 of 1")
    assert f"{tag_of(pid)}: telegram, whatsapp; active; last activity " in listing
    assert PATIENT_WA not in listing and PATIENT_WA.lstrip("+") not in listing
    # A member and a stranger are refused the list, as every admin command.
    for chat in (PHYSICIAN_TG, STRANGER_TG):
        assert await rig.tg_says(chat, "/pairings", expect="admins only") == notices.ADMIN_ONLY
    # A stranger who guessed (or read) a tag: every command that takes one refuses them.
    for command in (f"/shred {tag_of(pid)}", f"/breakglass {tag_of(pid)} emergency care now",
                    f"/rotate_now {tag_of(pid)}"):
        assert await rig.tg_says(STRANGER_TG, command, expect="admin") in (
            notices.ADMIN_ONLY, breakglass_texts.ADMIN_ONLY)
    assert (await rig.tg_says(STRANGER_TG, f"/unpair {tag_of(pid)}", expect="Nothing")
            == unpair.NOT_YOURS)
    assert status_of(rig, pid) == "active"


async def test_shred_and_breakglass_take_the_tag(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair_with(rig, pid)
    tag = tag_of(pid)
    # A tag that names no pairing: a clear refusal, nothing asked, nothing done.
    other = tag_of(os.urandom(16))
    refused = await rig.tg_says(ADMIN_A, f"/shred {other}", expect="Nothing was shredded")
    assert names.NO_SUCH_PAIRING in refused
    assert names.NOT_A_NAME in await rig.tg_says(ADMIN_A, "/shred K7Q", expect="Nothing")
    opened = await rig.tg_says(ADMIN_A, f"/breakglass {tag.lower()} patient unconscious in ER",
                               expect="opened")
    assert f"opened for pairing {tag}" in opened
    code = REQUEST_RE.search(opened)
    assert code is not None
    denied = await rig.tg_says(ADMIN_A, f"/deny {code.group(1)}", expect="denied")
    assert f"denied (pairing {tag})" in denied
    ask = await rig.tg_says(ADMIN_A, f"/shred {tag.replace('-', '')}", expect="To confirm")
    assert f"This ends pairing {tag} for good" in ask
    done = await rig.tg_says(ADMIN_A, confirmation_line(ask), expect="Shredded pairing")
    assert done.startswith(f"Shredded pairing {tag}.")
    await until(lambda: any(
        f"shredded your conversation {tag}" in t for t in rig.tg_texts(PHYSICIAN_TG)))


async def test_unpair_asks_which_then_confirms_and_refuses_others_and_replays(
        rig: Rig) -> None:
    one, two = os.urandom(16), os.urandom(16)
    await pair_with(rig, one)
    await pair_with(rig, two, SECOND_PATIENT)
    which = await rig.tg_says(PHYSICIAN_TG, "/unpair", expect="You have 2 pairings")
    assert tag_of(one) in which and tag_of(two) in which
    assert status_of(rig, one) == status_of(rig, two) == "active"
    # The other pairing's patient cannot end this pairing, nor name it.
    _, reply = await wa_says(rig, SECOND_PATIENT, f"/unpair {tag_of(one)}", expect="Nothing")
    assert reply == unpair.NOT_YOURS
    ask = await rig.tg_says(PHYSICIAN_TG, f"/unpair {tag_of(one)}", expect="To confirm")
    line = confirmation_line(ask)
    # The code answered from another account: refused, and used up.
    _, reply = await wa_says(rig, PATIENT_WA, line, expect="Nothing was done")
    assert reply == CONFIRMATION_REPLIES[Refusal.NOT_ASKER]
    replayed = await rig.tg_says(PHYSICIAN_TG, line, expect="Nothing was done")
    assert replayed == CONFIRMATION_REPLIES[Refusal.USED]
    assert status_of(rig, one) == "active"
    line = confirmation_line(await rig.tg_says(PHYSICIAN_TG, f"/unpair {tag_of(one)}",
                                               expect="To confirm"))
    assert (await rig.tg_says(PHYSICIAN_TG, line, expect="has ended")
            == notices.UNPAIRED.format(tag=tag_of(one)))
    assert (status_of(rig, one), status_of(rig, two)) == ("unpaired", "active")
    await rig.tw.wait_until_async(lambda: any(
        m.body == notices.PARTNER_UNPAIRED.format(tag=tag_of(one))
        for m in rig.tw.messages_to(PATIENT_WA)))
    # Replaying the confirmation after it worked changes nothing either.
    assert (await rig.tg_says(PHYSICIAN_TG, line, expect="Nothing")) == unpair.NOT_YOURS
    # With one pairing left, /unpair alone still asks for a confirmation.
    ask = await rig.tg_says(PHYSICIAN_TG, "/unpair", expect="To confirm")
    assert f"/unpair {tag_of(two)} " in ask and status_of(rig, two) == "active"


async def test_delete_me_waits_for_the_askers_confirmation(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair_with(rig, pid)
    _, ask = await wa_says(rig, PATIENT_WA, "/delete_me", expect="To confirm")
    assert ask.startswith("This deletes everything the relay holds about you")
    line = confirmation_line(ask)
    assert (await rig.tg_says(PHYSICIAN_TG, line, expect="Nothing was done")
            == CONFIRMATION_REPLIES[Refusal.NOT_ASKER])
    assert status_of(rig, pid) == "active"
    # A stranger has nothing to delete, and gets no code.
    assert (await rig.tg_says(STRANGER_TG, "/delete_me", expect="nothing")
            == delete_me.NOTHING_HELD)


async def test_start_explains_the_admin_commands_to_an_admin(rig: Rig) -> None:
    welcome = await rig.tg_says(ADMIN_A, "/start", expect="Welcome, clinic admin")
    assert welcome == start.ADMIN_WELCOME
    await until(lambda: any("/pairings" in t and "/shred" in t
                                              for t in rig.tg_texts(ADMIN_A)))
    member = await rig.tg_says(STRANGER_TG, "/start", expect="Before you continue")
    assert "witness" not in member


async def test_stats_and_jobs_speak_plain_words(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair_with(rig, pid)
    stats = await rig.tg_says(ADMIN_A, "/stats", expect="People known to the bot")
    assert "Pairings: 1 active, 0 waiting for the patient, 0 ended." in stats
    assert "=" not in stats and "pending " not in stats
    jobs = await rig.tg_says(ADMIN_A, "/jobs", expect="rotation:")
    assert "monthly key rotation" in jobs and "next run:" in jobs
    assert "closes the shred epoch when it is due" in jobs
    # The bot ran both jobs at start: their summaries are words and months, no labels.
    assert "last run: " in jobs and "at bot start" in jobs
    for label in ("epoch=", "scrub=", "sqlite_wal", "_", "trigger"):
        assert label not in jobs.replace("shred_sweep", "").replace("key_epoch", ""), label
