"""Calendar epochs: pure date arithmetic, no clock reads, no keys.

An epoch is a UTC calendar month, numbered absolutely so both companions and the bot
agree on it without exchanging anything: ``epoch = (year - 1970) * 12 + (month - 1)``.
January 1970 is epoch 0, November 2026 is epoch 682.  The bot imports this module to
refuse tokens of shredded or future epochs, so it must stay keyless.

Every function takes the instant it reasons about as an argument; the caller reads its
injected :class:`crypto.clock.Clock`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from medcrypt.crypto.clock import ensure_utc
from medcrypt.crypto.errors import MalformedToken

#: Default grace window: the previous epoch stays readable this long into the next one.
DEFAULT_GRACE_DAYS = 7
#: Longest grace window a policy may ask for (a quarter; longer defeats shredding).
MAX_GRACE_DAYS = 92
#: How far ahead of this device's clock a peer's clock may run at a month boundary; a
#: token of the next epoch is accepted this long before the local clock reaches it.
CLOCK_SKEW = timedelta(minutes=5)
#: First epoch whose start is not representable by :class:`datetime` (year 10000).
MAX_EPOCH = (9999 - 1970 + 1) * 12

_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


def epoch_of(at: datetime) -> int:
    """The epoch (absolute month number) containing the instant ``at`` (UTC)."""
    at = ensure_utc(at)
    return (at.year - 1970) * 12 + (at.month - 1)


def _check(epoch: int) -> None:
    if not 0 <= epoch < MAX_EPOCH:
        raise MalformedToken(f"epoch {epoch} is outside the supported calendar")


def epoch_start(epoch: int) -> datetime:
    """00:00 UTC on the first day of the month that is ``epoch``."""
    _check(epoch)
    year, month0 = divmod(epoch, 12)
    return datetime(1970 + year, month0 + 1, 1, tzinfo=UTC)


def epoch_end(epoch: int) -> datetime:
    """The instant the next epoch starts (exclusive end of ``epoch``)."""
    _check(epoch)
    if epoch + 1 == MAX_EPOCH:
        return datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    return epoch_start(epoch + 1)


def grace_end(epoch: int, grace_days: int = DEFAULT_GRACE_DAYS) -> datetime:
    """The instant ``epoch`` stops being readable: next epoch's start plus the grace window.

    At or after this instant the epoch's key must be shredded on the companions and the
    bot deletes what it stores for that epoch.
    """
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise MalformedToken(f"grace window of {grace_days} days is outside 0..{MAX_GRACE_DAYS}")
    return epoch_end(epoch) + timedelta(days=grace_days)


def is_readable(epoch: int, at: datetime, grace_days: int = DEFAULT_GRACE_DAYS) -> bool:
    """True if a token of ``epoch`` may be opened (or relayed, or collected) at ``at``.

    The one rule of PROTOCOL §2, for the companions, the relay and break-glass alike:
    ``epoch ≤ epoch_of(at + CLOCK_SKEW)`` and ``at < grace_end(epoch, grace_days)``. The
    skew is part of the rule, not an option: a companion enters the next month five
    minutes early, so a token a peer's fast clock stamped with it must be readable (and
    collectable) wherever it is stored.
    """
    if epoch > epoch_of(ensure_utc(at) + CLOCK_SKEW):
        return False
    return ensure_utc(at) < grace_end(epoch, grace_days)


def format_epoch(epoch: int) -> str:
    """``YYYY-MM`` for humans and error messages."""
    _check(epoch)
    year, month0 = divmod(epoch, 12)
    return f"{1970 + year:04d}-{month0 + 1:02d}"


def parse_month(text: str) -> int:
    """Inverse of :func:`format_epoch`; raises MalformedToken on anything else."""
    match = _MONTH_RE.fullmatch(text.strip())
    if match is None:
        raise MalformedToken("month must be written YYYY-MM")
    year, month = int(match.group(1)), int(match.group(2))
    if year < 1970 or not 1 <= month <= 12:
        raise MalformedToken("month is outside the supported calendar")
    return (year - 1970) * 12 + (month - 1)
