"""Break-glass requests (``breakglass_requests``): the rows of the two-admin state machine.

The state machine itself is the bot's (``bot.domain.breakglass.requests``); here are its
reads, as :class:`Request` snapshots, and its writes, one function per transition. The
admin's reason is sealed under the key tree's ``breakglass`` purpose DEK (AAD per
PROTOCOL §38: the DEK, table, column, row id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.models.breakglass import BreakGlassRequest


@dataclass(frozen=True, slots=True)
class Request:
    code: str
    pairing_id: bytes
    requester_id: str
    approver_id: str | None
    #: Audit pseudonyms of the requester's and the approver's persons when they acted.
    requester_person: str | None
    approver_person: str | None
    status: str
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    exported_at: datetime | None
    opened_at: datetime | None
    bundle_sha256: str | None
    deposits: int | None
    messages: int | None


def _request(row: BreakGlassRequest) -> Request:
    return Request(row.code, row.pairing_id, row.requester_id, row.approver_id,
                   row.requester_person, row.approver_person, row.status,
                   row.requested_at, row.expires_at, row.decided_at, row.exported_at,
                   row.opened_at, row.bundle_sha256, row.deposits, row.messages)


def _row(session: Session, code: str) -> BreakGlassRequest:
    row = session.scalar(select(BreakGlassRequest).where(BreakGlassRequest.code == code))
    if row is None:
        raise StorageError("no break-glass request has this code")
    return row


def create_request(
    session: Session, keyring: Keyring, *, code: str, pairing_id: bytes, requester_id: str,
    requester_person: str, reason: str, now: datetime, expires_at: datetime,
) -> Request:
    """A ``pending`` request with its reason sealed."""
    row = BreakGlassRequest(code=code, pairing_id=pairing_id, requester_id=requester_id,
                            requester_person=requester_person, status="pending",
                            requested_at=now, expires_at=expires_at)
    # Under the breakglass purpose DEK, read (or made) in this transaction.
    BreakGlassRequest.REASON.store(row, keyring, reason, session=session, now=now)
    session.add(row)
    session.flush()
    return _request(row)


def find_request(session: Session, code: str) -> Request | None:
    row = session.scalar(select(BreakGlassRequest).where(BreakGlassRequest.code == code))
    return None if row is None else _request(row)


def due_to_expire(session: Session, now: datetime) -> list[Request]:
    """Pending requests whose approval window has passed."""
    return [_request(r) for r in session.scalars(select(BreakGlassRequest).where(
        BreakGlassRequest.status == "pending", BreakGlassRequest.expires_at <= now))]


def decide(session: Session, code: str, status: str, *, approver_id: str | None,
           now: datetime, approver_person: str | None = None) -> Request:
    """Close a pending request as ``approved``, ``denied`` or ``expired`` (no approver)."""
    if status not in ("approved", "denied", "expired"):
        raise StorageError(f"not a break-glass decision: {status!r}")
    row = _row(session, code)
    row.status = status
    if approver_id is not None:
        row.approver_id = approver_id
        row.approver_person = approver_person
    row.decided_at = now
    return _request(row)


def reveal_reason(session: Session, keyring: Keyring, code: str) -> str | None:
    return BreakGlassRequest.REASON.reveal(_row(session, code), keyring)


def record_export(session: Session, code: str, *, now: datetime, bundle_sha256: str,
                  deposits: int, messages: int) -> Request:
    row = _row(session, code)
    row.exported_at, row.bundle_sha256 = now, bundle_sha256
    row.deposits, row.messages = deposits, messages
    return _request(row)


def record_opened(session: Session, code: str, *, now: datetime) -> Request:
    row = _row(session, code)
    row.opened_at = now
    return _request(row)


def status_counts(session: Session) -> dict[str, int]:
    """Requests per status (``/metrics``): counts only, no codes or pairings."""
    return {str(k): int(v) for k, v in session.execute(
        select(BreakGlassRequest.status, func.count()).group_by(BreakGlassRequest.status))}
