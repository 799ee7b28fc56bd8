"""The key tree's costs (issue 17), all in one run:

* **added latency per relayed message, PKCS#11 vs env**: two bots (no platforms, as in
  ``bench_relay``'s "bot only" part), one rooted in SoftHSM2 and one in ``env``, take the
  same traffic - first messages of new people (each creates an identity and its DEK),
  then relay tokens - and each inbound call and each outbound row (whose address the
  worker opens through the person's DEK) is timed. With the KEK warm neither bot calls
  its provider, so the goal is the p99 difference within 1 ms. The PKCS#11 provider's
  own call count is printed next to it.
* **sealing a phone number with a warm DEK**, as a ratio to the raw AEAD
  (XChaCha20-Poly1305 of the same bytes, the anchor): the pure seal, and the storage
  path that also reads and checks the DEK row in the transaction.

Run: ``python -m bench.run keytree [--messages N] [--people P]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import Measurement, load_average, measure, report
from bench.senders import InstantSender
from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.app.logs import setup_logging
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import (
    Direction,
    Kind,
    encode_accept,
    encode_register,
    encode_sealed_header,
    encode_token,
)
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.migrate import upgrade
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.repos.identities import get_or_create_identity

PHONE = "+15551230001"


def _token(pid: bytes, i: int) -> str:
    header = encode_sealed_header(Kind.MESSAGE, pid, epoch=epoch_of(datetime.now(UTC)),
                                  direction=Direction.PHYSICIAN_TO_PATIENT, index=i,
                                  nonce=os.urandom(24))
    return encode_token(header + os.urandom(200))


def _bot(tmp: Path, name: str, keys: dict[str, Any], environ: dict[str, str]) -> BotApp:
    settings = parse_settings({
        "database": {"url": f"sqlite:///{tmp / (name + '.db')}"},
        "logging": {"level": "WARNING"},
        "telegram": {"enabled": False}, "whatsapp": {"enabled": False},
        "relay": {"user_messages_per_minute": 0, "outbox_concurrency": 64},
        "keys": keys,
    })
    setup_logging(settings)
    return BotApp(settings, environ={
        "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(), **environ})


def _q(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=100)[98]


def _traffic(bot: BotApp, people: int, messages: int, base: int) -> dict[str, list[float]]:
    """Per-call latencies (ms): new people's first messages, relay tokens, outbound rows.
    ``base`` keeps each round's people new."""
    expires = int(time.time()) + 3600
    pids = [os.urandom(16) for _ in range(people)]
    first: list[float] = []
    for j, pid in enumerate(pids):  # two new people per pairing: both first messages
        i = base + j
        for kwargs in (
                {"platform": Platform.TELEGRAM, "address": str(8_000_001 + i),
                 "text": encode_token(encode_register(pid, epoch_of(datetime.now(UTC)), 7,
                                                      expires))},
                {"platform": Platform.WHATSAPP, "address": f"whatsapp:+1555{i:07d}",
                 "text": encode_token(encode_accept(pid, b"\x01" + os.urandom(96)))}):
            t0 = time.perf_counter()
            bot.intake.accept(dedupe_key=uuid.uuid4().hex, **kwargs)  # type: ignore[arg-type]
            first.append((time.perf_counter() - t0) * 1000)
    relay: list[float] = []
    for i in range(messages):
        text = _token(pids[i % people], i)
        t0 = time.perf_counter()
        bot.intake.accept(platform=Platform.TELEGRAM,
                          address=str(8_000_001 + base + i % people),
                          dedupe_key=uuid.uuid4().hex, text=text)
        relay.append((time.perf_counter() - t0) * 1000)

    bot.worker._senders = {Platform.TELEGRAM: InstantSender(),
                           Platform.WHATSAPP: InstantSender()}
    outbound: list[float] = []

    async def drain() -> None:
        while True:
            t0 = time.perf_counter()
            k = await bot.worker.run_once()
            if not k:
                return
            outbound.extend([(time.perf_counter() - t0) * 1000 / k] * k)

    asyncio.run(drain())
    return {"first message of a new person": first, "relay token (inbound)": relay,
            "outbound row (address opened)": outbound}


def _seal_figures(tmp: Path) -> list[Measurement]:
    url = f"sqlite:///{tmp / 'seal.db'}"
    upgrade(url)
    engine = make_engine(url)
    ring = Keyring.from_env_value("1:" + base64.b64encode(os.urandom(32)).decode())
    sessions = session_factory(engine)
    with sessions.begin() as s:
        ident, _ = get_or_create_identity(s, ring, "whatsapp", PHONE, now=datetime.now(UTC))
        ident_id = ident.id
    key, phone, aad = bytearray(os.urandom(32)), PHONE.encode(), b"platform_identities"
    anchor = measure("raw XChaCha20-Poly1305 of a phone number (anchor)",
                     lambda: prim.xchacha_encrypt(key, os.urandom(24), phone, aad),
                     number=2000, repeat=7)
    ref = kt.DekRef("ab" * 16, 1)
    pure = measure("tree seal, warm DEK (format + AAD)",
                   lambda: kt.seal_value(key, ref, phone, table="platform_identities",
                                         column="address", row_id=ident_id),
                   number=2000, repeat=7)
    session = sessions()
    row = session.get(PlatformIdentity, ident_id)

    def stored() -> None:
        PlatformIdentity.ADDRESS.store(row, ring, PHONE, session=session)

    path = measure("tree seal + DEK row check in the transaction", stored,
                   number=500, repeat=7)
    session.rollback()
    session.close()
    assert deks.tree_of(ring).provider_calls == 1  # the KEK's wrap, once
    engine.dispose()
    return [anchor, pure, path]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_keytree")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--people", type=int, default=200, help="new pairings (2 people each)")
    parser.add_argument("--quick", action="store_true", help="smaller run (smoke test)")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.messages, args.people = 200, 20
    print(f"# load average before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-keytree-") as tmp, \
            ExitStack() as stack:
        from medcrypt.bot.keyproviders.pkcs11 import Pkcs11Provider
        from tests.support import keyservers

        hsm = stack.enter_context(keyservers.softhsm())
        prefix = "b" + uuid.uuid4().hex[:12]
        Pkcs11Provider(hsm.module, hsm.token, hsm.pin, prefix=prefix, create=True).close()
        bots = {
            "env": _bot(Path(tmp), "env", {"provider": "env"}, {}),
            "pkcs11": _bot(Path(tmp), "pkcs11", {
                "provider": "pkcs11", "key_prefix": prefix,
                "pkcs11": {"module": hsm.module, "token_label": hsm.token}},
                {"MEDCRYPT_PKCS11_PIN": hsm.pin}),
        }
        provider = bots["pkcs11"].keyring.tree.root
        warm = dict(provider.calls)
        # Rounds alternate which bot goes first, so the machine's load falls on both.
        results: dict[str, dict[str, list[float]]] = {n: {} for n in bots}
        rounds = 4
        for r in range(rounds):
            order = list(bots) if r % 2 == 0 else list(reversed(bots))
            for name in order:
                got = _traffic(bots[name], args.people // rounds, args.messages // rounds,
                               base=r * args.people)
                for case, values in got.items():
                    results[name].setdefault(case, []).extend(values)
        after = dict(provider.calls)
        for bot in bots.values():
            bot.engine.dispose()
        seal = _seal_figures(Path(tmp))
    print(f"# load average after: {load_average()}")
    print(f"\n## added latency per relayed message, PKCS#11 (SoftHSM2) vs env "
          f"({args.people * 2} new people, {args.messages} relay tokens; goal: p99 "
          f"difference within 1 ms)")
    print(f"{'case':<34} {'env p50/p99 ms':>18} {'pkcs11 p50/p99 ms':>20} {'p99 diff':>10}")
    for case in results["env"]:
        e50, e99 = _q(results["env"][case])
        p50, p99 = _q(results["pkcs11"][case])
        print(f"{case:<34} {e50:8.3f} / {e99:7.3f} {p50:9.3f} / {p99:8.3f} "
              f"{p99 - e99:+9.3f}")
    print(f"PKCS#11 calls at start: {warm}; during the traffic: "
          f"{ {k: after[k] - warm.get(k, 0) for k in after if after[k] != warm.get(k, 0)} }")
    report("sealing a phone number with a warm DEK, against the raw AEAD", seal, seal[0])
    return 0
