"""Admin chat commands of the key lifecycle: ``/jobs``, ``/rotate_now``, ``/shred``.

Handlers are plain functions ``(ctx, actor_id, args) -> ChatReply`` that the bot's
dispatcher calls after it has checked that the sender is a clinic admin; they never
touch a platform. They take the :class:`Services` bundle rather than the dispatcher's open
session because the work spans several transactions (batches, then the WAL/VACUUM
scrub, which cannot run inside a transaction) and commits its own notices to the
outbox - ``ChatReply.notices_queued`` says how many.

``/shred`` is two-step, with the one confirmation primitive of every risky command
(:mod:`bot.domain.confirmations`, asked and redeemed by :mod:`bot.commands.shred` in the
message's transaction); :func:`shred_command` is the second half, run after commit once
the code was redeemed. It destroys what the relay holds and ends the pairing for good
(:func:`bot.domain.lifecycle.shred.shred_pairing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from medcrypt.bot.domain import names
from medcrypt.bot.domain.i18n import N_, Writable, msg
from medcrypt.bot.domain.lifecycle.rotation import rotate
from medcrypt.bot.domain.lifecycle.shred import shred_pairing
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.db import Session
from medcrypt.storage.joblock import JobBusy, job_lock
from medcrypt.storage.repos.pairings import get_pairing

ROTATE_USAGE = N_("Usage: /rotate_now <pairing tag or id> or /rotate_now all")
#: Counts as "label: number", so no sentence needs a plural form per count.
ROTATED = N_(
    "Rotation bookkeeping done. Pairings: {pairings}; new key months: {created}; retired: "
    "{retired}; notices queued: {queued}. Keys follow the calendar on the companions; for a "
    "lost or compromised device use /shred."
)
SHREDDED = N_(
    "Shredded pairing {tag}. Deleted: key months {epochs}, stored messages {tokens}, escrow "
    "deposits {escrow}, files {media}. The pairing has ended for good and the relay refuses "
    "its messages; both members were told to pair again."
)


@dataclass(frozen=True)
class ChatReply:
    """A job's reply to the admin who asked, written in their language when queued."""

    text: Writable
    notices_queued: int = 0


@dataclass(frozen=True)
class Listing:
    """The ``/jobs`` table, rendered in the admin's language when the reply is written."""

    services: Services
    now: datetime

    def in_(self, language: str) -> str:
        return self.services.job_listing(self.services, self.now, language)


def resolve_pairing(session: Session, text: str) -> tuple[str | None, str | None]:
    """(pairing_id, None) for a tag, a unique id or hex prefix, else (None, reason)."""
    found = names.find(session, text)
    if isinstance(found, names.NotFound):
        return None, found.reply
    return found.pairing_id, None


def _name(ctx: Services, pairing_id: str) -> str:
    with ctx.sessions() as session:
        record = get_pairing(session, pairing_id)
    return names.shown(pairing_id, record.tag if record else None)


def jobs_command(ctx: Services, actor_id: str, args: list[str]) -> ChatReply:
    """``/jobs``: next and last run of each job (the scheduler's listing)."""
    return ChatReply(Listing(ctx, ctx.clock.now()))


def rotate_now_command(ctx: Services, actor_id: str, args: list[str]) -> ChatReply:
    """``/rotate_now <pairing|all>``: run the rotation bookkeeping now.

    Epoch keys follow the calendar on the companions, so this cannot move a key forward
    mid-month; it brings the bot's rows, notices and audit up to date at once (after an
    outage, or to check). A suspected compromise calls for ``/shred``.
    """
    if len(args) != 1:
        return ChatReply(msg(ROTATE_USAGE))
    now = ctx.clock.now()
    actor = ctx.identity_ref(actor_id)
    ids: list[str] | None = None
    if args[0].lower() != "all":
        with ctx.sessions() as session:
            pid, problem = resolve_pairing(session, args[0])
        if pid is None:
            return ChatReply(msg(problem or ROTATE_USAGE))
        ids = [pid]
    ctx.audit.append(actor, Action.ADMIN_COMMAND,
                     ctx.pairing_ref(ids[0]) if ids else actor,
                     {"command": "rotate_now", "scope": "one" if ids else "all"})
    try:
        with job_lock(ctx.engine, "rotation"):  # the lock the scheduler and `jobs run` take
            result = rotate(ctx, now, pairing_ids=ids, actor=actor)
    except JobBusy:
        return ChatReply(msg(ROTATION_BUSY))
    queued = result.notices_queued
    return ChatReply(msg(ROTATED, pairings=result.pairings, created=result.epochs_created,
                         retired=result.epochs_retired, queued=queued), queued)


ROTATION_BUSY = N_("Rotation is running right now (scheduled, or started by another admin); "
                   "try again when it has finished - /jobs shows its last run.")


def shred_command(ctx: Services, actor_id: str, args: list[str]) -> ChatReply:
    """``/shred``'s work, once its confirmation was redeemed: ``args`` is the pairing id."""
    (pid,) = args
    now = ctx.clock.now()
    actor = ctx.identity_ref(actor_id)
    ctx.audit.append(actor, Action.ADMIN_COMMAND, ctx.pairing_ref(pid), {"command": "shred"})
    counts = shred_pairing(ctx, pid, now, actor=actor, reason="admin_request")
    return ChatReply(msg(SHREDDED, tag=_name(ctx, pid), epochs=counts["epochs"],
                         tokens=counts["tokens"], escrow=counts["escrow"],
                         media=counts["media"]), int(counts["notices"]))
