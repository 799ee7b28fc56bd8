"""Cold start of ``medcrypt decrypt`` as a whole process, keystore unlock included.

Each run is a fresh process (the installed console script) that unlocks the keystore
(Argon2id, 64 MiB), applies the calendar, opens one token, saves the keystore and
prints the plaintext - what a user waits for. Baselines measured in the same run:
``python -c pass`` (interpreter start) and one Argon2id derivation in this process (the
unlock's raw primitive). Then ``python -X importtime`` shows which imports cost what.

    python -m bench.run coldstart
    python -m bench.bench_coldstart --runs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nacl.pwhash import argon2id

NOW = "2026-11-23T10:00:00+00:00"
PASSPHRASE = "bench passphrase"


def _exe() -> str:
    script = Path(sys.executable).with_name("medcrypt")
    if not script.exists():
        raise SystemExit("install the project first (bash scripts/bootstrap.sh)")
    return str(script)


def _run(argv: list[str], env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env,
                          check=False)
    if done.returncode:
        raise SystemExit(f"{argv[1:4]} failed: {done.stderr.strip()}")
    return done.stdout


def _setup(tmp: Path, env: dict[str, str], count: int) -> tuple[str, str, list[str]]:
    exe = _exe()
    doc, pat = str(tmp / "doc"), str(tmp / "pat")
    _run([exe, "--home", doc, "init", "--role", "physician"], env)
    _run([exe, "--home", pat, "init", "--role", "patient"], env)
    _run([exe, "--home", doc, "pair", "offer", "--png", str(tmp / "qr.png"), "--no-terminal"],
         env)
    accept = _run([exe, "--home", pat, "pair", "accept", "--qr", str(tmp / "qr.png")], env)
    token = next(line for line in accept.splitlines() if line.startswith("[MEDCRYPT"))
    _run([exe, "--home", doc, "pair", "complete", token], env)
    tokens = [_run([exe, "--home", pat, "encrypt"], env, stdin=f"Blood pressure reading {i}")
              for i in range(count)]
    return doc, pat, tokens


def _time(argv: list[str], env: dict[str, str], stdin: str = "") -> float:
    start = time.perf_counter()
    _run(argv, env, stdin)
    return time.perf_counter() - start


def _import_costs(doc: str, token: str, env: dict[str, str]) -> list[tuple[int, str]]:
    code = ("import sys; from medcrypt.companion.cli import main; "
            f"sys.exit(main(['--home', {doc!r}, 'decrypt']))")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], input=token,
                          capture_output=True, text=True, env=env, check=False)
    costs = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line[len("import time:"):].split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth <= 1:
            costs.append((int(cumulative), ("  " * depth) + name.strip()))
    return sorted(costs, reverse=True)[:14]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    args, _ = parser.parse_known_args(argv)
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": NOW}
    env.pop("MEDCRYPT_HOME", None)
    exe = _exe()
    with tempfile.TemporaryDirectory() as tmp:
        doc, _pat, tokens = _setup(Path(tmp), env, args.runs + 1)
        decrypt = [_time([exe, "--home", doc, "decrypt"], env, tokens[i])
                   for i in range(args.runs)]
        python = [_time([sys.executable, "-c", "pass"], env) for _ in range(args.runs)]
        status = [_time([exe, "--home", doc, "status"], env) for _ in range(args.runs)]
        kdf = []
        for _ in range(5):
            start = time.perf_counter()
            argon2id.kdf(32, b"x" * 16, b"s" * 16, opslimit=argon2id.OPSLIMIT_INTERACTIVE,
                         memlimit=argon2id.MEMLIMIT_INTERACTIVE)
            kdf.append(time.perf_counter() - start)
        imports = _import_costs(doc, tokens[-1], env)
    rows = [("python -c pass (interpreter start)", python),
            ("Argon2id INTERACTIVE, in-process (unlock primitive)", kdf),
            ("medcrypt status (unlock + calendar + save)", status),
            ("medcrypt decrypt (unlock + open 1 token + save)", decrypt)]
    base = statistics.median(python)
    print(f"\n## cold start, median of {args.runs} fresh processes (target < 300 ms)")
    print(f"{'case':<56} {'median':>10} {'vs python':>10}")
    for name, samples in rows:
        med = statistics.median(samples)
        print(f"{name:<56} {med * 1000:>8.1f}ms {med / base:>9.1f}x")
    print("\n## python -X importtime for `medcrypt decrypt` (cumulative, top entries)")
    for micros, name in imports:
        print(f"{micros / 1000:>8.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
