"""The `bot` extra holds what only the bot imports; the companion needs none of it.

``pip install medcrypt-bridge`` (no extra) is what a patient installs: it must run every
``medcrypt`` command. This follows every import the companion's modules make - through
the project's own modules, functions included, type-checking blocks excluded - and maps
each third-party module to its distribution: each must be a plain dependency, not one of
the `bot` extra. The converse holds for the bot: whatever it imports is declared. The
built wheel is checked the same way at run time by scripts/wheel_check.sh (a fresh
companion-only venv that pairs two keystores and has no bot distribution installed).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _names(lines: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(line).name) for line in lines}


BASE = _names(PROJECT["dependencies"])
BOT = _names(PROJECT["optional-dependencies"]["bot"])


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != "medcrypt":
        return None
    base = ROOT.joinpath(*parts[1:]) if len(parts) > 1 else ROOT / "medcrypt"
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names imported anywhere in the file, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # submodules
    return found


def _third_party_closure(roots: list[str]) -> dict[str, str]:
    """Top-level third-party module -> the project module that first imports it."""
    seen: set[str] = set()
    todo = list(roots)
    external: dict[str, str] = {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module)
        if path is None:
            continue
        for name in _imports(path, module):
            top = name.split(".")[0]
            if top == "medcrypt":
                todo.append(name)
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                external.setdefault(top, module)
    return external


def _modules_under(folder: str) -> list[str]:
    return [".".join(("medcrypt", *p.relative_to(ROOT).with_suffix("").parts))
            .removesuffix(".__init__") for p in sorted((ROOT / folder).rglob("*.py"))]


def _distributions(external: dict[str, str]) -> dict[str, str]:
    owners = metadata.packages_distributions()
    out: dict[str, str] = {}
    for top, importer in external.items():
        dists = owners.get(top)
        assert dists, f"{importer} imports {top}, which no installed distribution provides"
        for dist in dists:
            out[canonicalize_name(dist)] = f"{importer} imports {top}"
    return out


def test_the_companion_imports_no_bot_dependency() -> None:
    used = _distributions(_third_party_closure(_modules_under("companion")))
    assert {"segno", "pynacl"} <= used.keys(), "the import walk found too little to mean anything"
    from_the_bot_extra = {d: why for d, why in used.items() if d in BOT}
    assert from_the_bot_extra == {}, "move these out of the [bot] extra, or out of the companion"
    undeclared = {d: why for d, why in used.items() if d not in BASE}
    assert undeclared == {}, "the companion needs these: declare them in dependencies"


def test_the_bot_extra_holds_no_companion_dependency() -> None:
    assert BASE.isdisjoint(BOT), BASE & BOT


def test_everything_the_bot_imports_is_declared() -> None:
    roots = _modules_under("bot") + _modules_under("storage") + _modules_under("migrations")
    used = _distributions(_third_party_closure(roots))
    assert {"python-telegram-bot", "sqlalchemy"} <= used.keys()
    postgres = _names(PROJECT["optional-dependencies"]["postgres"])
    # The key providers' libraries are extras of their own (ADR 0033), imported only
    # when that provider is configured.
    providers = set().union(*(_names(PROJECT["optional-dependencies"][extra])
                              for extra in ("pkcs11", "transit", "kms")))
    undeclared = {d: why for d, why in used.items()
                  if d not in BASE | BOT | postgres | providers}
    assert undeclared == {}


def test_ptb_comes_without_its_webhooks_extra() -> None:
    """The bot's HTTP server is starlette/uvicorn; PTB's [webhooks] would add tornado."""
    ptb = [Requirement(r) for r in PROJECT["optional-dependencies"]["bot"]
           if canonicalize_name(Requirement(r).name) == "python-telegram-bot"]
    assert len(ptb) == 1
    assert ptb[0].extras == set()
    for lock in ("bot", "companion", "dev"):
        text = (ROOT / "requirements" / f"{lock}.lock").read_text()
        assert "\ntornado==" not in text, f"requirements/{lock}.lock still pins tornado"
