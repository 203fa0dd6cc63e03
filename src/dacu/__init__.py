"""dacu (大促): plan, run, monitor and review an e-commerce promotion campaign."""

from dacu.config import Campaign, Phase, load_campaign
from dacu.errors import DacuError
from dacu.money import format_fen, parse_fen

__all__ = [
    "Campaign",
    "DacuError",
    "Phase",
    "__version__",
    "format_fen",
    "load_campaign",
    "parse_fen",
]
__version__ = "0.1.0"
