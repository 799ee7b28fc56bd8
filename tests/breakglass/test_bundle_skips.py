"""The opener leaves out what it cannot use, says so, and opens everything else.

Each bundle here is what the bot would export if a member had planted or damaged an
item: the planted deposits are made the way a patient can make them (the public escrow
key and the pairing id are all it takes), and each case names the month and slot in
its report line, never content.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from medcrypt.bot.domain.breakglass.bundle import build_bundle
from medcrypt.crypto.endpoint import breakglass
from medcrypt.crypto.endpoint.escrow import make_deposit, open_deposit
from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.crypto.keyless.wire import (
    Direction,
    Kind,
    encode_sealed_header,
    encode_token,
    parse_token,
)
from tests.support.breakglass import AT, CODE
from tests.support.conversation import Conversation, Escrow, make_conversation, make_escrow

MONTH = format_epoch(epoch_of(AT))


@dataclass
class Case:
    escrow: Escrow
    conv: Conversation

    def planted(self, direction: Direction, *, key: bytes | None = None,
                physician_identity: bytes | None = None) -> bytes:
        """A deposit sealed by someone who knows only public values (and maybe the key)."""
        token = make_deposit(
            self.escrow.public, pairing_id=self.conv.pairing_id, epoch=self.conv.sent[0][2],
            direction=direction, epoch_key=key or os.urandom(32),
            patient_identity=self.conv.physician.peer_identity,
            physician_identity=physician_identity or self.conv.patient.peer_identity)
        return parse_token(token).raw

    def deposit(self, direction: Direction) -> bytes:
        """The genuine deposit the companion of ``direction``'s writer made."""
        return next(parse_token(d).raw for d in self.conv.deposits
                    if parse_token(d).header.direction is direction)

    def messages(self) -> list[bytes]:
        return [parse_token(t).raw for t, _p, _e in self.conv.sent]

    def open(self, items: list[bytes]) -> breakglass.OpenedBundle:
        data = build_bundle(self.escrow.public, CODE, {"pairing": self.conv.pairing_id.hex()},
                            items)
        return breakglass.open_bundle(data, self.escrow.shares[:2])


def case() -> Case:
    escrow = make_escrow()
    conv = make_conversation(escrow.public, AT)
    conv.send("physician", "Start the antibiotic tonight.")
    conv.send("patient", "Started. Any food restrictions?")
    conv.send("physician", "No alcohol for a week.")
    return Case(escrow, conv)


def texts(opened: breakglass.OpenedBundle) -> list[bytes]:
    return [m.body for m in opened.messages]


def sent(c: Case) -> list[bytes]:
    return [p for _t, p, _e in c.conv.sent]


def test_a_random_key_in_the_physicians_slot_is_skipped_and_the_month_opens() -> None:
    c = case()
    items = [c.planted(Direction.PHYSICIAN_TO_PATIENT),
             c.deposit(Direction.PATIENT_TO_PHYSICIAN), *c.messages()]
    opened = c.open(items)
    assert texts(opened) == sent(c)
    assert opened.skipped == [
        f"{MONTH} deposit (physician_to_patient slot): its key differs from the deposit "
        "that opens this month's messages (planted or damaged); skipped"]
    assert opened.unrecoverable == {}


def test_a_planted_deposit_first_in_the_bundle_does_not_win() -> None:
    """Bundle order is the bot's arrival order: the planted one came first."""
    c = case()
    opened = c.open([c.planted(Direction.PATIENT_TO_PHYSICIAN),
                     c.deposit(Direction.PHYSICIAN_TO_PATIENT), *c.messages()])
    assert texts(opened) == sent(c)
    assert len(opened.skipped) == 1 and "patient_to_physician slot" in opened.skipped[0]


def test_the_right_key_with_a_forged_identity_is_skipped_too() -> None:
    """A patient knows the month key (v2); a forged physician identity would make every
    physician message fail its signature check under that deposit."""
    c = case()
    genuine = c.deposit(Direction.PATIENT_TO_PHYSICIAN)
    # The month key the patient's companion holds (read here from its own deposit).
    key = open_deposit(c.escrow.private, encode_token(genuine)).key
    forged = c.planted(Direction.PHYSICIAN_TO_PATIENT, key=key, physician_identity=os.urandom(32))
    opened = c.open([forged, genuine, *c.messages()])
    assert texts(opened) == sent(c)
    assert len(opened.skipped) == 1 and "physician_to_patient slot" in opened.skipped[0]


def test_a_deposit_that_does_not_open_is_skipped() -> None:
    c = case()
    real = c.deposit(Direction.PHYSICIAN_TO_PATIENT)
    garbage = real[:51] + os.urandom(len(real) - 51)  # same header, box sealed by nobody
    opened = c.open([garbage, c.deposit(Direction.PATIENT_TO_PHYSICIAN), *c.messages()])
    assert texts(opened) == sent(c)
    assert opened.skipped == [
        f"{MONTH} deposit (physician_to_patient slot): it does not open with the escrow key "
        "(damaged, or not made by a companion); skipped"]


def test_a_second_deposit_for_one_slot_is_skipped() -> None:
    c = case()
    real = c.deposit(Direction.PATIENT_TO_PHYSICIAN)
    opened = c.open([real, c.planted(Direction.PATIENT_TO_PHYSICIAN), *c.messages()])
    assert texts(opened) == sent(c)
    assert opened.skipped == [
        f"{MONTH} deposit (patient_to_physician slot): a second deposit for one slot (the "
        "bot keeps one per slot); skipped"]


def test_a_message_no_deposit_opens_is_reported_not_fatal() -> None:
    c = case()
    # What a patient can relay in their own direction: a well-formed header, junk inside.
    junk = encode_sealed_header(
        Kind.MESSAGE, c.conv.pairing_id, epoch=c.conv.sent[0][2],
        direction=Direction.PATIENT_TO_PHYSICIAN, index=1, nonce=os.urandom(24)) + os.urandom(200)
    opened = c.open([c.deposit(Direction.PHYSICIAN_TO_PATIENT), *c.messages(), junk])
    assert texts(opened) == sent(c)
    assert opened.skipped == [
        f"{MONTH} 1 message(s): no deposit of the month opens them (damaged or forged); skipped"]


def test_disagreeing_deposits_of_a_month_without_messages_are_reported() -> None:
    c = case()
    opened = c.open([c.deposit(Direction.PHYSICIAN_TO_PATIENT),
                     c.planted(Direction.PATIENT_TO_PHYSICIAN)])
    assert opened.messages == []
    assert opened.skipped == [
        f"{MONTH} deposits: they disagree and no message of the month tells which is "
        "genuine (nothing to open); skipped"]


def test_both_genuine_deposits_agree_and_nothing_is_reported() -> None:
    c = case()
    opened = c.open([*[parse_token(d).raw for d in c.conv.deposits], *c.messages()])
    assert texts(opened) == sent(c) and opened.skipped == []
