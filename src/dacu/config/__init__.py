"""The campaign file: YAML → validated pydantic model, the single source of truth of a campaign.

Operators write amounts in yuan as they say them ("1.2亿", "¥300", 300) and ratios as "3.5%" or
0.035; after validation every amount is integer fen and every ratio a fraction. Naive date-times
are read in the campaign's time zone (Asia/Shanghai by default).

A wrong file raises `ConfigError` naming the key path, the line and what was expected, e.g.
``double11.yaml: phases[1].end: before phases[1].start (line 14)``.
"""

from __future__ import annotations

from dacu.config.budget import (
    Budget,
    BudgetLine,
    SpendPacing,
)
from dacu.config.campaign import (
    SECTION_CHECKS,
    Campaign,
    check_sections,
    load_campaign,
    parse_campaign,
    parse_local_time,
)
from dacu.config.fields import (
    CHANNEL_KINDS,
    DEFAULT_TZ,
    SAFE_CAMPAIGN_ID,
    Category,
    Channel,
    Count,
    Fen,
    Phase,
    PhaseWindow,
    Platform,
    Ratio,
    parse_ratio,
)
from dacu.config.targets import (
    CHANNEL_ONLY,
    COUNT_METRICS,
    FACTOR_METRICS,
    KNOWN_METRICS,
    MONEY_METRICS,
    RATIO_METRICS,
    RELATIVE,
    UNMEASURED,
    WHOLE_ONLY,
    Target,
)
from dacu.config.team import (
    TEAM_IDS,
    Capacity,
    PastCampaign,
    PeakRound,
    PlanTask,
)
from dacu.config.yamlfile import (
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    describe_validation_error,
    load_yaml_with_lines,
)

__all__ = [
    "CHANNEL_KINDS",
    "CHANNEL_ONLY",
    "COUNT_METRICS",
    "DEFAULT_TZ",
    "FACTOR_METRICS",
    "KNOWN_METRICS",
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "MONEY_METRICS",
    "RATIO_METRICS",
    "RELATIVE",
    "SAFE_CAMPAIGN_ID",
    "SECTION_CHECKS",
    "TEAM_IDS",
    "UNMEASURED",
    "WHOLE_ONLY",
    "Budget",
    "BudgetLine",
    "Campaign",
    "Capacity",
    "Category",
    "Channel",
    "Count",
    "Fen",
    "PastCampaign",
    "PeakRound",
    "Phase",
    "PhaseWindow",
    "PlanTask",
    "Platform",
    "Ratio",
    "SpendPacing",
    "Target",
    "check_sections",
    "describe_validation_error",
    "load_campaign",
    "load_yaml_with_lines",
    "parse_campaign",
    "parse_local_time",
    "parse_ratio",
]
