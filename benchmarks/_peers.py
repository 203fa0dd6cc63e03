"""The peers the benchmarks compare against that cannot live in dacu's own venv, each set up from
PyPI in its own venv under `.bench/` of the checkout (ignored by git), on first use.

    python benchmarks/_peers.py            # set up every peer (what `make bench` does first)
    python benchmarks/_peers.py oscar      # one peer

django-oscar brings Django and its ORM, pymc-marketing brings PyMC and PyTensor: neither belongs in
the product's environment, and their pins would fight ours. A peer's venv is rebuilt when its
requirements below change (a stamp file records what was installed). Without a network the set-up
fails with pip's message and the benchmark says "peer not run" rather than claiming a ratio.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
PEERS: dict[str, list[str]] = {
    # benchmarks/promo.py: django-oscar's offer Applicator on the same cart (measured on Django 5.2)
    "oscar": ["django-oscar>=3.2,<5", "django>=4.2,<6"],
    # benchmarks/plan.py: pymc-marketing's MMM (NUTS) on its own example data set
    "pymc": ["pymc-marketing>=0.8"],
}


def venv_python(name: str) -> Path:
    return BENCH / f"{name}-venv" / "bin" / "python"


def peer_python(name: str) -> Path | None:
    """The python of peer `name`'s venv, set up first if missing or stale; None if that fails."""
    requirements = PEERS[name]
    python = venv_python(name)
    stamp = python.parents[1] / "dacu-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return python
    print(f"setting up peer {name!r} in {python.parents[1]} from PyPI: {' '.join(requirements)}")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", python.parents[1]], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--upgrade", "pip", *requirements],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"peer {name!r} NOT set up: {exc}", file=sys.stderr)
        return None
    stamp.write_text(wanted, encoding="utf-8")
    return python


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        print(f"unknown peer(s) {', '.join(unknown)} (have: {', '.join(PEERS)})", file=sys.stderr)
        return 2
    failed = [n for n in names or list(PEERS) if peer_python(n) is None]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
