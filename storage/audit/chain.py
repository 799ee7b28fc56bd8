"""One append transaction's walk along the audit chain.

:class:`~.log.AuditLog` holds the head lock and the subject keys; this module only
computes: it seals and hashes entries at the next seqs, collecting the rows the log then
inserts. It never signs: checkpoints are the checkpointer's, off the append path
(docs/adr/0036-checkpoints-off-the-append-path.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from medcrypt.crypto.server.audit import EntryFields, entry_hash, seal_details
from medcrypt.storage.audit.records import HeadRow, Prepared


class TransactionChain:
    """The chain as one transaction extends it: next seq and last hash."""

    def __init__(self, head: HeadRow, ts_us: int, keys: Mapping[str, bytes], *,
                 rng: Callable[[int], bytes]) -> None:
        self.ts = ts_us
        self.seq, self.prev = head.seq, head.entry_hash
        self.rows: list[dict[str, Any]] = []
        self._keys = keys
        self._rng = rng

    def add(self, entry: Prepared) -> tuple[int, bytes]:
        """Append one entry: its seq and hash."""
        actor, action, subject, plaintext = entry
        seq, link = self.seq + 1, self.prev
        sealed = seal_details(self._keys[subject], seq, subject, action, plaintext,
                              rng=self._rng)
        digest = entry_hash(EntryFields(seq, self.ts, actor, subject, action, sealed, link))
        self.rows.append({"seq": seq, "ts_us": self.ts, "actor_ref": actor,
                          "subject_ref": subject, "action": action, "details": sealed,
                          "prev_hash": link, "entry_hash": digest})
        self.seq, self.prev = seq, digest
        return seq, digest
