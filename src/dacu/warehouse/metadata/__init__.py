"""Old path of `dacu.metadata` (accounts, sessions, the alert log …), kept for one release.

The metadata database moved out of `warehouse/`, which holds the events. Import from
`dacu.metadata`; this package re-exports its names, and each old submodule path
(`dacu.warehouse.metadata.alerts` …) is the new module itself. Importing it warns
(DeprecationWarning). Removed in the release after 0.2.
"""

import warnings

from dacu.metadata import *  # noqa: F403
from dacu.metadata import __all__ as __all__

warnings.warn(
    "dacu.warehouse.metadata is deprecated: import dacu.metadata (the old path is removed in "
    "the release after 0.2)",
    DeprecationWarning,
    stacklevel=2,
)
