"""The chat app a person pastes a pairing's tokens into, and how long a message it takes.

A token longer than the app's limit is cut by the app (Telegram at 4096 characters) or
refused (WhatsApp through Twilio at 1600), and a cut token is lost as plaintext at the
bot. So the companion splits every token into PART tokens for the app this person uses
(issue 16, "the companion splits for the pairing's platform by default"). Only the
sender's own app matters: the bot joins the parts and splits again for the recipient's
app (bot/commands/context.py), so a Telegram physician and a WhatsApp patient each paste
what their own app carries.

The app is kept per pairing in the sealed keystore (``pair platform``); never told,
WhatsApp's limit is used, since a token that fits WhatsApp fits Telegram too.
"""

from __future__ import annotations

from typing import Any

#: name -> (shown name, most characters one chat message carries for the relay).
#: The same figures as the bot's channels (bot/domain/config.py) and ADR 0023.
APPS: dict[str, tuple[str, int]] = {"whatsapp": ("WhatsApp", 1600),
                                    "telegram": ("Telegram", 4096)}
#: The app assumed while a pairing has none recorded: the stricter of the two.
DEFAULT = "whatsapp"


def app_of(record: dict[str, Any]) -> str | None:
    """The chat app recorded for a pairing (``pair platform``), if any."""
    value = record.get("platform")
    return value if isinstance(value, str) and value in APPS else None


def max_chars(record: dict[str, Any], *, flag_app: str | None,
              flag_chars: int | None) -> int:
    """Where to split this pairing's tokens: ``--max-chars``, else ``--platform``, else
    the pairing's recorded app, else the default."""
    if flag_chars is not None:
        return flag_chars
    return APPS[flag_app or app_of(record) or DEFAULT][1]
