"""Hypothesis properties for the companion's input parsers and the CLI round trip."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcrypt.companion.cli.messages import collect_tokens
from medcrypt.companion.offer_input import extract_offer_text
from medcrypt.crypto.errors import MalformedToken, MedCryptError
from tests.support.companion import Cli, Pair

_TOKENISH = st.text(alphabet="[]MEDCRYPT:v12AQIB+/=medcrypt-pair:_- \n", max_size=200)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), _TOKENISH))
def test_offer_input_raises_only_malformed(text: str) -> None:
    with contextlib.suppress(MalformedToken):
        extract_offer_text(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), _TOKENISH))
def test_token_collector_raises_only_project_errors(text: str) -> None:
    with contextlib.suppress(MedCryptError):
        collect_tokens(text)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=3000), max_chars=st.sampled_from([None, 400, 1600]))
def test_cli_round_trip_any_text(cli: Cli, pair: Pair, text: str, max_chars: int | None) -> None:
    extra = [] if max_chars is None else ["--max-chars", str(max_chars)]
    # Text that is not valid UTF-8 cannot come from a terminal; surrogates are skipped.
    text = text.encode("utf-8", "ignore").decode("utf-8") or "x"
    out = cli.ok(pair.pat, "encrypt", "--no-history", *extra, stdin=text).out
    assert all(len(line) <= (max_chars or 10**9) for line in out.split())
    # --json: the exact text (the plain output escapes control characters, display.py)
    opened = cli.ok(pair.doc, "decrypt", "--no-history", "--json", stdin=out).out
    assert json.loads(opened)["text"] == text
