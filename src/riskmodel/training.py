"""Fit the 5C baseline and the learned models on one split and compare them (pure: no file I/O).

``train_and_compare`` is shared by the six-table path (``riskmodel train``) and
the flat-table path (``riskmodel train --table``); tracking, reports and the
bundle export consume its :class:`TrainResult`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from riskmodel.config import BaselineSettings, Settings
from riskmodel.data import schemas
from riskmodel.evaluation import metrics as mx
from riskmodel.evaluation.calibration import calibration_by_decile, calibration_by_grade
from riskmodel.evaluation.delong import delong_roc_test
from riskmodel.evaluation.results import ModelResult, TrainResult  # defined with the evaluation that reads them
from riskmodel.exceptions import ConfigError
from riskmodel.features import names as N
from riskmodel.models._validation import to_categorical
from riskmodel.models.factory import (
    BASELINE_NAME,
    BASELINE_NAMES,
    LIGHTGBM_NAME,
    REFIT_NAME,
    make_baselines,
    make_models,
)
from riskmodel.models.gbm import MonotoneViolationError

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ helpers
def _labels(y: Any, what: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{what}: labels must be 1-d, got shape {arr.shape}")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        raise ValueError(f"{what}: labels must be 0/1, found {np.unique(arr[bad])[:5].tolist()}")
    if len(np.unique(arr)) < 2:
        raise ValueError(
            f"{what}: labels hold one class only ({np.unique(arr).tolist()}); need defaults and non-defaults"
        )
    return arr.astype(np.int64)


def _prepare(X: pd.DataFrame, levels: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Strings become categoricals (with the training levels when given); keys and label are dropped."""
    drop = [c for c in X.columns if c in schemas.MODEL_KEYS or schemas.is_label(c)]
    X = X.drop(columns=drop)
    out = {}
    for c in X.columns:
        s = X[c]
        if levels is not None and c in levels:
            out[c] = to_categorical(s, levels[c])
        elif pd.api.types.is_string_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
            out[c] = s.astype("category")
        else:
            out[c] = s
    return pd.DataFrame(out, index=X.index)


def _feature_lists(X: pd.DataFrame, settings: Settings) -> tuple[list[str], list[str], dict[str, list[str]]]:
    excluded = set(settings.models.exclude_features)
    unknown = sorted(excluded - set(X.columns))
    if unknown:
        log.warning("models.exclude_features names columns not in the data: %s", unknown)
    features = [c for c in X.columns if c not in excluded]
    if not features:
        raise ConfigError("no features left to train on after models.exclude_features")
    categorical = [c for c in features if isinstance(X[c].dtype, pd.CategoricalDtype)]
    levels = {c: list(X[c].cat.categories) for c in categorical}
    return features, categorical, levels


def _check_baseline(baseline: BaselineSettings, X: pd.DataFrame) -> None:
    missing = [i.feature for i in baseline.indicators if i.feature not in X.columns]
    if missing:
        raise ConfigError(
            f"the 5C baseline names feature(s) that are not in the data: {missing}; "
            f"available columns start with {list(X.columns)[:12]}"
        )


def _estimators(settings: Settings, baseline: BaselineSettings | None, features: list[str],
                categorical: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if baseline is not None:
        out.update(make_baselines(baseline))
    out.update(make_models(settings.models, features, categorical))
    return out


def _fit(name: str, est: Any, X: pd.DataFrame, y: np.ndarray, features: list[str],
         groups: np.ndarray | None = None) -> Any:
    t0 = time.perf_counter()
    if name in BASELINE_NAMES:
        est.fit(X, y)
    elif groups is not None:
        est.fit(X[features], y, groups=groups)
    else:
        est.fit(X[features], y)
    log.info("fitted %s on %d rows in %.1f s", name, len(y), time.perf_counter() - t0)
    return est


def _predict(name: str, est: Any, X: pd.DataFrame, features: list[str]) -> np.ndarray:
    return est.predict_proba(X if name in BASELINE_NAMES else X[features])[:, 1]


def evaluate_predictions(y: np.ndarray, p_test: np.ndarray, p_train: np.ndarray, settings: Settings,
                         groups: np.ndarray | None = None) -> dict[str, Any]:
    """The metrics block of one model: auc, auc_ci95, gini, ks, brier, log_loss, psi.

    ``groups`` (the customer of each test row) makes the AUC interval a cluster
    bootstrap over customers.
    """
    ev = settings.evaluation
    auc = mx.auc(y, p_test)
    lo, hi = mx.bootstrap_auc_ci(y, p_test, n=ev.bootstrap_samples, level=ev.ci_level, seed=ev.seed,
                                 groups=groups)
    return {
        "auc": auc,
        "auc_ci95": [lo, hi],
        "gini": 2 * auc - 1,
        "ks": mx.ks(y, p_test),
        "brier": mx.brier(y, p_test),
        "log_loss": mx.log_loss(y, p_test),
        "psi": mx.psi(p_train, p_test, bins=ev.psi_bins),
    }


def choose_champion(models: dict[str, ModelResult], vs_baseline: dict[str, dict[str, float]],
                    alpha: float) -> str:
    """Best learned model by test AUC among those that beat the experts' card (AUC higher, DeLong p < alpha).

    The gate is the experts' card, the rating in use today: a learned model
    replaces it only when it ranks customers significantly better.  The
    refitted card is a reference (how much of a lead is information rather than
    method), never a candidate, and not the gate: a learned model that beats the
    experts' card but not the refitted one is still better than what the
    credit department uses, and the report says how much of its lead the
    refitted card already reaches.  Without a baseline, the best learned model;
    when no learned model beats the card, the card.
    """
    learned = [n for n in models if n not in BASELINE_NAMES]
    if not learned:
        return BASELINE_NAME
    if BASELINE_NAME not in models:
        return max(learned, key=lambda n: models[n].metrics["auc"])
    winners = [n for n in learned if vs_baseline[n]["auc_diff"] > 0 and vs_baseline[n]["p_value"] < alpha]
    if winners:
        return max(winners, key=lambda n: models[n].metrics["auc"])
    log.info("champion: no learned model beats the 5C baseline at p < %.3g (%s)", alpha,
             ", ".join(f"{n}: AUC diff {vs_baseline[n]['auc_diff']:+.4f}, p = {vs_baseline[n]['p_value']:.3g}"
                       for n in learned))
    return BASELINE_NAME


def compare_to(reference: str, names: list[str], y: np.ndarray, p_test: dict[str, np.ndarray],
               settings: Settings, groups: np.ndarray | None,
               oracle: dict[str, float] | None) -> dict[str, dict[str, Any]]:
    """Each model's AUC lift over ``reference`` on the same rows.

    Per model: auc_diff (model - reference), auc_diff_ci95 (paired percentile
    bootstrap, whole customers resampled when ``groups`` is given), p_value and
    z (two-sided DeLong, clustered by ``groups``) and, with the oracle,
    oracle_gap_closed = (AUC_model - AUC_ref) / (AUC_oracle - AUC_ref).
    """
    ev = settings.evaluation
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        a1, a0, z, p = delong_roc_test(y, p_test[name], p_test[reference], groups=groups)
        lo, hi = mx.bootstrap_auc_diff_ci(y, p_test[name], p_test[reference], n=ev.bootstrap_samples,
                                          level=ev.ci_level, seed=ev.seed, groups=groups)
        out[name] = {"auc_diff": a1 - a0, "auc_diff_ci95": [lo, hi], "p_value": p, "z": z}
        if oracle is not None and oracle["auc"] != a0:
            out[name]["oracle_gap_closed"] = (a1 - a0) / (oracle["auc"] - a0)
    return out


def repeated_customers(test_keys: pd.DataFrame | None) -> np.ndarray | None:
    """The customer of each test row when customers repeat (several snapshots each), else None.

    Intervals and tests are then clustered by customer: rows of one customer are
    correlated and must not count as independent evidence.
    """
    if test_keys is None or schemas.CUSTOMER_ID not in test_keys.columns:
        return None
    ids = test_keys[schemas.CUSTOMER_ID].astype(str).to_numpy()
    return ids if pd.Series(ids).duplicated().any() else None


def _assemble(
    fitted: dict[str, Any],
    p_train: dict[str, np.ndarray],
    p_test: dict[str, np.ndarray],
    *,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    settings: Settings,
    data_info: dict[str, Any],
    features: list[str],
    levels: dict[str, list[str]],
    test_keys: pd.DataFrame | None,
    oracle_test: np.ndarray | None,
    extra: dict[str, Any],
    psi_override: dict[str, float] | None = None,
) -> TrainResult:
    groups = repeated_customers(test_keys)
    if groups is not None:
        data_info = {**data_info, "clustered_by": schemas.CUSTOMER_ID}
    results: dict[str, ModelResult] = {}
    for name, est in fitted.items():
        metrics = evaluate_predictions(y_test, p_test[name], p_train[name], settings, groups=groups)
        if psi_override is not None:
            metrics["psi"] = psi_override[name]
        results[name] = ModelResult(
            name=name,
            estimator=est,
            pd_train=p_train[name],
            pd_test=p_test[name],
            metrics=metrics,
            calibration_decile=calibration_by_decile(y_test, p_test[name], settings.evaluation.calibration_bins),
            calibration_grade=calibration_by_grade(y_test, p_test[name], settings.master_scale),
        )
    oracle = None
    if oracle_test is not None:
        o = np.asarray(oracle_test, dtype=float)
        if o.shape != y_test.shape:
            raise ValueError(f"oracle_test has {o.shape[0]} values for {len(y_test)} test rows")
        oracle = {"auc": mx.auc(y_test, o), "brier": mx.brier(y_test, o)}
    vs: dict[str, dict[str, Any]] = {}
    vs_refit: dict[str, dict[str, Any]] = {}
    gate: dict[str, Any] = {}
    if BASELINE_NAME in results:
        others = [n for n in results if n != BASELINE_NAME]
        vs = compare_to(BASELINE_NAME, others, y_test, p_test, settings, groups, oracle)
        gate = {"against": BASELINE_NAME, "alpha": settings.evaluation.champion_alpha}
    if REFIT_NAME in results:
        learned = [n for n in results if n not in BASELINE_NAMES]
        vs_refit = compare_to(REFIT_NAME, learned, y_test, p_test, settings, groups, oracle)
    champion = choose_champion(results, vs, settings.evaluation.champion_alpha)
    if test_keys is not None:
        if len(test_keys) != len(y_test):
            raise ValueError(f"test_keys has {len(test_keys)} rows for {len(y_test)} test rows")
        frame = test_keys.reset_index(drop=True).copy()
    else:
        frame = pd.DataFrame(index=range(len(y_test)))
    frame[schemas.label_name(settings.snapshots.horizon_months)] = y_test
    if oracle_test is not None:
        frame["pd_oracle"] = np.asarray(oracle_test, dtype=float)
    for name in results:
        frame[f"pd_{name}"] = p_test[name]
    # the PDs carry a declared philosophy only after the central-tendency step: its test decides (issue 9)
    phil = settings.calibration.philosophy if "central_tendency" in extra else None
    extra = {**extra, "backtest": champion_backtest(champion, p_test[champion], y_test, X_test, frame, settings,
                                                    phil)}
    data = {"source": "table", "split": "out_of_time", **data_info,
            "n_train": int(len(y_train)), "n_test": int(len(y_test)),
            "test_positive_rate": float(np.mean(y_test))}
    return TrainResult(
        data=data, features=features, categorical_levels=levels, models=results, vs_baseline=vs,
        champion=champion, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
        test_frame=frame, oracle=oracle, extra=extra, vs_refitted=vs_refit, champion_gate=gate,
    )


def champion_backtest(name: str, p: np.ndarray, y: np.ndarray, X: pd.DataFrame, keys: pd.DataFrame,
                      settings: Settings, philosophy: str | None = None) -> dict[str, Any]:
    """The backtest of one model's test PDs (issue 9), by grade, by cohort and by industry where known.

    ``philosophy`` is the declared rating philosophy of the PDs (None: no central-tendency step).
    """
    from riskmodel.evaluation.backtest import run_backtest

    snap = keys[schemas.SNAPSHOT_DATE].to_numpy() if schemas.SNAPSHOT_DATE in keys.columns else None
    industry = X[N.REG_INDUSTRY].to_numpy() if N.REG_INDUSTRY in X.columns else None
    phil = philosophy
    bt = run_backtest(y, p, settings.master_scale, settings.calibration.asset_correlation, snapshot=snap,
                      industry=industry, bins=settings.evaluation.calibration_bins, philosophy=phil)
    return {"model": name, "philosophy": phil or "none (the learned model's own level)", **bt}


def _monotone_report(fitted: dict[str, Any]) -> dict[str, dict[str, bool]]:
    return {n: dict(e.monotone_check_) for n, e in fitted.items() if hasattr(e, "monotone_check_")}


def _joint_monotone_report(fitted: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: dict(e.joint_monotone_check_) for n, e in fitted.items() if hasattr(e, "joint_monotone_check_")}



# ------------------------------------------------ model selection (issue 13)
def select_models(settings: Settings, X: pd.DataFrame, y: np.ndarray, features: list[str], categorical: list[str],
                  *, snapshots: Any = None, groups: np.ndarray | None = None,
                  budget_seconds: float | None = None) -> tuple[Settings, dict[str, Any] | None]:
    """Settings whose LightGBM shape was chosen on the training rows (``model_selection``), and the evidence.

    With ``snapshots`` (the six-table path) the validation rows are the last training
    snapshots (:func:`riskmodel.models.selection.time_validation_split`); otherwise, or
    when the snapshots are too few, ``inner_folds`` stratified folds grouped by ``groups``.
    Unchanged settings and None when selection is off or LightGBM is not enabled.
    """
    from riskmodel.models.selection import fold_splits, select_lightgbm, time_validation_split

    ms = settings.model_selection
    if not ms.enabled or LIGHTGBM_NAME not in settings.models.enabled:
        return settings, None
    template = make_models(settings.models, features, categorical)[LIGHTGBM_NAME]
    mono = dict(template.monotone or {})
    splits = None
    if snapshots is not None:
        try:
            fit, val = time_validation_split(snapshots, ms.validation_snapshots, settings.snapshots.horizon_months)
            d = pd.to_datetime(pd.Series(np.asarray(snapshots)))
            splits = [(fit, val)]
            validation = (f"out of time: the last {ms.validation_snapshots} training snapshots "
                          f"({d.iloc[val].min().date()}..{d.iloc[val].max().date()}, {len(val):,} rows) validate a fit on "
                          f"the snapshots whose {settings.snapshots.horizon_months}-month label ends by then "
                          f"({len(fit):,} rows)")
        except ValueError as err:
            log.warning("model selection: %s; using %d folds of the training rows instead", err, ms.inner_folds)
    if splits is None:
        splits = fold_splits(y, ms.inner_folds, settings.models.seed, groups)
        validation = (f"{ms.inner_folds} stratified folds of the training rows"
                      + (" (a group's rows in one fold)" if groups is not None else ""))
    sel = select_lightgbm(
        X[features], y, dict(settings.models.lightgbm.params), splits, ms,
        monotone=[int(mono.get(c, 0)) for c in features], monotone_method=template.monotone_method,
        seed=settings.models.seed, n_jobs=1, budget_seconds=budget_seconds,
        validation=validation,
    )
    lg = settings.models.lightgbm
    chosen = lg.model_copy(update={"params": {**lg.params, **sel.params}})
    return settings.model_copy(update={"models": settings.models.model_copy(update={"lightgbm": chosen})}), sel.to_dict()


def _fit_selected(name: str, est: Any, X: pd.DataFrame, y: np.ndarray, features: list[str],
                  groups: np.ndarray | None, fallback: dict[str, Any], selection: dict[str, Any] | None) -> Any:
    """Fit; a selected LightGBM shape that breaks a monotone constraint gives way to the default shape."""
    try:
        return _fit(name, est, X, y, features, groups)
    except MonotoneViolationError as err:
        if selection is None or name != LIGHTGBM_NAME or selection["chosen"]["label"] == "default":
            raise
        log.warning("the selected LightGBM shape broke a monotone constraint (%s); the default shape is used", err)
        selection["fallback"] = f"default shape: the chosen one broke a monotone constraint ({err})"
        selection["chosen"] = selection["default"]
        return _fit(name, clone(fallback[name]), X, y, features, groups)


def _oof_train(fitted: dict[str, Any], X: pd.DataFrame, y: np.ndarray, features: list[str], settings: Settings,
               groups: np.ndarray | None) -> dict[str, np.ndarray]:
    """Training PDs for the in-sample diagnostics (issue 13.3): out of fold for the learned models.

    A learned model's in-sample PDs are flattered where it memorises repeated customers
    (LightGBM on the simulated base: in-sample AUC 0.943 against the oracle's 0.888), so
    the training references (PSI, drift) use out-of-fold PDs, customers kept together.
    The two baselines keep their in-sample PDs: the experts' card learns nothing but its
    PD map and the refitted card a few non-negative weights, and a card's fold copies
    would give its few distinct scores different PDs (a spurious PSI).
    """
    return {n: (_predict(n, e, X, features) if n in BASELINE_NAMES else
                out_of_fold_pd(n, e, X, y, features, settings.models.calibration_folds, settings.models.seed, groups))
            for n, e in fitted.items()}


# --------------------------------------------------------------- public API
def train_and_compare(
    X_train: pd.DataFrame,
    y_train: Any,
    X_test: pd.DataFrame,
    y_test: Any,
    settings: Settings,
    baseline: BaselineSettings | None,
    data_info: dict[str, Any],
    test_keys: pd.DataFrame | None = None,
    oracle_test: np.ndarray | None = None,
    train_groups: np.ndarray | None = None,
    train_snapshots: Any = None,
) -> TrainResult:
    """Fit the 5C baseline (if given) and every enabled model on the training rows; compare on the test rows.

    Parameters
    ----------
    X_train, X_test : feature frames (key and label columns, if present, are dropped;
        string columns become categoricals with the training levels).
    y_train, y_test : 0/1 labels (1 = default).
    settings : the run's settings (models, evaluation, master_scale).
    baseline : the 5C expert scorecard, or None for no baseline row.
    data_info : the metrics.json "data" block so far (source, split, ...); row counts and
        the test default rate are added.
    test_keys : optional keys of the test rows (e.g. customer_id, snapshot_date) for ``test_frame``.
    oracle_test : optional true PDs of the test rows (simulated data).
    train_groups : optional customer of each training row; calibration folds keep a customer together.
    train_snapshots : optional snapshot date of each training row: model selection then validates
        on the last training snapshots (out of time), else on grouped folds.

    With ``model_selection.enabled`` LightGBM's shape is chosen on the training rows first
    (``extra["model_selection"]``).  ``pd_train`` holds out-of-fold PDs (customers kept
    together), so the training references (PSI, drift) are not flattered by memorised rows
    (``extra["oof_pd"]``, ``extra["train_pd"] == "out_of_fold"``).

    Returns
    -------
    TrainResult; its champion is the best learned model by test AUC when it beats the
    baseline (positive AUC difference, two-sided DeLong p < evaluation.champion_alpha),
    else ``baseline_5c``; without a baseline, the best learned model.
    """
    y_tr = _labels(y_train, "training labels")
    y_te = _labels(y_test, "test labels")
    X_tr = _prepare(X_train)
    features, categorical, levels = _feature_lists(X_tr, settings)
    X_te = _prepare(X_test, levels)
    missing = [c for c in features if c not in X_te.columns]
    if missing:
        raise ValueError(f"the test rows lack feature columns {missing[:10]}")
    if baseline is not None:
        _check_baseline(baseline, X_tr)
    fitted = {}
    p_test: dict[str, np.ndarray] = {}
    chosen, selection = select_models(settings, X_tr, y_tr, features, categorical, snapshots=train_snapshots,
                                      groups=train_groups)
    default = _estimators(settings, baseline, features, categorical)
    for name, est in _estimators(chosen, baseline, features, categorical).items():
        fitted[name] = _fit_selected(name, est, X_tr, y_tr, features, train_groups, default, selection)
        p_test[name] = _predict(name, fitted[name], X_te, features)
    p_train = _oof_train(fitted, X_tr, y_tr, features, settings, train_groups)
    extra: dict[str, Any] = {"monotone_check": _monotone_report(fitted),
                             "joint_monotone_check": _joint_monotone_report(fitted),
                             "oof_pd": {n: p for n, p in p_train.items() if n not in BASELINE_NAMES},
                             "train_pd": "out_of_fold"}
    if selection is not None:
        extra["model_selection"] = selection
    return _assemble(
        fitted, p_train, p_test, X_train=X_tr, y_train=y_tr, X_test=X_te, y_test=y_te, settings=settings,
        data_info=data_info, features=features, levels=levels, test_keys=test_keys, oracle_test=oracle_test,
        extra=extra,
    )


def cross_validate_and_compare(
    X: pd.DataFrame,
    y: Any,
    settings: Settings,
    baseline: BaselineSettings | None,
    data_info: dict[str, Any],
    folds: int | None = None,
    keys: pd.DataFrame | None = None,
    groups: np.ndarray | None = None,
) -> TrainResult:
    """Stratified k-fold comparison: metrics on all out-of-fold rows, final models refitted on all rows.

    The folds are shuffled with ``settings.models.seed``.  In the result,
    ``pd_test`` holds the out-of-fold PDs of every row, ``pd_train`` the
    refitted model's in-sample PDs, ``X_train`` and
    ``X_test`` are both the whole table, and the estimators are the refits (for
    export).  ``extra["folds"]`` gives each row's fold.  The PSI is the mean
    over folds of the PSI between a fold model's scores on its training rows
    and on its held-out rows (the cross-validated analogue of train vs test).

    ``groups`` (e.g. the customer of each row of a panel table) keeps a group's
    rows in one fold (StratifiedGroupKFold) and in one calibration fold.  With
    ``model_selection.enabled`` LightGBM's shape is chosen inside every outer
    fold on that fold's training rows only (nested: the out-of-fold figures
    stay honest), and once more on all rows for the refit;
    ``extra["model_selection"]`` is the refit's search, with ``"folds"`` the
    shape chosen in each outer fold.  ``pd_train`` is the out-of-fold PD
    (issue 13.3): the training reference of drift monitoring is not flattered.
    """
    k = int(folds if folds is not None else settings.split.cv_folds)
    y_all = _labels(y, "labels")
    if k < 2:
        raise ValueError(f"folds must be >= 2, got {k}")
    if np.bincount(y_all).min() < k:
        raise ValueError(f"{k}-fold cross-validation needs at least {k} rows of each class")
    X_all = _prepare(X)
    features, categorical, levels = _feature_lists(X_all, settings)
    if baseline is not None:
        _check_baseline(baseline, X_all)
    templates = _estimators(settings, baseline, features, categorical)
    oof = {name: np.full(len(y_all), np.nan) for name in templates}
    fold_of = np.full(len(y_all), -1)
    psi_fold: dict[str, list[float]] = {name: [] for name in templates}
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(y_all):
            raise ValueError(f"groups has {len(groups)} values for {len(y_all)} rows")
        if len(np.unique(groups)) < k:
            raise ValueError(f"{k}-fold grouped cross-validation needs at least {k} groups, got {len(np.unique(groups))}")
        splitter: Any = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=settings.models.seed)
    else:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=settings.models.seed)
    budget = settings.model_selection.budget_seconds / (k + 1)  # k nested searches and the refit's
    fold_shapes: list[dict[str, Any]] = []
    for f, (tr, te) in enumerate(splitter.split(np.zeros(len(y_all)), y_all, groups)):
        fold_of[te] = f
        X_tr, X_te = X_all.iloc[tr], X_all.iloc[te]
        g_tr = None if groups is None else groups[tr]
        chosen, selection = select_models(settings, X_tr, y_all[tr], features, categorical, groups=g_tr,
                                          budget_seconds=budget)
        fold_templates = _estimators(chosen, baseline, features, categorical) if selection else templates
        if selection:
            fold_shapes.append({"fold": f, "chosen": selection["chosen"], "default": selection["default"]})
        for name, template in fold_templates.items():
            est = _fit_selected(name, clone(template), X_tr, y_all[tr], features, g_tr, templates, selection)
            oof[name][te] = _predict(name, est, X_te, features)
            p_fit = _predict(name, est, X_tr, features)
            psi_fold[name].append(mx.psi(p_fit, oof[name][te], bins=settings.evaluation.psi_bins))
        log.info("cross-validation: fold %d of %d done", f + 1, k)
    chosen, selection = select_models(settings, X_all, y_all, features, categorical, groups=groups,
                                      budget_seconds=budget)
    final = _estimators(chosen, baseline, features, categorical) if selection else templates
    fitted = {name: _fit_selected(name, clone(t), X_all, y_all, features, groups, templates, selection)
              for name, t in final.items()}
    info = {"split": f"cv{k}", **data_info}
    if groups is not None:
        info["grouped_folds"] = True
    psi_folds = {name: float(np.mean(v)) for name, v in psi_fold.items()}
    extra: dict[str, Any] = {"monotone_check": _monotone_report(fitted),
                             "joint_monotone_check": _joint_monotone_report(fitted), "folds": fold_of,
                             "oof_pd": oof, "train_pd": "out_of_fold"}
    if selection is not None:
        extra["model_selection"] = {**selection, "folds": fold_shapes}
    return _assemble(
        fitted, oof, oof, X_train=X_all, y_train=y_all, X_test=X_all, y_test=y_all, settings=settings,
        data_info=info, features=features, levels=levels, test_keys=keys, oracle_test=None,
        extra=extra, psi_override=psi_folds,
    )


# ------------------------------------------- central-tendency calibration (issue 9)
def out_of_fold_pd(name: str, estimator: Any, X: pd.DataFrame, y: np.ndarray, features: list[str], folds: int,
                   seed: int, groups: np.ndarray | None = None) -> np.ndarray:
    """Out-of-fold PDs of a fitted model's template on its training rows (customers kept together)."""
    from sklearn.model_selection import StratifiedGroupKFold

    oof = np.full(len(y), np.nan)
    if groups is not None:
        splits = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, y, groups)
    else:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, y)
    for tr, te in splits:
        est = clone(estimator)
        if "on_violation" in est.get_params():  # fold models only give PDs; the shipped model is the one checked
            est.set_params(on_violation="warn")
        est = _fit(name, est, X.iloc[tr], y[tr], features,
                   None if groups is None or name == BASELINE_NAME else groups[tr])
        oof[te] = _predict(name, est, X.iloc[te], features)
    return oof


@dataclass
class ImmatureRows:
    """Modelling-table rows of the cohorts whose horizon has not ended at the training cut.

    Their outcomes are unknown, but the defaults they recorded before the cut are
    evidence of the current default rate (``models.central_tendency``).
    """

    X: pd.DataFrame  # the model's feature columns, as the training rows have them
    snapshots: np.ndarray
    cov: pd.DataFrame  # portfolio covariates
    first_default: np.ndarray  # the customer's first default date, NaT when none


def calibrate_levels(result: TrainResult, settings: Settings, train_snapshots: Any, cov_train: pd.DataFrame,
                     cov_test: pd.DataFrame, train_groups: np.ndarray | None = None,
                     oof: dict[str, np.ndarray] | None = None, first_default_train: np.ndarray | None = None,
                     immature: ImmatureRows | None = None) -> TrainResult:
    """Set every model's PD level for ``calibration.philosophy`` from the training outcomes only.

    Each model's out-of-fold training PDs (and, for point in time, the portfolio
    covariates) fit a :class:`~riskmodel.models.central_tendency.CentralTendency`
    as of ``split.train_end + horizon`` (every training label has matured then,
    none of the test period is read); the test PDs and the training references
    (out of fold, so drift compares like with like) are then recalibrated and
    every metric, test and the champion gate are recomputed.
    ``extra["central_tendency"]`` maps model -> the fitted calibration (dict);
    ``extra["oof_pd"]`` model -> the out-of-fold training PDs (``oof`` reuses them).
    With ``first_default_train`` (and ``immature``, the rows between the training and
    the test period, scored out of sample), the defaults recorded before the cut in
    cohorts not yet matured inform the level too (``calibration.develop_immature``).
    """
    from riskmodel.models.central_tendency import fit_central_tendency

    cal = settings.calibration
    h = settings.snapshots.horizon_months
    as_of = (pd.Timestamp(settings.split.train_end) + pd.DateOffset(months=h)).date()
    p_train, p_test, cts = {}, {}, {}
    oofs = dict(oof or {})
    for name, m in result.models.items():
        if name not in oofs:
            oofs[name] = out_of_fold_pd(name, m.estimator, result.X_train, result.y_train, result.features,
                                        settings.models.calibration_folds, settings.models.seed, train_groups)
        if first_default_train is not None and immature is not None and len(immature.X):
            p_imm = _predict(name, m.estimator, _prepare(immature.X, result.categorical_levels), result.features)
            ct = fit_central_tendency(
                np.concatenate([oofs[name], p_imm]),
                np.concatenate([result.y_train, np.zeros(len(p_imm), dtype=int)]),  # immature labels are never read
                np.concatenate([np.asarray(train_snapshots), immature.snapshots]),
                pd.concat([cov_train, immature.cov], ignore_index=True), cal, h, as_of,
                first_default=np.concatenate([first_default_train, immature.first_default]))
        else:
            ct = fit_central_tendency(oofs[name], result.y_train, train_snapshots, cov_train, cal, h, as_of,
                                      first_default=first_default_train)
        p_train[name] = ct.apply(oofs[name], cov_train)
        p_test[name] = ct.apply(m.pd_test, cov_test)
        cts[name] = ct.to_dict()
        log.info("central tendency of %s: %s", name, ct.describe())
    frame = result.test_frame
    keys = [c for c in (schemas.CUSTOMER_ID, schemas.SNAPSHOT_DATE) if c in frame.columns]
    uncal = {n: {"mean_pd_test": float(np.mean(m.pd_test)), "auc": m.metrics["auc"]} for n, m in result.models.items()}
    extra = {k: v for k, v in result.extra.items() if k not in ("backtest", "oof_pd")}
    extra.update(central_tendency=cts, before_calibration=uncal, oof_pd=oofs)
    return _assemble(
        {n: m.estimator for n, m in result.models.items()}, p_train, p_test, X_train=result.X_train,
        y_train=result.y_train, X_test=result.X_test, y_test=result.y_test, settings=settings,
        data_info={k: v for k, v in result.data.items() if k not in ("n_train", "n_test", "test_positive_rate")},
        features=result.features, levels=result.categorical_levels,
        test_keys=frame[keys].reset_index(drop=True) if keys else None,
        oracle_test=frame["pd_oracle"].to_numpy() if "pd_oracle" in frame.columns else None, extra=extra,
    )
