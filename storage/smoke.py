"""A self-contained storage smoke run: what ``medcrypt-bot doctor --smoke`` executes.

On a throw-away SQLite database with an ephemeral keyring it migrates to head, stores
an identity, finds it again by blind index, and scans the raw bytes of the database
file and its WAL for the clear phone number and label. It proves, on the machine at
hand, that the SQLite build, the migrations and the encrypted columns work together.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from medcrypt.crypto.server.keyring import Keyring, generate_key
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory, sqlite_checkpoint_truncate
from medcrypt.storage.repos.identities import (
    find_identity,
    get_or_create_identity,
    reveal_address,
    reveal_label,
    set_label,
)

#: A number from the range reserved for fiction (NANP 555-01xx), never a real person.
SMOKE_PHONE = "+15555550123"
SMOKE_LABEL = "smoke-label-7f3a"


@dataclass
class SmokeResult:
    steps: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(ok for _name, ok, _detail in self.steps)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.steps.append((name, ok, detail))


def raw_database_bytes(db_path: Path) -> bytes:
    """The main file, WAL and shared-memory index concatenated (whatever exists)."""
    chunks = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(f"{db_path}{suffix}")
        if p.exists():
            chunks.append(p.read_bytes())
    return b"".join(chunks)


def clear_forms(phone: str) -> list[bytes]:
    """Byte patterns that would betray a phone number stored in clear."""
    digits = phone.lstrip("+")
    return [phone.encode(), digits.encode(), digits.encode("utf-16-le")]


def run_smoke(
    workdir: Path | None = None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> SmokeResult:
    result = SmokeResult()
    with tempfile.TemporaryDirectory(prefix="medcrypt-smoke-", dir=workdir) as tmp:
        db_path = Path(tmp) / "smoke.db"
        url = f"sqlite:///{db_path}"
        migrate.upgrade(url)
        result.add("migrate", migrate.current(url) == migrate.head(), f"at {migrate.current(url)}")
        differences = migrate.diff(url)
        result.add("models match migrations", not differences,
                   f"{len(differences)} difference(s)" if differences else "")
        keyring = Keyring.from_env_value(f"1:{generate_key()}")
        engine = make_engine(url)
        try:
            sessions = session_factory(engine)
            with sessions.begin() as session:
                identity, _ = get_or_create_identity(
                    session, keyring, "whatsapp", f"whatsapp:{SMOKE_PHONE}", now=now()
                )
                set_label(identity, keyring, SMOKE_LABEL)
            with sessions() as session:
                found = find_identity(session, keyring, "whatsapp", SMOKE_PHONE)
                ok = (
                    found is not None
                    and reveal_address(found, keyring) == SMOKE_PHONE
                    and reveal_label(found, keyring) == SMOKE_LABEL
                )
                result.add("read back by blind index", ok)
            patterns = [*clear_forms(SMOKE_PHONE), SMOKE_LABEL.encode()]
            before = raw_database_bytes(db_path)
            result.add("no clear value in db+WAL", not any(p in before for p in patterns),
                       f"{len(before)} bytes scanned")
            sqlite_checkpoint_truncate(engine)
            after = raw_database_bytes(db_path)
            result.add("no clear value after checkpoint", not any(p in after for p in patterns),
                       f"{len(after)} bytes scanned")
        finally:
            engine.dispose()
            keyring.wipe()
    return result
