"""Abuse and fraud scoring (风控: 刷单 order brushing, 羊毛党 coupon farming, 黄牛 scalpers).

- `features`: per-customer features reduced in the engine (Ibis) and basket links.
- `graph`: linked-account clusters (shared device, IP, address, identical basket).
- `score`: readable rules + isolation forest → `FraudResult`; evaluation; `approve` (blocklist).
- `pipeline`: `score_events(events, config=FraudConfig(...))`, events in, scores out — the
  pipeline `dacu analyze fraud score` and the live fraud watch both run.

The scoring names are here too (`from dacu.analyze.fraud import score_customers`). The old module
paths `dacu.analyze.fraud_features` and `dacu.analyze.fraud_graph` still import (aliases).
"""

from dacu.analyze.fraud.pipeline import FraudConfig, FraudScores, score_events
from dacu.analyze.fraud.score import (
    DAY_SECONDS,
    MODEL_COLUMNS,
    RULES,
    Evaluation,
    FraudResult,
    Rule,
    Thresholds,
    anomaly_scores,
    approve,
    evaluate,
    flag_candidates,
    flagged_devices,
    score_customers,
    truth_fraud_ids,
)

__all__ = [
    "DAY_SECONDS",
    "MODEL_COLUMNS",
    "RULES",
    "Evaluation",
    "FraudConfig",
    "FraudResult",
    "FraudScores",
    "Rule",
    "Thresholds",
    "anomaly_scores",
    "approve",
    "evaluate",
    "flag_candidates",
    "flagged_devices",
    "score_customers",
    "score_events",
    "truth_fraud_ids",
]
