"""Is the ``[bot]`` extra installed? Asked before anything of the bot is imported.

``pip install medcrypt-bridge`` is the companion only (a patient's or physician's
machine); the bot's dependencies - python-telegram-bot, twilio, SQLAlchemy, uvicorn and
the rest - come with ``medcrypt-bridge[bot]``. The ``medcrypt-bot`` console script is in
both installs, so without the extra it must say in one line what to install instead of
dying on the first ``ModuleNotFoundError`` with a traceback.

What the extra holds is read from the installed distribution's own metadata
(``Requires-Dist: ...; extra == "bot"``), never from a list kept here, so a dependency
added to the extra in pyproject.toml is checked without an edit. Only the standard
library is used: ``packaging`` is not installed in a companion-only environment.
"""

from __future__ import annotations

import re
from importlib import metadata

DISTRIBUTION = "medcrypt-bridge"
EXTRA = "bot"
#: A requirement's project name (PEP 508), then anything up to the marker.
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
#: The marker of a requirement that belongs to the extra and to nothing else.
_ONLY_THE_EXTRA = re.compile(r"""^\s*extra\s*==\s*["']""" + EXTRA + r"""["']\s*$""")

INSTALL_HINT = (f"medcrypt-bot: the clinic bot needs the [{EXTRA}] extra, which is not installed; "
                f"install it with: pip install '{DISTRIBUTION}[{EXTRA}]' "
                "(or the hashed lock requirements/bot.lock, docs/OPERATIONS.md)")


def missing_bot_dependencies() -> list[str]:
    """The ``[bot]`` extra's distributions that are not installed, by name.

    Empty when the project itself is not installed (a bare checkout on ``sys.path``):
    there is no metadata to compare against, and the imports will speak for themselves.
    """
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    missing = []
    for line in requires:
        requirement, _, marker = line.partition(";")
        found = _NAME.match(requirement)
        if found is None or not _ONLY_THE_EXTRA.match(marker):
            continue
        try:
            metadata.distribution(found[1])
        except metadata.PackageNotFoundError:
            missing.append(found[1])
    return missing
