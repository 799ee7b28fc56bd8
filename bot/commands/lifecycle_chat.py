"""Admin chat commands of the key lifecycle: ``/jobs``, ``/rotate_now``, ``/shred``.

Handlers are plain functions ``(ctx, actor_id, args) -> ChatReply`` that the bot's
dispatcher calls after it has checked that the sender is a clinic admin; they never
touch a platform. They take the :class:`Services` bundle rather than the dispatcher's open
session because the work spans several transactions (batches, then the WAL/VACUUM
scrub, which cannot run inside a transaction) and commits its own notices to the
outbox - ``ChatReply.notices_queued`` says how many.

``/shred`` is two-step: ``/shred <pairing>`` answers with a one-time code valid for five
minutes; only the same admin sending ``/shred <pairing> <code>`` destroys anything - and
ends the pairing for good (:func:`bot.domain.lifecycle.shred.shred_pairing`).
Only the code's SHA-256 is stored, compared in constant time, and used once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from medcrypt.bot.domain.lifecycle.rotation import rotate
from medcrypt.bot.domain.lifecycle.shred import shred_pairing
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.db import Session
from medcrypt.storage.repos import jobs as job_rows
from medcrypt.storage.repos.pairings import ids_with_prefix

CONFIRM_TTL = timedelta(minutes=5)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_CODE_LEN = 8
_HEX_PREFIX = re.compile(r"[0-9a-f]{8,32}\Z")

ROTATE_USAGE = "Usage: /rotate_now <pairing id (8+ hex characters)> or /rotate_now all"
SHRED_USAGE = "Usage: /shred <pairing id (8+ hex characters)>, then /shred <pairing id> <code>"


@dataclass(frozen=True)
class ChatReply:
    text: str
    notices_queued: int = 0


def _code_hash(code: str) -> bytes:
    return hashlib.sha256(code.strip().upper().encode("ascii", "replace")).digest()


def _resolve(session: Session, text: str) -> tuple[str | None, str | None]:
    """(pairing_id, None) for a unique id or hex prefix, else (None, reason)."""
    prefix = text.strip().lower()
    if not _HEX_PREFIX.match(prefix):
        return None, "A pairing id is 8 to 32 hexadecimal characters."
    found = ids_with_prefix(session, prefix)
    if not found:
        return None, "No pairing with that id."
    if len(found) > 1:
        return None, "That prefix matches several pairings; give more characters."
    return found[0], None


def jobs_command(ctx: Services, actor_id: str, args: list[str]) -> ChatReply:
    """``/jobs``: next and last run of each job (the scheduler's listing)."""
    return ChatReply(ctx.job_listing(ctx, ctx.clock.now()))


def rotate_now_command(ctx: Services, actor_id: str, args: list[str]) -> ChatReply:
    """``/rotate_now <pairing|all>``: run the rotation bookkeeping now.

    Epoch keys follow the calendar on the companions, so this cannot move a key forward
    mid-month; it brings the bot's rows, notices and audit up to date at once (after an
    outage, or to check). A suspected compromise calls for ``/shred``.
    """
    if len(args) != 1:
        return ChatReply(ROTATE_USAGE)
    now = ctx.clock.now()
    actor = ctx.identity_ref(actor_id)
    ids: list[str] | None = None
    if args[0].lower() != "all":
        with ctx.sessions() as session:
            pid, problem = _resolve(session, args[0])
        if pid is None:
            return ChatReply(problem or ROTATE_USAGE)
        ids = [pid]
    ctx.audit.append(actor, Action.ADMIN_COMMAND,
                     ctx.pairing_ref(ids[0]) if ids else actor,
                     {"command": "rotate_now", "scope": "one" if ids else "all"})
    result = rotate(ctx, now, pairing_ids=ids, actor=actor)
    queued = result.notices_queued
    return ChatReply(
        f"Rotation bookkeeping done for {result.pairings} pairing(s): "
        f"{result.epochs_created} new epoch(s), {result.epochs_retired} retired, "
        f"{queued} notice(s) queued. Keys follow the calendar on the "
        "companions; for a lost or compromised device use /shred.", queued)


def shred_command(ctx: Services, actor_id: str, args: list[str]) -> ChatReply:
    """``/shred <pairing>`` (ask) and ``/shred <pairing> <code>`` (confirm and destroy)."""
    if len(args) not in (1, 2):
        return ChatReply(SHRED_USAGE)
    now = ctx.clock.now()
    actor = ctx.identity_ref(actor_id)
    with ctx.sessions() as session:
        pid, problem = _resolve(session, args[0])
    if pid is None:
        return ChatReply(problem or SHRED_USAGE)
    short = pid[:8]
    if len(args) == 1:
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LEN))
        with ctx.sessions.begin() as session:
            job_rows.replace_confirmation(session, pairing_id=pid, actor_id=actor_id,
                                          code_hash=_code_hash(code), now=now,
                                          expires_at=now + CONFIRM_TTL)
        return ChatReply(
            f"This ends pairing {short} for good: every stored message and escrow deposit "
            f"of it up to this month is destroyed at once, and the relay refuses every "
            f"later message of it, in any month. Both members are told to end it on their "
            f"companion and to pair again. To confirm within 5 minutes send: "
            f"/shred {short} {code}")
    with ctx.sessions.begin() as session:
        # The code is consumed by the one request that took it.
        stored = job_rows.take_confirmation(session, pairing_id=pid, actor_id=actor_id)
    if stored is None or now >= stored[1] or not hmac.compare_digest(
            stored[0], _code_hash(args[1])):
        ctx.audit.append(actor, Action.ADMIN_REFUSED, ctx.pairing_ref(pid),
                         {"command": "shred", "reason": "bad_or_expired_code"})
        return ChatReply(f"Not shredded: that code is wrong or expired. Send /shred {short} "
                         "to get a new one.")
    ctx.audit.append(actor, Action.ADMIN_COMMAND, ctx.pairing_ref(pid), {"command": "shred"})
    counts = shred_pairing(ctx, pid, now, actor=actor, reason="admin_request")
    return ChatReply(
        f"Shredded pairing {short}: {counts['epochs']} epoch(s), {counts['tokens']} stored "
        f"message(s), {counts['escrow']} escrow deposit(s), "
        f"{counts['media']} file(s) deleted; the pairing has ended for good and the relay "
        "refuses its messages; both members were told to re-pair.", int(counts["notices"]))


def pending_confirmations(ctx: Services) -> int:
    """How many /shred codes are outstanding (for /stats)."""
    with ctx.sessions() as session:
        return job_rows.count_confirmations(session)
