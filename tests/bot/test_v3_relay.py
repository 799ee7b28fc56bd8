"""The bot relays v3 MESSAGE tokens, keeps their escrow deposits and gates v2 (issue 13).

Every test pairs through the real bot with the pure v3 companion API and writes with the
real ratchet sessions; what is kept is read from the bot's own database.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from medcrypt.bot.scheduler.maintenance import remind_missing_deposits
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.parts import join_parts, split_token
from medcrypt.crypto.keyless.wire import (
    DEPOSIT_TOKEN_LEN,
    Direction,
    Kind,
    encode_register,
    encode_token,
    find_tokens,
    parse_token,
)
from tests.support.clocks import MovableClock
from tests.support.conversation import Escrow, make_escrow
from tests.support.rigs import (
    ADMIN_A,
    PATIENT_WA,
    PHYSICIAN_TG,
    START,
    Rig,
    live_bot,
    run_jobs_at,
    until,
)
from tests.support.tokens import accept_token, message_token, v3_message_token
from tests.support.v3pairing import replies_to, send
from tests.support.v3relay import deliver, pair_v3, rows, v3_messages_to

DEPOSITS = "SELECT epoch, direction, chain_id, raw FROM segment_deposits ORDER BY id"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        clinic={"admin_telegram_ids": [ADMIN_A]},
                        relay={"v2_cutoff_date": "2026-12-01"}) as running:
        yield running


async def _told(rig: Rig, account: str | int, text: str, words: str) -> None:
    """``account`` sends ``text`` and is told ``words`` (other notices may come first)."""
    before, _ = await send(rig, account, text)
    await until(lambda: any(words in r for r in replies_to(rig, account)[before:]))


async def _pair_v2(rig: Rig, pid: bytes) -> None:
    """A v2 pairing (first accept binds) as of the rig's clock."""
    now = rig.clock.now()
    register = encode_token(encode_register(pid, epoch_of(now), 7, int(now.timestamp()) + 3600))
    await _told(rig, PHYSICIAN_TG, register, "registered")
    await _told(rig, PATIENT_WA, accept_token(pid), "now paired")


def _escrow(rig: Rig) -> Escrow:
    assert rig.escrow is not None
    return rig.escrow


def _with_deposit(text: str, deposit: bytes) -> str:
    """The same token carrying another (well-formed) deposit section."""
    message = v3wire.parse_message_text(text)
    return v3wire.encode_text(v3wire.encode_message(message.header.raw, deposit,
                                                    message.body.tobytes()))


async def test_the_peer_gets_the_token_without_its_deposit_and_opens_it(live: Rig) -> None:
    chat = await pair_v3(live, _escrow(live).public)
    now = live.clock.now()
    sent = [chat.physician.encrypt(f"note {i}".encode(), now=now) for i in range(3)]
    deposit = v3wire.parse_message_text(sent[0]).deposit
    assert deposit is not None  # the segment's first tokens carry it
    assert all(v3wire.parse_message_text(t).deposit == deposit for t in sent)
    for i, text in enumerate(sent):
        got = await deliver(live, PHYSICIAN_TG, PATIENT_WA, text)
        assert v3wire.parse_message_text(got).deposit is None
        assert deposit.hex() not in got and v3wire.encode_text(deposit)[13:-1] not in got
        assert chat.patient.decrypt(got, now=now).body == f"note {i}".encode()
    header = v3wire.parse_message_text(sent[0]).header
    # Kept once, in the sender's slot, under its chain id; the repeats changed nothing.
    assert rows(live, DEPOSITS) == [(epoch_of(now), int(Direction.PHYSICIAN_TO_PATIENT),
                                     header.chain_id, deposit)]
    stored = [bytes(r[0]) for r in rows(live, "SELECT raw FROM stored_tokens")]
    assert stored and all(deposit not in raw for raw in stored)
    # The patient answers: a DH step, a new chain, the patient's own slot.
    answer = chat.patient.encrypt(b"thanks", now=now)
    got = await deliver(live, PATIENT_WA, PHYSICIAN_TG, answer)
    assert chat.physician.decrypt(got, now=now).body == b"thanks"
    slots = {(r[1], bytes(r[2])) for r in rows(live, DEPOSITS)}
    assert (int(Direction.PATIENT_TO_PHYSICIAN),
            v3wire.parse_message_text(answer).header.chain_id) in slots


def _parts_to(rig: Rig, account: str | int) -> list[str]:
    return [t for r in replies_to(rig, account) for t in find_tokens(r)
            if t.startswith(v3wire.PREFIX) and parse_token(t).header.kind is Kind.PART]


def _one_whole_group(tokens: list[str]) -> bool:
    """Every part of exactly one group is there (a join before that is an error)."""
    infos = [parse_token(t).part for t in tokens]
    got = {(p.group_id, p.index, p.count) for p in infos if p}
    return len({g for g, _, _ in got}) == 1 and len(got) == next(iter(got))[2]


async def test_long_v3_tokens_travel_as_v3_parts_and_pasted_pieces(live: Rig) -> None:
    chat = await pair_v3(live, _escrow(live).public)
    now = live.clock.now()
    long_note = ("x" * 6000).encode()
    # The physician pastes a chain-starting token (deposit inside) too long for one
    # Telegram message: the client cuts it into pieces, the bot rejoins them.
    text = chat.physician.encrypt(long_note, now=now)
    pieces = [text[i:i + 4096] for i in range(0, len(text), 4096)]
    assert len(pieces) == 3
    for piece in pieces:
        live.tg.user_sends_text(PHYSICIAN_TG, piece)
    # WhatsApp carries 1600 characters: the patient receives v3 PARTs, no deposit.
    await until(lambda: _one_whole_group(_parts_to(live, PATIENT_WA)))
    joined = join_parts(_parts_to(live, PATIENT_WA))
    assert v3wire.parse_message_text(joined).deposit is None
    assert chat.patient.decrypt(joined, now=now).body == long_note
    assert len(rows(live, DEPOSITS)) == 1
    # The patient's companion splits its long answer into v3 PARTs itself.
    answer = chat.patient.encrypt(long_note, now=now)
    parts = split_token(answer, 1600)
    assert len(parts) > 1 and all(p.startswith(v3wire.PREFIX) for p in parts)
    messages_before = len(v3_messages_to(live, PHYSICIAN_TG))
    assert _parts_to(live, PHYSICIAN_TG) == []
    for part in parts:
        await send(live, PATIENT_WA, part)
    # Telegram takes 4096 characters: the answer reaches the physician as one message or
    # as a new group of parts - wait for all of it, not its first piece.
    await until(lambda: len(v3_messages_to(live, PHYSICIAN_TG)) > messages_before
                or _one_whole_group(_parts_to(live, PHYSICIAN_TG)))
    got = v3_messages_to(live, PHYSICIAN_TG)
    received = (got[-1] if len(got) > messages_before
                else join_parts(_parts_to(live, PHYSICIAN_TG)))
    assert chat.physician.decrypt(received, now=now).body == long_note
    assert len(rows(live, DEPOSITS)) == 2


async def test_a_v3_pairing_whose_tokens_carry_deposits_is_not_reminded_of_none(
        live: Rig) -> None:
    chat = await pair_v3(live, _escrow(live).public)
    now = live.clock.now()
    await deliver(live, PHYSICIAN_TG, PATIENT_WA, chat.physician.encrypt(b"hi", now=now))
    assert len(rows(live, DEPOSITS)) == 1
    # The daily check tells a physician when a month with messages has no deposit.
    assert await asyncio.to_thread(remind_missing_deposits, live.bot.services, now) == 0


async def test_a_deposit_is_never_overwritten_nor_filed_in_the_other_slot(live: Rig) -> None:
    chat = await pair_v3(live, _escrow(live).public)
    now = live.clock.now()
    first = chat.physician.encrypt(b"first", now=now)
    await deliver(live, PHYSICIAN_TG, PATIENT_WA, first)
    kept = rows(live, DEPOSITS)
    assert len(kept) == 1
    # The physician's account (or whoever holds it) sends the same header with other
    # deposits: each distinct one is kept beside the first, a few at most, none replaces it.
    second = chat.physician.encrypt(b"second", now=now)
    for _ in range(5):
        await deliver(live, PHYSICIAN_TG, PATIENT_WA,
                      _with_deposit(second, os.urandom(v3wire.DEPOSIT_LEN)))
    after = rows(live, DEPOSITS)
    assert after[0] == kept[0] and len(after) == 3
    # The patient cannot file a deposit under the physician's direction: the token is
    # refused outright (it names the other direction), nothing is kept or relayed.
    before = len(after)
    await _told(live, PATIENT_WA, _with_deposit(chat.physician.encrypt(b"x", now=now),
                                                os.urandom(v3wire.DEPOSIT_LEN)),
                "not written for this conversation")
    assert len(rows(live, DEPOSITS)) == before


async def test_a_v3_pairing_refuses_v2_and_a_v2_pairing_refuses_v3(live: Rig) -> None:
    chat = await pair_v3(live, _escrow(live).public)
    month = epoch_of(live.clock.now())
    v2 = message_token(chat.pairing_id, Direction.PHYSICIAN_TO_PATIENT, epoch=month)
    await _told(live, PHYSICIAN_TG, v2, "does not carry older (v2) messages")
    assert not any(v2 in r for r in replies_to(live, PATIENT_WA))
    # Nor a v2 escrow deposit (which would hold a whole month's key).
    v2_deposit = message_token(chat.pairing_id, Direction.PHYSICIAN_TO_PATIENT, epoch=month,
                               kind=Kind.ESCROW_DEPOSIT, body_len=DEPOSIT_TOKEN_LEN - 51)
    await _told(live, PHYSICIAN_TG, v2_deposit, "does not carry older (v2) messages")
    assert rows(live, "SELECT count(*) FROM escrow_deposits") == [(0,)]
    old = os.urandom(16)
    await _pair_v2(live, old)
    v3 = v3_message_token(old, Direction.PHYSICIAN_TO_PATIENT, epoch=month)
    await _told(live, PHYSICIAN_TG, v3, "cannot carry v3 messages")
    assert not any(v3 in r for r in replies_to(live, PATIENT_WA))
    assert rows(live, "SELECT count(*) FROM stored_tokens") == [(0,)]


async def test_v2_is_refused_for_months_from_the_cutoff_date(live: Rig) -> None:
    pid = os.urandom(16)
    await _pair_v2(live, pid)
    november = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, epoch=epoch_of(START))
    await send(live, PHYSICIAN_TG, november)
    await until(lambda: any(november in r for r in replies_to(live, PATIENT_WA)))
    december = START.replace(month=12, day=2)
    await run_jobs_at(live, december, "rotation")
    fresh = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, epoch=epoch_of(december))
    await _told(live, PHYSICIAN_TG, fresh, "no longer relays MedCrypt v2 messages for 2026-12")
    assert not any(fresh in r for r in replies_to(live, PATIENT_WA))
    # November, inside its grace window, is still carried.
    late = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=1, epoch=epoch_of(START))
    await send(live, PHYSICIAN_TG, late)
    await until(lambda: any(late in r for r in replies_to(live, PATIENT_WA)))


async def test_after_grace_end_the_database_holds_no_deposit_or_token_of_the_month(
        live: Rig) -> None:
    chat = await pair_v3(live, _escrow(live).public)
    now = live.clock.now()
    november = epoch_of(now)
    for sender, recipient, session in ((PHYSICIAN_TG, PATIENT_WA, chat.physician),
                                       (PATIENT_WA, PHYSICIAN_TG, chat.patient)):
        got = await deliver(live, sender, recipient, session.encrypt(b"hello", now=now))
        (chat.patient if session is chat.physician else chat.physician).decrypt(got, now=now)
    december = START.replace(month=12, day=2)
    live.clock.set(december)  # type: ignore[attr-defined]
    december_token = chat.physician.encrypt(b"december", now=december)
    await deliver(live, PHYSICIAN_TG, PATIENT_WA, december_token)
    month_of = "SELECT DISTINCT epoch FROM {} ORDER BY epoch"
    assert rows(live, month_of.format("segment_deposits")) == [(november,), (november + 1,)]
    after_grace = december + timedelta(days=14)
    await run_jobs_at(live, after_grace, "rotation", "shred_sweep")
    for table in ("segment_deposits", "stored_tokens"):
        assert rows(live, month_of.format(table)) == [(november + 1,)], table
    assert rows(live, "SELECT count(*) FROM segment_deposits WHERE epoch = ?", november) == [(0,)]

