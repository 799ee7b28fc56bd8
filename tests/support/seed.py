"""Bulk synthetic data for the large tests and bench/bench_jobs.py: many pairings, epochs,
tokens and escrow deposits, inserted with Core executemany (no per-row ORM cost).

Identities carry no address (the sealed columns are nullable): the jobs never read
them, and sealing 200,000 fake numbers would only measure the keyring.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert

from medcrypt.crypto.keyless.epochs import epoch_start
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.tokens import StoredToken

CHUNK = 5000


def token_raw(pairing_id: str, epoch: int, index: int, body_len: int = 96) -> bytes:
    """A MESSAGE-shaped blob: real 51-byte header, random 'ciphertext' the test can find."""
    return (bytes([2, 1]) + bytes.fromhex(pairing_id) + epoch.to_bytes(4, "big") + b"\x00"
            + index.to_bytes(4, "big") + os.urandom(24) + os.urandom(body_len))


def seed(engine: Engine, pairings: int, epoch: int, *, tokens_per_pairing: int = 0,
         escrow: bool = False, state: str = "active", prefix: str = "") -> list[str]:
    """Create ``pairings`` active pairings started in ``epoch`` with one epoch row each."""
    at = epoch_start(epoch) + timedelta(hours=1)
    ids = [f"{prefix}{i:0{32 - len(prefix)}x}" for i in range(pairings)]
    with engine.begin() as conn:
        for start in range(0, pairings, CHUNK):
            chunk = ids[start:start + CHUNK]
            conn.execute(insert(PlatformIdentity), [
                {"id": f"d{pid[1:]}", "platform": "telegram", "role": "physician",
                 "created_at": at} for pid in chunk] + [
                {"id": f"e{pid[1:]}", "platform": "whatsapp", "role": "patient",
                 "created_at": at} for pid in chunk])
            conn.execute(insert(Pairing), [
                {"pairing_id": pid, "physician_id": f"d{pid[1:]}", "patient_id": f"e{pid[1:]}",
                 "status": "active", "start_epoch": epoch, "grace_days": 7,
                 "offer_expires_at": at, "created_at": at, "completed_at": at}
                for pid in chunk])
            conn.execute(insert(Epoch), [
                {"pairing_id": pid, "epoch": epoch, "state": state, "started_at": at,
                 "retired_at": None if state == "active" else at} for pid in chunk])
            if escrow:
                conn.execute(insert(EscrowDeposit), [
                    {"pairing_id": pid, "epoch": epoch, "direction": d,
                     "raw": token_raw(pid, epoch, d), "deposited_at": at}
                    for pid in chunk for d in (0, 1)])
        rows: list[dict[str, object]] = []
        for pid in ids:
            for k in range(tokens_per_pairing):
                rows.append({"pairing_id": pid, "epoch": epoch, "direction": k % 2,
                             "msg_index": k, "kind": 1, "raw": token_raw(pid, epoch, k),
                             "received_at": at})
                if len(rows) >= CHUNK:
                    conn.execute(insert(StoredToken), rows)
                    rows = []
        if rows:
            conn.execute(insert(StoredToken), rows)
    return ids


def first_of(epoch: int) -> datetime:
    return epoch_start(epoch)
