"""MedCrypt bridge: end-to-end encrypted patient-physician messaging.

The repository keeps the folders the project was asked for (``crypto/``, ``bot/``,
``storage/``, ``companion/``, ``migrations/`` at the top); this package gives them one
import namespace of the project's own, through relative symlinks, so an installed
wheel claims only ``medcrypt`` in site-packages (docs/adr/0006-import-namespace.md).
"""
