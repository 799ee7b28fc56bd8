"""The TypeScript session and the Python companion talk to each other (issue 14).

The web side runs in Node as ``web/test/interop/driver.ts`` (the same protocol modules the
app bundles), the Python side is ``crypto.endpoint.v3.session.Session``. A seeded plan
sends hundreds of messages both ways, each split into WhatsApp-sized parts, delivered
late, out of order and with parts shuffled, across a month boundary; every message must
be read exactly once. Then a replay, a tampered token and a token of a shredded month
must each fail with the typed error on both sides.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.errors import DecryptionFailed, EpochShredded, MedCryptError, ReplayDetected
from medcrypt.crypto.keyless.parts import PartAssembler, split_token
from medcrypt.crypto.keyless.wire import Kind, parse_token
from tests.support.v3pairs import CounterRng, make_v3_pair
from tests.support.webnode import WEB, ensure_node_modules, node

MESSAGES = 400
WHATSAPP = 1600
NOVEMBER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # November is still in its grace window
AFTER_GRACE = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
ALPHABET = "abcdefghij klmnop ñáéíóú ¿¡ 0123456789 \n🙂 – “quotes”"


class WebSide:
    """The Node driver: one JSON line per request and per reply."""

    def __init__(self, script: Path) -> None:
        self.proc = subprocess.Popen([node(), str(script)], cwd=WEB, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def call(self, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        assert reply["ok"], reply
        return reply

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class PythonSide:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.assembler = PartAssembler()

    def send(self, body: bytes, now: datetime) -> list[str]:
        return split_token(self.session.encrypt(body, now=now), WHATSAPP)

    def receive(self, texts: list[str], now: datetime) -> list[bytes | type[MedCryptError]]:
        out: list[bytes | type[MedCryptError]] = []
        for text in texts:
            joined = self.assembler.add(text)
            if joined is None:
                continue
            try:
                out.append(self.session.decrypt(joined, now=now).body)
            except MedCryptError as exc:
                out.append(type(exc))
        return out


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Path]:
    ensure_node_modules()
    script = tmp_path / "driver.mjs"
    subprocess.run([node(), "test/interop/bundle.mjs", str(script)], cwd=WEB, check=True,
                   capture_output=True, timeout=300)
    yield script


def _whole_message(text: str) -> bool:
    return parse_token(text).header.kind is Kind.MESSAGE


def _body(rng: random.Random) -> bytes:
    size = rng.choice([0, 1, 40, 178, 179, rng.randrange(1, 2500)])
    return "".join(rng.choice(ALPHABET) for _ in range(size)).encode()


@pytest.mark.parametrize("web_role", ["patient", "physician"])
def test_hundreds_of_messages_both_ways_each_read_exactly_once(driver: Path,
                                                               web_role: str) -> None:
    rng = random.Random(f"issue 14 interop {web_role}")
    pair = make_v3_pair(682, rng=CounterRng(f"interop {web_role}"))
    web_seed = pair.patient_seed if web_role == "patient" else pair.physician_seed
    web_session = pair.patient if web_role == "patient" else pair.physician
    python = PythonSide(pair.physician if web_role == "patient" else pair.patient)
    web = WebSide(driver)
    try:
        web.call(op="init", state=web_session.export_state(),
                 seed=base64.b64encode(web_seed).decode())
        sent: dict[str, Counter[bytes]] = {"web": Counter(), "python": Counter()}
        got: dict[str, Counter[bytes]] = {"web": Counter(), "python": Counter()}
        flight: dict[str, list[list[str]]] = {"web": [], "python": []}  # by receiver
        delivered: dict[str, list[str]] = {"web": [], "python": []}
        held: dict[str, list[str]] = {}

        def deliver(receiver: str, messages: list[list[str]], now: datetime) -> None:
            parts = [p for m in messages for p in m]
            rng.shuffle(parts)
            if receiver == "web":
                results = web.call(op="decrypt", texts=parts, now=now.isoformat())["results"]
                for r in results:
                    assert r["ok"], r
                    got["web"][base64.b64decode(r["body"])] += 1
            else:
                for body in python.receive(parts, now):
                    assert isinstance(body, bytes), body
                    got["python"][body] += 1
            delivered[receiver].extend(p for m in messages for p in m)

        for i in range(MESSAGES):
            now = (NOVEMBER if i < MESSAGES // 2 else DECEMBER) + timedelta(minutes=i)
            sender = rng.choice(["web", "python"])
            receiver = "python" if sender == "web" else "web"
            body = _body(rng)
            if sender == "web":
                parts = web.call(op="encrypt", body=base64.b64encode(body).decode(),
                                 now=now.isoformat(), max_chars=WHATSAPP)["parts"]
            else:
                parts = python.send(body, now)
            if now < DECEMBER and receiver not in held:
                held[receiver] = parts  # kept back until after November's grace end
                continue
            sent[receiver][body] += 1
            flight[receiver].append(parts)
            if rng.random() < 0.4:  # deliver a random subset, late and out of order
                for who in ("web", "python"):
                    rng.shuffle(flight[who])
                    take = rng.randrange(0, len(flight[who]) + 1)
                    batch, flight[who] = flight[who][:take], flight[who][take:]
                    deliver(who, batch, now)
        end = DECEMBER + timedelta(minutes=MESSAGES)
        for who in ("web", "python"):
            deliver(who, flight[who], end)
        assert got == sent  # every message read exactly once, nothing else
        assert sum(sent["web"].values()) + sum(sent["python"].values()) == MESSAGES - 2

        # A replay: a whole token delivered again is ReplayDetected on both sides (the
        # latest one: a token of a peer chain dropped since is DecryptionFailed, §25).
        web_replay = next(t for t in reversed(delivered["web"]) if _whole_message(t))
        reply = web.call(op="decrypt", texts=[web_replay], now=end.isoformat())
        assert [r.get("code") for r in reply["results"]] == ["replay_detected"]
        py_replay = next(t for t in reversed(delivered["python"]) if _whole_message(t))
        assert python.receive([py_replay], end) == [ReplayDetected]
        # A tampered token: one base64 character changed inside the AEAD body.
        fresh = python.send(b"tamper me", end)
        assert len(fresh) == 1
        text = fresh[0]
        at = len(text) - 10
        tampered = text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]
        reply = web.call(op="decrypt", texts=[tampered], now=end.isoformat())
        assert [r.get("code") for r in reply["results"]] == ["decryption_failed"]
        web_fresh = web.call(op="encrypt", body=base64.b64encode(b"tamper too").decode(),
                             now=end.isoformat(), max_chars=WHATSAPP)["parts"]
        at = len(web_fresh[0]) - 10
        bad = web_fresh[0][:at] + ("A" if web_fresh[0][at] != "A" else "B") + web_fresh[0][at + 1:]
        assert python.receive([bad], end) == [DecryptionFailed]
        # After November's grace end both sides refuse a held-back November token.
        reply = web.call(op="decrypt", texts=held["web"], now=AFTER_GRACE.isoformat())
        assert [r.get("code") for r in reply["results"]] == ["epoch_shredded"]
        assert python.receive(held["python"], AFTER_GRACE) == [EpochShredded]
    finally:
        web.close()
