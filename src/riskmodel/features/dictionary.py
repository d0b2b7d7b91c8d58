"""The data dictionary: every feature's family, C, meaning and unit.

``FEATURES`` describes the columns built with the default feature settings;
``feature_catalog(settings)`` gives the same for other windows or late
thresholds.  Build output columns equal the catalog's keys, in this order.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from riskmodel.config import C_NAMES, FeatureSettings
from riskmodel.data import schemas as S
from riskmodel.features.financials import COVER_CAP, GROWTH_CAP, LIQUIDITY_CAP, MARGIN_CAP
from riskmodel.features.payments import UTILISATION_CAP
from riskmodel.features.registration import CATEGORICAL_FEATURES, COLLATERAL_CAP, PAID_IN_CAP

FAMILIES: tuple[str, ...] = ("payments", "financials", "visits", "registration")

# Features that move with the calendar by construction: statement age cycles through the fiscal
# year, and tenure (since onboarded_date) and firm age grow as the base ages.  Scoring one date against a multi-quarter
# training set always shifts them, so drift reports them as expected rather than as an alert.
CALENDAR_DRIVEN: frozenset[str] = frozenset({"fin_statement_age_months", "pay_tenure_months",
                                              "reg_firm_age_years"})


class FeatureInfo(NamedTuple):
    """What a feature is: its evidence family, its C, what it measures and its unit."""

    family: str
    c: str
    description: str
    unit: str


def _pay(settings: FeatureSettings) -> dict[str, FeatureInfo]:
    def f(c: str, d: str, u: str) -> FeatureInfo:
        return FeatureInfo("payments", c, d, u)

    out: dict[str, FeatureInfo] = {}
    for w in settings.windows_months:
        out[f"pay_n_invoices_{w}m"] = f(
            "conditions",
            f"Invoices issued in the {w} months before the snapshot "
            f"(invoice_date in [S - {w} months, S)).",
            "count",
        )
    for w in settings.windows_months:
        out[f"pay_amount_{w}m"] = f(
            "conditions",
            f"Amount invoiced in the {w} months before the snapshot (by invoice_date).",
            "currency",
        )
    settled12 = "invoices settled (paid_date) in the 12 months before the snapshot"
    out["pay_mean_dpd_12m"] = f(
        "character", f"Mean days past due of {settled12}; NaN if none settled.", "days"
    )
    out["pay_max_dpd_12m"] = f(
        "character", f"Worst days past due of {settled12}; NaN if none settled.", "days"
    )
    out["pay_max_dpd_24m"] = f(
        "character",
        "Worst days past due of invoices settled in the 24 months before "
        "the snapshot; NaN if none settled.",
        "days",
    )
    out["pay_dpd_trend"] = f(
        "character",
        "Mean days past due of invoices settled in the last 6 months minus that "
        "of the 6 months before (positive = paying later); NaN if either is empty.",
        "days",
    )
    out["pay_share_late_12m"] = f(
        "character", f"Share of {settled12} paid after their due date.", "share 0-1"
    )
    for t in settings.late_thresholds_days:
        out[f"pay_n_late_{t}_12m"] = f(
            "character",
            f"Number of {settled12} paid more than {t} days after their due date.",
            "count",
        )
    out["pay_open_amount"] = f(
        "conditions",
        "Amount of invoices open at the snapshot (issued before it, not paid "
        "before it; a payment on or after the snapshot is unknown).",
        "currency",
    )
    out["pay_overdue_amount"] = f(
        "character", "Amount open at the snapshot and past its due date.", "currency"
    )
    for name, label in (
        ("1_30", "1 to 30"),
        ("31_60", "31 to 60"),
        ("61_90", "61 to 90"),
        ("90p", "more than 90"),
    ):
        out[f"pay_overdue_{name}"] = f(
            "character", f"Amount open at the snapshot and {label} days past due.", "currency"
        )
    out["pay_overdue_share"] = f(
        "character",
        "Overdue amount / open amount at the snapshot (0 when nothing is open).",
        "share 0-1",
    )
    out["pay_utilisation"] = f(
        "capacity",
        "Open amount / credit limit valid before the snapshot (customer_terms); "
        f"a zero limit with an open amount gives the cap {UTILISATION_CAP:g}.",
        "ratio",
    )
    out["pay_months_since_late"] = f(
        "character",
        "Months since the latest late settlement or since the oldest "
        "invoice still overdue at the snapshot fell due, whichever is more recent; "
        "NaN if never late.",
        "months",
    )
    out["pay_months_since_last_invoice"] = f(
        "conditions",
        "Months since the latest invoice issued before the snapshot; NaN if none.",
        "months",
    )
    out["pay_tenure_months"] = f(
        "conditions",
        "Months since the customer was opened (onboarded_date < S: length of "
        "the trading relationship, including years before the ledger extract).",
        "months",
    )
    return out


def _fin() -> dict[str, FeatureInfo]:
    def f(c: str, d: str, u: str) -> FeatureInfo:
        return FeatureInfo(
            "financials",
            c,
            d + " From the latest statement published before the snapshot "
            "(period_end + publication lag < S); NaN if none.",
            u,
        )

    liq = f"capped at {LIQUIDITY_CAP:g}; no current liabilities gives the cap"
    return {
        "fin_leverage": f(
            "capital",
            f"Total liabilities / total assets (clipped to +-{MARGIN_CAP:g}; NaN without assets).",
            "ratio",
        ),
        "fin_equity_ratio": f(
            "capital",
            f"Equity / total assets (clipped to +-{MARGIN_CAP:g}; NaN without assets).",
            "ratio",
        ),
        "fin_current_ratio": f(
            "capital", f"Current assets / current liabilities ({liq}).", "ratio"
        ),
        "fin_quick_ratio": f(
            "capital", f"(Current assets - inventory) / current liabilities ({liq}).", "ratio"
        ),
        "fin_cash_ratio": f("capital", f"Cash / current liabilities ({liq}).", "ratio"),
        "fin_interest_cover": f(
            "capacity",
            f"EBIT / interest expense (capped at +-{COVER_CAP:g}; no interest "
            "expense gives the cap with the sign of EBIT).",
            "ratio",
        ),
        "fin_ebit_margin": f(
            "capacity",
            f"EBIT / revenue (clipped to +-{MARGIN_CAP:g}; NaN without revenue).",
            "ratio",
        ),
        "fin_net_margin": f(
            "capacity",
            f"Net income / revenue (clipped to +-{MARGIN_CAP:g}; NaN without revenue).",
            "ratio",
        ),
        "fin_roa": f(
            "capacity",
            f"Net income / total assets (clipped to +-{MARGIN_CAP:g}; NaN without assets).",
            "ratio",
        ),
        "fin_cfo_to_debt": f(
            "capacity",
            f"Operating cash flow / total liabilities (capped at +-{COVER_CAP:g}; no "
            "liabilities gives the cap with the sign of the cash flow).",
            "ratio",
        ),
        "fin_revenue_growth": f(
            "capacity",
            "Revenue / revenue of the customer's previous statement - 1 "
            f"(NaN without a previous positive revenue; capped at {GROWTH_CAP:g}).",
            "ratio",
        ),
        "fin_altman_z2": f(
            "capital",
            "Altman Z'' for private firms: 6.56 X1 + 3.26 X2 + 6.72 X3 + 1.05 X4 with "
            "X1 = working capital / TA, X2 = retained earnings / TA, X3 = EBIT / TA (each clipped to "
            f"+-{MARGIN_CAP:g}), X4 = equity / total liabilities (capped at +-{LIQUIDITY_CAP:g}; no "
            "liabilities gives the cap); NaN without assets.",
            "score",
        ),
        "fin_log_revenue": f("capital", "log(1 + revenue): size of the business.", "log currency"),
        "fin_log_total_assets": f(
            "capital", "log(1 + total assets): size of the balance sheet.", "log currency"
        ),
        "fin_statement_age_months": f(
            "character", "Months from the statement's period end to the snapshot.", "months"
        ),
        "fin_audited": f("character", "1 if the statement was audited, else 0.", "flag 0/1"),
        "fin_has_statement": FeatureInfo(
            "financials",
            "character",
            "1 if a statement is published before the "
            "snapshot (period_end + publication lag < S), else 0.",
            "flag 0/1",
        ),
    }


_RATING_TEXT = {
    S.CORRESPONDENCE: ("character", "correspondence is formal and complete"),
    S.RESPONSIVENESS: ("character", "answers quickly"),
    S.EXPERTISE: ("capacity", "knows its trade"),
    S.PREMISES: ("capital", "condition of office and plant"),
    S.INVENTORY_RATING: ("capital", "inventory on hand looks healthy and moving"),
    S.MANAGEMENT: ("capacity", "quality of management"),
    S.STAFF_MORALE: ("capacity", "staff morale; wages paid on time"),
    S.DISCLOSURE: ("character", "willingness to disclose information"),
}


def _vis() -> dict[str, FeatureInfo]:
    def f(c: str, d: str, u: str) -> FeatureInfo:
        return FeatureInfo("visits", c, d, u)

    out = {
        f"vis_last_{r}": f(
            c,
            f"Latest visit's rating: {text} (visit_date < S; NaN if no visit or not rated).",
            "rating 1-5",
        )
        for r, (c, text) in _RATING_TEXT.items()
    }
    out["vis_last_mean_rating"] = f(
        "character", "Mean of the latest visit's observed ratings.", "rating 1-5"
    )
    out["vis_mean_rating_24m"] = f(
        "character",
        "Mean of the visits' mean ratings over the 24 months before "
        "the snapshot; NaN if no rated visit.",
        "rating 1-5",
    )
    out["vis_rating_trend"] = f(
        "character",
        "Latest visit's mean rating minus the mean of the earlier visits "
        "in the 24 months before the snapshot; NaN without an earlier visit.",
        "rating points",
    )
    out["vis_n_visits_24m"] = f(
        "character", "Visits and contact reports in the 24 months before the snapshot.", "count"
    )
    out["vis_months_since_last"] = f(
        "character", "Months since the latest visit; NaN if never visited.", "months"
    )
    out["vis_lavish_office_24m"] = f(
        "character",
        "1 if a visit in the last 24 months found a lavish office for "
        "the business's size (a fraud warning sign), 0 if not, NaN without visits.",
        "flag 0/1",
    )
    out["vis_licence_checked_share_24m"] = f(
        "character",
        "Share of the visits in the last 24 months that checked "
        "the business licence and asset documents.",
        "share 0-1",
    )
    out["vis_red_flags_24m"] = f(
        "character",
        "Red flags over the visits of the last 24 months: lavish office, "
        "disclosure rated 1-2, licence not checked, any rating of 1 (one point each per "
        "visit).",
        "count",
    )
    return out


def _reg() -> dict[str, FeatureInfo]:
    def f(c: str, d: str, u: str) -> FeatureInfo:
        return FeatureInfo("registration", c, d, u)

    cat = {
        "reg_industry": ("conditions", "Industry sector"),
        "reg_region": ("conditions", "Region"),
        "reg_legal_form": ("capital", "Legal form"),
    }
    out = {
        name: f(
            cat[name][0],
            f"{cat[name][1]} from the customers table (fixed categories: "
            f"{', '.join(CATEGORICAL_FEATURES[name][1])}).",
            "category",
        )
        for name in CATEGORICAL_FEATURES
    }
    out["reg_firm_age_years"] = f("conditions", "Years from founded_date to the snapshot.", "years")
    out["reg_paid_in_ratio"] = f(
        "capital",
        f"Paid-in capital valid before the snapshot (customer_terms) / registered capital "
        f"(capped at {PAID_IN_CAP:g}; NaN without registered capital).",
        "ratio",
    )
    out["reg_business_scope_ok"] = f(
        "character", "1 if the customer trades within its licensed scope (from customer_terms: the latest row dated before the snapshot).", "flag 0/1"
    )
    out["reg_address_verified"] = f(
        "character", "1 if the registered address is where it really operates (from customer_terms: the latest row dated before the snapshot).", "flag 0/1"
    )
    out["reg_payment_terms_days"] = f("conditions", "Agreed payment terms (from customer_terms: the latest row dated before the snapshot).", "days")
    out["reg_log_credit_limit"] = f(
        "conditions", "log(1 + credit limit) granted by us (from customer_terms: the latest row dated before the snapshot).", "log currency"
    )
    ev = "events dated strictly before the snapshot"
    for stem, text in (
        ("lawsuits", "Lawsuits against the customer"),
        ("tax_arrears", "Tax arrears notices"),
    ):
        for w in (12, 24):
            out[f"evt_{stem}_{w}m"] = f(
                "character", f"{text} in the {w} months before the snapshot ({ev}).", "count"
            )
    out["evt_bank_ref_last"] = f(
        "character", f"Latest bank reference rating ({ev}); NaN if none.", "rating 1-5"
    )
    out["evt_trade_ref_mean_24m"] = f(
        "character",
        "Mean trade reference rating over the 24 months before the snapshot; NaN if none.",
        "rating 1-5",
    )
    out["evt_agency_rating_last"] = f(
        "character", f"Latest credit agency score ({ev}); NaN if none.", "score 1-10"
    )
    out["evt_collateral_value"] = f(
        "collateral",
        f"Collateral pledged minus released ({ev}), at least 0, rounded to the cent.",
        "currency",
    )
    out["evt_collateral_to_limit"] = f(
        "collateral", f"Net collateral / credit limit valid before the snapshot (customer_terms; "
        f"capped at {COLLATERAL_CAP:g}).", "ratio"
    )
    return out


def feature_catalog(settings: FeatureSettings | None = None) -> dict[str, FeatureInfo]:
    """Every feature built with ``settings`` (defaults if None), in output column order."""
    settings = settings or FeatureSettings()
    out = {**_pay(settings), **_fin(), **_vis(), **_reg()}
    bad = {k: v.c for k, v in out.items() if v.c not in C_NAMES or v.family not in FAMILIES}
    if bad:  # a programming error, caught by the tests
        raise AssertionError(f"features with an unknown C or family: {bad}")
    return out


FEATURES: dict[str, FeatureInfo] = feature_catalog()
"""The features built with the default settings (windows 3/6/12/24 months, late 30/60/90 days)."""


# ------------------------------------------------ portfolio family (issue 9)
PORTFOLIO_FAMILY = "portfolio"
_LEVEL_TEXT = {"all": "the whole book", "ind": "the customer's industry", "rgn": "the customer's region"}


def _portfolio() -> dict[str, FeatureInfo]:
    from riskmodel.features.portfolio import LEVELS, PREFIX

    stems = {
        "overdue_share": ("Share of the open receivables of {seg} past due at the snapshot (amounts; open: "
                          "invoice_date < S and not paid before S; past due: due_date < S); NaN if none open.",
                          "share 0-1"),
        "overdue90_share": ("Share of the open receivables of {seg} more than 90 days past due at the snapshot.",
                            "share 0-1"),
        "overdue_share_chg_3m": ("Overdue share of {seg} at the snapshot minus that 3 months earlier "
                                 "(positive = the segment pays later).", "share points"),
        "overdue_share_chg_6m": ("Overdue share of {seg} at the snapshot minus that 6 months earlier.",
                                 "share points"),
        "default_rate_12m": ("Customers of {seg} whose first default_date falls in [S - 12 months, S), over those "
                             "onboarded before S and not in default before S - 12 months (12 months stale).",
                             "share 0-1"),
        "mean_dpd_12m": ("Mean days past due of the invoices of {seg} settled in the 12 months before the "
                         "snapshot.", "days"),
    }
    return {f"{PREFIX}{level}_{stem}": FeatureInfo(PORTFOLIO_FAMILY, "conditions",
                                                  text.format(seg=_LEVEL_TEXT[level]), unit)
            for level, _ in LEVELS for stem, (text, unit) in stems.items()}


PORTFOLIO_FEATURES: dict[str, FeatureInfo] = _portfolio()
"""Segment-level indicators of the whole book (:mod:`riskmodel.features.portfolio`), point in time."""


def feature_families(settings: FeatureSettings | None = None) -> dict[str, list[str]]:
    """Family name -> its features, in output order."""
    out: dict[str, list[str]] = {f: [] for f in FAMILIES}
    for name, info in feature_catalog(settings).items():
        out[info.family].append(name)
    return out


def data_dictionary(settings: FeatureSettings | None = None) -> pd.DataFrame:
    """The data dictionary as a table: feature, family, c, dtype, unit, description."""
    rows = [
        {
            "feature": name,
            "family": i.family,
            "c": i.c,
            "dtype": "category" if name in CATEGORICAL_FEATURES else "float64",
            "unit": i.unit,
            "description": i.description,
        }
        for name, i in {**feature_catalog(settings), **PORTFOLIO_FEATURES}.items()
    ]
    return pd.DataFrame(rows, columns=["feature", "family", "c", "dtype", "unit", "description"])


def data_dictionary_markdown(settings: FeatureSettings | None = None) -> str:
    """The data dictionary as a Markdown document, one table per family."""
    dd = data_dictionary(settings)
    lines = [
        "# Data dictionary of the modelling table",
        "",
        f"One row per (`{S.CUSTOMER_ID}`, `{S.SNAPSHOT_DATE}`); the label `{S.LABEL}` is 1 when the "
        "customer's first default falls in (snapshot, snapshot + horizon]. Features use only records dated "
        "strictly before the snapshot.",
        "",
    ]
    for family, group in dd.groupby("family", sort=False):
        lines += [
            f"## {family}",
            "",
            "| feature | C | unit | description |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| `{r.feature}` | {r.c} | {r.unit} | {r.description.replace('|', '/')} |"
            for r in group.itertuples()
        ]
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------ reasons: credit direction and concepts
# Credit logic's direction of each feature: +1 a higher value means more risk, -1 less risk, absent (0)
# when credit logic gives none (volumes, size, terms, category levels, calendar-driven ages).  A reason
# that says a feature raises the risk must quote a value on the risky side of its reference
# (see riskmodel.explain.reasons); the monotone constraints of params.yaml follow these signs.
CREDIT_DIRECTION: dict[str, int] = {
    **{f: 1 for f in ("pay_mean_dpd_12m", "pay_max_dpd_12m", "pay_max_dpd_24m", "pay_dpd_trend",
                      "pay_share_late_12m", "pay_n_late_30_12m", "pay_n_late_60_12m", "pay_n_late_90_12m",
                      "pay_overdue_amount", "pay_overdue_1_30", "pay_overdue_31_60", "pay_overdue_61_90",
                      "pay_overdue_90p", "pay_overdue_share", "pay_utilisation", "fin_leverage",
                      "vis_lavish_office_24m", "vis_red_flags_24m", "evt_lawsuits_12m", "evt_lawsuits_24m",
                      "evt_tax_arrears_12m", "evt_tax_arrears_24m")},
    **{f: -1 for f in ("pay_months_since_late", "fin_equity_ratio", "fin_current_ratio", "fin_quick_ratio",
                       "fin_cash_ratio", "fin_interest_cover", "fin_ebit_margin", "fin_net_margin", "fin_roa",
                       "fin_cfo_to_debt", "fin_altman_z2", "fin_audited", "vis_last_correspondence",
                       "vis_last_responsiveness", "vis_last_expertise", "vis_last_premises",
                       "vis_last_inventory_rating", "vis_last_management", "vis_last_staff_morale",
                       "vis_last_disclosure", "vis_last_mean_rating", "vis_mean_rating_24m", "vis_rating_trend",
                       "vis_licence_checked_share_24m", "reg_paid_in_ratio", "reg_business_scope_ok",
                       "reg_address_verified", "evt_bank_ref_last", "evt_trade_ref_mean_24m",
                       "evt_agency_rating_last", "evt_collateral_value", "evt_collateral_to_limit")},
}

# Concepts: features that measure one thing (near twins).  A reason speaks for a concept: its
# contribution is the sum of its features' contributions, and it quotes the member that carries the
# most of it (riskmodel.explain.reasons); the joint monotonicity check moves a concept's features
# together (riskmodel.models.gbm).  A feature not listed is a concept of its own.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "payment delays": ("pay_mean_dpd_12m", "pay_max_dpd_12m", "pay_max_dpd_24m", "pay_dpd_trend",
                       "pay_share_late_12m", "pay_n_late_30_12m", "pay_n_late_60_12m", "pay_n_late_90_12m",
                       "pay_months_since_late"),
    "overdue amounts": ("pay_overdue_amount", "pay_overdue_1_30", "pay_overdue_31_60", "pay_overdue_61_90",
                        "pay_overdue_90p", "pay_overdue_share"),
    "trading volume": ("pay_n_invoices_3m", "pay_n_invoices_6m", "pay_n_invoices_12m", "pay_n_invoices_24m",
                       "pay_amount_3m", "pay_amount_6m", "pay_amount_12m", "pay_amount_24m", "pay_open_amount"),
    "leverage": ("fin_leverage", "fin_equity_ratio", "fin_altman_z2"),
    "liquidity": ("fin_current_ratio", "fin_quick_ratio", "fin_cash_ratio"),
    "profitability": ("fin_ebit_margin", "fin_net_margin", "fin_roa", "fin_interest_cover", "fin_cfo_to_debt"),
    "size": ("fin_log_revenue", "fin_log_total_assets"),
    "visit ratings": ("vis_last_correspondence", "vis_last_responsiveness", "vis_last_expertise",
                      "vis_last_premises", "vis_last_inventory_rating", "vis_last_management",
                      "vis_last_staff_morale", "vis_last_disclosure", "vis_last_mean_rating",
                      "vis_mean_rating_24m", "vis_rating_trend"),
    "lawsuits": ("evt_lawsuits_12m", "evt_lawsuits_24m"),
    "tax arrears": ("evt_tax_arrears_12m", "evt_tax_arrears_24m"),
    "collateral": ("evt_collateral_value", "evt_collateral_to_limit"),
}


def concept_of(features: list[str]) -> list[str]:
    """The concept of each feature (its own name when it belongs to none)."""
    where = {f: c for c, members in CONCEPTS.items() for f in members}
    return [where.get(f, f) for f in features]
