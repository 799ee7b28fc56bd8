"""Where the built web bundle is: an explicit directory, the installed wheel, a checkout.

The wheel a patient or physician installs carries the bundle as package data in
``medcrypt/companion/web_bundle/`` (``scripts/wheel_check.sh`` builds it with
``scripts/web.sh`` and puts it there); a checkout has ``web/dist/`` after
``bash scripts/web.sh``. Either way ``medcrypt ui`` checks every file against
``bundle.sha256sums`` before serving (bundle.py).
"""

from __future__ import annotations

from pathlib import Path

from medcrypt.companion.i18n import N_, error
from medcrypt.companion.webui.bundle import SUMS, Bundle, check_bundle
from medcrypt.crypto.errors import ConfigError

PACKAGED = Path(__file__).resolve().parents[1] / "web_bundle"
CHECKOUT = Path(__file__).resolve().parents[2] / "web" / "dist"


def find_bundle(explicit: str | None) -> Path:
    """The directory to serve, or a ConfigError that says how to get one."""
    if explicit:
        path = Path(explicit).expanduser()
        if not (path / SUMS).is_file():
            raise error(ConfigError, N_("{path} holds no {sums}: not a built web bundle"),
                        key="--bundle", path=path, sums=SUMS)
        return path
    for candidate in (PACKAGED, CHECKOUT):
        if (candidate / SUMS).is_file():
            return candidate
    raise error(ConfigError, N_("no built web bundle: in a checkout run 'bash scripts/web.sh'"),
                key="--bundle")


def load_local(root: Path) -> Bundle:
    """The bundle in ``root``, every file checked against its ``bundle.sha256sums``.

    Paths come from the list only after :func:`parse_sums` has refused anything outside
    the bundle, so nothing else under ``root`` (or above it) is ever read.
    """
    return check_bundle((root / SUMS).read_bytes(), None, lambda path: (root / path).read_bytes())
