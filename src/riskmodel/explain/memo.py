"""The credit-committee memo for one customer: context, HTML (jinja2), PDF (WeasyPrint) and JSON.

:func:`build_memo` gathers the score and explanation (from
:class:`riskmodel.scoring.Scorer`), the customer's record as of the date
(:mod:`riskmodel.explain.history`) and the charts
(:mod:`riskmodel.explain.charts`) into a :class:`Memo`; rendering is separate.
Nothing here touches files: the pipeline writes what :meth:`Memo.html`,
:meth:`Memo.pdf` or :meth:`Memo.to_dict` return.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.explain import charts
from riskmodel.explain.history import KEY_RATIOS, financial_trend, freshness, payment_history, visit_log
from riskmodel.explain.reasons import feature_phrase
from riskmodel.explain.templates import format_money
from riskmodel.exceptions import RiskModelError
from riskmodel.safety import clip_text

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "memo.html.j2"
PCT_RATIOS = ("fin_equity_ratio", "fin_ebit_margin", "fin_cfo_to_debt", "fin_leverage")
STALE_STATEMENT_MONTHS = 18  # a statement older than this is flagged
STALE_VISIT_MONTHS = 12  # a visit older than this is flagged
RATING_LABELS = {  # short column heads; the memo spells them out under the table
    S.CORRESPONDENCE: "Corr.", S.RESPONSIVENESS: "Resp.", S.EXPERTISE: "Exp.", S.PREMISES: "Prem.",
    S.INVENTORY_RATING: "Inv.", S.MANAGEMENT: "Mgmt", S.STAFF_MORALE: "Mor.", S.DISCLOSURE: "Discl.",
}


class PdfUnavailableError(RiskModelError, RuntimeError):
    """PDF output needs WeasyPrint and its system libraries (pango)."""


@dataclass
class Memo:
    """Everything the memo shows, ready to render."""

    context: dict[str, Any]
    charts: dict[str, str] = field(default_factory=dict)  # name -> base64 PNG

    def html(self) -> str:
        """The memo as a self-contained HTML page (charts embedded as base64 PNG)."""
        import jinja2

        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                                 autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                                 lstrip_blocks=True)
        env.filters["ucfirst"] = lambda s: s[:1].upper() + s[1:] if s else s
        return env.get_template(TEMPLATE_NAME).render(**self.context, charts=self.charts)

    def pdf(self) -> bytes:
        """The memo as PDF (WeasyPrint); PdfUnavailableError when it cannot run here."""
        try:
            import weasyprint
        except (ImportError, OSError) as err:
            raise PdfUnavailableError(
                f"PDF output needs WeasyPrint and the pango library ({err}); use --format html instead"
            ) from None
        return weasyprint.HTML(string=self.html(), base_url=str(TEMPLATE_DIR)).write_pdf()

    def to_dict(self) -> dict[str, Any]:
        """The memo's content as JSON-ready data (no charts)."""
        return _jsonable({k: v for k, v in self.context.items() if not k.startswith("_")})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (pd.Timestamp, dt.date, dt.datetime)):
        return value.isoformat()[:10] if isinstance(value, (pd.Timestamp, dt.datetime)) else value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _fmt_date(d: Any) -> str:
    return "—" if d is None or pd.isna(d) else pd.Timestamp(d).strftime("%d %b %Y")


def _fmt_pd(p: float | None) -> str:
    if p is None or np.isnan(p):
        return "—"
    return f"{p:.2%}" if p < 0.1 else f"{p:.1%}"


def _age(months: float | None) -> str:
    if months is None:
        return "none on file"
    if months < 1:
        return "less than a month"
    if months < 1.5:
        return "1 month"
    return f"{months:.0f} months" if months < 24 else f"{months / 12:.1f} years"


def _fresh_rows(fresh: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    spec = (("Latest financial statement", "statement_period_end", "statement_age_months", STALE_STATEMENT_MONTHS,
             "period end"),
            ("Latest visit or contact report", "visit_date", "visit_age_months", STALE_VISIT_MONTHS, "visited"),
            ("Latest invoice", "invoice_date", "invoice_age_months", 6, "issued"),
            ("Latest external record (references, lawsuits, ...)", "event_date", "event_age_months", 12, "dated"))
    for label, date_key, age_key, stale, verb in spec:
        age = fresh.get(age_key)
        status = "missing" if age is None else ("stale" if age > stale else "current")
        rows.append({"label": label, "date": _fmt_date(fresh.get(date_key)), "verb": verb, "age": _age(age),
                     "status": status, "limit": f"flagged after {stale} months"})
    return rows


def _statement_rows(trend: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in trend.itertuples(index=False):
        d = r._asdict()
        rows.append({
            "period_end": pd.Timestamp(d[S.PERIOD_END]).strftime("%Y-%m-%d"),
            "revenue": format_money(float(d[S.REVENUE])),
            "equity": format_money(float(d[S.EQUITY])),
            "audited": "yes" if bool(d[S.AUDITED]) else "no",
            **{k: ("—" if pd.isna(d[k]) else (f"{d[k]:.0%}" if k in PCT_RATIOS else f"{d[k]:.2f}"))
               for k in KEY_RATIOS},
        })
    return rows


def _visit_rows(visits: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for _, v in visits.iterrows():
        ratings = {RATING_LABELS[r]: (None if pd.isna(v[r]) else int(v[r])) for r in S.VISIT_RATINGS}
        flags = []
        if bool(v[S.LAVISH_OFFICE]):
            flags.append("lavish office")
        if not bool(v[S.LICENCE_CHECKED]):
            flags.append("licence not checked")
        low = [k for k, x in ratings.items() if x is not None and x <= 2]
        rows.append({"date": _fmt_date(v[S.VISIT_DATE]), "ratings": ratings,
                     "mean": None if pd.isna(v["mean_rating"]) else f"{v['mean_rating']:.1f}",
                     "flags": flags, "low": low,
                     "notes": None if pd.isna(v.get(S.NOTES)) else clip_text(str(v.get(S.NOTES)))})
    return rows


def build_memo(explanation: Any, tables: Tables, as_of: pd.Timestamp, publication_lag_months: int,
               manifest: dict[str, Any], master_scale: Any, generated_at: dt.datetime | None = None) -> Memo:
    """Gather one customer's memo.

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
    """
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
    history = payment_history(inv, as_of)
    trend = financial_trend(fin, as_of, publication_lag_months)
    visits = visit_log(vis, as_of)
    fresh = freshness(inv, fin, vis, evt, as_of, publication_lag_months)
    default_dates = dfl.loc[dfl[S.DEFAULT_DATE] <= as_of, S.DEFAULT_DATE]

    metrics = (manifest.get("metrics") or {}).get("models", {}).get(manifest.get("model_name", ""), {})
    policy = explanation.policy
    grade = explanation.grade
    grade_desc = policy.description if policy is not None else ""
    scale = [{"grade": g.grade, "max_pd": _fmt_pd(g.max_pd), "current": g.grade == grade}
             for g in master_scale.grades]
    scale.append({"grade": master_scale.default_grade, "max_pd": "default",
                  "current": grade == master_scale.default_grade})
    current_limit = float(cust[S.CREDIT_LIMIT])
    last = history.iloc[-1] if len(history) else None
    context: dict[str, Any] = {
        "customer_id": cid,
        "as_of": as_of.strftime("%d %b %Y"),
        "as_of_iso": as_of.strftime("%Y-%m-%d"),
        "generated_at": (generated_at or dt.datetime.now()).strftime("%d %b %Y %H:%M"),
        "profile": {
            "industry": str(cust[S.INDUSTRY]).replace("_", " "),
            "region": str(cust[S.REGION]).replace("_", " "),
            "legal_form": str(cust[S.LEGAL_FORM]).replace("_", " "),
            "founded": _fmt_date(cust[S.FOUNDED_DATE]),
            "onboarded": _fmt_date(cust[S.ONBOARDED_DATE]),
            "current_limit": format_money(current_limit),
            "current_terms": f"{int(cust[S.PAYMENT_TERMS_DAYS])} days",
        },
        "status": explanation.status,
        "default_date": _fmt_date(default_dates.min()) if len(default_dates) else None,
        "pd": explanation.pd,
        "pd_text": _fmt_pd(explanation.pd),
        "grade": grade or "—",
        "grade_description": grade_desc,
        "scale": scale,
        "credit_level": explanation.credit_level,
        "credit_level_text": "—" if explanation.credit_level is None else f"{explanation.credit_level:.0%}",
        "sub_scores": explanation.sub_scores,
        "reasons_up": explanation.reasons_up,
        "reasons_down": explanation.reasons_down,
        "policy": None if policy is None else {
            **policy.as_dict(),
            "limit_text": "to be set by the committee" if np.isnan(policy.limit) else format_money(policy.limit),
            "terms_text": policy.terms_text,
            "terms_main": policy.terms_text.split(", review")[0],
            "review_text": ("every month" if policy.review_months == 1
                            else f"every {policy.review_months} months"),
            "prepayment_text": f"{policy.prepayment_share:.0%}",
            "change": (None if np.isnan(policy.limit) or current_limit <= 0
                       else (policy.limit - current_limit) / current_limit),
        },
        "payments": {
            "open": format_money(float(last["open_amount"])) if last is not None else "0",
            "overdue": format_money(float(last["overdue_amount"])) if last is not None else "0",
            "worst_dpd_24m": int(history["max_dpd_open"].max()) if len(history) else 0,
            "months_with_overdue": int((history["overdue_amount"] > 0).sum()) if len(history) else 0,
            "n_months": len(history),
            "table": [{"month": r.month_end.strftime("%b %Y"), "open": format_money(r.open_amount),
                       "overdue": format_money(r.overdue_amount), "max_dpd": int(r.max_dpd_open),
                       "mean_dpd": None if pd.isna(r.mean_dpd_settled) else f"{r.mean_dpd_settled:.0f}"}
                      for r in history.itertuples()],
        },
        "statements": _statement_rows(trend),
        "ratio_labels": KEY_RATIOS,
        "visits": _visit_rows(visits),
        "freshness": _fresh_rows(fresh),
        "model": {
            "name": manifest.get("model_name", "unknown"),
            "version": manifest.get("version", "unknown"),
            "auc": metrics.get("auc"),
            "auc_text": "—" if metrics.get("auc") is None else f"{metrics['auc']:.3f}",
            "created_at": str(manifest.get("created_at", ""))[:10],
            "test_period": manifest.get("test_period"),
        },
    }
    figs: dict[str, str] = {}
    if explanation.sub_scores:
        figs["five_c"] = charts.png_base64(charts.five_c_chart(explanation.sub_scores, explanation.credit_level))
    if explanation.contributions is not None and explanation.expected_value is not None:
        labels = {f: feature_phrase(f, explanation.features.get(f)) for f in explanation.contributions.index}
        unit = "risk points" if manifest.get("model_name") == "baseline_5c" else "log-odds"
        figs["waterfall"] = charts.png_base64(charts.waterfall_chart(
            explanation.contributions, explanation.expected_value, labels, unit=unit))
        context["waterfall_unit"] = unit
    if len(history) and (history["open_amount"].sum() > 0 or history["n_settled"].sum() > 0):
        figs["payments"] = charts.png_base64(charts.payment_chart(history))
    if len(trend):
        figs["ratios"] = charts.png_base64(charts.ratio_chart(trend, KEY_RATIOS, PCT_RATIOS))
    return Memo(context=context, charts=figs)
