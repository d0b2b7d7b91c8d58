"""The feature registry: each feature declared once, with everything the code knows about it.

One :class:`Feature` per feature says its name (spelled in :mod:`riskmodel.features.names`), evidence
family, C, unit, description, reason sentence (:class:`ReasonTemplate`), credit direction, the window
of history it reads and whether it moves with the calendar.  The declarations are functions of the
feature settings in force (windows and late thresholds name some features), so
``feature_registry(settings)`` is the registry of those settings; ``feature_catalog``,
``reason_templates``, ``credit_direction``, ``concepts``, the data dictionary and
:data:`CALENDAR_DRIVEN` are views of it.  ``FEATURES``, ``CREDIT_DIRECTION`` and ``CONCEPTS`` are
those of the default settings (windows 3/6/12/24 months, late 30/60/90 days).  The declaration
order is the output column order of the modelling table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import pandas as pd

from riskmodel.config import C_NAMES, FeatureSettings, SnapshotSettings
from riskmodel.data import schemas as S
from riskmodel.features import names as N
from riskmodel.features.financials import COVER_CAP, GROWTH_CAP, LIQUIDITY_CAP, MARGIN_CAP
from riskmodel.features.payments import AGING_BUCKETS, UTILISATION_CAP
from riskmodel.features.portfolio import LEVELS
from riskmodel.features.registration import CATEGORICAL_FEATURES, COLLATERAL_CAP, PAID_IN_CAP

FAMILIES: tuple[str, ...] = ("payments", "financials", "visits", "registration")
PAYMENTS, FINANCIALS, VISITS, REGISTRATION = FAMILIES
PORTFOLIO_FAMILY = "portfolio"


class FeatureInfo(NamedTuple):
    """What a feature is: its evidence family, its C, what it measures and its unit."""

    family: str
    c: str
    description: str
    unit: str


# ------------------------------------------------------------------ how a feature reads in a reason
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


@dataclass(frozen=True)
class Feature:
    """One feature, declared once: what it is, how it reads in a reason and which way it points.

    Parameters
    ----------
    name : str
        Column name (from :mod:`riskmodel.features.names`).
    family, c, unit, description : str
        Evidence family, the C it informs, unit, and what it measures (the data dictionary).
    reason : ReasonTemplate or None
        How it reads in a reason sentence; None for the portfolio family (read generically).
    direction : int
        Credit logic's direction: +1 a higher value means more risk, -1 less risk, 0 none (volumes,
        size, terms, category levels, calendar-driven ages).  A reason that says a feature raises the
        risk must quote a value on the risky side of its reference (riskmodel.explain.reasons); the
        monotone constraints of params.yaml follow these signs.
    window : int or None
        Months of history before the snapshot it reads; None for the state at the snapshot or the
        latest record.
    calendar_driven : bool
        Moves with the calendar by construction (statement age cycles through the fiscal year, tenure
        and firm age grow as the base ages): drift reports it as expected rather than as an alert.
    concept : str
        The concept it speaks for (:func:`concepts`; its own name when it belongs to none); set by
        :func:`feature_registry`.
    """

    name: str
    family: str
    c: str
    unit: str
    description: str
    reason: ReasonTemplate | None
    direction: int = 0
    window: int | None = None
    calendar_driven: bool = False
    concept: str = ""

    @property
    def info(self) -> FeatureInfo:
        """Family, C, description and unit (the data dictionary's row)."""
        return FeatureInfo(self.family, self.c, self.description, self.unit)


RISKIER, SAFER = 1, -1


# ------------------------------------------------------------------ payments
def _payments(settings: FeatureSettings) -> list[Feature]:
    def f(name: str, c: str, unit: str, description: str, reason: ReasonTemplate, direction: int = 0,
          window: int | None = None, calendar_driven: bool = False) -> Feature:
        return Feature(name, PAYMENTS, c, unit, description, reason, direction, window, calendar_driven)

    settled12 = "invoices settled (paid_date) in the 12 months before the snapshot"
    settled = "no invoice settled in the last 12 months"
    out = [f(N.pay_n_invoices(w), "conditions", "count",
             f"Invoices issued in the {w} months before the snapshot (invoice_date in [S - {w} months, S)).",
             T(f"{{value}} issued in the last {w} months", "count", _INV), window=w)
           for w in settings.windows_months]
    out += [f(N.pay_amount(w), "conditions", "currency",
              f"Amount invoiced in the {w} months before the snapshot (by invoice_date).",
              T(f"invoiced {{value}} in the last {w} months", "money"), window=w)
            for w in settings.windows_months]
    out += [
        f(N.PAY_MEAN_DPD_12M, "character", "days", f"Mean days past due of {settled12}; NaN if none settled.",
          T("invoices settled in the last 12 months were paid {value} late on average", "days", missing=settled,
            label="average payment delay"), RISKIER, 12),
        f(N.PAY_MAX_DPD_12M, "character", "days", f"Worst days past due of {settled12}; NaN if none settled.",
          T("worst payment delay of {value} in the last 12 months", "days", missing=settled,
            label="worst payment delay in 12 months"), RISKIER, 12),
        f(N.PAY_MAX_DPD_24M, "character", "days",
          "Worst days past due of invoices settled in the 24 months before the snapshot; NaN if none settled.",
          T("worst payment delay of {value} in the last 24 months", "days",
            missing="no invoice settled in the last 24 months", label="worst payment delay in 24 months"),
          RISKIER, 24),
        f(N.PAY_DPD_TREND, "character", "days",
          "Mean days past due of invoices settled in the last 6 months minus that "
          "of the 6 months before (positive = paying later); NaN if either is empty.",
          T("average payment delay changed by {value} in the last 6 months against the 6 before", "signed_days",
            missing="too few settled invoices to show a payment trend", label="payment delay trend"),
          RISKIER, 12),
        f(N.PAY_SHARE_LATE_12M, "character", "share 0-1", f"Share of {settled12} paid after their due date.",
          T("{value} of invoices settled in the last 12 months were paid after their due date", "pct",
            missing=settled, label="share of invoices paid late"), RISKIER, 12),
    ]
    out += [f(N.pay_n_late(t), "character", "count",
              f"Number of {settled12} paid more than {t} days after their due date.",
              T(f"{{value}} paid more than {t} days late in the last 12 months", "count", _INV, missing=settled,
                label=f"invoices paid over {t} days late"), RISKIER, 12)
            for t in settings.late_thresholds_days]
    out += [
        f(N.PAY_OPEN_AMOUNT, "conditions", "currency",
          "Amount of invoices open at the snapshot (issued before it, not paid "
          "before it; a payment on or after the snapshot is unknown).",
          T("{value} open (unpaid) on our ledger", "money")),
        f(N.PAY_OVERDUE_AMOUNT, "character", "currency", "Amount open at the snapshot and past its due date.",
          T("{value} overdue on our ledger", "money"), RISKIER),
    ]
    for bucket, lo, hi in AGING_BUCKETS:
        days = f"{lo} to {hi}" if hi is not None else f"more than {lo - 1}"
        out.append(f(N.pay_overdue(bucket), "character", "currency",
                     f"Amount open at the snapshot and {days} days past due.",
                     T(f"{{value}} overdue by {days} days", "money"), RISKIER))
    out += [
        f(N.PAY_OVERDUE_SHARE, "character", "share 0-1",
          "Overdue amount / open amount at the snapshot (0 when nothing is open).",
          T("{value} of the open amount is overdue", "pct"), RISKIER),
        f(N.PAY_UTILISATION, "capacity", "ratio",
          "Open amount / credit limit valid before the snapshot (customer_terms); "
          f"a zero limit with an open amount gives the cap {UTILISATION_CAP:g}.",
          T("uses {value} of its credit limit", "pct", missing="no credit limit on file"), RISKIER),
        f(N.PAY_MONTHS_SINCE_LATE, "character", "months",
          "Months since the latest late settlement or since the oldest "
          "invoice still overdue at the snapshot fell due, whichever is more recent; NaN if never late.",
          T("last late payment {value} ago", "months", missing="never paid late"), SAFER),
        f(N.PAY_MONTHS_SINCE_LAST_INVOICE, "conditions", "months",
          "Months since the latest invoice issued before the snapshot; NaN if none.",
          T("last invoice {value} ago", "months", missing="never invoiced")),
        f(N.PAY_TENURE_MONTHS, "conditions", "months",
          "Months since the customer was opened (onboarded_date < S: length of "
          "the trading relationship, including years before the ledger extract).",
          T("trading with us for {value}", "months", missing="no trading history with us"), calendar_driven=True),
    ]
    return out


# ------------------------------------------------------------------ financial statements
def _financials() -> list[Feature]:
    none = "no financial statement on file"

    def f(name: str, c: str, unit: str, description: str, reason: ReasonTemplate, direction: int = 0,
          calendar_driven: bool = False) -> Feature:
        return Feature(name, FINANCIALS, c, unit,
                       description + " From the latest statement published before the snapshot "
                       "(period_end + publication lag < S); NaN if none.",
                       reason, direction, None, calendar_driven)

    def pct(text: str, label: str) -> ReasonTemplate:
        return T(text, "pct", missing=none, label=label)

    liq = f"capped at {LIQUIDITY_CAP:g}; no current liabilities gives the cap"
    return [
        f(N.FIN_LEVERAGE, "capital", "ratio",
          f"Total liabilities / total assets (clipped to +-{MARGIN_CAP:g}; NaN without assets).",
          pct("liabilities are {value} of total assets", "liabilities / assets"), RISKIER),
        f(N.FIN_EQUITY_RATIO, "capital", "ratio",
          f"Equity / total assets (clipped to +-{MARGIN_CAP:g}; NaN without assets).",
          pct("equity is {value} of total assets", "equity / assets"), SAFER),
        f(N.FIN_CURRENT_RATIO, "capital", "ratio", f"Current assets / current liabilities ({liq}).",
          T("current ratio (current assets / current liabilities) of {value}", "ratio", missing=none,
            label="current ratio"), SAFER),
        f(N.FIN_QUICK_RATIO, "capital", "ratio", f"(Current assets - inventory) / current liabilities ({liq}).",
          T("quick ratio (liquid assets / current liabilities) of {value}", "ratio", missing=none,
            label="quick ratio"), SAFER),
        f(N.FIN_CASH_RATIO, "capital", "ratio", f"Cash / current liabilities ({liq}).",
          pct("cash covers {value} of current liabilities", "cash ratio"), SAFER),
        f(N.FIN_INTEREST_COVER, "capacity", "ratio",
          f"EBIT / interest expense (capped at +-{COVER_CAP:g}; no interest "
          "expense gives the cap with the sign of EBIT).",
          T("EBIT covers interest expense {value}", "times", missing=none, label="interest cover"), SAFER),
        f(N.FIN_EBIT_MARGIN, "capacity", "ratio",
          f"EBIT / revenue (clipped to +-{MARGIN_CAP:g}; NaN without revenue).",
          pct("EBIT margin of {value}", "EBIT margin"), SAFER),
        f(N.FIN_NET_MARGIN, "capacity", "ratio",
          f"Net income / revenue (clipped to +-{MARGIN_CAP:g}; NaN without revenue).",
          pct("net margin of {value}", "net margin"), SAFER),
        f(N.FIN_ROA, "capacity", "ratio",
          f"Net income / total assets (clipped to +-{MARGIN_CAP:g}; NaN without assets).",
          pct("return on assets of {value}", "return on assets"), SAFER),
        f(N.FIN_CFO_TO_DEBT, "capacity", "ratio",
          f"Operating cash flow / total liabilities (capped at +-{COVER_CAP:g}; no "
          "liabilities gives the cap with the sign of the cash flow).",
          pct("operating cash flow covers {value} of total liabilities", "cash flow / debt"), SAFER),
        f(N.FIN_REVENUE_GROWTH, "capacity", "ratio",
          "Revenue / revenue of the customer's previous statement - 1 "
          f"(NaN without a previous positive revenue; capped at {GROWTH_CAP:g}).",
          T("revenue growth of {value} on the previous statement", "signed_pct",
            missing="no previous statement to measure growth", label="revenue growth")),
        f(N.FIN_ALTMAN_Z2, "capital", "score",
          "Altman Z'' for private firms: 6.56 X1 + 3.26 X2 + 6.72 X3 + 1.05 X4 with "
          "X1 = working capital / TA, X2 = retained earnings / TA, X3 = EBIT / TA (each clipped to "
          f"+-{MARGIN_CAP:g}), X4 = equity / total liabilities (capped at +-{LIQUIDITY_CAP:g}; no "
          "liabilities gives the cap); NaN without assets.",
          T("Altman Z'' score of {value}", "score", missing=none, label="Altman Z'' score"), SAFER),
        f(N.FIN_LOG_REVENUE, "capital", "log currency", "log(1 + revenue): size of the business.",
          T("annual revenue of {value}", "log_money", missing=none, label="revenue")),
        f(N.FIN_LOG_TOTAL_ASSETS, "capital", "log currency", "log(1 + total assets): size of the balance sheet.",
          T("total assets of {value}", "log_money", missing=none, label="total assets")),
        f(N.FIN_STATEMENT_AGE_MONTHS, "character", "months", "Months from the statement's period end to the snapshot.",
          T("latest financial statement is {value} old", "months", missing=none, label="statement age"),
          calendar_driven=True),
        f(N.FIN_AUDITED, "character", "flag 0/1", "1 if the statement was audited, else 0.",
          T(kind="flag", yes="latest financial statement is audited", no="latest financial statement is not audited",
            missing=none, share="{share} of the portfolio has audited statements"), SAFER),
        Feature(N.FIN_HAS_STATEMENT, FINANCIALS, "character", "flag 0/1",
                "1 if a statement is published before the snapshot (period_end + publication lag < S), else 0.",
                T(kind="flag", yes="a financial statement is on file", no=none,
                  share="{share} of the portfolio has a statement on file")),
    ]


# ------------------------------------------------------------------ visit reports
# rating column -> (C, what the rating says, its short name in a reason)
_RATINGS: dict[str, tuple[str, str, str]] = {
    S.CORRESPONDENCE: ("character", "correspondence is formal and complete", "correspondence (formal and complete)"),
    S.RESPONSIVENESS: ("character", "answers quickly", "responsiveness"),
    S.EXPERTISE: ("capacity", "knows its trade", "knowledge of its trade"),
    S.PREMISES: ("capital", "condition of office and plant", "condition of office and plant"),
    S.INVENTORY_RATING: ("capital", "inventory on hand looks healthy and moving", "inventory on hand"),
    S.MANAGEMENT: ("capacity", "quality of management", "quality of management"),
    S.STAFF_MORALE: ("capacity", "staff morale; wages paid on time", "staff morale"),
    S.DISCLOSURE: ("character", "willingness to disclose information", "willingness to disclose information"),
}


def _visits() -> list[Feature]:
    def f(name: str, c: str, unit: str, description: str, reason: ReasonTemplate, direction: int = 0,
          window: int | None = None) -> Feature:
        return Feature(name, VISITS, c, unit, description, reason, direction, window)

    never = "no rated visit on file"
    not24 = "not visited in the last 24 months"
    out = [f(N.vis_last(r), c, "rating 1-5",
             f"Latest visit's rating: {text} (visit_date < S; NaN if no visit or not rated).",
             T(f"{label} rated {{value}} at the last visit", "rating", missing=never, label=f"{label} rating"), SAFER)
           for r, (c, text, label) in _RATINGS.items()]
    out += [
        f(N.VIS_LAST_MEAN_RATING, "character", "rating 1-5", "Mean of the latest visit's observed ratings.",
          T("average rating of {value} at the last visit", "rating", missing=never, label="last visit rating"), SAFER),
        f(N.VIS_MEAN_RATING_24M, "character", "rating 1-5",
          "Mean of the visits' mean ratings over the 24 months before the snapshot; NaN if no rated visit.",
          T("average visit rating of {value} over the last 24 months", "rating",
            missing="no rated visit in the last 24 months", label="average visit rating"), SAFER, 24),
        f(N.VIS_RATING_TREND, "character", "rating points",
          "Latest visit's mean rating minus the mean of the earlier visits "
          "in the 24 months before the snapshot; NaN without an earlier visit.",
          T("visit ratings moved by {value} against earlier visits", "signed_rating",
            missing="no earlier visit to compare with", label="visit rating trend"), SAFER, 24),
        f(N.VIS_N_VISITS_24M, "character", "count", "Visits and contact reports in the 24 months before the snapshot.",
          T("{value} in the last 24 months", "count", _VISITS), window=24),
        f(N.VIS_MONTHS_SINCE_LAST, "character", "months", "Months since the latest visit; NaN if never visited.",
          T("last visited {value} ago", "months", missing="never visited")),
        f(N.VIS_LAVISH_OFFICE_24M, "character", "flag 0/1",
          "1 if a visit in the last 24 months found a lavish office for "
          "the business's size (a fraud warning sign), 0 if not, NaN without visits.",
          T(kind="flag", yes="a visit in the last 24 months found a lavish office for "
            "the size of the business (a fraud warning sign)",
            no="no lavish office seen at visits in the last 24 months", missing=not24,
            share="{share} of the portfolio had a lavish office noted"), RISKIER, 24),
        f(N.VIS_LICENCE_CHECKED_SHARE_24M, "character", "share 0-1",
          "Share of the visits in the last 24 months that checked the business licence and asset documents.",
          T("business licence checked at {value} of visits in the last 24 months", "pct", missing=not24,
            label="licence checks"), SAFER, 24),
        f(N.VIS_RED_FLAGS_24M, "character", "count",
          "Red flags over the visits of the last 24 months: lavish office, "
          "disclosure rated 1-2, licence not checked, any rating of 1 (one point each per visit).",
          T("{value} raised at visits in the last 24 months", "count", ("red flag", "red flags"), missing=not24,
            label="red flags at visits"), RISKIER, 24),
    ]
    return out


# ------------------------------------------------------------------ registration, customer_terms, events
def _registration() -> list[Feature]:
    def f(name: str, c: str, unit: str, description: str, reason: ReasonTemplate, direction: int = 0,
          window: int | None = None, calendar_driven: bool = False) -> Feature:
        return Feature(name, REGISTRATION, c, unit, description, reason, direction, window, calendar_driven)

    terms = "(from customer_terms: the latest row dated before the snapshot)"
    ev = "events dated strictly before the snapshot"
    # categorical feature -> (C, what it is, its reason text)
    cat = {
        N.REG_INDUSTRY: ("conditions", "Industry sector", "industry"),
        N.REG_REGION: ("conditions", "Region", "region"),
        N.REG_LEGAL_FORM: ("capital", "Legal form", "legal form"),
    }
    out = [f(name, cat[name][0], "category",
             f"{cat[name][1]} from the customers table (fixed categories: {', '.join(levels)}).",
             T(f"{cat[name][2]}: {{value}}", "category", missing=f"{cat[name][2]} unknown"))
           for name, (_, levels) in CATEGORICAL_FEATURES.items()]
    out += [
        f(N.REG_FIRM_AGE_YEARS, "conditions", "years", "Years from founded_date to the snapshot.",
          T("in business for {value}", "years", missing="founding date unknown"), calendar_driven=True),
        f(N.REG_PAID_IN_RATIO, "capital", "ratio",
          f"Paid-in capital valid before the snapshot (customer_terms) / registered capital "
          f"(capped at {PAID_IN_CAP:g}; NaN without registered capital).",
          T("{value} of registered capital paid in", "pct", missing="no registered capital on file",
            label="paid-in capital share"), SAFER),
        f(N.REG_BUSINESS_SCOPE_OK, "character", "flag 0/1", f"1 if the customer trades within its licensed scope {terms}.",
          T(kind="flag", yes="trades within its licensed business scope", no="trades outside its licensed business scope",
            share="{share} of the portfolio trades within scope"), SAFER),
        f(N.REG_ADDRESS_VERIFIED, "character", "flag 0/1",
          f"1 if the registered address is where it really operates {terms}.",
          T(kind="flag", yes="registered address verified as where it operates",
            no="registered address is not where it operates", share="{share} of the portfolio verified"), SAFER),
        f(N.REG_PAYMENT_TERMS_DAYS, "conditions", "days", f"Agreed payment terms {terms}.",
          T("payment terms of {value}", "days")),
        f(N.REG_LOG_CREDIT_LIMIT, "conditions", "log currency", f"log(1 + credit limit) granted by us {terms}.",
          T("credit limit of {value}", "log_money", missing="no credit limit on file")),
    ]
    for name_of, text, unit in ((N.evt_lawsuits, "Lawsuits against the customer", ("lawsuit", "lawsuits")),
                                (N.evt_tax_arrears, "Tax arrears notices",
                                 ("tax arrears notice", "tax arrears notices"))):
        body = "filed against it in the last {w} months" if name_of is N.evt_lawsuits else "in the last {w} months"
        out += [f(name_of(w), "character", "count", f"{text} in the {w} months before the snapshot ({ev}).",
                  T("{value} " + body.format(w=w), "count", unit), RISKIER, w)
                for w in (12, 24)]
    out += [
        f(N.EVT_BANK_REF_LAST, "character", "rating 1-5", f"Latest bank reference rating ({ev}); NaN if none.",
          T("latest bank reference rated {value}", "rating", missing="no bank reference"), SAFER),
        f(N.EVT_TRADE_REF_MEAN_24M, "character", "rating 1-5",
          "Mean trade reference rating over the 24 months before the snapshot; NaN if none.",
          T("trade references average {value} over the last 24 months", "rating",
            missing="no trade reference in the last 24 months"), SAFER, 24),
        f(N.EVT_AGENCY_RATING_LAST, "character", "score 1-10", f"Latest credit agency score ({ev}); NaN if none.",
          T("latest credit agency score of {value}", "score10", missing="no credit agency score"), SAFER),
        f(N.EVT_COLLATERAL_VALUE, "collateral", "currency",
          f"Collateral pledged minus released ({ev}), at least 0, rounded to the cent.",
          T("collateral of {value} pledged", "money"), SAFER),
        f(N.EVT_COLLATERAL_TO_LIMIT, "collateral", "ratio",
          f"Net collateral / credit limit valid before the snapshot (customer_terms; capped at {COLLATERAL_CAP:g}).",
          T("collateral covers {value} of the credit limit", "pct",
            missing="no credit limit to compare collateral with", label="collateral cover"), SAFER),
    ]
    return out


# ------------------------------------------------------------------ portfolio family (issue 9)
_LEVEL_TEXT = {"all": "the whole book", "ind": "the customer's industry", "rgn": "the customer's region"}
# stem -> (description with {seg} for the segment, unit, window in months)
_PORTFOLIO_STEMS: dict[str, tuple[str, str, int | None]] = {
    "overdue_share": ("Share of the open receivables of {seg} past due at the snapshot (amounts; open: "
                      "invoice_date < S and not paid before S; past due: due_date < S); NaN if none open.",
                      "share 0-1", None),
    "overdue90_share": ("Share of the open receivables of {seg} more than 90 days past due at the snapshot.",
                        "share 0-1", None),
    "overdue_share_chg_3m": ("Overdue share of {seg} at the snapshot minus that 3 months earlier "
                             "(positive = the segment pays later).", "share points", 3),
    "overdue_share_chg_6m": ("Overdue share of {seg} at the snapshot minus that 6 months earlier.",
                             "share points", 6),
    "default_rate_12m": ("Customers of {seg} whose first default_date falls in [S - 12 months, S), over those "
                         "onboarded before S and not in default before S - 12 months (12 months stale).",
                         "share 0-1", 12),
    "mean_dpd_12m": ("Mean days past due of the invoices of {seg} settled in the 12 months before the "
                     "snapshot.", "days", 12),
}


def _portfolio() -> list[Feature]:
    return [Feature(N.portfolio(level, stem), PORTFOLIO_FAMILY, "conditions", unit,
                    text.format(seg=_LEVEL_TEXT[level]), None, window=window)
            for level, _ in LEVELS for stem, (text, unit, window) in _PORTFOLIO_STEMS.items()]


# ------------------------------------------------------------------ concepts
# Concepts: features that measure one thing (near twins).  A reason speaks for a concept: its
# contribution is the sum of its features' contributions, and it quotes the member that carries the
# most of it (riskmodel.explain.reasons); the joint monotonicity check moves a concept's features
# together (riskmodel.models.gbm; its first constrained member leads).  A feature not listed is a
# concept of its own.
def concepts(settings: FeatureSettings | None = None) -> dict[str, tuple[str, ...]]:
    """Concept -> its features, for the features built with ``settings`` (defaults if None)."""
    settings = settings or FeatureSettings()
    windows = settings.windows_months
    return {
        "payment delays": (N.PAY_MEAN_DPD_12M, N.PAY_MAX_DPD_12M, N.PAY_MAX_DPD_24M, N.PAY_DPD_TREND,
                           N.PAY_SHARE_LATE_12M, *(N.pay_n_late(t) for t in settings.late_thresholds_days),
                           N.PAY_MONTHS_SINCE_LATE),
        "overdue amounts": (N.PAY_OVERDUE_AMOUNT, *(N.pay_overdue(b) for b, _, _ in AGING_BUCKETS),
                            N.PAY_OVERDUE_SHARE),
        "trading volume": (*(N.pay_n_invoices(w) for w in windows), *(N.pay_amount(w) for w in windows),
                           N.PAY_OPEN_AMOUNT),
        "leverage": (N.FIN_LEVERAGE, N.FIN_EQUITY_RATIO, N.FIN_ALTMAN_Z2),
        "liquidity": (N.FIN_CURRENT_RATIO, N.FIN_QUICK_RATIO, N.FIN_CASH_RATIO),
        "profitability": (N.FIN_EBIT_MARGIN, N.FIN_NET_MARGIN, N.FIN_ROA, N.FIN_INTEREST_COVER, N.FIN_CFO_TO_DEBT),
        "size": (N.FIN_LOG_REVENUE, N.FIN_LOG_TOTAL_ASSETS),
        "visit ratings": (*(N.vis_last(r) for r in _RATINGS), N.VIS_LAST_MEAN_RATING, N.VIS_MEAN_RATING_24M,
                          N.VIS_RATING_TREND),
        "lawsuits": (N.evt_lawsuits(12), N.evt_lawsuits(24)),
        "tax arrears": (N.evt_tax_arrears(12), N.evt_tax_arrears(24)),
        "collateral": (N.EVT_COLLATERAL_VALUE, N.EVT_COLLATERAL_TO_LIMIT),
    }


# ------------------------------------------------------------------ the registry and its views
def _declared(settings: FeatureSettings) -> list[Feature]:
    """The four modelled families, in output column order (the portfolio family is added apart)."""
    return [*_payments(settings), *_financials(), *_visits(), *_registration()]


def feature_registry(settings: FeatureSettings | None = None) -> dict[str, Feature]:
    """Every feature built with ``settings`` (defaults if None) and the portfolio family, in output order."""
    settings = settings or FeatureSettings()
    where = {f: c for c, members in concepts(settings).items() for f in members}
    out: dict[str, Feature] = {}
    for feat in [*_declared(settings), *_portfolio()]:
        if feat.name in out or feat.c not in C_NAMES or feat.family not in (*FAMILIES, PORTFOLIO_FAMILY):
            raise AssertionError(f"feature {feat.name!r} declared twice or with an unknown C or family")  # tests
        out[feat.name] = replace(feat, concept=where.get(feat.name, feat.name))
    return out


def feature_catalog(settings: FeatureSettings | None = None) -> dict[str, FeatureInfo]:
    """Every feature built with ``settings`` (defaults if None), in output column order (no portfolio family)."""
    return {f.name: f.info for f in feature_registry(settings).values() if f.family != PORTFOLIO_FAMILY}


FEATURES: dict[str, FeatureInfo] = feature_catalog()
"""The features built with the default settings (windows 3/6/12/24 months, late 30/60/90 days)."""

PORTFOLIO_FEATURES: dict[str, FeatureInfo] = {f.name: f.info for f in _portfolio()}
"""Segment-level indicators of the whole book (:mod:`riskmodel.features.portfolio`), point in time."""

CALENDAR_DRIVEN: frozenset[str] = frozenset(f.name for f in _declared(FeatureSettings()) if f.calendar_driven)
"""Features that move with the calendar by construction (the same names at every setting)."""


def reason_templates(settings: FeatureSettings | None = None) -> dict[str, ReasonTemplate]:
    """How each feature built with ``settings`` (defaults if None) reads in a reason sentence."""
    return {f.name: f.reason for f in feature_registry(settings).values() if f.reason is not None}


def credit_direction(settings: FeatureSettings | None = None) -> dict[str, int]:
    """Credit logic's direction of each feature built with ``settings`` (defaults if None); 0s left out."""
    return {f.name: f.direction for f in feature_registry(settings).values() if f.direction}


CREDIT_DIRECTION: dict[str, int] = credit_direction()
"""Directions of the features built with the default settings."""

CONCEPTS: dict[str, tuple[str, ...]] = concepts()
"""Concepts of the features built with the default settings."""


def concept_of(features: list[str]) -> list[str]:
    """The concept of each feature (its own name when it belongs to none)."""
    where = {f: c for c, members in CONCEPTS.items() for f in members}
    return [where.get(f, f) for f in features]


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
            "feature": f.name,
            "family": f.family,
            "c": f.c,
            "dtype": "category" if f.name in CATEGORICAL_FEATURES else "float64",
            "unit": f.unit,
            "description": f.description,
        }
        for f in feature_registry(settings).values()
    ]
    return pd.DataFrame(rows, columns=["feature", "family", "c", "dtype", "unit", "description"])


def data_dictionary_markdown(settings: FeatureSettings | None = None, horizon_months: int | None = None) -> str:
    """The data dictionary as a Markdown document, one table per family; the label of ``horizon_months``
    (``snapshots.horizon_months``; None: its default)."""
    dd = data_dictionary(settings)
    horizon = SnapshotSettings().horizon_months if horizon_months is None else horizon_months
    lines = [
        "# Data dictionary of the modelling table",
        "",
        f"One row per (`{S.CUSTOMER_ID}`, `{S.SNAPSHOT_DATE}`); the label `{S.label_name(horizon)}` is 1 when the "
        f"customer's first default falls in (snapshot, snapshot + {horizon} months]. Features use only records dated "
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


def recorded_registry(recorded: Mapping[str, Any] | None = None) -> dict[str, Feature]:
    """The registry (portfolio family included) for feature settings recorded in a bundle's manifest.

    ``recorded`` is the manifest's ``feature_settings``; None (bundles written before it was
    recorded) means the default settings.
    """
    return feature_registry(FeatureSettings.model_validate(dict(recorded or {})))


def recorded_catalog(recorded: Mapping[str, Any] | None = None) -> dict[str, FeatureInfo]:
    """The catalog (portfolio family included) for feature settings recorded in a bundle's manifest."""
    return {name: f.info for name, f in recorded_registry(recorded).items()}
