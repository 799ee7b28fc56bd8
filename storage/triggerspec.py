"""Scheduler triggers as plain JSON data, and back - the only trigger kinds the bot uses.

The data-only job store (:mod:`storage.jobstore`) must describe a trigger without
pickling it. The bot schedules with two kinds: a cron trigger (the monthly rotation)
and an interval trigger (the shred sweep), so a spec is one of::

    {"type": "cron", "fields": {"year": "*", ..., "second": "0"},
     "start_date": null | ISO-8601, "end_date": ..., "timezone": "UTC", "jitter": null}
    {"type": "interval", "seconds": 3600.0, "start_date": ISO-8601, "end_date": ...,
     "timezone": "UTC", "jitter": null}

Cron fields are APScheduler's own field expressions (``str(field)`` rebuilds the
field), so a spec names exactly the fire times the trigger had. Parsing is strict:
unknown keys, wrong types, naive datetimes, unknown time zones and expressions
APScheduler rejects are a :class:`StorageError` (the store refuses the job), never a
half-built trigger.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from medcrypt.crypto.errors import StorageError

CRON_FIELDS: tuple[str, ...] = tuple(CronTrigger.FIELD_NAMES)
_COMMON = {"type", "start_date", "end_date", "timezone", "jitter"}
#: Longest cron field expression accepted (APScheduler's own are a few characters).
_MAX_FIELD = 64
#: Longest interval accepted: a year (the bot's sweep runs hourly).
_MAX_SECONDS = 366 * 86400


def _zone_name(zone: tzinfo) -> str:
    if zone == UTC:
        return "UTC"
    key = getattr(zone, "key", None)
    if not isinstance(key, str):
        raise ValueError("trigger time zone has no IANA name")
    return key


def _zone(name: Any) -> tzinfo:
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValueError("time zone must be an IANA name")
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone") from None


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: Any, zone: tzinfo) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("dates must be ISO-8601 text")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("dates must carry their UTC offset")
    return parsed.astimezone(zone)


def _jitter(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 86400:
        raise ValueError("jitter must be null or whole seconds up to a day")
    return value


def trigger_spec(trigger: object) -> dict[str, Any]:
    """The JSON-able spec of a cron or interval trigger (anything else is refused)."""
    if isinstance(trigger, CronTrigger):
        return {"type": "cron", "fields": {f.name: str(f) for f in trigger.fields},
                "start_date": _when(trigger.start_date), "end_date": _when(trigger.end_date),
                "timezone": _zone_name(trigger.timezone), "jitter": trigger.jitter}
    if isinstance(trigger, IntervalTrigger):
        return {"type": "interval", "seconds": trigger.interval.total_seconds(),
                "start_date": _when(trigger.start_date), "end_date": _when(trigger.end_date),
                "timezone": _zone_name(trigger.timezone), "jitter": trigger.jitter}
    raise StorageError(f"the job store keeps cron and interval triggers only, "
                       f"not {type(trigger).__name__}")


def trigger_from_spec(spec: Any) -> CronTrigger | IntervalTrigger:
    """Rebuild a trigger from :func:`trigger_spec` output; :class:`StorageError` otherwise."""
    try:
        return _parse(spec)
    except (ValueError, TypeError, OverflowError) as exc:
        raise StorageError(f"trigger spec refused: {str(exc)[:120]}") from None


def _parse(spec: Any) -> CronTrigger | IntervalTrigger:
    if not isinstance(spec, dict):
        raise ValueError("trigger spec must be an object")
    kind = spec.get("type")
    extra = {"fields"} if kind == "cron" else {"seconds"} if kind == "interval" else None
    if extra is None:
        raise ValueError("trigger type must be 'cron' or 'interval'")
    if set(spec) != _COMMON | extra:
        raise ValueError("trigger spec has missing or unknown keys")
    zone = _zone(spec["timezone"])
    start, end = _date(spec["start_date"], zone), _date(spec["end_date"], zone)
    jitter = _jitter(spec["jitter"])
    if kind == "cron":
        fields = spec["fields"]
        if not isinstance(fields, dict) or set(fields) != set(CRON_FIELDS) or not all(
                isinstance(v, str) and 0 < len(v) <= _MAX_FIELD for v in fields.values()):
            raise ValueError("cron fields must name every field as a short expression")
        return CronTrigger(**fields, start_date=start, end_date=end, timezone=zone,
                           jitter=jitter)
    seconds = spec["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
            or not math.isfinite(seconds) or not 0 < seconds <= _MAX_SECONDS:
        raise ValueError("interval must be a positive number of seconds up to a year")
    if start is None:
        raise ValueError("an interval trigger needs its start date (it sets the phase)")
    return IntervalTrigger(seconds=seconds, start_date=start, end_date=end, timezone=zone,
                           jitter=jitter)

