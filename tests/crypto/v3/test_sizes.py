"""The token-size table of PROTOCOL.md §27, measured on real tokens: a short message and
a chain-starting message with its deposit both fit one WhatsApp message (1600 chars)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from tests.support.v3pairs import make_v3_pair

WHATSAPP = 1600
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
#: body bytes -> (characters in a chain, characters starting a chain with its deposit)
TABLE = {0: (506, 818), 178: (506, 818), 179: (848, 1160), 434: (848, 1160),
         690: (1189, 1501), 946: (1530, 1842)}


@pytest.mark.parametrize("body_len", sorted(TABLE))
def test_token_sizes_match_the_table(body_len: int) -> None:
    pair = make_v3_pair(epoch_of(NOW))
    first = pair.patient.encrypt(b"a" * body_len, now=NOW)
    for _ in range(2):
        pair.patient.encrypt(b"a" * body_len, now=NOW)
    in_chain = pair.patient.encrypt(b"a" * body_len, now=NOW)
    assert v3wire.parse_message_text(first).deposit is not None
    assert v3wire.parse_message_text(in_chain).deposit is None
    assert (len(in_chain), len(first)) == TABLE[body_len]


def test_a_typical_message_and_a_chain_start_with_deposit_fit_one_whatsapp_message() -> None:
    typical = "Fever 38.5 since yesterday evening; took 1 g paracetamol at 8."
    pair = make_v3_pair(epoch_of(NOW))
    start = pair.patient.encrypt(typical.encode(), now=NOW)
    pair.physician.decrypt(start, now=NOW)
    reply = pair.physician.encrypt(typical.encode(), now=NOW)  # a DH step: new chain
    assert v3wire.parse_message_text(reply).header.starts_chain
    assert v3wire.parse_message_text(reply).deposit is not None
    assert len(start) <= WHATSAPP and len(reply) <= WHATSAPP
