"""Pairings by name: the tag a person reads in a reply, or the hex id a companion shows.

Every reply about a pairing names it by its tag ("K7Q-2MX", docs/adr/0031), and every
admin command that takes a pairing (``/shred``, ``/breakglass``, ``/rotate_now``) and
``/unpair`` accept the tag or, as before, 8 to 32 hex characters of its id. Finding a
pairing says nothing about whether the sender may act on it: each command checks roles
(admin, or member of the pairing) itself, so a guessed tag buys a stranger nothing.

The texts are here, one place for this module (issue 16's translation wraps them later).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medcrypt.bot.domain.i18n import N_
from medcrypt.crypto.keyless.tags import parse_tag
from medcrypt.storage.db import Session
from medcrypt.storage.repos.pairings import PairingRecord, by_tag, get_pairing, ids_with_prefix

NOT_A_NAME = N_("Name a pairing by its tag (like K7Q-2MX, from /pairings or the companion) or "
                "by 8 to 32 hexadecimal characters of its id.")
NO_SUCH_PAIRING = N_("No pairing has that tag or id. Nothing was done.")
AMBIGUOUS = N_("Several pairing ids start with those characters; give more, or use the tag.")

_HEX_PREFIX = re.compile(r"[0-9a-f]{8,32}\Z")


def shown(pairing_id: str, tag: str | None) -> str:
    """How a reply names a pairing: its tag, or (a pre-tag pairing whose tag an older
    pairing holds, migration 0018) the first 8 hex characters of its id."""
    return tag or pairing_id[:8]


def name_of(record: PairingRecord) -> str:
    return shown(record.pairing_id, record.tag)


@dataclass(frozen=True)
class NotFound:
    """Why a name found no pairing: the reply to give (from this module's texts)."""

    reply: str


def find(session: Session, text: str) -> PairingRecord | NotFound:
    """The pairing ``text`` names, whatever its status; a tag first, then a hex id.

    A tag and a hex prefix cannot be confused: a tag is six Crockford symbols (with or
    without its hyphen), a hex prefix at least eight characters.
    """
    tag = parse_tag(text)
    if tag is not None:
        found = by_tag(session, tag)
        return found if found is not None else NotFound(NO_SUCH_PAIRING)
    prefix = text.strip().lower()
    if not _HEX_PREFIX.match(prefix):
        return NotFound(NOT_A_NAME)
    ids = ids_with_prefix(session, prefix)
    if len(ids) > 1:
        return NotFound(AMBIGUOUS)
    record = get_pairing(session, ids[0]) if ids else None
    return record if record is not None else NotFound(NO_SUCH_PAIRING)
