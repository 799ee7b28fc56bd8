"""The audit-log repository: append, head, checkpoints, erase, verify and export.

One object, :class:`AuditLog`, and one verb every feature uses::

    audit.append(actor_ref, Action.RELAY_ACCEPTED, pairing_ref, {"direction": 0})

The class is assembled from one mixin per job, each in its own module:

* :mod:`storage.audit_core` - tables, value types, connections, the head row;
* :mod:`storage.audit_append` - the serialised append path and signed checkpoints
  (why appends cannot fork the chain is explained there);
* :mod:`storage.audit_read` - head, checkpoints and verification from one snapshot;
* :mod:`storage.audit_parallel` / :mod:`storage.audit_worker` - large logs verified in
  seq slices by worker processes, with the sequential verdict;
* :mod:`storage.audit_export` - decrypted export and crypto-shredding of a subject.

Every public name stays importable from here (``from medcrypt.storage.audit import AuditLog``).
"""

from __future__ import annotations

from medcrypt.storage.audit_core import (
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
from medcrypt.storage.audit_export import ExportMixin
from medcrypt.storage.audit_parallel import PARALLEL_MIN_ENTRIES, default_jobs
from medcrypt.storage.audit_read import ReadMixin, verify_sql


class AuditLog(ReadMixin, ExportMixin):
    """The audit log of one database. Thread-safe: state is in the database.

    ``keyring`` may be ``None`` for a verify-only auditor: checking the chain needs
    neither the server keys nor the signing key, only the checkpoint public key.
    """


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
