"""``medcrypt.crypto`` names its recipes but imports none of them until asked (PEP 562).

A keyless import (``medcrypt.crypto.keyless.wire``) first imports the package itself, so
an eager ``__init__`` would load decrypting code into the relay. Whether a module is
loaded can only be seen in a fresh interpreter (this test process has long imported
everything), so those checks run ``python -c`` and read back ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import medcrypt.crypto
from medcrypt.crypto import _LAZY

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "medcrypt.crypto.endpoint"


def loaded_after(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh interpreter; it fills ``snapshots[label] = sorted(sys.modules)``."""
    program = "import json, sys\nsnapshots = {}\n" + textwrap.dedent(code) + (
        "\nprint(json.dumps(snapshots))\n")
    out = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    result: dict[str, list[str]] = json.loads(out.splitlines()[-1])
    return result


def endpoint_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if m == ENDPOINT or m.startswith(ENDPOINT + ".")]


def test_keyless_and_server_imports_load_no_endpoint_module() -> None:
    snaps = loaded_after("""
        import pkgutil
        import medcrypt.crypto
        snapshots["package"] = sorted(sys.modules)
        import medcrypt.crypto.keyless, medcrypt.crypto.server
        names = [m.name for pkg in (medcrypt.crypto.keyless, medcrypt.crypto.server)
                 for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
        for name in names:
            __import__(name)
        from medcrypt.crypto import Keyring, parse_token, seal_to_public_key, verify_chain
        snapshots["keyless+server"] = sorted(sys.modules)
        snapshots["imported"] = names
        medcrypt.crypto.PairingSession  # the facade's endpoint recipe, on first use
        snapshots["after PairingSession"] = sorted(sys.modules)
    """)
    package = [m for m in snaps["package"] if m.startswith("medcrypt.crypto")]
    assert package == ["medcrypt.crypto"]  # the package alone imports nothing of its own
    keyless = snaps["keyless+server"]
    # not vacuous: every keyless and server module, and the facade's recipes, were loaded
    assert {"medcrypt.crypto.keyless.wire", "medcrypt.crypto.keyless.parts",
            "medcrypt.crypto.keyless.epochs", "medcrypt.crypto.keyless.sealing",
            "medcrypt.crypto.server.keyring", "medcrypt.crypto.server.escrow_key",
            "medcrypt.crypto.server.audit.verify"} <= set(snaps["imported"]) <= set(keyless)
    assert endpoint_modules(keyless) == []
    # and the same check does see endpoint code once a recipe of it is used
    assert f"{ENDPOINT}.session" in endpoint_modules(snaps["after PairingSession"])


def test_every_name_resolves_to_the_module_the_map_names() -> None:
    assert set(_LAZY) == set(medcrypt.crypto.__all__)
    assert len(medcrypt.crypto.__all__) == len(set(medcrypt.crypto.__all__))
    for name, module in _LAZY.items():
        value = getattr(medcrypt.crypto, name)
        assert value is getattr(sys.modules[module], name)
        defined_in = value.__module__
        assert defined_in == module or defined_in.startswith(module + "."), name
    assert set(medcrypt.crypto.__all__) <= set(dir(medcrypt.crypto))


def test_type_checking_block_names_exactly_the_lazy_map() -> None:
    """mypy reads the TYPE_CHECKING imports, the runtime reads _LAZY: they must agree."""
    tree = ast.parse(Path(medcrypt.crypto.__file__).read_text(encoding="utf-8"))
    guarded = [node for node in tree.body if isinstance(node, ast.If)
               and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"]
    assert len(guarded) == 1
    static = {alias.asname or alias.name: node.module for node in guarded[0].body
              if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert static == _LAZY


def test_other_names_are_attribute_errors_and_submodules_still_import() -> None:
    with pytest.raises(AttributeError, match="no attribute 'open_everything'"):
        _ = medcrypt.crypto.open_everything
    from medcrypt.crypto import _primitives, errors  # submodules fall through __getattr__

    assert errors.__name__ == "medcrypt.crypto.errors"
    assert _primitives.__name__ == "medcrypt.crypto._primitives"
