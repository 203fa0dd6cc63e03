"""Old path of `dacu.metadata` (accounts, sessions, the alert log …), kept for one release.

The metadata database moved out of `warehouse/`, which holds the events. Import from
`dacu.metadata`; this package re-exports its names, and each old submodule path
(`dacu.warehouse.metadata.alerts` …) is the new module itself. Removed in the release after 0.2.
"""

from dacu.metadata import *  # noqa: F403
from dacu.metadata import __all__ as __all__
