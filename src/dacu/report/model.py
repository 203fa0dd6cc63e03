"""The review's data: plain dataclasses that every renderer (HTML, Excel, PowerPoint, JSON) reads.

Text shown to people is bilingual (`Text = {"zh": ..., "en": ...}`); numbers stay raw (integer
fen for money, float ratios, int counts) with a `fmt` per column so each renderer formats them
its own way (¥ / 万 in HTML and PowerPoint, a number format in Excel).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Text = dict[str, str]
Fmt = Literal["fen", "pct", "int", "float", "text", "signed_pct", "row"]
ChartKind = Literal["bar", "waterfall", "line", "pie", "funnel"]


def tx(zh: str, en: str) -> Text:
    """A bilingual text."""
    return {"zh": zh, "en": en}


@dataclass
class Column:
    key: str
    label: Text
    fmt: Fmt = "text"


@dataclass
class Table:
    id: str
    title: Text
    columns: list[Column]
    rows: list[dict[str, Any]]
    status_key: str | None = None  # column holding "green"/"red"/None for row marking


@dataclass
class Series:
    name: Text
    values: list[float]


@dataclass
class Chart:
    """The raw aggregates behind a chart: category labels and one or more series."""

    id: str
    title: Text
    kind: ChartKind
    categories: list[str]
    series: list[Series]
    fmt: Fmt = "fen"


@dataclass
class Section:
    id: str
    title: Text
    headline: Text  # the one message of the slide / section
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[Text] = field(default_factory=list)  # what is missing and why


@dataclass
class Finding:
    """A rule-based finding: what the numbers say, the figure it cites, and the action."""

    id: str
    severity: Literal["good", "warn", "bad"]
    text: Text
    cites: str  # "section/table-or-chart id: key=value"
    action: Text


@dataclass
class Review:
    campaign_id: str
    campaign_name: str
    store: str
    platform: str
    window: dict[str, str]
    generated_at: str
    headline: dict[str, Any]  # the headline figures (raw numbers)
    sections: list[Section]
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)

    def table(self, table_id: str) -> Table:
        return next(t for s in self.sections for t in s.tables if t.id == table_id)

    def chart(self, chart_id: str) -> Chart:
        return next(c for s in self.sections for c in s.charts if c.id == chart_id)
