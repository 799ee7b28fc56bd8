"""What a database writer without the checkpoint signing key does to hide audit history.

The attacker has write access to the bot's SQLite file (a stolen backup put back, a
compromised host account, a careless DBA) and the project's source, which documents the
entry encoding (docs/adr/0004-audit-log.md). No key is needed to recompute the hash
chain; only the checkpoint signatures and the witness lines in the admins' chat are out
of reach. Everything here is raw SQL on the file, the way such an attacker works: no
repository, no :class:`AuditLog`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medcrypt.crypto.server.audit import GENESIS_HASH, EntryFields, entry_hash

_COLUMNS = "seq, ts_us, actor_ref, subject_ref, action, details, prev_hash, entry_hash"


@dataclass(frozen=True)
class Cut:
    """What the attacker removed and where the forged log now ends."""

    first_removed_seq: int
    removed_entries: int
    removed_checkpoints: int
    kept_after_cut: int
    head_seq: int
    last_checkpoint_seq: int


def cut_history(db: Path, actions: Iterable[str], *, keep_later: bool = True) -> Cut:
    """Delete every entry of ``actions`` and every checkpoint from the first of them on.

    The checkpoints' own chain entries go too (they would point at rows that no longer
    exist), the entries kept after the cut are renumbered and re-hashed so the chain
    links again, and ``audit_head`` is pointed at the new end and at the last checkpoint
    left standing - so that, before the coverage rule, ``audit verify`` said OK.

    ``keep_later=False`` cuts everything from the last checkpoint before the first
    removed entry on: the log then ends exactly at a genuine checkpoint.
    """
    wanted = set(actions)
    con = sqlite3.connect(db)
    try:
        rows = con.execute(f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq").fetchall()
        first = min(r[0] for r in rows if r[4] in wanted)
        if not keep_later:
            first = 1 + con.execute("SELECT max(seq) FROM audit_checkpoints WHERE seq < ?",
                                    (first,)).fetchone()[0]
        cut_cps = {s for (s,) in con.execute(
            "SELECT seq FROM audit_checkpoints WHERE seq >= ?", (first,))}
        kept = [r for r in rows[first - 1:]
                if keep_later and r[4] not in wanted and r[0] not in cut_cps]
        prev = rows[first - 2][7] if first > 1 else GENESIS_HASH
        forged = []
        for seq, row in enumerate(kept, start=first):
            fields = EntryFields(seq, row[1], row[2], row[3], row[4], row[5], prev)
            prev = entry_hash(fields)
            forged.append((*fields, prev))
        with con:
            con.execute("DELETE FROM audit_entries WHERE seq >= ?", (first,))
            con.executemany(f"INSERT INTO audit_entries ({_COLUMNS}) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", forged)
            con.execute("DELETE FROM audit_checkpoints WHERE seq >= ?", (first,))
            cp_seq, cp_ts, cp_sig = con.execute(
                "SELECT seq, ts_us, sig FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            head_seq = first - 1 + len(forged)
            con.execute("UPDATE audit_head SET seq = ?, entry_hash = ?, checkpoint_seq = ?, "
                        "checkpoint_ts_us = ?, checkpoint_sig = ? WHERE id = 1",
                        (head_seq, prev, cp_seq, cp_ts, cp_sig))
        return Cut(first, len(rows) - (first - 1) - len(kept), len(cut_cps), len(kept),
                   head_seq, cp_seq)
    finally:
        con.close()


def actions_in(db: Path) -> list[str]:
    """The log's actions in seq order, read the way the attacker reads them."""
    con = sqlite3.connect(db)
    try:
        return [a for (a,) in con.execute("SELECT action FROM audit_entries ORDER BY seq")]
    finally:
        con.close()
