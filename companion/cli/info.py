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
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.keyless.epochs import epoch_of, epoch_start, format_epoch, grace_end
from medcrypt.crypto.keyless.tags import tag_of_hex


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    st = sub.add_parser("status", help="pairings, current month, next rotation, grace ends")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=run_status)

    sn = sub.add_parser("safety-number", help="the number both sides compare after pairing")
    sn.add_argument("--pairing", metavar="ID")
    sn.set_defaults(handler=run_safety)

    hist = sub.add_parser("history", help="the local copy of opened and sent messages")
    verbs = hist.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    ls = verbs.add_parser("list", help="show the local history")
    ls.add_argument("--pairing", metavar="ID")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_history_list)
    for verb, keep in (("on", True), ("off", False)):
        toggle = verbs.add_parser(verb, help=("keep" if keep else "stop keeping") +
                                  " a copy of a pairing's messages from now on")
        toggle.add_argument("--pairing", metavar="ID")
        toggle.set_defaults(handler=run_history_toggle, keep=keep)
    clr = verbs.add_parser("clear", help="delete the local history (all, or one pairing); "
                                         "asks first")
    clr.add_argument("--pairing", metavar="ID")
    clr.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    clr.set_defaults(handler=run_history_clear)

    sh = sub.add_parser("shred", help="apply the rotation and shredding schedule now")
    sh.set_defaults(handler=run_shred)

    dep = sub.add_parser("deposits", help="re-print this month's escrow deposit token(s) "
                         "for the clinic bot (normally sent with the first message)")
    dep.add_argument("--pairing", metavar="ID")
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
    print(f"Role: {data['role']}   identity fingerprint: {data['identity_fingerprint'][:32]}")
    print(f"Now: {data['now']}   epoch: {data['epoch']}   next rotation: {data['next_rotation']}")
    if not data["pairings"]:
        print("No pairings yet.")
    for p in data["pairings"]:
        live = ", ".join(f"{e} (readable until {v['grace_end']})"
                         for e, v in p["live_epochs"].items()) or "none"
        shredded = ", ".join(p["shredded_epochs"]) or "none"
        print(f"Pairing {p['pairing_id']}  peer {p['peer_fingerprint'][:16]}  "
              f"grace {p['grace_days']} days  history {'kept' if p['history'] else 'off'}")
        print(f"  name: {shown(p['label'] + ' (' + p['tag'] + ')' if p['label'] else p['tag'])}"
              " (tag as the clinic bot says it; label on this device only)")
        print(f"  live epochs: {live}")
        print(f"  shredded epochs: {shredded}")
    for o in data["offers"]:
        state = "open" if o["open"] else "expired"
        print(f"Offer {o['pairing_id']}: {state}")
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
            f"[file {e['file']['name']}, {e['file']['size']} bytes]"
            if e["kind"] == "file" else "[control]")
        print(f"{e['at']} {arrow} {e['pairing'][:8]}: {shown(what)}")
    return 0


def run_history_toggle(args: argparse.Namespace) -> int:
    with open_companion(args) as comp:
        pairing_hex = comp.resolve_pairing(args.pairing)
        comp.set_history(pairing_hex, args.keep)
        kept = sum(1 for e in comp.state["history"] if e["pairing"] == pairing_hex)
        comp.commit()
    if args.keep:
        print(f"Pairing {pairing_hex[:8]}: a copy of each message is kept from now on.")
    else:
        print(f"Pairing {pairing_hex[:8]}: no copies are kept from now on; the {kept} "
              "entries already kept stay until 'medcrypt history clear --pairing "
              f"{pairing_hex[:8]}'.")
    return 0


def run_history_clear(args: argparse.Namespace) -> int:
    if not args.yes:
        # Asked before unlocking, so no other command waits on the keystore lock meanwhile.
        which = (f"pairing {args.pairing}" if args.pairing
                 else "every pairing on this device")
        answer = ask_yes_no(f"Delete the local history of {which}? "
                            "Deleted messages cannot be read again.")
        if answer is None:
            raise ConfigError("--yes", "no terminal to ask for confirmation; pass --yes "
                                       "to delete the history")
        if not answer:
            print("Nothing removed.")
            return 0
    with open_companion(args) as comp:
        wanted = comp.resolve_pairing(args.pairing) if args.pairing else None
        before = len(comp.state["history"])
        comp.state["history"] = [e for e in comp.state["history"]
                                 if wanted is not None and e["pairing"] != wanted]
        removed = before - len(comp.state["history"])
        comp.commit()
    print(f"Removed {removed} history entries.")
    return 0


def run_shred(args: argparse.Namespace) -> int:
    """The schedule already ran when the keystore opened; report what it did."""
    with open_companion(args) as comp:
        purged = dict(comp.history_purged)
        lines = []
        for pairing_hex, epoch in comp.last_shredded:
            deleted = purged.pop((pairing_hex, epoch), 0)
            lines.append(f"Shredded {format_epoch(epoch)} of pairing {pairing_hex}" + (
                f"; deleted {deleted} history entries of {format_epoch(epoch)}"
                if deleted else ""))
        lines += [f"Deleted {n} history entries of {format_epoch(epoch)} of pairing "
                  f"{pairing_hex} (a month shredded earlier)"
                  for (pairing_hex, epoch), n in sorted(purged.items())]
        data = status_data(comp)
    print("\n".join(lines) if lines else "Nothing to shred now.")
    for p in data["pairings"]:
        for epoch, v in p["live_epochs"].items():
            print(f"Pairing {p['pairing_id'][:8]}: {epoch} readable until {v['grace_end']}")
    return 0


def run_deposits(args: argparse.Namespace) -> int:
    """Deposits are sealed to the clinic's escrow key; re-sending one is harmless."""
    with open_companion(args) as comp:
        wanted = comp.resolve_pairing(args.pairing) if args.pairing else None
        tokens = [token for pairing_hex in comp.pairing_ids() if wanted in (None, pairing_hex)
                  for _, token in sorted(comp.state["pairings"][pairing_hex]["deposits"].items())]
    sys.stdout.write("".join(t + "\n" for t in tokens))
    return 0
