"""The demo's checks: the shred scan, the plaintext scan and the verdict on each claim.

A demo that only narrates could say anything; these functions look at the database
file, its WAL and every byte the sandbox platforms received, and compare what the story
claims with what happened, so ``medcrypt-bot demo`` exits 1 when a claim is false.

They read the bot's tables directly, with SQLAlchemy, on purpose: a proof must not go
through the repositories it is checking. This module is the one exemption from the
"SQL only in storage" import contract (pyproject.toml, docs/adr/0009); it only reads.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from medcrypt.crypto.keyless.epochs import format_epoch
from medcrypt.demo.clinic import say
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.tokens import StoredToken

if TYPE_CHECKING:
    from medcrypt.bot.app.bot import BotApp
    from medcrypt.demo.story import Demo


def server_state(bot: BotApp) -> str:
    """What the server holds right now, in one line (the story prints it as it goes)."""
    with bot.sessions() as s:
        tokens = s.scalar(select(func.count()).select_from(StoredToken)) or 0
        out = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        pairing = s.scalar(select(Pairing))
    state = "none" if pairing is None else (
        f"{pairing.status}, ended by /shred" if pairing.shredded_at else pairing.status)
    return f"[server: pairing {state}; {tokens} relayed token(s); {out} outbox row(s)]"


def only_pairing(bot: BotApp) -> str:
    """The id of the one pairing the story made (an error if there is not exactly one)."""
    with bot.sessions() as s:
        return str(s.scalars(select(Pairing.pairing_id)).one())


def tokens_of_month(bot: BotApp, epoch: int) -> list[bytes]:
    """The raw tokens the server keeps for ``epoch`` (what its shred must leave no trace of)."""
    with bot.sessions() as s:
        return list(s.scalars(select(StoredToken.raw).where(StoredToken.epoch == epoch)))


def scan_shredded(demo: Demo, epoch: int, fingerprints: list[bytes]) -> None:
    """Look for any byte of the shredded month's tokens in the database and its WAL."""
    demo.shredded_epoch = epoch
    with demo.bot.sessions() as s:
        left = s.scalar(select(func.count()).select_from(StoredToken).where(
            StoredToken.epoch == epoch)) or 0
    blob = db_bytes(demo.root)
    # No fragments to look for would make "none found" vacuous: count that as a hit.
    demo.scan_hits = sum(1 for f in fingerprints if f in blob) + left + (not fingerprints)
    say("check", f"bot.db + WAL ({len(blob):,} bytes) scanned for {len(fingerprints)} "
                 f"fragments of the shredded tokens: "
                 + ("none found" if not demo.scan_hits else f"{demo.scan_hits} FOUND"))

def db_bytes(root: Path) -> bytes:
    """The SQLite file and its write-ahead log, as one blob to search."""
    db = root / "bot.db"
    wal = root / "bot.db-wal"
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def report_leaks(demo: Demo, markers: list[str]) -> None:
    """Show what the server holds, then search it and the platforms' traffic."""
    with demo.bot.sessions() as s:
        rows = s.scalars(select(StoredToken).order_by(StoredToken.id)).all()
        for row in rows[:4]:
            say("server", f"message  epoch {row.epoch}  {len(row.raw):>5} bytes of "
                          f"ciphertext  {base64.b64encode(row.raw[:12]).decode()}…")
        if len(rows) > 4:
            say("server", f"… {len(rows) - 4} more, all ciphertext")
    blobs = {"database file": db_bytes(demo.root),
             "requests Telegram received": demo.tg.request_bytes(),
             "requests Twilio received": demo.tw.request_bytes()}
    for where, blob in blobs.items():
        hits = [m for m in markers if m.encode() in blob]
        say("check", f"{where}: {'LEAK ' + repr(hits) if hits else 'no plaintext'}")
        demo.leaks += len(hits)

def verdicts(demo: Demo) -> list[tuple[str, bool]]:
    """The story's claims, each checked against what actually happened."""
    recovered = [m.get("text") for m in demo.recovered.get("messages", [])]
    entries, checkpoints = demo.audit_counts
    return [
        ("rotation notice reached both people",
         bool(demo.rotation_seen) and all(demo.rotation_seen.values())),
        ("old-month token refused by the bot after grace",
         any("shredded" in t or "expired" in t for t in demo.refusals)),
        ("old-month token refused by the companion after grace",
         bool(demo.companion_refusal)),
        ("shredded tokens absent from bot.db and its WAL", demo.scan_hits == 0),
        ("break-glass recovered text equals what was sent", demo.april_sent in recovered),
        ("shredded month absent from the break-glass bundle",
         bool(demo.recovered) and bool(demo.late_sent) and demo.shredded_epoch > 0
         and format_epoch(demo.shredded_epoch) not in demo.recovered.get("months", [])
         and all(m.get("text") != demo.late_sent for m in demo.recovered.get("messages", []))),
        ("v3 pairing: the same code on both screens, and the confirmation verified",
         demo.v3_codes_matched),
        ("v3: a stolen copy of the companion opens nothing after one round trip",
         demo.v3_copy_stopped),
        ("a /shred pairing refuses next month's token (both sides, nothing delivered)",
         demo.shred_refused),
        ("one tag names the pairing at the bot, in /pairings and in the companion "
         "('From <label> (tag)'); the label never left the device",
         sorted(demo.names_seen) == ["admin", "bot", "companion"]
         and all(demo.names_seen.values()) and demo.leaks == 0),
        (f"audit verify OK ({entries} entries, {checkpoints} signed checkpoints)",
         entries > 0 and checkpoints > 0),
        ("plaintext markers absent from the database, WAL and platform traffic",
         demo.leaks == 0),
    ]
