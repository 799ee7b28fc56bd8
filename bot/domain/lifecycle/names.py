"""The names of the key-lifecycle jobs, apart from the jobs themselves.

The command line offers these names as choices when it builds its parser; importing
the jobs would load the database layer for ``medcrypt-bot --help``.
"""

from __future__ import annotations

JOBS: dict[str, str] = {
    "rotation": "monthly rotation: epoch rows, notices, audit",
    "shred_sweep": "retire, warn and shred epochs past their grace window",
    "key_epoch": "close the server key tree's shred epoch when due",
}
ALIASES = {"rotate": "rotation", "shred": "shred_sweep", "rotation": "rotation",
           "shred_sweep": "shred_sweep", "key_epoch": "key_epoch",
           "close_epoch": "key_epoch"}
