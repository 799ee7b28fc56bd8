"""The v3 steps of ``medcrypt pair`` (docs/PROTOCOL.md §30-§34, docs/adr/0025).

Three commands carry a v3 pairing, with v2's shape kept where it fits:

* ``pair offer`` (physician) - a v3 offer (QR format 2) and its PAIR_REGISTER;
* ``pair accept`` (patient) - the PAIR_ACCEPT and the verification code; the patient's
  state waits in the keystore ("accepting") and no session exists yet;
* ``pair complete`` (physician) - the relayed accept(s): the screen (UNVERIFIED banner,
  code, how many valid accepts arrived and when, the masked account the bot reported),
  the question "Do both screens show the same code?" with Cancel as the default, and
  only after an explicit yes the KEY_CONFIRM token (and the pinned-key record);
* ``pair confirm`` (patient) - verifies KEY_CONFIRM, and only then creates the session,
  marked verified for the physician key's fingerprint.

Why the physician's answer is asked here and not taken from a flag: the code is the
only thing that tells the physician whose accept this is (a photo of the QR yields a
valid accept too). A script may pass ``--code DIGITS`` - the digits the patient's screen
shows - which confirms only if they equal this side's code: typing the code is at least
as strong as answering yes, and a wrong code cancels like a no.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medcrypt.companion.app import Companion, open_companion
from medcrypt.companion.env import read_stdin
from medcrypt.companion.i18n import N_, _, error
from medcrypt.companion.v3session import V3Session
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.v3.pairing import PatientPairing, accept_offer_v3
from medcrypt.crypto.endpoint.v3.physician import (
    PhysicianPairing,
    PhysicianScreen,
    PhysicianState,
    create_offer_v3,
    mask_account,
)
from medcrypt.crypto.endpoint.v3.pinned import sign_record
from medcrypt.crypto.endpoint.v3.verified import fingerprint_v3, mark_verified
from medcrypt.crypto.errors import (
    ConfigError,
    MalformedToken,
    MedCryptError,
    OfferExpired,
    OfferReused,
    PairingCancelled,
    QrShared,
)
from medcrypt.crypto.keyless.record_wire import encode_record_token
from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.keyless.wire import Kind, encode_token, find_tokens, parse_token

CODE_QUESTION = N_("Do both screens show the same code?")
UNVERIFIED_BANNER = N_("UNVERIFIED - compare the code with the patient's screen, in person, "
                       "before you confirm")
PINNED_LABEL = N_("Pinned-key record for the clinic (base64; the clinic enrols it for "
                  "break-glass):")
SEALED_RECORD_LABEL = N_("Send this sealed record to the clinic bot too, after the "
                         "confirmation:")
#: The bot's ACCEPT_ARRIVED notice: when it arrived, the platform, the account's last two
#: characters (bot/domain/notices.py), in each language the bot writes it in (the
#: physician's bot language need not be this terminal's). The companion may not read the
#: bot's catalog; tests/integration/test_bot_notice_wording.py renders the bot's notice in
#: every language it ships and fails if one of these no longer reads it.
_NOTICE_RES = (
    re.compile(r"arrived at (\d\d:\d\d:\d\d) UTC from an? (\w+) account ending in "
               r"(\S{1,2})\."),
    re.compile(r"llegó a las (\d\d:\d\d:\d\d) UTC desde una cuenta de (\w+) que termina en "
               r"(\S{1,2})\."),
)


def _notice_after(text: str, start: int) -> re.Match[str] | None:
    """The first bot notice, in any of its languages, after ``start`` in ``text``."""
    found = [m for m in (r.search(text, start) for r in _NOTICE_RES) if m is not None]
    return min(found, key=lambda m: m.start()) if found else None


def _emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> None:
    import json

    if args.json:
        print(json.dumps(data, sort_keys=True))
    else:
        print("\n".join(lines))


def _arg_text(value: str) -> str:
    """A command-line argument, or stdin for ``-``."""
    return read_stdin() if value == "-" else value


def tag_line(pairing_hex: str) -> str:
    """The pairing's tag, as the clinic's bot names it (docs/adr/0031)."""
    tag = tag_of_hex(pairing_hex)
    return _("Pairing tag: {tag} (the clinic bot names this pairing by it; name it on this "
             "device with: medcrypt pair label {tag} \"NAME\")", tag=tag)


# --------------------------------------------------------------------------- physician


def run_offer(args: argparse.Namespace) -> int:
    from medcrypt.companion import qr  # lazy: segno only for this command

    with open_companion(args) as comp:
        if comp.role is not Role.PHYSICIAN:
            raise error(ConfigError, N_("only a physician's companion makes pairing offers"),
                        key="role")
        pairing = create_offer_v3(comp.identity.public, clock=comp.clock,
                                  grace_days=args.grace_days, escrow_public=comp.escrow_public,
                                  bot_contact=comp.state.get("bot_contact", ""))
        offer = pairing.offer
        pairing_hex = offer.pairing_id.hex()
        text = offer.to_qr_text()
        png = args.png or Path(f"medcrypt-offer-{pairing_hex[:8]}.png")
        qr.write_png(text, png)
        try:
            comp.state["offers"][pairing_hex] = {
                "protocol": 3, "pending": pairing.export(), "expires_at": offer.expires_at,
                "png": str(png.resolve())}
            comp.commit()
        except BaseException:
            png.unlink(missing_ok=True)
            raise
        finally:
            pairing.cancel()  # the keystore holds the state now; wipe this copy
        registration = offer.registration_token()
        drawing = "" if args.no_terminal or args.json else qr.render_terminal(text)
        _emit(args, {"pairing_id": pairing_hex, "qr_png": str(png), "offer_text": text,
                     "registration_token": registration, "protocol": 3,
                     "expires_at": str(offer.expires_at), "tag": tag_of_hex(pairing_hex)},
              [drawing, _("Pairing id: {pairing}", pairing=pairing_hex), tag_line(pairing_hex),
               _("QR image: {png} (one use; expires in 10 minutes)", png=png),
               _("Offer text (if the camera fails): {text}", text=text),
               _("Send this registration token to the clinic bot:"), registration])
    return 0


@dataclass(frozen=True, slots=True)
class Reported:
    """What the bot's notice after one relayed accept said about it."""

    account: str  # the last two characters only (the screen's masking)
    line: str


def _reported(text: str, token: str, flag: str | None) -> Reported:
    """The bot's notice that follows ``token`` in the pasted chat (the bot relays the
    accept, then says when it arrived and from which masked account); ``--account``
    overrides the account."""
    at = text.find(token)
    found = _notice_after(text, at + len(token)) if at >= 0 else None
    if found is None:
        return Reported(flag or "", "")
    account = flag or found.group(3)
    return Reported(account, _("The bot reported: arrived at {at} UTC from a {platform} "
                               "account ending in {account}", at=found.group(1),
                               platform=found.group(2), account=mask_account(account)))


def screen_lines(screen: PhysicianScreen) -> list[str]:
    lines = [_(screen.banner) if screen.state is PhysicianState.CONFIRMED
             else _(UNVERIFIED_BANNER)]
    if screen.code is not None:
        lines.append(_("Verification code: {code}", code=screen.code))
    lines.append(_("Valid pairing answers received: {n}", n=len(screen.accepts)))
    for n, seen in enumerate(screen.accepts, 1):
        lines.append(_("  {n}. at {at} UTC from {account}", n=n,
                       at=seen.arrived_at.strftime("%Y-%m-%d %H:%M:%S"),
                       account=seen.account or _("an account the bot did not name")))
    return lines


def _drop_offer(comp: Companion, pairing_hex: str, pairing: PhysicianPairing) -> None:
    """Close an offer for good: its state keeps no secret, its QR image goes."""
    record = comp.state["offers"][pairing_hex]
    record["pending"] = pairing.export()
    if record.get("png"):
        with contextlib.suppress(OSError):
            Path(record["png"]).unlink(missing_ok=True)
        record["png"] = None


def _answer(args: argparse.Namespace, code: str) -> bool | None:
    """True only for an explicit yes (or the matching ``--code``); None: nobody to ask."""
    if args.code is not None:
        typed = re.sub(r"\s+", "", args.code).encode()
        return hmac.compare_digest(typed, code.replace(" ", "").encode())
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    sys.stderr.write(_("{question} [y/N] (Cancel is the default) ",
                       question=_(CODE_QUESTION)))
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes", *_("y|yes").split("|"))


def run_complete(args: argparse.Namespace, text: str, tokens: list[str], keep: bool) -> int:
    """The physician's side: count the accepts, ask, and only on yes sign KEY_CONFIRM."""
    pairing_hex = _pairing_of(tokens)
    reports = [_reported(text, token, args.account) for token in tokens]
    with open_companion(args) as comp:
        if comp.role is not Role.PHYSICIAN:
            raise error(ConfigError, N_("only a physician's companion completes pairings"),
                        key="role")
        if pairing_hex in comp.state["pairings"]:
            raise error(OfferReused, N_("this pairing offer was already used"))
        pairing = _physician_state(comp, pairing_hex)
        refused: list[MedCryptError] = []
        for token, report in zip(tokens, reports, strict=True):
            try:
                pairing.receive_accept(token, clock=comp.clock, account=report.account)
            except QrShared:
                _drop_offer(comp, pairing_hex, pairing)
                comp.commit()
                print("\n".join(screen_lines(pairing.screen) + _lines(reports)),
                      file=sys.stderr)
                raise
            except (OfferExpired, OfferReused):
                raise
            except MedCryptError as failure:  # not a valid accept: not counted, not fatal
                refused.append(failure)
        comp.state["offers"][pairing_hex]["pending"] = pairing.export()
        comp.commit()  # the accepts counted so far survive a Ctrl-C at the question
        for exc in refused:
            print(_("medcrypt: ignored a pairing answer that failed its checks ({name})",
                    name=type(exc).__name__), file=sys.stderr)
        screen = pairing.screen
        if screen.code is None:
            raise refused[0] if refused else error(MalformedToken,
                                                   N_("no valid pairing accept given"))
        print("\n".join(screen_lines(screen) + _lines(reports)), file=sys.stderr)
        answer = _answer(args, screen.code)
        if answer is None:
            raise error(ConfigError, N_("no terminal to ask whether the codes match; pass "
                                        "--code with the digits the patient's screen shows"),
                        key="--code")
        if not answer:
            pairing.cancel()
            _drop_offer(comp, pairing_hex, pairing)
            comp.commit()
            raise error(PairingCancelled, N_("cancelled: the codes were not confirmed, "
                                             "nothing was sent; make a new offer to pair "
                                             "again"))
        confirmed = pairing.confirm(comp.identity, clock=comp.clock)
        secrets = confirmed.secrets
        record = None
        if secrets.escrow_public is not None:
            record = sign_record(comp.identity, pairing_id=secrets.pairing_id,
                                 transcript_hash=secrets.transcript_hash,
                                 patient_identity=secrets.peer_identity_public,
                                 escrow_public=secrets.escrow_public).text()
        session = V3Session.from_pairing(secrets, comp.clock)
        secrets.wipe()
        comp.add_session(session, history=keep, extra={"pinned_record": record})
        _drop_offer(comp, pairing_hex, pairing)
        comp.state["offers"].pop(pairing_hex)
        comp.commit()
    lines = [_("Paired: {pairing} (verified by code)", pairing=pairing_hex),
             tag_line(pairing_hex),
             _("Send this confirmation token to the clinic bot - before any message:"),
             confirmed.token]
    # The record also goes to the bot, sealed to the escrow key (PIN_RECORD, PROTOCOL
    # §34.3): break-glass finds it there and verifies it against the enrolled key.
    filed = None
    if record is not None and secrets.escrow_public is not None:
        filed = encode_token(encode_record_token(
            secrets.pairing_id, base64.b64decode(record), secrets.escrow_public))
        lines += [_(PINNED_LABEL), record, _(SEALED_RECORD_LABEL), filed]
    _emit(args, {"pairing_id": pairing_hex, "key_confirm_token": confirmed.token,
                 "pinned_record": record, "record_token": filed,
                 "verification_code": screen.code, "protocol": 3, "history": keep,
                 "tag": tag_of_hex(pairing_hex)}, lines)
    return 0


def _lines(reports: list[Reported]) -> list[str]:
    return [r.line for r in reports if r.line]


def _pairing_of(tokens: list[str]) -> str:
    ids = {parse_token(t).header.pairing_id for t in tokens}
    if len(ids) != 1 or None in ids:
        raise error(MalformedToken, N_("the accept tokens name more than one pairing"))
    pid = ids.pop()
    assert pid is not None
    return pid.hex()


def _physician_state(comp: Companion, pairing_hex: str) -> PhysicianPairing:
    record = comp.state["offers"].get(pairing_hex)
    if record is None or record.get("protocol") != 3 or record["pending"] is None:
        raise error(OfferExpired, N_("no open pairing offer with this id on this device "
                                     "(it expired, or was made elsewhere); create a new "
                                     "offer"))
    return PhysicianPairing.load(record["pending"])


# --------------------------------------------------------------------------- patient


def run_accept(args: argparse.Namespace, offer_text: str, keep: bool) -> int:
    with open_companion(args) as comp:
        if comp.role is not Role.PATIENT:
            raise error(ConfigError, N_("only a patient's companion accepts pairing offers"),
                        key="role")
        pairing = accept_offer_v3(offer_text, comp.identity, clock=comp.clock)
        try:
            pairing_hex = pairing.offer.pairing_id.hex()
            accepting = comp.state.setdefault("accepting", {})
            if pairing_hex in comp.state["pairings"] or pairing_hex in accepting:
                raise error(OfferReused,
                            N_("this pairing offer was already accepted on this device"))
            accepting[pairing_hex] = {"pending": pairing.export(),
                                      "expires_at": pairing.offer.expires_at, "history": keep}
            comp.commit()
            token, code = pairing.accept_token, pairing.code
        finally:
            pairing.wipe()
    _emit(args, {"pairing_id": pairing_hex, "accept_token": token, "verification_code": code,
                 "protocol": 3, "history": keep, "tag": tag_of_hex(pairing_hex)},
          [_("Send this accept token to the clinic bot:"), token,
           _("Pairing id: {pairing}", pairing=pairing_hex), tag_line(pairing_hex),
           _("Verification code: {code} - show it to your physician; it must match theirs",
             code=code),
           _("UNVERIFIED until the physician's confirmation arrives: open it with "
             "'medcrypt pair confirm TOKEN' (no message can be sent before)")])
    return 0


def run_confirm(args: argparse.Namespace) -> int:
    """The patient's side: verify KEY_CONFIRM; only then does a session exist."""
    text = _arg_text(args.token)
    found = [t for t in find_tokens(text)
             if parse_token(t).header.kind is Kind.KEY_CONFIRM]
    if len(found) != 1:
        raise error(MalformedToken, N_("expected exactly one key confirmation token"))
    header = parse_token(found[0]).header
    assert header.pairing_id is not None
    pairing_hex = header.pairing_id.hex()
    with open_companion(args) as comp:
        if comp.role is not Role.PATIENT:
            raise error(ConfigError,
                        N_("only a patient's companion verifies key confirmations"),
                        key="role")
        if pairing_hex in comp.state["pairings"]:
            raise error(OfferReused, N_("this pairing was already confirmed"))
        record = comp.state.get("accepting", {}).get(pairing_hex)
        if record is None:
            raise error(OfferExpired, N_("no pairing answer of this device waits for this "
                                         "confirmation (it expired, or was sent elsewhere); "
                                         "ask for a new QR code"))
        pending = PatientPairing.load(record["pending"], comp.identity)
        try:
            secrets = pending.verify_confirmation(found[0])
        finally:
            pending.wipe()
        verified = mark_verified(secrets.pairing_id, secrets.peer_identity_public,
                                 at=int(comp.clock.now().timestamp()))
        session = V3Session.from_pairing(secrets, comp.clock)
        secrets.wipe()
        keep = bool(record.get("history", False))
        comp.add_session(session, history=keep, extra={"verified": verified.export()})
        del comp.state["accepting"][pairing_hex]
        comp.commit()
    fingerprint = fingerprint_v3(session.peer_identity)
    _emit(args, {"pairing_id": pairing_hex, "verified": True, "peer_fingerprint": fingerprint,
                 "protocol": 3},
          [_("Verified: your physician confirmed the code. Pairing {pairing} is ready.",
             pairing=pairing_hex),
           _("Physician key fingerprint: {fingerprint} (a change later is reported loudly)",
             fingerprint=fingerprint[:16])])
    return 0
