"""A slow, obvious reference of the point-in-time features: one customer and one snapshot at a time.

Written straight from the definitions (DESIGN section 4 and the data
dictionary), independently of the vectorised builder, so that the two can be
compared on random tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from riskmodel.config import FeatureSettings
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables

MONTH = 365.25 / 12


def _ratio(num: float, den: float, cap: float | None, zero_to_cap: bool = False) -> float:
    if den > 0:
        v = num / den
        return float(np.clip(v, -cap, cap)) if cap is not None else v
    if den == 0 and zero_to_cap and num != 0:
        return math.copysign(cap, num)
    return math.nan


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else math.nan


def reference_features(
    tables: Tables, cid: str, snap: pd.Timestamp, fs: FeatureSettings
) -> dict[str, float]:
    """All numeric features of one customer at one snapshot (categoricals as their string value)."""
    out: dict[str, float] = {}
    cust = tables.customers.set_index(S.CUSTOMER_ID).loc[cid]
    # the history facts: the latest customer_terms row dated strictly before the snapshot
    facts = {f: math.nan for f in S.HISTORY_FACTS}
    if tables.customer_terms is not None:
        th = tables.customer_terms
        th = th[(th[S.CUSTOMER_ID] == cid) & (th[S.VALID_FROM] < snap)].sort_values(S.VALID_FROM)
        if len(th):
            facts = {f: float(th[f].iloc[-1]) for f in S.HISTORY_FACTS}
    limit = facts[S.CREDIT_LIMIT]

    def start(months: int) -> pd.Timestamp:
        return snap - pd.DateOffset(months=months)

    # ---------------------------------------------------------- payments
    inv = tables.invoices[tables.invoices[S.CUSTOMER_ID] == cid]
    issued = inv[inv[S.INVOICE_DATE] < snap]
    for w in fs.windows_months:
        sel = issued[issued[S.INVOICE_DATE] >= start(w)]
        out[f"pay_n_invoices_{w}m"] = float(len(sel))
    for w in fs.windows_months:
        sel = issued[issued[S.INVOICE_DATE] >= start(w)]
        out[f"pay_amount_{w}m"] = float(sel[S.AMOUNT].sum())
    settled = inv[inv[S.PAID_DATE].notna() & (inv[S.PAID_DATE] < snap)].copy()
    settled["dpd"] = ((settled[S.PAID_DATE] - settled[S.DUE_DATE]).dt.days).clip(lower=0)

    def settled_in(lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
        return settled.loc[(settled[S.PAID_DATE] >= lo) & (settled[S.PAID_DATE] < hi), "dpd"]

    d12, d24 = settled_in(start(12), snap), settled_in(start(24), snap)
    out["pay_mean_dpd_12m"] = _mean(list(d12))
    out["pay_max_dpd_12m"] = float(d12.max()) if len(d12) else math.nan
    out["pay_max_dpd_24m"] = float(d24.max()) if len(d24) else math.nan
    out["pay_dpd_trend"] = _mean(list(settled_in(start(6), snap))) - _mean(
        list(settled_in(start(12), start(6)))
    )
    out["pay_share_late_12m"] = float((d12 > 0).mean()) if len(d12) else math.nan
    for t in fs.late_thresholds_days:
        out[f"pay_n_late_{t}_12m"] = float((d12 > t).sum())
    open_ = issued[issued[S.PAID_DATE].isna() | (issued[S.PAID_DATE] >= snap)]
    age = (snap - open_[S.DUE_DATE]).dt.days
    out["pay_open_amount"] = float(open_[S.AMOUNT].sum())
    out["pay_overdue_amount"] = float(open_.loc[age >= 1, S.AMOUNT].sum())
    for name, lo, hi in (("1_30", 1, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("90p", 91, 10**9)):
        out[f"pay_overdue_{name}"] = float(open_.loc[(age >= lo) & (age <= hi), S.AMOUNT].sum())
    op = out["pay_open_amount"]
    out["pay_overdue_share"] = out["pay_overdue_amount"] / op if op > 0 else 0.0
    out["pay_utilisation"] = _ratio(op, limit, 100.0, True)
    late_dates = list(settled.loc[settled["dpd"] > 0, S.PAID_DATE])
    if (age >= 1).any():  # the oldest invoice still overdue fell due on its due date
        late_dates.append(open_.loc[age >= 1, S.DUE_DATE].min())
    out["pay_months_since_late"] = (snap - max(late_dates)).days / MONTH if late_dates else math.nan
    out["pay_months_since_last_invoice"] = (
        (snap - issued[S.INVOICE_DATE].max()).days / MONTH if len(issued) else math.nan
    )
    onb = cust[S.ONBOARDED_DATE]
    out["pay_tenure_months"] = (snap - onb).days / MONTH if onb < snap else math.nan

    # -------------------------------------------------------- financials
    fin = tables.financials[tables.financials[S.CUSTOMER_ID] == cid].sort_values(S.PERIOD_END)
    lag = pd.DateOffset(months=fs.publication_lag_months)
    visible = fin[[pe + lag < snap for pe in fin[S.PERIOD_END]]]
    names = [
        "fin_leverage",
        "fin_equity_ratio",
        "fin_current_ratio",
        "fin_quick_ratio",
        "fin_cash_ratio",
        "fin_interest_cover",
        "fin_ebit_margin",
        "fin_net_margin",
        "fin_roa",
        "fin_cfo_to_debt",
        "fin_revenue_growth",
        "fin_altman_z2",
        "fin_log_revenue",
        "fin_log_total_assets",
        "fin_statement_age_months",
        "fin_audited",
    ]
    if len(visible):
        f = visible.iloc[-1]
        pos = list(fin.index).index(visible.index[-1])
        prev = fin.iloc[pos - 1] if pos > 0 else None
        ta, tl, cl = f[S.TOTAL_ASSETS], f[S.TOTAL_LIABILITIES], f[S.CURRENT_LIABILITIES]
        out["fin_leverage"] = _ratio(tl, ta, 10)
        out["fin_equity_ratio"] = _ratio(f[S.EQUITY], ta, 10)
        out["fin_current_ratio"] = _ratio(f[S.CURRENT_ASSETS], cl, 100, True)
        out["fin_quick_ratio"] = _ratio(f[S.CURRENT_ASSETS] - f[S.INVENTORY], cl, 100, True)
        out["fin_cash_ratio"] = _ratio(f[S.CASH], cl, 100, True)
        out["fin_interest_cover"] = _ratio(f[S.EBIT], f[S.INTEREST_EXPENSE], 100, True)
        out["fin_ebit_margin"] = _ratio(f[S.EBIT], f[S.REVENUE], 10)
        out["fin_net_margin"] = _ratio(f[S.NET_INCOME], f[S.REVENUE], 10)
        out["fin_roa"] = _ratio(f[S.NET_INCOME], ta, 10)
        out["fin_cfo_to_debt"] = _ratio(f[S.OPERATING_CASH_FLOW], tl, 100, True)
        prev_rev = math.nan if prev is None else prev[S.REVENUE]
        out["fin_revenue_growth"] = (
            _ratio(f[S.REVENUE] - prev_rev, prev_rev, 100) if prev is not None else math.nan
        )
        z = (
            6.56 * _ratio(f[S.CURRENT_ASSETS] - cl, ta, 10)
            + 3.26 * _ratio(f[S.RETAINED_EARNINGS], ta, 10)
            + 6.72 * _ratio(f[S.EBIT], ta, 10)
            + 1.05 * _ratio(f[S.EQUITY], tl, 100, True)
        )
        out["fin_altman_z2"] = z if ta > 0 else math.nan
        out["fin_log_revenue"] = math.log1p(max(f[S.REVENUE], 0.0))
        out["fin_log_total_assets"] = math.log1p(max(ta, 0.0))
        out["fin_statement_age_months"] = (snap - f[S.PERIOD_END]).days / MONTH
        out["fin_audited"] = float(f[S.AUDITED])
        out["fin_has_statement"] = 1.0
    else:
        out.update({n: math.nan for n in names})
        out["fin_has_statement"] = 0.0

    # ------------------------------------------------------------ visits
    vis = tables.visits[
        (tables.visits[S.CUSTOMER_ID] == cid) & (tables.visits[S.VISIT_DATE] < snap)
    ]
    vis = vis.sort_values([S.VISIT_DATE, S.VISIT_ID])
    ratings = vis[list(S.VISIT_RATINGS)].astype("float64")
    means = ratings.mean(axis=1)  # NaN when no rating is observed
    if len(vis):
        last = vis.iloc[-1]
        for r in S.VISIT_RATINGS:
            out[f"vis_last_{r}"] = float(last[r]) if not pd.isna(last[r]) else math.nan
        out["vis_last_mean_rating"] = float(means.iloc[-1])
        out["vis_months_since_last"] = (snap - last[S.VISIT_DATE]).days / MONTH
    else:
        for r in S.VISIT_RATINGS:
            out[f"vis_last_{r}"] = math.nan
        out["vis_last_mean_rating"] = math.nan
        out["vis_months_since_last"] = math.nan
    in24 = (vis[S.VISIT_DATE] >= start(24)).to_numpy()
    m24 = means[in24].dropna()
    out["vis_mean_rating_24m"] = _mean(list(m24))
    earlier = means[in24].iloc[:-1].dropna() if in24.any() else pd.Series(dtype=float)
    out["vis_rating_trend"] = (
        out["vis_last_mean_rating"] - _mean(list(earlier)) if in24.any() else math.nan
    )
    v24 = vis[in24]
    n24 = len(v24)
    out["vis_n_visits_24m"] = float(n24)
    out["vis_lavish_office_24m"] = float(v24[S.LAVISH_OFFICE].any()) if n24 else math.nan
    out["vis_licence_checked_share_24m"] = float(v24[S.LICENCE_CHECKED].mean()) if n24 else math.nan
    r24 = ratings[in24]
    flags = (
        v24[S.LAVISH_OFFICE].astype(int)
        + (~v24[S.LICENCE_CHECKED]).astype(int)
        + (r24[S.DISCLOSURE] <= 2).astype(int)
        + (r24 == 1).any(axis=1).astype(int)
    )
    out["vis_red_flags_24m"] = float(flags.sum())

    # ------------------------------------------------------ registration
    out["reg_industry"] = cust[S.INDUSTRY]
    out["reg_region"] = cust[S.REGION]
    out["reg_legal_form"] = cust[S.LEGAL_FORM]
    out["reg_firm_age_years"] = (snap - cust[S.FOUNDED_DATE]).days / 365.25
    out["reg_paid_in_ratio"] = _ratio(facts[S.PAID_IN_CAPITAL], cust[S.REGISTERED_CAPITAL], 10)
    out["reg_business_scope_ok"] = facts[S.BUSINESS_SCOPE_OK]
    out["reg_address_verified"] = facts[S.ADDRESS_VERIFIED]
    out["reg_payment_terms_days"] = facts[S.PAYMENT_TERMS_DAYS]
    out["reg_log_credit_limit"] = math.log1p(max(limit, 0.0)) if not math.isnan(limit) else math.nan

    # ------------------------------------------------------------ events
    ev = tables.events[(tables.events[S.CUSTOMER_ID] == cid) & (tables.events[S.EVENT_DATE] < snap)]
    ev = ev.sort_values([S.EVENT_DATE, S.EVENT_ID])
    kind = ev[S.EVENT_TYPE].astype(str)
    for k, stem in (("lawsuit", "evt_lawsuits"), ("tax_arrears", "evt_tax_arrears")):
        for w in (12, 24):
            out[f"{stem}_{w}m"] = float(((kind == k) & (ev[S.EVENT_DATE] >= start(w))).sum())
    bank = ev.loc[kind == "bank_reference", S.VALUE]
    out["evt_bank_ref_last"] = float(bank.iloc[-1]) if len(bank) else math.nan
    trade = ev.loc[(kind == "trade_reference") & (ev[S.EVENT_DATE] >= start(24)), S.VALUE]
    out["evt_trade_ref_mean_24m"] = _mean(list(trade))
    agency = ev.loc[kind == "agency_rating", S.VALUE]
    out["evt_agency_rating_last"] = float(agency.iloc[-1]) if len(agency) else math.nan
    coll = (
        ev.loc[kind == "collateral_pledged", S.VALUE].sum()
        - ev.loc[kind == "collateral_released", S.VALUE].sum()
    )
    out["evt_collateral_value"] = max(round(float(coll), 2), 0.0)
    out["evt_collateral_to_limit"] = _ratio(out["evt_collateral_value"], limit, 100.0, True)
    return out


# ------------------------------------------------ portfolio family (issue 9), one (segment, S) at a time
def reference_portfolio(tables: Tables, customer_id: str, snapshot: pd.Timestamp) -> dict[str, float]:
    """The ptf_* features of one row, by plain filtering (slow, obviously point in time)."""
    S_ = pd.Timestamp(snapshot)
    cust = tables.customers.set_index(tables.customers[S.CUSTOMER_ID].astype(str))
    me = cust.loc[customer_id]
    inv = tables.invoices.merge(tables.customers[[S.CUSTOMER_ID, S.INDUSTRY, S.REGION]], on=S.CUSTOMER_ID)
    out: dict[str, float] = {}
    for level, col in (("all", None), ("ind", S.INDUSTRY), ("rgn", S.REGION)):
        seg_inv = inv if col is None else inv[inv[col].astype(str) == str(me[col])]
        seg_cust = cust if col is None else cust[cust[col].astype(str) == str(me[col])]

        def overdue_share(at: pd.Timestamp, over_days: int = 0, seg_inv: pd.DataFrame = seg_inv) -> float:
            open_ = seg_inv[(seg_inv[S.INVOICE_DATE] < at) & (seg_inv[S.PAID_DATE].isna() | (seg_inv[S.PAID_DATE] >= at))]
            total = float(open_[S.AMOUNT].sum())
            late = open_[(at - open_[S.DUE_DATE]).dt.days > over_days] if over_days else open_[open_[S.DUE_DATE] < at]
            return float(late[S.AMOUNT].sum()) / total if total > 0 else math.nan

        out[f"ptf_{level}_overdue_share"] = overdue_share(S_)
        out[f"ptf_{level}_overdue90_share"] = overdue_share(S_, 90)
        for m in (3, 6):
            out[f"ptf_{level}_overdue_share_chg_{m}m"] = overdue_share(S_) - overdue_share(S_ - pd.DateOffset(months=m))
        lo = S_ - pd.DateOffset(months=12)
        first = {str(k): v for k, v in tables.defaults.groupby(S.CUSTOMER_ID)[S.DEFAULT_DATE].min().items()}
        fd = pd.Series([first.get(c, pd.NaT) for c in seg_cust.index], index=seg_cust.index, dtype="datetime64[ns]")
        at_risk = (seg_cust[S.ONBOARDED_DATE] < S_) & (fd.isna() | (fd >= lo))
        new = at_risk & fd.notna() & (fd < S_)
        out[f"ptf_{level}_default_rate_12m"] = float(new.sum()) / float(at_risk.sum()) if at_risk.sum() else math.nan
        settled = seg_inv[(seg_inv[S.PAID_DATE] >= lo) & (seg_inv[S.PAID_DATE] < S_)]
        dpd = (settled[S.PAID_DATE] - settled[S.DUE_DATE]).dt.days.clip(lower=0)
        out[f"ptf_{level}_mean_dpd_12m"] = float(dpd.mean()) if len(dpd) else math.nan
    return out
