"""Quality benchmark: riskmodel's models against side-by-side references on real and simulated data.

Run from the project root::

    python benchmarks/quality.py                      # German, Taiwan and the simulated base
    python benchmarks/quality.py --datasets german    # one dataset

Real data (../shared/datasets): the flat-table path (riskmodel.flat) with
stratified 5-fold cross-validation (seed = models.seed), the shipped 5C
baseline files, and in the same run, under the same folds, two references:
scikit-learn's HistGradientBoostingClassifier (default hyperparameters) and a
standardised logistic regression (one-hot categoricals).  AUC is reported
pooled over all out-of-fold rows and as the mean of the per-fold AUCs (the
references quoted in the datasets' README are per-fold means: German 0.786 /
0.786, Taiwan 0.782 / 0.733 for gradient boosting / logistic).

PD level (``--datasets calibration``, issue 9): on the default base (``data/raw`` of
``riskmodel demo``, else simulated), for each test snapshot the predicted and
observed default rate, per-grade traffic lights and AUC, before (the learned
models' own level) and after (central tendency for point in time and through the
cycle fitted at the training cut, and point in time recalibrated each quarter from
what that quarter knows: the matured cohorts only, and with the immature cohorts'
recorded defaults developed to the horizon, ``calibration.develop_immature``).

Simulated base: the default base of params.yaml, out-of-time split from
params.yaml; each model's test AUC, DeLong p-value against the 5C baseline and
the share of the baseline-to-oracle AUC gap it closes.

Model selection (issue 13): riskmodel's rows are with params.yaml's ``model_selection``
(nested inside the folds on the real tables; validated on the last training snapshots on
the simulated base); ``lightgbm_default_shape`` is the shipped shape (300 trees, depth 4,
15 leaves) on the same folds / split, and each dataset prints the shapes chosen against
the default with their validation AUC, TreeSHAP cost and reasons throughput.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from riskmodel.config import load_settings  # noqa: E402
from riskmodel.data import schemas  # noqa: E402
from riskmodel.evaluation.delong import delong_roc_test  # noqa: E402
from riskmodel.flat import load_baseline_file, load_flat_table  # noqa: E402
from riskmodel.training import cross_validate_and_compare, train_and_compare  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
FLAT = {
    "german": dict(path=DATASETS / "german_credit" / "german_credit.csv", target="default", id_col=None,
                   baseline=ROOT / "configs" / "baselines" / "german_credit.yaml", refs=(0.786, 0.786)),
    "taiwan": dict(path=DATASETS / "taiwan_credit_card_default" / "default_of_credit_card_clients.csv",
                   target="default_payment_next_month", id_col="ID",
                   baseline=ROOT / "configs" / "baselines" / "taiwan_credit.yaml", refs=(0.782, 0.733)),
}


def reference_models(X: pd.DataFrame) -> dict[str, object]:
    """HistGradientBoosting (defaults, native categoricals) and standardised one-hot logistic regression."""
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in X.columns if c not in cats]
    lr = make_pipeline(
        ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
        ]),
        LogisticRegression(max_iter=5000),
    )
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    return {"ref_hist_gbm": hgb, "ref_logistic": lr}


def fold_aucs(y: np.ndarray, p: np.ndarray, folds: np.ndarray) -> float:
    return float(np.mean([roc_auc_score(y[folds == f], p[folds == f]) for f in np.unique(folds)]))


# ------------------------------------------------ chosen shape vs default shape (issue 13)
def _reasons_rate(est, X: pd.DataFrame, n: int = 2000) -> float:
    """Rows per second of TreeSHAP reasons (``contributions``) on up to ``n`` rows (best of 3)."""
    rows = X.iloc[:n]
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        est.contributions(rows)
        best = min(best, time.perf_counter() - t0)
    return len(rows) / best


def default_shape_settings(settings):
    """The same settings with model selection off: the shipped default shape."""
    return settings.model_copy(update={"model_selection": settings.model_selection.model_copy(update={"enabled": False})})


def print_selection(res, label: str) -> None:
    """The search's evidence: chosen vs default shape on the validation rows, per search."""
    sel = res.extra.get("model_selection")
    if not sel:
        print(f"{label}: model selection off (params.yaml model_selection.enabled)")
        return
    def shape(c):
        p = c["params"]
        return (f"{c['trees']} trees, {p.get('num_leaves')} leaves, depth {p.get('max_depth')}, min child "
                f"{p.get('min_child_samples')}, lambda {float(p.get('reg_lambda') or 0):.3g}, lr {p.get('learning_rate')}")
    print(f"{label}: model selection on {sel['validation']}; {sel['n_candidates']} candidates in {sel['seconds']:.0f} s "
          f"(budget {sel['budget_seconds']:.0f} s)")
    for f in sel.get("folds", []):
        print(f"  outer fold {f['fold']}: chosen {shape(f['chosen'])} (validation AUC {f['chosen']['val_auc']:.4f}, "
              f"TreeSHAP cost {f['chosen']['cost']:.0f}) vs default {f['default']['val_auc']:.4f} (cost {f['default']['cost']:.0f})")
    print(f"  refit: chosen {shape(sel['chosen'])} (validation AUC {sel['chosen']['val_auc']:.4f}, cost "
          f"{sel['chosen']['cost']:.0f}) vs default {sel['default']['val_auc']:.4f} (cost {sel['default']['cost']:.0f})"
          + (f"; {sel['fallback']}" if sel.get("fallback") else ""))


def run_flat(name: str, settings) -> pd.DataFrame:
    spec = FLAT[name]
    X, y, _, _ = load_flat_table(spec["path"], spec["target"], id_col=spec["id_col"])
    baseline = load_baseline_file(spec["baseline"])
    t0 = time.perf_counter()
    res = cross_validate_and_compare(X, y, settings, baseline, {"source": "table"}, folds=5)
    seconds = time.perf_counter() - t0
    folds = res.extra["folds"]
    rows = []
    for m, r in res.models.items():
        rows.append({"dataset": name, "model": m, "auc_pooled": r.metrics["auc"],
                     "auc_fold_mean": fold_aucs(y, r.pd_test, folds), "brier": r.metrics["brier"],
                     "p_vs_baseline": res.vs_baseline.get(m, {}).get("p_value", np.nan)})
    for ref_name, model in reference_models(X).items():
        oof = np.empty(len(y))
        for f in np.unique(folds):
            tr, te = folds != f, folds == f
            oof[te] = model.fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
        p_base = res.models["baseline_5c"].pd_test
        rows.append({"dataset": name, "model": ref_name, "auc_pooled": roc_auc_score(y, oof),
                     "auc_fold_mean": fold_aucs(y, oof, folds), "brier": float(np.mean((oof - y) ** 2)),
                     "p_vs_baseline": delong_roc_test(y, oof, p_base)[3]})
    # the shipped default shape on the same folds (selection off), and the reasons throughput of both refits
    dres = cross_validate_and_compare(X, y, default_shape_settings(settings).model_copy(update={
        "models": settings.models.model_copy(update={"enabled": ("lightgbm",)})}), None, {"source": "table"}, folds=5)
    assert (dres.extra["folds"] == folds).all(), "the default shape must see the same folds"
    d = dres.models["lightgbm"]
    rows.append({"dataset": name, "model": "lightgbm_default_shape", "auc_pooled": d.metrics["auc"],
                 "auc_fold_mean": fold_aucs(y, d.pd_test, folds), "brier": d.metrics["brier"],
                 "p_vs_baseline": delong_roc_test(y, d.pd_test, res.models["baseline_5c"].pd_test)[3]})
    rates = {"chosen": _reasons_rate(res.models["lightgbm"].estimator, res.X_test),
             "default": _reasons_rate(d.estimator, dres.X_test)}
    out = pd.DataFrame(rows)
    best_ours = out[out.model.isin(["lightgbm", "logistic_scorecard"])]["auc_fold_mean"].max()
    best_ref = out[out.model.str.startswith("ref_")]["auc_fold_mean"].max()
    print(f"\n== {name}: {len(y)} rows, default rate {y.mean():.3f}, stratified 5-fold CV "
          f"(riskmodel part {seconds:.0f} s); champion: {res.champion}")
    print(out.drop(columns="dataset").to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"README references (fold mean): gradient boosting {spec['refs'][0]:.3f}, logistic {spec['refs'][1]:.3f}")
    print_selection(res, name)
    print(f"  reasons throughput (TreeSHAP contributions, rows/s, refits on all rows, best of 3 on a shared host): "
          f"chosen {rates['chosen']:,.0f}, default shape {rates['default']:,.0f}")
    verdict = "MET" if best_ours >= best_ref else "NOT MET"
    print(f"target best riskmodel >= best reference (fold mean): {best_ours:.4f} vs {best_ref:.4f} -> {verdict}")
    return out


def run_simulated(settings) -> pd.DataFrame:
    from riskmodel.data.simulator import simulate
    from riskmodel.features.build import build_modelling_table

    sim_s = settings.simulation
    t0 = time.perf_counter()
    sim = simulate(sim_s.n_customers, sim_s.start_date, sim_s.years, sim_s.seed)
    table = build_modelling_table(sim.tables, settings.snapshots, settings.features)
    t_data = time.perf_counter() - t0
    keys = list(schemas.MODEL_KEYS)
    table = table.merge(sim.oracle, on=keys, how="left")
    d = table[schemas.SNAPSHOT_DATE].dt.date
    sp = settings.split
    tr = table[(d >= sp.train_start) & (d <= sp.train_end)]
    te = table[(d >= sp.test_start) & (d <= sp.test_end)]
    feats = [c for c in table.columns if c not in (*keys, schemas.LABEL, "true_pd_12m") and not c.startswith("ptf_")]
    t0 = time.perf_counter()
    groups = tr[schemas.CUSTOMER_ID].astype(str).to_numpy()
    res = train_and_compare(tr[feats], tr[schemas.LABEL], te[feats], te[schemas.LABEL], settings, settings.baseline,
                            {"source": "simulated", "split": "out_of_time"}, test_keys=te[keys],
                            oracle_test=te["true_pd_12m"].to_numpy(), train_groups=groups,
                            train_snapshots=tr[schemas.SNAPSHOT_DATE].to_numpy())
    seconds = time.perf_counter() - t0
    dset = default_shape_settings(settings)
    dres = train_and_compare(tr[feats], tr[schemas.LABEL], te[feats], te[schemas.LABEL], dset.model_copy(update={
        "models": settings.models.model_copy(update={"enabled": ("lightgbm",)})}), None,
        {"source": "simulated", "split": "out_of_time"}, test_keys=te[keys], train_groups=groups)
    y_te = te[schemas.LABEL].to_numpy()
    rows = []
    base_auc = res.models["baseline_5c"].metrics["auc"]
    o_auc = res.oracle["auc"]
    for m, r in res.models.items():
        cmp = res.vs_baseline.get(m, {})
        rows.append({"model": m, "auc": r.metrics["auc"], "ci95": "[{:.3f}, {:.3f}]".format(*r.metrics["auc_ci95"]),
                     "brier": r.metrics["brier"], "p_vs_baseline": cmp.get("p_value", np.nan),
                     "gap_closed": (r.metrics["auc"] - base_auc) / (o_auc - base_auc)})
    for ref_name, model in reference_models(tr[feats]).items():
        p = model.fit(tr[feats], tr[schemas.LABEL]).predict_proba(te[feats])[:, 1]
        a = roc_auc_score(y_te, p)
        rows.append({"model": ref_name, "auc": a, "ci95": "", "brier": float(np.mean((p - y_te) ** 2)),
                     "p_vs_baseline": delong_roc_test(y_te, p, res.models["baseline_5c"].pd_test)[3],
                     "gap_closed": (a - base_auc) / (o_auc - base_auc)})
    d = dres.models["lightgbm"]
    rows.append({"model": "lightgbm_default_shape", "auc": d.metrics["auc"],
                 "ci95": "[{:.3f}, {:.3f}]".format(*d.metrics["auc_ci95"]), "brier": d.metrics["brier"],
                 "p_vs_baseline": delong_roc_test(y_te, d.pd_test, res.models["baseline_5c"].pd_test,
                                                  groups=te[schemas.CUSTOMER_ID].astype(str).to_numpy())[3],
                 "gap_closed": (d.metrics["auc"] - base_auc) / (o_auc - base_auc)})
    rows.append({"model": "oracle (true PD)", "auc": o_auc, "ci95": "", "brier": res.oracle["brier"],
                 "p_vs_baseline": np.nan, "gap_closed": 1.0})
    out = pd.DataFrame(rows)
    print(f"\n== simulated base: {sim_s.n_customers} customers, seed {sim_s.seed}; train {len(tr)} rows "
          f"({sp.train_start}..{sp.train_end}), test {len(te)} rows ({sp.test_start}..{sp.test_end}), "
          f"test default rate {y_te.mean():.3f}; data {t_data:.0f} s, riskmodel part {seconds:.0f} s")
    print(out.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"champion: {res.champion}; monotone check: {res.extra['monotone_check']}; joint monotone check held: "
          f"{all(r['ok'] for m in res.extra['joint_monotone_check'].values() for r in m.values())}")
    print_selection(res, "simulated")
    rates = {"chosen": _reasons_rate(res.models["lightgbm"].estimator, res.X_test),
             "default": _reasons_rate(d.estimator, dres.X_test)}
    print(f"  reasons throughput (TreeSHAP contributions, rows/s, best of 3 on a shared host): chosen "
          f"{rates['chosen']:,.0f}, default shape {rates['default']:,.0f}")
    ours = max(res.models[m].metrics["auc"] for m in ("lightgbm", "logistic_scorecard") if m in res.models)
    refs = out[out.model.str.startswith("ref_")]["auc"].max()
    print(f"target best riskmodel >= best reference (test AUC): {ours:.4f} vs {refs:.4f} -> "
          f"{'MET' if ours >= refs else 'NOT MET'}")
    return out


# ------------------------------------------------ PD level before and after (issue 9)
def _lights(y: np.ndarray, p: np.ndarray, settings) -> str:
    from riskmodel.evaluation.backtest import backtest_table
    from riskmodel.grades import assign_grades

    names = [g.grade for g in settings.master_scale.grades]
    t = backtest_table(y, p, assign_grades(p, settings.master_scale), settings.calibration.asset_correlation, names)
    return " ".join(f"{g}:{t.loc[g, 'light'][0].upper()}{t.loc[g, 'light_jeffreys'][0].upper()}"
                    for g in t.index if t.loc[g, "n"] > 0)


def run_calibration(settings, data_dir: Path | None = None) -> pd.DataFrame:
    """Each 2023 test snapshot: predicted vs observed default rate, per-grade lights, AUC; before and after.

    before: today's method (the learned models' own level, no portfolio indicators);
    after: the central-tendency step for point in time (the default) and through the cycle, fitted on the
    out-of-fold training PDs and the training outcomes only; and point in time recalibrated each quarter
    (``riskmodel recalibrate --as-of S`` for every test snapshot S: cohorts matured by S only).
    """
    from riskmodel.data.simulator import simulate
    from riskmodel.data.validation import load_and_validate
    from riskmodel.evaluation import metrics as mx
    from riskmodel.features.build import build_modelling_table
    from riskmodel.features.labels import first_default_dates
    from riskmodel.models.central_tendency import fit_central_tendency, matured
    from riskmodel.pipeline import _split_out_of_time
    from riskmodel.training import ImmatureRows, _predict, _prepare, calibrate_levels, out_of_fold_pd

    raw = data_dir or settings.resolve(settings.paths.raw_dir)
    t0 = time.perf_counter()
    if (Path(raw) / "customers.parquet").is_file() or (Path(raw) / "customers.csv").is_file():
        tables, source = load_and_validate(Path(raw)), str(raw)
    else:
        sim_s = settings.simulation
        tables, source = simulate(sim_s.n_customers, sim_s.start_date, sim_s.years, sim_s.seed).tables, "simulated"
    table = build_modelling_table(tables, settings.snapshots, settings.features)
    train, test = _split_out_of_time(table, settings)
    keys = list(schemas.MODEL_KEYS)
    ptf = [c for c in table.columns if c.startswith("ptf_")]
    feats = [c for c in table.columns if c not in (*keys, schemas.LABEL) and c not in ptf]
    groups = train[schemas.CUSTOMER_ID].astype(str).to_numpy()
    before = train_and_compare(train[feats], train[schemas.LABEL], test[feats], test[schemas.LABEL], settings,
                               settings.baseline, {"source": source}, test_keys=test[keys].reset_index(drop=True),
                               train_groups=groups)
    oof = {n: out_of_fold_pd(n, m.estimator, before.X_train, before.y_train, before.features,
                             settings.models.calibration_folds, settings.models.seed, groups)
           for n, m in before.models.items()}
    variants = {"before": before}
    first_all = first_default_dates(tables, table)
    d_tab = pd.to_datetime(table[schemas.SNAPSHOT_DATE])
    h = settings.snapshots.horizon_months
    cut = pd.Timestamp(settings.split.train_end) + pd.DateOffset(months=h)
    in_gap = ((d_tab > pd.Timestamp(settings.split.train_end)) & (d_tab < cut)).to_numpy()
    gap = table[in_gap].reset_index(drop=True)
    immature = ImmatureRows(gap[feats], gap[schemas.SNAPSHOT_DATE].to_numpy(), gap[ptf], first_all[in_gap])
    first_train = first_default_dates(tables, train)
    for phil in ("point_in_time", "through_the_cycle"):
        s2 = settings.model_copy(update={"calibration": settings.calibration.model_copy(update={"philosophy": phil})})
        variants[phil] = calibrate_levels(before, s2, train[schemas.SNAPSHOT_DATE].to_numpy(),
                                          train[ptf].reset_index(drop=True), test[ptf].reset_index(drop=True),
                                          groups, oof=oof, first_default_train=first_train, immature=immature)
    # point in time recalibrated at each test snapshot S from the cohorts matured by S (the before champion's ranking)
    champ = before.champion
    est = before.models[champ].estimator
    d = table[schemas.SNAPSHOT_DATE]
    X_all = _prepare(table[feats], before.categorical_levels)
    p_all = _predict(champ, est, X_all, before.features)
    in_train = ((d >= pd.Timestamp(settings.split.train_start)) & (d <= pd.Timestamp(settings.split.train_end))).to_numpy()
    p_all[in_train] = oof[champ]  # training rows out of fold
    rolling = np.full(len(test), np.nan)
    rolling_matured = np.full(len(test), np.nan)
    t_snap = test[schemas.SNAPSHOT_DATE].to_numpy()
    te_rows = np.flatnonzero(~in_train & (d >= pd.Timestamp(settings.split.test_start)).to_numpy())
    no_dev = settings.calibration.model_copy(update={"develop_immature": False})
    for s in np.unique(t_snap):
        m = t_snap == s
        seen = (d < pd.Timestamp(s)).to_numpy()  # every earlier cohort; the fit reads only what s knows
        y_seen = np.where(matured(d.to_numpy(), s, h), table[schemas.LABEL].to_numpy(), 0)[seen]
        for target, cal in ((rolling, settings.calibration), (rolling_matured, no_dev)):
            ct = fit_central_tendency(p_all[seen], y_seen, d.to_numpy()[seen],
                                      table.loc[seen, ptf].reset_index(drop=True), cal, h, s,
                                      first_default=np.where(first_all[seen] < np.datetime64(pd.Timestamp(s).date()),
                                                             first_all[seen], np.datetime64("NaT")))
            target[m] = ct.apply(p_all[te_rows][m], test.loc[m, ptf].reset_index(drop=True))
    y = test[schemas.LABEL].to_numpy()
    cols = {"before": before.models[before.champion].pd_test,
            "pit": variants["point_in_time"].models[variants["point_in_time"].champion].pd_test,
            "ttc": variants["through_the_cycle"].models[variants["through_the_cycle"].champion].pd_test,
            "pit_quarterly_matured": rolling_matured, "pit_quarterly": rolling}
    print(f"\n== PD level on the test period ({source}; {time.perf_counter() - t0:.0f} s): champion before "
          f"{before.champion}, point in time {variants['point_in_time'].champion}, through the cycle "
          f"{variants['through_the_cycle'].champion}; asset correlation {settings.calibration.asset_correlation}")
    rows = []
    for s in np.unique(t_snap):
        m = t_snap == s
        row = {"snapshot": str(pd.Timestamp(s).date()), "n": int(m.sum()), "observed": y[m].mean()}
        for k, p in cols.items():
            row[f"pd_{k}"] = p[m].mean()
            row[f"rel_{k}"] = p[m].mean() / y[m].mean() - 1
            row[f"auc_{k}"] = mx.auc(y[m], p[m])
        rows.append(row)
    out = pd.DataFrame(rows)
    print(out.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    ok = {k: bool((out[f"rel_{k}"].abs() <= 0.2).all()) for k in cols}
    print("mean PD within 20% of observed on every test snapshot: " + ", ".join(f"{k} {v}" for k, v in ok.items()))
    for k, p in cols.items():
        lo, hi = mx.bootstrap_auc_ci(y, p, n=settings.evaluation.bootstrap_samples, level=0.95,
                                     seed=settings.evaluation.seed, groups=test[schemas.CUSTOMER_ID].astype(str).to_numpy())
        print(f"{k:>14}: AUC {mx.auc(y, p):.4f} [{lo:.4f}, {hi:.4f}]; per-grade lights (G/Y/R, correlation-adjusted then Jeffreys, "
              f"all 2023 cohorts pooled) {_lights(y, p, settings)}")
        for s in np.unique(t_snap):
            m = t_snap == s
            print(f"{'':>16}{pd.Timestamp(s).date()}: {_lights(y[m], p[m], settings)}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="german,taiwan,simulated,calibration")
    ap.add_argument("--params", default=None, help="params.yaml (default: the project's)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    settings = load_settings(args.params)
    for name in args.datasets.split(","):
        if name in FLAT:
            if not FLAT[name]["path"].is_file():
                print(f"\n== {name}: skipped, {FLAT[name]['path']} not found")
                continue
            run_flat(name, settings)
        elif name == "simulated":
            run_simulated(settings)
        elif name == "calibration":
            run_calibration(settings)
        else:
            ap.error(f"unknown dataset {name!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
