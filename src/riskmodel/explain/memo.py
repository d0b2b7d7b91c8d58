"""The credit-committee memo for one customer: one structured memo object, rendered to HTML (jinja2) and PDF.

:func:`build_memo` gathers the score and explanation (from
:class:`riskmodel.scoring.Scorer`), the customer's record as of the date
(:mod:`riskmodel.explain.history`), the limit review (:mod:`riskmodel.explain.policy`)
into a :class:`Memo` whose :attr:`Memo.data` is the JSON memo: numbers, ISO dates
and the units they are in, no display strings.  HTML and PDF are rendered from
that object only (:meth:`Memo.html`, :meth:`Memo.pdf`; charts are drawn from it
by :mod:`riskmodel.explain.charts`), so the three formats cannot disagree, and
``Memo.from_dict(json.loads(...))`` renders the same page as the memo it came from.
Nothing here touches files: the pipeline writes what the methods return.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.exceptions import RiskModelError
from riskmodel.explain import charts
from riskmodel.explain.history import (
    KEY_RATIOS,
    financial_trend,
    freshness,
    missing_periods,
    month_ends,
    payment_history,
    published_statements,
    visit_log,
)
from riskmodel.explain.policy import limit_calculation, review_limit
from riskmodel.explain.templates import display_key, format_money, format_value, template_for
from riskmodel.features import names as N
from riskmodel.features.build import facts_as_of
from riskmodel.features.dictionary import concept_of
from riskmodel.safety import clip_text

log = logging.getLogger(__name__)

SCHEMA = "riskmodel.memo/2"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "memo.html.j2"
PCT_RATIOS = (N.FIN_EQUITY_RATIO, N.FIN_EBIT_MARGIN, N.FIN_CFO_TO_DEBT, N.FIN_LEVERAGE)
STALE_STATEMENT_MONTHS = 18  # a statement older than this is flagged
STALE_VISIT_MONTHS = 12  # a visit older than this is flagged
HISTORY_MONTHS = 24  # months of payment history shown (fewer for a customer onboarded since)
RATING_LABELS = {  # short column heads; the memo spells them out under the table
    S.CORRESPONDENCE: "Corr.", S.RESPONSIVENESS: "Resp.", S.EXPERTISE: "Exp.", S.PREMISES: "Prem.",
    S.INVENTORY_RATING: "Inv.", S.MANAGEMENT: "Mgmt", S.STAFF_MORALE: "Mor.", S.DISCLOSURE: "Discl.",
}
#: loggers of the PDF library that print progress at INFO (font subsetting, layout); silenced while rendering
PDF_LOGGERS = ("weasyprint", "weasyprint.progress", "fontTools", "fontTools.subset", "fontTools.ttLib")
_DAYS_PER_MONTH = 365.25 / 12


class PdfUnavailableError(RiskModelError, RuntimeError):
    """PDF output needs WeasyPrint and its system libraries (pango)."""


# ------------------------------------------------------------------ rendering (formatting lives here and in the template)
def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_money(x: Any, currency: str) -> str:
    """``EUR 12.3k`` (joined by a no-break space); ``—`` when missing."""
    if _is_missing(x):
        return "—"
    s = format_money(float(x) + 0.0)
    return f"{currency}\u00a0{'0' if s in ('-0', '0') else s}"  # no-break space: the code stays with its number


def fmt_pct(x: Any, digits: int = 0, signed: bool = False) -> str:
    """``12%`` (``+12%`` when signed); never ``-0%``; ``—`` when missing."""
    if _is_missing(x):
        return "—"
    v = round(float(x) * 100.0, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{v:+.{digits}f}%" if signed and v != 0 else f"{v:.{digits}f}%"


def fmt_pd(p: Any) -> str:
    """A PD as a percentage: two decimals below 10%, one above."""
    if _is_missing(p):
        return "—"
    return fmt_pct(p, 2 if p < 0.1 else 1)


def fmt_num(x: Any, digits: int = 2) -> str:
    if _is_missing(x):
        return "—"
    v = round(float(x), digits) + 0.0
    return f"{v:.{digits}f}"


def fmt_date(iso: Any) -> str:
    """``31 Dec 2024`` from an ISO date; ``—`` when missing."""
    return "—" if _is_missing(iso) else pd.Timestamp(iso).strftime("%d %b %Y")


def fmt_age(months: Any) -> str:
    if _is_missing(months):
        return "none on file"
    if months < 1:
        return "less than a month"
    if months < 1.5:
        return "1 month"
    return f"{months:.0f} months" if months < 24 else f"{months / 12:.1f} years"


MONEY_KINDS = ("money", "log_money")


def _shown_amount(feature: str, value: Any) -> str | None:
    """How a money feature's value reads in its sentence (e.g. ``47.5k``); None for other features."""
    kind = template_for(feature).kind
    if kind not in MONEY_KINDS or _is_missing(value) or isinstance(value, str):
        return None
    return format_value(kind, float(display_key(kind, np.array([float(value)]))[0]))


def amounts_with_currency(text: str, feature: str, value: Any, comparison: str | None, currency: str) -> str:
    """A reason sentence or phrase with the currency before the amounts of a money feature.

    The sentences come from the reason templates, which know no currency; the memo adds it
    where the amount is: the customer's value and the reference value it is compared with
    (the comparison reads "<reference>: <amount>", e.g. "typical customer in good standing: 53.5k").
    """
    shown = _shown_amount(feature, value)
    if shown is None:
        return text
    # the amount itself, not the tail of a longer number ("5k" inside "45k")
    out = re.sub(rf"(?<![\d.,-]){re.escape(shown)}", lambda m: f"{currency}\u00a0{m.group(0)}", text, count=1)
    if comparison and ": " in comparison:
        ref, amount = comparison.rsplit(": ", 1)
        out = out.replace(comparison, f"{ref}: {currency}\u00a0{amount}", 1)
    return out


def _reason_body(reason: dict[str, Any], currency: str) -> str:
    """The reason's sentence without its C label (the memo shows the C as a chip), amounts with currency."""
    body = str(reason["text"]).split(": ", 1)[-1]
    body = amounts_with_currency(body, str(reason["feature"]), reason.get("value"), reason.get("comparison"),
                                 currency)
    return body[:1].upper() + body[1:]


@contextlib.contextmanager
def _quiet_pdf_logs() -> Iterator[None]:
    """Raise the PDF library's loggers to ERROR for the duration (they log progress at INFO/WARNING)."""
    saved = {name: logging.getLogger(name).level for name in PDF_LOGGERS}
    try:
        for name in PDF_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _draw_charts(data: dict[str, Any]) -> dict[str, str | None]:
    """The memo's charts (base64 PNG) drawn from the structured memo."""
    figs: dict[str, str | None] = dict.fromkeys(("five_c", "waterfall", "payments", "ratios"))
    cur = data["currency"]
    if data.get("sub_scores"):
        figs["five_c"] = charts.png_base64(charts.five_c_chart(data["sub_scores"], data.get("credit_level")))
    if data.get("waterfall"):
        wf = copy.deepcopy(data["waterfall"])
        for step in wf["steps"]:
            step["label"] = amounts_with_currency(step["label"], step["feature"], step["value"], None, cur)
        figs["waterfall"] = charts.png_base64(charts.waterfall_chart(wf, fmt_pd, data["model"]["horizon_months"]))
    months = data["payments"]["months"]
    if months and any(m["open"] > 0 or m["n_settled"] > 0 for m in months):
        hist = pd.DataFrame(months).assign(month_end=lambda d: pd.to_datetime(d["month_end"]))
        hist = hist.rename(columns={"open": "open_amount", "overdue": "overdue_amount", "max_dpd": "max_dpd_open",
                                    "mean_dpd": "mean_dpd_settled"}).astype({"mean_dpd_settled": float})
        figs["payments"] = charts.png_base64(charts.payment_chart(hist, currency=cur))
    statements = data["statements"]["rows"]
    if statements:
        trend = pd.DataFrame([{**{k: (np.nan if s["ratios"].get(k) is None else s["ratios"][k]) for k in KEY_RATIOS},
                               "period_end": pd.Timestamp(s["period_end"])} for s in statements])
        figs["ratios"] = charts.png_base64(charts.ratio_chart(
            trend, KEY_RATIOS, PCT_RATIOS, missing=[pd.Timestamp(d) for d in data["statements"]["missing_periods"]]))
    return figs


@dataclass
class Memo:
    """The structured memo (:attr:`data`, JSON-ready) and its renderers."""

    data: dict[str, Any]

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Memo":
        """A memo from its JSON form (what :meth:`to_dict` returned, e.g. after ``json.loads``)."""
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} memo (schema {doc.get('schema')!r})")
        return cls(copy.deepcopy(doc))

    def to_dict(self) -> dict[str, Any]:
        """The JSON memo: numbers, ISO dates, units; the source HTML and PDF render from."""
        return copy.deepcopy(self.data)

    def html(self) -> str:
        """The memo as a self-contained HTML page (charts embedded as base64 PNG)."""
        import jinja2

        cur = self.data["currency"]
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                                 autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                                 lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        env.filters.update({
            "ucfirst": lambda s: s[:1].upper() + s[1:] if s else s,
            "money": lambda x: fmt_money(x, cur),
            "pct": fmt_pct,
            "pdpct": fmt_pd,
            "num": fmt_num,
            "date": fmt_date,
            "age": fmt_age,
            "reason_body": lambda r: _reason_body(r, cur),
        })
        return env.get_template(TEMPLATE_NAME).render(**self.data, charts=_draw_charts(self.data),
                                                      rating_labels=RATING_LABELS, ratio_labels=KEY_RATIOS,
                                                      pct_ratios=PCT_RATIOS)

    def pdf(self) -> bytes:
        """The memo as PDF (WeasyPrint, its progress log silenced); PdfUnavailableError when it cannot run here."""
        with _quiet_pdf_logs():
            try:
                import weasyprint
            except (ImportError, OSError) as err:
                raise PdfUnavailableError(
                    f"PDF output needs WeasyPrint and the pango library ({err}); use --format html instead"
                ) from None
            return weasyprint.HTML(string=self.html(), base_url=str(TEMPLATE_DIR)).write_pdf()


# ------------------------------------------------------------------ building the structured memo
def _iso(d: Any) -> str | None:
    return None if d is None or pd.isna(d) else pd.Timestamp(d).date().isoformat()


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return _iso(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def _months(a: Any, b: Any) -> float:
    return (pd.Timestamp(b) - pd.Timestamp(a)).days / _DAYS_PER_MONTH


def _freshness_rows(fresh: dict[str, Any]) -> list[dict[str, Any]]:
    spec = (("statement", "Latest financial statement", "statement_period_end", "statement_age_months",
             STALE_STATEMENT_MONTHS),
            ("visit", "Latest visit or contact report", "visit_date", "visit_age_months", STALE_VISIT_MONTHS),
            ("invoice", "Latest invoice", "invoice_date", "invoice_age_months", 6),
            ("event", "Latest external record (references, lawsuits, ...)", "event_date", "event_age_months", 12))
    rows = []
    for evidence, label, date_key, age_key, stale in spec:
        age = fresh.get(age_key)
        rows.append({"evidence": evidence, "label": label, "date": _iso(fresh.get(date_key)),
                     "age_months": None if age is None else round(float(age), 1),
                     "status": "missing" if age is None else ("stale" if age > stale else "current"),
                     "stale_after_months": stale})
    return rows


def _statement_rows(trend: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"period_end": _iso(r[S.PERIOD_END]), "revenue": _num(r[S.REVENUE]), "ebit": _num(r[S.EBIT]),
             "net_income": _num(r[S.NET_INCOME]), "equity": _num(r[S.EQUITY]),
             "total_assets": _num(r[S.TOTAL_ASSETS]), "audited": bool(r[S.AUDITED]),
             "ratios": {k: _num(r[k]) for k in KEY_RATIOS}}
            for _, r in trend.iterrows()]


def _visit_rows(visits: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for _, v in visits.iterrows():
        flags = []
        if bool(v[S.LAVISH_OFFICE]):
            flags.append("lavish_office")
        if not bool(v[S.LICENCE_CHECKED]):
            flags.append("licence_not_checked")
        notes = v.get(S.NOTES)
        rows.append({"date": _iso(v[S.VISIT_DATE]),
                     "ratings": {r: (None if pd.isna(v[r]) else int(v[r])) for r in S.VISIT_RATINGS},
                     "mean": _num(v["mean_rating"]), "flags": flags,
                     "notes": None if notes is None or pd.isna(notes) else clip_text(str(notes))})
    return rows


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _waterfall(explanation: Any, unit: str, top: int = 10) -> dict[str, Any] | None:
    """From the reference (base_label) through the largest contributions to the raw score, then to the PD.

    In log-odds the last step is the calibration: from the model's raw score (whose logistic
    is ``raw_pd``) to the logit of the calibrated PD, so the waterfall ends at the headline PD.
    """
    contrib = explanation.contributions
    ev = explanation.expected_value
    if contrib is None or ev is None or explanation.pd is None:
        return None
    # by concept from the reference customer when the explanation has them (issue 10.1), else by feature
    c, labels, base_label, rest = explanation.waterfall()
    c = c.astype(float)
    order = c.abs().sort_values(ascending=False, kind="stable").index
    shown = list(order[:top])
    lead = _concept_leads(explanation.contributions) if rest == "concepts" else {}
    steps = [{"feature": lead.get(f, f), "concept": f if f in lead else None, "label": labels.get(f, f),
              "value": _jsonable(explanation.features.get(lead.get(f, f))), "contribution": float(c[f])}
             for f in shown]
    others = float(c.drop(index=shown).sum()) if len(order) > top else 0.0
    raw = float(ev) + float(c.sum())
    pd_ = float(explanation.pd)
    out: dict[str, Any] = {
        "unit": unit, "base_value": float(ev), "base_label": base_label, "rest_label": rest, "steps": steps,
        "others": {"n_features": max(len(order) - top, 0), "contribution": others},
        "raw_score": raw, "pd": pd_,
    }
    if unit == "log-odds":
        out["raw_pd"] = 1.0 / (1.0 + math.exp(-raw))
        out["calibrated_score"] = _logit(pd_)
        out["calibration"] = out["calibrated_score"] - raw
    else:  # a points scale: the fitted mapping turns the score into the PD; no log-odds step to draw
        out["raw_pd"] = None
        out["calibrated_score"] = None
        out["calibration"] = None
    return out


def _concept_leads(contributions: pd.Series) -> dict[str, str]:
    """Each concept's member feature with the largest contribution (the one its waterfall label quotes)."""
    c = contributions.astype(float)
    concepts = pd.Series(concept_of(list(c.index)), index=c.index)
    return {str(k): str(g.abs().idxmax()) for k, g in c.groupby(concepts, sort=False)}


def _statement_figures(features: dict[str, Any]) -> tuple[float, float, float]:
    """Equity, revenue and the last 12 months' invoices from the features (as the Scorer's policy uses them)."""
    def f(name: str) -> float:
        v = _num(features.get(name))
        return float("nan") if v is None else v

    revenue = math.expm1(f(N.FIN_LOG_REVENUE))
    equity = f(N.FIN_EQUITY_RATIO) * math.expm1(f(N.FIN_LOG_TOTAL_ASSETS))
    return equity, revenue, f(N.pay_amount(12))


def build_memo(explanation: Any, tables: Tables, as_of: pd.Timestamp, publication_lag_months: int,
               manifest: dict[str, Any], master_scale: Any, generated_at: dt.datetime | None = None,
               currency: str = "EUR", limit_review: Any = None) -> Memo:
    """Gather one customer's structured memo.

    Parameters
    ----------
    explanation : riskmodel.scoring.Explanation
        The customer's score, reasons, policy and contributions.
    tables : Tables
        The input tables (any customers; the memo's customer is picked out).
    as_of : the scoring date; only records strictly before it are shown.
    publication_lag_months : statements count once published (params.yaml features section).
    manifest : the bundle's manifest (model name, version, metrics).
    master_scale : MasterScaleSettings, for the grade strip.
    generated_at : timestamp printed on the memo (now when None).
    currency : ISO 4217 code of every amount (params.yaml ``reporting.currency``).
    limit_review : LimitReviewSettings (params.yaml ``limit_review``); its defaults when None.
    """
    from riskmodel.config import LimitReviewSettings

    review_settings = limit_review or LimitReviewSettings()
    cid = str(explanation.customer_id)
    as_of = pd.Timestamp(as_of)

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame[S.CUSTOMER_ID].astype(str) == cid]

    customer_rows = mine(tables.customers)
    if customer_rows.empty:
        from riskmodel.exceptions import UnknownCustomerError

        raise UnknownCustomerError(f"customer {cid!r} is not in the customers table")
    cust = customer_rows.iloc[0]
    inv, fin, vis, evt, dfl = (mine(tables.invoices), mine(tables.financials), mine(tables.visits),
                               mine(tables.events), mine(tables.defaults))
    onboarded = pd.Timestamp(cust[S.ONBOARDED_DATE])
    months_on_book = max(_months(onboarded, as_of), 0.0)
    # the history starts at the month end after onboarding: earlier months say nothing about this customer
    n_months = max(1, int((month_ends(as_of, HISTORY_MONTHS) > onboarded).sum()))
    history = payment_history(inv, as_of, months=n_months)
    trend = financial_trend(fin, as_of, publication_lag_months)
    all_published = published_statements(fin, as_of, publication_lag_months)
    visits = visit_log(vis, as_of)
    fresh = freshness(inv, fin, vis, evt, as_of, publication_lag_months)
    default_dates = dfl.loc[dfl[S.DEFAULT_DATE] <= as_of, S.DEFAULT_DATE]

    metrics = (manifest.get("metrics") or {}).get("models", {}).get(manifest.get("model_name", ""), {})
    policy = explanation.policy
    grade = explanation.grade
    # current terms = the latest customer_terms row before as_of (never the extract's values: look-ahead)
    current = facts_as_of(tables, [cid], as_of).iloc[0]
    current_limit = float(current[S.CREDIT_LIMIT])
    current_terms = float(current[S.PAYMENT_TERMS_DAYS])
    last = history.iloc[-1] if len(history) else None
    worst_dpd_open = float(history["max_dpd_open"].max()) if len(history) else 0.0
    worst_dpd_settled = _num(explanation.features.get(N.PAY_MAX_DPD_24M))
    worst_delay = max(worst_dpd_open, worst_dpd_settled or 0.0)
    latest = trend.iloc[-1] if len(trend) else None
    latest_loss = None if latest is None else bool(
        (_num(latest[S.NET_INCOME]) or 0.0) < 0 or (_num(latest[S.EBIT]) or 0.0) < 0)
    unit = "risk points" if manifest.get("model_name") == "baseline_5c" else "log-odds"

    policy_doc = None
    if policy is not None:
        equity, revenue, invoiced = _statement_figures(explanation.features)
        calc = limit_calculation(policy.grade, equity, revenue, master_scale, invoiced)
        review = review_limit(None if np.isnan(policy.limit) else policy.limit, current_limit,
                              review_settings.max_increase_share, worst_delay, review_settings.material_delay_days,
                              latest_loss)
        policy_doc = {
            "grade": policy.grade, "description": policy.description, "limit_basis": policy.limit_basis,
            "calculation": calc,
            "rule_limit": review.rule_limit, "current_limit": review.current_limit, "cap": review.cap,
            "max_increase_share": review_settings.max_increase_share, "limit": review.limit,
            "capped": review.capped, "change_share": review.change_share, "flags": list(review.flags),
            "material_delay_days": review_settings.material_delay_days,
            "worst_delay_days": worst_delay, "latest_statement_loss": latest_loss,
            "terms_days": int(policy.terms_days), "prepayment_share": float(policy.prepayment_share),
            "review_months": int(policy.review_months),
            # one payment mode, shown the same way in the card and the table
            "payment_mode": ("cash_in_advance" if policy.prepayment_share >= 1 else
                             "on_delivery" if policy.terms_days == 0 else "net"),
        }

    scale = [{"grade": g.grade, "max_pd": float(g.max_pd), "current": g.grade == grade} for g in master_scale.grades]
    scale.append({"grade": master_scale.default_grade, "max_pd": None, "current": grade == master_scale.default_grade})
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "customer_id": cid,
        "as_of": _iso(as_of),
        "generated_at": (generated_at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "currency": currency,
        "units": {"amounts": currency, "pd": "probability 0-1", "shares": "fraction 0-1",
                  "contributions": unit, "delays": "days", "ages": "months"},
        "profile": {
            "industry": str(cust[S.INDUSTRY]), "region": str(cust[S.REGION]), "legal_form": str(cust[S.LEGAL_FORM]),
            "founded": _iso(cust[S.FOUNDED_DATE]), "onboarded": _iso(onboarded),
            "months_on_book": round(months_on_book, 1),
            "current_limit": _num(current_limit),
            "current_terms_days": None if np.isnan(current_terms) else int(current_terms),
        },
        "status": explanation.status,
        "default_date": _iso(default_dates.min()) if len(default_dates) else None,
        # the window the activity rule looked at: 24 months, or since onboarding when that is shorter
        "activity_window_months": round(min(24.0, months_on_book), 1),
        "pd": _num(explanation.pd),
        "grade": grade,
        "grade_description": policy.description if policy is not None else None,
        "scale": scale,
        "credit_level": _num(explanation.credit_level),
        "sub_scores": {k: float(v) for k, v in explanation.sub_scores.items()},
        "five_c_in_bundle": bool(manifest.get("baseline")),
        "reasons_up": _jsonable(explanation.reasons_up),
        "reasons_down": _jsonable(explanation.reasons_down),
        "waterfall": _waterfall(explanation, unit),
        "policy": policy_doc,
        "payments": {
            "open": float(last["open_amount"]) if last is not None else 0.0,
            "overdue": float(last["overdue_amount"]) if last is not None else 0.0,
            "worst_dpd": worst_dpd_open,
            "months_with_overdue": int((history["overdue_amount"] > 0).sum()) if len(history) else 0,
            "n_months": len(history),
            "months": [{"month_end": _iso(r.month_end), "open": float(r.open_amount),
                        "overdue": float(r.overdue_amount), "max_dpd": int(r.max_dpd_open),
                        "n_settled": int(r.n_settled), "mean_dpd": _num(r.mean_dpd_settled)}
                       for r in history.itertuples()],
        },
        "statements": {
            "publication_lag_months": int(publication_lag_months),
            "rows": _statement_rows(trend),
            "missing_periods": [_iso(d) for d in missing_periods(all_published[S.PERIOD_END])
                                if len(trend) and d >= trend[S.PERIOD_END].min()],
        },
        "visits": _visit_rows(visits),
        "freshness": _freshness_rows(fresh),
        "model": {
            "name": manifest.get("model_name", "unknown"),
            "version": manifest.get("version", "unknown"),
            "auc": _num(metrics.get("auc")),
            "created_at": _iso(manifest.get("created_at")) if manifest.get("created_at") else None,
            "test_period": manifest.get("test_period"),
            "horizon_months": int(manifest.get("horizon_months", 12)),  # bundles before the key were 12-month
        },
    }
    return Memo(data=_jsonable(data))
