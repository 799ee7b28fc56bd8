"""What one call to each key provider costs: wrap+unwrap of a 32-byte data key, and one
checkpoint signature, against the ``env`` provider as the anchor of the same run.

The providers run as the tests run them: SoftHSM2 through its PKCS#11 module, an
OpenBao dev server on loopback (Transit over HTTP), moto's KMS in server mode. A
provider whose service is not available here is left out with the reason. These are
the calls the key tree (issue 17, not built yet) makes once per KEK per TTL - never per
message - so the figures say how long a cold start or an epoch close waits, not what a
message costs.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from contextlib import ExitStack

from bench.harness import Measurement, load_average, measure, report
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.provider import KeyAdmin

KEY = os.urandom(32)
CTX = {"purpose": "bench", "kek": "1"}
MESSAGE = b"m" * 120  # about a checkpoint message's length


def _providers(stack: ExitStack) -> list[tuple[str, Callable[[], KeyAdmin]]]:
    """(name, open) for each provider whose service can run here; ``stack`` stops them."""
    from tests.support import keyrigs, keyservers

    found: list[tuple[str, Callable[[], KeyAdmin]]] = []
    try:
        hsm = stack.enter_context(keyservers.softhsm())
        found.append(("pkcs11 (SoftHSM2)", lambda: keyrigs.pkcs11_rig(hsm).bot))
    except BaseException as exc:
        print(f"# pkcs11 left out: {exc}")
    try:
        bao = stack.enter_context(keyservers.openbao())
        found.append(("transit (OpenBao, loopback HTTP)", lambda: keyrigs.transit_rig(bao).bot))
    except BaseException as exc:
        print(f"# transit left out: {exc}")
    endpoint = stack.enter_context(keyservers.moto_kms())
    found.append(("kms (moto server, loopback HTTP)", lambda: keyrigs.kms_rig(endpoint).bot))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_keyproviders")
    parser.add_argument("--number", type=int, default=50, help="calls per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (median is reported)")
    args, _ = parser.parse_known_args(argv)
    kw = {"number": args.number, "repeat": args.repeat}

    env = EnvProvider({1: os.urandom(32)}, os.urandom(32))
    anchor = measure("env: wrap+unwrap (anchor)", lambda: env.unwrap(env.wrap(KEY, CTX), CTX),
                     **kw)
    rows: list[Measurement] = [anchor, measure("env: sign", lambda: env.sign(MESSAGE), **kw)]
    with ExitStack() as stack:
        for name, opener in _providers(stack):
            provider = opener()
            try:
                rows.append(measure(f"{name}: wrap+unwrap",
                                    lambda p=provider: p.unwrap(p.wrap(KEY, CTX), CTX), **kw))
                rows.append(measure(f"{name}: sign", lambda p=provider: p.sign(MESSAGE), **kw))
            finally:
                provider.close()
    print(f"# load average before the report: {load_average()}")
    report("key providers: one call each, against env", rows, anchor)
    return 0
