"""Chat commands, one per module; the same text works on Telegram and WhatsApp.

Each module exposes ``NAME``, ``ADMIN`` (admins only?), ``USAGE`` and
``run(ctx, args) -> None``. Arguments are never logged or audited (an admin may type a
phone number). A non-admin using an admin command is refused and the attempt audited.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain import notices

_MODULES = (
    "start", "help", "status", "unpair", "delete_me",
    "admins", "admin_add", "admin_remove", "stats",
    "jobs", "rotate_now", "shred", "breakglass", "approve", "deny",
    "audit_head", "audit_verify",
)
#: Longest command line accepted (anything longer is not a command a human typed).
MAX_COMMAND_CHARS = 200

_REGISTRY: dict[str, ModuleType] = {}


def registry() -> dict[str, ModuleType]:
    if not _REGISTRY:
        for name in _MODULES:
            module = importlib.import_module(f"medcrypt.bot.commands.{name}")
            _REGISTRY[module.NAME] = module
    return _REGISTRY


def dispatch(ctx: Context, text: str) -> None:
    if len(text) > MAX_COMMAND_CHARS:
        ctx.reply(notices.UNKNOWN_COMMAND)
        return
    head, *args = text.split()
    name = head[1:].lower()
    module = registry().get(name)
    if module is None:
        ctx.reply(notices.UNKNOWN_COMMAND)
        return
    if module.ADMIN:
        from medcrypt.bot.commands.admins import is_admin

        if not is_admin(ctx, ctx.sender_id):
            ctx.audit("admin_command_refused", command=name)
            ctx.keep_identity = True  # the audit entry must name a real actor
            ctx.reply(notices.ADMIN_ONLY)
            return
        ctx.audit("admin_command", command=name)
        ctx.keep_identity = True
    module.run(ctx, args)
