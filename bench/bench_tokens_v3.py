"""v3 token encrypt+decrypt against the raw primitives its spec requires (issue 13).

``python -m bench.run tokens`` runs it after the v2 table (same process, same load), or
``python -m bench.bench_tokens_v3 [--quick]`` alone.  Goal: at most 1.5x the sum of
the raw primitives for each message type.

* **in-chain, 64 B**: v3 encrypt + decrypt of a message inside a segment, against raw
  XChaCha20-Poly1305 encrypt + decrypt of the padded envelope (256 B: the padding is
  part of the spec) + one Ed25519 sign + one verify;
* **chain-starting, 64 B**: a message that takes a DH step and carries its segment's
  deposit (both sides alternate, so every message starts a chain), against the above
  + X25519 key generation + the two X25519 agreements (sender, receiver) + the
  deposit's sealed box + its Ed25519 signature;
* **in-chain, 1 MiB**: against raw AEAD of the padded envelope + Ed25519 sign + verify
  of a 1 MiB message (the "AEAD plus signature of the same size").

The goal line is always the issue's floor.  The in-chain tables add, for information, a
second floor that also counts what the spec requires of every message beyond that list
(the chain step's two HMAC-SHA256 on each side, the SHA-256 of the signed envelope on
each side): the ratio to it says how much of the remaining cost is Python, not crypto.

The v2 row of the same size is printed alongside.  Nothing is asserted.
"""

from __future__ import annotations

import gc
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bench.harness import Measurement, load_average, report
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.v3 import kdf
from medcrypt.crypto.keyless.epochs import epoch_of
from tests.support.sessions import make_pair
from tests.support.v3pairs import make_v3_pair

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def interleaved(
    cases: list[tuple[str, Callable[[], object], int]], number: int, repeat: int,
) -> list[Measurement]:
    """Rounds of every case in turn (name, function, operations per call), medians per
    case: on a shared machine the cases of one round see the same load, so their
    ratio is steadier than that of cases measured one after the other.

    Timed in this process's CPU time (``time.process_time``), not wall time: with more
    runnable processes than cores, wall time mostly measures how long the scheduler
    gave the core to someone else, and that lands on whichever case was running.
    Every case here is single-threaded CPU work, so nothing it does is left out."""
    samples: list[list[float]] = [[] for _ in cases]
    for _, fn, _ in cases:
        fn()
    for _ in range(repeat):
        for i, (_, fn, _) in enumerate(cases):
            gc.collect()
            gc.disable()
            try:
                start = time.process_time()
                for _ in range(number):
                    fn()
                samples[i].append(time.process_time() - start)
            finally:
                gc.enable()
    return [Measurement(name, statistics.median(samples[i]), number * ops)
            for i, (name, _, ops) in enumerate(cases)]


def _spec_extras(size: int) -> Callable[[], None]:
    """What the spec requires of every message beyond the issue's floor: the chain step
    on each side (two HMAC-SHA256 each, §22) and the SHA-256 of the envelope's fixed
    fields and body that each side signs or verifies (§8).  Informational only."""
    chain_key = bytearray(os.urandom(32))
    hashed = os.urandom(14 + (size // 2) * 2)

    def extras() -> None:
        for _ in range(2):
            kdf.chain_step(chain_key)
            hashlib.sha256(hashed).digest()

    return extras


def _raw_floor(size: int, *, chain_start: bool, spec_extras: bool = False) -> Callable[[], None]:
    padded = envelope.bucket_size(size + envelope.OVERHEAD)
    key, nonce, aad, body = os.urandom(32), os.urandom(24), os.urandom(95), os.urandom(padded)
    signer = prim.Ed25519Signer(os.urandom(32))
    escrow_public = prim.x25519_public(os.urandom(32))
    # What is signed: the message itself at its size (the floor); v3, like v2,
    # signs label || header || SHA-256(envelope) and so pays less than this at 1 MiB.
    signed = os.urandom(size if size > 64 else 32)
    deposit_plain = os.urandom(186)
    extras = _spec_extras(size) if spec_extras else None

    def floor() -> None:
        if extras is not None:
            extras()
        prim.xchacha_decrypt(key, nonce, prim.xchacha_encrypt(key, nonce, body, aad), aad)
        prim.ed25519_verify(signer.public, signed, signer.sign(signed))
        if chain_start:
            private = os.urandom(32)
            public = prim.x25519_public(private)
            prim.x25519_shared(private, escrow_public)
            prim.x25519_shared(private, public)
            prim.sealed_box_seal(escrow_public, deposit_plain + signer.sign(deposit_plain))

    return floor


def _size_rows(
    label: str, size: int, number: int, repeat: int,
) -> list[tuple[str, float | None]]:
    """The tables of one body size; returns (message type, v3 / raw primitives)."""
    body = os.urandom(size // 2).hex().encode()  # a TEXT body must be UTF-8 (§8)
    v3 = make_v3_pair(epoch_of(NOW), escrow=True)
    for _ in range(3):  # past the segment's deposit-carrying tokens
        v3.physician.decrypt(v3.patient.encrypt(body, now=NOW), now=NOW)
    v2 = make_pair("bench v3", escrow=True)

    def in_chain() -> bytes:
        return v3.physician.decrypt(v3.patient.encrypt(body, now=NOW), now=NOW).body

    def v2_round() -> bytes:
        token = v2.patient.encrypt(body, clock=v2.clock).token
        return v2.physician.decrypt(token, clock=v2.clock).body

    rows = interleaved([("raw primitives, in-chain", _raw_floor(size, chain_start=False), 1),
                        (f"v3 token, in-chain {label}", in_chain, 1),
                        (f"v2 token {label}", v2_round, 1),
                        ("raw + spec HMACs and SHA-256 (info)",
                         _raw_floor(size, chain_start=False, spec_extras=True), 1)],
                       number, repeat)
    report(f"v3 round trip, {label} body, in-chain", rows, baseline=rows[0])
    ratios = [(f"in-chain {label}", rows[1].per_op_us / rows[0].per_op_us),
              (f"  (vs raw + spec extras: {rows[1].per_op_us / rows[3].per_op_us:.2f}x, "
               "info only)", None)]
    if size > 64:
        return ratios

    def chain_starts() -> None:
        # Each side answers the other: both messages take a DH step, carry a deposit.
        v3.physician.decrypt(v3.patient.encrypt(body, now=NOW), now=NOW)
        v3.patient.decrypt(v3.physician.encrypt(body, now=NOW), now=NOW)

    rows = interleaved([("raw primitives, chain-starting", _raw_floor(size, chain_start=True), 1),
                        ("v3 token, chain-starting 64 B", chain_starts, 2)], number // 2, repeat)
    report("v3 round trip, 64 B body, chain-starting with deposit", rows, baseline=rows[0])
    ratios.append(("chain-starting 64 B", rows[1].per_op_us / rows[0].per_op_us))
    return ratios


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    repeat = 3 if quick else 5
    print(f"\n# v3 tokens (load {load_average()})")
    ratios = _size_rows("64 B", 64, 200 if quick else 1000, repeat)
    ratios += _size_rows("1 MiB", 1 << 20, 3, repeat)
    print(f"\n## v3 / raw primitives (goal <= 1.50x), load {load_average()}")
    for name, ratio in ratios:
        print(name if ratio is None else f"{name:<24} {ratio:5.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
