"""``python -m companion`` runs the ``medcrypt`` CLI (same as the console script)."""

from medcrypt.companion.cli import entry

entry()
