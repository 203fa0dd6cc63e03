"""Rebuild the Review object of the shared fixture (for renderer tests in another language)."""

from __future__ import annotations

from functools import cache

from dacu.report.model import Review


@cache
def _build(url: str, campaign_path: str) -> Review:
    from dacu.config import load_campaign
    from dacu.report.builder import build_review
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(url)
    try:
        return build_review(load_campaign(campaign_path), wh, with_attribution=False)
    finally:
        wh.close()


def review_object(reviewed: dict) -> Review:
    from tests.conftest import ROOT

    return _build(reviewed["url"], str(ROOT / "examples" / "double11.yaml"))
