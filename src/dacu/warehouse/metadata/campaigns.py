"""Old path of `dacu.metadata.campaigns`, kept for one release: the very same module."""

import sys

from dacu.metadata import campaigns
from dacu.metadata.campaigns import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = campaigns
