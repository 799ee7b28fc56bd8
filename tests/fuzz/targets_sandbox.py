"""Fuzz targets for the sandbox's Bot API parameter parser (bot/sandbox/params.py).

The fake Telegram server decodes whatever the bot under test sends; a crash there
would look like a bot bug, so the parser must only ever raise MalformedToken.
"""

from __future__ import annotations

from medcrypt.sandbox.params import fuzz_parse

_SEEDS = [
    b"application/x-www-form-urlencoded\nchat_id=42&text=hello&allowed_updates=%5B%22message%22%5D",
    b'application/json\n{"chat_id": 42, "text": "x", "offset": -1, "limit": 5}',
    b"multipart/form-data; boundary=XyZ\n--XyZ\r\nContent-Disposition: form-data; "
    b'name="chat_id"\r\n\r\n42\r\n--XyZ\r\nContent-Disposition: form-data; name="document"; '
    b'filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\xff\r\n'
    b"--XyZ--\r\n",
    b"\noffset=abc&timeout=1e9",
]

TARGETS = {"sandbox_bot_api_params": (fuzz_parse, _SEEDS)}
