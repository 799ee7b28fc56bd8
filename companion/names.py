"""What the person at the companion calls a pairing: its tag, and their own label for it.

The tag ("K7Q-2MX") is computed from the pairing id (:mod:`crypto.keyless.tags`), the
same on both companions and at the clinic's bot, so it is what the bot's replies, the
admins and the physician all say. The label ("Sam Rivera") is the physician's own note
of who is behind a pairing: it lives in this keystore only - sealed with everything
else in it - and is never sent, never put in a token, never logged, and never quoted in
an error (a label is a patient's name: personal data the bot must not learn, ADR 0031).
"""

from __future__ import annotations

from typing import Any

from medcrypt.companion.i18n import N_, error
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.keyless.tags import tag_of_hex

#: Longest label, in characters: a name, not a note.
MAX_LABEL = 64


def check_label(text: str) -> str:
    """``text`` as a label (surrounding spaces removed); ConfigError when it is empty,
    too long, or holds characters a terminal would act on. The error never quotes it."""
    label = text.strip()
    if not label or len(label) > MAX_LABEL or not label.isprintable():
        raise error(ConfigError, N_("a label is one line of 1-{n} printable characters"),
                    key="LABEL", n=MAX_LABEL)
    return label


def label_of(record: dict[str, Any]) -> str | None:
    """The label kept in a pairing's keystore record, if any."""
    value = record.get("label")
    return value if isinstance(value, str) else None


def who(pairing_hex: str, record: dict[str, Any]) -> str:
    """How output names a pairing: ``Sam Rivera (K7Q-2MX)``, or the tag alone."""
    tag = tag_of_hex(pairing_hex)
    label = label_of(record)
    return f"{label} ({tag})" if label else tag
