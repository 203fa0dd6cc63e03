"""Old path of `dacu.metadata.alerts`, kept for one release: the very same module."""

import sys

from dacu.metadata import alerts
from dacu.metadata.alerts import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = alerts
