"""v3 pairing through the real ``medcrypt`` CLI: where the CLI is the one that refuses.

The hijacks of issue 13 that the companions, not the bot, must stop: a second valid
accept (someone photographed the QR) aborts on the physician's screen; a code that does
not match, or no answer at all, sends no KEY_CONFIRM (Cancel is the default); a tampered
KEY_CONFIRM, or one naming the photographer's accept, is refused by the patient, who
then has no session to write with. The bot-side variants are in tests/integration.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from medcrypt.companion.keystore import Keystore
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.v3.pinned import open_sealed_record, verify_record
from medcrypt.crypto.endpoint.v3.verified import fingerprint_v3
from medcrypt.crypto.errors import QrShared
from medcrypt.crypto.keyless.epochs import parse_month
from medcrypt.crypto.keyless.record_wire import parse_record_token
from medcrypt.crypto.keyless.wire import encode_token, parse_token
from tests.support.companion import PASSPHRASE, T0, Cli, make_v3_pair, phone_photo
from tests.support.terminal import Terminal
from tests.support.v3cli import document

#: A clinic escrow key pair (the private half opens what the companion seals for the bot).
ESCROW_PRIVATE = bytes(range(32))
ESCROW = base64.b64encode(prim.x25519_public(ESCROW_PRIVATE)).decode()
QUESTION = b"Do both screens show the same code?"


def _offer(cli: Cli, doc: Path, name: str = "offer") -> dict[str, object]:
    return cli.ok(doc, "pair", "offer", "--png", f"{name}.png", "--json").json()


def _homes(cli: Cli, *patients: str) -> tuple[Path, list[Path]]:
    doc = cli.tmp / "doc"
    cli.ok(doc, "init", "--role", "physician", "--escrow-key", ESCROW)
    pats = [cli.tmp / p for p in patients]
    for pat in pats:
        cli.ok(pat, "init", "--role", "patient")
    return doc, pats


def _accept(cli: Cli, pat: Path, png: str, *, seed: int = 7) -> dict[str, object]:
    photo = phone_photo(cli.tmp / png, cli.tmp / f"{pat.name}-{seed}.jpg", seed=seed)
    return cli.ok(pat, "pair", "accept", "--qr", str(photo), "--json", "--no-history").json()


def _complete(cli: Cli, doc: Path, *tokens: object, code: object = None) -> object:
    extra = [] if code is None else ["--code", str(code)]
    return cli(doc, "pair", "complete", "-", "--no-history", "--json", *extra,
               stdin="\n".join(str(t) for t in tokens))


def test_codes_match_then_key_confirm_then_messages_flow(cli: Cli) -> None:
    pair = make_v3_pair(cli, escrow_key=ESCROW)
    assert len(pair.code.replace(" ", "")) == 6
    reply = cli.ok(pair.doc, "encrypt", stdin="Take it with food").out
    assert cli.ok(pair.pat, "decrypt", stdin=reply).out == "Take it with food"
    sent = cli.ok(pair.pat, "encrypt", stdin="Thank you").out
    assert sent.startswith("[MEDCRYPT:v3:")
    assert cli.ok(pair.doc, "decrypt", stdin=sent).out == "Thank you"
    # The pinned-key record verifies against the physician's (enrolled) identity key and
    # names both keys and the escrow key.
    doc_identity = document(pair.doc)["identity"]
    from medcrypt.crypto.endpoint.session import IdentityKey

    physician = IdentityKey.import_(doc_identity).public
    assert pair.pinned_record is not None
    record = verify_record(base64.b64decode(pair.pinned_record), physician)
    assert record.pairing_id.hex() == pair.pairing_id
    assert record.escrow_public == base64.b64decode(ESCROW)
    # The same record goes to the bot sealed to the escrow key (PIN_RECORD): only the
    # escrow key opens it, and it verifies against the enrolled physician key.
    filed = parse_record_token(parse_token(pair.record_token or "").raw)
    assert filed.pairing_id.hex() == pair.pairing_id
    assert open_sealed_record(ESCROW_PRIVATE, filed.sealed, physician).raw == record.raw
    pat_doc = document(pair.pat)
    verified = pat_doc["pairings"][pair.pairing_id]["verified"]
    assert verified["fingerprint"] == fingerprint_v3(physician)
    assert "accepting" not in pat_doc or pair.pairing_id not in pat_doc["accepting"]


def test_the_patient_cannot_write_before_the_key_confirmation(cli: Cli) -> None:
    doc, (pat,) = _homes(cli, "pat")
    _offer(cli, doc)
    accepted = _accept(cli, pat, "offer.png")
    early = cli(pat, "encrypt", stdin="is this private?")
    assert early.code == 4 and "not verified" in early.err and early.out == ""
    # The physician cannot write either: no session exists before confirmation.
    assert cli(doc, "encrypt", stdin="hello").code == 2
    done = _complete(cli, doc, accepted["accept_token"], code=accepted["verification_code"])
    assert done.code == 0, done.err


def test_a_second_valid_accept_aborts_and_a_new_qr_pairs(cli: Cli) -> None:
    """The QR photo race: the thief's accept is valid too; the physician's CLI aborts."""
    doc, (pat, thief) = _homes(cli, "pat", "thief")
    _offer(cli, doc)
    real = _accept(cli, pat, "offer.png")
    stolen = _accept(cli, thief, "offer.png", seed=11)
    # The real accept first, with nobody at the terminal: counted, kept, not confirmed.
    first = _complete(cli, doc, real["accept_token"])
    assert first.code == 2 and "--code" in first.err and "[MEDCRYPT:" not in first.out
    assert "Valid pairing answers received: 1" in first.err
    # Then the photographer's: the second valid accept aborts, whatever the codes.
    aborted = _complete(cli, doc, stolen["accept_token"], code=stolen["verification_code"])
    assert aborted.code == 4 and QrShared.TEXT in aborted.err
    assert "[MEDCRYPT:" not in aborted.out and "Valid pairing answers received: 2" in aborted.err
    again = _complete(cli, doc, real["accept_token"], code=real["verification_code"])
    assert again.code == 4 and QrShared.TEXT in again.err and again.out == ""
    offers = document(doc)["offers"]
    assert all(o["pending"]["offer"] is None and o["pending"]["ephemeral_private"] is None
               for o in offers.values())  # no offer secret survives the abort
    assert not (cli.tmp / "offer.png").exists()
    assert [o["open"] for o in cli.ok(doc, "status", "--json").json()["offers"]] == [False]
    # Re-pairing with a fresh QR works.
    _offer(cli, doc, "second")
    fresh = _accept(cli, pat, "second.png")
    done = _complete(cli, doc, fresh["accept_token"], code=fresh["verification_code"])
    assert done.code == 0, done.err
    assert cli.ok(pat, "pair", "confirm", str(json.loads(done.out)["key_confirm_token"])).code == 0


def test_two_accepts_in_one_paste_abort_too(cli: Cli) -> None:
    doc, (pat, thief) = _homes(cli, "pat", "thief")
    _offer(cli, doc)
    real, stolen = _accept(cli, pat, "offer.png"), _accept(cli, thief, "offer.png", seed=3)
    both = _complete(cli, doc, real["accept_token"], stolen["accept_token"],
                     code=real["verification_code"])
    assert both.code == 4 and QrShared.TEXT in both.err and both.out == ""


def test_a_wrong_code_sends_no_key_confirm(cli: Cli) -> None:
    doc, (pat,) = _homes(cli, "pat")
    _offer(cli, doc)
    accepted = _accept(cli, pat, "offer.png")
    digits = str(accepted["verification_code"]).replace(" ", "")
    wrong = f"{(int(digits) + 1) % 10**6:06d}"
    refused = _complete(cli, doc, accepted["accept_token"], code=wrong)
    assert refused.code == 4 and "cancelled" in refused.err and refused.out == ""
    assert "[MEDCRYPT:" not in refused.err
    # Cancel closed the offer: the right code afterwards confirms nothing.
    late = _complete(cli, doc, accepted["accept_token"], code=digits)
    assert late.code == 4 and late.out == ""
    assert document(doc)["pairings"] == {}


def _terminal(cli: Cli, doc: Path, token: str, answer: bytes) -> tuple[int, bytes]:
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0}
    with Terminal(["--home", str(doc), "pair", "complete", token, "--no-history"], env) as term:
        term.answer(QUESTION, answer)
        return term.close()


def test_on_a_terminal_cancel_is_the_default(cli: Cli) -> None:
    doc, (pat,) = _homes(cli, "pat")
    _offer(cli, doc)
    accepted = _accept(cli, pat, "offer.png")
    code, seen = _terminal(cli, doc, str(accepted["accept_token"]), b"")  # just Enter
    assert code == 4 and b"cancelled" in seen and b"[MEDCRYPT:" not in seen.split(QUESTION)[1]
    assert b"UNVERIFIED" in seen and str(accepted["verification_code"]).encode() in seen
    assert document(doc)["pairings"] == {}


def test_on_a_terminal_only_yes_confirms(cli: Cli) -> None:
    doc, (pat,) = _homes(cli, "pat")
    _offer(cli, doc)
    accepted = _accept(cli, pat, "offer.png")
    code, seen = _terminal(cli, doc, str(accepted["accept_token"]), b"y")
    assert code == 0, seen
    after = seen.split(QUESTION)[1].decode()
    confirm = next(w for w in after.split() if w.startswith("[MEDCRYPT:v3:"))
    assert cli.ok(pat, "pair", "confirm", confirm).code == 0


def _flip(token: str, offset: int) -> str:
    raw = bytearray(parse_token(token).raw)
    raw[offset] ^= 0x01
    return encode_token(bytes(raw))


def test_a_tampered_key_confirm_is_refused(cli: Cli) -> None:
    doc, (pat,) = _homes(cli, "pat")
    _offer(cli, doc)
    accepted = _accept(cli, pat, "offer.png")
    done = _complete(cli, doc, accepted["accept_token"], code=accepted["verification_code"])
    token = str(json.loads(done.out)["key_confirm_token"])
    for offset in (20, 60, 100, -1):  # accept hash, confirm MAC, signature
        bad = cli(pat, "pair", "confirm", _flip(token, offset))
        assert bad.code in (3, 4) and bad.out == "", (offset, bad.err)
        assert cli(pat, "encrypt", stdin="hi").code == 4  # still unverified
    assert cli.ok(pat, "pair", "confirm", token).code == 0


def test_a_key_confirm_for_the_photographers_accept_is_refused(cli: Cli) -> None:
    """The physician confirmed the thief's code (the real accept was withheld): the
    patient's companion sees KEY_CONFIRM names another accept and refuses it."""
    doc, (pat, thief) = _homes(cli, "pat", "thief")
    _offer(cli, doc)
    real = _accept(cli, pat, "offer.png")
    stolen = _accept(cli, thief, "offer.png", seed=5)
    done = _complete(cli, doc, stolen["accept_token"], code=stolen["verification_code"])
    token = str(json.loads(done.out)["key_confirm_token"])
    refused = cli(pat, "pair", "confirm", token)
    assert refused.code == 4 and QrShared.TEXT in refused.err and refused.out == ""
    assert real["verification_code"] != stolen["verification_code"]


def test_a_changed_physician_key_is_loud(cli: Cli) -> None:
    """'Verified' is bound to the key's fingerprint: a session whose peer key is not the
    verified one (a restored or swapped state) is refused and explained."""
    pair = make_v3_pair(cli)
    store = Keystore.unlock(pair.pat, PASSPHRASE)
    try:
        store.state["pairings"][pair.pairing_id]["verified"]["fingerprint"] = "00" * 32
        store.save()
    finally:
        store.close()
    loud = cli(pair.pat, "encrypt", stdin="hello")
    assert loud.code == 4 and "key changed" in loud.err and "verify" in loud.err
    assert loud.out == ""
    # Refusing the key never stops shredding: the first unlock after a grace end deletes
    # the month all the same.
    late = cli(pair.pat, "status", now="2026-12-08T00:00:01+00:00")
    assert late.code == 4 and "key changed" in late.err
    state = document(pair.pat)["pairings"][pair.pairing_id]["session"]
    assert str(parse_month("2026-11")) in state["shredded"]


def test_a_withheld_accept_shows_another_code(cli: Cli) -> None:
    """The relay delivers only the photographer's accept: the physician's screen shows a
    code the patient's screen does not, so typing the patient's code confirms nothing."""
    doc, (pat, thief) = _homes(cli, "pat", "thief")
    _offer(cli, doc)
    real = _accept(cli, pat, "offer.png")
    stolen = _accept(cli, thief, "offer.png", seed=9)
    shown = _complete(cli, doc, stolen["accept_token"], code=real["verification_code"])
    assert shown.code == 4 and "cancelled" in shown.err and shown.out == ""
    assert f"Verification code: {stolen['verification_code']}" in shown.err
    assert str(real["verification_code"]) not in shown.err
    assert document(doc)["pairings"] == {}


def test_paste_then_answer_on_one_terminal(cli: Cli) -> None:
    """README's way: ``pair complete -``, paste the chat, Ctrl-D, then the question."""
    doc, (pat,) = _homes(cli, "pat")
    _offer(cli, doc)
    accepted = _accept(cli, pat, "offer.png")
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0}
    with Terminal(["--home", str(doc), "pair", "complete", "-", "--no-history"], env) as term:
        term.type(f"bot relayed: {accepted['accept_token']}\n".encode())
        term.type(b"\x04")
        term.answer(QUESTION, b"yes")
        code, seen = term.close()
    assert code == 0, seen
    confirm = next(w for w in seen.split(QUESTION)[1].decode().split()
                   if w.startswith("[MEDCRYPT:v3:"))
    assert cli.ok(pat, "pair", "confirm", confirm).code == 0
