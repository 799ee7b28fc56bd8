"""What the relay, the outbox and the jobs tell an observer: counts, never content.

The layers below the composition root cannot import the metrics (prometheus-client
lives in ``bot.app``), so they report through :class:`RelayEvents`, a protocol carried
in the services bundle (:attr:`bot.domain.services.Services.events`); the app plugs
its Prometheus metrics in (:mod:`bot.app.metrics`), everything else - commands run
from the CLI, job runs, tests - gets :class:`NoEvents`.

Every argument is a word from a closed vocabulary below, never text from a message,
an address, a pairing id or a tag: metrics are scraped by systems outside the bot's
trust boundary, and a label value is kept by Prometheus for as long as its series.
The metrics refuse a word not listed here (it is counted as ``other``), so a future
call site that passed something personal would lose the detail, not leak it.

Counts are reported after the work they count committed (``bot.relay.intake`` reports
a message's events once its transaction committed), so a rolled-back message is not
counted as relayed.
"""

from __future__ import annotations

from typing import Protocol

#: Why the relay did not carry something a user sent (``messages_refused_total``).
REFUSAL_REASONS: frozenset[str] = frozenset({
    "rate_limited",
    "unknown_pairing",
    "wrong_sender",
    "pairing_closed",
    "epoch_future",
    "epoch_shredded",
    "part_conflict",
    "malformed",
    "too_large",
    "not_paired",
    # v3 pairing admission (bot.domain.admission).
    "not_admitted",
    "accept_replayed",
    "accept_pending",
    "confirm_unknown",
    "qr_shared",
    # A registration whose derived tag another pairing holds (docs/adr/0031).
    "tag_taken",
    # v2 -> v3 upgrade (bot.domain.upgrade).
    "already_v3",
    "upgrade_expired",
    "upgrade_unknown",
    # v3 at the relay (docs/adr/0026): a token of the pairing's other protocol version,
    # v2 for a month past the configured cut-off, a record from the wrong member.
    "version_mismatch",
    "v2_retired",
    "record_refused",
    # The plaintext guard: what it blocked in a paired chat (bot.relay.guarding).
    "blocked_text",
    "blocked_command",
    "blocked_v1_token",
    "blocked_unknown_kind",
    "blocked_malformed_token",
    "blocked_location",
    "blocked_media",
    "blocked_edit",
    "blocked_file",
})
#: What a relayed item was (``messages_relayed_total``).
RELAYED_KINDS: frozenset[str] = frozenset({"token", "file"})
#: What became of one send attempt of an outbox row (``outbox_sends_total``):
#: ``rate_limited`` is a 429 (the platform asked this chat to wait), ``retry`` any
#: other transient failure, ``held`` a closed messaging window, ``dead`` given up.
SEND_OUTCOMES: frozenset[str] = frozenset({"sent", "retry", "rate_limited", "held", "dead"})
#: How a key-lifecycle job run ended (``job_runs_total``).
JOB_OUTCOMES: frozenset[str] = frozenset({"ok", "failed"})
#: What started a job run.
JOB_TRIGGERS: frozenset[str] = frozenset({"schedule", "startup", "manual"})


class RelayEvents(Protocol):
    """Receives counts. Implementations must be cheap and thread-safe (jobs and
    deferred commands report from worker threads) and must never raise."""

    def relayed(self, kind: str) -> None:
        """One token or file was queued for the other member of its pairing."""

    def refused(self, reason: str) -> None:
        """Something a user sent was not relayed, for ``reason``."""

    def send_outcome(self, platform: str, outcome: str) -> None:
        """One send attempt of an outbox row to ``platform`` ended with ``outcome``."""

    def job_finished(self, job: str, trigger: str, outcome: str) -> None:
        """A key-lifecycle job run (rotation, shred sweep) ended."""


class NoEvents:
    """Counts nowhere: what every bundle has unless the app plugs its metrics in."""

    def relayed(self, kind: str) -> None:
        return None

    def refused(self, reason: str) -> None:
        return None

    def send_outcome(self, platform: str, outcome: str) -> None:
        return None

    def job_finished(self, job: str, trigger: str, outcome: str) -> None:
        return None
