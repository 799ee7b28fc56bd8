"""A v2 pairing made by commit 06f4938 upgrades to v3 and keeps talking (issue 13).

The fixture (tests/fixtures/make_v2_pair_06f4938.py says how it was made) is what that
commit's real bot and real companions left behind: both keystore files, the bot
database with the v2 pairing, and two v2 messages delivered but not yet opened. Here:

1. the database is migrated to head and the real bot runs on it, on the sandbox;
2. today's companion code unlocks the old keystores (passphrase, format as written);
3. the physician's companion offers the upgrade, the patient's answers, both through the
   bot, and the bot marks the pairing v3: it relays the pairing's v3 messages and
   refuses v2 for it;
4. both sides talk v3, and a copy of the patient's state taken before one round trip
   opens nothing sent after it;
5. the v2 messages in flight still open - until their month's grace end, after which
   they give the typed EpochShredded, while v3 keeps working.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session as OrmSession

from medcrypt.companion.app import Companion
from medcrypt.companion.keystore import Keystore
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint.session import PairingSession
from medcrypt.crypto.endpoint.v3.retired import RetiredV2
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.endpoint.v3.upgrade import answer_upgrade, offer_upgrade
from medcrypt.crypto.errors import EpochShredded, MedCryptError, ReplayDetected
from medcrypt.crypto.keyless.epochs import epoch_of, grace_end
from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine
from medcrypt.storage.repos import upgrades
from tests.support.rigs import Rig, live_bot, until

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v2_pair_06f4938"
META = json.loads((FIXTURE / "fixture.json").read_text())


def _delivered(rig: Rig, account: str | int) -> list[str]:
    if isinstance(account, int):
        texts = [m.text for m in rig.tg.messages_to(account) if m.text]
    else:
        texts = [m.body for m in rig.tw.messages_to(account) if m.body]
    return [t for text in texts for t in find_tokens(text)]


async def _send(rig: Rig, account: str | int, text: str) -> None:
    if isinstance(account, int):
        rig.tg.user_sends_text(account, text)
    else:
        result = await rig.tw.user_sends_whatsapp_async(account, text)
        assert result.http_status == 200


def _v3_messages(rig: Rig, account: str | int) -> list[str]:
    return [t for t in _delivered(rig, account) if t.startswith("[MEDCRYPT:v3:")
            and parse_token(t).header.kind is Kind.MESSAGE]


def _open(home: Path, clock: FixedClock) -> Companion:
    return Companion(Keystore.unlock(home, META["passphrase"]), clock)


def _seed(companion: Companion) -> bytes:
    """What a full copy of the companion's home holds besides the session: the seed."""
    return prim.b64d(companion.identity.export(), 32)


def _upgraded_at(rig: Rig) -> datetime | None:
    engine = make_engine(f"sqlite:///{rig.db}")
    try:
        with OrmSession(engine) as session:
            row = upgrades.upgrade_of(session, META["pairing_id"])
            return None if row is None else row.upgraded_at
    finally:
        engine.dispose()


def test_the_fixture_is_what_its_script_recorded() -> None:
    assert META["commit"] == "06f4938" and META["schema_revision"] == "0008_relay_on_storage"
    for person in ("physician", "patient"):
        assert (FIXTURE / person / "keystore.mcks").stat().st_size > 0
    for way in ("to_patient", "to_physician"):
        for token in META["in_flight"][way]["tokens"]:
            assert parse_token(token).header.version == 2


async def test_a_06f4938_pairing_upgrades_through_the_bot_and_keeps_talking(
        tmp_path: Path) -> None:
    for person in ("physician", "patient"):
        shutil.copytree(FIXTURE / person, tmp_path / person)
    db = tmp_path / "bot.db"  # where live_bot's configuration points
    shutil.copy(FIXTURE / "bot.sqlite", db)
    migrate.upgrade(f"sqlite:///{db}")
    assert migrate.current(f"sqlite:///{db}") == migrate.head()

    clock = FixedClock(datetime.fromisoformat(META["made_at"]) + timedelta(minutes=5))
    doctor = _open(tmp_path / "physician", clock)
    patient_app = _open(tmp_path / "patient", clock)
    pid = META["pairing_id"]
    doctor_v2, patient_v2 = doctor.session(pid), patient_app.session(pid)
    assert isinstance(doctor_v2, PairingSession) and isinstance(patient_v2, PairingSession)
    # What an old (or modified) companion that kept v2 would send after the upgrade.
    doctor_v2_copy = PairingSession.from_state(doctor_v2.export_state(), doctor.identity)
    chat, number = META["physician_chat"], META["patient_number"]

    environ = {"MEDCRYPT_SERVER_KEYS": META["server_keys"],
               "MEDCRYPT_AUDIT_SIGNING_KEY": META["audit_signing_key"]}
    grace = doctor_v2.grace_days
    async with live_bot(tmp_path, clock=clock, environ=environ) as rig:
        assert rig.db == db
        # v2 still relays both ways on the migrated database (this also opens the
        # sandbox chats: a platform delivers only to someone who wrote to the bot).
        doctor_last = doctor_v2.encrypt(b"last v2 from the physician", clock=clock).token
        await _send(rig, chat, doctor_last)
        last_v2 = patient_v2.encrypt(b"last v2 message", clock=clock).token
        await _send(rig, number, last_v2)
        await until(lambda: last_v2 in _delivered(rig, chat))
        await until(lambda: doctor_last in _delivered(rig, number))
        offer = offer_upgrade(doctor_v2, doctor.identity, clock=clock)
        await _send(rig, chat, offer.token)
        await until(lambda: offer.token in _delivered(rig, number))
        answer = answer_upgrade(offer.token, patient_v2, patient_app.identity, clock=clock)
        await _send(rig, number, answer.token)
        await until(lambda: answer.token in _delivered(rig, chat))
        assert _upgraded_at(rig) is not None
        done = offer.finish(answer.token, doctor_v2, doctor.identity, clock=clock)
        assert parse_token(answer.token).header.kind is Kind.UPGRADE
        patient = Session.from_pairing(answer.upgraded.secrets)
        physician = Session.from_pairing(done.secrets)
        # v3 through the relay: it carries the upgraded pairing's v3 messages (the
        # deposit stripped off), and refuses v2 for it from now on.
        hello = patient.encrypt(b"first v3 through the bot", now=clock.now())
        await _send(rig, number, hello)
        await until(lambda: _v3_messages(rig, chat))
        relayed = _v3_messages(rig, chat)[0]
        assert physician.decrypt(relayed, now=clock.now()).body == b"first v3 through the bot"
        stale = doctor_v2_copy.encrypt(b"v2 after the upgrade", clock=clock).token
        before = len(rig.tg.messages_to(chat))
        await _send(rig, chat, stale)
        await until(lambda: len(rig.tg.messages_to(chat)) > before)
        assert stale not in _delivered(rig, number)

    patient_retired, physician_retired = answer.upgraded.retired, done.retired
    now = clock.now()

    # v3 both ways. Copies of both states (identity seeds included) taken now open what
    # is sent before one round trip, and nothing either side sends after it.
    stolen_patient = Session.import_state(patient.export_state(), _seed(patient_app))
    stolen_doctor = Session.import_state(physician.export_state(), _seed(doctor))
    hello = patient.encrypt(b"v3 from the patient", now=now)
    assert physician.decrypt(hello, now=now).body == b"v3 from the patient"
    reply = physician.encrypt(b"v3 from the physician", now=now)
    assert patient.decrypt(reply, now=now).body == b"v3 from the physician"
    to_doctor = patient.encrypt(b"after one round trip (patient)", now=now)
    assert physician.decrypt(to_doctor, now=now).body == b"after one round trip (patient)"
    to_patient = physician.encrypt(b"after one round trip (physician)", now=now)
    assert patient.decrypt(to_patient, now=now).body == b"after one round trip (physician)"
    assert stolen_doctor.decrypt(hello, now=now).body == b"v3 from the patient"
    assert stolen_patient.decrypt(reply, now=now).body == b"v3 from the physician"
    with pytest.raises(MedCryptError):
        stolen_doctor.decrypt(to_doctor, now=now)
    with pytest.raises(MedCryptError):
        stolen_patient.decrypt(to_patient, now=now)

    # The v2 messages in flight at the upgrade still open, from persisted retired state.
    patient_retired = RetiredV2.from_state(patient_retired.export_state())
    for retired, way in ((patient_retired, "to_patient"), (physician_retired, "to_physician")):
        for token in META["in_flight"][way]["tokens"]:
            opened = retired.decrypt(token, clock=clock)
            assert opened.body == META["in_flight"][way]["plaintext"].encode()

    assert physician_retired.decrypt(last_v2, clock=clock).body == b"last v2 message"
    assert patient_retired.decrypt(doctor_last, clock=clock).body == b"last v2 from the physician"

    # After the v2 month's grace end: the typed error, and v3 still talks.
    month = epoch_of(datetime.fromisoformat(META["made_at"]))
    clock.set(grace_end(month, grace) + timedelta(days=1))
    later = clock.now()
    for token in META["in_flight"]["to_physician"]["tokens"]:
        with pytest.raises(EpochShredded):
            physician_retired.decrypt(token, clock=clock)
    assert physician_retired.live_epochs == []
    late = patient.encrypt(b"v3 in a later month", now=later)
    assert physician.decrypt(late, now=later).body == b"v3 in a later month"
    with pytest.raises(ReplayDetected):
        physician.decrypt(late, now=later)  # a replay opens nothing
    doctor.close()
    patient_app.close()
