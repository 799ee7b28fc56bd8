"""The audit log: one class, :class:`AuditLog`, and one verb every feature uses::

    audit.append(actor_ref, Action.RELAY_ACCEPTED, pairing_ref, {"direction": 0})

* :mod:`.log` - the :class:`AuditLog` class: append (serialised, why the chain cannot
  fork is explained there), checkpoints, pseudonyms, head, verify, export, erasure;
* :mod:`.chain` - one append transaction's walk along the chain, with the checkpoints
  the coverage promises owe (ADR 0014);
* :mod:`.records` - tables, value types, time conversion and error mapping;
* :mod:`.queries` - the SQL of the fast paths (batch insert, verify stream);
* :mod:`.parallel` / :mod:`.worker` - large logs verified in seq slices by worker
  processes (``python -m medcrypt.storage.audit.worker``), with the sequential verdict.

The public names are importable from here; they load on first use (PEP 562), so the
verify worker, which starts as a submodule of this package, imports neither SQLAlchemy
nor the log.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medcrypt.storage.audit.log import AuditLog
    from medcrypt.storage.audit.parallel import PARALLEL_MIN_ENTRIES, default_jobs
    from medcrypt.storage.audit.queries import verify_sql
    from medcrypt.storage.audit.records import (
        CHECKPOINTS,
        ENTRIES,
        HEAD,
        SECRETS,
        SUBJECT_KEYS,
        Appended,
        AuditEvent,
        ExportedEntry,
        Head,
        from_us,
        to_us,
    )

_WHERE = {
    "AuditLog": "log",
    "PARALLEL_MIN_ENTRIES": "parallel", "default_jobs": "parallel",
    "verify_sql": "queries",
    **dict.fromkeys(("CHECKPOINTS", "ENTRIES", "HEAD", "SECRETS", "SUBJECT_KEYS", "Appended",
                     "AuditEvent", "ExportedEntry", "Head", "from_us", "to_us"), "records"),
}

__all__ = [
    "CHECKPOINTS",
    "ENTRIES",
    "HEAD",
    "PARALLEL_MIN_ENTRIES",
    "SECRETS",
    "SUBJECT_KEYS",
    "Appended",
    "AuditEvent",
    "AuditLog",
    "ExportedEntry",
    "Head",
    "default_jobs",
    "from_us",
    "to_us",
    "verify_sql",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
