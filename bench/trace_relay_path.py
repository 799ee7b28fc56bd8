"""Which bot modules one Telegram token passes on its way to WhatsApp, in order.

``python -m bench.trace_relay_path`` starts the real bot between the loopback fakes,
pairs a physician on Telegram with a patient on WhatsApp (untraced), then traces one
MESSAGE token from the Telegram update to the Twilio send and prints the bot modules
entered, in first-entry order (the window ends when the fake Twilio holds the message).
It also counts the climbs: import edges between the modules on that path that point to
a higher layer of ``LAYERS_NEW`` (a layered bot has none; the old layout's modules are
ranked by the layer they moved to). It runs against whichever
tree is installed: the old layout (``bot.…``) and the namespaced one (``medcrypt.bot.…``),
so the same script measures before and after a restructuring.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib
import os
import socket
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

#: Layer of each bot module, top first, for the new layout (prefix match on the part
#: after the package). The old layout is mapped onto the same layers by where each of its
#: modules went, so the count compares like with like.
LAYERS_NEW = ["cli", "app", "adapters|scheduler", "relay", "commands", "outbox", "domain"]
OLD_TO_NEW = {
    "app": "app", "logs": "app", "messages": "domain", "config": "domain",
    "audit_chat": "domain", "relay.identities": "domain", "relay.pairings": "domain",
    "relay.retention": "domain", "relay.auditing": "domain", "relay.notices": "domain",
    "relay.context": "commands", "outbox.sender": "domain", "jobs.scheduler": "scheduler",
    "jobs.triggerspec": "scheduler", "jobs.maintenance": "scheduler",
    "jobs.jobstore": "scheduler", "jobs.gate": "scheduler", "jobs.listing": "scheduler",
    "jobs.chat": "commands", "jobs": "domain", "breakglass.chat": "commands",
    "breakglass.cmd_": "commands", "breakglass": "domain", "relay": "relay",
    "outbox": "outbox", "adapters": "adapters", "commands": "commands", "cli": "cli",
}


def _ns() -> str:
    try:
        importlib.import_module("medcrypt.bot")
    except ImportError:
        return ""
    return "medcrypt."


def _first(*names: str) -> Any:
    for name in names:
        module, _, attr = name.rpartition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
    raise SystemExit(f"trace_relay_path: none of {names} exists in this tree")


def _layer(short: str, new_layout: bool) -> int:
    if new_layout:
        top = short.split(".", maxsplit=1)[0]
        for rank, layer in enumerate(LAYERS_NEW):
            if top in layer.split("|"):
                return rank
        return len(LAYERS_NEW)
    for prefix in sorted(OLD_TO_NEW, key=len, reverse=True):
        if short == prefix or short.startswith(prefix + ".") or (
                prefix.endswith("_") and short.startswith(prefix)):
            return _layer(OLD_TO_NEW[prefix], True)
    return len(LAYERS_NEW)


def _imports(module: str) -> set[str]:
    """The project modules ``module`` imports (its own import statements)."""
    import ast

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return set()
    tree = ast.parse(Path(spec.origin).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run(tmp: Path) -> list[tuple[str, str]]:
    ns = _ns()
    fake_tg = _first(f"{ns}sandbox:FakeTelegram", "bot.sandbox:FakeTelegram")
    fake_tw = _first(f"{ns}sandbox.fake_twilio:FakeTwilio", "bot.sandbox.fake_twilio:FakeTwilio")
    bot_app = _first(f"{ns}bot.app.bot:BotApp", f"{ns}bot.app:BotApp")
    parse_settings = _first(f"{ns}bot.domain.config:parse_settings", "bot.config:parse_settings")
    wire = importlib.import_module(
        f"{ns}crypto.keyless.wire" if ns else "crypto.wire")
    epoch_of = _first(f"{ns}crypto.keyless.epochs:epoch_of", "crypto.epochs:epoch_of")
    tg_user, wa_user, template = 5550001, "+15551230001", "HX" + "a" * 32
    port = _port()
    async with fake_tg() as tg, fake_tw(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound",
            templates={template: "You have a new secure message."}) as tw:
        settings = parse_settings({
            "database": {"url": f"sqlite:///{tmp / 'bot.db'}"},
            "telegram": {"api_base_url": tg.base_url, "api_file_url": tg.base_file_url,
                         "poll_timeout_seconds": 1, "request_timeout_seconds": 2.0},
            "whatsapp": {"api_base_url": tw.api_base_url,
                         "public_url": f"http://127.0.0.1:{port}", "listen_port": port,
                         "request_timeout_seconds": 2.0, "template_content_sid": template},
            "clinic": {"admin_telegram_ids": [9990001]},
            "monitoring": {"listen_port": 0}})
        environ = {"MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
                   "TELEGRAM_BOT_TOKEN": tg.token, "TWILIO_ACCOUNT_SID": tw.account_sid,
                   "TWILIO_AUTH_TOKEN": tw.auth_token, "TWILIO_WHATSAPP_FROM": tw.whatsapp_from}
        bot = bot_app(settings, environ=environ)
        await bot.start()
        try:
            pid = os.urandom(16)
            epoch = epoch_of(datetime.now(UTC))
            expires = int(datetime.now(UTC).timestamp()) + 3600
            tg.user_sends_text(tg_user, wire.encode_token(wire.encode_register(pid, epoch, 7,
                                                                               expires)))
            await tg.wait_for_messages_async(tg_user, 1, timeout=10)
            accept = b"\x01" + os.urandom(wire.ACCEPT_BODY_LEN - 1)
            await tw.user_sends_whatsapp_async(wa_user, wire.encode_token(
                wire.encode_accept(pid, accept)))
            await tg.wait_for_messages_async(tg_user, 3, timeout=10)
            await tw.wait_until_async(lambda: len(tw.messages_to(wa_user)) >= 2)
            await asyncio.sleep(0.5)
            before = len(tw.messages_to(wa_user))
            header = wire.encode_sealed_header(
                wire.Kind.MESSAGE, pid, epoch=epoch, direction=wire.Direction(1), index=0,
                nonce=os.urandom(24))
            token = wire.encode_token(header + os.urandom(200))
            calls: list[tuple[str, str]] = []
            prefix = f"{ns}bot."

            def prof(frame: FrameType, event: str, _arg: Any) -> None:
                if event != "call":
                    return
                callee = frame.f_globals.get("__name__", "")
                if not callee.startswith(prefix):
                    return
                back = frame.f_back
                caller = back.f_globals.get("__name__", "") if back else ""
                calls.append((caller, callee))

            sys.setprofile(prof)
            threading.setprofile(prof)
            try:
                tg.user_sends_text(tg_user, token)
                await tw.wait_until_async(lambda: len(tw.messages_to(wa_user)) > before,
                                          timeout=10)
            finally:
                sys.setprofile(None)
                threading.setprofile(None)  # type: ignore[arg-type]
        finally:
            await bot.stop()
    return calls


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="trace_relay_path").parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        calls = asyncio.run(_run(Path(tmp)))
    ns = _ns()
    prefix = f"{ns}bot."
    new_layout = bool(ns)
    order: list[str] = []
    for _caller, callee in calls:
        short = callee[len(prefix):]
        if short not in order:
            order.append(short)
    order = [m for m in order if not m.startswith("sandbox")]  # the old layout's fakes
    climbs = set()
    for a in order:
        imported = _imports(prefix + a)
        for b in order:
            if b != a and _layer(b, new_layout) < _layer(a, new_layout) and (
                    prefix + b in imported):
                climbs.add((a, b))
    subpackages = sorted({m.split(".")[0] for m in order if "." in m})
    print(f"# one Telegram token to WhatsApp through {prefix}* "
          f"({len(order)} modules in {len(subpackages)} subpackages: {', '.join(subpackages)})")
    for i, module in enumerate(order, 1):
        print(f"{i:3}. {module}")
    print(f"climbs (import edges on the path that point up a layer): {len(climbs)}")
    for a, b in sorted(climbs):
        print(f"     {a} -> {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
