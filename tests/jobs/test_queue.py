"""Set-based notice queueing writes the very notices the row-by-row path writes.

``queue_member_notices`` builds each dedupe key in SQL; if its format drifted from
:func:`bot.domain.lifecycle.notices.dedupe_key`, a notice queued by one path would be queued again
by the other. Both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from medcrypt.bot.domain.lifecycle import notices
from medcrypt.bot.domain.lifecycle.queue import Notice, queue_member_notices, queue_notices
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.storage.models.outbox import OutboxMessage
from tests.support.jobs import add_pairing, context

NOW = datetime(2026, 12, 1, tzinfo=UTC)
E = epoch_of(NOW)


def test_set_based_notices_match_the_row_by_row_ones(migrated_database_url: str) -> None:
    with context(migrated_database_url, FixedClock(NOW)) as ctx:
        pairs = [add_pairing(ctx, start_epoch=E - 1, at=NOW) for _ in range(3)]
        text = notices.rotated(E, NOW)["en"]
        first = pairs[0]
        with ctx.sessions.begin() as s:  # one member already told by the row-by-row path
            assert queue_notices(s, [Notice(first.patient_id, first.pairing_id, text,
                                            notices.dedupe_key("rotated", first.pairing_id,
                                                               E, first.patient_id))], NOW) == 1
        with ctx.sessions.begin() as s:
            ids = [p.pairing_id for p in pairs]
            assert queue_member_notices(s, "rotated", E, ids, text=text, now=NOW) == 5
            assert queue_member_notices(s, "rotated", E, ids, text=text, now=NOW) == 0
        with ctx.sessions() as s:
            rows = s.execute(select(OutboxMessage.dest_identity_id, OutboxMessage.pairing_id,
                                    OutboxMessage.dedupe_key, OutboxMessage.payload,
                                    OutboxMessage.status, OutboxMessage.payload_kind,
                                    OutboxMessage.next_attempt_at)).all()
        expected = {notices.dedupe_key("rotated", p.pairing_id, E, m)
                    for p in pairs for m in (p.physician_id, p.patient_id)}
        assert {r.dedupe_key for r in rows} == expected and len(rows) == 6
        for r in rows:
            assert r.dedupe_key.endswith(f":{E}:{r.dest_identity_id}")
            assert bytes(r.payload).decode() == text
            assert (r.status, r.payload_kind, r.next_attempt_at) == ("pending", "notice", NOW)
