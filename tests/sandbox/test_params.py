"""Properties of the Bot API parameter decoder the fake Telegram server uses."""

from __future__ import annotations

import contextlib
import json
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken, MedCryptError
from medcrypt.sandbox.params import (
    Upload,
    fuzz_parse,
    get_bool,
    get_chat_id,
    get_int,
    get_list,
    get_str,
    parse_params,
)
from tests.fuzz.targets_sandbox import TARGETS

keys = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=12)
values = st.text(max_size=60)


@given(st.dictionaries(keys, values, max_size=8))
def test_form_json_and_query_encodings_agree(params: dict[str, str]) -> None:
    form = parse_params("application/x-www-form-urlencoded", urlencode(params).encode())
    as_json = parse_params("application/json", json.dumps(params).encode())
    as_query = parse_params("", b"", urlencode(params))
    assert form == as_json == as_query == params


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_integers_round_trip_in_every_encoding(n: int) -> None:
    assert get_int({"chat_id": str(n)}, "chat_id") == n
    assert get_int({"chat_id": n}, "chat_id") == n
    assert get_chat_id({"chat_id": json.dumps(n)}) == n


@given(st.binary(max_size=300))
def test_arbitrary_bodies_only_raise_project_errors(data: bytes) -> None:
    for ctype in ("application/json", "multipart/form-data; boundary=b",
                  "application/x-www-form-urlencoded", "text/xml"):
        with contextlib.suppress(MedCryptError):
            parse_params(ctype, data)


@given(st.binary(max_size=2000), st.text(min_size=1, max_size=20).filter(str.isprintable))
def test_multipart_file_bytes_survive_exactly(data: bytes, name: str) -> None:
    boundary = "----medcrypt-boundary-7d1f"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n5\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; "
            f"filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    params = parse_params(f"multipart/form-data; boundary={boundary}", body)
    doc = params["document"]
    assert isinstance(doc, Upload) and doc.data == data and doc.filename == "f.bin"
    assert get_int(params, "chat_id") == 5


def test_typed_getters() -> None:
    assert get_list({"a": '["message", "callback_query"]'}, "a") == ["message",
                                                                    "callback_query"]
    assert get_list({}, "a") is None
    assert get_bool({"b": "true"}, "b") and get_bool({"b": True}, "b")
    assert not get_bool({"b": "false"}, "b") and not get_bool({}, "b")
    assert get_str({"t": 5}, "t") == "5"
    with pytest.raises(MalformedToken):
        get_list({"a": "{not json"}, "a")
    with pytest.raises(MalformedToken):
        get_int({"n": "12a"}, "n")
    with pytest.raises(MalformedToken, match="chat_id is empty"):
        get_chat_id({})
    with pytest.raises(MalformedToken, match="chat not found"):
        get_chat_id({"chat_id": "@channel"})


def test_fuzz_seed_shapes_parse() -> None:
    func, seeds = TARGETS["sandbox_bot_api_params"]
    results = []
    for seed in seeds:
        try:
            results.append(func(seed))
        except MalformedToken:
            results.append(None)
    assert [isinstance(r, dict) for r in results] == [True, True, True, False]
    with pytest.raises(MalformedToken, match="JSON object"):
        fuzz_parse(b"application/json\n[]")
