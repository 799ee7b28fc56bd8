"""``medcrypt pair offer|accept|complete|confirm``: first-visit pairing by QR code (DESIGN §3.1).

The physician runs ``pair offer`` (QR in the terminal and as a PNG, plus a registration
token for the bot), the patient runs ``pair accept --qr PHOTO`` (or ``--offer TEXT``) and
sends the accept token through the bot, and the physician runs ``pair complete TOKEN``.

New pairings speak v3 (:mod:`companion.cli.pair_v3`, docs/adr/0025): both screens show a
verification code, the physician confirms it in person (Cancel is the default) and
``pair complete`` then prints a KEY_CONFIRM token, which the patient opens with ``pair
confirm TOKEN``. ``pair offer --protocol 2`` still makes a v2 offer (v2 pairings keep
working unchanged until the upgrade); ``accept`` and ``complete`` follow the version of
the offer or token they are given. v2 pairs compare ``medcrypt safety-number``; ``pair
upgrade`` moves a v2 pairing to v3 over the bot (:mod:`companion.cli.pair_upgrade`).

``pair end --pairing ID`` is the other end of a pairing's life: it deletes every key of it
on this device, for good, and rewrites the keystore. The clinic's ``/shred`` (a lost or
compromised phone) ends the pairing at the relay and asks both members to run it: the
bot cannot reach a key on a device, and a companion that keeps the pairing keeps every
later month's key, because each month's key follows from the one before.

Each side also chooses, once, whether this device keeps a copy of the pairing's
messages (``--history``/``--no-history``, else one question on the terminal; without a
terminal the answer is no). History is opt-in because a copy is plaintext that anyone
who unlocks the keystore can read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from medcrypt.companion import names
from medcrypt.companion.app import open_companion
from medcrypt.companion.cli import pair_upgrade, pair_v3
from medcrypt.companion.display import shown
from medcrypt.companion.env import ask_yes_no, read_stdin
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import accept_pairing, complete_pairing, start_pairing
from medcrypt.crypto.errors import ConfigError, MalformedToken, OfferReused
from medcrypt.crypto.keyless.pairing_wire import VERSION_3
from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token

V3_OFFER_PREFIX = "medcrypt-pair:2:"
tag_line = pair_v3.tag_line
run_confirm = pair_v3.run_confirm

HISTORY_QUESTION = (
    "Without a copy, each message can be read only once: its key is deleted as it is\n"
    "opened. With one, 'medcrypt history list' shows it again until its month is\n"
    "shredded - and so does anyone who unlocks this keystore.\n"
    "Keep a copy of this pairing's messages on this device?")


def _add_history_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", action=argparse.BooleanOptionalAction, default=None,
                        help="keep (or not) a local copy of this pairing's messages; "
                             "asked on the terminal if not given, no without a terminal")


def choose_history(flag: bool | None) -> bool:
    """The flag, else the user's answer on the terminal, else no (history is opt-in)."""
    if flag is not None:
        return flag
    return bool(ask_yes_no(HISTORY_QUESTION))


def history_line(keep: bool, pairing_hex: str) -> str:
    if keep:
        return "History: a copy of each message is kept on this device ('medcrypt history list')"
    return ("History: off - each message can be read only once (keep copies with "
            f"'medcrypt history on --pairing {pairing_hex[:8]}')")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pair", help="pair with a patient or physician by QR code")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    offer = verbs.add_parser("offer", help="physician: show a one-time pairing QR code")
    offer.add_argument("--png", type=Path, help="where to write the QR image "
                       "(default ./medcrypt-offer-<id>.png; deleted on 'pair complete')")
    offer.add_argument("--no-terminal", action="store_true", help="do not draw the QR here")
    offer.add_argument("--grace-days", type=int, default=7,
                       help="days the previous month stays readable (default 7)")
    offer.add_argument("--protocol", type=int, choices=(2, 3), default=3,
                       help="3 (default): key-confirmed pairing; 2: the old pairing, kept "
                            "only until v2 pairings are upgraded")
    offer.add_argument("--json", action="store_true", help="machine-readable output")
    offer.set_defaults(handler=run_offer)

    accept = verbs.add_parser("accept", help="patient: accept an offer from its QR or text")
    src = accept.add_mutually_exclusive_group(required=True)
    src.add_argument("--qr", type=Path, metavar="IMAGE",
                     help="PNG or JPEG photo of the QR code (other formats are refused)")
    src.add_argument("--offer", metavar="TEXT", help="the text under the QR ('-' = stdin)")
    accept.add_argument("--json", action="store_true", help="machine-readable output")
    _add_history_flag(accept)
    accept.set_defaults(handler=run_accept)

    complete = verbs.add_parser("complete", help="physician: finish with the accept token(s); "
                                                 "v3 asks whether the codes match")
    complete.add_argument("token", help="the relayed accept token(s), or the pasted bot "
                                        "messages holding them ('-' = stdin)")
    complete.add_argument("--account", help="v3: the masked account the bot reported (read "
                                            "from its notice in the pasted text if absent)")
    complete.add_argument("--code", metavar="DIGITS",
                          help="v3, for scripts: the code the patient's screen shows; "
                               "confirms only if it equals this screen's code, else cancels")
    complete.add_argument("--json", action="store_true", help="machine-readable output")
    _add_history_flag(complete)
    complete.set_defaults(handler=run_complete)

    confirm = verbs.add_parser("confirm", help="patient (v3): verify the physician's key "
                                               "confirmation; only then can messages flow")
    confirm.add_argument("token", help="the KEY_CONFIRM token ('-' = stdin)")
    confirm.add_argument("--json", action="store_true", help="machine-readable output")
    confirm.set_defaults(handler=run_confirm)

    pair_upgrade.add_parser(verbs)

    end = verbs.add_parser("end", help="end a pairing on this device for good: delete every "
                                       "key of it (after a /shred, or to stop); asks first")
    end.add_argument("--pairing", metavar="TAG|ID", required=True,
                     help="the pairing's tag, its id or a unique prefix (4+ hex characters)")
    end.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    end.add_argument("--json", action="store_true", help="machine-readable output")
    end.set_defaults(handler=run_end)

    label = verbs.add_parser("label", help="name a pairing on this device only (e.g. the "
                                           "patient's name); never sent to anyone")
    label.add_argument("pairing", metavar="TAG|PAIRING",
                       help="the pairing's tag (K7Q-2MX) or id (a unique prefix)")
    label.add_argument("label", nargs="?", metavar="LABEL",
                       help="the name to show, e.g. \"Sam Rivera\" (1-64 characters)")
    label.add_argument("--clear", action="store_true", help="remove the label")
    label.add_argument("--json", action="store_true", help="machine-readable output")
    label.set_defaults(handler=run_label)

    listing = verbs.add_parser("list", help="this device's pairings: tag, label, protocol")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=run_list)


def _emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(data, sort_keys=True))
    else:
        print("\n".join(lines))


def run_offer(args: argparse.Namespace) -> int:
    if args.protocol == 3:
        return pair_v3.run_offer(args)
    from medcrypt.companion import qr  # lazy: segno only for this command

    with open_companion(args) as comp:
        if comp.role is not Role.PHYSICIAN:
            raise ConfigError("role", "only a physician's companion makes pairing offers")
        pending = start_pairing(comp.identity, clock=comp.clock, grace_days=args.grace_days,
                                escrow_public=comp.escrow_public,
                                bot_contact=comp.state.get("bot_contact", ""))
        offer = pending.offer
        pairing_hex = offer.pairing_id.hex()
        text = offer.to_qr_text()
        png = args.png or Path(f"medcrypt-offer-{pairing_hex[:8]}.png")
        qr.write_png(text, png)
        try:
            comp.state["offers"][pairing_hex] = {
                "pending": pending.export(), "expires_at": offer.expires_at,
                "png": str(png.resolve())}
            comp.commit()
        except BaseException:
            png.unlink(missing_ok=True)
            raise
        finally:
            pending.wipe()
        drawing = "" if args.no_terminal or args.json else qr.render_terminal(text)
        _emit(args, {"pairing_id": pairing_hex, "qr_png": str(png), "offer_text": text,
                     "registration_token": offer.registration_token(),
                     "expires_at": str(offer.expires_at), "tag": tag_of_hex(pairing_hex)},
              [drawing, f"Pairing id: {pairing_hex}",
               tag_line(pairing_hex),
               f"QR image: {png} (one use; expires in 10 minutes)",
               f"Offer text (if the camera fails): {text}",
               "Send this registration token to the clinic bot:",
               offer.registration_token()])
    return 0


def _read_arg(value: str) -> str:
    return read_stdin() if value == "-" else value


def run_accept(args: argparse.Namespace) -> int:
    from medcrypt.companion.offer_input import (  # lazy: QR stack only when needed
        extract_offer_text,
        offer_from_image,
    )

    offer_text = offer_from_image(args.qr) if args.qr else extract_offer_text(
        _read_arg(args.offer))
    keep = choose_history(args.history)  # asked before unlocking: no lock held meanwhile
    if offer_text.lower().startswith(V3_OFFER_PREFIX):
        return pair_v3.run_accept(args, offer_text, keep)
    with open_companion(args) as comp:
        if comp.role is not Role.PATIENT:
            raise ConfigError("role", "only a patient's companion accepts pairing offers")
        session, token = accept_pairing(offer_text, comp.identity, clock=comp.clock)
        pairing_hex = session.pairing_id.hex()
        if pairing_hex in comp.state["pairings"]:
            session.wipe()
            raise OfferReused("this pairing offer was already accepted on this device")
        comp.add_session(session, history=keep)
        safety = session.safety_number()
        comp.commit()
        _emit(args, {"pairing_id": pairing_hex, "accept_token": token, "safety_number": safety,
                     "history": keep, "tag": tag_of_hex(pairing_hex)},
              ["Send this accept token to the clinic bot:", token,
               f"Pairing id: {pairing_hex}",
               tag_line(pairing_hex), f"Safety number: {safety}",
               history_line(keep, pairing_hex)])
    return 0


def run_complete(args: argparse.Namespace) -> int:
    text = _read_arg(args.token)
    found = find_tokens(text)
    v3 = [t for t in found if parse_token(t).header.version == VERSION_3
          and parse_token(t).header.kind is Kind.PAIR_ACCEPT]
    if v3:
        keep = choose_history(args.history)
        return pair_v3.run_complete(args, text, list(dict.fromkeys(v3)), keep)
    if len(found) != 1:
        raise MalformedToken("expected exactly one accept token")
    token = found[0]
    parsed = parse_token(token)
    if parsed.header.kind is not Kind.PAIR_ACCEPT or parsed.header.pairing_id is None:
        raise MalformedToken("expected a pairing accept token")
    pairing_hex = parsed.header.pairing_id.hex()
    keep = choose_history(args.history)
    with open_companion(args) as comp:
        if comp.role is not Role.PHYSICIAN:
            raise ConfigError("role", "only a physician's companion completes pairings")
        if pairing_hex in comp.state["pairings"]:
            raise OfferReused("this pairing offer was already used")
        pending = comp.pending_offer(pairing_hex)
        try:
            session = complete_pairing(pending, token, comp.identity, clock=comp.clock)
        finally:
            pending.wipe()
        comp.add_session(session, history=keep)
        record = comp.state["offers"].pop(pairing_hex)
        safety = session.safety_number()
        comp.commit()
        if record.get("png"):
            with contextlib.suppress(OSError):
                Path(record["png"]).unlink(missing_ok=True)  # burn the one-time QR
        _emit(args, {"pairing_id": pairing_hex, "safety_number": safety, "history": keep,
                     "tag": tag_of_hex(pairing_hex)},
              [f"Paired: {pairing_hex}", tag_line(pairing_hex), f"Safety number: {safety}",
               history_line(keep, pairing_hex)])
    return 0


def run_label(args: argparse.Namespace) -> int:
    """Store (or clear) the label in this keystore's record of the pairing. The label is
    checked before the keystore is unlocked, and never printed in an error."""
    if args.clear == (args.label is not None):
        raise ConfigError("LABEL", "give a label, or --clear to remove it")
    label = None if args.clear else names.check_label(args.label)
    with open_companion(args) as comp:
        pairing_hex = comp.resolve_pairing(args.pairing)
        record = comp.state["pairings"][pairing_hex]
        if label is None:
            record.pop("label", None)
        else:
            record["label"] = label
        comp.commit()
        shown_as = names.who(pairing_hex, record)
    _emit(args, {"pairing_id": pairing_hex, "tag": tag_of_hex(pairing_hex), "label": label},
          [f"Pairing {tag_of_hex(pairing_hex)} is shown as: {shown(shown_as)} (on this "
           "device only; the label is never sent)"])
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_companion(args) as comp:
        rows = [{"pairing_id": p, "tag": tag_of_hex(p),
                 "label": names.label_of(comp.state["pairings"][p]),
                 "protocol": comp.protocol(p),
                 "paired_at": comp.state["pairings"][p]["paired_at"]}
                for p in comp.pairing_ids()]
    rows.sort(key=lambda r: r["paired_at"])
    lines = [f"{r['tag']}  {shown(r['label']) if r['label'] else '(no label)'}  "
             f"v{r['protocol']}  paired {r['paired_at'][:10]}  id {r['pairing_id'][:8]}"
             for r in rows] or ["No pairings yet."]
    _emit(args, {"pairings": rows}, lines)
    return 0


END_QUESTION = (
    "End pairing {pairing} on this device for good? Its keys are deleted, with its escrow\n"
    "deposits, the keys of files it delivered and its history entries: no message of\n"
    "this conversation can be opened or written here again. To talk again, pair anew.\n"
    "End it?")


def run_end(args: argparse.Namespace) -> int:
    """Ask (before unlocking: no lock is held meanwhile), then delete and rewrite."""
    if not args.yes:
        answer = ask_yes_no(END_QUESTION.format(pairing=args.pairing))
        if answer is None:
            raise ConfigError("--yes", "no terminal to ask for confirmation; pass --yes to "
                                       "end the pairing")
        if not answer:
            print("Nothing changed.")
            return 0
    with open_companion(args) as comp:
        pairing_hex = comp.resolve_pairing(args.pairing)
        gone = comp.end_pairing(pairing_hex)
        comp.commit()
    _emit(args, {"pairing_id": pairing_hex, "ended": True, **gone},
          [f"Ended pairing {pairing_hex} on this device: deleted the keys of "
           f"{gone['months']} month(s), {gone['deposits']} escrow deposit(s), "
           f"{gone['files']} received file key(s) and {gone['history']} history "
           "entries.",
           "To talk again, pair anew: a new QR code from the physician "
           "('medcrypt pair offer' / 'medcrypt pair accept')."])
    return 0
