"""Fourteen months with a fixed clock: the bot's jobs and two real companions agree.

Each month: the rotation runs on the 1st; the patient's companion (the real ``medcrypt``
CLI with ``MEDCRYPT_NOW``) writes a token mid-month, which the bot stores as the relay
would; on the 3rd the previous month's token is still accepted by the bot and opened by
the physician's companion; on the 7th both members are warned; on the 8th at 00:00 the
sweep shreds it, the bot refuses it and the companion refuses it naming the month and
the date. At the end a raw scan of the SQLite file and its WAL finds none of the
shredded tokens or escrow deposits, and the physician's decrypted keystore holds none
of the shredded epochs' keys.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medcrypt.bot.domain.lifecycle.policy import epoch_status
from medcrypt.bot.domain.lifecycle.rotation import rotate
from medcrypt.bot.domain.lifecycle.shred import sweep
from medcrypt.companion.keystore import Keystore
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of, epoch_start, format_epoch
from medcrypt.crypto.keyless.wire import parse_token
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.repos.identities import get_or_create_identity
from tests.support.companion import PASSPHRASE, Cli, key_like_strings
from tests.support.jobs import KEYS, add_escrow, context, notices_for

START = datetime(2026, 11, 23, 10, tzinfo=UTC)
MONTHS = 14


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Cli:
    return Cli(capsys, monkeypatch, tmp_path)


def _iso(at: datetime) -> str:
    return at.isoformat()


def _keystore(home: Path) -> dict[str, Any]:
    store = Keystore.unlock(home, PASSPHRASE)
    try:
        return json.loads(json.dumps(store.state))  # type: ignore[no-any-return]
    finally:
        store.close()


def _raw_db(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.slow
def test_fourteen_months_of_rotation_grace_and_shredding(database_url: str, cli: Cli) -> None:
    doc, pat = cli.tmp / "doc", cli.tmp / "pat"
    now = _iso(START)
    cli.ok(doc, "init", "--role", "physician", now=now)
    cli.ok(pat, "init", "--role", "patient", now=now)
    offer = cli.ok(doc, "pair", "offer", "--protocol", "2", "--no-terminal", "--json",
                   now=now).json()
    accepted = cli.ok(pat, "pair", "accept", "--offer", str(offer["offer_text"]), "--json",
                      now=now).json()
    cli.ok(doc, "pair", "complete", str(accepted["accept_token"]), now=now)
    pid = str(offer["pairing_id"])
    registration = parse_token(str(offer["registration_token"]))
    assert registration.register is not None and registration.header.epoch == epoch_of(START)

    clock = FixedClock(START)
    with context(database_url, clock) as ctx:
        keyring = Keyring.from_env_value(KEYS)
        with ctx.sessions.begin() as s:  # what the relay records from PAIR_REGISTER/ACCEPT
            d, _ = get_or_create_identity(s, keyring, "telegram", 4242, now=START,
                                          role="physician")
            p, _ = get_or_create_identity(s, keyring, "whatsapp", "+15555550142", now=START,
                                          role="patient")
            s.add(Pairing(pairing_id=pid, physician_id=d.id, patient_id=p.id, status="active",
                          start_epoch=registration.header.epoch,
                          grace_days=registration.register.grace_days,
                          offer_expires_at=START + timedelta(days=1), created_at=START,
                          completed_at=START))
            s.flush()
            s.add(Epoch(pairing_id=pid, epoch=epoch_of(START), state="active",
                        started_at=START))
            doc_id, pat_id = d.id, p.id

        shredded_blobs: list[bytes] = []
        shredded_keys: set[str] = set()
        previous: tuple[int, str, str, bytes, bytes] | None = None
        for month in range(MONTHS):
            first = epoch_start(epoch_of(START) + month) if month else START
            e = epoch_of(first)
            if month:
                clock.set(first)
                r = rotate(ctx, first)
                assert (r.epochs_created, r.notices_queued) == (1, 2), format_epoch(e)
                with ctx.sessions() as s:
                    assert epoch_status(s, pid, e, first) == "active"
                    assert epoch_status(s, pid, e + 1, first) == "future"
            # Mid-month the patient writes; the bot accepts and stores the token.
            mid = first.replace(day=15, hour=12)
            token, late, too_late = (
                cli.ok(pat, "encrypt", stdin=f"month {month} {what}", now=_iso(mid)).out
                for what in ("checkup", "late", "too late"))
            raw = parse_token(token.strip()).raw
            deposit = add_escrow(ctx, pid, e, mid)
            with ctx.sessions.begin() as s:
                assert epoch_status(s, pid, e, mid) == "active"
                s.add(StoredToken(pairing_id=pid, epoch=e, direction=0, msg_index=month,
                                  kind=1, raw=raw, received_at=mid))
            if previous is not None:
                pe, plate, ptoo_late, praw, pdeposit = previous
                day3 = first.replace(day=3)
                with ctx.sessions() as s:
                    assert epoch_status(s, pid, pe, day3) == "retired"
                before = _keystore(doc)["pairings"][pid]["session"]
                shredded_keys |= key_like_strings(before["epochs"][str(pe)])
                assert cli.ok(doc, "decrypt", stdin=plate, now=_iso(day3)).out \
                    == f"month {month - 1} late"
                day7 = first.replace(day=7)
                assert sweep(ctx, day7).warnings_queued == 2
                day8 = first.replace(day=8)
                with ctx.sessions() as s:
                    assert epoch_status(s, pid, pe, day8 - timedelta(seconds=1)) == "retired"
                result = sweep(ctx, day8)
                assert result.epochs_shredded == 1 and result.counts["tokens"] == 1
                with ctx.sessions() as s:
                    assert epoch_status(s, pid, pe, day8) == "shredded"
                refused = cli(doc, "decrypt", stdin=ptoo_late, now=_iso(day8))
                assert refused.code == 4
                assert format_epoch(pe) in refused.err and day8.date().isoformat() in refused.err
                shredded_blobs.extend([praw, pdeposit])
            # The current month's token: the physician can read it now.
            assert cli.ok(doc, "decrypt", stdin=token, now=_iso(mid)).out \
                == f"month {month} checkup"
            previous = (e, late, too_late, raw, deposit)

        with ctx.sessions() as s:
            states = s.execute(select(Epoch.epoch, Epoch.state).where(Epoch.pairing_id == pid)
                               .order_by(Epoch.epoch)).all()
            assert [st for _e, st in states] == ["shredded"] * (MONTHS - 1) + ["active"]
            assert [e for e, _st in states] == list(range(epoch_of(START),
                                                          epoch_of(START) + MONTHS))
            texts = notices_for(s, pat_id)
            assert len(texts) == 3 * (MONTHS - 1)  # rotated, warned, shredded - once each
            assert notices_for(s, doc_id) and s.get(PlatformIdentity, pat_id) is not None
        assert len(shredded_blobs) == 2 * (MONTHS - 1)
        if database_url.startswith("sqlite"):
            raw_db = _raw_db(database_url)
            for blob in shredded_blobs:
                assert blob[-48:] not in raw_db
            assert previous is not None and previous[3][-48:] in raw_db  # still stored
        state = json.dumps(_keystore(doc))
        assert shredded_keys, "the test must have seen epoch keys to look for"
        on_disk = b"".join(f.read_bytes() for f in sorted(doc.rglob("*")) if f.is_file())
        assert on_disk
        for secret in shredded_keys:
            assert secret not in state  # decrypted keystore document
            assert base64.b64decode(secret) not in on_disk and secret.encode() not in on_disk
