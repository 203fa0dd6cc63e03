"""Old path of `dacu.metadata.models`, kept for one release: the very same module."""

import sys

from dacu.metadata import models
from dacu.metadata.models import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = models
