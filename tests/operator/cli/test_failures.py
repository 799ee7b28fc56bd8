"""The last-resort mapping of both CLIs never prints a foreign exception's message.

Real exceptions of the libraries, carrying what they carry in the wild: PTB's
``InvalidToken`` quotes the bot token, a psycopg/SQLAlchemy constraint error quotes the
row's values (here a phone number), a bug's message may quote a decrypted message.
Each must come out as its family's exit code and a line without any of it.
"""

from __future__ import annotations

import pytest
import sqlalchemy.exc
import telegram.error

from medcrypt.crypto.errors import ConfigError, StorageError
from medcrypt.crypto.failures import describe

TOKEN = "7000000009:AAsecret-token-body-never-printed-xx"
PHONE = "+15551234567"


@pytest.mark.parametrize(("exc", "code", "secret"), [
    (telegram.error.InvalidToken(f"The token `{TOKEN}` was rejected by the server."), 5, TOKEN),
    (sqlalchemy.exc.IntegrityError("INSERT INTO people VALUES (?)", (PHONE,),
                                   Exception(f"Key (phone)=({PHONE}) already exists")),
     6, PHONE),
    (ValueError("Blood pressure 180/110, please call"), 1, "Blood pressure"),
    (OSError(f"connect to api.telegram.org/bot{TOKEN} failed"), 5, TOKEN),
], ids=["ptb-token", "sql-values", "bug-plaintext", "socket-url"])
def test_foreign_messages_are_never_shown(exc: BaseException, code: int, secret: str) -> None:
    failure = describe(exc, debug_hint="rerun with --debug")
    assert failure.exit_code == code
    assert secret not in failure.message
    assert type(exc).__name__ in failure.message and "--debug" in failure.message
    assert "\n" not in failure.message


def test_project_errors_keep_their_code_and_first_line() -> None:
    assert describe(ConfigError("telegram.mode", "bad"), debug_hint="").exit_code == 2
    failure = describe(StorageError("database gone\nsecond line"), debug_hint="")
    assert (failure.exit_code, failure.message) == (6, "database gone")


def test_a_file_named_by_the_operator_is_exit_2() -> None:
    failure = describe(FileNotFoundError(2, "No such file or directory", "/etc/x.toml"),
                       debug_hint="")
    assert (failure.exit_code, failure.message) == (2, "No such file or directory: /etc/x.toml")
