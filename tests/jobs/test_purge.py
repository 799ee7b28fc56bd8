"""What a shred deletes besides tokens and deposits: parts waiting to be joined, cached
media (rows and files) and outbox rows carrying the epoch's tokens - and nothing else.

Both backends; the rows are those the relay stores, built with real token encoding.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from medcrypt.bot.domain.lifecycle.shred import sweep
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.parts import split_token
from medcrypt.crypto.keyless.wire import encode_token, parse_token
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.parts import PendingPart
from tests.support.jobs import PairingFixture, add_pairing, context

OCT = datetime(2026, 10, 15, tzinfo=UTC)
E_OCT = epoch_of(OCT)
AFTER_GRACE = datetime(2026, 11, 9, tzinfo=UTC)


def _token(pairing_id: str, epoch: int) -> str:
    raw = (bytes([2, 1]) + bytes.fromhex(pairing_id) + epoch.to_bytes(4, "big") + b"\x00"
           + bytes(4) + os.urandom(24) + os.urandom(120))
    return encode_token(raw)


def _parts(ctx, sender: str, token: str, at: datetime, *, drop_first: bool = False) -> int:  # type: ignore[no-untyped-def]
    pieces = split_token(token, 90, rng=os.urandom)
    assert len(pieces) > 2
    rows = []
    for text in pieces:
        part = parse_token(text).part
        assert part is not None
        if drop_first and part.index == 0:
            continue
        rows.append(PendingPart(group_id=part.group_id.hex(), part_index=part.index,
                                part_count=part.count, chunk=part.chunk, sender_id=sender,
                                received_at=at))
    with ctx.sessions.begin() as s:
        s.add_all(rows)
    return len(rows)


def _media(ctx, p: PairingFixture, epoch: int, folder: Path) -> Path:  # type: ignore[no-untyped-def]
    path = folder / secrets.token_hex(8)
    path.write_bytes(os.urandom(64))
    with ctx.sessions.begin() as s:
        s.add(MediaBlob(id=secrets.token_hex(16), pairing_id=p.pairing_id, epoch=epoch,
                        data=None, path=str(path), content_type="application/octet-stream",
                        size=64, url_token_hash=os.urandom(32), created_at=OCT,
                        expires_at=OCT + timedelta(days=60)))
    return path


def _outbox(ctx, p: PairingFixture, payload: str) -> None:  # type: ignore[no-untyped-def]
    with ctx.sessions.begin() as s:
        s.add(OutboxMessage(dest_identity_id=p.patient_id, origin_identity_id=p.physician_id,
                            pairing_id=p.pairing_id, payload_kind="text",
                            payload=payload.encode("ascii"), status="pending", attempts=0,
                            next_attempt_at=OCT, created_at=OCT, updated_at=OCT))


def test_shred_deletes_parts_media_and_outbox_of_the_epoch_only(
    migrated_database_url: str, tmp_path: Path,
) -> None:
    clock = FixedClock(OCT)
    with context(migrated_database_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=E_OCT - 1, at=OCT - timedelta(days=30))
        q = add_pairing(ctx, start_epoch=E_OCT - 1, at=OCT - timedelta(days=30), grace_days=30)
        with ctx.sessions.begin() as s:  # p and q also have an October epoch row
            s.add_all([Epoch(pairing_id=x.pairing_id, epoch=E_OCT, state="active",
                             started_at=OCT) for x in (p, q)])
        doomed_parts = _parts(ctx, p.physician_id, _token(p.pairing_id, E_OCT), OCT)
        # A group whose part 0 never arrived, last part received in October: October's.
        doomed_parts += _parts(ctx, p.patient_id, _token(p.pairing_id, E_OCT), OCT,
                               drop_first=True)
        kept_parts = _parts(ctx, q.physician_id, _token(q.pairing_id, E_OCT), OCT)
        doomed_file = _media(ctx, p, E_OCT, tmp_path)
        kept_file = _media(ctx, q, E_OCT, tmp_path)
        _outbox(ctx, p, _token(p.pairing_id, E_OCT))
        pieces = split_token(_token(p.pairing_id, E_OCT), 90, rng=os.urandom)
        for piece in pieces:
            _outbox(ctx, p, piece)  # all parts of a split token go with its part 0
        _outbox(ctx, q, _token(q.pairing_id, E_OCT))
        clock.set(AFTER_GRACE)
        result = sweep(ctx, AFTER_GRACE)
        # p's September and October, q's September; q's October is still in its grace.
        assert result.epochs_shredded == 3
        assert result.counts["parts"] == doomed_parts
        assert result.counts["outbox"] == 1 + len(pieces)
        assert result.counts["media"] == 1
        with ctx.sessions() as s:
            parts = s.scalars(select(PendingPart.sender_id)).all()
            assert parts == [q.physician_id] * kept_parts
            assert s.scalars(select(MediaBlob.pairing_id)).all() == [q.pairing_id]
            left = s.scalars(select(OutboxMessage.pairing_id)
                             .where(OutboxMessage.payload_kind == "text")).all()
            assert left == [q.pairing_id]
        assert not doomed_file.exists() and kept_file.exists()
