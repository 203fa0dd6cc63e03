"""Analysis (数据分析): pure NumPy/SciPy models on summaries reduced in the engine by `dacu.metrics`.

Modules (import what you use; nothing is imported eagerly so `dacu.analyze.rca` stays light):
funnel (read_funnel), paths + attribution + markov (multi-touch attribution), clv + pareto_nbd +
rfm (customer value), retention (cohorts, recall lists, quiet hours), abtest + bayesian +
sequential (experiments), bandit, elasticity (price elasticity, markdown ladder); rca, fraud and
sentiment are owned by other engineers. The CLI lives in commands.py / commands_more.py.
"""
