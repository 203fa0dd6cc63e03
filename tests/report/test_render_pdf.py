"""The deck rendered by LibreOffice (slow): every slide becomes a PDF page and a PNG is drawn."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pptx import Presentation

from tests.conftest import need

pytestmark = pytest.mark.slow


def test_pptx_renders_with_libreoffice(reviewed: dict, tmp_path: Path) -> None:
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    need(soffice is not None, "LibreOffice not installed (apt-get install -y libreoffice-impress)")
    need(pdftoppm is not None, "pdftoppm not installed (apt-get install -y poppler-utils)")
    deck = reviewed["out"] / "review.pptx"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'lo'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(deck),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    pdf = tmp_path / "review.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(
        next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:"))
    )
    assert pages == len(Presentation(str(deck)).slides)
    subprocess.run(
        [pdftoppm, "-png", "-r", "40", "-f", "1", "-l", "3", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 3 and all(p.stat().st_size > 2_000 for p in pngs)
