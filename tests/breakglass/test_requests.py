"""The request state machine on SQLite and PostgreSQL, driven directly (no chat)."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.cli.escrow import public_key_text
from medcrypt.bot.domain.breakglass import requests
from medcrypt.bot.domain.breakglass.requests import Actor
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.errors import ConfigError, PolicyViolation
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.models.breakglass import BreakGlassRequest
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.pairings import Pairing
from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
#: The bot's bundle, an open session, and the raw id of one active pairing.
World = tuple[Services, Session, bytes]
A, B, C = Actor("a" * 32, True), Actor("b" * 32, True), Actor("c" * 32, False)


@pytest.fixture
def world(migrated_database_url: str) -> Iterator[World]:
    engine = make_engine(migrated_database_url)
    keyring = Keyring.from_environ(
        {"K": "1:" + base64.b64encode(os.urandom(32)).decode()}, env_name="K")
    clock = MovableClock(T0)
    settings = parse_settings({"clinic": {"escrow_public_key": public_key_text(
        make_escrow().public)}, "breakglass": {"approval_window_minutes": 30}})
    deps = build_services(settings, clock, engine=engine, keyring=keyring, environ={})
    deps.warm()
    pid = os.urandom(16)
    with session_factory(engine)() as s:
        for ident in ("p" * 32, "q" * 32):
            s.add(PlatformIdentity(id=ident, platform="telegram", created_at=T0))
        s.add(Pairing(pairing_id=pid.hex(), physician_id="p" * 32, patient_id="q" * 32,
                      status="active", start_epoch=682, grace_days=7,
                      offer_expires_at=T0, created_at=T0))
        s.commit()
        yield deps, s, pid
    engine.dispose()


def code_of(outcome: requests.Outcome) -> str:
    return outcome.reply.in_("en").split("request ")[1].split(" ")[0]


def test_full_cycle_and_record_opened(world: World) -> None:
    deps, s, pid = world
    code = code_of(requests.request(deps, s, A, [pid.hex(), "code", "blue"]))
    out = requests.approve(deps, s, B, [code])
    assert out.document is not None and out.document_to == A.identity_id
    assert {who for who, _ in out.notices} == {"p" * 32, "q" * 32}
    s.commit()
    from medcrypt.bot.domain.breakglass.bundle import bundle_digest

    with pytest.raises(PolicyViolation, match="not the file"):
        requests.record_opened(deps, s, code, "0" * 64, holders=2)
    with pytest.raises(PolicyViolation, match="no exported"):
        requests.record_opened(deps, s, "ffffffffff", bundle_digest(out.document.data),
                               holders=2)
    row = requests.record_opened(deps, s, code, bundle_digest(out.document.data), holders=2)
    assert row.opened_at == T0
    s.commit()
    actions = [e.action for e in deps.audit.export()]
    assert actions == ["breakglass.requested", "breakglass.approved", "breakglass.exported",
                       "breakglass.opened"]


def test_expire_due_and_window_edge(world: World) -> None:
    deps, s, pid = world
    first = code_of(requests.request(deps, s, A, [pid.hex(), "first", "reason"]))
    assert isinstance(deps.clock, MovableClock)
    deps.clock.set(T0 + timedelta(minutes=10))
    second = code_of(requests.request(deps, s, A, [pid.hex(), "second", "reason"]))
    deps.clock.set(T0 + timedelta(minutes=30))  # the first's window is over, exactly
    assert requests.expire_due(deps, s) == 1
    assert "expired" in requests.approve(deps, s, B, [first]).reply.in_("en")
    assert "approved" in requests.approve(deps, s, B, [second]).reply.in_("en")


def test_requester_may_withdraw_but_not_approve(world: World) -> None:
    deps, s, pid = world
    code = code_of(requests.request(deps, s, A, [pid.hex(), "drill", "only"]))
    assert "own" in requests.approve(deps, s, A, [code]).reply.in_("en")
    assert "admins" in requests.approve(deps, s, C, [code]).reply.in_("en")
    assert "admins" in requests.deny(deps, s, C, [code]).reply.in_("en")
    assert "denied" in requests.deny(deps, s, A, [code]).reply.in_("en")
    row = s.get(BreakGlassRequest, s.query(BreakGlassRequest.id).scalar())
    assert row is not None and row.status == "denied"


def test_pairing_prefix_rules(world: World) -> None:
    deps, s, pid = world
    short = requests.request(deps, s, A, [pid.hex()[:7], "too short"])
    assert "No pairing" in short.reply.in_("en")
    prefix = requests.request(deps, s, A, [pid.hex()[:8].upper(), "prefix ok"])
    assert "opened" in prefix.reply.in_("en")
    s.add(Pairing(pairing_id=(pid[:4] + os.urandom(12)).hex(), physician_id="p" * 32,
                  patient_id="q" * 32, status="active", start_epoch=682, grace_days=7,
                  offer_expires_at=T0, created_at=T0))
    s.flush()
    assert "Several" in requests.request(deps, s, A, [pid.hex()[:8], "ambiguous"]).reply.in_("en")
    assert "reason" in requests.request(deps, s, A, [pid.hex(), "x" * 161]).reply.in_("en")


def test_missing_escrow_key_refuses_before_any_change(world: World) -> None:
    deps, s, pid = world
    code = code_of(requests.request(deps, s, A, [pid.hex(), "no", "key", "yet"]))
    bare = dataclasses.replace(deps, settings=parse_settings({}))
    with pytest.raises(ConfigError, match=r"clinic\.escrow_public_key"):
        requests.approve(bare, s, B, [code])
    row = s.query(BreakGlassRequest).one()
    assert row.status == "pending" and row.approver_id is None


def test_missing_deposit_is_reported_to_the_physician(
        world: World) -> None:
    from medcrypt.bot.domain.breakglass.deposits import missing_deposits, notices
    from medcrypt.crypto.keyless.epochs import epoch_of
    from medcrypt.storage.models.epochs import Epoch
    from medcrypt.storage.models.escrow import EscrowDeposit
    from medcrypt.storage.models.tokens import StoredToken

    deps, s, pid = world
    now = deps.clock.now()
    assert missing_deposits(s, now) == []  # nothing relayed, nothing missing
    s.add(Epoch(pairing_id=pid.hex(), epoch=epoch_of(now), state="active", started_at=now))
    s.add(StoredToken(pairing_id=pid.hex(), epoch=epoch_of(now), direction=1, msg_index=0,
                      kind=1, raw=b"m", received_at=now))
    s.flush()
    found = missing_deposits(s, now)
    assert [(m.pairing_id, m.physician_id) for m in found] == [(pid.hex(), "p" * 32)]
    (who, written), = notices(found)
    text = written.in_("en")  # written in the physician's language when queued
    assert who == "p" * 32 and "2026-11" in text and pid.hex()[:8] in text
    s.add(EscrowDeposit(pairing_id=pid.hex(), epoch=epoch_of(now), direction=1, raw=b"d",
                        deposited_at=now))
    s.flush()
    assert missing_deposits(s, now) == []
