"""Security-relevant events from the relay, metadata only.

The hash-chained audit log (``storage.audit.append``) is written by another module;
this adapter calls it when it is installed and otherwise records the event in the
structured log, so the relay never depends on which is present. Events carry only
identity ids, kinds and reasons - never text, tokens or addresses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.orm import Session

log = structlog.get_logger("bot.audit")


def _find_append() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("storage.audit")
    except ImportError:
        return None
    append = getattr(module, "append", None)
    return append if callable(append) else None


class Auditor:
    def __init__(self, append: Callable[..., Any] | None = None) -> None:
        self._append = append if append is not None else _find_append()
        self.events: list[tuple[str, dict[str, str]]] = []  # the last few, for /stats

    def record(self, session: Session, event: str, **meta: str) -> None:
        self.events.append((event, dict(meta)))
        del self.events[:-100]
        log.info("audit", audit_event=event, **{f"{k}_ref": v for k, v in meta.items()})
        if self._append is None:
            return
        try:
            self._append(session, event=event, actor=meta.get("actor"), details=meta)
        except TypeError:
            # The chain's signature differs from what this adapter expects: keep the
            # structured-log record rather than fail the user's message.
            log.warning("audit_append_signature_mismatch", audit_event=event)
