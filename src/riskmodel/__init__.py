"""riskmodel: explainable default probability (over ``snapshots.horizon_months``) for B2B trade-credit customers."""

__version__ = "0.1.0"
