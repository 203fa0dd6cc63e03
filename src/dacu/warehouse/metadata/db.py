"""Old path of `dacu.metadata.db`, kept for one release: the very same module."""

import sys

from dacu.metadata import db
from dacu.metadata.db import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = db
