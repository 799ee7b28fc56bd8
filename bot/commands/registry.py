"""The chat commands' registry: each command declares itself where it is defined.

::

    @command("shred", help="/shred <pairing> [code]", admin=True)
    def run(ctx: Context, args: list[str]) -> None: ...

The declaration is the only list of commands: the dispatcher looks names up here,
``/help`` is generated from it, and the composition root imports every command module
(:mod:`bot.app.commands`) so that each declaration runs once at start. ``admin`` means
what it says - the dispatcher refuses everyone else before the command runs, and the
refusal is a hash-chained audit entry committed with its reply; a command whose domain
records refusals in its own terms (break-glass) passes ``refuse`` to keep them so.

This module knows names, help lines and permissions only - nothing of the domain, the
context type or the platforms - so it can be read (and tested) on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

#: ``run(ctx, args)``: handle the command inside the message's transaction.
Run = Callable[[Any, list[str]], None]
#: ``refuse(ctx, name)``: answer and record a non-admin's attempt at an admin command.
Refuse = Callable[[Any, str], None]
_R = TypeVar("_R", bound=Run)


@dataclass(frozen=True)
class Command:
    name: str
    #: One line for ``/help``: the usage, as the user types it.
    help: str
    #: Only clinic admins may run it; the dispatcher refuses (and audits) everyone else.
    admin: bool
    run: Run
    #: Offered in ``/help``; False for what every chat opens with anyway (/start).
    listed: bool = True
    #: How a refused attempt is answered and recorded; None: the dispatcher's own way.
    refuse: Refuse | None = None


_COMMANDS: dict[str, Command] = {}


def command(name: str, *, help: str, admin: bool = False, listed: bool = True,
            refuse: Refuse | None = None) -> Callable[[_R], _R]:
    """Register the decorated ``run`` as ``/<name>``; a name registered twice is an error."""

    def register(run: _R) -> _R:
        if name in _COMMANDS:
            raise ValueError(f"/{name} is declared twice ({_COMMANDS[name].run.__module__} "
                             f"and {run.__module__})")
        _COMMANDS[name] = Command(name, help, admin, run, listed, refuse)
        return run

    return register


def lookup(name: str) -> Command | None:
    return _COMMANDS.get(name)


def registered() -> list[Command]:
    """Every declared command, by name (the order does not depend on import order)."""
    return [_COMMANDS[name] for name in sorted(_COMMANDS)]
