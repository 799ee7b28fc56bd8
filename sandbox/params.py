"""Decode Bot API request parameters the way Telegram does.

Telegram accepts the same parameters as a query string, ``application/x-www-form-
urlencoded``, ``application/json`` or ``multipart/form-data`` (python-telegram-bot uses
the form encodings, JSON-encoding non-string values). The fake must decode all four and
then read typed values, because a fake that only understands one client's encoding
would hide bugs a real server exposes. Parsing works on bytes only (no I/O) so it can
be fuzzed; every failure is a :class:`MalformedToken` whose message is the Telegram
``Bad Request`` description.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.errors import MessageError
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from medcrypt.crypto.errors import MalformedToken


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


Params = dict[str, Any]


def parse_params(content_type: str, body: bytes, query: str = "") -> Params:
    """All parameters of one request: query string first, then the body overrides."""
    params: Params = {}
    try:
        params.update(parse_qsl(query, keep_blank_values=True, strict_parsing=False))
        mime = content_type.split(";", 1)[0].strip().lower()
        if not body:
            return params
        if mime == "application/json":
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise MalformedToken("can't parse JSON object")
            params.update(decoded)
        elif mime == "multipart/form-data":
            params.update(_parse_multipart(content_type, body))
        elif mime in ("application/x-www-form-urlencoded", ""):
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        else:
            raise MalformedToken(f"unsupported Content-Type {mime[:40]!r}")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, MalformedToken):
            raise
        raise MalformedToken("can't parse request parameters") from None
    return params


def _parse_multipart(content_type: str, body: bytes) -> Params:
    """RFC 7578 form data via the stdlib MIME parser (no hand-rolled boundary scanning)."""
    try:
        return _multipart_parts(content_type, body)
    except MalformedToken:
        raise
    except (ValueError, TypeError, IndexError, LookupError, MessageError) as exc:
        raise MalformedToken("can't parse multipart body") from exc


def _multipart_parts(content_type: str, body: bytes) -> Params:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise MalformedToken("can't parse multipart body")
    out: Params = {}
    parts = message.get_payload()
    if not isinstance(parts, list):
        raise MalformedToken("can't parse multipart body")
    for part in parts:
        if not isinstance(part, Message):
            raise MalformedToken("can't parse multipart body")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise MalformedToken("multipart part without a name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_param("filename", header="content-disposition")
        if isinstance(filename, str):
            out[name] = Upload(filename, part.get_content_type(), data)
        else:
            out[name] = data.decode(part.get_content_charset() or "utf-8")
    return out


def _decode_json_value(value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value


def get_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, Upload):
        raise MalformedToken(f"{name} must be a String")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def get_int(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (bool, Upload, dict, list)):
        raise MalformedToken(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    sign = text[:1] == "-"
    digits = text[1:] if sign else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 20:
        raise MalformedToken(f"invalid {name} specified")
    return -int(digits) if sign else int(digits)


def get_bool(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if value is None or isinstance(value, Upload):
        return False
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")


def get_list(params: Mapping[str, Any], name: str) -> list[Any] | None:
    """A JSON array parameter (``allowed_updates``, ``entities``)."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        value = _decode_json_value(value)
    if not isinstance(value, list):
        raise MalformedToken(f"can't parse {name} JSON array")
    return value


def get_chat_id(params: Mapping[str, Any]) -> int:
    """``chat_id`` as an integer; ``@username`` channels are not part of the sandbox."""
    if params.get("chat_id") in (None, ""):
        raise MalformedToken("chat_id is empty")
    try:
        chat_id = get_int(params, "chat_id")
    except MalformedToken:
        raise MalformedToken("chat not found") from None
    if chat_id is None:
        raise MalformedToken("chat_id is empty")
    return chat_id


def fuzz_parse(data: bytes) -> object:
    """Fuzz entry: first line is the Content-Type, the rest the body; then typed reads."""
    head, _, body = data.partition(b"\n")
    params = parse_params(head.decode("latin-1"), body, "")
    for key in ("chat_id", "offset", "limit", "timeout", "message_id"):
        if key in params:
            get_int(params, key)
    if "allowed_updates" in params:
        get_list(params, "allowed_updates")
    get_bool(params, "drop_pending_updates")
    get_str(params, "text")
    return params
