"""Analysis (数据分析): pure NumPy/SciPy models on summaries reduced in the engine by `dacu.metrics`.

The public names below are imported lazily (on first use), so `dacu.analyze.rca` stays light::

    from dacu.analyze import adtributor, explain        # root cause (根因分析)
    from dacu.analyze import attribute, read_funnel     # attribution, funnel

Groups: funnel (read_funnel), paths + attribution + markov (multi-touch attribution), clv +
pareto_nbd + rfm (customer value), retention (cohorts, recall lists, quiet hours), abtest +
bayesian + sequential (experiments), bandit, elasticity (price elasticity, markdown ladder), rca
(root cause), fraud/ (刷单), sentiment/ (舆情). The CLI: commands.py and cli/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dacu._lazy import lazy_exports, module_aliases

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs
    from dacu.analyze.abtest import (
        ABResult,
        cuped,
        sample_size_means,
        sample_size_proportions,
        srm_check,
        welch_t_test,
        z_test_proportions,
    )
    from dacu.analyze.attribution import attribute, shapley
    from dacu.analyze.bandit import thompson_shares, ucb1_shares
    from dacu.analyze.bayesian import beta_binomial, gaussian_means
    from dacu.analyze.clv import BetaGeoNBD, CustomerSummary, GammaGamma
    from dacu.analyze.elasticity import fit_elasticity, markdown_plan
    from dacu.analyze.fraud import (
        FraudConfig,
        FraudResult,
        FraudScores,
        Thresholds,
        score_customers,
        score_events,
    )
    from dacu.analyze.funnel import Funnel, FunnelStep, read_funnel
    from dacu.analyze.markov import markov_model
    from dacu.analyze.pareto_nbd import ParetoNBD
    from dacu.analyze.paths import PathSummary
    from dacu.analyze.rca import (
        Explanation,
        RootCause,
        Signal,
        adtributor,
        explain,
        factor_shares,
        signals_of,
    )
    from dacu.analyze.retention import recall_list, retention_table, schedule_sends
    from dacu.analyze.rfm import RFM
    from dacu.analyze.sentiment import SentimentModel, default_model, score_posts
    from dacu.analyze.sentiment.burst import detect_bursts
    from dacu.analyze.sequential import msprt

_LAZY = {
    **dict.fromkeys(
        [
            "ABResult",
            "cuped",
            "sample_size_means",
            "sample_size_proportions",
            "srm_check",
            "welch_t_test",
            "z_test_proportions",
        ],
        "dacu.analyze.abtest",
    ),
    **dict.fromkeys(["attribute", "shapley"], "dacu.analyze.attribution"),
    **dict.fromkeys(["thompson_shares", "ucb1_shares"], "dacu.analyze.bandit"),
    **dict.fromkeys(["beta_binomial", "gaussian_means"], "dacu.analyze.bayesian"),
    **dict.fromkeys(["BetaGeoNBD", "CustomerSummary", "GammaGamma"], "dacu.analyze.clv"),
    **dict.fromkeys(["fit_elasticity", "markdown_plan"], "dacu.analyze.elasticity"),
    **dict.fromkeys(
        [
            "FraudConfig",
            "FraudResult",
            "FraudScores",
            "Thresholds",
            "score_customers",
            "score_events",
        ],
        "dacu.analyze.fraud",
    ),
    **dict.fromkeys(["Funnel", "FunnelStep", "read_funnel"], "dacu.analyze.funnel"),
    "markov_model": "dacu.analyze.markov",
    "ParetoNBD": "dacu.analyze.pareto_nbd",
    "PathSummary": "dacu.analyze.paths",
    **dict.fromkeys(
        [
            "Explanation",
            "RootCause",
            "Signal",
            "adtributor",
            "explain",
            "factor_shares",
            "signals_of",
        ],
        "dacu.analyze.rca",
    ),
    **dict.fromkeys(["recall_list", "retention_table", "schedule_sends"], "dacu.analyze.retention"),
    "RFM": "dacu.analyze.rfm",
    **dict.fromkeys(["SentimentModel", "default_model", "score_posts"], "dacu.analyze.sentiment"),
    "detect_bursts": "dacu.analyze.sentiment.burst",
    "msprt": "dacu.analyze.sequential",
}
__all__ = [
    "RFM",
    "ABResult",
    "BetaGeoNBD",
    "CustomerSummary",
    "Explanation",
    "FraudConfig",
    "FraudResult",
    "FraudScores",
    "Funnel",
    "FunnelStep",
    "GammaGamma",
    "ParetoNBD",
    "PathSummary",
    "RootCause",
    "SentimentModel",
    "Signal",
    "Thresholds",
    "adtributor",
    "attribute",
    "beta_binomial",
    "cuped",
    "default_model",
    "detect_bursts",
    "explain",
    "factor_shares",
    "fit_elasticity",
    "gaussian_means",
    "markdown_plan",
    "markov_model",
    "msprt",
    "read_funnel",
    "recall_list",
    "retention_table",
    "sample_size_means",
    "sample_size_proportions",
    "schedule_sends",
    "score_customers",
    "score_events",
    "score_posts",
    "shapley",
    "signals_of",
    "srm_check",
    "thompson_shares",
    "ucb1_shares",
    "welch_t_test",
    "z_test_proportions",
]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

# modules moved into fraud/, sentiment/ and cli/ keep their old import paths
module_aliases(
    {
        "dacu.analyze.fraud_features": "dacu.analyze.fraud.features",
        "dacu.analyze.fraud_graph": "dacu.analyze.fraud.graph",
        "dacu.analyze.sentiment_burst": "dacu.analyze.sentiment.burst",
        "dacu.analyze.sentiment_data": "dacu.analyze.sentiment.data",
        "dacu.analyze.sentiment_demo": "dacu.analyze.sentiment.demo",
        "dacu.analyze.commands_risk": "dacu.analyze.cli.fraud",
        "dacu.analyze.commands_sentiment": "dacu.analyze.cli.sentiment",
    }
)
