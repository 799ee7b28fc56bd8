"""Restore entries: the one break in the audit log that is recognised, because it is signed.

A database restored from a backup has lost every audit entry written after the backup:
its chain ends at the backup's head, and the bot continues it from there with new
entries at the same sequence numbers. Witness lines posted in chat for the lost stretch
no longer match, and ``audit verify --witness`` would report a rewritten chain - true,
but blind: it cannot tell an operator's restore from an attacker's cut.

So ``backup restore`` appends an ``audit.restored`` entry and signs a checkpoint over it
in the same transaction (the checkpoint entry directly follows it, same timestamp). A
restore mark is accepted only in that shape, and only the walk's check of that
checkpoint's signature makes it count - a database writer without the signing key
cannot add one to excuse a cut. Witness lines that the mark explains - at or after its
seq, but signed before it was written - are set aside and reported as belonging to the
lost history instead of failing the verification; every other witness is checked as
before. The lost range itself (backup head, last known seq) is in the entry's sealed
details, for ``audit export``.

Pure: rows and checkpoints in, marks and the split out (docs/adr/0016).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit.checkpoint import Checkpoint, Witness
from medcrypt.crypto.server.audit.entry import Action, EntryRow, encode_raw

RESTORED = Action.AUDIT_RESTORED.value.encode("ascii")
_CHECKPOINT = Action.CHECKPOINT.value.encode("ascii")


@dataclass(frozen=True)
class RestoreMark:
    """A restore entry at ``seq``, written at ``ts_us``, signed by checkpoint ``seq + 1``."""

    seq: int
    ts_us: int


def _hash(row: EntryRow) -> bytes:
    return hashlib.sha256(encode_raw(row[0], row[1], row[2:7])).digest()


def restore_mark(entry: EntryRow, following: EntryRow | None,
                 checkpoints: Mapping[int, Checkpoint]) -> RestoreMark:
    """Check that ``entry`` (an ``audit.restored`` row) is closed by its own checkpoint.

    The checkpoint's signature is not checked here: the chain walk checks every
    checkpoint, and the caller keeps the mark only if that walk succeeds.
    """
    seq, ts = entry[0], entry[1]
    if entry[4] != RESTORED:
        raise ValueError("not a restore entry")
    cp = checkpoints.get(seq + 1)
    ok = (following is not None and cp is not None and following[0] == seq + 1
          and following[4] == _CHECKPOINT and following[1] == ts
          and _hash(entry) == bytes(entry[7]) and bytes(following[6]) == bytes(entry[7])
          and _hash(following) == bytes(following[7]) == bytes(cp.head_hash))
    if not ok:
        raise AuditChainBroken(seq, "a restore entry is not signed by a checkpoint of its "
                                    "own: it was inserted by a database writer, not by "
                                    "`backup restore`")
    return RestoreMark(seq, ts)


def lost_history(witness: Witness, marks: Iterable[RestoreMark]) -> RestoreMark | None:
    """The restore that explains ``witness``: signed before it, for a seq it reused."""
    for mark in marks:
        if witness.seq >= mark.seq and witness.ts_us < mark.ts_us:
            return mark
    return None


def split_witnesses(witnesses: Sequence[Witness], marks: Sequence[RestoreMark]
                    ) -> tuple[list[Witness], list[Witness]]:
    """(witnesses to check, witnesses of history a restore lost)."""
    kept: list[Witness] = []
    aside: list[Witness] = []
    for w in witnesses:
        (aside if lost_history(w, marks) is not None else kept).append(w)
    return kept, aside
