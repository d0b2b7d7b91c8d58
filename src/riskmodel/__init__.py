"""riskmodel: explainable 12-month default probability for B2B trade-credit customers."""

__version__ = "0.1.0"
