"""The clinic enrols its physicians' identity keys: the root break-glass trusts (ADR 0026).

A v3 break-glass opening believes a pairing's pinned-key record only if it is signed by
a physician key the clinic enrolled - never a key the bot, a deposit or the record
itself supplies. Enrolment is therefore an admin step on the bot host, made in person:
the physician's companion shows its identity fingerprint (PROTOCOL §10,
``hex(SHA-256("MEDCRYPT v2 fingerprint" || key))``), and the admin must type it back
(:func:`enrol` refuses a key whose fingerprint does not start with what was typed), so
a key swapped or mistyped on the way is caught before it is trusted. Every enrolment
and revocation is an entry in the hash-chained audit log; the clinic also keeps the
printed key in its own register, which is what share holders give the offline opener.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from medcrypt.bot.domain.services import Services
from medcrypt.crypto.errors import MalformedToken, PolicyViolation
from medcrypt.crypto.server.audit import Action, system_ref
from medcrypt.storage.db import Session
from medcrypt.storage.repos import v3escrow
from medcrypt.storage.repos.v3escrow import Enrolled

FINGERPRINT_LABEL = b"MEDCRYPT v2 fingerprint"
#: Fewest fingerprint characters an admin must type back (64 bits).
MIN_FINGERPRINT_CHARS = 16
MAX_LABEL_CHARS = 64


def parse_key(text: str) -> bytes:
    """An Ed25519 public key as the companion prints it: standard base64, 32 bytes."""
    value = text.strip()
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedToken("the identity key is not base64") from None
    if len(raw) != 32:
        raise MalformedToken("the identity key must decode to 32 bytes")
    return raw


def fingerprint(key: bytes) -> str:
    """What the companion shows for an identity key (PROTOCOL §10)."""
    return hashlib.sha256(FINGERPRINT_LABEL + key).hexdigest()


def _audit(deps: Services, session: Session, command: str, key: bytes) -> None:
    subject = deps.audit.pseudonym("physician_key", key.hex())
    deps.audit.append(system_ref("operator"), Action.ADMIN_COMMAND, subject,
                      {"command": command, "fingerprint": fingerprint(key)[:16]},
                      session=session)


def enrol(deps: Services, session: Session, key: bytes, label: str, typed: str) -> bool:
    """Enrol ``key`` for the physician ``label`` once ``typed`` matches its fingerprint;
    False when it was already enrolled (nothing changes, nothing is audited)."""
    label = label.strip()
    if not 1 <= len(label) <= MAX_LABEL_CHARS or not label.isprintable():
        raise MalformedToken(f"the label must be 1-{MAX_LABEL_CHARS} printable characters")
    typed = typed.strip().lower().replace(" ", "")
    if len(typed) < MIN_FINGERPRINT_CHARS or not hmac.compare_digest(
            fingerprint(key)[:len(typed)], typed):
        raise PolicyViolation("the fingerprint does not match this key: read it again from "
                              "the physician's companion, in person")
    added = v3escrow.enrol(session, key, label, now=deps.clock.now())
    if added:
        _audit(deps, session, "physician_enrol", key)
    return added


def revoke(deps: Services, session: Session, key: bytes) -> bool:
    """Withdraw an enrolment (audited); False when the key was not enrolled or is revoked."""
    done = v3escrow.revoke(session, key, now=deps.clock.now())
    if done:
        _audit(deps, session, "physician_revoke", key)
    return done


def listing(session: Session) -> list[Enrolled]:
    return v3escrow.enrolled(session)
