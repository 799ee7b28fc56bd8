"""The break-glass state machine: request, approve (a second admin), deny, expire, opened.

::

    /breakglass <pairing> <reason>      /approve <code>  (other admin, within the window)
    (none) ───────────────▶ pending ─────────────────────▶ approved ─ bundle exported
                               │  /deny <code> (any admin)    (same transaction)
                               ├─────────────────────────▶ denied
                               │  window over
                               └─────────────────────────▶ expired

Every transition, and every refusal of an admin action, is an entry in the hash-chained
audit log, written in the caller's transaction so state and audit commit together. The
functions take the session and an :class:`Actor` and return an :class:`Outcome` (reply,
notices, the bundle document) for the chat dispatcher to queue; they never send.

Approval needs two different admin *persons* (:mod:`bot.domain.persons`), judged here
for every caller: the approver is refused when they are the requester's person - the
same identity, or another identity of that person, then or now - and when the requester
made them an admin (proposed or confirmed any grant of the approver's person), since
an admin who can appoint a stand-in would otherwise approve alone. Notices to the
patient and the physician carry the time and the reason, never content.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from medcrypt.bot.domain import names, persons
from medcrypt.bot.domain.breakglass import texts
from medcrypt.bot.domain.breakglass.bundle import (
    build_bundle,
    bundle_digest,
    escrow_public_from_config,
)
from medcrypt.bot.domain.breakglass.collect import collect
from medcrypt.bot.domain.i18n import Msg, msg
from medcrypt.bot.domain.messages import Document
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.keyless.epochs import format_epoch
from medcrypt.crypto.server.audit import Action, system_ref
from medcrypt.storage.db import Session
from medcrypt.storage.repos import breakglass as rows
from medcrypt.storage.repos.admissions import is_v3
from medcrypt.storage.repos.breakglass import Request
from medcrypt.storage.repos.pairings import PairingRecord, get_pairing

MAX_REASON_CHARS = 160
MIN_REASON_CHARS = 4
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Actor:
    identity_id: str
    is_admin: bool


@dataclass
class Outcome:
    reply: Msg
    #: (identity id, PHI-free text) for the patient and physician, each in their language.
    notices: list[tuple[str, Msg]] = field(default_factory=list)
    #: The sealed bundle for the requesting admin (``document_to``).
    document: Document | None = None
    document_to: str | None = None


def _window(deps: Services) -> timedelta:
    """How long a request waits for the second admin."""
    return timedelta(minutes=deps.settings.breakglass.approval_window_minutes)


def _audit(deps: Services, session: Session, action: Action, actor: str | None,
           pairing_id: bytes | None,
           **details: str | int | list[str | int | bool | None] | None) -> None:
    """One chained entry; refs are pseudonyms, details are sealed to the subject."""
    actor_ref = system_ref("bot") if actor is None else deps.audit.pseudonym("identity", actor)
    subject = (system_ref("bot") if pairing_id is None
               else deps.audit.pseudonym("pairing", pairing_id.hex()))
    deps.audit.append(actor_ref, action, subject, details, session=session)


def _find_pairing(session: Session, text: str) -> PairingRecord | str | None:
    """A tag, a full 32-hex id, or a unique prefix of at least 8 hex characters."""
    found = names.find(session, text)
    if isinstance(found, names.NotFound):
        return "ambiguous" if found.reply == names.AMBIGUOUS else None
    return found


def refuse(deps: Services, session: Session, identity_id: str, command: str) -> Outcome:
    """A non-admin asked for a break-glass action: the refusal is a chained audit entry."""
    _audit(deps, session, Action.ADMIN_REFUSED, identity_id, None, command=command,
           why="not_admin")
    return Outcome(msg(texts.ADMIN_ONLY))


def request(deps: Services, session: Session, actor: Actor, args: Sequence[str]) -> Outcome:
    """``/breakglass <pairing> <reason...>``: open a pending request."""
    if not actor.is_admin:
        return refuse(deps, session, actor.identity_id, "breakglass")
    if len(args) < 2:
        return Outcome(msg(texts.USAGE_REQUEST))
    reason = " ".join(args[1:]).strip()
    if not MIN_REASON_CHARS <= len(reason) <= MAX_REASON_CHARS or not reason.isprintable():
        return Outcome(msg(texts.BAD_REASON, low=MIN_REASON_CHARS, high=MAX_REASON_CHARS))
    found = _find_pairing(session, args[0])
    if found == "ambiguous":
        return Outcome(msg(texts.AMBIGUOUS_PAIRING))
    if not isinstance(found, PairingRecord) or found.patient_id is None:
        return Outcome(msg(texts.UNKNOWN_PAIRING))
    now = deps.clock.now()
    row = rows.create_request(
        session, deps.keyring, code=secrets.token_hex(5),
        pairing_id=bytes.fromhex(found.pairing_id), requester_id=actor.identity_id,
        requester_person=persons.ref(deps, persons.person_of(deps, session,
                                                             actor.identity_id)),
        reason=reason, now=now, expires_at=now + _window(deps))
    _audit(deps, session, Action.BREAKGLASS_REQUESTED, actor.identity_id, row.pairing_id,
           request=row.code, reason=reason, window_minutes=_window(deps) // timedelta(minutes=1))
    return Outcome(msg(
        texts.REQUESTED, code=row.code, tag=names.name_of(found),
        minutes=_window(deps) // timedelta(minutes=1), expires=_when(row.expires_at)))


def _load(deps: Services, session: Session, args: Sequence[str], usage: str,
          ) -> Request | Outcome:
    if len(args) != 1:
        return Outcome(msg(usage))
    code = args[0].strip().lower()
    row = None
    if len(code) == 10 and set(code) <= _HEX:
        row = rows.find_request(session, code)
    if row is None:
        return Outcome(msg(texts.UNKNOWN_REQUEST))
    if row.status == "pending" and deps.clock.now() >= row.expires_at:
        row = _expire(deps, session, row)
    if row.status != "pending":
        return Outcome(msg(texts.NOT_PENDING, code=row.code, status=texts.status_word(row.status)))
    return row


def _expire(deps: Services, session: Session, row: Request) -> Request:
    expired = rows.decide(session, row.code, "expired", approver_id=None,
                          now=deps.clock.now())
    _audit(deps, session, Action.BREAKGLASS_DENIED, None, row.pairing_id,
           request=row.code, outcome="expired")
    return expired


def expire_due(deps: Services, session: Session) -> int:
    """Expire every pending request past its window (for a periodic job); returns count."""
    due = rows.due_to_expire(session, deps.clock.now())
    for row in due:
        _expire(deps, session, row)
    return len(due)


def deny(deps: Services, session: Session, actor: Actor, args: Sequence[str]) -> Outcome:
    """``/deny <code>``: any admin (the requester too: withdrawing) closes a request."""
    if not actor.is_admin:
        return refuse(deps, session, actor.identity_id, "deny")
    row = _load(deps, session, args, texts.USAGE_DENY)
    if isinstance(row, Outcome):
        return row
    rows.decide(session, row.code, "denied", approver_id=actor.identity_id,
                now=deps.clock.now())
    _audit(deps, session, Action.BREAKGLASS_DENIED, actor.identity_id, row.pairing_id,
           request=row.code, outcome="denied")
    pairing = get_pairing(session, row.pairing_id.hex())
    name = names.shown(row.pairing_id.hex(), pairing.tag if pairing is not None else None)
    return Outcome(msg(texts.DENIED, code=row.code, tag=name))


def approve(deps: Services, session: Session, actor: Actor, args: Sequence[str]) -> Outcome:
    """``/approve <code>``: a second admin approves; the bundle is built and exported."""
    if not actor.is_admin:
        return refuse(deps, session, actor.identity_id, "approve")
    row = _load(deps, session, args, texts.USAGE_APPROVE)
    if isinstance(row, Outcome):
        return row
    approver = persons.ref(deps, persons.person_of(deps, session, actor.identity_id))
    why = _not_a_second_person(deps, session, row, actor, approver)
    if why is not None:
        _audit(deps, session, Action.ADMIN_REFUSED, actor.identity_id, row.pairing_id,
               command="approve", why=why, request=row.code)
        return Outcome(msg(_REFUSALS[why]))
    pairing = get_pairing(session, row.pairing_id.hex())
    if pairing is None:
        return Outcome(msg(texts.UNKNOWN_PAIRING))
    escrow_public = escrow_public_from_config(deps.settings.clinic.escrow_public_key)
    now = deps.clock.now()
    rows.decide(session, row.code, "approved", approver_id=actor.identity_id, now=now,
                approver_person=approver)
    reason = rows.reveal_reason(session, deps.keyring, row.code) or ""
    _audit(deps, session, Action.BREAKGLASS_APPROVED, actor.identity_id, row.pairing_id,
           request=row.code, requester_person=row.requester_person, approver_person=approver)
    found = collect(session, row.pairing_id, grace_days=pairing.grace_days, now=now)
    manifest = {
        "pairing": row.pairing_id.hex(), "reason": reason,
        "requested_at": row.requested_at.isoformat(), "approved_at": now.isoformat(),
        "epochs": sorted(found.epochs), "excluded_epochs": sorted(found.excluded_epochs),
        "epochs_without_deposit": sorted(found.without_deposit),
        "deposits": found.deposits, "messages": found.messages,
        # A v3 pairing's bundle is opened by the v3 opener, against an enrolled key.
        "protocol": 3 if found.records or is_v3(session, row.pairing_id.hex()) else 2,
        "pinned_records": found.records,
    }
    data = build_bundle(escrow_public, row.code, manifest, found.items, rng=deps.rng)
    digest = bundle_digest(data)
    rows.record_export(session, row.code, now=now, bundle_sha256=digest,
                       deposits=found.deposits, messages=found.messages)
    _audit(deps, session, Action.BREAKGLASS_EXPORTED, None, row.pairing_id,
           request=row.code, deposits=found.deposits, messages=found.messages,
           epochs=[format_epoch(e) for e in sorted(found.epochs)],
           excluded_epochs=[format_epoch(e) for e in sorted(found.excluded_epochs)],
           bundle_sha256=digest, recipient=deps.audit.pseudonym(
               "identity", row.requester_id))
    notice = msg(texts.NOTICE, when=_when(now), reason=reason, tag=names.name_of(pairing))
    members = [m for m in (pairing.physician_id, pairing.patient_id) if m]
    return Outcome(
        msg(texts.APPROVED, code=row.code, tag=names.name_of(pairing),
            deposits=found.deposits, messages=found.messages),
        notices=[(m, notice) for m in members],
        document=Document(data=data, filename=f"breakglass-{row.code}.mcbg"),
        document_to=row.requester_id)


_REFUSALS = {"own_request": texts.OWN_REQUEST, "same_person": texts.SAME_PERSON,
             "granted_by_requester": texts.APPOINTED_BY_REQUESTER}


def _not_a_second_person(deps: Services, session: Session, row: Request, actor: Actor,
                         approver: str) -> str | None:
    """Why ``actor`` may not approve ``row`` (an ``admin.refused`` reason), or None.

    The requester's person is taken twice: as recorded with the request, and as their
    identity resolves now - an identity joined to the requester's person since, or a
    configuration that now groups them, is the requester all the same.
    """
    if row.requester_id == actor.identity_id:
        return "own_request"
    requester = [persons.ref(deps, persons.person_of(deps, session, row.requester_id))]
    if row.requester_person is not None:
        requester.append(row.requester_person)
    if persons.any_same(requester, approver):
        return "same_person"
    appointed_by = persons.appointers(deps, session,
                                      persons.person_of(deps, session, actor.identity_id))
    if any([persons.any_same(requester, ref) for ref in appointed_by]):
        return "granted_by_requester"
    return None


def record_opened(deps: Services, session: Session, code: str, digest: str, *,
                  holders: int) -> Request:
    """Note that a quorum opened the exported bundle ``code`` (its SHA-256 must match)."""
    from medcrypt.crypto.errors import PolicyViolation

    row = rows.find_request(session, code)
    if row is None or row.status != "approved" or row.bundle_sha256 is None:
        raise PolicyViolation("no exported break-glass request matches this bundle")
    if not secrets.compare_digest(row.bundle_sha256, digest):
        raise PolicyViolation("this bundle is not the file the bot exported for its request")
    row = rows.record_opened(session, code, now=deps.clock.now())
    _audit(deps, session, Action.BREAKGLASS_OPENED, None, row.pairing_id, request=row.code,
           bundle_sha256=digest, share_holders=holders, messages=row.messages)
    return row


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
