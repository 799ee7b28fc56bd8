"""In-memory audit chains for the pure verifier tests: build, read back, re-hash."""

from __future__ import annotations

import os

from medcrypt.crypto.server.audit import (
    GENESIS_HASH,
    CheckpointSigner,
    EntryFields,
    EntryRow,
    as_row,
    entry_hash,
)

SIGNER = CheckpointSigner(bytes(range(1, 33)))
KEYS = {SIGNER.key_id: SIGNER.public_key}
ACTOR, SUBJECT = "physician:00112233445566778899aabb", "patient:ffeeddccbbaa998877665544"


def make_chain(n: int, every: int = 100, signer: CheckpointSigner = SIGNER,
               start: list[EntryRow] | None = None) -> tuple[list[EntryRow], list]:
    rows: list[EntryRow] = list(start or [])
    prev = rows[-1][7] if rows else GENESIS_HASH
    cps, prev_sig = [], b""
    for seq in range(len(rows) + 1, n + 1):
        f = EntryFields(seq, 1_795_435_200_000_000 + seq, ACTOR, SUBJECT, "relay.accepted",
                        os.urandom(60), prev)
        prev = entry_hash(f)
        rows.append(as_row(f, prev))
    for seq in range(every, n + 1, every):
        cp = signer.sign(seq, rows[seq - 1][1], rows[seq - 1][7], prev_sig)
        cps.append(cp)
        prev_sig = cp.sig
    return rows, cps


def fields_of(row: EntryRow) -> EntryFields:
    return EntryFields(row[0], row[1], row[2].decode(), row[3].decode(), row[4].decode(),
                       row[5], row[6])


def rehash(rows: list[EntryRow], first: int) -> None:
    """What an attacker without the signing key can do: recompute every hash."""
    prev = rows[first - 2][7] if first > 1 else GENESIS_HASH
    for i in range(first - 1, len(rows)):
        f = fields_of(rows[i])._replace(prev_hash=prev)
        prev = entry_hash(f)
        rows[i] = as_row(f, prev)


def timed_chain(transactions: list[tuple[int, int, bool]],
                signer: CheckpointSigner = SIGNER) -> tuple[list[EntryRow], list]:
    """Rows and checkpoints from ``(ts_us, entries, signed)`` transactions.

    Every entry of a transaction carries its timestamp, as the log's writer stamps them;
    ``signed`` closes the transaction with a checkpoint entry signed over it (its signed
    time rounded down to the second, as :meth:`CheckpointSigner.sign` does).
    """
    rows: list[EntryRow] = []
    cps: list = []
    prev, prev_sig = GENESIS_HASH, b""
    for ts, entries, signed in transactions:
        for i in range(entries + (1 if signed else 0)):
            action = "audit.checkpoint" if signed and i == entries else "relay.accepted"
            f = EntryFields(len(rows) + 1, ts, ACTOR, SUBJECT, action, os.urandom(40), prev)
            prev = entry_hash(f)
            rows.append(as_row(f, prev))
        if signed:
            cp = signer.sign(len(rows), ts, prev, prev_sig)
            cps.append(cp)
            prev_sig = cp.sig
    return rows, cps
