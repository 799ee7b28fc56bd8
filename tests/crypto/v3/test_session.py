"""The v3 session's behaviour: DH steps, month segments, loss and reordering within the
limits, typed errors beyond them, deposits on a segment's first tokens, shredding, the
long absence, and the state's round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from medcrypt.crypto.endpoint.v3 import deposit as deposits
from medcrypt.crypto.endpoint.v3.session import (
    DEPOSIT_REPEATS,
    MAX_RECV_CHAINS,
    MAX_SKIPPED_PER_CHAIN,
    MAX_SKIPPED_PER_PAIRING,
    Session,
    canonical_json,
)
from medcrypt.crypto.errors import (
    DecryptionFailed,
    EpochMismatch,
    EpochNotYet,
    EpochShredded,
    LimitExceeded,
    MedCryptError,
    ReplayDetected,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from tests.support.v3pairs import make_v3_pair

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
NOV = epoch_of(T0)


def _header(token: str) -> v3wire.MessageHeader:
    return v3wire.parse_message_text(token).header


def _state(session: Session) -> bytes:
    return canonical_json(session.export_state())


def test_a_reply_takes_a_dh_step_and_a_burst_stays_on_its_chain() -> None:
    pair = make_v3_pair(NOV)
    a = pair.patient.encrypt(b"a", now=T0)
    b = pair.patient.encrypt(b"b", now=T0)
    assert _header(a).chain_id == _header(b).chain_id
    assert [_header(t).index for t in (a, b)] == [0, 1]
    pair.physician.decrypt(a, now=T0)
    reply = pair.physician.encrypt(b"r", now=T0)
    assert _header(reply).chain_id not in (_header(a).chain_id,)
    assert _header(reply).starts_chain and _header(reply).index == 0
    pair.patient.decrypt(reply, now=T0)
    answer = pair.patient.encrypt(b"c", now=T0)
    assert _header(answer).chain_id != _header(a).chain_id  # the patient stepped too
    assert (_header(answer).prev_epoch, _header(answer).prev_len) == (NOV, 2)


def test_out_of_order_across_a_dh_step_and_a_lost_message() -> None:
    pair = make_v3_pair(NOV)
    old = [pair.patient.encrypt(f"old {i}".encode(), now=T0) for i in range(3)]
    pair.physician.decrypt(old[0], now=T0)
    pair.patient.decrypt(pair.physician.encrypt(b"r", now=T0), now=T0)
    new = [pair.patient.encrypt(f"new {i}".encode(), now=T0) for i in range(3)]
    # The new chain's last token arrives first: it names the old chain's length (3),
    # so old 1 and old 2 become skipped keys; new 0 and new 1 too. new 0 is lost.
    assert pair.physician.decrypt(new[2], now=T0).body == b"new 2"
    assert pair.physician.skipped_keys == 4
    assert pair.physician.decrypt(old[2], now=T0).body == b"old 2"
    assert pair.physician.decrypt(new[1], now=T0).body == b"new 1"
    assert pair.physician.decrypt(old[1], now=T0).body == b"old 1"
    with pytest.raises(ReplayDetected):
        pair.physician.decrypt(old[1], now=T0)
    assert pair.physician.skipped_keys == 1  # the lost one, kept until its month ends


def test_beyond_the_skip_limit_is_a_typed_error_and_changes_nothing() -> None:
    pair = make_v3_pair(NOV)
    tokens = [pair.patient.encrypt(b"x", now=T0) for _ in range(1003)]
    before = _state(pair.physician)
    with pytest.raises(LimitExceeded):
        pair.physician.decrypt(tokens[1001], now=T0)
    assert _state(pair.physician) == before
    assert pair.physician.decrypt(tokens[1000], now=T0).body == b"x"  # exactly 1000 skipped
    assert pair.physician.skipped_keys == MAX_SKIPPED_PER_CHAIN


def test_the_skip_limit_counts_the_previous_segment_gap_too() -> None:
    pair = make_v3_pair(NOV)
    pair.physician.decrypt(pair.patient.encrypt(b"x", now=T0), now=T0)
    pair.patient.decrypt(pair.physician.encrypt(b"r", now=T0), now=T0)
    burst = [pair.patient.encrypt(b"b", now=T0) for _ in range(1001)]  # a new chain
    pair.physician.decrypt(burst[0], now=T0)  # 1000 of the burst never arrive
    pair.patient.decrypt(pair.physician.encrypt(b"r2", now=T0), now=T0)
    new = [pair.patient.encrypt(b"n", now=T0) for _ in range(2)]
    assert (_header(new[1]).prev_len, _header(new[1]).index) == (1001, 1)
    before = _state(pair.physician)
    with pytest.raises(LimitExceeded):  # 1000 of the previous chain + 1 index gap
        pair.physician.decrypt(new[1], now=T0)
    assert _state(pair.physician) == before
    assert pair.physician.decrypt(new[0], now=T0).body == b"n"  # exactly 1000 + 0


def test_a_token_whose_chain_month_contradicts_its_chain_is_refused() -> None:
    pair = make_v3_pair(NOV - 1)  # the patient's first chain is October's
    token = pair.patient.encrypt(b"x", now=T0)  # a November re-key of it
    raw = bytearray(v3wire.decode_text(token))
    raw[55:59] = NOV.to_bytes(4, "big")  # claims the chain began in November
    with pytest.raises(EpochMismatch):
        pair.physician.decrypt(v3wire.encode_text(bytes(raw)), now=T0)


def test_a_token_moved_to_another_month_does_not_open() -> None:
    pair = make_v3_pair(NOV)
    dec = T0 + timedelta(days=30)
    pair.patient.decrypt(pair.physician.encrypt(b"r", now=T0), now=T0)
    token = pair.physician.encrypt(b"in november", now=T0)
    before = _state(pair.patient)
    raw = bytearray(v3wire.decode_text(token))
    raw[18:22] = (NOV + 1).to_bytes(4, "big")  # epoch -> December, chain month stays
    raw[63:67] = NOV.to_bytes(4, "big")
    raw[67:71] = (1).to_bytes(4, "big")
    with pytest.raises(DecryptionFailed):
        pair.patient.decrypt(v3wire.encode_text(bytes(raw)), now=dec)
    assert _state(pair.patient) == before
    assert pair.patient.decrypt(token, now=dec).body == b"in november"


def test_a_new_month_re_keys_the_chain_from_index_0_naming_the_previous_segment() -> None:
    pair = make_v3_pair(NOV)
    nov = [pair.patient.encrypt(b"n", now=T0) for _ in range(3)]
    dec = T0 + timedelta(days=30)
    d0 = pair.patient.encrypt(b"december", now=dec)
    h = _header(d0)
    assert (h.epoch, h.chain_epoch, h.index, h.prev_epoch, h.prev_len) == (NOV + 1, NOV, 0, NOV, 3)
    assert h.chain_id == _header(nov[0]).chain_id and not h.starts_chain
    # December arrives first; November's three are still readable inside the grace window.
    assert pair.physician.decrypt(d0, now=dec).body == b"december"
    assert [pair.physician.decrypt(t, now=dec).body for t in nov] == [b"n"] * 3


def test_each_segment_carries_its_own_deposit_on_its_first_tokens() -> None:
    pair = make_v3_pair(NOV)
    tokens = [pair.patient.encrypt(b"m", now=T0) for _ in range(DEPOSIT_REPEATS + 1)]
    carried = [v3wire.parse_message_text(t).deposit for t in tokens]
    assert carried[0] is not None and carried[:DEPOSIT_REPEATS] == [carried[0]] * DEPOSIT_REPEATS
    assert carried[DEPOSIT_REPEATS] is None
    dec = pair.patient.encrypt(b"m", now=T0 + timedelta(days=30))
    next_deposit = v3wire.parse_message_text(dec).deposit
    assert next_deposit is not None and next_deposit != carried[0]
    opened = deposits.open_deposit(pair.escrow_private, next_deposit, pair.pinned)
    assert (opened.epoch, opened.start_index) == (NOV + 1, 0)
    # The receiver opens a token with or without its deposit section.
    stripped, view, _ = v3wire.strip_deposit(tokens[1])
    assert view.has_deposit and pair.physician.decrypt(stripped, now=T0).body == b"m"
    assert pair.physician.decrypt(tokens[0], now=T0).body == b"m"


def test_no_deposit_without_an_escrow_key() -> None:
    pair = make_v3_pair(NOV, escrow=False)
    assert v3wire.parse_message_text(pair.patient.encrypt(b"m", now=T0)).deposit is None


def test_grace_end_shreds_the_month_even_the_current_receiving_segment() -> None:
    pair = make_v3_pair(NOV)
    tokens = [pair.patient.encrypt(b"n", now=T0) for _ in range(3)]
    pair.physician.decrypt(tokens[2], now=T0)
    assert pair.physician.skipped_keys == 2
    grace = datetime(2026, 12, 8, tzinfo=UTC)
    assert pair.physician.shred_due(grace - timedelta(seconds=1)) == []
    assert pair.physician.shred_due(grace) == [NOV]
    assert pair.physician.skipped_keys == 0
    state = pair.physician.export_state()
    assert state["recv"][0]["segments"] == {} and state["month_root_epoch"] == NOV + 1
    with pytest.raises(EpochShredded, match=format_epoch(NOV)):
        pair.physician.decrypt(tokens[0], now=grace)
    # The chain goes on in December (re-keyed from its month seed).
    assert pair.physician.decrypt(pair.patient.encrypt(b"d", now=grace), now=grace).body == b"d"


def test_long_absence_both_ways_heals_with_one_message_each() -> None:
    pair = make_v3_pair(NOV)
    pair.physician.decrypt(pair.patient.encrypt(b"hi", now=T0), now=T0)
    pair.patient.decrypt(pair.physician.encrypt(b"hello", now=T0), now=T0)
    # Both offline; each writes once a month, the bot holds the tokens.
    held_for_physician, held_for_patient = [], []
    for months in (1, 2, 3):
        at = T0 + timedelta(days=31 * months)
        held_for_physician.append(pair.patient.encrypt(b"p%d" % months, now=at))
        held_for_patient.append(pair.physician.encrypt(b"d%d" % months, now=at))
    back = datetime(2027, 2, 20, tzinfo=UTC)  # December and January shredded meanwhile
    for token, side in [(t, pair.physician) for t in held_for_physician] + [
            (t, pair.patient) for t in held_for_patient]:
        month = _header(token).epoch
        if month < epoch_of(datetime(2027, 2, 1, tzinfo=UTC)):
            with pytest.raises(EpochShredded):
                side.decrypt(token, now=back)
        else:
            side.decrypt(token, now=back)
    # One message each way, and both directions are on fresh chains again.
    m1 = pair.patient.encrypt(b"back", now=back)
    assert pair.physician.decrypt(m1, now=back).body == b"back"
    m2 = pair.physician.encrypt(b"welcome back", now=back)
    assert _header(m2).starts_chain
    assert pair.patient.decrypt(m2, now=back).body == b"welcome back"
    assert pair.physician.decrypt(pair.patient.encrypt(b"ok", now=back), now=back).body == b"ok"


def test_a_side_silent_for_months_still_reads_and_is_answered() -> None:
    pair = make_v3_pair(NOV)
    pair.physician.decrypt(pair.patient.encrypt(b"hi", now=T0), now=T0)
    later = datetime(2027, 4, 2, tzinfo=UTC)
    token = pair.patient.encrypt(b"still there?", now=later)  # re-keyed segment
    assert not _header(token).starts_chain
    assert pair.physician.decrypt(token, now=later).body == b"still there?"
    assert pair.patient.decrypt(pair.physician.encrypt(b"yes", now=later), now=later).body == b"yes"


def test_tokens_of_a_month_not_started_or_before_the_pairing_are_refused() -> None:
    pair = make_v3_pair(NOV)
    future = pair.patient.encrypt(b"x", now=T0 + timedelta(days=40))
    with pytest.raises(EpochNotYet):
        pair.physician.decrypt(future, now=T0)
    with pytest.raises(EpochNotYet):
        pair.patient.encrypt(b"x", now=T0 - timedelta(days=40))
    reflected = pair.patient.encrypt(b"x", now=T0)
    with pytest.raises(WrongPairing):
        pair.patient.decrypt(reflected, now=T0)


def test_a_second_unknown_chain_before_this_side_answered_is_refused_without_a_dh() -> None:
    pair = make_v3_pair(NOV)
    pair.physician.decrypt(pair.patient.encrypt(b"hi", now=T0), now=T0)
    first = pair.physician.encrypt(b"r", now=T0)
    pair.patient.decrypt(first, now=T0)
    raw = bytearray(v3wire.decode_text(first))
    raw[23:55] = bytes(range(32))
    with pytest.raises(DecryptionFailed):
        pair.patient.decrypt(v3wire.encode_text(bytes(raw)), now=T0)


def test_at_most_five_peer_chains_and_2000_skipped_keys_per_pairing() -> None:
    pair = make_v3_pair(NOV)
    for _ in range(MAX_RECV_CHAINS + 2):
        tokens = [pair.patient.encrypt(b"m", now=T0) for _ in range(700)]
        pair.physician.decrypt(tokens[-1], now=T0)  # 699 skipped on this chain
        pair.patient.decrypt(pair.physician.encrypt(b"r", now=T0), now=T0)
        assert pair.physician.skipped_keys <= MAX_SKIPPED_PER_PAIRING
    state = pair.physician.export_state()
    assert len(state["recv"]) == MAX_RECV_CHAINS
    assert pair.physician.skipped_keys == MAX_SKIPPED_PER_PAIRING


def test_state_round_trips_exactly_and_a_damaged_state_is_a_storage_error() -> None:
    pair = make_v3_pair(NOV)
    pair.physician.decrypt(pair.patient.encrypt(b"hi", now=T0), now=T0)
    state = pair.physician.export_state()
    again = Session.import_state(json.loads(canonical_json(state)), pair.physician_seed)
    assert canonical_json(again.export_state()) == canonical_json(state)
    assert again.encrypt(b"x", now=T0)
    with pytest.raises(StorageError):
        Session.import_state(state, pair.patient_seed)
    for damage in ({"format": "medcrypt-session/1"}, {"root_key": "AAAA"},
                   {"need_new_chain": 1}, {"recv": [{}]}):
        with pytest.raises(StorageError):
            Session.import_state({**state, **damage}, pair.physician_seed)


def test_canonical_json_is_sorted_compact_and_ascii() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == b'{"a":["\\u00e9",null],"b":1}'


def test_a_wiped_session_holds_no_key() -> None:
    pair = make_v3_pair(NOV)
    pair.patient.wipe()
    with pytest.raises(MedCryptError):
        pair.physician.decrypt(pair.patient.encrypt(b"x", now=T0), now=T0)


def test_the_pairing_hand_over_is_wiped_and_checked() -> None:
    from medcrypt.crypto.endpoint.v3.types import PairingSecrets, Role

    def secrets(**change: object) -> PairingSecrets:
        fields: dict[str, object] = {
            "role": Role.PATIENT, "pairing_id": bytes(16), "start_epoch": NOV,
            "grace_days": 7, "transcript_hash": bytes(32), "root_key": bytearray(b"r" * 32),
            "own_identity_private": bytearray(b"i" * 32), "peer_identity_public": bytes(32),
            "escrow_public": None, "patient_ratchet_public": bytes(32),
            "patient_ratchet_private": bytearray(b"p" * 32), "physician_ratchet_private": None,
            "physician_ratchet_public": bytes(range(9, 41))}
        fields.update(change)
        return PairingSecrets(**fields)  # type: ignore[arg-type]

    with pytest.raises(MedCryptError):  # the physician's private key on the patient side
        secrets(physician_ratchet_private=bytearray(32))
    with pytest.raises(MedCryptError):
        secrets(transcript_hash=bytes(31))
    handed = secrets()
    Session.from_pairing(handed)
    assert handed.root_key == bytearray(32) and handed.patient_ratchet_private == bytearray(32)
    handed.wipe()
    assert handed.own_identity_private == bytearray(32)


def test_a_body_the_spec_refuses_changes_no_state() -> None:
    from medcrypt.crypto.endpoint.envelope import ContentType
    from medcrypt.crypto.errors import MalformedToken

    pair = make_v3_pair(NOV)
    pair.patient.decrypt(pair.physician.encrypt(b"r", now=T0), now=T0)  # a DH step is due
    before = _state(pair.patient)
    with pytest.raises(MalformedToken):
        pair.patient.encrypt(b"\xff not UTF-8", now=T0)
    with pytest.raises(MalformedToken):
        pair.patient.encrypt(b"[1]", ContentType.CONTROL, now=T0)
    assert _state(pair.patient) == before
