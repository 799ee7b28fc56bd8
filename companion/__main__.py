"""``python -m companion`` runs the ``medcrypt`` CLI (same as the console script)."""

from companion.cli import entry

entry()
