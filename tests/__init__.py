"""The test suite.

Bytecode is written even where ``PYTHONDONTWRITEBYTECODE=1`` is set (this machine, CI):
without it every run rewrites and compiles every test module again - about 9 s of CPU in
each xdist worker before its first test - and every ``python -m medcrypt...`` child a test
starts compiles what it imports. This package is imported before conftest.py and the test
modules; ``__pycache__`` is git-ignored, and what a test runs is the same source either way.
"""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the processes the tests start
