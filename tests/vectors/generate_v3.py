"""MEDCRYPT v3 session vectors (``v3_session.json``), built by tests/vectors/generate.py.

One scripted conversation, every random byte drawn from a recorded counter-mode RNG:
pairing hand-over, the patient's first chain, a held-back message, the physician's
first DH step, the patient's answering DH step, the held message arriving across it,
a December month re-key, the grace-end shredding of November on both sides, and a
December message after it.  Each step records the draws, the token, and the exact
``medcrypt-session/3`` documents (canonical JSON) of both sides afterwards; the
November keys that existed are listed so the shredded states can be checked against
them; one deposit is shown opened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.v3 import deposit as deposits
from medcrypt.crypto.endpoint.v3 import kdf
from medcrypt.crypto.endpoint.v3.session import Session, canonical_json
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from tests.support.v3pairs import CounterRng, make_v3_pair

NOV = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DEC = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
GRACE_END_NOV = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
#: (label, sender, time, body, deliver now)
SCRIPT = [
    ("first message: the patient's chain E_p, with its deposit", "patient", NOV,
     "Fever 38.5 since yesterday evening.", True),
    ("held back by the network", "patient", NOV, "And a headache.", False),
    ("the physician's first send: a DH step (new chain, deposit)", "physician", NOV,
     "Take paracetamol 1 g, max 4 g a day.", True),
    ("the patient answers: a DH step naming the previous segment (Nov, 2)", "patient", NOV,
     "Thank you.", True),
    ("December: the physician's chain re-keyed from its month seed", "physician", DEC,
     "How are you today?", True),
    ("after November's grace end: the patient's chain re-keyed into December", "patient",
     GRACE_END_NOV, "Much better.", True),
]


def _doc(session: Session) -> str:
    return canonical_json(session.export_state()).decode("ascii")


def _keys_of_month(state: dict[str, Any], month: int) -> list[str]:
    """Every key a state holds that is tagged ``month`` (segment and skipped keys)."""
    keys = []
    send = state["send"]
    if send is not None and send["segment_epoch"] == month and send["chain_key"]:
        keys.append(send["chain_key"])
    for chain in state["recv"]:
        segment = chain["segments"].get(str(month))
        if segment is not None:
            keys += [k for k in [segment["chain_key"], *segment["skipped"].values()] if k]
    return [prim.b64d(k).hex() for k in keys]


def _used_keys(pair: Any, tokens: list[str], month: int) -> set[str]:
    """Every segment chain key, chain key and message key month ``month`` used, from the
    segments' deposits (each segment's first token carries one)."""
    parsed = [v3wire.parse_message_text(t) for t in tokens]
    starts = {}
    for token in parsed:
        if token.deposit is not None:
            d = deposits.open_deposit(pair.escrow_private, token.deposit, pair.pinned)
            starts[(d.epoch, d.chain_id)] = d.chain_key
    keys: set[str] = set()
    for token in parsed:
        h = token.header
        if h.epoch != month:
            continue
        ck = starts[(h.epoch, h.chain_id)]
        for _ in range(h.index + 1):
            keys.add(ck.hex())
            mk, ck = kdf.chain_step(ck)
            keys.add(mk.hex())
    return keys


def v3_session_vectors() -> dict[str, Any]:
    rng = CounterRng("MEDCRYPT v3 vectors")
    pair = make_v3_pair(epoch_of(NOV), rng=rng)
    out: dict[str, Any] = {
        "description": "v3 session: DH steps, out-of-order across a DH step, a month re-key, "
                       "shredding, deposits (docs/PROTOCOL.md §20-§29)",
        "setup": {
            "rng_label": "MEDCRYPT v3 vectors", "rng_draws": rng.take(),
            "draw_order": ["patient identity seed", "physician identity seed",
                           "escrow private key", "pairing id", "transcript hash", "RK0",
                           "E_p private", "E_d private"],
            "start_epoch": epoch_of(NOV), "grace_days": 7,
            "patient_state": _doc(pair.patient), "physician_state": _doc(pair.physician),
        },
    }
    sides = {"patient": pair.patient, "physician": pair.physician}
    held: list[tuple[str, str]] = []
    steps = []
    november_keys: set[str] = set()
    for label, sender, now, body, deliver in SCRIPT:
        receiver = "physician" if sender == "patient" else "patient"
        shredded = {name: s.shred_due(now) for name, s in sides.items()}
        token = sides[sender].encrypt(body.encode(), now=now, rng=rng)
        step: dict[str, Any] = {"label": label, "sender": sender, "now": now.isoformat(),
                                "body": body, "rng_draws": rng.take(), "token": token,
                                "shredded_first": shredded, "opened": []}
        held.append((receiver, token))
        if deliver:
            for who, pending in [h for h in held if h[0] == receiver][::-1]:
                step["opened"].append(sides[who].decrypt(pending, now=now).body.decode())
            held = [h for h in held if h[0] != receiver]
        for side in sides.values():
            november_keys.update(_keys_of_month(side.export_state(), epoch_of(NOV)))
        step["patient_state"], step["physician_state"] = _doc(pair.patient), _doc(pair.physician)
        steps.append(step)
    out["steps"] = steps
    november_keys.update(_used_keys(pair, [s["token"] for s in steps], epoch_of(NOV)))
    out["november_keys"] = sorted(november_keys)
    first = v3wire.parse_message_text(steps[0]["token"])
    assert first.deposit is not None
    opened = deposits.open_deposit(pair.escrow_private, first.deposit, pair.pinned)
    out["deposit"] = {
        "escrow_private": pair.escrow_private.hex(),
        "escrow_public": pair.pinned.escrow_public.hex(),
        "patient_identity": pair.pinned.patient_identity.hex(),
        "physician_identity": pair.pinned.physician_identity.hex(),
        "sealed": first.deposit.hex(),
        "plaintext": prim.sealed_box_open(pair.escrow_private, first.deposit).hex(),
        "epoch": opened.epoch, "direction": int(opened.direction),
        "chain_id": opened.chain_id.hex(), "start_index": opened.start_index,
        "chain_key": opened.chain_key.hex(),
        "message_key_0": kdf.chain_step(opened.chain_key)[0].hex(),
    }
    return out
