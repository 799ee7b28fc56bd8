"""``--config`` in both positions, ``--version`` on both programs, ``--debug``.

argparse hands the arguments after a subcommand to the subparser, which writes its own
defaults over the namespace: a ``--config`` given before the subcommand is silently
replaced unless the subparser's copy defaults to ``argparse.SUPPRESS``, and a
``--config`` after a subcommand that does not declare it is an error. The test walks
every subcommand the parser has, so a family added later is held to it too.
"""

from __future__ import annotations

import argparse
from importlib.metadata import version
from pathlib import Path

import pytest

from medcrypt.bot.cli import build_parser
from tests.support.operator_cli import operator_env, run_bot, run_companion, write_config

#: Subcommands that need arguments before they get as far as reading the config.
NEEDS = {("jobs", "run"): ["shred"], ("keys", "generate"): ["--version", "7"],
         ("breakglass", "record-open"): ["bundle.bin"],
         ("backup", "create"): ["b.mcbk"], ("backup", "verify"): ["b.mcbk"],
         ("backup", "restore"): ["b.mcbk", "--yes"],
         ("physicians", "enrol"): ["AAAA", "--label", "Dr", "--fingerprint", "0" * 16],
         ("physicians", "revoke"): ["AAAA"],
         ("keys", "provider", "destroy"): ["--version", "1", "--yes"],
         ("keys", "migrate"): ["--to", "pkcs11"]}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [path]
    found: list[tuple[str, ...]] = []
    for name, child in subs[0].choices.items():
        found += _leaves(child, (*path, name))
    return found


LEAVES = _leaves(build_parser())


def test_every_subcommand_is_covered() -> None:
    assert ("run",) in LEAVES and ("doctor",) in LEAVES and ("audit", "head") in LEAVES
    assert len(LEAVES) >= 15


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_config_is_read_in_either_position(tmp_path: Path, command: tuple[str, ...],
                                           where: str) -> None:
    """A config that names a bad setting must stop every command, wherever it is given."""
    from medcrypt.bot.cli import main

    bad = write_config(tmp_path / "bad.toml", {"logging": {"level": "LOUD"}})
    argv = [*command, *NEEDS.get(command, [])]
    argv = ["--config", str(bad), *argv] if where == "before" else [*argv, "--config", str(bad)]
    try:
        status = main(argv)
    except SystemExit as exc:
        pytest.fail(f"argparse rejected {argv}: exit {exc.code}")
    assert status == 2, (argv, status)


def test_run_takes_config_after_the_subcommand(tmp_path: Path) -> None:
    """The operator's report: ``medcrypt-bot run --config FILE`` was refused."""
    cfg = write_config(tmp_path / "bot.toml", {
        "database": {"url": f"sqlite:///{tmp_path / 'missing' / 'bot.db'}"},
        "telegram": {"enabled": False}, "whatsapp": {"enabled": False},
        "startup": {"attempts": 1}})
    ran = run_bot("run", "--config", str(cfg), env=operator_env(), cwd=tmp_path)
    assert ran.returncode == 6, ran.stderr
    assert "missing" in ran.said[-1]


def test_both_programs_print_their_version(tmp_path: Path) -> None:
    expected = version("medcrypt-bridge")
    bot = run_bot("--version", env=operator_env(), cwd=tmp_path)
    assert (bot.returncode, bot.stdout.strip()) == (0, f"medcrypt-bot {expected}")
    companion = run_companion("--version", env=operator_env(), cwd=tmp_path)
    assert (companion.returncode, companion.stdout.strip()) == (0, f"medcrypt {expected}")
