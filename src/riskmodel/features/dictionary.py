"""The feature registry: every feature's family, C, meaning, unit, reason sentence, credit direction and concept.

Everything the code knows about a feature by name is said here once, for the features built with
the settings in force: ``feature_registry(settings)`` (one :class:`Feature` each) and its parts
``feature_catalog``, ``reason_templates``, ``credit_direction``, ``concepts``.  ``FEATURES``,
``CREDIT_DIRECTION`` and ``CONCEPTS`` are those of the default settings (windows 3/6/12/24 months,
late 30/60/90 days).  Build output columns equal the catalog's keys, in this order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

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


# ------------------------------------------------------------------ reasons: how each feature reads
# The sentence body of each feature's reasons, with the customer's value shown through a format kind
# (riskmodel.explain.templates renders them).
FORMAT_KINDS: tuple[str, ...] = (
    "count", "days", "signed_days", "months", "years", "money", "log_money", "pct", "signed_pct",
    "ratio", "times", "score", "rating", "signed_rating", "score10", "flag", "category",
)


@dataclass(frozen=True)
class ReasonTemplate:
    """How one feature reads in a reason sentence.

    Parameters
    ----------
    text : str
        Sentence body with ``{value}`` for the customer's formatted value
        (numeric kinds) or ``{value}`` for the level (``category``).
    kind : str
        Format kind, one of :data:`FORMAT_KINDS`.
    unit : tuple of (singular, plural), optional
        Noun after a count, e.g. ("invoice", "invoices").
    missing : str
        Body used when the value is missing (NaN).
    yes, no : str
        Bodies of a ``flag`` feature when it is 1 / 0.
    share : str
        Comparison of a ``flag`` feature, with ``{share}`` for the training share of 1s.
    label : str
        Short name of the measure; a missing value then reads "<label> not known: <missing>",
        so the comparison that follows is clearly about that measure.
    """

    text: str = ""
    kind: str = "ratio"
    unit: tuple[str, str] | None = None
    missing: str = "no value on file"
    yes: str = ""
    no: str = ""
    share: str = "{share} of the portfolio"
    label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FORMAT_KINDS:
            raise ValueError(f"unknown format kind {self.kind!r}; expected one of {FORMAT_KINDS}")
        if self.kind == "flag" and not (self.yes and self.no):
            raise ValueError("a flag template needs both 'yes' and 'no' texts")
        if self.kind != "flag" and "{value}" not in self.text:
            raise ValueError(f"template text must contain '{{value}}': {self.text!r}")


T = ReasonTemplate
_INV = ("invoice", "invoices")
_VISITS = ("visit", "visits")

_RATING_LABELS = {
    "correspondence": "correspondence (formal and complete)",
    "responsiveness": "responsiveness",
    "expertise": "knowledge of its trade",
    "premises": "condition of office and plant",
    "inventory_rating": "inventory on hand",
    "management": "quality of management",
    "staff_morale": "staff morale",
    "disclosure": "willingness to disclose information",
}


def _payments_reasons(settings: FeatureSettings) -> dict[str, ReasonTemplate]:
    out: dict[str, ReasonTemplate] = {}
    for w in settings.windows_months:
        out[f"pay_n_invoices_{w}m"] = T(f"{{value}} issued in the last {w} months", "count", _INV)
        out[f"pay_amount_{w}m"] = T(f"invoiced {{value}} in the last {w} months", "money")
    settled = "no invoice settled in the last 12 months"
    out.update({
        "pay_mean_dpd_12m": T("invoices settled in the last 12 months were paid {value} late on average",
                              "days", missing=settled),
        "pay_max_dpd_12m": T("worst payment delay of {value} in the last 12 months", "days", missing=settled),
        "pay_max_dpd_24m": T("worst payment delay of {value} in the last 24 months", "days",
                             missing="no invoice settled in the last 24 months"),
        "pay_dpd_trend": T("average payment delay changed by {value} in the last 6 months against the 6 before",
                           "signed_days", missing="too few settled invoices to show a payment trend"),
        "pay_share_late_12m": T("{value} of invoices settled in the last 12 months were paid after their due date",
                                "pct", missing=settled),
        **{f"pay_n_late_{t}_12m": T(f"{{value}} paid more than {t} days late in the last 12 months", "count",
                                    _INV, missing=settled) for t in settings.late_thresholds_days},
        "pay_open_amount": T("{value} open (unpaid) on our ledger", "money"),
        "pay_overdue_amount": T("{value} overdue on our ledger", "money"),
        "pay_overdue_1_30": T("{value} overdue by 1 to 30 days", "money"),
        "pay_overdue_31_60": T("{value} overdue by 31 to 60 days", "money"),
        "pay_overdue_61_90": T("{value} overdue by 61 to 90 days", "money"),
        "pay_overdue_90p": T("{value} overdue by more than 90 days", "money"),
        "pay_overdue_share": T("{value} of the open amount is overdue", "pct"),
        "pay_utilisation": T("uses {value} of its credit limit", "pct", missing="no credit limit on file"),
        "pay_months_since_late": T("last late payment {value} ago", "months", missing="never paid late"),
        "pay_months_since_last_invoice": T("last invoice {value} ago", "months", missing="never invoiced"),
        "pay_tenure_months": T("trading with us for {value}", "months", missing="no trading history with us"),
    })
    return out


def _financials_reasons() -> dict[str, ReasonTemplate]:
    none = "no financial statement on file"
    return {
        "fin_leverage": T("liabilities are {value} of total assets", "pct", missing=none),
        "fin_equity_ratio": T("equity is {value} of total assets", "pct", missing=none),
        "fin_current_ratio": T("current ratio (current assets / current liabilities) of {value}", "ratio",
                               missing=none),
        "fin_quick_ratio": T("quick ratio (liquid assets / current liabilities) of {value}", "ratio",
                             missing=none),
        "fin_cash_ratio": T("cash covers {value} of current liabilities", "pct", missing=none),
        "fin_interest_cover": T("EBIT covers interest expense {value}", "times", missing=none),
        "fin_ebit_margin": T("EBIT margin of {value}", "pct", missing=none),
        "fin_net_margin": T("net margin of {value}", "pct", missing=none),
        "fin_roa": T("return on assets of {value}", "pct", missing=none),
        "fin_cfo_to_debt": T("operating cash flow covers {value} of total liabilities", "pct", missing=none),
        "fin_revenue_growth": T("revenue growth of {value} on the previous statement", "signed_pct",
                                missing="no previous statement to measure growth"),
        "fin_altman_z2": T("Altman Z'' score of {value}", "score", missing=none),
        "fin_log_revenue": T("annual revenue of {value}", "log_money", missing=none),
        "fin_log_total_assets": T("total assets of {value}", "log_money", missing=none),
        "fin_statement_age_months": T("latest financial statement is {value} old", "months", missing=none),
        "fin_audited": T(kind="flag", yes="latest financial statement is audited",
                         no="latest financial statement is not audited", missing=none,
                         share="{share} of the portfolio has audited statements"),
        "fin_has_statement": T(kind="flag", yes="a financial statement is on file", no=none,
                               share="{share} of the portfolio has a statement on file"),
    }


def _visits_reasons() -> dict[str, ReasonTemplate]:
    never = "no rated visit on file"
    out = {
        f"vis_last_{r}": T(f"{label} rated {{value}} at the last visit", "rating", missing=never)
        for r, label in _RATING_LABELS.items()
    }
    out.update({
        "vis_last_mean_rating": T("average rating of {value} at the last visit", "rating", missing=never),
        "vis_mean_rating_24m": T("average visit rating of {value} over the last 24 months", "rating",
                                 missing="no rated visit in the last 24 months"),
        "vis_rating_trend": T("visit ratings moved by {value} against earlier visits", "signed_rating",
                              missing="no earlier visit to compare with"),
        "vis_n_visits_24m": T("{value} in the last 24 months", "count", _VISITS),
        "vis_months_since_last": T("last visited {value} ago", "months", missing="never visited"),
        "vis_lavish_office_24m": T(kind="flag", yes="a visit in the last 24 months found a lavish office for "
                                   "the size of the business (a fraud warning sign)",
                                   no="no lavish office seen at visits in the last 24 months",
                                   missing="not visited in the last 24 months",
                                   share="{share} of the portfolio had a lavish office noted"),
        "vis_licence_checked_share_24m": T("business licence checked at {value} of visits in the last 24 months",
                                           "pct", missing="not visited in the last 24 months"),
        "vis_red_flags_24m": T("{value} raised at visits in the last 24 months", "count",
                               ("red flag", "red flags"), missing="not visited in the last 24 months"),
    })
    return out


def _registration_reasons() -> dict[str, ReasonTemplate]:
    return {
        "reg_industry": T("industry: {value}", "category", missing="industry unknown"),
        "reg_region": T("region: {value}", "category", missing="region unknown"),
        "reg_legal_form": T("legal form: {value}", "category", missing="legal form unknown"),
        "reg_firm_age_years": T("in business for {value}", "years", missing="founding date unknown"),
        "reg_paid_in_ratio": T("{value} of registered capital paid in", "pct",
                               missing="no registered capital on file"),
        "reg_business_scope_ok": T(kind="flag", yes="trades within its licensed business scope",
                                   no="trades outside its licensed business scope",
                                   share="{share} of the portfolio trades within scope"),
        "reg_address_verified": T(kind="flag", yes="registered address verified as where it operates",
                                  no="registered address is not where it operates",
                                  share="{share} of the portfolio verified"),
        "reg_payment_terms_days": T("payment terms of {value}", "days"),
        "reg_log_credit_limit": T("credit limit of {value}", "log_money", missing="no credit limit on file"),
        "evt_lawsuits_12m": T("{value} filed against it in the last 12 months", "count", ("lawsuit", "lawsuits")),
        "evt_lawsuits_24m": T("{value} filed against it in the last 24 months", "count", ("lawsuit", "lawsuits")),
        "evt_tax_arrears_12m": T("{value} in the last 12 months", "count",
                                 ("tax arrears notice", "tax arrears notices")),
        "evt_tax_arrears_24m": T("{value} in the last 24 months", "count",
                                 ("tax arrears notice", "tax arrears notices")),
        "evt_bank_ref_last": T("latest bank reference rated {value}", "rating", missing="no bank reference"),
        "evt_trade_ref_mean_24m": T("trade references average {value} over the last 24 months", "rating",
                                    missing="no trade reference in the last 24 months"),
        "evt_agency_rating_last": T("latest credit agency score of {value}", "score10",
                                    missing="no credit agency score"),
        "evt_collateral_value": T("collateral of {value} pledged", "money"),
        "evt_collateral_to_limit": T("collateral covers {value} of the credit limit", "pct",
                                     missing="no credit limit to compare collateral with"),
    }


# short names for the measures whose missing text does not name them
def _reason_labels(settings: FeatureSettings) -> dict[str, str]:
    return {
        "pay_mean_dpd_12m": "average payment delay", "pay_max_dpd_12m": "worst payment delay in 12 months",
        "pay_max_dpd_24m": "worst payment delay in 24 months", "pay_dpd_trend": "payment delay trend",
        "pay_share_late_12m": "share of invoices paid late",
        **{f"pay_n_late_{t}_12m": f"invoices paid over {t} days late" for t in settings.late_thresholds_days},
        "fin_leverage": "liabilities / assets", "fin_equity_ratio": "equity / assets",
        "fin_current_ratio": "current ratio", "fin_quick_ratio": "quick ratio", "fin_cash_ratio": "cash ratio",
        "fin_interest_cover": "interest cover", "fin_ebit_margin": "EBIT margin", "fin_net_margin": "net margin",
        "fin_roa": "return on assets", "fin_cfo_to_debt": "cash flow / debt", "fin_revenue_growth": "revenue growth",
        "fin_altman_z2": "Altman Z'' score", "fin_log_revenue": "revenue", "fin_log_total_assets": "total assets",
        "fin_statement_age_months": "statement age", "vis_rating_trend": "visit rating trend",
        "vis_mean_rating_24m": "average visit rating", "vis_last_mean_rating": "last visit rating",
        "vis_licence_checked_share_24m": "licence checks", "vis_red_flags_24m": "red flags at visits",
        "reg_paid_in_ratio": "paid-in capital share", "evt_collateral_to_limit": "collateral cover",
        **{f"vis_last_{r}": f"{label} rating" for r, label in _RATING_LABELS.items()},
    }


def reason_templates(settings: FeatureSettings | None = None) -> dict[str, ReasonTemplate]:
    """How each feature built with ``settings`` (defaults if None) reads in a reason sentence."""
    settings = settings or FeatureSettings()
    labels = _reason_labels(settings)
    return {
        name: (replace(t, label=labels[name]) if name in labels else t)
        for name, t in {**_payments_reasons(settings), **_financials_reasons(), **_visits_reasons(),
                        **_registration_reasons()}.items()
    }


# ------------------------------------------------------------------ reasons: credit direction and concepts
# Credit logic's direction of each feature: +1 a higher value means more risk, -1 less risk, absent (0)
# when credit logic gives none (volumes, size, terms, category levels, calendar-driven ages).  A reason
# that says a feature raises the risk must quote a value on the risky side of its reference
# (see riskmodel.explain.reasons); the monotone constraints of params.yaml follow these signs.
def _late_counts(settings: FeatureSettings) -> tuple[str, ...]:
    return tuple(f"pay_n_late_{t}_12m" for t in settings.late_thresholds_days)


def credit_direction(settings: FeatureSettings | None = None) -> dict[str, int]:
    """Credit logic's direction of each feature built with ``settings`` (defaults if None)."""
    late = _late_counts(settings or FeatureSettings())
    return {
        **{f: 1 for f in ("pay_mean_dpd_12m", "pay_max_dpd_12m", "pay_max_dpd_24m", "pay_dpd_trend",
                          "pay_share_late_12m", *late,
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


CREDIT_DIRECTION: dict[str, int] = credit_direction()
"""Directions of the features built with the default settings."""

# Concepts: features that measure one thing (near twins).  A reason speaks for a concept: its
# contribution is the sum of its features' contributions, and it quotes the member that carries the
# most of it (riskmodel.explain.reasons); the joint monotonicity check moves a concept's features
# together (riskmodel.models.gbm).  A feature not listed is a concept of its own.
def concepts(settings: FeatureSettings | None = None) -> dict[str, tuple[str, ...]]:
    """Concept -> its features, for the features built with ``settings`` (defaults if None)."""
    settings = settings or FeatureSettings()
    windows = settings.windows_months
    return {
        "payment delays": ("pay_mean_dpd_12m", "pay_max_dpd_12m", "pay_max_dpd_24m", "pay_dpd_trend",
                           "pay_share_late_12m", *_late_counts(settings),
                           "pay_months_since_late"),
        "overdue amounts": ("pay_overdue_amount", "pay_overdue_1_30", "pay_overdue_31_60", "pay_overdue_61_90",
                            "pay_overdue_90p", "pay_overdue_share"),
        "trading volume": (*(f"pay_n_invoices_{w}m" for w in windows), *(f"pay_amount_{w}m" for w in windows),
                           "pay_open_amount"),
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


CONCEPTS: dict[str, tuple[str, ...]] = concepts()
"""Concepts of the features built with the default settings."""


def concept_of(features: list[str]) -> list[str]:
    """The concept of each feature (its own name when it belongs to none)."""
    where = {f: c for c, members in CONCEPTS.items() for f in members}
    return [where.get(f, f) for f in features]


class Feature(NamedTuple):
    """One registry entry: what a feature is and how it is explained."""

    info: FeatureInfo
    reason: ReasonTemplate | None  # None: no sentence of its own (portfolio features read generically)
    direction: int  # +1 higher is riskier, -1 safer, 0 no credit-logic direction
    concept: str  # the concept it speaks for (its own name when it belongs to none)


def feature_registry(settings: FeatureSettings | None = None) -> dict[str, Feature]:
    """Every feature built with ``settings`` (defaults if None) and the portfolio family, in output order."""
    settings = settings or FeatureSettings()
    catalog = {**feature_catalog(settings), **PORTFOLIO_FEATURES}
    reasons, directions = reason_templates(settings), credit_direction(settings)
    where = {f: c for c, members in concepts(settings).items() for f in members}
    return {name: Feature(info, reasons.get(name), directions.get(name, 0), where.get(name, name))
            for name, info in catalog.items()}


def recorded_catalog(recorded: Mapping[str, Any] | None = None) -> dict[str, FeatureInfo]:
    """The catalog (portfolio family included) for feature settings recorded in a bundle's manifest.

    ``recorded`` is the manifest's ``feature_settings``; None (bundles written before it was
    recorded) means the default settings.
    """
    settings = FeatureSettings.model_validate(dict(recorded or {}))
    return {**feature_catalog(settings), **PORTFOLIO_FEATURES}
