"""Break-glass approval judged by persons, driven directly (no chat), on SQLite and
PostgreSQL: whoever the requester appointed - as proposer or as confirmer - cannot
approve, nor can an identity joined to the requester's person after the request."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from medcrypt.bot.domain.breakglass import requests
from medcrypt.bot.domain.breakglass.requests import Actor
from medcrypt.bot.domain.messages import Platform
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.repos import admins
from tests.support.handling import T0, World, world

A, B, C = "111", "222", "333"


@pytest.fixture
def w(migrated_database_url: str) -> Iterator[World]:
    with world(migrated_database_url, {"admin_telegram_ids": [111, 222, 333]}) as made:
        yield made


def _pairing(w: World) -> str:
    pid = os.urandom(16).hex()
    with w.services.sessions.begin() as s:
        physician = w.identity(s, Platform.TELEGRAM, "5550001")
        patient = w.identity(s, Platform.WHATSAPP, "whatsapp:+15551230001")
        s.add(Pairing(pairing_id=pid, physician_id=physician, patient_id=patient,
                      status="active", start_epoch=682, grace_days=7, offer_expires_at=T0,
                      created_at=T0))
    return pid


def _grant(w: World, address: str, *, proposer: str, confirmer: str,
           person: str | None = None) -> str:
    """A chat grant of ``address``; returns its person's row id."""
    with w.services.sessions.begin() as s:
        ids = {a: w.identity(s, Platform.TELEGRAM, a) for a in (address, proposer, confirmer)}
        person_id = person or admins.new_person(s, now=T0)
        admins.grant(s, identity_id=ids[address], platform="telegram", person_id=person_id,
                     added_by=ids[proposer], confirmed_by=ids[confirmer], now=T0)
        return person_id


def _request(w: World, pid: str, requester: str) -> str:
    with w.services.sessions.begin() as s:
        actor = Actor(w.identity(s, Platform.TELEGRAM, requester), True)
        out = requests.request(w.services, s, actor, [pid, "patient", "unconscious"])
        reply = out.reply.in_("en")
    return reply.split("request ")[1].split(" ")[0]


def _approve(w: World, code: str, approver: str) -> str:
    with w.services.sessions.begin() as s:
        actor = Actor(w.identity(s, Platform.TELEGRAM, approver), True)
        return requests.approve(w.services, s, actor, [code]).reply.in_("en")


def _refusals(w: World) -> list[str]:
    return [str((e.details or {}).get("why")) for e in w.services.audit.export()
            if e.action == "admin.refused"]


def test_whoever_the_requester_confirmed_or_proposed_cannot_approve(w: World) -> None:
    pid = _pairing(w)
    _grant(w, "444", proposer=C, confirmer=A)  # A only confirmed
    _grant(w, "555", proposer=A, confirmer=B)  # A proposed
    code = _request(w, pid, A)
    assert "made you an admin" in _approve(w, code, "444")
    assert "made you an admin" in _approve(w, code, "555")
    assert _refusals(w) == ["granted_by_requester", "granted_by_requester"]


def test_an_identity_joined_to_the_requester_after_the_request_is_the_requester(
        w: World) -> None:
    pid = _pairing(w)
    person = _grant(w, "444", proposer=B, confirmer=C)
    code = _request(w, pid, "444")
    _grant(w, "666", proposer=B, confirmer=C, person=person)  # the same person, later
    assert "another of your accounts" in _approve(w, code, "666")
    assert "own break-glass request" in _approve(w, code, "444")
    assert _refusals(w) == ["same_person", "own_request"]
