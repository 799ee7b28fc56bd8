"""Attacks on the v3 session core, written as the attacker would run them.

* a thief with a full copy of one side's exported state (and identity key) follows
  every token on the wire and tries to read what is sent after one round trip;
* an escrow holder with one month's deposits tries to read the months around it;
* a forger slips a deposit not signed by the pinned sender into a break-glass bundle;
* a hostile relay floods a side with fake ratchet keys and fake indexes.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.v3 import breakglass, kdf
from medcrypt.crypto.endpoint.v3 import deposit as deposits
from medcrypt.crypto.endpoint.v3.session import ENVELOPE_LABEL, Session
from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from tests.support.v3pairs import V3Pair, copy_session, make_v3_pair

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _state(session: Session) -> str:
    return json.dumps(session.export_state(), sort_keys=True)


def thief_reads_outgoing(thief: Session, token: str) -> bytes | None:
    """Try to read a token the copied side *sent*, with only the copied state.

    The thief holds the copied side's sending chain (private ratchet key, month seed,
    chain key) and the month root; it derives that segment's key exactly as the sender
    would.  Any other chain needs a ratchet private key it never saw.
    """
    state = thief.export_state()
    send = state["send"]
    h = v3wire.parse_message_text(token).header
    if send is None or prim.b64d(send["ratchet_public"]) != h.chain_id:
        return None
    candidates: list[bytes] = []
    if send["segment_epoch"] == h.epoch and send["chain_key"] is not None:
        candidates.append(prim.b64d(send["chain_key"]))
    month_root = kdf.walk(prim.b64d(state["month_root"]), state["month_root_epoch"], h.epoch,
                          kdf.advance_month_root) if h.epoch >= state["month_root_epoch"] else None
    if month_root is not None and h.epoch >= send["seed_month"]:
        seed = kdf.walk(prim.b64d(send["seed"]), send["seed_month"], h.epoch,
                        kdf.advance_month_seed)
        candidates.append(kdf.segment_key(kdf.segment_seed(seed, h.epoch), month_root,
                                          pairing_id=h.pairing_id, direction=h.direction,
                                          chain_id=h.chain_id, epoch=h.epoch))
    if month_root is not None and send["first_seed"] is not None and h.epoch == h.chain_epoch:
        candidates.append(kdf.segment_key(prim.b64d(send["first_seed"]), month_root,
                                          pairing_id=h.pairing_id, direction=h.direction,
                                          chain_id=h.chain_id, epoch=h.epoch))
    for start, ck in ((send["next_index"] if c is candidates[0] and send["chain_key"] else 0, c)
                      for c in candidates):
        if h.index < start:
            continue
        key = ck
        for _ in range(h.index - start):
            key = kdf.chain_step(key)[1]
        try:
            inner = prim.xchacha_decrypt(kdf.chain_step(key)[0], h.nonce,
                                         v3wire.parse_message_text(token).body, h.raw)
            return envelope.open_(h.raw, inner, thief.own_identity, label=ENVELOPE_LABEL).body
        except MedCryptError:
            continue
    return None


def thief_reads_incoming(thief: Session, token: str, now: datetime) -> bytes | None:
    try:
        return thief.decrypt(token, now=now).body
    except MedCryptError:
        return None


def thief_follows_outgoing(thief: Session, token: str) -> bytes | None:
    """Read a token the copied side sent, running the copied side's own code.

    When the token starts a chain the copy does not have, the thief takes the DH step
    the sender took, with the only ratchet private key it has as its guess for the
    fresh one (right for a ratchet that reuses keys, and the root key it then holds is
    right for one whose root step ignores the DH output); then it reads with that chain.
    """
    h = v3wire.parse_message_text(token).header
    send = thief._send
    if send is None or send.ratchet_public != h.chain_id:
        guess = bytes(send.ratchet_private) if send is not None else os.urandom(32)
        try:
            thief._new_send_chain(h.chain_epoch, lambda n: guess[:n] if n <= 32 else os.urandom(n))
        except MedCryptError:
            return None
    return thief_reads_outgoing(thief, token)


# A scripted conversation: (sender, deliver now?) - undelivered tokens stay in flight.
SCRIPT = [("patient", True), ("patient", True), ("physician", True), ("physician", False),
          ("patient", True), ("physician", True), ("patient", False), ("patient", True),
          ("physician", True)]


@pytest.mark.parametrize("victim", ["patient", "physician"])
@pytest.mark.parametrize("copy_after", range(len(SCRIPT) + 1))
def test_a_copied_state_reads_nothing_sent_after_one_round_trip(
    victim: str, copy_after: int,
) -> None:
    pair = make_v3_pair(epoch_of(T0))
    sides = {"patient": pair.patient, "physician": pair.physician}
    seeds = {"patient": pair.patient_seed, "physician": pair.physician_seed}
    peer = "physician" if victim == "patient" else "patient"
    in_flight: dict[str, list[str]] = {"patient": [], "physician": []}  # by recipient
    now = T0

    def send(sender: str, deliver: bool) -> str:
        nonlocal now
        now += timedelta(minutes=1)
        recipient = "physician" if sender == "patient" else "patient"
        token = sides[sender].encrypt(os.urandom(8).hex().encode(), now=now)
        in_flight[recipient].append(token)
        if deliver:
            for pending in in_flight[recipient]:
                sides[recipient].decrypt(pending, now=now)
            in_flight[recipient].clear()
        return token

    for sender, deliver in SCRIPT[:copy_after]:
        send(sender, deliver)
    thief = copy_session(sides[victim], seeds[victim])
    # The thief sees every token on the wire from the copy on, in order, and follows
    # both directions with the copied state.
    for token in in_flight[victim]:
        thief_reads_incoming(thief, token, now)

    def observed(sender: str) -> bytes | None:
        token = send(sender, True)
        if sender == victim:
            return thief_follows_outgoing(thief, token)
        return thief_reads_incoming(thief, token, now)

    observed(victim)  # one round trip after the copy: the victim writes,
    observed(peer)  # the peer answers
    after = [observed(s) for s in (victim, peer, victim, peer, peer, victim)]
    assert after == [None] * len(after)


def test_the_thief_is_a_real_reader_before_the_round_trip() -> None:
    """The same thief code reads what the copied side writes right after the copy:
    so the test above fails for a ratchet that never heals."""
    pair = make_v3_pair(epoch_of(T0))
    pair.patient.decrypt(pair.physician.encrypt(b"x", now=T0), now=T0)
    first = pair.patient.encrypt(b"first", now=T0)
    thief = copy_session(pair.patient, pair.patient_seed)
    token = pair.patient.encrypt(b"written after the copy", now=T0)
    assert thief_follows_outgoing(thief, token) == b"written after the copy"
    reply = pair.physician.encrypt(b"answer", now=T0)
    pair.physician.decrypt(first, now=T0)
    assert thief_reads_incoming(thief, reply, T0) == b"answer"


def _months_conversation(pair: V3Pair) -> dict[int, list[str]]:
    """Both sides write in October, November and December (no DH step at some month
    boundaries, so the segments there are month re-keys); tokens as sent, by month."""
    by_month: dict[int, list[str]] = {}
    for month_start in (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC),
                        datetime(2026, 12, 5, tzinfo=UTC)):
        for step, sender in enumerate(["patient", "patient", "physician", "patient",
                                       "physician", "physician"]):
            now = month_start + timedelta(hours=step)
            source = pair.patient if sender == "patient" else pair.physician
            target = pair.physician if sender == "patient" else pair.patient
            token = source.encrypt(f"{sender} {now:%Y-%m} #{step}".encode(), now=now)
            target.decrypt(token, now=now)
            by_month.setdefault(epoch_of(now), []).append(token)
    return by_month


def test_one_months_deposits_open_that_month_and_no_other() -> None:
    pair = make_v3_pair(epoch_of(datetime(2026, 10, 1, tzinfo=UTC)))
    by_month = _months_conversation(pair)
    stored: dict[int, set[bytes]] = {}  # the bot: strips, keeps every distinct deposit
    relayed: dict[int, list[str]] = {}
    for month, tokens in by_month.items():
        for token in tokens:
            text, view, deposit = v3wire.strip_deposit(token)
            relayed.setdefault(month, []).append(text)
            if deposit is not None:
                stored.setdefault(view.epoch, set()).add(deposit)
    november = epoch_of(datetime(2026, 11, 1, tzinfo=UTC))
    every_token = [t for m in sorted(relayed) for t in relayed[m]]
    report = breakglass.open_bundle(pair.escrow_private, pair.pinned, sorted(stored[november]),
                                    every_token)
    opened_months = {m.epoch for m in report.opened}
    assert opened_months == {november}
    assert len(report.opened) == len(relayed[november])
    assert len(report.unopened) == len(relayed[november - 1]) + len(relayed[november + 1])
    assert not report.refused_deposits


def test_a_deposit_not_signed_by_the_pinned_sender_is_refused_and_the_rest_opens() -> None:
    pair = make_v3_pair(epoch_of(datetime(2026, 10, 1, tzinfo=UTC)))
    by_month = _months_conversation(pair)
    november = epoch_of(datetime(2026, 11, 1, tzinfo=UTC))
    tokens = [v3wire.strip_deposit(t)[0] for t in by_month[november]]
    genuine = sorted({d for t in by_month[november] if (d := v3wire.strip_deposit(t)[2])})
    # The forger holds a real segment key (say, from a leaked device) and the escrow
    # public key, and signs a deposit for the patient's slot with its own key.
    real = deposits.open_deposit(pair.escrow_private, genuine[0], pair.pinned)
    forger = prim.Ed25519Signer(os.urandom(32))
    forged = deposits.make_deposit(
        pair.pinned.escrow_public, forger.sign, pairing_id=real.pairing_id,
        transcript_hash=pair.pinned.transcript_hash, epoch=real.epoch,
        direction=real.direction, chain_id=real.chain_id, start_index=0,
        chain_key=real.chain_key)
    report = breakglass.open_bundle(pair.escrow_private, pair.pinned, [forged, *genuine], tokens)
    assert [position for position, _ in report.refused_deposits] == [0]
    assert len(report.opened) == len(tokens)
    # Without the genuine deposit of that slot, its tokens stay closed: the forged one
    # is never used although its chain key is the right one.
    others = [d for d in genuine if deposits.open_deposit(
        pair.escrow_private, d, pair.pinned).chain_id != real.chain_id
        or deposits.open_deposit(pair.escrow_private, d, pair.pinned).epoch != real.epoch]
    report = breakglass.open_bundle(pair.escrow_private, pair.pinned, [forged, *others], tokens)
    assert report.refused_deposits and report.unopened
    assert all(m.chain_id != real.chain_id for m in report.opened)


def _with_chain_id(token: str, chain_id: bytes) -> str:
    raw = bytearray(v3wire.decode_text(token))
    raw[23:55] = chain_id
    return v3wire.encode_text(bytes(raw))


def _with_index(token: str, index: int) -> str:
    raw = bytearray(v3wire.decode_text(token))
    raw[59:63] = index.to_bytes(4, "big")
    return v3wire.encode_text(bytes(raw))


def test_a_flood_of_fake_ratchet_keys_changes_no_state_and_burns_no_keys() -> None:
    pair = make_v3_pair(epoch_of(T0))
    pair.physician.decrypt(pair.patient.encrypt(b"hi", now=T0), now=T0)
    held_back = [pair.physician.encrypt(f"m{i}".encode(), now=T0) for i in range(3)]
    pair.patient.decrypt(held_back[2], now=T0)  # 0 and 1 are now skipped keys
    before = _state(pair.patient)
    for i in range(200):
        fake_key = prim.x25519_public(os.urandom(32))
        forged = _with_chain_id(held_back[i % 2], fake_key)
        with pytest.raises(MedCryptError):
            pair.patient.decrypt(forged, now=T0)
    assert _state(pair.patient) == before
    assert [pair.patient.decrypt(t, now=T0).body for t in held_back[:2]] == [b"m0", b"m1"]


def test_a_flood_of_fake_indexes_burns_no_keys() -> None:
    pair = make_v3_pair(epoch_of(T0))
    tokens = [pair.patient.encrypt(f"m{i}".encode(), now=T0) for i in range(4)]
    pair.physician.decrypt(tokens[0], now=T0)
    before = _state(pair.physician)
    for index in (1, 2, 3, 500, 999, 1000, 5000, 2**32 - 1):
        with pytest.raises(MedCryptError):
            pair.physician.decrypt(_with_index(tokens[0], index), now=T0)
    assert _state(pair.physician) == before
    assert [pair.physician.decrypt(t, now=T0).body for t in tokens[3:0:-1]] == [b"m3", b"m2", b"m1"]
