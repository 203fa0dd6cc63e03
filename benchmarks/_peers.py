"""The peers the benchmarks compare against that cannot live in dacu's own venv, each set up from
PyPI in its own venv under `.bench/` of the checkout (ignored by git), on first use.

    python benchmarks/_peers.py            # set up every peer (what `make bench` does first)
    python benchmarks/_peers.py oscar      # one peer
    python benchmarks/_peers.py tools      # the programs only (wrk, redis-benchmark, Redis)

django-oscar brings Django and its ORM, pymc-marketing brings PyMC and PyTensor: neither belongs in
the product's environment, and their pins would fight ours. A peer's venv is rebuilt when its
requirements below change (a stamp file records what was installed). Without a network the set-up
fails with pip's message and the benchmark says "peer not run" rather than claiming a ratio.

Some peers are programs, not Python packages: `wrk` loads the HTTP paths (`bench web`, `bench
flash`), `redis-benchmark` measures the Redis floor and `bench flash` needs a Redis server. They
come from the system's packages (apt-get, as root; otherwise the command to run is printed), and
a Redis server is started on 127.0.0.1:6379 when none answers there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
PEERS: dict[str, list[str]] = {
    # benchmarks/promo.py: django-oscar's offer Applicator on the same cart (measured on Django 5.2)
    "oscar": ["django-oscar>=3.2,<5", "django>=4.2,<6"],
    # benchmarks/plan.py: pymc-marketing's MMM (NUTS) on its own example data set
    "pymc": ["pymc-marketing>=0.8"],
}

# program → the Debian/Ubuntu package that has it
TOOLS: dict[str, str] = {
    "wrk": "wrk",
    "redis-benchmark": "redis-tools",
    "redis-server": "redis-server",
}
REDIS = ("127.0.0.1", 6379)


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


def setup_tools() -> bool:
    """Install the missing programs, then make sure a Redis server answers; False if not done."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing and not _install([TOOLS[tool] for tool in missing]):
        return False
    return _redis_answers() or _start_redis()


def _install(packages: list[str]) -> bool:
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *sorted(packages)]
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"tools NOT set up: run `sudo {' '.join(command)}`", file=sys.stderr)
        return False
    print(f"setting up tools: {' '.join(command)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(command, check=True, env=env)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"tools NOT set up: {exc}", file=sys.stderr)
        return False
    return True


def _redis_answers() -> bool:
    try:
        socket.create_connection(REDIS, timeout=1).close()
    except OSError:
        return False
    return True


def _start_redis() -> bool:
    host, port = REDIS
    print(f"starting redis-server on {host}:{port} (no persistence: benchmark data only)")
    try:
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                host,
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"redis-server NOT started: {exc}", file=sys.stderr)
        return False
    for _ in range(50):
        if _redis_answers():
            return True
        time.sleep(0.1)
    print(f"redis-server NOT answering on {host}:{port}", file=sys.stderr)
    return False


def main(names: list[str]) -> int:
    known = [*PEERS, "tools"]
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"unknown peer(s) {', '.join(unknown)} (have: {', '.join(known)})", file=sys.stderr)
        return 2
    failed = [n for n in names or known if not _set_up(n)]
    return 1 if failed else 0


def _set_up(name: str) -> bool:
    return setup_tools() if name == "tools" else peer_python(name) is not None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
