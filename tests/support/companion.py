"""Driving the ``medcrypt`` CLI in-process, with pinned time and passphrase, and a
pairing made the way people make it (a phone photo of the offer's QR code)."""

from __future__ import annotations

import base64
import io
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFilter

from medcrypt.companion.cli import main
from tests.support.keystores import use_fast_keystores

T0 = "2026-11-23T10:00:00+00:00"
PASSPHRASE = "correct horse battery staple"


def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The companion in English whatever the machine's locale, for this process and the
    ones it starts from ``os.environ`` (the Spanish tests set their own language)."""
    for name in ("MEDCRYPT_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, object]:
        return json.loads(self.out)  # type: ignore[no-any-return]


class Cli:
    """``cli(home, "encrypt", stdin="hi", now=...)`` -> Result; one process, many commands."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> None:
        self._capsys = capsys
        self._mp = monkeypatch
        self.tmp = tmp_path
        use_fast_keystores(monkeypatch)  # keystore cost is tested in test_keystore_upgrade
        monkeypatch.setenv("MEDCRYPT_PASSPHRASE", PASSPHRASE)
        monkeypatch.delenv("MEDCRYPT_HOME", raising=False)
        english_locale(monkeypatch)
        monkeypatch.chdir(tmp_path)

    def __call__(self, home: Path | str, *argv: str, stdin: str = "", now: str = T0,
                 passphrase: str = PASSPHRASE) -> Result:
        self._mp.setenv("MEDCRYPT_NOW", now)
        self._mp.setenv("MEDCRYPT_PASSPHRASE", passphrase)
        self._mp.setattr(sys, "stdin", io.StringIO(stdin))
        self._capsys.readouterr()
        code = main(["--home", str(home), *argv])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, home: Path | str, *argv: str, **kw: str) -> Result:
        result = self(home, *argv, **kw)
        assert result.code == 0, result.err
        return result


def phone_photo(png: Path, out: Path, *, seed: int = 7, angle: float = 14.0,
                tilt: float = 0.0) -> Path:
    """Simulate a phone photo of a QR on a screen: scaled, tilted, rotated, blurred, noisy."""
    rnd = random.Random(seed)
    img = Image.open(png).convert("RGB")
    scale = 0.55 + rnd.random() * 0.2
    img = img.resize((int(img.width * scale), int(img.height * scale)), Image.BILINEAR)
    if tilt:  # perspective: the top edge is narrower, as when the camera is held low
        w, h = img.size
        d = int(w * tilt)
        # source quad (UL, LL, LR, UR) wider at the top -> the top comes out narrower
        quad = (-d, 0, 0, h, w, h, w + d, 0)
        img = img.transform((w, h), Image.QUAD, quad, Image.BICUBIC, fillcolor=(235, 235, 228))
    img = img.rotate(angle, expand=True, fillcolor=(235, 235, 228), resample=Image.BICUBIC)
    bg = Image.effect_noise((img.width + 260, img.height + 200), 48).convert("RGB")
    bg.paste(img, (rnd.randint(40, 200), rnd.randint(30, 150)))
    photo = bg.filter(ImageFilter.GaussianBlur(1.1))
    photo.save(out, quality=82)
    return out


@dataclass
class Pair:
    doc: Path
    pat: Path
    pairing_id: str
    offer: dict[str, object]
    photo: Path


def make_pair(cli: Cli, *, escrow_key: str | None = None) -> Pair:
    """A v2 pairing (``pair offer --protocol 2``): the v2 path the older tests cover."""
    doc, pat = cli.tmp / "doc", cli.tmp / "pat"
    extra = ["--escrow-key", escrow_key] if escrow_key else []
    cli.ok(doc, "init", "--role", "physician", *extra)
    cli.ok(pat, "init", "--role", "patient")
    offer = cli.ok(doc, "pair", "offer", "--protocol", "2", "--png", str(cli.tmp / "offer.png"),
                   "--json").json()
    photo = phone_photo(cli.tmp / "offer.png", cli.tmp / "photo.jpg")
    accepted = cli.ok(pat, "pair", "accept", "--qr", str(photo), "--json", "--history").json()
    done = cli.ok(doc, "pair", "complete", str(accepted["accept_token"]), "--json",
                  "--history").json()
    assert done["pairing_id"] == accepted["pairing_id"] == offer["pairing_id"]
    assert done["safety_number"] == accepted["safety_number"]
    return Pair(doc, pat, str(offer["pairing_id"]), offer, photo)


def key_like_strings(node: Any) -> set[str]:
    """Every key-like string (base64 of 32 or more bytes) inside a JSON tree: keys, chain
    keys - what a keystore must no longer hold once they are deleted."""
    found: set[str] = set()
    if isinstance(node, dict):
        for value in node.values():
            found |= key_like_strings(value)
    elif isinstance(node, list):
        for value in node:
            found |= key_like_strings(value)
    elif isinstance(node, str) and len(node) >= 43:
        try:
            if len(base64.b64decode(node, validate=True)) >= 32:
                found.add(node)
        except ValueError:
            pass
    return found


@dataclass
class V3Pair:
    doc: Path
    pat: Path
    pairing_id: str
    code: str
    key_confirm: str
    pinned_record: str | None
    record_token: str | None = None


def make_v3_pair(cli: Cli, *, escrow_key: str | None = None, now: str = T0,
                 names: tuple[str, str] = ("doc", "pat")) -> V3Pair:
    """A v3 pairing made through the CLI the way people make it: QR photo, code compared
    (``--code`` with the digits the patient's screen shows), KEY_CONFIRM opened."""
    doc, pat = cli.tmp / names[0], cli.tmp / names[1]
    extra = ["--escrow-key", escrow_key] if escrow_key else []
    cli.ok(doc, "init", "--role", "physician", *extra, now=now)
    cli.ok(pat, "init", "--role", "patient", now=now)
    png = cli.tmp / f"{names[0]}-offer.png"
    offer = cli.ok(doc, "pair", "offer", "--png", str(png), "--json", now=now).json()
    photo = phone_photo(png, cli.tmp / f"{names[0]}-photo.jpg")
    accepted = cli.ok(pat, "pair", "accept", "--qr", str(photo), "--json", "--history",
                      now=now).json()
    done = cli.ok(doc, "pair", "complete", str(accepted["accept_token"]), "--json",
                  "--history", "--code", str(accepted["verification_code"]), now=now).json()
    cli.ok(pat, "pair", "confirm", str(done["key_confirm_token"]), now=now)
    assert done["pairing_id"] == accepted["pairing_id"] == offer["pairing_id"]
    return V3Pair(doc, pat, str(offer["pairing_id"]), str(accepted["verification_code"]),
                  str(done["key_confirm_token"]),
                  None if done["pinned_record"] is None else str(done["pinned_record"]),
                  None if done.get("record_token") is None else str(done["record_token"]))
