"""``python -m ilib.assignments``: a thin alias of :mod:`ilib.harness.assignments` (student copies and grading)."""

import sys

from .harness.assignments import *  # noqa: F401,F403
from .harness.assignments import main

if __name__ == "__main__":
    sys.exit(main())
