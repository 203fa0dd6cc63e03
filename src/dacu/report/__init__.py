"""复盘 The post-campaign review: data (builder) → HTML, Excel, PowerPoint, JSON."""

from dacu.report.builder import assemble, build_review, write_json
from dacu.report.competitors import Competitor, load_competitors
from dacu.report.findings import load_lessons, write_lessons
from dacu.report.model import Review

__all__ = [
    "Competitor",
    "Review",
    "assemble",
    "build_review",
    "load_competitors",
    "load_lessons",
    "write_json",
    "write_lessons",
]
