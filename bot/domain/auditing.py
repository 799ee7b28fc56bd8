"""Security-relevant relay events into the hash-chained audit log, metadata only.

Events join the caller's transaction (``session=``), so a refused admin command or a
blocked plaintext is recorded exactly when the reply that mentions it is queued - both
commit or neither does. References are the audit log's keyed pseudonyms of identity ids
and pairing ids; details carry only kinds and reasons - never text, tokens or addresses.
Each event also goes to the structured log, by name and kind only.
"""

from __future__ import annotations

import structlog

from medcrypt.crypto.server.audit import Action
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.db import Session

log = structlog.get_logger("bot.audit")

#: Relay event name → (audit action, what the subject reference names).
_ACTIONS: dict[str, tuple[Action, str]] = {
    "pairing_registered": (Action.PAIRING_REGISTERED, "pairing"),
    "pairing_completed": (Action.CONSENT_RECORDED, "pairing"),
    "pairing_accept_pending": (Action.PAIRING_ACCEPTED, "pairing"),
    "pairing_aborted": (Action.PAIRING_UNPAIRED, "pairing"),
    "pairing_upgrade_offered": (Action.RELAY_ACCEPTED, "pairing"),
    "pairing_upgraded": (Action.PAIRING_ACCEPTED, "pairing"),
    "pairing_ended": (Action.PAIRING_UNPAIRED, "pairing"),
    "identity_deleted": (Action.PAIRING_UNPAIRED, "identity"),
    "plaintext_blocked": (Action.PLAINTEXT_BLOCKED, "identity"),
    "wrong_sender": (Action.RELAY_REFUSED, "pairing"),
    "relay_refused": (Action.RELAY_REFUSED, "pairing"),
    "escrow_deposit": (Action.RELAY_ACCEPTED, "pairing"),
    "pinned_record": (Action.RELAY_ACCEPTED, "pairing"),
    "admin_command": (Action.ADMIN_COMMAND, "identity"),
    "admin_command_refused": (Action.ADMIN_REFUSED, "identity"),
    "admin_added": (Action.ADMIN_COMMAND, "identity"),
    "admin_removed": (Action.ADMIN_COMMAND, "identity"),
    "confirmation_refused": (Action.CONFIRMATION_REFUSED, "identity"),
}


class Auditor:
    def __init__(self, audit_log: AuditLog) -> None:
        self._log = audit_log
        self.events: list[tuple[str, dict[str, str]]] = []  # the last few, for tests/stats

    def record(self, session: Session, event: str, **meta: str) -> None:
        self.events.append((event, dict(meta)))
        del self.events[:-100]
        log.info("audit", audit_event=event, **{f"{k}_ref": v for k, v in meta.items()
                                                 if k in ("platform", "command", "reason")})
        action, subject_kind = _ACTIONS[event]
        actor_id = meta.get("actor", "")
        actor = self._log.pseudonym("identity", actor_id) if actor_id else "system"
        if subject_kind == "pairing" and meta.get("pairing"):
            subject = self._log.pseudonym("pairing", meta["pairing"])
        elif meta.get("subject"):
            subject = self._log.pseudonym("identity", meta["subject"])
        else:
            subject = actor
        details = {k: v for k, v in meta.items()
                   if k in ("platform", "command", "consent", "what", "event", "reason",
                            "person", "proposer")}
        details["event"] = event
        self._log.append(actor, action, subject, details, session=session)
