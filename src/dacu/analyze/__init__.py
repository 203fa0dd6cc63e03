"""Analysis: attribution, CLV and RFM, A/B tests, bandits, retention, elasticity — pure NumPy/SciPy models on summaries."""
