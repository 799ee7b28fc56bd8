"""The companion-facing surface of crypto.session: identities, properties, argument checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint import pairing
from medcrypt.crypto.endpoint.session import IdentityKey, start_pairing
from medcrypt.crypto.errors import MalformedToken, StorageError
from tests.support.sessions import T0, make_pair


def test_identity_key_export_import() -> None:
    key = IdentityKey(b"\x09" * 32)
    again = IdentityKey.import_(key.export())
    assert again.public == key.public and again.sign(b"m") == key.sign(b"m")
    assert len(key.fingerprint()) == 64
    with pytest.raises(MalformedToken):
        IdentityKey(b"\x01" * 31)
    with pytest.raises(StorageError):
        IdentityKey.import_("not base64!")
    key.wipe()


def test_session_properties() -> None:
    p = make_pair()
    s = p.physician
    assert s.role is pairing.Role.PHYSICIAN and p.patient.role is pairing.Role.PATIENT
    assert s.pairing_id == p.patient.pairing_id and len(s.pairing_id) == 16
    assert s.peer_identity == p.patient_id.public
    assert s.escrow_public == bytes(p.escrow.public_key)
    assert s.bot_contact == "telegram:@clinic_bot"
    assert (s.grace_days, s.start_epoch, s.live_epochs, s.shredded_epochs) == (7, 682, [682], {})
    info = s.schedule_info()
    assert info["first_epoch"] == "2026-11"
    assert info["next_rotation"] == datetime(2026, 12, 1, tzinfo=UTC).isoformat()
    assert info["grace_end 2026-11"] == datetime(2026, 12, 8, tzinfo=UTC).isoformat()
    s.wipe()
    for use in (lambda: s.export_state(), lambda: s.advance(p.clock),
                lambda: s.encrypt(b"x", clock=p.clock),
                lambda: s.decrypt(p.patient.encrypt(b"y", clock=p.clock).token, clock=p.clock)):
        with pytest.raises(StorageError, match="wiped"):
            use()


@pytest.mark.parametrize("kwargs", [
    {"grace_days": 93}, {"grace_days": -1}, {"escrow_public": b"\x01" * 31},
    {"bot_contact": "x" * 65},
])
def test_offer_arguments_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(MalformedToken):
        start_pairing(IdentityKey(b"\x01" * 32), clock=FixedClock(T0), **kwargs)  # type: ignore[arg-type]


def test_offer_without_escrow_and_contact_round_trips() -> None:
    pending = start_pairing(IdentityKey(b"\x01" * 32), clock=FixedClock(T0), grace_days=0)
    offer = pairing.parse_offer_text(pending.offer.to_qr_text())
    assert offer.escrow_public is None and offer.bot_contact == "" and offer.grace_days == 0
