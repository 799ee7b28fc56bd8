"""v3 token encrypt+decrypt against the raw primitives its spec requires (issue 13).

``python -m bench.run tokens_v3`` (or ``tokens``, after the v2 table), or
``python -m bench.bench_tokens_v3 [--quick] [--rounds N]`` alone.  Goal: at most 1.5x
the raw primitives for each message type.  Nothing is asserted.

**The anchors** are the floor and nothing else: the libsodium calls the token path must
make for that message, through PyNaCl's public ``nacl.bindings`` (the lowest layer a
Python caller may use), on inputs of exactly the sizes a real token has, made once
before timing.  No project wrapper, no slicing, no copying, no Python glue is timed in
them.  The sizes are read off a real token at start-up, and the run stops if they differ
from the ones the anchor was built for.

* **in-chain, 64 B**: one ``crypto_aead_xchacha20poly1305_ietf_encrypt`` of the padded
  envelope (256 B, the padding is part of the spec) with the 95-byte header as
  associated data, one ``..._decrypt`` of its output (272 B), one ``crypto_sign`` of the
  147-byte signed message (label, header, SHA-256 of the envelope) and one
  ``crypto_sign_open`` of the signed message it returned (a new message each time,
  from a pool made before timing: see :data:`POOL`).  The subject is
  ``Session.encrypt`` on one side and ``Session.decrypt`` on the other of one message
  inside a live segment of a chain a DH step made (as after a conversation's first
  exchange: its tokens name the previous chain).
* **chain-starting, 64 B**: both sides alternate, so every message takes a DH step and
  carries its segment's deposit.  Anchor: the in-chain floor + ``crypto_scalarmult_base``
  (the new ratchet key) + two ``crypto_scalarmult`` (the sender's and the receiver's
  DH) + ``crypto_sign`` of the deposit's 180-byte signed fields + ``crypto_box_seal`` of
  its 186-byte plaintext.
* **in-chain, 1 MiB**: the AEAD of the padded envelope in the construction the spec's
  implementation uses above 16 KiB (HChaCha20 + OpenSSL's ChaCha20-Poly1305, ADR 0001)
  + ``crypto_sign`` / ``crypto_sign_open`` of a 1 MiB message (the issue's "AEAD plus
  signature of the same size"; v3 signs a SHA-256 of the body and so pays less).

Informational rows, measured in the same rounds: the v2 token of the same size, and the
in-chain floor plus what the spec requires of every message beyond the issue's list
(the chain step's two HMAC-SHA256 on each side, the SHA-256 of the envelope on each
side): the ratio to it says how much of the cost is Python, not cryptography.

**How it is measured** (why the figures can be trusted on a shared 2-core machine):

* thread CPU time (``time.thread_time_ns``), not wall time: time the scheduler gave to
  other processes is not counted (cache and memory-bus contention still is, and hits
  anchor and subject alike);
* every round times every case once, one after the other, the order rotated from round
  to round so no case always runs first; gc is collected before and disabled during
  each timed block;
* the ratio is taken per round (subject / anchor of that round) and the table gives
  the median of those ratios and their interquartile range; the per-operation times are
  medians over rounds.  The load average is printed before and after.

CPU time still moves with the load (a busy neighbour evicts the interpreter's caches,
which Python glue feels more than libsodium's arithmetic).  For a figure no load
changes, count instructions (``perf stat`` has no counters in this VM; valgrind works):
``--count in-chain N`` (or ``anchor``, ``chain-start``, ``chain-anchor``) only runs
``N`` calls of that 64 B case after the same set-up, so ``valgrind --tool=cachegrind
--cache-sim=no python -m bench.bench_tokens_v3 --count in-chain N`` at two values of
``N`` gives, by difference, the instructions of one round trip (of one message for the
chain-starting cases).  Count in a tree whose ``__pycache__`` already exists (run the
benchmark once first): otherwise the first of the two runs also compiles every module,
some 40 M instructions, and the difference comes out about 200 k per call too low.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import nacl.bindings as sodium

from bench.harness import load_average
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.v3 import deposit as deposits
from medcrypt.crypto.endpoint.v3 import kdf
from medcrypt.crypto.endpoint.v3.session import ENVELOPE_LABEL
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from tests.support.sessions import make_pair
from tests.support.v3pairs import V3Pair, make_v3_pair

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
#: The signed message of a v3 envelope: label || header || SHA-256(fixed fields, body).
SIGNED_LEN = len(ENVELOPE_LABEL) + v3wire.HEADER_LEN + 32
#: A deposit signs label || fields || escrow public key; its sealed plaintext adds the
#: signature to the fields.
DEPOSIT_SIGNED_LEN = len(deposits.SIGNATURE_LABEL) + deposits.PLAINTEXT_LEN - 64 + 32


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[[], object]
    ops_per_call: int = 1


@dataclass(frozen=True)
class Row:
    name: str
    us_per_op: float
    ratio: float
    q1: float
    q3: float


def paired_rounds(cases: list[Case], calls: int, rounds: int) -> list[Row]:
    """Time ``calls`` calls of every case in each of ``rounds`` rounds (``cases[0]`` is
    the anchor); per case, the median CPU time per operation and the median and IQR of
    its per-round ratio to the anchor."""
    for case in cases:
        for _ in range(max(3, calls // 10)):
            case.fn()
    per_op: list[list[float]] = [[] for _ in cases]
    for r in range(rounds):
        for k in range(len(cases)):
            i = (r + k) % len(cases)
            fn = cases[i].fn
            gc.collect()
            gc.disable()
            try:
                start = time.thread_time_ns()
                for _ in range(calls):
                    fn()
                elapsed = time.thread_time_ns() - start
            finally:
                gc.enable()
            per_op[i].append(elapsed / (calls * cases[i].ops_per_call) / 1000)
    rows = []
    for i, case in enumerate(cases):
        ratios = [s / a for s, a in zip(per_op[i], per_op[0], strict=True)]
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios * 3)
        rows.append(Row(case.name, statistics.median(per_op[i]), statistics.median(ratios),
                        q1, q3))
    return rows


def print_rows(title: str, rows: list[Row], calls: int, rounds: int) -> None:
    print(f"\n## {title}  ({rounds} rounds x {calls} calls, CPU time)")
    print(f"{'case':<44} {'CPU/op':>10} {'ratio':>7}  {'IQR of ratio':>13}")
    for row in rows:
        print(f"{row.name:<44} {row.us_per_op:>8.2f}us {row.ratio:>6.2f}x  "
              f"{row.q1:5.2f}-{row.q3:5.2f}x")


# --------------------------------------------------------------------------- anchors


#: Distinct inputs the anchors cycle through.  Ed25519 verification is variable-time
#: (libsodium's double scalar multiplication, on public data): one fixed signature
#: would pin the anchor to one draw of that cost, a different one in every process,
#: while the token path verifies a new signature every time.
POOL = 257


def _pool(make: Callable[[], bytes]) -> Iterator[bytes]:
    return itertools.cycle([make() for _ in range(POOL)])


def in_chain_floor(size: int) -> Callable[[], None]:
    """The libsodium calls of one in-chain message of ``size`` body bytes (see above)."""
    padded = envelope.bucket_size(size + envelope.OVERHEAD)
    key, nonce = os.urandom(32), os.urandom(24)
    aad, plain = os.urandom(v3wire.HEADER_LEN), os.urandom(padded)
    public, secret = sodium.crypto_sign_seed_keypair(os.urandom(32))
    signed = _pool(lambda: os.urandom(SIGNED_LEN))
    encrypt = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt
    decrypt = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt
    sign, sign_open = sodium.crypto_sign, sodium.crypto_sign_open

    def floor() -> None:
        decrypt(encrypt(plain, aad, nonce, key), aad, nonce, key)
        sign_open(sign(next(signed), secret), public)

    return floor


def chain_start_floor(size: int) -> Callable[[], None]:
    """:func:`in_chain_floor` plus key generation, two DH and the signed, sealed deposit."""
    message = in_chain_floor(size)
    _, secret = sodium.crypto_sign_seed_keypair(os.urandom(32))
    escrow_public = sodium.crypto_scalarmult_base(os.urandom(32))
    peer_public = sodium.crypto_scalarmult_base(os.urandom(32))
    deposit_signed = _pool(lambda: os.urandom(DEPOSIT_SIGNED_LEN))
    deposit_plain = os.urandom(deposits.PLAINTEXT_LEN)
    base, mult = sodium.crypto_scalarmult_base, sodium.crypto_scalarmult
    sign, seal = sodium.crypto_sign, sodium.crypto_box_seal

    def floor() -> None:
        message()
        private = os.urandom(32)
        public = base(private)
        mult(private, peer_public)
        mult(private, public)
        sign(next(deposit_signed), secret)
        seal(deposit_plain, escrow_public)

    return floor


def large_floor(size: int) -> Callable[[], None]:
    """AEAD of the padded envelope (OpenSSL construction) + Ed25519 of ``size`` bytes."""
    padded = envelope.bucket_size(size + envelope.OVERHEAD)
    key, nonce = os.urandom(32), os.urandom(24)
    aad, plain = os.urandom(v3wire.HEADER_LEN), os.urandom(padded)
    public, secret = sodium.crypto_sign_seed_keypair(os.urandom(32))
    signed = os.urandom(size)

    def floor() -> None:
        prim.xchacha_decrypt_openssl(
            key, nonce, prim.xchacha_encrypt_openssl(key, nonce, plain, aad), aad)
        # One fixed message: at 1 MiB the hashing dwarfs the variable-time part of
        # verification (see POOL), and a pool of 1 MiB messages would not fit in cache.
        sodium.crypto_sign_open(sodium.crypto_sign(signed, secret), public)

    return floor


def with_spec_extras(floor: Callable[[], None], size: int) -> Callable[[], None]:
    """Informational: the floor plus each side's chain step (two HMAC-SHA256) and its
    SHA-256 of the envelope's fixed fields and body (§8, §22)."""
    chain_key = bytearray(os.urandom(32))
    hashed = os.urandom(14 + size)

    def extended() -> None:
        floor()
        for _ in range(2):
            kdf.chain_step(chain_key)
            hashlib.sha256(hashed).digest()

    return extended


def check_sizes(token: str, size: int) -> None:
    """Stop unless a real token has the sizes the anchors were built for."""
    parsed = v3wire.parse_message_text(token)
    padded = envelope.bucket_size(size + envelope.OVERHEAD)
    if len(parsed.header.raw) != v3wire.HEADER_LEN or len(parsed.body) != padded + 16:
        sys.exit(f"bench out of date: a {size} B token has a {len(parsed.body)}-byte body")


# --------------------------------------------------------------------------- runs


def on_dh_chain(v3: V3Pair, body: bytes) -> str:
    """Bring the patient onto a sending chain that a DH step made, past its deposit-
    carrying tokens; return its last token.  Such a chain is what a conversation runs
    on after its first exchange: every token names the previous chain's length (the
    pairing's first chain names none)."""
    v3.physician.decrypt(v3.patient.encrypt(body, now=NOW), now=NOW)
    v3.patient.decrypt(v3.physician.encrypt(body, now=NOW), now=NOW)
    for _ in range(3):
        token = v3.patient.encrypt(body, now=NOW)
        v3.physician.decrypt(token, now=NOW)
    if not v3wire.parse_message_text(token).header.prev_len:
        sys.exit("bench out of date: the measured chain names no previous chain")
    return token


def run(size: int, label: str, calls: int, rounds: int) -> list[tuple[str, Row]]:
    body = os.urandom(size // 2).hex().encode()  # a TEXT body must be UTF-8 (§8)
    v3 = make_v3_pair(epoch_of(NOW), escrow=True)
    token = on_dh_chain(v3, body)
    check_sizes(token, size)
    v2 = make_pair("bench v3", escrow=True)
    patient, physician = v3.patient, v3.physician

    def in_chain() -> None:
        physician.decrypt(patient.encrypt(body, now=NOW), now=NOW)

    def v2_round() -> None:
        token = v2.patient.encrypt(body, clock=v2.clock).token
        v2.physician.decrypt(token, clock=v2.clock)

    floor = in_chain_floor(size) if size <= prim.SODIUM_MAX else large_floor(size)
    cases = [Case("raw primitives (anchor)", floor), Case(f"v3 in-chain {label}", in_chain),
             Case(f"v2 token {label} (info)", v2_round)]
    if size <= prim.SODIUM_MAX:
        cases.append(Case("anchor + spec HMACs, SHA-256 (info)", with_spec_extras(floor, size)))
    rows = paired_rounds(cases, calls, rounds)
    print_rows(f"v3 round trip, {label} body, in-chain", rows, calls, rounds)
    out = [(f"in-chain {label}", rows[1])]
    if size > prim.SODIUM_MAX:
        return out

    def chain_starts() -> None:
        # Each side answers the other: both messages take a DH step and carry a deposit.
        physician.decrypt(patient.encrypt(body, now=NOW), now=NOW)
        patient.decrypt(physician.encrypt(body, now=NOW), now=NOW)

    rows = paired_rounds([Case("raw primitives (anchor)", chain_start_floor(size)),
                          Case(f"v3 chain-starting {label}", chain_starts, 2)],
                         max(1, calls // 4), rounds)
    print_rows(f"v3 round trip, {label} body, chain-starting with deposit", rows,
               max(1, calls // 4), rounds)
    out.append((f"chain-starting {label}", rows[1]))
    return out


#: ``--count`` cases: the two 64 B message types and their anchors.
COUNT_CASES = ("in-chain", "anchor", "chain-start", "chain-anchor")


def count_only(case: str, calls: int) -> None:
    """Run ``calls`` untimed calls of one 64 B case (for an instruction counter).

    ``chain-start`` is one chain-starting message (half of the alternating round trip
    the timed run uses, so ``N`` calls are ``N`` messages); ``chain-anchor`` its floor.
    """
    body = os.urandom(32).hex().encode()
    v3 = make_v3_pair(epoch_of(NOW), escrow=True)
    on_dh_chain(v3, body)
    patient, physician = v3.patient, v3.physician
    sides = itertools.cycle([(patient, physician), (physician, patient)])

    def in_chain() -> None:
        physician.decrypt(patient.encrypt(body, now=NOW), now=NOW)

    def chain_start() -> None:
        sender, receiver = next(sides)
        receiver.decrypt(sender.encrypt(body, now=NOW), now=NOW)

    floor, chain_floor = in_chain_floor(64), chain_start_floor(64)
    cases = {"in-chain": in_chain, "anchor": floor, "chain-start": chain_start,
             "chain-anchor": chain_floor}
    # Every case warmed whichever is counted (the set-up is identical); an even number
    # of chain starts leaves the patient to send the first counted one.
    for _ in range(20):
        in_chain()
        floor()
        chain_start()
        chain_floor()
    fn = cases[case]
    for _ in range(calls):
        fn()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_tokens_v3")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--count", nargs=2, metavar=("CASE", "N"),
                        help=f"only run N calls of CASE ({', '.join(COUNT_CASES)}), untimed")
    args, _ = parser.parse_known_args(argv)
    if args.count:
        if args.count[0] not in COUNT_CASES:
            parser.error(f"--count takes one of {', '.join(COUNT_CASES)}")
        count_only(args.count[0], int(args.count[1]))
        return
    rounds = args.rounds or (9 if args.quick else 31)
    before = load_average()
    print(f"\n# v3 tokens (load before {before})")
    results = run(64, "64 B", 50 if args.quick else 200, rounds)
    results += run(1 << 20, "1 MiB", 1, max(5, rounds // 3))
    print(f"\n## v3 / raw primitives (goal <= 1.50x); load before {before}, "
          f"after {load_average()}")
    print(f"{'message':<24} {'median':>7}  {'IQR':>11}")
    for name, row in results:
        print(f"{name:<24} {row.ratio:6.2f}x  {row.q1:4.2f}-{row.q3:4.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
