"""Attachments and v1 migration through the CLI, and one run of the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medcrypt.crypto.endpoint.attachment import CHUNK_OVERHEAD, CHUNK_SIZE, container_size
from medcrypt.crypto.keyless.wire import FILE_HEADER_LEN
from tests.support.companion import PASSPHRASE, T0, Cli, Pair
from tests.support.v1_reference import v1_encrypt, v1_key


def test_send_and_open_file_both_ways(cli: Cli, pair: Pair) -> None:
    lab = cli.tmp / "CBC results.pdf"
    data = os.urandom(3 * CHUNK_SIZE + 123)
    lab.write_bytes(data)
    manifest = cli.ok(pair.doc, "send-file", str(lab), "--out", "lab.mcf").out
    container = cli.tmp / "lab.mcf"
    assert container.stat().st_size == container_size(len(data))
    assert data[:64] not in container.read_bytes()
    # decrypting the manifest message announces the file; open-file then needs no token
    shown = cli.ok(pair.pat, "decrypt", stdin=manifest).out
    assert "CBC results.pdf" in shown and "application/pdf" in shown
    inbox = cli.tmp / "inbox"
    inbox.mkdir()
    out = cli.ok(pair.pat, "open-file", str(container), "--out-dir", str(inbox)).out.strip()
    assert Path(out) == inbox / "CBC results.pdf"
    assert Path(out).read_bytes() == data
    assert cli(pair.pat, "open-file", str(container), "--out-dir", str(inbox)).code == 2
    # and the other way, with the manifest token given directly
    photo = cli.tmp / "rash.jpg"
    photo.write_bytes(b"\xff\xd8" + os.urandom(5000))
    token = cli.ok(pair.pat, "send-file", str(photo), "--out", "rash.jpg.mcf").out
    out2 = cli.ok(pair.doc, "open-file", "rash.jpg.mcf", "--manifest", "-",
                  "--out", str(cli.tmp / "got.jpg"), stdin=token).out.strip()
    assert Path(out2).read_bytes() == photo.read_bytes()
    history = cli.ok(pair.doc, "history", "list").out
    assert "rash.jpg" in history


def test_truncated_or_reordered_container_leaves_nothing(cli: Cli, pair: Pair) -> None:
    src = cli.tmp / "scan.bin"
    src.write_bytes(os.urandom(2 * CHUNK_SIZE + 10))
    token = cli.ok(pair.doc, "send-file", str(src), "--out", "scan.mcf").out
    cli.ok(pair.pat, "decrypt", stdin=token)
    blob = (cli.tmp / "scan.mcf").read_bytes()
    enc = CHUNK_SIZE + CHUNK_OVERHEAD
    head, body = blob[:FILE_HEADER_LEN + 24], blob[FILE_HEADER_LEN + 24:]
    chunks = [body[i:i + enc] for i in range(0, len(body), enc)]
    damaged = {
        "truncated": blob[:-1],
        "final-dropped": head + chunks[0] + chunks[1],
        "reordered": head + chunks[1] + chunks[0] + chunks[2],
    }
    out_dir = cli.tmp / "out"
    out_dir.mkdir()
    for name, data in damaged.items():
        path = cli.tmp / f"{name}.mcf"
        path.write_bytes(data)
        res = cli(pair.pat, "open-file", str(path), "--out-dir", str(out_dir))
        assert res.code == 3, name
        assert list(out_dir.iterdir()) == [], name


def test_file_key_is_forgotten_with_its_epoch(cli: Cli, pair: Pair) -> None:
    src = cli.tmp / "x.txt"
    src.write_text("results")
    token = cli.ok(pair.doc, "send-file", str(src), "--out", "x.mcf").out
    cli.ok(pair.pat, "decrypt", stdin=token)
    late = cli(pair.pat, "open-file", "x.mcf", "--out", "y.txt", now="2026-12-09T00:00:00+00:00")
    assert late.code == 2 and "shredded" in late.err


def test_v1_decrypt_and_hint(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "clinic shared secret"
    key = v1_key(secret, "2025-03")
    tokens = [v1_encrypt(t.encode(), b"patient-17", secret, "2025-03", key=key)
              for t in ("Metformin 500 mg", "HbA1c 6.9 %")]
    monkeypatch.setenv("OLD_SECRET", secret)
    out = cli.ok(cli.tmp, "v1", "decrypt", "--secret-env", "OLD_SECRET", "--month", "2025-03",
                 stdin="\n".join(tokens)).out
    assert out == "Metformin 500 mg\nHbA1c 6.9 %\n"
    wrong_month = cli(cli.tmp, "v1", "decrypt", "--secret-env", "OLD_SECRET", "--month",
                      "2025-04", stdin=tokens[0])
    assert wrong_month.code == 3 and wrong_month.out == ""
    unset = cli(cli.tmp, "v1", "decrypt", "--secret-env", "NOPE", "--month", "2025-03",
                stdin=tokens[0])
    assert unset.code == 2 and "NOPE" in unset.err
    bad_month = cli(cli.tmp, "v1", "decrypt", "--secret-env", "OLD_SECRET", "--month", "03/25",
                    stdin=tokens[0])
    assert bad_month.code == 2
    hint = cli(cli.tmp / "nohome", "decrypt", stdin=tokens[0])
    assert hint.code == 3 and "v1 decrypt" in hint.err


def _console_script() -> str:
    script = Path(sys.executable).with_name("medcrypt")
    assert script.exists(), "install the project first: bash scripts/bootstrap.sh"
    return str(script)


def test_real_console_script_round_trip(tmp_path: Path) -> None:
    """The installed `medcrypt` script, as separate processes, through a QR PNG (v3)."""
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0}
    env.pop("MEDCRYPT_HOME", None)
    exe = _console_script()

    def run(*argv: str, stdin: str = "") -> str:
        done = subprocess.run([exe, *argv], input=stdin, capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    doc, pat = str(tmp_path / "doc"), str(tmp_path / "pat")
    run("--home", doc, "init", "--role", "physician")
    env["MEDCRYPT_HOME"] = pat  # the environment variable works as well as --home
    run("init", "--role", "patient")
    run("--home", doc, "pair", "offer", "--png", "qr.png", "--no-terminal")
    accept = run("pair", "accept", "--qr", "qr.png")
    token = next(line for line in accept.splitlines() if line.startswith("[MEDCRYPT:v3:"))
    code = next(line for line in accept.splitlines() if line.startswith("Verification code:"))
    digits = "".join(code.split()[2:4])
    done = run("--home", doc, "pair", "complete", token, "--code", digits)
    confirm = next(line for line in done.splitlines() if line.startswith("[MEDCRYPT:v3:"))
    run("pair", "confirm", confirm)
    sealed = run("encrypt", stdin="Dizziness after the new dose")
    assert run("--home", doc, "decrypt", stdin=sealed) == "Dizziness after the new dose"
    back = run("--home", doc, "encrypt", stdin="Halve it and call me Friday")
    assert run("decrypt", stdin=back) == "Halve it and call me Friday"
    failed = subprocess.run([exe, "decrypt"], input=back, capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120, check=False)
    assert failed.returncode == 4 and failed.stdout == ""
    assert failed.stderr.startswith("medcrypt: error:") and failed.stderr.count("\n") == 1


def test_decrypt_does_not_import_the_qr_stack(cli: Cli, pair: Pair) -> None:
    """Cold start: `medcrypt decrypt` must not pay for segno, Pillow or zxing."""
    token = cli.ok(pair.pat, "encrypt", stdin="x").out
    code = ("import sys; from medcrypt.companion.cli import main; "
            "rc = main(['--home', sys.argv[1], 'decrypt']); "
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'segno', 'PIL', 'zxingcpp', 'platformdirs', 'hypothesis'} | "
            "({'medcrypt.crypto.endpoint.v1', 'medcrypt.crypto.endpoint.attachment'} "
            "& set(sys.modules))); "
            "print('HEAVY', heavy, rc)")
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0}
    done = subprocess.run([sys.executable, "-c", code, str(pair.doc)], input=token,
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    assert done.stdout.endswith("HEAVY [] 0\n"), done.stdout + done.stderr


def test_v1_prefix_copy_matches() -> None:
    from medcrypt.companion.cli.messages import V1_PREFIX
    from medcrypt.crypto.endpoint import v1

    assert V1_PREFIX == v1.V1_PREFIX
