"""The main job (`make demo`): one command that walks the whole campaign loop on simulated data."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from dacu.config import load_campaign

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "double11.yaml"


def run_demo(out: Path, *, scale: float = 1.0) -> None:
    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    campaign = load_campaign(EXAMPLE)
    console.print(f"[bold]{campaign.name}[/bold] — {campaign.store}")
