"""Feature names: the one place where a feature's column name is spelled.

A feature name is written here and nowhere else in ``src/``: the builders key their output by these
names, the registry (:mod:`riskmodel.features.dictionary`) declares each feature's family, C, unit,
description, reason sentence, credit direction and window against them, and every other module
(memo, scoring, service examples, pipeline) imports them.  A name that depends on a setting (a
window in ``features.windows_months``, a threshold in ``features.late_thresholds_days``) is a function
of that setting.  ``tests/test_feature_names.py`` scans ``src/`` and fails on a feature name written
as a string anywhere else.
"""

from __future__ import annotations

# ---------------------------------------------------------------- payments (receivables ledger)


def pay_n_invoices(window_months: int) -> str:
    """Invoices issued in the ``window_months`` months before the snapshot."""
    return f"pay_n_invoices_{window_months}m"


def pay_amount(window_months: int) -> str:
    """Amount invoiced in the ``window_months`` months before the snapshot."""
    return f"pay_amount_{window_months}m"


def pay_max_dpd(window_months: int) -> str:
    """Worst days past due of the invoices settled in the window (12 or 24 months)."""
    return f"pay_max_dpd_{window_months}m"


def pay_n_late(threshold_days: int) -> str:
    """Invoices settled in the last 12 months more than ``threshold_days`` days late."""
    return f"pay_n_late_{threshold_days}_12m"


def pay_overdue(bucket: str) -> str:
    """Amount open at the snapshot in one aging bucket (``payments.AGING_BUCKETS``)."""
    return f"pay_overdue_{bucket}"


PAY_MEAN_DPD_12M = "pay_mean_dpd_12m"
PAY_MAX_DPD_12M = pay_max_dpd(12)
PAY_MAX_DPD_24M = pay_max_dpd(24)
PAY_DPD_TREND = "pay_dpd_trend"
PAY_SHARE_LATE_12M = "pay_share_late_12m"
PAY_OPEN_AMOUNT = "pay_open_amount"
PAY_OVERDUE_AMOUNT = "pay_overdue_amount"
PAY_OVERDUE_SHARE = "pay_overdue_share"
PAY_UTILISATION = "pay_utilisation"
PAY_MONTHS_SINCE_LATE = "pay_months_since_late"
PAY_MONTHS_SINCE_LAST_INVOICE = "pay_months_since_last_invoice"
PAY_TENURE_MONTHS = "pay_tenure_months"

# ---------------------------------------------------------------- financial statements
FIN_LEVERAGE = "fin_leverage"
FIN_EQUITY_RATIO = "fin_equity_ratio"
FIN_CURRENT_RATIO = "fin_current_ratio"
FIN_QUICK_RATIO = "fin_quick_ratio"
FIN_CASH_RATIO = "fin_cash_ratio"
FIN_INTEREST_COVER = "fin_interest_cover"
FIN_EBIT_MARGIN = "fin_ebit_margin"
FIN_NET_MARGIN = "fin_net_margin"
FIN_ROA = "fin_roa"
FIN_CFO_TO_DEBT = "fin_cfo_to_debt"
FIN_REVENUE_GROWTH = "fin_revenue_growth"
FIN_ALTMAN_Z2 = "fin_altman_z2"
FIN_LOG_REVENUE = "fin_log_revenue"
FIN_LOG_TOTAL_ASSETS = "fin_log_total_assets"
FIN_STATEMENT_AGE_MONTHS = "fin_statement_age_months"
FIN_AUDITED = "fin_audited"
FIN_HAS_STATEMENT = "fin_has_statement"

# ---------------------------------------------------------------- visit reports


def vis_last(rating: str) -> str:
    """The latest visit's rating of one aspect (a column of ``schemas.VISIT_RATINGS``)."""
    return f"vis_last_{rating}"


VIS_LAST_MEAN_RATING = "vis_last_mean_rating"
VIS_MEAN_RATING_24M = "vis_mean_rating_24m"
VIS_RATING_TREND = "vis_rating_trend"
VIS_N_VISITS_24M = "vis_n_visits_24m"
VIS_MONTHS_SINCE_LAST = "vis_months_since_last"
VIS_LAVISH_OFFICE_24M = "vis_lavish_office_24m"
VIS_LICENCE_CHECKED_SHARE_24M = "vis_licence_checked_share_24m"
VIS_RED_FLAGS_24M = "vis_red_flags_24m"

# ---------------------------------------------------------------- registration and customer_terms
REG_INDUSTRY = "reg_industry"
REG_REGION = "reg_region"
REG_LEGAL_FORM = "reg_legal_form"
REG_FIRM_AGE_YEARS = "reg_firm_age_years"
REG_PAID_IN_RATIO = "reg_paid_in_ratio"
REG_BUSINESS_SCOPE_OK = "reg_business_scope_ok"
REG_ADDRESS_VERIFIED = "reg_address_verified"
REG_PAYMENT_TERMS_DAYS = "reg_payment_terms_days"
REG_LOG_CREDIT_LIMIT = "reg_log_credit_limit"

# ---------------------------------------------------------------- external events


def evt_lawsuits(window_months: int) -> str:
    """Lawsuits against the customer in the window (12 or 24 months)."""
    return f"evt_lawsuits_{window_months}m"


def evt_tax_arrears(window_months: int) -> str:
    """Tax arrears notices in the window (12 or 24 months)."""
    return f"evt_tax_arrears_{window_months}m"


EVT_BANK_REF_LAST = "evt_bank_ref_last"
EVT_TRADE_REF_MEAN_24M = "evt_trade_ref_mean_24m"
EVT_AGENCY_RATING_LAST = "evt_agency_rating_last"
EVT_COLLATERAL_VALUE = "evt_collateral_value"
EVT_COLLATERAL_TO_LIMIT = "evt_collateral_to_limit"

# ---------------------------------------------------------------- portfolio (segment indicators)
PORTFOLIO_PREFIX = "ptf_"


def portfolio(level: str, stem: str) -> str:
    """One segment indicator: ``level`` in ``portfolio.LEVELS``, ``stem`` in ``portfolio.STEMS``."""
    return f"{PORTFOLIO_PREFIX}{level}_{stem}"
