"""Metric labels are fixed words: every reason the relay reports is in the vocabulary,
and a word outside it (a phone number, say) is exported as ``other``, never as itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

from medcrypt.bot.app.metrics import BotMetrics
from medcrypt.bot.domain.events import REFUSAL_REASONS
from medcrypt.bot.domain.health import LoopHealth
from medcrypt.bot.relay import guarding
from tests.support.monitoring import parse

ROOT = Path(__file__).resolve().parents[3]


def _refused_literals() -> list[str]:
    """Every string literal passed to ``.refused(...)`` in the bot's source."""
    found = []
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "refused" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.append(node.args[0].value)
    return found


def test_every_refusal_the_relay_reports_is_a_listed_word() -> None:
    literals = _refused_literals()
    assert len(literals) >= 10  # the scan sees the call sites
    assert set(literals) <= REFUSAL_REASONS
    guarded = {what for what, _notice, _outside in guarding._LEFTOVER.values()}
    guarded |= {what for what, _notice in guarding._MEDIA.values()} | {"file"}
    assert {f"blocked_{what}" for what in guarded} <= REFUSAL_REASONS


def test_a_word_outside_the_vocabulary_is_exported_as_other() -> None:
    metrics = BotMetrics(LoopHealth())
    metrics.refused("+15551230001")
    metrics.send_outcome("5550001", "sent")
    metrics.job_finished("rotation", "9f86d081884c7d65", "ok")
    result = parse(metrics.render().decode())
    assert "15551230001" not in result.text and "5550001" not in result.text
    assert "9f86d081884c7d65" not in result.text
    assert result.value("medcrypt_messages_refused_total", reason="other") == 1
    assert result.value("medcrypt_outbox_sends_total", platform="other", outcome="sent") == 1
    assert result.value("medcrypt_job_runs_total", job="rotation", trigger="other",
                        outcome="ok") == 1


def test_two_bots_in_one_process_count_apart() -> None:
    first, second = BotMetrics(LoopHealth()), BotMetrics(LoopHealth())
    first.relayed("token")
    assert parse(first.render().decode()).value(
        "medcrypt_messages_relayed_total", kind="token") == 1
    assert parse(second.render().decode()).value(
        "medcrypt_messages_relayed_total", kind="token") == 0


def test_a_replica_label_must_have_the_replica_ids_shape() -> None:
    """The replica label is the one that is not a fixed word: anything that is not a
    ``host:pid:hex`` id - a phone number put there by mistake - is exported as other."""
    metrics = BotMetrics(LoopHealth())
    metrics.set_cluster(alive=2, roles=[],
                        replicas=[("bot-a.clinic:4242:0a1b2c3d", 60.0, 1.0),
                                  ("+15551230001", 5.0, 2.0)],
                        leases=[("scheduler", "+15551230001", 3.0),
                                ("telegram_poller", "bot-a.clinic:4242:0a1b2c3d", 4.0),
                                ("audit_checkpointer", "bot-a.clinic:4242:0a1b2c3d", 0.0)])
    result = parse(metrics.render().decode())
    assert "15551230001" not in result.text
    assert result.value("medcrypt_replica_last_seen_seconds",
                        replica="bot-a.clinic:4242:0a1b2c3d") == 1.0
    assert result.value("medcrypt_replica_up_seconds", replica="other") == 5.0
    assert result.value("medcrypt_role_holder", role="scheduler", replica="other") == 1.0
    assert result.value("medcrypt_role_holder", role="telegram_poller",
                        replica="bot-a.clinic:4242:0a1b2c3d") == 1.0
    # A free role has no holder series, and no time left.
    assert not [s for s in result.samples if s.name == "medcrypt_role_holder"
                and s.labels["role"] == "audit_checkpointer"]
    assert result.value("medcrypt_role_lease_remaining_seconds",
                        role="audit_checkpointer") == 0.0
