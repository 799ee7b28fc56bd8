"""``medcrypt status`` (pairings with their tags and labels), ``safety-number``,
``history list|on|off|clear`` and ``shred``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from medcrypt.companion import names
from medcrypt.companion.app import Companion, open_companion
from medcrypt.companion.display import shown
from medcrypt.companion.env import ask_yes_no
from medcrypt.companion.i18n import N_, _, error, ngettext
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.keyless.epochs import epoch_of, epoch_start, format_epoch, grace_end
from medcrypt.crypto.keyless.tags import tag_of_hex


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pairing_help = _("pairing tag, id or unique prefix (optional with a single pairing)")
    json_help = _("machine-readable output")
    about = _("pairings, current month, next rotation, grace ends")
    st = sub.add_parser("status", help=about, description=about)
    st.add_argument("--json", action="store_true", help=json_help)
    st.set_defaults(handler=run_status)

    about = _("the number both sides compare after pairing")
    sn = sub.add_parser("safety-number", help=about, description=about)
    sn.add_argument("--pairing", metavar="ID", help=pairing_help)
    sn.set_defaults(handler=run_safety)

    about = _("the local copy of opened and sent messages")
    hist = sub.add_parser("history", help=about, description=about)
    verbs = hist.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    about = _("show the local history")
    ls = verbs.add_parser("list", help=about, description=about)
    ls.add_argument("--pairing", metavar="ID", help=pairing_help)
    ls.add_argument("--json", action="store_true", help=json_help)
    ls.set_defaults(handler=run_history_list)
    for verb, keep in (("on", True), ("off", False)):
        about = (_("keep a copy of a pairing's messages from now on") if keep
                 else _("stop keeping a copy of a pairing's messages from now on"))
        toggle = verbs.add_parser(verb, help=about, description=about)
        toggle.add_argument("--pairing", metavar="ID", help=pairing_help)
        toggle.set_defaults(handler=run_history_toggle, keep=keep)
    about = _("delete the local history (all, or one pairing); asks first")
    clr = verbs.add_parser("clear", help=about, description=about)
    clr.add_argument("--pairing", metavar="ID", help=pairing_help)
    clr.add_argument("--yes", action="store_true", help=_("do not ask (for scripts)"))
    clr.set_defaults(handler=run_history_clear)

    about = _("apply the rotation and shredding schedule now")
    sh = sub.add_parser("shred", help=about, description=about)
    sh.set_defaults(handler=run_shred)

    about = _("re-print this month's escrow deposit token(s) for the clinic bot (normally "
              "sent with the first message)")
    dep = sub.add_parser("deposits", help=about, description=about)
    dep.add_argument("--pairing", metavar="ID", help=pairing_help)
    dep.set_defaults(handler=run_deposits)


def status_data(comp: Companion) -> dict[str, Any]:
    now = comp.clock.now()
    current = epoch_of(now)
    pairings = []
    for pairing_hex in comp.pairing_ids():
        session = comp.session(pairing_hex)
        pairings.append({
            "pairing_id": pairing_hex, "tag": tag_of_hex(pairing_hex),
            "label": names.label_of(comp.state["pairings"][pairing_hex]),
            "peer_fingerprint": session.peer_identity_fingerprint,
            "paired_at": comp.state["pairings"][pairing_hex]["paired_at"],
            "grace_days": session.grace_days,
            "live_epochs": {format_epoch(e): {"grace_end": grace_end(
                e, session.grace_days).isoformat()} for e in session.live_epochs},
            "shredded_epochs": {format_epoch(e): when
                                for e, when in sorted(session.shredded_epochs.items())},
            "escrow": session.escrow_public is not None,
            "history": comp.keeps_history(pairing_hex),
            "protocol": comp.protocol(pairing_hex),
        })
    offers = [{"pairing_id": p, "open": _offer_open(r), "expires_at": r["expires_at"]}
              for p, r in sorted(comp.state["offers"].items())]
    return {
        "role": comp.role.value, "identity_fingerprint": comp.identity.fingerprint(),
        "now": now.isoformat(), "epoch": format_epoch(current),
        "next_rotation": epoch_start(current + 1).isoformat(),
        "grace_end_of_current_epoch": {p["pairing_id"]: grace_end(
            current, p["grace_days"]).isoformat() for p in pairings},
        "pairings": pairings, "offers": offers, "history_entries": len(comp.state["history"]),
    }


def _offer_open(record: dict[str, Any]) -> bool:
    """Whether an offer can still be answered: a closed v3 offer keeps its (secret-free)
    state, to tell a late accept that it was aborted or used."""
    pending = record["pending"]
    if pending is None:
        return False
    return record.get("protocol") != 3 or pending.get("state") in ("waiting", "unverified")


def run_status(args: argparse.Namespace) -> int:
    with open_companion(args) as comp:
        data = status_data(comp)
    if args.json:
        print(json.dumps(data, sort_keys=True, indent=1))
        return 0
    role = _("patient") if data["role"] == "patient" else _("physician")
    print(_("Role: {role}   identity fingerprint: {fingerprint}", role=role,
            fingerprint=data["identity_fingerprint"][:32]))
    print(_("Now: {now}   epoch: {epoch}   next rotation: {next}", now=data["now"],
            epoch=data["epoch"], next=data["next_rotation"]))
    if not data["pairings"]:
        print(_("No pairings yet."))
    for p in data["pairings"]:
        live = ", ".join(_("{month} (readable until {until})", month=e, until=v["grace_end"])
                         for e, v in p["live_epochs"].items()) or _("none")
        shredded = ", ".join(p["shredded_epochs"]) or _("none")
        history = _("kept") if p["history"] else _("off")
        print(ngettext("Pairing {pairing}  peer {peer}  grace {n} day  history {history}",
                       "Pairing {pairing}  peer {peer}  grace {n} days  history {history}",
                       p["grace_days"], pairing=p["pairing_id"],
                       peer=p["peer_fingerprint"][:16], history=history))
        name = p["label"] + " (" + p["tag"] + ")" if p["label"] else p["tag"]
        print(_("  name: {name} (tag as the clinic bot says it; label on this device only)",
                name=shown(name)))
        print(_("  live epochs: {months}", months=live))
        print(_("  shredded epochs: {months}", months=shredded))
    for o in data["offers"]:
        if o["open"]:
            print(_("Offer {pairing}: open", pairing=o["pairing_id"]))
        else:
            print(_("Offer {pairing}: expired", pairing=o["pairing_id"]))
    return 0


def run_safety(args: argparse.Namespace) -> int:
    with open_companion(args) as comp:
        pairing_hex = comp.resolve_pairing(args.pairing)
        number = comp.session(pairing_hex).safety_number()
    print(number)
    return 0


def run_history_list(args: argparse.Namespace) -> int:
    with open_companion(args) as comp:
        wanted = comp.resolve_pairing(args.pairing) if args.pairing else None
        entries = [e for e in comp.state["history"] if wanted in (None, e["pairing"])]
    if args.json:
        sys.stdout.write("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
        return 0
    for e in entries:
        arrow = "<-" if e["way"] == "received" else "->"
        what = e["text"] if e["kind"] == "text" else (
            ngettext("[file {name}, {n} byte]", "[file {name}, {n} bytes]",
                     e["file"]["size"], name=e["file"]["name"])
            if e["kind"] == "file" else _("[control]"))
        print(f"{e['at']} {arrow} {e['pairing'][:8]}: {shown(what)}")
    return 0


def run_history_toggle(args: argparse.Namespace) -> int:
    with open_companion(args) as comp:
        pairing_hex = comp.resolve_pairing(args.pairing)
        comp.set_history(pairing_hex, args.keep)
        kept = sum(1 for e in comp.state["history"] if e["pairing"] == pairing_hex)
        comp.commit()
    if args.keep:
        print(_("Pairing {pairing}: a copy of each message is kept from now on.",
                pairing=pairing_hex[:8]))
    else:
        print(ngettext("Pairing {pairing}: no copies are kept from now on; the {n} entry "
                       "already kept stays until 'medcrypt history clear --pairing "
                       "{pairing}'.",
                       "Pairing {pairing}: no copies are kept from now on; the {n} entries "
                       "already kept stay until 'medcrypt history clear --pairing "
                       "{pairing}'.", kept, pairing=pairing_hex[:8]))
    return 0


def run_history_clear(args: argparse.Namespace) -> int:
    if not args.yes:
        # Asked before unlocking, so no other command waits on the keystore lock meanwhile.
        question = (_("Delete the local history of pairing {pairing}? Deleted messages "
                      "cannot be read again.", pairing=args.pairing) if args.pairing
                    else _("Delete the local history of every pairing on this device? "
                           "Deleted messages cannot be read again."))
        answer = ask_yes_no(question)
        if answer is None:
            raise error(ConfigError, N_("no terminal to ask for confirmation; pass --yes to "
                                        "delete the history"), key="--yes")
        if not answer:
            print(_("Nothing removed."))
            return 0
    with open_companion(args) as comp:
        wanted = comp.resolve_pairing(args.pairing) if args.pairing else None
        before = len(comp.state["history"])
        comp.state["history"] = [e for e in comp.state["history"]
                                 if wanted is not None and e["pairing"] != wanted]
        removed = before - len(comp.state["history"])
        comp.commit()
    print(ngettext("Removed {n} history entry.", "Removed {n} history entries.", removed))
    return 0


def run_shred(args: argparse.Namespace) -> int:
    """The schedule already ran when the keystore opened; report what it did."""
    with open_companion(args) as comp:
        purged = dict(comp.history_purged)
        lines = []
        for pairing_hex, epoch in comp.last_shredded:
            deleted = purged.pop((pairing_hex, epoch), 0)
            month = format_epoch(epoch)
            lines.append(ngettext(
                "Shredded {month} of pairing {pairing}; deleted {n} history entry of {month}",
                "Shredded {month} of pairing {pairing}; deleted {n} history entries of {month}",
                deleted, month=month, pairing=pairing_hex) if deleted else _(
                "Shredded {month} of pairing {pairing}", month=month, pairing=pairing_hex))
        lines += [ngettext("Deleted {n} history entry of {month} of pairing {pairing} (a "
                           "month shredded earlier)",
                           "Deleted {n} history entries of {month} of pairing {pairing} (a "
                           "month shredded earlier)", n, month=format_epoch(epoch),
                           pairing=pairing_hex)
                  for (pairing_hex, epoch), n in sorted(purged.items())]
        data = status_data(comp)
    print("\n".join(lines) if lines else _("Nothing to shred now."))
    for p in data["pairings"]:
        for epoch, v in p["live_epochs"].items():
            print(_("Pairing {pairing}: {month} readable until {until}",
                    pairing=p["pairing_id"][:8], month=epoch, until=v["grace_end"]))
    return 0


def run_deposits(args: argparse.Namespace) -> int:
    """Deposits are sealed to the clinic's escrow key; re-sending one is harmless."""
    with open_companion(args) as comp:
        wanted = comp.resolve_pairing(args.pairing) if args.pairing else None
        tokens = [token for pairing_hex in comp.pairing_ids() if wanted in (None, pairing_hex)
                  for _epoch, token in sorted(
                      comp.state["pairings"][pairing_hex]["deposits"].items())]
    sys.stdout.write("".join(t + "\n" for t in tokens))
    return 0
