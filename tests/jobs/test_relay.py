"""The jobs over the relay's own tables: notices once, everything of a past epoch deleted."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.jobs.chat import shred_command
from bot.jobs.erasure import erase_relay_identity
from bot.jobs.policy import epoch_status
from bot.jobs.rotation import rotate
from bot.jobs.shred import sweep
from crypto.audit import Action
from crypto.clock import FixedClock
from crypto.epochs import epoch_of
from crypto.parts import split_token
from crypto.wire import encode_token
from storage.models.audit import AuditEntry
from storage.models.bot_relay import (
    BotIdentity,
    BotMedia,
    BotOutbox,
    BotPairing,
    BotPendingPart,
    BotRelayedToken,
)

from .helpers import context

OCT = datetime(2026, 10, 12, tzinfo=UTC)
E = epoch_of(OCT)


def _identity(s, platform: str) -> str:  # type: ignore[no-untyped-def]
    ident = BotIdentity(id=secrets.token_hex(16), platform=platform,
                        address_sealed=os.urandom(40), address_index=os.urandom(34),
                        created_at=OCT)
    s.add(ident)
    return ident.id


def _outbox(recipient: str, kind: str, body: str, pid: bytes | None,
            media_id: str | None = None) -> BotOutbox:
    return BotOutbox(recipient_id=recipient, kind=kind, body=body, media_id=media_id,
                     pairing_id=pid, status="sent", attempts=1, next_attempt_at=OCT,
                     created_at=OCT, updated_at=OCT)


def _relay_pairing(ctx, epoch: int) -> tuple[bytes, str, str, list[bytes]]:  # type: ignore[no-untyped-def]
    pid = os.urandom(16)
    blobs: list[bytes] = []
    with ctx.sessions.begin() as s:
        doc, pat = _identity(s, "telegram"), _identity(s, "whatsapp")
        s.flush()
        s.add(BotPairing(pairing_id=pid, physician_id=doc, patient_id=pat, status="active",
                         start_epoch=epoch, grace_days=7, offer_expires_at=0, created_at=OCT,
                         completed_at=OCT))
        raw = bytes([2, 1]) + pid + epoch.to_bytes(4, "big") + b"\x00" + bytes(4) \
            + os.urandom(24) + os.urandom(400)
        token = encode_token(raw)
        s.add(BotRelayedToken(pairing_id=pid, epoch=epoch, kind="message", raw=raw,
                              created_at=OCT))
        s.add(_outbox(doc, "token", token, pid))
        parts = split_token(token, 200)
        s.add_all([_outbox(doc, "token", part, pid) for part in parts])
        first = parts[0]
        s.add(BotPendingPart(sender_id=pat, group_id=os.urandom(16), part_index=0,
                             part_count=len(parts), text=first, received_at=OCT))
        data = b"MCF2\x02" + pid + epoch.to_bytes(4, "big") + b"\x01" + os.urandom(16) \
            + os.urandom(300)
        s.add(BotMedia(id=secrets.token_hex(16), data=data, created_at=OCT))
        s.flush()
        media_id = s.scalars(select(BotMedia.id).where(BotMedia.data == data)).one()
        s.add(_outbox(doc, "file", "", pid, media_id))
        blobs += [raw, data]
    return pid, doc, pat, blobs


def _notices(s, who: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(s.scalars(select(BotOutbox.body).where(BotOutbox.recipient_id == who,
                                                       BotOutbox.kind == "notice")))


def test_relay_tables_rotate_warn_and_shred(database_url: str) -> None:
    clock = FixedClock(OCT)
    with context(database_url, clock) as ctx:
        _pid, doc, pat, blobs = _relay_pairing(ctx, E)
        other, *_ = _relay_pairing(ctx, E)
        for _ in range(2):
            r = rotate(ctx, datetime(2026, 11, 1, tzinfo=UTC))
        assert r.relay_notices == 0  # the second run found every notice claimed
        with ctx.sessions() as s:
            assert len(_notices(s, pat)) == 1 and "2026-11-08 00:00" in _notices(s, pat)[0]
        assert sweep(ctx, datetime(2026, 11, 7, 1, tzinfo=UTC)).counts["relay_warnings_queued"] \
            == 4
        done = sweep(ctx, datetime(2026, 11, 8, tzinfo=UTC))
        assert done.counts["relay_epochs"] == 2
        assert (done.counts["relay_tokens"], done.counts["relay_files"]) == (2, 2)
        assert done.counts["relay_parts"] == 2 and done.counts["relay_outbox"] >= 4
        assert sweep(ctx, datetime(2026, 11, 8, 2, tzinfo=UTC)).counts["relay_epochs"] == 0
        with ctx.sessions() as s:
            for model in (BotRelayedToken, BotMedia, BotPendingPart):
                assert s.scalar(select(func.count()).select_from(model)) == 0
            assert s.scalar(select(func.count()).select_from(BotOutbox)
                            .where(BotOutbox.kind != "notice")) == 0
            assert len(_notices(s, doc)) == 3  # rotated, warned, shredded
            assert s.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == Action.EPOCH_SHREDDED.value)) == 2
        if database_url.startswith("sqlite"):
            path = Path(database_url.removeprefix("sqlite:///"))
            raw = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                                       if path.with_name(path.name + "-wal").exists() else b"")
            for blob in blobs:
                assert blob[-64:] not in raw
        assert other


def test_relay_shred_command_and_erasure(database_url: str) -> None:
    now = datetime(2026, 10, 20, tzinfo=UTC)
    with context(database_url, FixedClock(now)) as ctx:
        pid, _doc, pat, _ = _relay_pairing(ctx, E)
        pid2, doc2, pat2, _ = _relay_pairing(ctx, E)
        assert "No pairing" in shred_command(ctx, "a" * 32, ["0" * 31 + "1"]).text
        # The reply quotes an 8-character prefix; it must resolve to the relay pairing.
        asked = shred_command(ctx, "a" * 32, [pid.hex()[:8]]).text
        short, code = asked.rsplit(" ", 2)[1:]
        assert short == pid.hex()[:8]
        reply = shred_command(ctx, "a" * 32, [short, code])
        assert "1 stored message(s)" in reply.text and "1 file(s)" in reply.text
        assert reply.notices_queued == 2
        with ctx.sessions() as s:
            assert s.scalar(select(func.count()).select_from(BotRelayedToken)
                            .where(BotRelayedToken.pairing_id == pid)) == 0
            assert "at the clinic's request" in _notices(s, pat)[-1]
            assert epoch_status(s, pid, E, now) == "shredded"
            assert epoch_status(s, pid2, E, now) == "active"
            assert epoch_status(s, pid2.hex(), E - 1, now) == "unknown"
            assert epoch_status(s, pid2, E + 1, now) == "future"
            assert epoch_status(s, "not hex", E, now) == "unknown"
        counts = erase_relay_identity(ctx, pat2, now)
        assert (counts["pairings"], counts["tokens"], counts["notices"]) == (1, 1, 1)
        with ctx.sessions() as s:
            assert s.scalar(select(func.count()).select_from(BotRelayedToken)) == 0
            assert "erased" in _notices(s, doc2)[-1]
