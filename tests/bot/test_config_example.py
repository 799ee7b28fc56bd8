"""config.example.toml documents every setting, and loads as-is."""

from __future__ import annotations

import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path

from medcrypt.bot.domain.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_example_loads() -> None:
    load_settings(EXAMPLE)


def test_every_setting_is_in_the_example() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    missing = []
    for section in fields(Settings):
        cls = section.default_factory()  # type: ignore[misc]
        assert is_dataclass(cls)
        for f in fields(cls):
            if f.name not in data.get(section.name, {}):
                missing.append(f"{section.name}.{f.name}")
    assert not missing, f"undocumented settings: {missing}"


def test_no_secret_values_in_the_example() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    for section in data.values():
        for key, value in section.items():
            if any(w in key for w in ("password", "token", "secret")) and \
                    not key.endswith("_env"):
                assert isinstance(value, bool), key  # flags only, never a secret value
