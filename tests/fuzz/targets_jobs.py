"""Fuzz targets for the jobs' parsers: routing headers of stored rows, ``--now`` times,
the scheduler job store's trigger specs.

The purge reads headers of rows it is about to delete (outbox payloads, part chunks);
they came from outside once, so garbage there must be skipped, never crash a sweep.
The job store rebuilds triggers from JSON in the database, which anyone able to write
the database controls: garbage there is a refused job, never a crash.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable

from medcrypt.bot.cli.jobs import parse_instant
from medcrypt.bot.domain.lifecycle.purge import _outbox_target, _token_target
from medcrypt.crypto.errors import ConfigError, StorageError
from medcrypt.crypto.keyless.parts import split_token
from medcrypt.crypto.keyless.wire import encode_token
from medcrypt.storage.triggerspec import trigger_from_spec

_HEADER = bytes([2, 1]) + bytes(range(16)) + (682).to_bytes(4, "big") + b"\x00" + bytes(4)
_TOKEN = encode_token(_HEADER + bytes(24) + bytes(range(64)))
_PARTS = split_token(_TOKEN, 80, rng=lambda n: bytes(n))
_FILE = b"MCF2\x02" + bytes(range(16)) + (682).to_bytes(4, "big") + b"\x01" + bytes(16) + b"x"


def _outbox_text(data: bytes) -> object:
    return _outbox_target("text", data)


def _outbox_document(data: bytes) -> object:
    return _outbox_target("document", data)


def _instant(data: bytes) -> object:
    # argparse turns ArgumentTypeError into a one-line usage error (exit 2).
    try:
        return parse_instant(data.decode("utf-8", "replace"))
    except argparse.ArgumentTypeError as exc:
        raise ConfigError("--now", str(exc)) from None


def _trigger_spec(data: bytes) -> object:
    try:
        spec = json.loads(data)
    except ValueError:  # not JSON at all: the store refuses the row the same way
        raise StorageError("stored job is not valid JSON") from None
    return trigger_from_spec(spec)


_CRON = (b'{"type": "cron", "fields": {"year": "*", "month": "*", "day": "1", "week": "*", '
         b'"day_of_week": "*", "hour": "0", "minute": "0", "second": "0"}, "start_date": null, '
         b'"end_date": null, "timezone": "UTC", "jitter": null}')
_INTERVAL = (b'{"type": "interval", "seconds": 3600.0, "start_date": '
             b'"2026-11-23T12:00:00+00:00", "end_date": null, "timezone": "Europe/Paris", '
             b'"jitter": 5}')


TARGETS: dict[str, tuple[Callable[[bytes], object], Iterable[bytes]]] = {
    "jobs_token_prefix": (_token_target, [_HEADER, _HEADER[:10]]),
    "jobs_outbox_text": (_outbox_text, [_TOKEN.encode(), *(p.encode() for p in _PARTS)]),
    "jobs_outbox_document": (_outbox_document, [_FILE]),
    "jobs_now": (_instant, [b"2027-01-01T00:00:00Z", b"2026-11-08T00:00:00+01:00"]),
    "jobs_trigger_spec": (_trigger_spec, [_CRON, _INTERVAL]),
}
