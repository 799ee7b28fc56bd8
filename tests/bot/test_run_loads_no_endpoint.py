"""A running ``medcrypt-bot run`` holds no decrypting code: no ``medcrypt.crypto.endpoint``
module is ever in the bot process's ``sys.modules``.

The import contract proves the bot's *source* never imports endpoint crypto; this proves
the *process* does not either (a parser that imports every command family, an eager
package ``__init__`` or a lazy import on the first message would each break it while the
contract stays green).

How the process is observed without changing it: the installed ``medcrypt-bot`` console
script runs unmodified, with a directory on ``PYTHONPATH`` whose ``sitecustomize``
installs a SIGUSR1 handler that writes ``sorted(sys.modules)`` (and the pid, argv and
where ``medcrypt`` was imported from) to a file. The test waits for the bot's own
``bot_started`` log line, relays a pairing and one message each way through the
loopback sandbox, then signals and reads the snapshot. So the check cannot pass
vacuously: the snapshot must come from that live pid, after start-up and traffic, from
this checkout, and must show the keyless and server modules the relay runs on; and the
same probe, in a process that does import an endpoint module, must report it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from medcrypt.crypto.keyless.wire import Direction
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.ports import worker_port
from tests.support.rigs import sandbox_settings, write_config
from tests.support.tokens import accept_token, message_token, register_token

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "medcrypt.crypto.endpoint"
#: What the relay must have loaded to have done its job (keyless parsing, sealed
#: columns, audit, the adapters) - the snapshot is worthless without them.
MUST_BE_LOADED = (
    "medcrypt.bot.cli.run",
    "medcrypt.bot.app.bot",
    "medcrypt.bot.relay.router",
    "medcrypt.bot.adapters.telegram",
    "medcrypt.bot.adapters.whatsapp",
    "medcrypt.crypto.keyless.wire",
    "medcrypt.crypto.keyless.parts",
    "medcrypt.crypto.keyless.epochs",
    "medcrypt.crypto.server.keyring",
    "medcrypt.crypto.server.audit",
    "medcrypt.crypto._primitives",
)

PROBE = '''\
"""Test probe: on SIGUSR1 write this process's sys.modules to $MEDCRYPT_TEST_MODULES_OUT."""
import json
import os
import signal
import sys


def _dump(_signum, _frame):
    out = os.environ["MEDCRYPT_TEST_MODULES_OUT"]
    medcrypt = sys.modules.get("medcrypt")
    snapshot = {"pid": os.getpid(), "argv": list(sys.argv), "modules": sorted(sys.modules),
                "medcrypt_file": getattr(medcrypt, "__file__", None)}
    with open(out + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(snapshot, fh)
    os.replace(out + ".tmp", out)


signal.signal(signal.SIGUSR1, _dump)
'''


def endpoint_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if m == ENDPOINT or m.startswith(ENDPOINT + ".")]


def console_script() -> Path:
    script = Path(sys.executable).parent / "medcrypt-bot"
    if not script.is_file():
        pytest.fail(f"no {script}: install the project (pip install -e '.[dev]') so the "
                    "test runs the real console script")
    return script


def probe_env(tmp: Path, base: dict[str, str]) -> tuple[dict[str, str], Path]:
    probe_dir = tmp / "probe"
    probe_dir.mkdir()
    (probe_dir / "sitecustomize.py").write_text(PROBE, encoding="utf-8")
    out = tmp / "modules.json"
    env = {**base, "MEDCRYPT_TEST_MODULES_OUT": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(probe_dir),
                                                       base.get("PYTHONPATH")]))}
    return env, out


def snapshot_of(proc: subprocess.Popen[bytes], out: Path, timeout: float = 30) -> dict[str, Any]:
    out.unlink(missing_ok=True)
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not out.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before the snapshot")
        if time.monotonic() > deadline:
            raise AssertionError("no sys.modules snapshot: is the probe installed?")
        time.sleep(0.05)
    snap: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return snap


def _bot_started(log: Path) -> dict[str, Any] | None:
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "bot_started":
                return dict(event)
    return None


def _wait_for_start(proc: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = _bot_started(log)
        if started is not None:
            return started
        if proc.poll() is not None:
            raise AssertionError(f"the bot exited ({proc.returncode}):\n{log.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"the bot never logged bot_started:\n{log.read_text()}")


def _post_until_accepted(tw: FakeTwilio, number: str, text: str) -> None:
    sid = "SM" + os.urandom(16).hex()
    for _ in range(400):
        if tw.user_sends_whatsapp(number, text, message_sid=sid).http_status in (200, 403):
            return
        time.sleep(0.05)
    raise AssertionError("the webhook never accepted the message")


def test_running_bot_has_no_endpoint_module_loaded(tmp_path: Path) -> None:
    script = console_script()
    port = worker_port()
    physician, patient, pairing_id = 6_100_001, "+15552100001", os.urandom(16)
    with FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound") as tw:
        base = {**os.environ,
                "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
                "TELEGRAM_BOT_TOKEN": tg.token, "TWILIO_ACCOUNT_SID": tw.account_sid,
                "TWILIO_AUTH_TOKEN": tw.auth_token, "TWILIO_WHATSAPP_FROM": tw.whatsapp_from}
        base.pop("MEDCRYPT_DATABASE_URL", None)
        env, out = probe_env(tmp_path, base)
        log = tmp_path / "bot.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [str(script), "--config", str(write_config(tmp_path / "bot.toml", sandbox_settings(
                    tg, tw, port, tmp_path / "bot.db", logging={"format": "json"}))),
                 "run"],
                cwd=ROOT, env=env, stdout=sink, stderr=sink)
        try:
            started = _wait_for_start(proc, log)
            assert started.get("telegram") is True and started.get("whatsapp") is True
            # traffic: a pairing and one message each way, so lazy imports on the
            # message path have happened before the snapshot
            tg.user_sends_text(physician, register_token(pairing_id))
            tg.wait_for_messages(physician, 1, timeout=30)
            _post_until_accepted(tw, patient, accept_token(pairing_id))
            tg.wait_for_messages(physician, 3, timeout=30)
            tw.wait_until(lambda: len(tw.messages_to(patient)) >= 2, timeout=30)
            to_patient = message_token(pairing_id, Direction.PHYSICIAN_TO_PATIENT)
            tg.user_sends_text(physician, to_patient)
            tw.wait_until(lambda: any(m.body == to_patient for m in tw.messages_to(patient)),
                          timeout=30)
            to_physician = message_token(pairing_id, Direction.PATIENT_TO_PHYSICIAN)
            _post_until_accepted(tw, patient, to_physician)
            deadline = time.monotonic() + 30
            while not any(m.text == to_physician for m in tg.messages_to(physician)):
                assert time.monotonic() < deadline, "the patient's message was not relayed"
                time.sleep(0.05)

            snap = snapshot_of(proc, out)
            assert proc.poll() is None  # still running when it was observed
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    assert snap["pid"] == proc.pid
    assert Path(snap["argv"][0]).name == "medcrypt-bot" and snap["argv"][-1] == "run"
    assert Path(snap["medcrypt_file"]).resolve().is_relative_to(ROOT)  # this checkout
    modules = snap["modules"]
    missing = [m for m in MUST_BE_LOADED if m not in modules]
    assert not missing, f"the snapshot lacks modules a working relay loads: {missing}"
    assert endpoint_modules(modules) == []


def test_probe_reports_endpoint_modules_when_they_are_loaded(tmp_path: Path) -> None:
    """The control: the same probe and filter do see an endpoint module in a process."""
    env, out = probe_env(tmp_path, dict(os.environ))
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys, medcrypt.crypto.endpoint.session\n"
         "print('ready', flush=True)\nsys.stdin.read()"],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        snap = snapshot_of(proc, out)
    finally:
        proc.kill()
        proc.wait()
    assert f"{ENDPOINT}.session" in endpoint_modules(snap["modules"])


def test_no_bot_command_loads_an_endpoint_module() -> None:
    """`medcrypt-bot` imports every command family to build its parser, and its
    break-glass family runs without opening code: the opener is another program
    (``medcrypt-breakglass``), which the same check shows does load it."""
    program = """
import json, sys
from medcrypt.bot.cli import build_parser
parser = build_parser()
before = sorted(sys.modules)
errors = []
for argv in (["breakglass", "record-open", "/nonexistent/bundle.mcbg"],):
    args = parser.parse_args(argv)
    try:
        args.handler(args, None)
    except Exception as exc:
        errors.append(type(exc).__name__)
after = sorted(sys.modules)
from medcrypt.opener.cli import main
status = main(["open", "/nonexistent/bundle.mcbg", "--share", "x", "--share", "y"])
print(json.dumps({"before": before, "after": after, "errors": errors, "status": status,
                  "opener": sorted(sys.modules)}))
"""
    out = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    result = json.loads(out.splitlines()[-1])
    assert {"medcrypt.bot.cli.breakglass", "medcrypt.bot.cli.escrow",
            "medcrypt.bot.cli.run"} <= set(result["before"])
    assert endpoint_modules(result["before"]) == []
    # `record-open` of a missing bundle is a ConfigError, found without opening code
    assert result["errors"] == ["ConfigError"]
    assert endpoint_modules(result["after"]) == []
    # the opener program is where the opening code lives (a missing bundle: exit 2)
    assert result["status"] == 2
    assert f"{ENDPOINT}.breakglass" in endpoint_modules(result["opener"])
