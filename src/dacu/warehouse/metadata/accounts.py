"""Old path of `dacu.metadata.accounts`, kept for one release: the very same module."""

import sys

from dacu.metadata import accounts
from dacu.metadata.accounts import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = accounts
