"""Background jobs of the workbench (import, plan, review): progress, a log, never blocking.

Each job runs in a small thread pool; a failing job records its error (the importer's line and
column, the campaign file's key path) and the server carries on. Jobs live in memory: a restart
forgets them, the files and database rows they wrote stay.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dacu.errors import DacuError


@dataclass
class Job:
    id: int
    kind: str
    campaign_id: str
    actor: str
    status: str = "queued"  # queued → running → done | failed
    progress: float = 0.0  # 0..1
    log: list[str] = field(default_factory=list)
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def say(self, message: str, progress: float | None = None) -> None:
        self.log.append(message)
        if progress is not None:
            self.progress = max(0.0, min(1.0, progress))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "campaign_id": self.campaign_id,
            "status": self.status,
            "progress": round(self.progress, 3),
            "log": self.log[-50:],
            "error": self.error,
            "result": self.result,
            "started": self.started,
        }


Work = Callable[[Job], dict[str, Any] | None]


class JobRunner:
    """Runs work functions in the background; `get` answers while they run."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dacu-job")
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, kind: str, campaign_id: str, actor: str, work: Work) -> Job:
        with self._lock:
            job = Job(next(self._ids), kind, campaign_id, actor)
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Work) -> None:
        job.status = "running"
        try:
            job.result = work(job) or {}
            job.status, job.progress = "done", 1.0
            job.say("✓ 完成 done")
        except DacuError as exc:  # a user's mistake: its message names file, line, key
            job.status, job.error = "failed", str(exc)
            job.say(f"✗ {exc}")
        except Exception as exc:  # a job must never take the server down
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            job.say(f"✗ {job.error}")
            job.log.extend(traceback.format_exc().splitlines()[-6:])

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def of_campaign(self, campaign_id: str) -> list[Job]:
        return sorted(
            (j for j in self._jobs.values() if j.campaign_id == campaign_id),
            key=lambda j: -j.id,
        )

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
