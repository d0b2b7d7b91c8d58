"""How believable is the simulated book? The figures DESIGN.md section 8 and issue 8 ask for.

Usage::

    python benchmarks/realism.py --data data/raw                 # book figures of a base on disk
    python benchmarks/realism.py --customers 1500 --seed 42      # simulate in memory first
    python benchmarks/realism.py --data data/raw --visits-delong  # + LightGBM with vs without visits

Prints one JSON document:

* ``late_share``, ``mean_days_late``: paid invoices paid after their due date, and
  the mean days late over all paid invoices (early = 0);
* ``write_off_rate_by_year``: the measure of the section 8 band (write-offs about
  1-2% of receivables).  Write-off of year Y = the amount of the invoices of the
  customers whose default date falls in Y that was never recovered (amount -
  paid_amount; still open: the whole amount) plus short payments settled in Y
  (amount - paid_amount of performing customers' invoices), divided by the amount
  invoiced in Y.  ``normal_years`` are the years before the downturn (the first
  60% of the period, see ``SimParams.downturn_start``);
* ``default_rate_by_year``: customers performing on 1 January that default in the year;
* ``performing_material_dpd90_share``: at every quarter end of the snapshot grid
  (params.yaml ``snapshots``), among customer-quarters of the performing population
  (onboarded before, not in default), the share with a material amount more than
  90 days past due (``default_definition``); plus the customers concerned;
* ``visits``: mean of each rating, the mean pairwise correlation between ratings,
  and the share of each rating's variance explained by the visitor (one-way ANOVA
  R^2 of the rating on visitor_id);
* with ``--visits-delong``: the modelling table for params' grid, LightGBM with the
  params' settings trained on the training period with and without the ``vis_``
  features, test AUCs, and the clustered DeLong test of the difference
  (:func:`riskmodel.evaluation.delong.delong_test`, clusters = customers); and the
  test AUC of ``pay_overdue_90p``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from riskmodel.config import load_settings
from riskmodel.data import schemas as S
from riskmodel.data.default_definition import Materiality, performing_past_due
from riskmodel.data.sim_checks import default_rate_by_year, visit_figures, write_off_rate, write_off_rate_by_year
from riskmodel.data.tables import Tables

NORMAL_YEARS = (2019, 2020, 2021)  # before the downturn of the default base (starts in the 4th year)


def book_figures(t: Tables, settings) -> dict[str, object]:  # noqa: ANN001
    inv = t.invoices
    paid = inv[inv[S.PAID_DATE].notna()]
    late_days = (paid[S.PAID_DATE] - paid[S.DUE_DATE]).dt.days
    dd = settings.default_definition
    mat = Materiality(dd.dpd_days, dd.materiality_absolute, dd.materiality_relative)
    grid = pd.date_range(settings.snapshots.start, settings.snapshots.end, freq="QE")
    perf = performing_past_due(inv, t.defaults, t.customers, grid, mat)
    return {
        "customers": len(t.customers),
        "invoices": len(inv),
        "late_share": round(float((late_days > 0).mean()), 4),
        "mean_days_late": round(float(late_days.clip(lower=0).mean()), 2),
        "write_off_rate_by_year": write_off_rate_by_year(t),
        "write_off_rate_normal_years": round(write_off_rate(t, NORMAL_YEARS), 4),
        "default_rate_by_year": default_rate_by_year(t),
        "default_kinds": {str(k): int(v) for k, v in t.defaults[S.KIND].value_counts().items()},
        "performing_material_dpd90_share": round(float(perf["material"].mean()), 5),
        "performing_material_dpd90_customers": int(perf.loc[perf["material"], S.CUSTOMER_ID].nunique()),
        "visits": visit_figures(t.visits),
    }


def visits_delong(t: Tables, settings, data_dir: Path | None) -> dict[str, object]:  # noqa: ANN001
    """LightGBM with vs without the visit features, out of time, clustered DeLong."""
    from sklearn.metrics import roc_auc_score

    from riskmodel.evaluation.delong import delong_roc_test
    from riskmodel.features.build import build_modelling_table
    from riskmodel.models.factory import LIGHTGBM_NAME, make_models

    table = build_modelling_table(t, settings.snapshots, settings.features)
    sp = settings.split
    snap = table[S.SNAPSHOT_DATE]
    train = table[(snap >= pd.Timestamp(sp.train_start)) & (snap <= pd.Timestamp(sp.train_end))]
    test = table[(snap >= pd.Timestamp(sp.test_start)) & (snap <= pd.Timestamp(sp.test_end))]
    keys = (S.CUSTOMER_ID, S.SNAPSHOT_DATE, S.LABEL)
    # the model's own feature set: params' exclusions (e.g. the fin_leverage twin), and the ptf_ segment
    # indicators only when calibration.portfolio_in_model says they are model features
    excluded = set(settings.models.exclude_features)
    feats = [c for c in table.columns if c not in keys and c not in excluded
             and (settings.calibration.portfolio_in_model or not c.startswith("ptf_"))]
    no_vis = [c for c in feats if not c.startswith("vis_")]
    y_tr, y_te = train[S.LABEL].to_numpy(int), test[S.LABEL].to_numpy(int)
    preds = {}
    groups = train[S.CUSTOMER_ID].astype(str).to_numpy()
    for name, cols in (("with_visits", feats), ("without_visits", no_vis)):
        cats = [c for c in cols if isinstance(table[c].dtype, pd.CategoricalDtype)]
        model = make_models(settings.models, cols, cats)[LIGHTGBM_NAME]
        model.fit(train[cols], y_tr, groups=groups)
        preds[name] = model.predict_proba(test[cols])[:, 1]
    auc1, auc2, z, p_value = delong_roc_test(y_te, preds["with_visits"], preds["without_visits"],
                                             groups=test[S.CUSTOMER_ID].astype(str).to_numpy())
    over = test["pay_overdue_90p"].fillna(0).to_numpy()
    return {
        "test_rows": len(test), "test_defaults": int(y_te.sum()),
        "auc_with_visits": round(auc1, 4),
        "auc_without_visits": round(auc2, 4),
        "delong_clustered": {"z": round(z, 3), "p_value": float(f"{p_value:.3g}")},
        "auc_pay_overdue_90p_test": round(float(roc_auc_score(y_te, over)), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="folder with the six tables (default: simulate in memory)")
    ap.add_argument("--customers", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--params", type=Path)
    ap.add_argument("--visits-delong", action="store_true")
    a = ap.parse_args(argv)
    settings = load_settings(a.params)
    if a.data is not None:
        from riskmodel.data.validation import load_and_validate

        tables = load_and_validate(a.data)
    else:
        from riskmodel.data.simulator import simulate

        sim = settings.simulation
        tables = simulate(a.customers, sim.start_date, sim.years, a.seed,
                          materiality=settings.default_definition.materiality()).tables
    out = book_figures(tables, settings)
    if a.visits_delong:
        out["visits_delong"] = visits_delong(tables, settings, a.data)
    json.dump(out, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
