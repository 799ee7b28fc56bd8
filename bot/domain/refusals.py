"""Refused webhook requests into the audit log, without letting a forger grow it.

A request with a wrong Twilio signature or Telegram secret, or a correctly signed one
replayed, is refused with 403 and should leave a trace an auditor can find later.
But it comes from someone the bot cannot authenticate: one audit entry per request
would let anyone append to the hash-chained log as fast as they can send. So refusals
are counted per (platform, reason), and the first of a quiet spell is audited at once
while the rest are folded into one entry per window with their count. ``drain`` gives
what is still counted, for the bot to audit when it stops.

Pure: the caller passes the time (from the injected clock) and writes the entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: At most one audit entry per (platform, reason) in this span.
WINDOW = timedelta(minutes=1)


@dataclass
class _Tally:
    since: datetime  #: when the last entry for this key was written
    pending: int = 0  #: refusals counted since, not yet in an entry


@dataclass
class RefusalDigest:
    window: timedelta = WINDOW
    _tallies: dict[tuple[str, str], _Tally] = field(default_factory=dict)

    def note(self, platform: str, reason: str, now: datetime) -> int | None:
        """Count one refusal; return how many an entry written now should report, or None."""
        key = (platform, reason)
        tally = self._tallies.get(key)
        if tally is None:
            self._tallies[key] = _Tally(since=now)
            return 1
        tally.pending += 1
        if now - tally.since < self.window:
            return None
        count, tally.pending, tally.since = tally.pending, 0, now
        return count

    def drain(self) -> list[tuple[str, str, int]]:
        """(platform, reason, count) of every refusal counted but not yet reported."""
        out = [(p, r, t.pending) for (p, r), t in sorted(self._tallies.items()) if t.pending]
        for tally in self._tallies.values():
            tally.pending = 0
        return out
