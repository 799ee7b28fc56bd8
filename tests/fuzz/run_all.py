"""Bounded mutation fuzzing of every parser, run by scripts/test.sh.

Each ``tests/fuzz/targets_*.py`` module exposes ``TARGETS``: a mapping of name to
``(function, seeds)``. A function takes ``bytes`` and must either return or raise a
:class:`crypto.errors.MedCryptError`; any other exception is a bug, reported with the
input that caused it (hex) so it can become a regression test.

The run is deterministic for a given ``--seed`` and bounded by ``--iterations`` per
target, so CI time is predictable. For open-ended coverage-guided fuzzing the same
targets can be handed to atheris (docs/OPERATIONS.md).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import random
import sys
import time
from collections.abc import Callable, Iterable

from medcrypt.crypto.errors import MedCryptError

Target = tuple[Callable[[bytes], object], Iterable[bytes]]

_INTERESTING = [b"", b"\x00", b"\xff" * 4, b"[MEDCRYPT:v2:", b"[MEDCRYPT:v3:", b"]", b"=",
                b"\n", b"\x80"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert random bytes
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 2 and buf:  # delete a run
            del buf[pos:pos + rng.randint(1, 16)]
        elif op == 3:  # truncate
            del buf[pos:]
        elif op == 4:  # splice an interesting token
            buf[pos:pos] = rng.choice(_INTERESTING)
        elif op == 5 and buf:  # duplicate a run
            run = buf[pos:pos + rng.randint(1, 32)]
            buf[pos:pos] = run
        else:  # overwrite a byte
            if buf:
                buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def discover() -> dict[str, Target]:
    import tests.fuzz as pkg

    found: dict[str, Target] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("targets_"):
            module = importlib.import_module(f"tests.fuzz.{info.name}")
            for name, target in module.TARGETS.items():
                found[f"{info.name[8:]}.{name}"] = target
    return found


def fuzz(name: str, target: Target, iterations: int, seed: int) -> int:
    func, seeds = target
    corpus = [bytes(s) for s in seeds] or [b""]
    rng = random.Random(f"{seed}:{name}")
    for i in range(iterations):
        data = rng.randbytes(rng.randint(0, 256)) if i % 10 == 9 else mutate(
            rng, rng.choice(corpus))
        try:
            func(data)
        except MedCryptError:
            pass
        except Exception as exc:  # any other exception is a parser bug
            print(f"FUZZ FAILURE in {name} after {i} inputs: {type(exc).__name__}: {exc}")
            print(f"input (hex): {data.hex()}")
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    targets = discover()
    failures = 0
    for name, target in sorted(targets.items()):
        if args.only and args.only not in name:
            continue
        start = time.perf_counter()
        failures += fuzz(name, target, args.iterations, args.seed)
        print(f"fuzz {name}: {args.iterations} inputs in {time.perf_counter() - start:.1f}s")
    print(f"fuzz: {len(targets) - failures} passed, {failures} failed")
    return 1 if failures or not targets else 0


if __name__ == "__main__":
    sys.exit(main())
