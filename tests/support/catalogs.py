"""What the catalog tests of both gettext domains (the bot's ``medcrypt``, the companion's
``medcrypt-companion``) read the same way: msgids, placeholders, untranslated entries,
and ``scripts/i18n.py`` loaded as a module."""

from __future__ import annotations

import importlib.util
import string
from pathlib import Path
from types import ModuleType

from babel.messages.catalog import Catalog

ROOT = Path(__file__).resolve().parents[2]


def msgids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    """Every msgid (a plural entry as its tuple of forms); the header entry left out."""
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def placeholder_names(text: str) -> set[str]:
    """The named ``{placeholders}`` of a msgid or translation."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def untranslated(catalog: Catalog) -> list[object]:
    """The msgids with no translation: fuzzy, empty, or a plural with an empty form."""
    return [m.id for m in catalog if m.id and (
        m.fuzzy or not m.string or (isinstance(m.string, tuple) and not all(m.string)))]


def load_i18n_script() -> ModuleType:
    """``scripts/i18n.py`` (not a package module) imported from its file."""
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script
