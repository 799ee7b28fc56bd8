"""Properties of the webhook parameters and signatures the fake Twilio produces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from medcrypt.sandbox.tg_models import command_entities, utf16_len
from medcrypt.sandbox.tw_inbound import inbound_params, sign

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://bot.clinic.example/twilio/inbound?x=1"
texts = st.text(max_size=200)


def params_for(body: str, profile: str, media: list[str]) -> dict[str, str]:
    return inbound_params(
        account_sid="AC" + "0" * 32, message_sid="SM" + "1" * 32,
        from_addr="whatsapp:+15551230001", to_addr="whatsapp:+14155238886", body=body,
        profile_name=profile, media=[(f"http://127.0.0.1:1/m/{i}", ct)
                                     for i, ct in enumerate(media)])


@settings(max_examples=150)
@given(texts, texts, st.lists(st.sampled_from(["image/jpeg", "application/pdf",
                                               "audio/ogg"]), max_size=3))
def test_valid_signatures_validate_and_any_change_breaks_them(
        body: str, profile: str, media: list[str]) -> None:
    params = params_for(body, profile, media)
    signature = sign(TOKEN, URL, params)
    validator = RequestValidator(TOKEN)
    assert validator.validate(URL, params, signature)
    assert not validator.validate(URL.replace("x=1", "x=2"), params, signature)
    assert not RequestValidator("f" * 32).validate(URL, params, signature)
    tampered = dict(params, Body=body + "!")
    assert not validator.validate(URL, tampered, signature)
    assert params["NumMedia"] == str(len(media))


@given(st.text(max_size=50))
def test_utf16_length_counts_surrogate_pairs(text: str) -> None:
    assert utf16_len(text) == sum(2 if ord(c) > 0xFFFF else 1 for c in text)


@given(st.from_regex(r"/[a-z_]{1,20}", fullmatch=True), st.text(max_size=20))
def test_commands_get_a_bot_command_entity(command: str, rest: str) -> None:
    text = command + (" " + rest if rest else "")
    (entity,) = command_entities(text)
    assert entity == {"type": "bot_command", "offset": 0, "length": len(command)}
    assert command_entities("x" + text) == []
