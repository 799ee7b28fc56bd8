"""``medcrypt pair upgrade``: move a live v2 pairing to v3 without meeting again
(docs/PROTOCOL.md §35, docs/adr/0027).

Three runs, by role and by what is given:

* physician, no token: ``pair upgrade [--pairing ID]`` prints an UPGRADE_OFFER token for
  the bot (a fresh X25519 key signed by this identity key); its private half waits in the
  keystore until the answer arrives;
* patient, the offer: ``pair upgrade TOKEN`` checks it against the physician key this
  v2 pairing pinned, prints the UPGRADE_ANSWER token, and from now on speaks v3;
* physician, the answer: ``pair upgrade TOKEN`` checks it against the pinned patient key
  and from now on speaks v3 (and signs the pinned-key record when escrow is set).

At the upgrade each side deletes the v2 next-month key and its v2 sending chains: v2 is
never written again, and v2 messages of live months still open until their grace end.
No code is compared: both identity keys were pinned by the v2 pairing (ADR 0027).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from medcrypt.companion.app import Companion, open_companion
from medcrypt.companion.env import read_stdin
from medcrypt.companion.i18n import N_, _, error
from medcrypt.companion.v3session import V3Session
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import PairingSession
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.endpoint.v3.upgrade import (
    PhysicianUpgrade,
    Upgraded,
    answer_upgrade,
    offer_upgrade,
)
from medcrypt.crypto.endpoint.v3.verified import fingerprint_v3, mark_verified
from medcrypt.crypto.errors import ConfigError, MalformedToken, OfferReused, WrongPairing
from medcrypt.crypto.keyless.record_wire import encode_record_token
from medcrypt.crypto.keyless.upgrade_wire import UpgradeAnswer, UpgradeOffer
from medcrypt.crypto.keyless.wire import Kind, encode_token, find_tokens, parse_token


def add_parser(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = _("move a v2 pairing to v3: physician offers, patient answers, physician "
              "finishes")
    up = verbs.add_parser("upgrade", help=about, description=about)
    up.add_argument("pasted", nargs="?", metavar="TOKEN",
                    help=_("the relayed upgrade offer (patient) or answer (physician), or "
                           "the pasted bot message ('-' = stdin); none: the physician's "
                           "offer"))
    up.add_argument("--pairing", metavar="ID", help=_("physician's offer: the pairing id or "
                                                      "a unique prefix (if more than one)"))
    up.add_argument("--json", action="store_true", help=_("machine-readable output"))
    up.set_defaults(handler=run_upgrade)


def _emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> None:
    print(json.dumps(data, sort_keys=True) if args.json else "\n".join(lines))


def _the_token(text: str) -> tuple[str, UpgradeOffer | UpgradeAnswer]:
    found = [t for t in find_tokens(text) if parse_token(t).header.kind is Kind.UPGRADE]
    if len(found) != 1:
        raise error(MalformedToken, N_("expected exactly one upgrade token"))
    info = parse_token(found[0]).upgrade
    assert info is not None
    return found[0], info


def _v2_session(comp: Companion, pairing_hex: str) -> PairingSession:
    if pairing_hex not in comp.state["pairings"]:
        raise comp.missing_pairing(pairing_hex, N_("this upgrade token"))
    if comp.protocol(pairing_hex) != 2:
        raise error(OfferReused, N_("this pairing already speaks v3"))
    session = comp.session(pairing_hex)
    assert isinstance(session, PairingSession)
    return session


def run_upgrade(args: argparse.Namespace) -> int:
    with open_companion(args) as comp:
        if args.pasted is None:
            return _offer(args, comp)
        token, info = _the_token(read_stdin() if args.pasted == "-" else str(args.pasted))
        pairing_hex = info.pairing_id.hex()
        if isinstance(info, UpgradeOffer):
            if comp.role is not Role.PATIENT:
                raise error(ConfigError, N_("an upgrade offer is answered by the patient's "
                                            "companion"), key="role")
            return _answer(args, comp, pairing_hex, token)
        if comp.role is not Role.PHYSICIAN:
            raise error(ConfigError, N_("an upgrade answer is for the physician's "
                                        "companion"), key="role")
        return _finish(args, comp, pairing_hex, token)


def _offer(args: argparse.Namespace, comp: Companion) -> int:
    if comp.role is not Role.PHYSICIAN:
        raise error(ConfigError, N_("the physician's companion offers the upgrade; the "
                                    "patient runs 'medcrypt pair upgrade TOKEN' with the "
                                    "offer"), key="role")
    pairing_hex = comp.resolve_pairing(args.pairing)
    pending = offer_upgrade(_v2_session(comp, pairing_hex), comp.identity, clock=comp.clock)
    try:
        comp.state["pairings"][pairing_hex]["upgrade"] = pending.export()
        comp.commit()
    finally:
        pending.wipe()
    _emit(args, {"pairing_id": pairing_hex, "upgrade_token": pending.token},
          [_("Upgrade of pairing {pairing} to MedCrypt v3 offered. Send this token to the "
             "clinic bot; the patient's companion answers it:", pairing=pairing_hex),
           pending.token])
    return 0


def _switch(comp: Companion, pairing_hex: str, upgraded: Upgraded,
            extra: dict[str, Any]) -> V3Session:
    session = V3Session(Session.from_pairing(upgraded.secrets), comp.clock,
                        retired=upgraded.retired)
    upgraded.secrets.wipe()
    comp.upgrade_to_v3(pairing_hex, session, extra)
    comp.commit()
    return session


def _answer(args: argparse.Namespace, comp: Companion, pairing_hex: str, token: str) -> int:
    done = answer_upgrade(token, _v2_session(comp, pairing_hex), comp.identity,
                          clock=comp.clock)
    peer = done.upgraded.secrets.peer_identity_public
    # The physician's key was pinned by the v2 pairing (safety number compared in person)
    # and it signed this offer: the v3 session is verified for that same key.
    verified = mark_verified(done.upgraded.secrets.pairing_id, peer,
                             at=int(comp.clock.now().timestamp()))
    _switch(comp, pairing_hex, done.upgraded, {"verified": verified.export()})
    _emit(args, {"pairing_id": pairing_hex, "answer_token": done.token, "protocol": 3,
                 "peer_fingerprint": fingerprint_v3(peer)},
          [_("Pairing {pairing} now speaks MedCrypt v3. Send this answer to the clinic bot "
             "so your physician's companion moves too:", pairing=pairing_hex), done.token])
    return 0


def _finish(args: argparse.Namespace, comp: Companion, pairing_hex: str, token: str) -> int:
    record = comp.state["pairings"].get(pairing_hex, {}).get("upgrade")
    if record is None:
        raise error(WrongPairing, N_("this companion offered no upgrade of that pairing; run "
                                     "'medcrypt pair upgrade' first"))
    pending = PhysicianUpgrade.load(record)
    try:
        done = pending.finish(token, _v2_session(comp, pairing_hex), comp.identity,
                              clock=comp.clock)
    finally:
        pending.wipe()
    escrow = done.secrets.escrow_public
    pinned = None if done.record is None else done.record.text()
    # The record goes to the bot sealed to the escrow key (PIN_RECORD, PROTOCOL §34.3),
    # as after a QR pairing: break-glass of the v3 months verifies deposits against it.
    filed = None if done.record is None or escrow is None else encode_token(
        encode_record_token(done.secrets.pairing_id, done.record.raw, escrow))
    _switch(comp, pairing_hex, done, {"pinned_record": pinned})
    _emit(args, {"pairing_id": pairing_hex, "protocol": 3, "pinned_record": pinned,
                 "record_token": filed},
          [_("Pairing {pairing} now speaks MedCrypt v3: the patient answered with the key "
             "pinned at pairing.", pairing=pairing_hex)]
          + ([_("Pinned-key record (for the clinic's break-glass): {record}", record=pinned),
              _("Send this sealed record to the clinic bot:"), filed] if filed else []))
    return 0
