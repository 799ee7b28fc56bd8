"""Chat commands, one per module; the same text works on every platform.

Each module declares its command with :func:`bot.commands.registry.command` - name, help
line, whether only admins may run it - and the composition root imports them all
(:mod:`bot.app.commands`). :func:`bot.commands.dispatch.dispatch` runs them inside the
inbound message's transaction. Arguments are never logged or audited (an admin may type
a phone number).
"""
