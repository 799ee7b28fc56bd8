"""ORM models, one domain per module.

:func:`load_all` imports every module of this package (found with :mod:`pkgutil`), so
Alembic's ``env.py``, the models==migrations check and ``Base.metadata`` see every
table - including modules other teams add (``audit.py``) - without a central list that
someone forgets to update.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

from medcrypt.storage.base import Base


def load_all() -> MetaData:
    """Import every model module and return the complete metadata."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        importlib.import_module(f"{__name__}.{info.name}")
    return Base.metadata
