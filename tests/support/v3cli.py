"""Looking inside a v3 companion's keystore, and the v3 vectors' shredding rule.

The attack tests drive the real ``medcrypt`` CLI; these helpers read what it left on
disk (with the passphrase, as a thief who has it would) and apply PROTOCOL §28's check:
a state left after shredding month ``e`` must derive no key of ``e``, by any derivation
the spec defines, with any of its values in any key slot (the rule
``tests/crypto/v3/test_v3_vectors.py`` applies to the recorded vectors).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
from pathlib import Path
from typing import Any

from medcrypt.companion.keystore import Keystore
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.v3 import kdf
from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.wire import Direction, find_tokens
from tests.support.companion import PASSPHRASE

#: Message keys derived past each chain key seen, when listing a month's keys.
WALK = 64


def document(home: Path, passphrase: str = PASSPHRASE) -> dict[str, Any]:
    """The keystore document of ``home`` (unlocked and closed again)."""
    store = Keystore.unlock(home, passphrase)
    try:
        return dict(store.state)
    finally:
        store.close()


def session_state(home: Path, pairing_hex: str) -> dict[str, Any]:
    state: dict[str, Any] = document(home)["pairings"][pairing_hex]["session"]
    return state


def values_of(node: Any) -> set[bytes]:
    """Every 32-byte value (base64) anywhere in a JSON tree."""
    found: set[bytes] = set()
    if isinstance(node, dict):
        for value in node.values():
            found |= values_of(value)
    elif isinstance(node, list):
        for value in node:
            found |= values_of(value)
    elif isinstance(node, str):
        with contextlib.suppress(binascii.Error, ValueError):
            raw = base64.b64decode(node, validate=True)
            if len(raw) == 32:
                found.add(raw)
    return found


def month_keys(state: dict[str, Any], epoch: int) -> set[bytes]:
    """The chain and message keys of month ``epoch`` a session state holds or yields."""
    starts: set[bytes] = set()
    send = state.get("send")
    if send is not None:
        if send["segment_epoch"] == epoch and send["chain_key"]:
            starts.add(prim.b64d(send["chain_key"]))
        if send["chain_epoch"] == epoch and send["first_seed"]:
            starts.add(prim.b64d(send["first_seed"]))
    keys: set[bytes] = set()
    for chain in state["recv"]:
        segment = chain["segments"].get(str(epoch))
        if segment is None:
            continue
        if segment["chain_key"]:
            starts.add(prim.b64d(segment["chain_key"]))
        keys |= {prim.b64d(k) for k in segment["skipped"].values()}
    for start in starts:
        ck = start
        keys.add(ck)
        for _ in range(WALK):
            mk, ck = kdf.chain_step(ck)
            keys |= {mk, ck}
    return keys


def derivable(state: dict[str, Any], epoch: int, tokens: list[str]) -> set[bytes]:
    """Everything the spec's derivations yield from a state's values for month ``epoch``:
    chain steps, segment seeds, root steps, segment keys for every chain id on the wire."""
    values = values_of(state)
    pid = prim.b64d(state["pairing_id"])
    derived: set[bytes] = set(values)
    for value in values:
        derived |= set(kdf.chain_step(value))
        derived.add(kdf.segment_seed(value, epoch))
        for other in values:
            derived |= set(kdf.root_step(value, other))
            with contextlib.suppress(MedCryptError):
                derived |= set(kdf.root_step(value, prim.x25519_shared(other, value)))
    chain_ids = {v3wire.parse_message_text(t).header.chain_id
                 for text in tokens for t in find_tokens(text)}
    for seed, month_root in itertools.product(set(derived), values):
        for direction, chain in itertools.product(Direction, chain_ids):
            derived.add(kdf.segment_key(seed, month_root, pairing_id=pid, direction=direction,
                                        chain_id=chain, epoch=epoch))
    return derived
