"""Every chat command the bot has: importing a command module declares its command.

This import list is the one place that says which commands exist; the declarations
(:func:`bot.commands.registry.command`) say what each is called, its help line and who
may run it, and ``/help`` and the dispatcher read the registry they fill. Adding a
command is one module in ``bot/commands/`` and one name here; a test checks that no
command module is left out.
"""

from __future__ import annotations

from medcrypt.bot.commands import (
    admin_add,
    admin_remove,
    admins,
    approve,
    audit_head,
    audit_verify,
    breakglass,
    delete_me,
    deny,
    help,
    jobs,
    language,
    pairings,
    rotate_now,
    shred,
    start,
    stats,
    status,
    unpair,
)

COMMAND_MODULES = (
    admin_add, admin_remove, admins, approve, audit_head, audit_verify, breakglass,
    delete_me, deny, help, jobs, language, pairings, rotate_now, shred, start, stats, status,
    unpair,
)
