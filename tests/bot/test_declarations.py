"""What the bot declares in one place: its chat commands and its CLI families.

The chat commands are declared by decorator where they are defined, imported by the
composition root, and read by the dispatcher and /help; the CLI's families are imported
when its parser is built. These tests keep the declarations honest.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys

import pytest

import medcrypt.bot.cli
import medcrypt.bot.commands
from medcrypt.bot.app.commands import COMMAND_MODULES
from medcrypt.bot.cli import build_parser
from medcrypt.bot.commands import registry
from medcrypt.bot.commands.help import admin_help, member_help
from medcrypt.bot.domain import notices


def test_the_composition_root_imports_every_command_module() -> None:
    declared = {c.name for c in registry.registered()}
    for info in pkgutil.iter_modules(medcrypt.bot.commands.__path__):
        importlib.import_module(f"medcrypt.bot.commands.{info.name}")
    assert {c.name for c in registry.registered()} == declared  # nothing was left out
    # One command per module, and every listed module declares one.
    assert sorted(c.run.__module__ for c in registry.registered()) == sorted(
        m.__name__ for m in COMMAND_MODULES)


def test_admin_help_lists_every_admin_command_and_no_other() -> None:
    text = admin_help()
    assert text.startswith(member_help())
    listed = text.split("Clinic admin commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == [
        f"/{c.name}" for c in registry.registered() if c.admin]
    assert {"/breakglass", "/approve", "/deny"} <= {line.split()[0] for line in listed}


def test_the_help_notice_names_exactly_the_listed_commands_of_everyone() -> None:
    text = member_help()
    assert text.startswith(notices.HELP_INTRO_COMMANDS.split("{")[0])
    named = set(re.findall(r"/(\w+)", text))
    assert named == {c.name for c in registry.registered() if not c.admin and c.listed}


def test_a_command_name_is_declared_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_COMMANDS", {})
    registry.command("twice", help="/twice")(lambda ctx, args: None)
    with pytest.raises(ValueError, match="declared twice"):
        registry.command("twice", help="/twice")(lambda ctx, args: None)


def test_a_cli_family_that_cannot_be_imported_fails_the_parser(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(medcrypt.bot.cli, "demo", raising=False)
    monkeypatch.setitem(sys.modules, "medcrypt.bot.cli.demo", None)
    with pytest.raises(ImportError):
        build_parser()
