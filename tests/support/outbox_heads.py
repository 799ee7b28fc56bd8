"""The outbox heads invariant, computed independently of storage.repos.outbox_heads.

Every recipient with a blocking row (pending, sending or held; templates aside) has
exactly one head row, naming its lowest such row, due at that row's next_attempt_at
while it is pending and not due otherwise; no other recipient has a head. Read from
plain SELECTs of both tables and compared in Python, so a bug in the repository's SQL
cannot hide in the check.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcrypt.storage.models.outbox import OutboxHead, OutboxMessage

_BLOCKING = ("pending", "sending", "held")


def expected_heads(session: Session) -> dict[str, tuple[int, datetime | None]]:
    expected: dict[str, tuple[int, datetime | None]] = {}
    for row in session.execute(
            select(OutboxMessage.id, OutboxMessage.dest_identity_id, OutboxMessage.status,
                   OutboxMessage.payload_kind, OutboxMessage.next_attempt_at)
            .order_by(OutboxMessage.id)):
        if row.status in _BLOCKING and row.payload_kind != "template" \
                and row.dest_identity_id not in expected:
            expected[row.dest_identity_id] = (
                row.id, row.next_attempt_at if row.status == "pending" else None)
    return expected


def head_violations(session: Session) -> list[str]:
    """What is wrong with the heads table (empty when the invariant holds)."""
    expected = expected_heads(session)
    actual = {h.dest_identity_id: (h.head_id, h.due_at)
              for h in session.scalars(select(OutboxHead))}
    problems = [f"missing head for a recipient (row {want[0]})"
                for dest, want in expected.items() if dest not in actual]
    problems += [f"head {got} where nothing waits" for dest, got in actual.items()
                 if dest not in expected]
    problems += [f"head {actual[dest]} should be {want}" for dest, want in expected.items()
                 if dest in actual and actual[dest] != want]
    return problems
