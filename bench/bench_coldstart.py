"""Cold start of ``medcrypt decrypt`` as a whole process, keystore unlock included.

Each run is a fresh process (the installed console script) that unlocks the keystore
(Argon2id at the product profile), applies the calendar, opens one token, saves the
keystore and prints the plaintext - what a user waits for (budget: median 800 ms).
Measured in the same run, interleaved round by round so load changes hit every row
alike: ``python -c pass`` (interpreter start) and one Argon2id derivation at the same
profile in this process - the unlock's raw primitive, reported as its share of the
decrypt median. Then the one-off cost of the first decrypt of a keystore still at the
old INTERACTIVE profile (it is re-sealed at the new one), the load average around the
run, and ``python -X importtime`` for which imports cost what.

    python -m bench.run coldstart
    python -m bench.bench_coldstart --runs 15
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nacl.pwhash import argon2id

from bench.harness import load_average
from medcrypt.companion.keystore import FILE_NAME
from medcrypt.crypto.endpoint.keystore import LEGACY_INTERACTIVE, PROFILE, KeystoreKey

NOW = "2026-11-23T10:00:00+00:00"
PASSPHRASE = "bench passphrase"
BUDGET_MS = 800
UPGRADE_RUNS = 5


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
    _run([exe, "--home", doc, "pair", "offer", "--protocol", "2", "--png", str(tmp / "qr.png"),
          "--no-terminal"], env)
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


def _kdf() -> float:
    start = time.perf_counter()
    argon2id.kdf(32, b"x" * 16, b"s" * 16, opslimit=PROFILE.opslimit, memlimit=PROFILE.memlimit)
    return time.perf_counter() - start


def _legacy_copy(home: str, to: Path) -> str:
    """A copy of ``home`` whose keystore is sealed as before: INTERACTIVE (2, 64 MiB)."""
    shutil.copytree(home, to)
    path = to / FILE_NAME
    key, padded = KeystoreKey.unlock(PASSPHRASE, path.read_bytes())
    key.wipe()
    with KeystoreKey.new(PASSPHRASE, profile=LEGACY_INTERACTIVE) as old:
        path.write_bytes(old.seal(padded.rstrip(b" ")))
    return str(to)


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
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        doc, _pat, tokens = _setup(Path(tmp), env, args.runs + 1)
        decrypt, python, status, kdf = [], [], [], []
        for i in range(args.runs):  # interleaved: one sample of each per round
            decrypt.append(_time([exe, "--home", doc, "decrypt"], env, tokens[i]))
            kdf.append(_kdf())
            python.append(_time([sys.executable, "-c", "pass"], env))
            status.append(_time([exe, "--home", doc, "status"], env))
        upgrade = []
        for i in range(UPGRADE_RUNS):
            old = _legacy_copy(doc, Path(tmp) / f"legacy-{i}")
            upgrade.append(_time([exe, "--home", old, "decrypt"], env, tokens[-1]))
        imports = _import_costs(doc, tokens[-1], env)
    load_after = load_average()
    profile = f"{PROFILE.opslimit} passes, {PROFILE.memlimit // 2**20} MiB"
    rows = [("python -c pass (interpreter start)", python),
            (f"Argon2id ({profile}), in-process", kdf),
            ("medcrypt status (unlock + calendar + save)", status),
            ("medcrypt decrypt (unlock + open 1 token + save)", decrypt),
            ("first decrypt of an INTERACTIVE keystore (+ re-seal)", upgrade)]
    base = statistics.median(python)
    med_decrypt = statistics.median(decrypt)
    print(f"\n## cold start, median of {args.runs} fresh processes (budget {BUDGET_MS} ms); "
          f"load average before {load_before}, after {load_after}")
    print(f"{'case':<56} {'median':>10} {'vs python':>10}")
    for name, samples in rows:
        med = statistics.median(samples)
        print(f"{name:<56} {med * 1000:>8.1f}ms {med / base:>9.1f}x")
    share = statistics.median(kdf) / med_decrypt
    verdict = "within" if med_decrypt * 1000 <= BUDGET_MS else "OVER"
    print(f"Argon2id share of the decrypt cold start: {share:.0%} "
          f"({verdict} the {BUDGET_MS} ms budget)")
    print("\n## python -X importtime for `medcrypt decrypt` (cumulative, top entries)")
    for micros, name in imports:
        print(f"{micros / 1000:>8.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
