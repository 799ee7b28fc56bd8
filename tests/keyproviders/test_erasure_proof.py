"""The erasure proof of issue 17, per provider: take a backup, ``/delete_me``, close the
shred epoch, restore into a fresh database - then try every key the provider still
holds. The person's values do not open.

Two restores: the raw rows of the backup loaded as they are (what someone holding the
backup and the bot's credentials has), and the real restore, which re-applies the
erasure record (the DEK destruction included) before anything is served.

The blind index too (ADR 0039, Amendment 1): after the close, the erased phone number's
index is computed every way the code can - under every server-keyring version the host
holds, under every live index key of the live database, and through the code's own
lookup on the restored backup - and matches no row of the backup. Before the index keys
belonged to the shred epoch, the keyring's index matched the backup's row here for every
provider but ``env``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.lifecycle.erasure import erase_identity_everywhere
from medcrypt.bot.domain.lifecycle.restore import reapply
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.errors import DecryptionFailed, KeyVersionMissing
from medcrypt.crypto.server import blind_index as bi
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks, index_keys, kek_epochs
from medcrypt.storage.backup.engines import sqlite_dump, sqlite_load
from medcrypt.storage.backup.erasure_record import ErasureRecord
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.models.admins import ClinicAdmin
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek, Kek
from medcrypt.storage.repos.identities import find_identity, get_or_create_identity, set_label
from tests.support.databases import migrated
from tests.support.jobs import SIGNING_ENV
from tests.support.keyrigs import Rig
from tests.support.storage import KEYS_V1, KEYS_V2

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
PHONE = "+15557770001"
OTHER = "+15557770002"


def _ctx(url: str, keyring: Keyring, record: Path) -> Services:
    ctx = build_services(parse_settings({}), FixedClock(NOW), engine=make_engine(url),
                         keyring=keyring, environ=SIGNING_ENV)
    return dataclasses.replace(ctx, erasure_record=ErasureRecord(record, keyring))


def _rows(url: str, identity_id: str) -> dict[str, Any]:
    """What the backup holds about one person: sealed address, DEK row, KEK row."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            row = s.get(PlatformIdentity, identity_id)
            assert row is not None and row.address is not None
            dek = s.get(Dek, row.dek_id)
            assert dek is not None and dek.wrapped is not None
            kek = s.get(Kek, dek.kek_id)
            assert kek is not None
            return {"address": row.address.data, "bidx": row.address_bidx, "dek": dek.id,
                    "version": dek.version, "dek_wrapped": bytes(dek.wrapped),
                    "kek": kek.id, "kek_wrapped": bytes(kek.wrapped)}
    finally:
        engine.dispose()


def _no_index_links(backup: Session, live_url: str, keyring: Keyring, provider: Any,
                    rig: str) -> None:
    """Every blind index of the erased number the code can compute with what is left
    (the provider's keys, the server keyring, the live database) matches no row of the
    restored backup."""
    held = {bytes(b) for b in backup.scalars(select(PlatformIdentity.address_bidx)
                                             .where(PlatformIdentity.address_bidx.is_not(None)))}
    held |= {bytes(b) for b in backup.scalars(select(ClinicAdmin.address_bidx)
                                              .where(ClinicAdmin.address_bidx.is_not(None)))}
    assert len(held) == 2  # both people's indexes are in the backup
    # The server keyring the host holds: with a provider, every version (nothing
    # rotates it); with env, what is left once the operator removed version 1.
    rings = [keyring] if rig == "env" else [Keyring.from_env_value(KEYS_V1),
                                            Keyring.from_env_value(KEYS_V2)]
    computed: list[bytes] = []
    for ring in rings:
        for table in ("platform_identities", "clinic_admins"):
            computed += ring.blind_index_candidates(table, "address", PHONE)
    assert not held & set(computed), "the server keyring links the erased number"
    # The live database's index keys (the new epoch's), opened through the provider.
    tree = kt.KeyTree(provider, monotonic=time.monotonic)
    engine = make_engine(live_url)
    try:
        with session_factory(engine)() as live:
            live_keys = index_keys.live_keys(live, tree)
            assert len(live_keys) == 1
            for key in live_keys:
                computed += [key.index(t, "address", PHONE)
                             for t in ("platform_identities", "clinic_admins")]
            gone = live.scalars(select(Dek).where(Dek.purpose == bi.PURPOSE,
                                                  Dek.wrapped.is_(None))).all()
            assert len(gone) == 1  # the closed epoch's index key was destroyed
    finally:
        engine.dispose()
    # The code's own lookup on the backup: its index key sits under the old KEK.
    # (KeyVersionMissing: its KEK's root version is destroyed - env: removed)
    with contextlib.suppress(KeyVersionMissing):
        computed += index_keys.candidates(backup, keyring, "platform_identities",
                                          "address", PHONE)
    assert not held & set(computed), "the erased number still links to a backup row"


def test_a_backup_from_before_delete_me_opens_under_no_key_left(
        rig: Rig, tmp_path: Path) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'bot.db'}")
    record = tmp_path / "elsewhere-erasure-record"
    keyring = Keyring.from_env_value(KEYS_V1)
    if rig.name != "env":
        keyring.tree = kt.KeyTree(rig.bot, monotonic=time.monotonic)
    ctx = _ctx(url, keyring, record)
    ctx.warm()  # the audit pseudonym secret exists before any backup, as in the bot
    with ctx.sessions.begin() as s:
        me, _ = get_or_create_identity(s, keyring, "whatsapp", PHONE, now=NOW,
                                       role="patient")
        set_label(me, keyring, "Sam Rivera")
        other, _ = get_or_create_identity(s, keyring, "whatsapp", OTHER, now=NOW,
                                          role="patient")
        person, kept = me.id, other.id
    backup = tmp_path / "nightly.db"
    sqlite_dump(url, backup)
    held = _rows(str(f"sqlite:///{backup}"), person)

    erase_identity_everywhere(ctx, person, NOW)  # /delete_me
    ctx.engine.dispose()

    # Close the epoch with the operator's credentials (env: the new server key first).
    later = NOW + timedelta(days=30)
    if rig.name == "env":
        keyring = Keyring.from_env_value(KEYS_V2)
        tree = deks.tree_of(keyring)
        admin = None
    else:
        tree, admin = kt.KeyTree(rig.admin, monotonic=time.monotonic), rig.admin
    engine = make_engine(url)
    try:
        report = kek_epochs.close_epoch(session_factory(engine), tree, admin, now=later)
    finally:
        engine.dispose()
    assert report.opened and report.retired == 1

    # Every key the provider still holds.
    if rig.name == "env":
        # the operator removes server key 1 once `keys status` shows nothing on it
        assert report.removable_env_versions == [1]
        keyring = Keyring.from_env_value(KEYS_V2.split(",")[0])
        provider: Any = EnvProvider(keyring.master_keys(), None)
    else:
        assert report.destroyed_versions == [1]
        rig.refresh_bot()
        provider = rig.bot
        keyring = Keyring.from_env_value(KEYS_V1)
    with pytest.raises(KeyVersionMissing):
        provider.unwrap(held["kek_wrapped"], kt.kek_context(held["kek"]))
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            live_keks = [(k.id, bytes(k.wrapped)) for k in s.scalars(
                select(Kek).where(Kek.retired_at.is_(None)))]
    finally:
        engine.dispose()
    assert live_keks
    for kek_id, wrapped in live_keks:
        kek = provider.unwrap(wrapped, kt.kek_context(kek_id))
        for as_kek in (held["kek"], kek_id):
            with pytest.raises(DecryptionFailed):
                kt.unwrap_dek(kek, held["dek_wrapped"], purpose="identity",
                              person_id=person, dek_id=held["dek"],
                              version=held["version"], kek_id=as_kek)

    # Restore 1: the backup's raw rows in a fresh database, nothing re-applied.
    raw_url = f"sqlite:///{tmp_path / 'raw-restore.db'}"
    sqlite_load(raw_url, backup)
    if rig.name != "env":
        keyring.tree = kt.KeyTree(provider, monotonic=time.monotonic)
    engine = make_engine(raw_url)
    try:
        with session_factory(engine)() as s:
            row = s.get(PlatformIdentity, person)
            assert row is not None and row.address is not None  # the rows came back ...
            with pytest.raises(KeyVersionMissing):  # ... and open under no key left
                PlatformIdentity.ADDRESS.reveal(row, keyring, session=s)
            _no_index_links(s, url, keyring, provider, rig.name)
    finally:
        engine.dispose()

    # Restore 2: the real re-application, before anything is served.
    fresh_url = f"sqlite:///{tmp_path / 'restored.db'}"
    sqlite_load(fresh_url, backup)
    if rig.name == "env":
        # env restores only inside the window, while server key 1 is still configured
        # (its removal is what ends the window): the erasure record makes that safe.
        keyring = Keyring.from_env_value(KEYS_V2)
    restored = _ctx(fresh_url, keyring, record)
    facts = list(ErasureRecord(record, keyring).read())
    if rig.name != "env":
        # Past the window the restore refuses before serving anything: the audit log's
        # own pseudonym secret sits under a purpose DEK (ADR 0037, amendment 1) whose KEK
        # only the destroyed root version opened. "No backup older than the oldest kept
        # KEK version can be restored" (OPERATIONS) is enforced, not only advised.
        try:
            with pytest.raises(KeyVersionMissing):
                reapply(restored, facts, later)
        finally:
            restored.engine.dispose()
        return
    try:
        counts = reapply(restored, facts, later)
        assert counts["deks"] == 1
        with restored.sessions() as s:
            assert s.scalars(select(Dek.wrapped).where(Dek.id == held["dek"])).one() is None
            gone = s.get(PlatformIdentity, person)
            assert gone is not None and gone.deleted_at is not None and gone.address is None
            assert find_identity(s, keyring, "whatsapp", PHONE) is None
            still = s.get(PlatformIdentity, kept)
            assert still is not None
            # Inside the window the others' values still open.
            assert PlatformIdentity.ADDRESS.reveal(still, keyring, session=s) == OTHER
    finally:
        restored.engine.dispose()
