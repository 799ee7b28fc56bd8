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

from medcrypt.companion import chat_apps, names
from medcrypt.companion.app import open_companion
from medcrypt.companion.cli import pair_upgrade, pair_v3
from medcrypt.companion.display import shown
from medcrypt.companion.env import ask_yes_no, read_stdin
from medcrypt.companion.i18n import N_, _, error
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import accept_pairing, complete_pairing, start_pairing
from medcrypt.crypto.errors import ConfigError, MalformedToken, OfferReused
from medcrypt.crypto.keyless.pairing_wire import VERSION_3
from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token

V3_OFFER_PREFIX = "medcrypt-pair:2:"
tag_line = pair_v3.tag_line
run_confirm = pair_v3.run_confirm

HISTORY_QUESTION = N_(
    "Without a copy, each message can be read only once: its key is deleted as it is\n"
    "opened. With one, 'medcrypt history list' shows it again until its month is\n"
    "shredded - and so does anyone who unlocks this keystore.\n"
    "Keep a copy of this pairing's messages on this device?")


def _add_history_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", action=argparse.BooleanOptionalAction, default=None,
                        help=_("keep (or not) a local copy of this pairing's messages; "
                               "asked on the terminal if not given, no without a terminal"))


def choose_history(flag: bool | None) -> bool:
    """The flag, else the user's answer on the terminal, else no (history is opt-in)."""
    if flag is not None:
        return flag
    return bool(ask_yes_no(_(HISTORY_QUESTION)))


def history_line(keep: bool, pairing_hex: str) -> str:
    if keep:
        return _("History: a copy of each message is kept on this device ('medcrypt "
                 "history list')")
    return _("History: off - each message can be read only once (keep copies with "
             "'medcrypt history on --pairing {pairing}')", pairing=pairing_hex[:8])


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = _("pair with a patient or physician by QR code")
    p = sub.add_parser("pair", help=about, description=about)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    json_help = _("machine-readable output")

    about = _("physician: show a one-time pairing QR code")
    offer = verbs.add_parser("offer", help=about, description=about)
    offer.add_argument("--png", type=Path, help=_("where to write the QR image (default "
                                                  "./medcrypt-offer-<id>.png; deleted on "
                                                  "'pair complete')"))
    offer.add_argument("--no-terminal", action="store_true",
                       help=_("do not draw the QR here"))
    offer.add_argument("--grace-days", type=int, default=7,
                       help=_("days the previous month stays readable (default 7)"))
    offer.add_argument("--protocol", type=int, choices=(2, 3), default=3,
                       help=_("3 (default): key-confirmed pairing; 2: the old pairing, kept "
                              "only until v2 pairings are upgraded"))
    offer.add_argument("--json", action="store_true", help=json_help)
    offer.set_defaults(handler=run_offer)

    about = _("patient: accept an offer from its QR or text")
    accept = verbs.add_parser("accept", help=about, description=about)
    src = accept.add_mutually_exclusive_group(required=True)
    src.add_argument("--qr", type=Path, metavar="IMAGE",
                     help=_("PNG or JPEG photo of the QR code (other formats are refused)"))
    src.add_argument("--offer", metavar="TEXT",
                     help=_("the text under the QR ('-' = stdin)"))
    accept.add_argument("--json", action="store_true", help=json_help)
    _add_history_flag(accept)
    accept.set_defaults(handler=run_accept)

    about = _("physician: finish with the accept token(s); v3 asks whether the codes match")
    complete = verbs.add_parser("complete", help=about, description=about)
    complete.add_argument("token", help=_("the relayed accept token(s), or the pasted bot "
                                          "messages holding them ('-' = stdin)"))
    complete.add_argument("--account", help=_("v3: the masked account the bot reported "
                                              "(read from its notice in the pasted text if "
                                              "absent)"))
    complete.add_argument("--code", metavar="DIGITS",
                          help=_("v3, for scripts: the code the patient's screen shows; "
                                 "confirms only if it equals this screen's code, else "
                                 "cancels"))
    complete.add_argument("--json", action="store_true", help=json_help)
    _add_history_flag(complete)
    complete.set_defaults(handler=run_complete)

    about = _("patient (v3): verify the physician's key confirmation; only then can "
              "messages flow")
    confirm = verbs.add_parser("confirm", help=about, description=about)
    confirm.add_argument("token", help=_("the KEY_CONFIRM token ('-' = stdin)"))
    confirm.add_argument("--json", action="store_true", help=json_help)
    confirm.set_defaults(handler=run_confirm)

    pair_upgrade.add_parser(verbs)

    about = _("end a pairing on this device for good: delete every key of it (after a "
              "/shred, or to stop); asks first")
    end = verbs.add_parser("end", help=about, description=about)
    end.add_argument("--pairing", metavar="TAG|ID", required=True,
                     help=_("the pairing's tag, its id or a unique prefix (4+ hex "
                            "characters)"))
    end.add_argument("--yes", action="store_true", help=_("do not ask (for scripts)"))
    end.add_argument("--json", action="store_true", help=json_help)
    end.set_defaults(handler=run_end)

    about = _("name a pairing on this device only (e.g. the patient's name); never sent to "
              "anyone")
    label = verbs.add_parser("label", help=about, description=about)
    label.add_argument("pairing", metavar="TAG|PAIRING",
                       help=_("the pairing's tag (K7Q-2MX) or id (a unique prefix)"))
    label.add_argument("label", nargs="?", metavar="LABEL",
                       help=_("the name to show, e.g. \"Sam Rivera\" (1-64 characters)"))
    label.add_argument("--clear", action="store_true", help=_("remove the label"))
    label.add_argument("--json", action="store_true", help=json_help)
    label.set_defaults(handler=run_label)

    about = _("the chat app you use for a pairing, so its tokens are split to fit it")
    app = verbs.add_parser("platform", help=about, description=about)
    app.add_argument("pairing", metavar="TAG|PAIRING",
                     help=_("the pairing's tag (K7Q-2MX) or id (a unique prefix)"))
    app.add_argument("platform", choices=sorted(chat_apps.APPS),
                     help=_("the app you paste this pairing's tokens into"))
    app.add_argument("--json", action="store_true", help=json_help)
    app.set_defaults(handler=run_platform)

    about = _("this device's pairings: tag, label, protocol")
    listing = verbs.add_parser("list", help=about, description=about)
    listing.add_argument("--json", action="store_true", help=json_help)
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
            raise error(ConfigError, N_("only a physician's companion makes pairing offers"),
                        key="role")
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
              [drawing, _("Pairing id: {pairing}", pairing=pairing_hex),
               tag_line(pairing_hex),
               _("QR image: {png} (one use; expires in 10 minutes)", png=png),
               _("Offer text (if the camera fails): {text}", text=text),
               _("Send this registration token to the clinic bot:"),
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
            raise error(ConfigError, N_("only a patient's companion accepts pairing offers"),
                        key="role")
        session, token = accept_pairing(offer_text, comp.identity, clock=comp.clock)
        pairing_hex = session.pairing_id.hex()
        if pairing_hex in comp.state["pairings"]:
            session.wipe()
            raise error(OfferReused,
                        N_("this pairing offer was already accepted on this device"))
        comp.add_session(session, history=keep)
        safety = session.safety_number()
        comp.commit()
        _emit(args, {"pairing_id": pairing_hex, "accept_token": token, "safety_number": safety,
                     "history": keep, "tag": tag_of_hex(pairing_hex)},
              [_("Send this accept token to the clinic bot:"), token,
               _("Pairing id: {pairing}", pairing=pairing_hex),
               tag_line(pairing_hex), _("Safety number: {safety}", safety=safety),
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
        raise error(MalformedToken, N_("expected exactly one accept token"))
    token = found[0]
    parsed = parse_token(token)
    if parsed.header.kind is not Kind.PAIR_ACCEPT or parsed.header.pairing_id is None:
        raise error(MalformedToken, N_("expected a pairing accept token"))
    pairing_hex = parsed.header.pairing_id.hex()
    keep = choose_history(args.history)
    with open_companion(args) as comp:
        if comp.role is not Role.PHYSICIAN:
            raise error(ConfigError, N_("only a physician's companion completes pairings"),
                        key="role")
        if pairing_hex in comp.state["pairings"]:
            raise error(OfferReused, N_("this pairing offer was already used"))
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
              [_("Paired: {pairing}", pairing=pairing_hex), tag_line(pairing_hex),
               _("Safety number: {safety}", safety=safety), history_line(keep, pairing_hex)])
    return 0


def run_label(args: argparse.Namespace) -> int:
    """Store (or clear) the label in this keystore's record of the pairing. The label is
    checked before the keystore is unlocked, and never printed in an error."""
    if args.clear == (args.label is not None):
        raise error(ConfigError, N_("give a label, or --clear to remove it"), key="LABEL")
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
          [_("Pairing {tag} is shown as: {name} (on this device only; the label is never "
             "sent)", tag=tag_of_hex(pairing_hex), name=shown(shown_as))])
    return 0


def run_platform(args: argparse.Namespace) -> int:
    """Record the chat app this person uses for the pairing (sealed in the keystore,
    never sent): ``encrypt`` and ``send-file`` split for it from then on."""
    with open_companion(args) as comp:
        pairing_hex = comp.resolve_pairing(args.pairing)
        comp.state["pairings"][pairing_hex]["platform"] = args.platform
        comp.commit()
    name, limit = chat_apps.APPS[args.platform]
    _emit(args, {"pairing_id": pairing_hex, "tag": tag_of_hex(pairing_hex),
                 "platform": args.platform, "max_chars": limit},
          [_("Pairing {tag}: tokens are now split for {app} (at most {n} characters each)",
             tag=tag_of_hex(pairing_hex), app=name, n=limit)])
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_companion(args) as comp:
        rows = [{"pairing_id": p, "tag": tag_of_hex(p),
                 "label": names.label_of(comp.state["pairings"][p]),
                 "protocol": comp.protocol(p),
                 "platform": chat_apps.app_of(comp.state["pairings"][p]),
                 "paired_at": comp.state["pairings"][p]["paired_at"]}
                for p in comp.pairing_ids()]
    rows.sort(key=lambda r: r["paired_at"])
    lines = [_("{tag}  {label}  v{protocol}  paired {date}  id {pairing}", tag=r["tag"],
               label=shown(r["label"]) if r["label"] else _("(no label)"),
               protocol=r["protocol"], date=r["paired_at"][:10], pairing=r["pairing_id"][:8])
             for r in rows] or [_("No pairings yet.")]
    _emit(args, {"pairings": rows}, lines)
    return 0


END_QUESTION = N_(
    "End pairing {pairing} on this device for good? Its keys are deleted, with its escrow\n"
    "deposits, the keys of files it delivered and its history entries: no message of\n"
    "this conversation can be opened or written here again. To talk again, pair anew.\n"
    "End it?")


def run_end(args: argparse.Namespace) -> int:
    """Ask (before unlocking: no lock is held meanwhile), then delete and rewrite."""
    if not args.yes:
        answer = ask_yes_no(_(END_QUESTION, pairing=args.pairing))
        if answer is None:
            raise error(ConfigError, N_("no terminal to ask for confirmation; pass --yes to "
                                        "end the pairing"), key="--yes")
        if not answer:
            print(_("Nothing changed."))
            return 0
    with open_companion(args) as comp:
        pairing_hex = comp.resolve_pairing(args.pairing)
        gone = comp.end_pairing(pairing_hex)
        comp.commit()
    _emit(args, {"pairing_id": pairing_hex, "ended": True, **gone},
          [_("Ended pairing {pairing} on this device. Deleted - key months: {months}; "
             "escrow deposits: {deposits}; received file keys: {files}; history entries: "
             "{history}.", pairing=pairing_hex, months=gone["months"],
             deposits=gone["deposits"], files=gone["files"], history=gone["history"]),
           _("To talk again, pair anew: a new QR code from the physician ('medcrypt pair "
             "offer' / 'medcrypt pair accept').")])
    return 0
