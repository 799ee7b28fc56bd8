"""The erasure record across a server-key rotation (docs/adr/0041).

Before: every line was MACed under the keyring version current when it was written, so
once the operator removed that version from ``MEDCRYPT_SERVER_KEYS`` (the end of a
rotation, or the ``env`` way to close a shred epoch) every later restore refused the
whole record. Now ``keys rewrap`` re-MACs the record under the new version - after
checking every line under its old one - so the restore verifies every line after the
rotation and the removal, and an edited or forged line still stops it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.cli import main
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.lifecycle.erasure import erase_identity_everywhere
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.backup.erasure_record import ErasureRecord
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.repos.identities import get_or_create_identity
from tests.support.databases import migrated
from tests.support.jobs import SIGNING_ENV, SIGNING_KEY
from tests.support.storage import KEY2, KEYS_V1, KEYS_V2, NOW

ONLY_V2 = f"2:{KEY2}"


@dataclasses.dataclass
class Bot:
    url: str
    config: Path
    record: Path
    monkeypatch: pytest.MonkeyPatch

    def keys(self, value: str) -> None:
        """What the operator sets ``MEDCRYPT_SERVER_KEYS`` to (and restarts with)."""
        self.monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", value)

    def cli(self, *argv: str) -> int:
        return main(["--config", str(self.config), *argv])

    def ctx(self, keys: str) -> Services:
        ctx = build_services(parse_settings({}), FixedClock(NOW), engine=make_engine(self.url),
                             keyring=Keyring.from_env_value(keys), environ=SIGNING_ENV)
        return dataclasses.replace(ctx, erasure_record=ErasureRecord(self.record,
                                                                     ctx.keyring))


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bot:
    url = migrated(f"sqlite:///{tmp_path / 'bot.db'}")
    record = tmp_path / "elsewhere" / "erasures"
    record.parent.mkdir()
    monkeypatch.setenv("MEDCRYPT_DATABASE_URL", url)
    monkeypatch.setenv("MEDCRYPT_AUDIT_SIGNING_KEY", SIGNING_KEY)
    monkeypatch.delenv("MEDCRYPT_CONFIG", raising=False)
    config = tmp_path / "bot.toml"
    config.write_text(f'[backup]\nerasure_record_path = "{record}"\n')
    made = Bot(url, config, record, monkeypatch)
    made.keys(KEYS_V1)
    return made


def _person(ctx: Services, phone: str) -> str:
    ctx.warm()
    with ctx.sessions.begin() as s:
        row, _ = get_or_create_identity(s, ctx.keyring, "whatsapp", phone, now=NOW,
                                        role="patient")
        return row.id


def _erased(url: str, person: str) -> bool:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return s.scalars(select(PlatformIdentity.deleted_at)
                             .where(PlatformIdentity.id == person)).one() is not None
    finally:
        engine.dispose()


def _mac_versions(record: Path) -> set[int]:
    """The server-key version each line's MAC names (its first two bytes)."""
    return {int(line.split("\t")[1][:4], 16) for line in record.read_text().splitlines()}


def _rotated_with_lines_on_both_versions(bot: Bot, tmp_path: Path) -> tuple[Path, str]:
    """Lines under v1, a rotation to v2 (``keys rewrap``), a backup, a line under v2,
    then v1 removed. Returns the backup and the person erased after it."""
    ctx = bot.ctx(KEYS_V1)
    early, late = _person(ctx, "+15550001001"), _person(ctx, "+15550001002")
    erase_identity_everywhere(ctx, early, NOW, notify=False)  # lines MACed under v1
    ctx.engine.dispose()
    assert _mac_versions(bot.record) == {1}

    bot.keys(KEYS_V2)  # prepend v2, restart ...
    assert bot.cli("keys", "rewrap") == 0  # ... re-seal rows and re-MAC the record
    backup = tmp_path / "after-rotation.mcbackup"
    assert bot.cli("backup", "create", str(backup)) == 0

    ctx = bot.ctx(KEYS_V2)
    erase_identity_everywhere(ctx, late, NOW, notify=False)  # lines MACed under v2
    ctx.engine.dispose()
    bot.keys(ONLY_V2)  # the operator removes v1
    return backup, late


def test_a_restore_verifies_every_line_after_rotation_and_removal(
        bot: Bot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backup, late = _rotated_with_lines_on_both_versions(bot, tmp_path)
    capsys.readouterr()
    assert bot.cli("backup", "restore", str(backup), "--yes") == 0, capsys.readouterr().err
    # The backup held `late` alive; the erasure after it was re-applied from the record.
    assert "1 persons erased" in capsys.readouterr().out
    assert _erased(bot.url, late)
    assert _mac_versions(bot.record) == {2}
    facts = list(ErasureRecord(bot.record, Keyring.from_env_value(ONLY_V2)).read())
    assert {f.kind for f in facts} >= {"erased", "dek"}
    assert bot.cli("keys", "status") == 0  # nothing left that needs v1


def test_a_line_edited_after_the_rotation_stops_the_restore(
        bot: Bot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backup, _late = _rotated_with_lines_on_both_versions(bot, tmp_path)
    lines = bot.record.read_text().splitlines(keepends=True)
    body, mac = lines[0].split("\t")
    lines[0] = body.replace('"at_us":1', '"at_us":2', 1) + "\t" + mac
    assert lines[0] != body + "\t" + mac
    bot.record.write_text("".join(lines))
    before = Path(bot.url.removeprefix("sqlite:///")).read_bytes()
    capsys.readouterr()

    assert bot.cli("backup", "restore", str(backup), "--yes") != 0
    said = capsys.readouterr().err
    assert "erasure record line 1: MAC does not verify" in said
    assert Path(bot.url.removeprefix("sqlite:///")).read_bytes() == before


def test_a_forged_line_is_not_laundered_by_the_rotation(
        bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = bot.ctx(KEYS_V1)
    erase_identity_everywhere(ctx, _person(ctx, "+15550001003"), NOW, notify=False)
    ctx.engine.dispose()
    text = bot.record.read_text()
    body, mac = text.splitlines()[0].split("\t")
    forged = body.replace('"at_us":1', '"at_us":2', 1)
    assert forged != body
    bot.record.write_text(text + forged + "\t" + mac + "\n")  # a real MAC, another body
    before = bot.record.read_bytes()
    bot.keys(KEYS_V2)
    capsys.readouterr()

    assert bot.cli("keys", "rewrap") != 0
    assert "MAC does not verify; the record was edited or damaged - rekey refused" in \
        capsys.readouterr().err
    assert bot.record.read_bytes() == before  # nothing re-MACed, nothing lost


def test_status_refuses_while_a_line_needs_a_removed_version(
        bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = bot.ctx(KEYS_V1)
    erase_identity_everywhere(ctx, _person(ctx, "+15550001004"), NOW, notify=False)
    ctx.engine.dispose()
    bot.keys(KEYS_V2)
    assert bot.cli("keys", "status") == 0
    assert "run `keys rewrap` before removing it" in capsys.readouterr().out
    bot.keys(ONLY_V2)  # removed without the rewrap
    assert bot.cli("keys", "status") != 0
    assert "under version 1 not configured" in capsys.readouterr().err



_APPENDER = """
import sys
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.backup.erasure_record import ErasureFact, ErasureRecord, dek_ref
record = ErasureRecord(sys.argv[1], Keyring.from_env_value(sys.argv[2]))
print("ready", flush=True)
for i in range(int(sys.argv[3])):
    record.append([ErasureFact(i, "dek", dek_ref(f"{i:032x}"))])
"""


def test_appends_during_a_rekey_are_not_lost(tmp_path: Path) -> None:
    """A bot still on v1 appends while ``keys rewrap`` re-MACs under v2 again and again:
    an append that opened the file just before a rename must land in the new file."""
    import os
    import subprocess
    import sys

    from medcrypt.storage.backup.erasure_record import ErasureFact, dek_ref

    path = tmp_path / "erasures"
    ErasureRecord(path, Keyring.from_env_value(KEYS_V1)).append(
        [ErasureFact(7, "dek", dek_ref(f"{10**6 + i:032x}")) for i in range(50)])
    root = Path(__file__).resolve().parents[3]
    count = 150
    appender = subprocess.Popen(
        [sys.executable, "-c", _APPENDER, str(path), KEYS_V1, str(count)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)})
    assert appender.stdout is not None and appender.stdout.readline() == "ready\n"
    rekeying = ErasureRecord(path, Keyring.from_env_value(KEYS_V2))
    rekeys = 0
    while appender.poll() is None:
        rekeying.rekey()
        rekeys += 1
    assert appender.wait() == 0 and rekeys > 1
    rekeying.rekey()  # the lines the v1 bot appended after the last pass

    facts = list(ErasureRecord(path, Keyring.from_env_value(ONLY_V2)).read())
    got = sorted(f.ref for f in facts)
    want = sorted([dek_ref(f"{i:032x}") for i in range(count)]
                  + [dek_ref(f"{10**6 + i:032x}") for i in range(50)])
    assert got == want
