"""Audit-log tables: the hash chain, its signed checkpoints, per-subject keys, the head.

Why these shapes (docs/adr/0004-audit-log.md):

* ``audit_entries.seq`` is the primary key - uniqueness is the last line of defence
  against a forked chain - and on SQLite it is the rowid, so a verify scan walks the
  table in key order without an index lookup.
* Times are integer microseconds since the Unix epoch (UTC): they are hashed as such,
  and decoding a million datetime strings would dominate the verify time.
* ``audit_checkpoints`` has no foreign key to the entries on purpose: it is evidence
  *about* the entries and must survive (and expose) their deletion.
* ``audit_subject_keys`` holds one random key per subject, sealed under the key tree's
  ``audit-subject`` purpose DEK (registered, so ``keys rewrap`` converts a value still
  under the keyring). Deleting the row shreds every detail ever written about that
  subject while the chain still verifies.
* ``audit_head`` is a single row (id 1) that appenders lock to serialise the chain
  and that caches the head and the last checkpoint, so an append reads one row.
* ``audit_secrets`` keeps the pseudonym key, sealed (``audit-secret`` purpose DEK): a key
  derived from a versioned server key would change every person's reference at each
  key rotation.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base
from medcrypt.storage.encrypted import EncryptedField, Sealed, SealedBytes, register

#: Longest actor/subject reference (``kind:`` + 24 hex, or ``system:<name>``).
REF_CHARS = 48
ACTION_CHARS = 40
#: BIGINT on PostgreSQL, the rowid alias on SQLite.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq_positive"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    ts_us: Mapped[int] = mapped_column(BigInteger)
    actor_ref: Mapped[str] = mapped_column(String(REF_CHARS))
    subject_ref: Mapped[str] = mapped_column(String(REF_CHARS), index=True)
    action: Mapped[str] = mapped_column(String(ACTION_CHARS))
    #: XChaCha20-Poly1305 ciphertext under the subject's key (crypto.audit.seal_details).
    details: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    #: Whole seconds, in microseconds, so the witness line carries the exact value.
    ts_us: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_id: Mapped[bytes] = mapped_column(LargeBinary(8))
    prev_sig: Mapped[bytes] = mapped_column(LargeBinary(64))
    sig: Mapped[bytes] = mapped_column(LargeBinary(64))


class AuditSubjectKey(Base):
    __tablename__ = "audit_subject_keys"

    subject_ref: Mapped[str] = mapped_column(String(REF_CHARS), primary_key=True)
    #: base64 of the 32-byte subject key, sealed with aad (table, column, subject_ref).
    wrapped: Mapped[Sealed] = mapped_column(SealedBytes)
    created_us: Mapped[int] = mapped_column(BigInteger)
    #: The DEK (key tree, docs/adr/0037 Amendment 1) ``wrapped`` is sealed under; NULL
    #: while it is still a v1 keyring value. Every seal and open reads that ``deks`` row
    #: in its transaction. (Deferred: code at an older schema revision still loads rows.)
    dek_id: Mapped[str | None] = mapped_column(ForeignKey("deks.id"), index=True,
                                               deferred=True)
    dek_version: Mapped[int | None] = mapped_column(Integer, index=True, deferred=True)

    #: Under the ``audit-subject`` purpose DEK: the subject key *is* the per-subject key
    #: (deleting its row erases the subject), so it sits beside the DEKs, not in them.
    KEY: ClassVar[EncryptedField] = EncryptedField(
        "audit_subject_keys", "wrapped", id_attr="subject_ref",
        tree_purpose="audit-subject", tree_scope="purpose",
    )


class AuditSecret(Base):
    __tablename__ = "audit_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped: Mapped[Sealed] = mapped_column(SealedBytes)
    created_us: Mapped[int] = mapped_column(BigInteger)
    #: The DEK (key tree, docs/adr/0037 Amendment 1) ``wrapped`` is sealed under; NULL
    #: while it is still a v1 keyring value. Every seal and open reads that ``deks`` row
    #: in its transaction. (Deferred: code at an older schema revision still loads rows.)
    dek_id: Mapped[str | None] = mapped_column(ForeignKey("deks.id"), index=True,
                                               deferred=True)
    dek_version: Mapped[int | None] = mapped_column(Integer, index=True, deferred=True)

    VALUE: ClassVar[EncryptedField] = EncryptedField(
        "audit_secrets", "wrapped", id_attr="name", tree_purpose="audit-secret",
        tree_scope="purpose")


class AuditHead(Base):
    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="singleton"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger)
    checkpoint_ts_us: Mapped[int] = mapped_column(BigInteger)
    checkpoint_sig: Mapped[bytes] = mapped_column(LargeBinary(64))
    #: Subjects erased so far. Bumped by every erasure, read with the head lock by every
    #: append: a writer keeps subject keys in memory only while this is unchanged, so a
    #: key another process erased is never used again (storage/audit/log.py).
    erasures: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


register(AuditSubjectKey, AuditSubjectKey.KEY)
register(AuditSecret, AuditSecret.VALUE)
