"""Every text the bot sends a person is a msgid, translated for that person (issue 16).

The catalog tests (``test_i18n_catalogs``) check that every msgid in the template has
its Spanish; this module checks the other half: that what the bot *sends* is a msgid at
all. It reads the source of ``bot/`` (the operator CLI, ``bot/cli``, prints to a
terminal and is not a chat reply) and fails on

- a reply or notice built from English words in the code - ``ctx.reply("...")``,
  ``ctx.notify(who, f"...")``, ``ctx.reply(NOTICE.format(...))`` - rather than through
  ``say``/``tell``/``translate``, which translate for the recipient;
- a msgid handed to ``say``/``tell``/``translate``/``msg`` that is not in the template
  (a constant that was never marked ``N_``, so no translator will ever see it);
- a module-level text constant of the modules that write to people that is not marked.

It also checks that the template is current byte for byte (but its creation date), and
that refreshing the catalogs without a new msgid leaves the template untouched.
"""

from __future__ import annotations

import ast
import importlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.pofile import read_po

from medcrypt.bot.domain import i18n
from tests.support.catalogs import load_i18n_script

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"
TEMPLATE = i18n.LOCALE_DIR / "medcrypt.pot"
#: Calls whose argument is text going to a person as it is (already written).
SENDS = {"reply": 0, "notify": 1}
#: Calls that translate their first argument (a msgid, a Nn_ pair or a Msg).
TRANSLATING = {"say": 0, "tell": 1, "translate": 1, "translate_plural": 1, "msg": 0,
               "msg_plural": 0}
#: Modules whose module-level texts are written to people (replies, notices).
WRITERS = ("commands", "domain", "relay", "outbox", "scheduler")
#: Module-level texts there that are not replies, each with why.
NOT_REPLIES = {
    # The jobs' descriptions for ``medcrypt-bot jobs`` (an operator's terminal); /jobs
    # shows the translated titles of bot.scheduler.listing instead.
    "medcrypt.bot.domain.lifecycle.names.JOBS": "the jobs' operator descriptions",
}


def _sources() -> Iterator[tuple[str, Path]]:
    for path in sorted(BOT.rglob("*.py")):
        rel = path.relative_to(BOT)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        yield "medcrypt.bot." + ".".join(rel.with_suffix("").parts).removesuffix(".__init__"), path


def _msgids() -> set[str]:
    with TEMPLATE.open("rb") as f:
        catalog = read_po(f)
    found: set[str] = set()
    for m in catalog:
        if isinstance(m.id, tuple):
            found.update(m.id)
        elif m.id:
            found.add(m.id)
    return found


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _knows_language(call: ast.Call) -> bool:
    """A function writing text for someone is given their language (``ctx.lang``,
    ``language``) or the handling context that holds it (``ctx``)."""
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        name = _name(arg) if isinstance(arg, ast.Name | ast.Attribute) else None
        if name in {"lang", "language", "ctx"}:
            return True
    return False


def _words(node: ast.AST) -> list[str]:
    """English written into the expression: string constants with a letter, outside
    format specs (``{at:%Y-%m-%d}``) and outside a translating call."""
    found: list[str] = []

    def walk(n: ast.AST) -> None:
        if isinstance(n, ast.Call) and _name(n.func) in {*TRANSLATING, "in_"}:
            return
        if isinstance(n, ast.FormattedValue):
            walk(n.value)
            return
        if isinstance(n, ast.Constant) and isinstance(n.value, str) \
                and any(c.isalpha() for c in n.value):
            found.append(n.value)
        if isinstance(n, ast.Call) and _name(n.func) == "format":
            found.append("<str.format outside translate>")
        elif isinstance(n, ast.Call) and _name(n.func) != "join":
            if not _knows_language(n):
                found.append(f"<{_name(n.func)}() not told the recipient's language>")
            return  # what it is given to write with is its own business
        if isinstance(n, ast.Name | ast.Attribute) and (_name(n) or "").isupper():
            found.append(f"<untranslated constant {_name(n)}>")
            return
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(node)
    return found


def _resolve(module: ModuleType, node: ast.expr) -> object:
    """The value of ``NAME`` or ``mod.NAME`` in ``module``'s namespace (None: not static)."""
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None)
    if isinstance(node, ast.Attribute):
        owner = _resolve(module, node.value)
        return getattr(owner, node.attr, None) if owner is not None else None
    if isinstance(node, ast.Subscript):
        return None
    return None


def untranslated_sends(source: str, module: ModuleType | None = None,
                       msgids: set[str] | None = None) -> list[str]:
    """What :mod:`this test <tests.bot.test_i18n_send_sites>` refuses in ``source``."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in SENDS and len(node.args) > SENDS[name]:
            problems += [f"line {node.lineno}: {name}() of {w!r}"
                         for w in _words(node.args[SENDS[name]])]
        if name in TRANSLATING and len(node.args) > TRANSLATING[name]:
            arg = node.args[TRANSLATING[name]]
            if isinstance(arg, ast.Constant | ast.JoinedStr):
                problems.append(f"line {node.lineno}: {name}() of a literal, not a marked msgid")
                continue
            value = _resolve(module, arg) if module is not None else None
            texts = value if isinstance(value, tuple) else (value,)
            if msgids is not None and all(isinstance(t, str) for t in texts):
                problems += [f"line {node.lineno}: {name}() of {t[:50]!r}, not in the template"
                             for t in texts if t not in msgids]
    return problems


def test_the_check_catches_english_sent_as_it_is() -> None:
    bad = (
        'ctx.reply("Nothing was done.")\n'
        'ctx.notify(other, f"Pairing {tag} ended.")\n'
        'ctx.reply(notices.UNPAIRED.format(tag=tag))\n'
        'ctx.reply(NOT_YOURS)\n'
        'ctx.say("Literal text")\n'
        'ctx.reply(render_head_reply(head))\n'
    )
    flagged = {p.split(":")[0] for p in untranslated_sends(bad)}
    assert flagged == {f"line {n}" for n in range(1, 7)}
    good = (
        'ctx.say(notices.UNPAIRED, tag=tag)\n'
        'ctx.reply(f"{translate(ctx.lang, notices.REMOVED)} {removal(ctx)}")\n'
        'ctx.reply("\\n".join(lines))\n'
        'ctx.reply(f"{when:%Y-%m-%d %H:%M}")\n'
        'ctx.reply(render_head_reply(head, ctx.lang))\n'
    )
    assert untranslated_sends(good) == []


def test_the_check_catches_a_msgid_missing_from_the_template() -> None:
    module = ModuleType("fake")
    module.NEW = "A reply nobody marked."  # type: ignore[attr-defined]
    assert untranslated_sends("ctx.say(NEW)\n", module, _msgids()) == [
        "line 1: say() of 'A reply nobody marked.', not in the template"]


def test_every_send_site_of_the_bot_sends_translated_text() -> None:
    msgids = _msgids()
    problems = []
    for dotted, path in _sources():
        module = importlib.import_module(dotted)
        problems += [f"{path.relative_to(ROOT)} {p}"
                     for p in untranslated_sends(path.read_text(), module, msgids)]
    assert problems == []


def _assigned(path: Path) -> set[str]:
    """Names a module assigns at its top level."""
    names: set[str] = set()
    for stmt in ast.parse(path.read_text()).body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _texts(module: ModuleType) -> Iterator[tuple[str, str]]:
    for key, value in vars(module).items():
        if not key.isupper() or key.startswith("_"):
            continue
        values = value.values() if isinstance(value, dict) else [value]
        for v in values:
            parts = v if isinstance(v, tuple) else (v,)
            for part in parts:
                if isinstance(part, str) and " " in part.strip() \
                        and sum(c.isalpha() for c in part) > 3:
                    yield key, part


def test_every_text_constant_of_the_writing_modules_is_a_msgid() -> None:
    msgids = _msgids()
    unmarked = []
    for dotted, path in _sources():
        if dotted.split(".")[2] not in WRITERS:
            continue
        module = importlib.import_module(dotted)
        defined = _assigned(path)  # an imported constant is its own module's business
        for key, text in _texts(module):
            if key not in defined or f"{dotted}.{key}" in NOT_REPLIES or text in msgids:
                continue
            unmarked.append(f"{dotted}.{key}: {text[:50]!r}")
    assert unmarked == []



def test_the_template_is_current_but_for_its_date(tmp_path: Path) -> None:
    script = load_i18n_script()
    fresh = tmp_path / "fresh.pot"
    script.extract(fresh)
    assert script._undated(fresh.read_bytes()) == script._undated(TEMPLATE.read_bytes()), (
        "bot/locale/medcrypt.pot is stale: run scripts/i18n.py")


def test_a_refresh_without_new_msgids_keeps_the_template_date(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_i18n_script()
    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, locale)
    monkeypatch.setattr(script, "LOCALE", locale)
    monkeypatch.setattr(script, "TEMPLATE", locale / "medcrypt.pot")
    # main() refreshes the companion's catalogs too: a copy of them, never the checkout's.
    companion = tmp_path / "companion-locale"
    shutil.copytree(ROOT / "companion" / "locale", companion)
    monkeypatch.setattr(script, "COMPANION_LOCALE", companion)
    monkeypatch.setattr(script, "COMPANION_TEMPLATE", companion / "medcrypt-companion.pot")
    before = {p: p.read_bytes() for d in (locale, companion) for p in d.rglob("*")
              if p.is_file()}
    assert script.main([]) == 0
    after = {p: p.read_bytes() for d in (locale, companion) for p in d.rglob("*")
             if p.is_file()}
    assert after == before
