"""The one table of reason texts: for every feature, how its value reads in a sentence.

A reason reads ``"<C>: <text with the customer's value> (<comparison>)."``, for
example "Character: 3 invoices paid more than 60 days late in the last 12
months (typical customer in good standing: 0)." (the comparison is the reference
customer the contributions are measured against; see riskmodel.explain.reasons)  :data:`TEMPLATES` holds one
:class:`ReasonTemplate` per feature of :data:`riskmodel.features.dictionary.FEATURES`
(a test iterates FEATURES); the C comes from the dictionary, so it is said once.

Values are shown through a *format kind* (``count``, ``money``, ``pct`` ...);
:func:`display_key` rounds an array of values to what will be shown, so the
vectorised formatter renders each distinct shown value once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

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


def _payments() -> dict[str, ReasonTemplate]:
    out: dict[str, ReasonTemplate] = {}
    for w in (3, 6, 12, 24):
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
        "pay_n_late_30_12m": T("{value} paid more than 30 days late in the last 12 months", "count", _INV,
                               missing=settled),
        "pay_n_late_60_12m": T("{value} paid more than 60 days late in the last 12 months", "count", _INV,
                               missing=settled),
        "pay_n_late_90_12m": T("{value} paid more than 90 days late in the last 12 months", "count", _INV,
                               missing=settled),
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


def _financials() -> dict[str, ReasonTemplate]:
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


def _visits() -> dict[str, ReasonTemplate]:
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


def _registration() -> dict[str, ReasonTemplate]:
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
_LABELS: dict[str, str] = {
    "pay_mean_dpd_12m": "average payment delay", "pay_max_dpd_12m": "worst payment delay in 12 months",
    "pay_max_dpd_24m": "worst payment delay in 24 months", "pay_dpd_trend": "payment delay trend",
    "pay_share_late_12m": "share of invoices paid late", "pay_n_late_30_12m": "invoices paid over 30 days late",
    "pay_n_late_60_12m": "invoices paid over 60 days late", "pay_n_late_90_12m": "invoices paid over 90 days late",
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

TEMPLATES: dict[str, ReasonTemplate] = {
    name: (replace(t, label=_LABELS[name]) if name in _LABELS else t)
    for name, t in {**_payments(), **_financials(), **_visits(), **_registration()}.items()
}
"""One template per feature of the data dictionary (the tests check every feature has one)."""


def generic_template(feature: str, categorical: bool = False) -> ReasonTemplate:
    """A plain template for a feature outside the dictionary (flat-table models).

    ``categorical``: the feature holds text levels (a flat table's text column), so it reads as a category.
    """
    return ReasonTemplate(f"{feature.replace('_', ' ')} is {{value}}", "category" if categorical else "score")


def template_for(feature: str, categorical: bool = False) -> ReasonTemplate:
    """The feature's template, or a plain one for features outside the dictionary."""
    return TEMPLATES.get(feature) or generic_template(feature, categorical)


# ------------------------------------------------------------------ formatting
def _sig3(x: np.ndarray) -> np.ndarray:
    """Round to 3 significant digits (0 and NaN kept)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.abs(x)))
    mag = np.where(np.isfinite(mag), mag, 0.0)
    scale = 10.0 ** (mag - 2)
    return np.round(x / scale) * scale


def display_key(kind: str, values: np.ndarray) -> np.ndarray:
    """Round values to what :func:`format_value` shows, so equal keys read the same."""
    return _display_key(kind, np.asarray(values, dtype=float)) + 0.0  # + 0.0 turns -0.0 into 0.0


def _display_key(kind: str, v: np.ndarray) -> np.ndarray:
    if kind in ("count", "days", "months", "flag"):
        return np.round(v)
    if kind in ("money",):
        return _sig3(v)
    if kind == "log_money":
        return _sig3(np.expm1(v))
    if kind in ("pct", "signed_pct"):
        return np.round(v * 1000.0) / 1000.0  # 0.1 percentage point
    if kind in ("years", "signed_days", "rating", "signed_rating", "score10"):
        return np.round(v, 1)
    if kind in ("ratio", "times", "score"):
        return np.where(np.abs(v) >= 100, np.round(v), np.where(np.abs(v) >= 10, np.round(v, 1), np.round(v, 2)))
    return v


def _plural(n: float, unit: tuple[str, str]) -> str:
    return unit[0] if n == 1 else unit[1]


def format_money(x: float) -> str:
    """12.3k, 1.25m, 850, -4.1k."""
    a = abs(x)
    if a >= 1e9:
        s = f"{x / 1e9:.3g}bn"
    elif a >= 1e6:
        s = f"{x / 1e6:.3g}m"
    elif a >= 1e3:
        s = f"{x / 1e3:.3g}k"
    else:
        s = f"{x:.3g}" if a else "0"
    return s


def _pct(x: float, signed: bool = False) -> str:
    p = x * 100.0
    body = f"{p:.0f}" if abs(p) >= 10 or p == 0 or float(p).is_integer() else f"{p:.1f}"
    if signed and p > 0:
        body = "+" + body
    return body + "%"


def _num(x: float) -> str:
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def format_value(kind: str, value: object, unit: tuple[str, str] | None = None) -> str:
    """The shown form of one (display-rounded) value of a format kind."""
    if kind == "category":
        return str(value).replace("_", " ")
    v = float(value)  # type: ignore[arg-type]
    if kind == "count":
        n = round(v)
        return f"{n:,}" + (f" {_plural(n, unit)}" if unit else "")
    if kind == "days":
        n = round(v)
        return f"{n:,} {'day' if abs(n) == 1 else 'days'}"
    if kind == "signed_days":
        return f"{v:+.1f} days"
    if kind == "months":
        n = round(v)
        return "less than a month" if n == 0 else f"{n:,} {'month' if n == 1 else 'months'}"
    if kind == "years":
        return f"{v:.1f} years"
    if kind == "money":
        return format_money(v)
    if kind == "log_money":
        return format_money(v)  # the key is already expm1-ed
    if kind == "pct":
        return _pct(v)
    if kind == "signed_pct":
        return _pct(v, signed=True)
    if kind == "ratio":
        return _num(v)
    if kind == "times":
        return f"{_num(v)} times"
    if kind == "score":
        return _num(v)
    if kind == "rating":
        return f"{v:.1f} / 5"
    if kind == "signed_rating":
        return f"{v:+.1f} points"
    if kind == "score10":
        return f"{v:.1f} / 10"
    if kind == "flag":
        return "yes" if v >= 0.5 else "no"
    raise ValueError(f"unknown format kind {kind!r}")


def render_body(template: ReasonTemplate, key: object) -> str:
    """The sentence body for one display key (NaN / None -> the template's missing text)."""
    if key is None or (isinstance(key, float) and np.isnan(key)):
        return f"{template.label} not known: {template.missing}" if template.label else template.missing
    if template.kind == "flag":
        return template.yes if float(key) >= 0.5 else template.no  # type: ignore[arg-type]
    return template.text.format(value=format_value(template.kind, key, template.unit))


def render_comparison(template: ReasonTemplate, point: object, reference: str | None = None) -> str:
    """The comparison in brackets: the portfolio median, share of 1s or most common level.

    With ``reference`` (e.g. "typical customer in good standing") the point is that reference
    customer's value and reads ``"<reference>: <value>"`` for every kind.
    """
    if reference is not None:
        if point is None or (isinstance(point, float) and np.isnan(point)):
            return f"{reference}: not known"
        if template.kind == "category":
            return f"{reference}: {format_value('category', point)}"
        if template.kind == "flag":
            return f"{reference}: {render_body(template, float(point))}"  # type: ignore[arg-type]
        key = display_key(template.kind, np.array([float(point)]))[0]  # type: ignore[arg-type]
        return f"{reference}: {format_value(template.kind, key, None if template.kind == 'count' else template.unit)}"
    if point is None or (isinstance(point, float) and np.isnan(point)):
        return "no portfolio comparison"
    if template.kind == "flag":
        share = point if isinstance(point, str) else _pct(float(point))  # type: ignore[arg-type]
        return template.share.format(share=share)
    if template.kind == "category":
        return f"most common in the portfolio: {format_value('category', point)}"
    key = display_key(template.kind, np.array([float(point)]))[0]  # type: ignore[arg-type]
    shown = format_value(template.kind, key, None if template.kind == "count" else template.unit)
    return f"portfolio median: {shown}"


def sentence(c_label: str, body: str, comparison: str) -> str:
    """``"<C>: <body> (<comparison>)."``"""
    return f"{c_label}: {body} ({comparison})."
