"""No PHI in any entry's clear fields: the markers used as ids and details never appear.

The markers go in through every door a careless caller has: raw ids for pseudonyms
(a phone number, a name) and detail values (a diagnosis). Then every clear column of
every audit table is scanned, as text and as bytes; on SQLite the whole database file
and its WAL are scanned too, which also proves the details are really encrypted.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from medcrypt.crypto.server.audit import SYSTEM_BOT, Action
from medcrypt.storage.audit import CHECKPOINTS, ENTRIES, HEAD, SECRETS, SUBJECT_KEYS, AuditLog
from tests.support.audit import fill

PHONE = "+15557654321"
NAME = "Zelda Quuxington"
DIAGNOSIS = "hypertensive-crisis-marker"
MARKERS = [PHONE, PHONE.lstrip("+"), "5557654321", NAME, "Zelda", "Quuxington", DIAGNOSIS,
           "hypertensive"]


def _needles() -> list[bytes]:
    out = []
    for m in MARKERS:
        out += [m.encode("utf-8"), m.encode("utf-16-le"), m.lower().encode()]
    return out


def test_no_marker_in_any_clear_field(audit_log: AuditLog, audit_engine: Engine,
                                      database_url: str) -> None:
    patient = audit_log.pseudonym("patient", PHONE)
    physician = audit_log.pseudonym("physician", NAME)
    fill(audit_log, 300)
    for action in (Action.RELAY_REFUSED, Action.BREAKGLASS_REQUESTED, Action.PAIRING_UNPAIRED):
        audit_log.append(physician, action, patient,
                         {"reason": DIAGNOSIS, "note": f"{NAME} {PHONE}", "labels": [DIAGNOSIS]})
    audit_log.append(SYSTEM_BOT, Action.ADMIN_COMMAND, patient, {"command": DIAGNOSIS})
    audit_log.checkpoint_now()
    # The details really hold the markers (else the scan proves nothing).
    exported = [e for e in audit_log.export(subject=patient)]
    assert any(e.details and e.details.get("reason") == DIAGNOSIS for e in exported)

    clear = {
        ENTRIES: [c for c in ENTRIES.c if c.name != "details"],
        CHECKPOINTS: list(CHECKPOINTS.c), HEAD: list(HEAD.c),
        SUBJECT_KEYS: [SUBJECT_KEYS.c.subject_ref, SUBJECT_KEYS.c.created_us],
        SECRETS: [SECRETS.c.name, SECRETS.c.created_us],
    }
    needles = _needles()
    scanned = 0
    with audit_engine.connect() as conn:
        for table, columns in clear.items():
            for row in conn.execute(select(*columns)):
                for value in row:
                    blob = value if isinstance(value, bytes) else str(value).encode()
                    assert not any(n in blob for n in needles), (table.name, value)
                    scanned += 1
        for (details,) in conn.execute(select(ENTRIES.c.details)):
            assert not any(n in details for n in needles)
    assert scanned > 2000  # ~300 entries x 7 clear columns, plus checkpoints and keys
    if database_url.startswith("sqlite"):
        db = Path(database_url.removeprefix("sqlite:///"))
        for path in (db, db.with_name(db.name + "-wal")):
            if path.exists():
                data = path.read_bytes()
                assert not any(n in data for n in needles), path.name
