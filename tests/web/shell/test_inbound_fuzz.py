"""The token finder of the web app (web/src/app/inbound.ts `findTokens`), which reads
link fragments and shared text, against hostile input: a seeded run of random and
mutated strings through the real module in Node, compared with a reference scan in
Python. It must never throw, return only substrings of its input that look like a
token, in order, without duplicates, and give up on input over 1 MiB."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from tests.support import web

REFERENCE = re.compile(r"\[MEDCRYPT:v[0-9]+:[A-Za-z0-9+/=_-]+\]")
ALPHABET = "[]MEDCRYPT:v3AZaz09+/=_-% \n\u00e9\u0000#"


def _cases(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    good = "[MEDCRYPT:v3:QUJDREVGR0hJSktMTU5PUA==]"
    out = ["", good, good * 2, good + " " + good.replace("Q", "R"), "x" * (1 << 20) + good]
    for _ in range(count):
        kind = rng.random()
        if kind < 0.4:
            out.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 80))))
        else:
            text = list(" ".join(good for _ in range(rng.randint(1, 3))))
            for _ in range(rng.randint(0, 4)):
                i = rng.randrange(len(text))
                text[i] = rng.choice(ALPHABET)
            out.append("".join(text))
    return out


def _reference(text: str) -> list[str]:
    if len(text) > 1 << 20:
        return []
    return list(dict.fromkeys(REFERENCE.findall(text)))


def test_find_tokens_on_random_and_mutated_input(web_build: web.Build, tmp_path: Path) -> None:
    cases = _cases(seed=14, count=3000)
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(cases))
    results = web.run_in_node(tmp_path, "src/app/inbound.ts", f"""
import {{ readFileSync }} from "node:fs";
const cases = JSON.parse(readFileSync({json.dumps(str(cases_file))}, "utf8"));
const out = cases.map((c) => {{ try {{ return m.findTokens(c); }}
                               catch (e) {{ return {{threw: String(e)}}; }} }});
process.stdout.write(JSON.stringify(out));
""")
    assert len(results) == len(cases)
    for text, found in zip(cases, results, strict=True):
        assert isinstance(found, list), found
        assert found == _reference(text), text[:200]
        assert all(tok in text for tok in found)
