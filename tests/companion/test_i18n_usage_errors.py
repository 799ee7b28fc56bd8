"""argparse's own usage errors, and web-verify's refusals, read in the user's language
(issue 16).

A patient who mistypes a command used to read "the following arguments are required:
..." in English under a Spanish locale. The real ``medcrypt`` process is run here; the
templates are checked against the argparse this Python ships.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medcrypt.companion.cli.usage_errors import ARGUMENT, TEMPLATES, translated

SPANISH = {"LANG": "es_MX.UTF-8"}


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("MEDCRYPT_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    return subprocess.run([sys.executable, "-m", "medcrypt.companion", *argv],
                          env={**base, **env}, capture_output=True, text=True, check=False,
                          timeout=60)


def test_a_missing_argument_is_told_in_spanish() -> None:
    es = _run(SPANISH, "pair", "label")
    en = _run({"LANG": "C"}, "pair", "label")
    assert es.returncode == en.returncode == 2
    assert "faltan estos argumentos obligatorios: " in es.stderr, es.stderr
    assert "the following arguments are required" not in es.stderr
    assert "the following arguments are required: " in en.stderr, en.stderr


def test_an_unknown_command_is_told_in_spanish_with_its_choices() -> None:
    es = _run(SPANISH, "encrpyt")
    assert es.returncode == 2
    assert "argumento " in es.stderr and "opción no válida: 'encrpyt' (elija entre" in es.stderr
    assert "encrypt" in es.stderr  # the choices, as argparse listed them


def test_a_sentence_argparse_never_says_is_left_as_it_is(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDCRYPT_LANG", "es")
    assert translated("something else entirely: x") == "something else entirely: x"
    assert translated("argument --home: expected one argument") == \
        "argumento --home: se esperaba un argumento"


def test_argparse_still_has_every_template() -> None:
    """Matched by their exact words: a reworded template in a new Python would go back to
    English silently, so it fails here."""
    source = Path(argparse.__file__).read_text(encoding="utf-8")
    said = {n.value for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    for template, _msgid in TEMPLATES:
        assert template in said, template
    assert ARGUMENT[0] in said


def test_web_verify_refuses_in_spanish() -> None:
    """`medcrypt web-verify`'s refusals (companion/webui/) are the companion's words too."""
    es = _run(SPANISH, "web-verify", "ftp://example.invalid/", "--expect", "a" * 64)
    en = _run({"LANG": "C"}, "web-verify", "ftp://example.invalid/", "--expect", "a" * 64)
    assert es.returncode == en.returncode == 2
    assert "indique la dirección http(s) de la carpeta del paquete publicado" in es.stderr
    assert "give the http(s) address of the published bundle's folder" in en.stderr
