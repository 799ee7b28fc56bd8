"""Admin chat commands and /delete_me erasure, through the handler functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from medcrypt.bot.commands.lifecycle_chat import jobs_command, rotate_now_command, shred_command
from medcrypt.bot.domain.lifecycle.erasure import erase_identity_everywhere
from medcrypt.bot.domain.lifecycle.policy import epoch_status
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.storage.models.audit import AuditEntry, AuditSubjectKey
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.jobs import ShredConfirmation
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.tokens import StoredToken
from tests.support.jobs import add_escrow, add_pairing, add_token, context, count, notices_for

NOV = datetime(2026, 11, 10, tzinfo=UTC)
E = epoch_of(NOV)
ADMIN = "a" * 32


def test_shred_needs_the_same_admin_and_a_fresh_code(database_url: str) -> None:
    clock = FixedClock(NOV)
    with context(database_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=E, at=NOV)
        add_token(ctx, p.pairing_id, E, NOV)
        short = p.pairing_id[:8]
        assert "Usage" in shred_command(ctx, ADMIN, []).text
        assert "hexadecimal" in shred_command(ctx, ADMIN, ["zz"]).text
        assert "No pairing" in shred_command(ctx, ADMIN, ["0123456789"]).text
        ask = shred_command(ctx, ADMIN, [short]).text
        code = ask.rsplit(" ", 1)[1]
        assert f"/shred {short} {code}" in ask
        with ctx.sessions() as s:  # only a hash of the code is stored
            stored = s.scalars(select(ShredConfirmation.code_hash)).one()
            assert code.encode() not in bytes(stored)
        assert "wrong or expired" in shred_command(ctx, "b" * 32, [short, code]).text
        assert "wrong or expired" in shred_command(ctx, ADMIN, [short, "WRONGCOD"]).text
        assert "wrong or expired" in shred_command(ctx, ADMIN, [short, code]).text  # used up
        code = shred_command(ctx, ADMIN, [short]).text.rsplit(" ", 1)[1]
        clock.set(NOV + timedelta(minutes=6))
        assert "wrong or expired" in shred_command(ctx, ADMIN, [short, code]).text
        with ctx.sessions() as s:
            assert count(s, StoredToken) == 1
        code = shred_command(ctx, ADMIN, [short]).text.rsplit(" ", 1)[1]
        done = shred_command(ctx, ADMIN, [short, code.lower()])
        assert "Shredded pairing" in done.text and "1 stored message" in done.text
        assert done.notices_queued == 2
        with ctx.sessions() as s:
            assert count(s, StoredToken) == 0
            assert epoch_status(s, p.pairing_id, E, clock.now()) == "shredded"
            assert "at the clinic's request" in notices_for(s, p.patient_id)[-1]
            actions = s.scalars(select(AuditEntry.action)).all()
            assert actions.count("admin.refused") == 4 and "admin.command" in actions


def test_rotate_now_and_jobs(database_url: str) -> None:
    clock = FixedClock(NOV)
    with context(database_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=E - 1, at=NOV - timedelta(days=30))
        reply = rotate_now_command(ctx, ADMIN, [p.pairing_id[:10]])
        assert "1 pairing(s): 1 new epoch(s), 1 retired, 2 notice(s)" in reply.text
        assert "0 new epoch(s)" in rotate_now_command(ctx, ADMIN, ["all"]).text
        assert "Usage" in rotate_now_command(ctx, ADMIN, []).text
        listing = jobs_command(ctx, ADMIN, []).text
        assert "rotation:" in listing and "last: never" in listing


def test_delete_me_erases_identity_and_shreds_everything(database_url: str) -> None:
    clock = FixedClock(NOV)
    with context(database_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=E, at=NOV)
        q = add_pairing(ctx, start_epoch=E, at=NOV)
        add_token(ctx, p.pairing_id, E, NOV)
        add_escrow(ctx, p.pairing_id, E, NOV)
        add_token(ctx, q.pairing_id, E, NOV)
        pairing_ref = ctx.pairing_ref(p.pairing_id)
        with ctx.sessions() as s:
            before = s.scalar(select(AuditSubjectKey.subject_ref).where(
                AuditSubjectKey.subject_ref == pairing_ref))
        assert before is None  # nothing audited about it yet
        shred_command(ctx, ADMIN, [p.pairing_id[:8]])  # ensures an audit subject exists
        counts = erase_identity_everywhere(ctx, p.patient_id, clock.now())
        assert (counts["pairings"], counts["tokens"], counts["escrow"]) == (1, 1, 1)
        with ctx.sessions() as s:
            ident = s.get(PlatformIdentity, p.patient_id)
            assert ident is not None and ident.address is None and ident.deleted_at is not None
            assert s.get(Pairing, p.pairing_id).status == "erased"  # type: ignore[union-attr]
            assert count(s, StoredToken) == 1  # the other pairing is untouched
            assert notices_for(s, p.patient_id) == []  # nothing left queued to them
            assert "erased" in notices_for(s, p.physician_id)[-1]
            assert s.scalar(select(AuditSubjectKey.subject_ref).where(
                AuditSubjectKey.subject_ref == pairing_ref)) is None
            assert s.scalar(select(AuditEntry.seq).where(
                AuditEntry.subject_ref == pairing_ref)) is not None  # entries remain
        assert ctx.audit.verify(ctx.audit_public_keys).entries > 0
