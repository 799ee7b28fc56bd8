"""/admins: list clinic admins (config and chat-added), addresses masked - and who is one.

:func:`is_admin` is what the dispatcher asks before any admin command runs, and
break-glass before its state machine does.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain.messages import Platform
from medcrypt.storage.repos import admins


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


def target(ctx: Context, args: list[str]) -> tuple[Platform, str] | None:
    """The one ``<platform>:<address>`` argument of /admin_add and /admin_remove, parsed
    the way the platform's adapter reads it; None when it is not exactly that."""
    return ctx.services.admin_target(args[0]) if len(args) == 1 else None


def target_usage(ctx: Context, command: str) -> str:
    """``/<command> <form>`` for every platform, in the forms its adapter accepts."""
    return " or ".join(f"/{command} {channel.admin_form}"
                       for channel in ctx.services.channels.values())


@command("admins", help="/admins", admin=True)
def run(ctx: Context, args: list[str]) -> None:
    ids = admins.admin_identity_ids(ctx.session)
    configured = ", ".join(f"{len(channel.config_admins)} on {channel.display_name}"
                           for channel in ctx.services.channels.values())
    lines = [f"Admins from configuration: {configured}."]
    for identity_id in ids:
        found = ctx.services.directory.address_of(ctx.session, identity_id)
        if found is not None:
            platform, address = found
            lines.append(f"- {platform.value} {mask(address)} (added in chat)")
    ctx.reply("\n".join(lines))
