"""Admin chat commands and /delete_me erasure, through the handler functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from medcrypt.bot.commands import shred
from medcrypt.bot.commands.lifecycle_chat import ChatReply, jobs_command, rotate_now_command
from medcrypt.bot.domain.lifecycle.erasure import erase_identity_everywhere
from medcrypt.bot.domain.lifecycle.policy import epoch_status
from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.models.audit import AuditEntry, AuditSubjectKey
from medcrypt.storage.models.confirmations import Confirmation
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.repos.pairings import get_pairing
from tests.support.handling import World, world
from tests.support.jobs import add_escrow, add_pairing, add_token, context, count, notices_for

NOV = datetime(2026, 11, 10, tzinfo=UTC)
E = epoch_of(NOV)
ADMIN = "a" * 32


def _shred(w: World, sender: str, *args: str) -> list[str]:
    """``/shred ARGS`` from Telegram user ``sender`` as the dispatcher runs it (admin
    already checked): the command in the message's transaction, then its work after
    commit."""
    with w.services.sessions.begin() as s:
        h = w.handling(s, w.identity(s, Platform.TELEGRAM, sender))
        shred.run(h, list(args))
    return h.replies + [work() for work in h.deferred]


def test_shred_needs_the_same_admin_and_a_fresh_code(migrated_database_url: str) -> None:
    """The confirmation's own rules (expiry, binding, single use) are tested with the
    primitive (tests/admins/test_confirmations.py); here, that /shred uses it."""
    with world(migrated_database_url, {"admin_telegram_ids": [111, 222]}) as w:
        w.clock.set(NOV)
        ctx = w.services
        p = add_pairing(ctx, start_epoch=E, at=NOV)
        add_token(ctx, p.pairing_id, E, NOV)
        short = p.pairing_id[:8]
        assert "Usage" in _shred(w, "111")[0]
        assert "hexadecimal" in _shred(w, "111", "zz")[0]
        assert "No pairing" in _shred(w, "111", "0123456789")[0]

        def ask() -> str:
            (text,) = _shred(w, "111", short)
            code = text.rsplit(" ", 1)[1]
            assert text.endswith(f"/shred {short} {code}")
            return code

        code = ask()
        with ctx.sessions() as s:  # only a hash of the code is stored
            assert code.encode() not in b"".join(
                bytes(v) for v in s.execute(select(Confirmation.code_sha256)).scalars())
        assert "only the person who asked" in _shred(w, "222", short, code)[0]
        assert "used already" in _shred(w, "111", short, code)[0]  # taken by the attempt
        other = add_pairing(ctx, start_epoch=E, at=NOV)
        code = ask()  # bound to this pairing: it cannot shred another one
        assert "another command or other" in _shred(w, "111", other.pairing_id[:8], code)[0]
        code = ask()
        w.clock.set(NOV + timedelta(minutes=6))
        assert "expired" in _shred(w, "111", short, code)[0]
        with ctx.sessions() as s:
            assert count(s, StoredToken) == 1
        code = ask()
        (done,) = _shred(w, "111", short, code.lower())
        assert "Shredded pairing" in done and "stored messages 1" in done
        with ctx.sessions() as s:
            assert count(s, StoredToken) == 0
            assert epoch_status(s, p.pairing_id, E, w.clock.now()) == "shredded"
            assert f"the clinic shredded your conversation {short}" in notices_for(
                s, p.patient_id)[-1]
            ended = get_pairing(s, p.pairing_id)
            assert ended is not None and ended.status == "unpaired"
            assert ended.shredded_at == w.clock.now()
            assert get_pairing(s, other.pairing_id).status == "active"  # type: ignore[union-attr]
            actions = s.scalars(select(AuditEntry.action)).all()
            assert actions.count("confirmation.refused") == 4 and "admin.command" in actions


def _written(reply: ChatReply, language: str = "en") -> str:
    return reply.text.in_(language)


def test_rotate_now_and_jobs(migrated_database_url: str) -> None:
    clock = FixedClock(NOV)
    with context(migrated_database_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=E - 1, at=NOV - timedelta(days=30))
        reply = rotate_now_command(ctx, ADMIN, [p.pairing_id[:10]])
        # Counts as "label: number" (no per-count plural in a sentence); in the admin's
        # language when the reply is written, here English.
        assert "Pairings: 1; new key months: 1; retired: 1; notices queued: 2" in _written(reply)
        assert "new key months: 0" in _written(rotate_now_command(ctx, ADMIN, ["all"]))
        assert "Uso:" in _written(rotate_now_command(ctx, ADMIN, []), "es_MX")
        listing = _written(jobs_command(ctx, ADMIN, []))
        assert "rotation:" in listing and "last run: never" in listing
        spanish = _written(jobs_command(ctx, ADMIN, []), "es_MX")
        assert "rotation:" in spanish and "última ejecución: nunca" in spanish


def test_delete_me_erases_identity_and_shreds_everything(migrated_database_url: str) -> None:
    clock = FixedClock(NOV)
    with context(migrated_database_url, clock) as ctx:
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
        ctx.audit.append(ctx.identity_ref(ADMIN), Action.ADMIN_COMMAND, pairing_ref,
                         {"command": "shred"})  # the pairing is now an audit subject
        counts = erase_identity_everywhere(ctx, p.patient_id, clock.now())
        assert (counts["pairings"], counts["tokens"], counts["escrow"]) == (1, 1, 1)
        with ctx.sessions() as s:
            ident = s.get(PlatformIdentity, p.patient_id)
            assert ident is not None and ident.address is None and ident.deleted_at is not None
            erased = s.get(Pairing, p.pairing_id)
            # Erased, not "shredded": the peer's refusal must not say the clinic shredded it.
            assert erased is not None and (erased.status, erased.shredded_at) == ("erased", None)
            assert count(s, StoredToken) == 1  # the other pairing is untouched
            assert notices_for(s, p.patient_id) == []  # nothing left queued to them
            assert "erased" in notices_for(s, p.physician_id)[-1]
            assert s.scalar(select(AuditSubjectKey.subject_ref).where(
                AuditSubjectKey.subject_ref == pairing_ref)) is None
            assert s.scalar(select(AuditEntry.seq).where(
                AuditEntry.subject_ref == pairing_ref)) is not None  # entries remain
        ctx.audit.checkpoint_if_due()  # the bot's checkpointer pass (appends never sign)
        assert ctx.audit.verify(ctx.audit_public_keys).entries > 0
