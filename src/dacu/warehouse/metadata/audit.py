"""Old path of `dacu.metadata.audit`, kept for one release: the very same module."""

import sys

from dacu.metadata import audit
from dacu.metadata.audit import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = audit
