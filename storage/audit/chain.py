"""One append transaction's walk along the audit chain, with the checkpoints it owes.

:class:`~.log.AuditLog` holds the head lock and the subject keys; this module only
computes: it seals and hashes entries at the next seqs and signs checkpoints over them,
collecting the rows and checkpoints the log then inserts. Kept apart so the coverage
promises (docs/adr/0014-audit-coverage.md) read in one place: :meth:`TransactionChain.add`
signs first when one more entry would leave more than ``every`` unsigned, and
:meth:`TransactionChain.close` signs when the transaction ends ``every - 1`` unsigned or
comes ``interval`` or more after the last checkpoint - one timestamp for the whole
transaction, so a late entry and the checkpoint that closes it always match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from medcrypt.crypto.server.audit import (
    SYSTEM_AUDIT,
    Action,
    Checkpoint,
    CheckpointSigner,
    EntryFields,
    encode_details,
    entry_hash,
    seal_details,
)
from medcrypt.storage.audit.records import HeadRow, Prepared


class TransactionChain:
    """The chain as one transaction extends it: next seq, last hash, last checkpoint."""

    def __init__(self, head: HeadRow, ts_us: int, keys: Mapping[str, bytes], *,
                 signer: CheckpointSigner | None, every: int, interval_us: int,
                 rng: Callable[[int], bytes]) -> None:
        self.ts = ts_us
        self.seq, self.prev = head.seq, head.entry_hash
        self.cp_seq, self.cp_ts_us, self.cp_sig = head.cp_seq, head.cp_ts_us, head.cp_sig
        self.rows: list[dict[str, Any]] = []
        self.checkpoints: list[Checkpoint] = []
        self._keys = keys
        self._signer = signer
        self._every = every
        self._interval_us = interval_us
        self._rng = rng

    def add(self, entry: Prepared) -> tuple[int, bytes]:
        """Append one of the caller's entries (after a checkpoint if one is owed)."""
        if self._signer is not None and self.seq - self.cp_seq >= self._every:
            self.sign()
        return self._append(entry)

    def close(self, *, force: bool = False) -> None:
        """End the transaction: sign if forced, by count, or because it comes late."""
        if self._signer is not None and (
                force or self.seq + 1 - self.cp_seq >= self._every
                or self.ts - self.cp_ts_us >= self._interval_us):
            self.sign()

    def sign(self) -> None:
        """Append a checkpoint entry and sign the chain up to and including it."""
        if self._signer is None:
            raise ValueError("no signing key")
        details = encode_details({"previous_checkpoint_seq": self.cp_seq})
        self._append((SYSTEM_AUDIT, Action.CHECKPOINT.value, SYSTEM_AUDIT, details))
        cp = self._signer.sign(self.seq, self.ts, self.prev, self.cp_sig)
        self.checkpoints.append(cp)
        self.cp_seq, self.cp_ts_us, self.cp_sig = cp.seq, cp.ts_us, cp.sig

    def _append(self, entry: Prepared) -> tuple[int, bytes]:
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
