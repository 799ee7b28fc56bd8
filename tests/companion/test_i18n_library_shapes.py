"""No refusal of the crypto library with values in it reaches a companion user in English
(issue 16): a source walk of crypto/.

Every ``raise`` whose message is an f-string, in a crypto/ module the companion imports
(directly or through other modules, function-level imports included: grimp's import
graph, the one import-linter checks), must have an entry in
``companion/library_texts.PATTERNS`` whose wording, its values aside, is the f-string's.
A new raise site, or a reworded one, fails here instead of showing English to a Spanish
reader. The converse holds too: an entry no raise site writes any more is stale.
The names of what the library checks (``_need(value, 32, "nonce")``) are words inside
such messages; every one crypto/ passes must be in ``WORDS``.
"""

from __future__ import annotations

import ast
import builtins
import string
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import grimp

from medcrypt.companion.library_texts import PATTERNS, WORDS
from medcrypt.crypto import errors
from medcrypt.crypto.endpoint.pairing import Role

ROOT = Path(__file__).resolve().parents[2]
#: Entries that read one fixed value of a raised shape more precisely, each with the value
#: (which must still be in crypto/): a month shredded before this device first used it.
REFINEMENTS = {
    "messages of {month} were shredded at before this device's first use of it (grace "
    "ended {grace}); they cannot be read": "before this device's first use of it",
}
_BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                   if isinstance(value, type) and issubclass(value, BaseException)}


@cache
def _reachable() -> tuple[Path, ...]:
    """The crypto/ source files the companion imports, directly or not."""
    graph = grimp.build_graph("medcrypt", cache_dir=None)
    modules = graph.find_upstream_modules("medcrypt.companion", as_package=True)
    files = []
    for module in sorted(m for m in modules if m.startswith("medcrypt.crypto")):
        parts = module.split(".")[1:]
        path = ROOT.joinpath(*parts)
        files.append(path / "__init__.py" if path.is_dir() else path.with_suffix(".py"))
    return tuple(files)


@cache
def _trees() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple((path, ast.parse(path.read_text(encoding="utf-8"))) for path in _reachable())


def _raised_class(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else "")


def _message(call: ast.Call) -> ast.expr | None:
    """The argument that is the error's text: a ConfigError's second, else the first."""
    args = call.args[1:] if _raised_class(call) == "ConfigError" else call.args
    return args[0] if args else None


def _skeleton_of_fstring(node: ast.JoinedStr) -> str:
    return "".join(v.value.replace("{", "{{").replace("}", "}}")
                   if isinstance(v, ast.Constant) else "{}" for v in node.values)


def _skeleton(english: str) -> str:
    return "".join(literal.replace("{", "{{").replace("}", "}}") + ("{}" if name is not None
                                                                    else "")
                   for literal, name, _spec, _conv in string.Formatter().parse(english))


def _valued_raises() -> Iterator[tuple[str, str]]:
    """(where, skeleton) of every raise with an f-string message the companion can see."""
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            if _raised_class(node.exc) in _BUILTIN_ERRORS:
                continue  # a programming error (ValueError...): a traceback, not a refusal
            message = _message(node.exc)
            if isinstance(message, ast.JoinedStr):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                yield where, _skeleton_of_fstring(message)


def test_the_walk_sees_the_companions_crypto() -> None:
    """The walk is not vacuous: the modules a companion certainly uses are in it, the
    server's audit log (which no companion imports) is not."""
    names = {str(p.relative_to(ROOT)) for p in _reachable()}
    assert {"crypto/endpoint/attachment.py", "crypto/keyless/parts.py",
            "crypto/endpoint/v3/session.py", "crypto/_primitives.py"} <= names
    assert "crypto/server/audit/verify.py" not in names
    assert len(list(_valued_raises())) >= 30


def test_every_valued_refusal_the_companion_can_see_has_a_pattern() -> None:
    known = {_skeleton(entry.english) for entry in PATTERNS}
    missing = sorted(f"{where}: {shape}" for where, shape in _valued_raises()
                     if shape not in known)
    assert missing == [], "add these to companion/library_texts.py:\n" + "\n".join(missing)


def test_no_pattern_is_stale() -> None:
    raised = {shape for _, shape in _valued_raises()}
    texts = _constants()
    stale = []
    for entry in PATTERNS:
        if entry.english in REFINEMENTS:
            if REFINEMENTS[entry.english] not in texts:
                stale.append(entry.english)
        elif _skeleton(entry.english) not in raised:
            stale.append(entry.english)
    assert stale == []


def test_the_class_of_each_valued_refusal_is_a_medcrypt_error() -> None:
    """error_text shows MedCryptErrors; a valued raise of another class would bypass it."""
    ours = {name for name, value in vars(errors).items()
            if isinstance(value, type) and issubclass(value, errors.MedCryptError)}
    others = set()
    for path, tree in _trees():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(_message(node.exc), ast.JoinedStr)):
                name = _raised_class(node.exc)
                if name not in ours and name not in _BUILTIN_ERRORS:
                    others.add(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert others == set()


@cache
def _constants() -> frozenset[str]:
    return frozenset(n.value for path in (ROOT / "crypto").rglob("*.py")
                     for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                     if isinstance(n, ast.Constant) and isinstance(n.value, str))


def _what_names() -> set[str]:
    """Every constant the companion's crypto/ modules pass as a ``what`` (the name of
    the value a refusal says is wrong)."""
    names: set[str] = set()
    for _path, tree in _trees():
        position = {f.name: [a.arg for a in f.args.args].index("what")
                    for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                    and "what" in [a.arg for a in f.args.args]}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = _raised_class(node)
                index = _callee_position(func, position)
                if index is None:
                    continue
                found = [k.value for k in node.keywords if k.arg == "what"]
                found += node.args[index:index + 1]
                names.update(v.value for v in found
                             if isinstance(v, ast.Constant) and isinstance(v.value, str))
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Tuple):
                # for value, size, what in ((pid, 16, "pairing id"), ...)
                slots = [e.id if isinstance(e, ast.Name) else "" for e in node.target.elts]
                if "what" in slots and isinstance(node.iter, ast.Tuple | ast.List):
                    k = slots.index("what")
                    names.update(row.elts[k].value for row in node.iter.elts
                                 if isinstance(row, ast.Tuple)
                                 and isinstance(row.elts[k], ast.Constant))
    return names


def _callee_position(func: str, local: dict[str, int]) -> int | None:
    if func in local:
        return local[func]
    return _shared_positions().get(func)


@cache
def _shared_positions() -> dict[str, int]:
    """Functions with a ``what`` parameter in those modules (called across modules)."""
    found: dict[str, int] = {}
    for _path, tree in _trees():
        for f in ast.walk(tree):
            if isinstance(f, ast.FunctionDef) and "what" in [a.arg for a in f.args.args]:
                found[f.name] = [a.arg for a in f.args.args].index("what")
    return found


def test_every_name_crypto_checks_is_a_word_we_translate() -> None:
    names = _what_names()
    assert {"nonce", "pairing id", "MedCrypt pairing offer"} <= names  # the walk sees them
    assert sorted(names - set(WORDS)) == []


def test_no_word_is_stale() -> None:
    said = _what_names() | {role.value for role in Role}
    assert sorted(set(WORDS) - said) == []
