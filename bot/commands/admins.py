"""/admins: list clinic admins (config and chat-added), addresses masked."""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.storage.repos import admins

NAME = "admins"
ADMIN = True
USAGE = "/admins"


def active_grant(ctx: Context, identity_id: str) -> str | None:
    """The id of ``identity_id``'s chat-added grant that has not been revoked, if any."""
    return admins.active_grant(ctx.session, identity_id)


def is_admin(ctx: Context, identity_id: str) -> bool:
    if identity_id == ctx.sender_id and ctx.message.config_admin:
        return True
    return active_grant(ctx, identity_id) is not None


def mask(address: str) -> str:
    """Enough to tell admins apart, not enough to be a phone number or chat id."""
    return "…" + address[-3:] if len(address) > 3 else "…"


def parse_target(arg: str) -> tuple[str, str] | None:
    """``telegram:<chat id>`` or ``whatsapp:+<number>`` → (platform, address)."""
    platform, sep, rest = arg.partition(":")
    if not sep:
        return None
    if platform == "telegram" and rest.lstrip("-").isdigit() and len(rest) <= 20:
        return platform, rest
    if platform == "whatsapp" and rest.startswith("+") and rest[1:].isdigit() \
            and 6 <= len(rest) <= 16:
        return platform, f"whatsapp:{rest}"
    return None


def run(ctx: Context, args: list[str]) -> None:
    ids = admins.admin_identity_ids(ctx.session)
    s = ctx.services.settings
    lines = [f"Admins from configuration: {len(s.clinic.admin_telegram_ids)} on Telegram "
             "(plus any configured WhatsApp numbers)."]
    for identity_id in ids:
        found = ctx.services.directory.address_of(ctx.session, identity_id)
        if found is not None:
            platform, address = found
            lines.append(f"- {platform.value} {mask(address)} (added in chat)")
    ctx.reply("\n".join(lines))
