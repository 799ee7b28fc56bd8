"""The companion speaks its user's language (issue 16, Spanish; docs/adr/0035 amendment 2).

Through the real ``medcrypt`` command line: with ``LANG=es_MX.UTF-8`` setup, pairing,
encrypt and decrypt - and their refusals (a wrong passphrase, a tampered token, a token
opened twice) - come out in Spanish; with ``LANG=C`` in English; ``MEDCRYPT_LANG``
overrides the locale. What a script relies on does not move with the language: the exit
code of each refusal, the ``--json`` output, and the English of the exception itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.companion import i18n
from medcrypt.companion.keystore import FILE_NAME
from medcrypt.crypto.errors import ConfigError, KeystoreLocked, MedCryptError
from medcrypt.crypto.keyless.wire import find_tokens
from tests.support.companion import PASSPHRASE, T0, Cli, Result, make_v3_pair, phone_photo
from tests.support.terminal import pty_run

ROOT = Path(__file__).resolve().parents[2]
SPANISH = {"LANG": "es_MX.UTF-8"}
ENGLISH = {"LANG": "C"}


def _in(cli: Cli, mp: pytest.MonkeyPatch, env: dict[str, str], home: Path, *argv: str,
        **kw: str) -> Result:
    """One command with ``env`` as the language variables (the rest unset)."""
    for name in ("MEDCRYPT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        mp.delenv(name, raising=False)
    for name, value in env.items():
        mp.setenv(name, value)
    return cli(home, *argv, **kw)


def test_init_speaks_spanish_under_a_spanish_locale(cli: Cli,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    done = _in(cli, monkeypatch, SPANISH, cli.tmp / "pat", "init", "--role", "patient")
    assert done.code == 0, done.err
    assert "Se creó el almacén de claves de paciente en" in done.out
    assert "Huella de identidad: " in done.out
    assert "Seguridad de la frase de contraseña: fuerte (4 de 4)" in done.out
    english = _in(cli, monkeypatch, ENGLISH, cli.tmp / "doc", "init", "--role", "physician")
    assert "Created the physician keystore in" in english.out
    assert "Passphrase strength: strong (4 of 4)" in english.out


def test_a_weak_passphrase_is_refused_in_spanish_with_the_same_code(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    es = _in(cli, monkeypatch, SPANISH, cli.tmp / "a", "init", "--role", "patient",
             passphrase="password1")
    en = _in(cli, monkeypatch, ENGLISH, cli.tmp / "b", "init", "--role", "patient",
             passphrase="password1")
    assert es.code == en.code == ConfigError.exit_code
    assert es.err.startswith("medcrypt: error: error de configuración: passphrase: "
                             "demasiado fácil de adivinar: calificada como muy débil (0 de 4)")
    assert "un almacén de claves nuevo necesita al menos aceptable (2 de 4)" in es.err
    assert "too easy to guess: rated very weak (0 of 4)" in en.err
    assert "password1" not in es.err


def test_a_wrong_passphrase_is_refused_in_the_users_language(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    home = cli.tmp / "pat"
    cli.ok(home, "init", "--role", "patient")
    es = _in(cli, monkeypatch, SPANISH, home, "encrypt", stdin="hola",
             passphrase="not the passphrase")
    en = _in(cli, monkeypatch, ENGLISH, home, "encrypt", stdin="hola",
             passphrase="not the passphrase")
    assert es.code == en.code == KeystoreLocked.exit_code
    assert es.err == ("medcrypt: error: no se puede abrir el almacén de claves: frase de "
                      "contraseña incorrecta o archivo dañado\n")
    assert en.err == ("medcrypt: error: cannot unlock the keystore: wrong passphrase or "
                      "damaged file\n")


def _pair_in_spanish(cli: Cli, mp: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A v3 pairing whose human-readable steps all run under a Spanish locale."""
    doc, pat = cli.tmp / "doc", cli.tmp / "pat"
    for home, role in ((doc, "physician"), (pat, "patient")):
        assert _in(cli, mp, SPANISH, home, "init", "--role", role).code == 0
    png = cli.tmp / "offer.png"
    offer = _in(cli, mp, SPANISH, doc, "pair", "offer", "--png", str(png), "--no-terminal")
    assert offer.code == 0, offer.err
    assert "Envíe este token de registro al bot de la clínica:" in offer.out
    assert "Imagen QR: " in offer.out and "(un solo uso; vence en 10 minutos)" in offer.out
    accepted = _in(cli, mp, SPANISH, pat, "pair", "accept", "--qr",
                   str(phone_photo(png, cli.tmp / "photo.jpg")), "--history")
    assert accepted.code == 0, accepted.err
    assert "Envíe este token de aceptación al bot de la clínica:" in accepted.out
    assert "SIN VERIFICAR hasta que llegue la confirmación del médico" in accepted.out
    code = next(line for line in accepted.out.splitlines()
                if line.startswith("Código de verificación: ")).split(": ", 1)[1].split(" - ")[0]
    done = _in(cli, mp, SPANISH, doc, "pair", "complete", find_tokens(accepted.out)[0],
               "--code", code, "--history")
    assert done.code == 0, done.err
    assert "SIN VERIFICAR - compare el código con la pantalla del paciente" in done.err
    assert "Respuestas de vinculación válidas recibidas: 1" in done.err
    assert "(verificada por código)" in done.out
    assert "Envíe este token de confirmación al bot de la clínica" in done.out
    confirmed = _in(cli, mp, SPANISH, pat, "pair", "confirm", find_tokens(done.out)[0])
    assert confirmed.code == 0, confirmed.err
    assert "Verificada: su médico confirmó el código." in confirmed.out
    return doc, pat


def test_pairing_encrypt_and_decrypt_speak_spanish(cli: Cli,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    doc, pat = _pair_in_spanish(cli, monkeypatch)
    token = _in(cli, monkeypatch, SPANISH, pat, "encrypt", stdin="Me duele la cabeza").out
    opened = _in(cli, monkeypatch, SPANISH, doc, "decrypt", stdin=token)
    assert opened.code == 0, opened.err
    assert opened.out == "Me duele la cabeza"
    assert opened.err.startswith("De ")
    usage = _in(cli, monkeypatch, SPANISH, pat, "encrypt", "--max-chars", "10", stdin="x")
    assert usage.code == 2
    assert "error de configuración: --max-chars: debe ser al menos" in usage.err
    labelled = _in(cli, monkeypatch, SPANISH, doc, "pair", "list")
    assert "(sin nombre)" in labelled.out and "vinculada el 2026-11-23" in labelled.out
    status = _in(cli, monkeypatch, SPANISH, doc, "status")
    assert status.code == 0, status.err
    assert "Papel: médico   huella de identidad: " in status.out
    assert "gracia 7 días  historial se guarda" in status.out
    assert "  meses vigentes: 2026-11 (legible hasta " in status.out
    cleared = _in(cli, monkeypatch, SPANISH, doc, "history", "clear", "--yes")
    assert cleared.out == "Se borró 1 entrada del historial.\n"


def test_a_replayed_and_a_tampered_token_are_refused_in_spanish(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    pair = make_v3_pair(cli)
    token = cli.ok(pair.pat, "encrypt", stdin="hola").out.strip()
    cli.ok(pair.doc, "decrypt", stdin=token)
    replay_es = _in(cli, monkeypatch, SPANISH, pair.doc, "decrypt", stdin=token)
    replay_en = _in(cli, monkeypatch, ENGLISH, pair.doc, "decrypt", stdin=token)
    assert replay_es.code == replay_en.code == 4
    assert "medcrypt: error: este mensaje ya se abrió en este dispositivo (" in replay_es.err
    assert "vuelva a leerlo con 'medcrypt history list --pairing" in replay_es.err
    assert "this message was already opened on this device (" in replay_en.err

    fresh = cli.ok(pair.pat, "encrypt", stdin="adiós").out.strip()
    body = fresh[: -len("]")]
    flipped = body[:-6] + ("A" if body[-6] != "A" else "B") + body[-5:] + "]"
    tampered_es = _in(cli, monkeypatch, SPANISH, pair.doc, "decrypt", stdin=flipped)
    tampered_en = _in(cli, monkeypatch, ENGLISH, pair.doc, "decrypt", stdin=flipped)
    assert tampered_es.code == tampered_en.code == 3
    assert tampered_en.err == "medcrypt: error: decryption failed\n"
    assert tampered_es.err == "medcrypt: error: no se pudo descifrar\n"
    # nothing was used up: the genuine token still opens
    assert cli.ok(pair.doc, "decrypt", stdin=fresh).out == "adiós"


def test_bad_input_errors_and_usage_speak_spanish(cli: Cli,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    home = cli.tmp / "pat"
    cli.ok(home, "init", "--role", "patient")
    none = _in(cli, monkeypatch, SPANISH, home, "decrypt", stdin="sin token")
    assert none.code == 3
    assert none.err == ("medcrypt: error: no se encontró ningún token MEDCRYPT en la entrada "
                        "estándar\n")
    empty = _in(cli, monkeypatch, SPANISH, home, "encrypt", stdin="hola")
    assert empty.code == 2
    assert "todavía no hay vinculaciones" in empty.err
    missing = _in(cli, monkeypatch, SPANISH, cli.tmp / "nowhere", "encrypt", stdin="hola")
    assert missing.code == 6 and "no hay almacén de claves en" in missing.err


@pytest.mark.parametrize(("env", "spanish"), [
    ({"MEDCRYPT_LANG": "es", "LANG": "C"}, True),
    ({"MEDCRYPT_LANG": "en", "LANG": "es_MX.UTF-8"}, False),
    ({"MEDCRYPT_LANG": "es_MX", "LC_ALL": "en_US.UTF-8"}, True),
    ({"LC_ALL": "es_ES.UTF-8", "LANG": "en_US.UTF-8"}, True),
    ({"LC_ALL": "C", "LANG": "es_MX.UTF-8"}, False),
    ({"LC_MESSAGES": "es_AR.UTF-8", "LANG": "C"}, True),
    ({"LANG": "POSIX"}, False),
    ({"LANG": "fr_FR.UTF-8"}, False),
    ({}, False),
])
def test_the_language_comes_from_medcrypt_lang_then_the_locale(
        cli: Cli, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], spanish: bool) -> None:
    done = _in(cli, monkeypatch, env, cli.tmp / "x", "encrypt", stdin="hola")
    assert done.code == 6
    assert ("no hay almacén de claves" in done.err) is spanish
    assert ("no keystore in" in done.err) is not spanish


def test_an_unknown_medcrypt_lang_is_a_usage_error(cli: Cli,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    done = _in(cli, monkeypatch, {"MEDCRYPT_LANG": "fr", "LANG": "es_MX.UTF-8"},
               cli.tmp / "x", "encrypt", stdin="hola")
    assert done.code == 2
    assert done.err == "medcrypt: error: config error: MEDCRYPT_LANG: unknown language; " \
                       "use en or es\n"


_VARS = st.sampled_from(["MEDCRYPT_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"])


@given(st.dictionaries(_VARS, st.text(max_size=20)))
def test_any_environment_gives_a_shipped_language_or_a_config_error(
        env: dict[str, str]) -> None:
    try:
        chosen = i18n.language(env)
    except ConfigError as exc:
        assert exc.key == "MEDCRYPT_LANG"
        return
    assert chosen in i18n.LANGUAGES
    first = next((env[n] for n in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(n, "").strip()),
                 "")
    if not env.get("MEDCRYPT_LANG", "").strip() and first.strip().lower().startswith("es"):
        assert chosen == "es_MX"


def test_a_typed_error_keeps_its_class_and_english_and_is_shown_translated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDCRYPT_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "es_MX.UTF-8")
    exc = i18n.error(ConfigError, i18n.N_("a keystore already exists in {home}"),
                     key="--home", home="/tmp/h")
    assert isinstance(exc, ConfigError) and exc.exit_code == 2 and exc.key == "--home"
    assert str(exc) == "config error: --home: a keystore already exists in /tmp/h"
    assert i18n.error_text(exc) == ("error de configuración: --home: ya existe un almacén de "
                                    "claves en /tmp/h")
    # a library message the catalog knows; one with a value it knows by its pattern
    # (companion/library_texts.py); and one it cannot know: English
    assert i18n.error_text(MedCryptError("decryption failed")) == "no se pudo descifrar"
    assert i18n.error_text(MedCryptError("month 2026-11 has not started yet")) == \
        "El mes 2026-11 todavía no empieza: revise la fecha y la hora de este dispositivo."
    assert i18n.error_text(MedCryptError("segment 7 of 2026-11 is unknown")) == \
        "segment 7 of 2026-11 is unknown"


def _run(env: dict[str, str], *argv: str,
         code: str | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("MEDCRYPT_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    args = [sys.executable, "-c", code, *argv] if code else [
        sys.executable, "-m", "medcrypt.companion", *argv]
    return subprocess.run(args, env={**base, **env}, capture_output=True, text=True,
                          check=False, timeout=60)


def _flat(text: str) -> str:
    """Help text with argparse's line wrapping undone."""
    return " ".join(text.split())


def test_a_real_process_follows_the_system_language() -> None:
    es = _run(SPANISH, "--help")
    en = _run(ENGLISH, "--help")
    assert es.returncode == en.returncode == 0
    assert "cifrado de extremo a extremo para los chats entre paciente y médico" in _flat(es.stdout)
    assert "end-to-end encryption for patient-physician chats" in _flat(en.stdout)
    pair_help = _run({"MEDCRYPT_LANG": "es", "LANG": "C"}, "pair", "accept", "--help")
    assert "paciente: aceptar una oferta desde su código QR o su texto" in _flat(pair_help.stdout)
    assert pair_help.stdout.startswith("uso: medcrypt pair accept [-h]")
    assert "opciones:\n  -h, --help " in pair_help.stdout
    assert "mostrar esta ayuda" in pair_help.stdout


def test_the_companion_reads_its_own_catalog_without_babel_or_the_bot(tmp_path: Path) -> None:
    code = ("import sys\n"
            "from medcrypt.companion.cli import main\n"
            "status = main(['--home', sys.argv[1], 'pair', 'list'])\n"
            "assert status == 6, status\n"
            "loaded = sorted(m for m in sys.modules if m == 'babel' or m.startswith('babel.')"
            " or m.startswith('medcrypt.bot'))\n"
            "assert not loaded, loaded\n")
    done = _run({**SPANISH, "MEDCRYPT_PASSPHRASE": "x"}, str(tmp_path / "none"), code=code)
    assert done.returncode == 0, done.stderr
    assert "no hay almacén de claves en" in done.stderr
    assert not (tmp_path / "none" / FILE_NAME).exists()


def test_a_question_on_the_terminal_is_asked_and_answered_in_spanish(cli: Cli) -> None:
    pair = make_v3_pair(cli)
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")}
    env.update(LANG="es_MX.UTF-8", MEDCRYPT_PASSPHRASE=PASSPHRASE, MEDCRYPT_NOW=T0)
    argv = ["--home", str(pair.pat), "pair", "end", "--pairing", pair.pairing_id[:8]]
    code, seen = pty_run(argv, b"s", env, "¿Terminarla? [s/N]".encode())
    assert code == 0, seen
    assert "¿Terminar para siempre la vinculación".encode() in seen
    assert f"Vinculación {pair.pairing_id} terminada en este dispositivo".encode() in seen
