"""Property tests for the job store's trigger specs: exact round trips, and garbage refused.

The spec is read back from a database row anyone with write access controls, so any
JSON value must give a trigger or a :class:`StorageError` - nothing else.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.errors import StorageError
from medcrypt.storage.triggerspec import trigger_from_spec, trigger_spec

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=6),
    max_leaves=20,
)
STARTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                      timezones=st.just(UTC))


def _fires(trigger: CronTrigger | IntervalTrigger, now: datetime, n: int = 6) -> list[datetime]:
    out: list[datetime] = []
    previous = None
    for _ in range(n):
        nxt = trigger.get_next_fire_time(previous, previous or now)
        if nxt is None:
            break
        out.append(nxt)
        previous = nxt
    return out


def _through_json(trigger: CronTrigger | IntervalTrigger) -> CronTrigger | IntervalTrigger:
    return trigger_from_spec(json.loads(json.dumps(trigger_spec(trigger))))


@given(st.integers(0, 59), st.integers(0, 23), st.integers(1, 28),
       st.sampled_from(["*", "*/2", "1-6", "3"]), st.sampled_from(["*", "mon-fri", "sun"]),
       STARTS)
def test_cron_triggers_round_trip_exactly(minute: int, hour: int, day: int, month: str,
                                          dow: str, now: datetime) -> None:
    original = CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=dow,
                           timezone=UTC)
    rebuilt = _through_json(original)
    assert _fires(rebuilt, now) == _fires(original, now)


@given(st.integers(1, 366 * 86400), STARTS, STARTS,
       st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]))
def test_interval_triggers_round_trip_exactly(seconds: int, start: datetime, now: datetime,
                                              zone: str) -> None:
    from zoneinfo import ZoneInfo

    original = IntervalTrigger(seconds=seconds, start_date=start, timezone=ZoneInfo(zone))
    rebuilt = _through_json(original)
    assert isinstance(rebuilt, IntervalTrigger)
    assert _fires(rebuilt, now, 3) == _fires(original, now, 3)


@given(JSON)
def test_any_json_is_a_trigger_or_refused(value: Any) -> None:
    with contextlib.suppress(StorageError):
        trigger_from_spec(value)


@given(st.sampled_from(["type", "fields", "start_date", "end_date", "timezone", "jitter"]),
       JSON)
def test_a_tampered_cron_spec_is_a_trigger_or_refused(key: str, value: Any) -> None:
    spec = trigger_spec(CronTrigger.from_crontab("0 0 1 * *", timezone=UTC))
    spec[key] = value
    with contextlib.suppress(StorageError):
        trigger_from_spec(spec)


@pytest.mark.parametrize("spec,why", [
    ({"type": "interval", "seconds": 60, "start_date": "2026-11-23T12:00:00",
      "end_date": None, "timezone": "UTC", "jitter": None}, "UTC offset"),
    ({"type": "interval", "seconds": 0, "start_date": "2026-11-23T12:00:00+00:00",
      "end_date": None, "timezone": "UTC", "jitter": None}, "positive number"),
    ({"type": "interval", "seconds": 60, "start_date": None, "end_date": None,
      "timezone": "UTC", "jitter": None}, "start date"),
    ({"type": "interval", "seconds": 60, "start_date": "2026-11-23T12:00:00+00:00",
      "end_date": None, "timezone": "Mars/Olympus", "jitter": None}, "unknown time zone"),
    ({"type": "cron", "fields": dict.fromkeys(CronTrigger.FIELD_NAMES, "nonsense"),
      "start_date": None, "end_date": None, "timezone": "UTC", "jitter": None}, "refused"),
])
def test_bad_specs_name_the_problem(spec: dict[str, Any], why: str) -> None:
    with pytest.raises(StorageError, match=why):
        trigger_from_spec(spec)


def test_only_cron_and_interval_triggers_are_stored() -> None:
    with pytest.raises(StorageError, match="cron and interval triggers only"):
        trigger_spec(DateTrigger(datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=1)))
