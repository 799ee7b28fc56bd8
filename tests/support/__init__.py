"""Code the test suites share: rigs, clocks, tokens, ports and builders.

Test modules import shared helpers from here - never from a ``conftest.py`` and never
from another test module - and ``conftest.py`` files only wire these into fixtures
(as python-telegram-bot keeps its in ``tests/auxil``). The programs that live beside
the tests (``tests/vectors/generate.py``, ``tests/companion/gen_vectors.py``, the fuzz
harness in ``tests/fuzz/``) may be imported as programs too.

- ``rigs``: a live bot between the loopback fakes (one builder for every suite)
- ``tokens``: header-only wire tokens; ``conversation``: real companions' sessions
- ``clocks``, ``ports``: movable time; loopback ports for servers that need one fixed
- ``databases``: a fresh database per test on SQLite and on the run's PostgreSQL
- ``terminal``: answering a companion's y/N question on a real pty
- the rest: per-area builders and constants (audit, jobs, storage, companion CLI, ...)
"""
