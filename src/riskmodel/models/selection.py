"""Budgeted model selection for LightGBM: early stopping and a small random search (issue 13).

The search is scikit-learn's :class:`~sklearn.model_selection.ParameterSampler` (seeded
random search) over the few hyperparameters that matter (leaves, depth, minimum child
samples, L2 regularisation, learning rate), with LightGBM's own early stopping choosing
the number of trees on validation rows that the caller chooses so that they respect time
(six-table path: :func:`time_validation_split`) or folds (flat path:
:func:`fold_splits`).  Random search rather than a model-based sampler: within a budget of
a dozen trials a TPE sampler (Optuna) would still be in its random start-up phase, and
scikit-learn adds no dependency.

The default shape (params.yaml models.lightgbm.params, trees fixed) is always evaluated
first, and it stays unless a candidate beats its validation AUC by more than
``min_gain_se`` standard errors of that AUC (Hanley & McNeil): on small tables the
winner of a dozen noisy validation AUCs is mostly luck (German credit, nested 5-fold
CV: choosing the best validation AUC outright cost 0.017 AUC against the default shape,
half a standard error 0.003, one standard error nothing).
Explanation speed is part of the objective: a shape's TreeSHAP cost (sum over the trees
of leaves x depth squared, TreeSHAP's complexity) must stay below ``max_cost_ratio``
times the default shape's, and among the candidates that clear the bar the *cheapest*
within ``auc_tolerance`` of the best wins.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import loguniform
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import ParameterSampler, StratifiedGroupKFold, StratifiedKFold

from riskmodel.config import ModelSelectionSettings

log = logging.getLogger(__name__)

#: the hyperparameters the search may change; the others keep their params.yaml values
SEARCHED = ("num_leaves", "max_depth", "min_child_samples", "reg_lambda", "learning_rate")


@dataclass
class Candidate:
    """One evaluated shape: params (n_estimators = trees kept), mean validation AUC and TreeSHAP cost."""

    label: str
    params: dict[str, Any]
    val_auc: float
    trees: int
    cost: float
    seconds: float
    eligible: bool = True


@dataclass
class SelectionResult:
    """The chosen LightGBM params and the evidence: every candidate, the default, timings."""

    params: dict[str, Any]
    chosen: Candidate
    default: Candidate
    candidates: list[Candidate]
    validation: str
    seconds: float
    budget_seconds: float
    throughput: dict[str, float] = field(default_factory=dict)
    auc_se: float = float("nan")
    needed_auc: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (metrics.json, report, MLflow)."""
        def cand(c: Candidate) -> dict[str, Any]:
            d = asdict(c)
            d["params"] = {k: d["params"].get(k) for k in (*SEARCHED, "n_estimators")}
            return d
        return {"validation": self.validation, "seconds": round(self.seconds, 1),
                "budget_seconds": self.budget_seconds, "n_candidates": len(self.candidates),
                "chosen": cand(self.chosen), "default": cand(self.default),
                "reasons_rows_per_s": dict(self.throughput),
                "default_auc_se": self.auc_se, "needed_auc": self.needed_auc,
                "candidates": [cand(c) for c in self.candidates]}


def tree_shap_cost(booster: lgb.Booster, num_iteration: int | None = None) -> float:
    """Sum over the trees of leaves x depth^2: TreeSHAP's cost per explained row, up to a constant."""
    dump = booster.dump_model(num_iteration=num_iteration if num_iteration else -1)

    def depth(node: dict[str, Any]) -> int:
        if "leaf_index" in node or "left_child" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    total = 0.0
    for tree in dump["tree_info"]:
        d = max(depth(tree["tree_structure"]), 1)
        total += float(tree["num_leaves"]) * d * d
    return total


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an AUC on ``n_pos`` defaults and ``n_neg`` non-defaults (Hanley & McNeil 1982)."""
    if n_pos < 1 or n_neg < 1:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))


def time_validation_split(snapshots: Any, n_validation: int, horizon_months: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, validation rows) of the training rows, out of time.

    The validation rows are the last ``n_validation`` distinct snapshots; the fit rows are
    the snapshots whose label window (snapshot + horizon) ends by the first validation
    snapshot, so no fitted label sees the validation period (the same rule as the main
    split).  Raises ValueError when either side is empty.
    """
    d = pd.to_datetime(pd.Series(np.asarray(snapshots))).reset_index(drop=True)
    dates = np.sort(d.unique())
    if len(dates) <= n_validation:
        raise ValueError(f"{len(dates)} training snapshot(s): too few to hold out the last {n_validation}")
    first_val = pd.Timestamp(dates[-n_validation])
    val = np.flatnonzero((d >= first_val).to_numpy())
    fit = np.flatnonzero((d + pd.DateOffset(months=horizon_months) <= first_val).to_numpy())
    if len(fit) == 0:
        raise ValueError(f"no training snapshot's {horizon_months}-month label window ends by {first_val.date()}")
    return fit, val


def fold_splits(y: np.ndarray, folds: int, seed: int, groups: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (grouped when ``groups`` is given) folds of the training rows, as (fit, validation) pairs."""
    if groups is not None:
        return list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, y, groups))
    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, y))


def _usable(splits: Sequence[tuple[np.ndarray, np.ndarray]], y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(f, v) for f, v in splits if len(np.unique(y[f])) == 2 and len(np.unique(y[v])) == 2]


def _evaluate(label: str, params: dict[str, Any], X: pd.DataFrame, y: np.ndarray,
              splits: Sequence[tuple[np.ndarray, np.ndarray]], early_stopping: int | None,
              keep: bool = False) -> tuple[Candidate, list[tuple[lgb.LGBMClassifier, np.ndarray, int]]]:
    t0 = time.perf_counter()
    aucs: list[float] = []
    trees: list[int] = []
    costs: list[float] = []
    kept: list[tuple[lgb.LGBMClassifier, np.ndarray, int]] = []
    for fit, val in splits:
        model = lgb.LGBMClassifier(**params, metric="auc")
        callbacks: list[Callable[..., Any]] = [lgb.early_stopping(early_stopping, verbose=False)] if early_stopping else []
        with warnings.catch_warnings():  # LightGBM 4.7 renames eval_set to eval_X/eval_y; we support >= 4.3
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            model.fit(X.iloc[fit], y[fit], eval_set=[(X.iloc[val], y[val])], callbacks=callbacks)
        best = int(model.best_iteration_ or 0) if early_stopping else 0
        n = best if best > 0 else int(model.booster_.current_iteration())
        p = model.predict_proba(X.iloc[val], raw_score=True, num_iteration=n)
        aucs.append(roc_auc_score(y[val], p))
        trees.append(n)
        if not costs:  # the cost of one split's booster stands for the shape (dump_model is slow)
            costs.append(tree_shap_cost(model.booster_, n))
        if keep:
            kept.append((model, val, n))
    n_trees = max(1, int(round(float(np.mean(trees)))))
    out = {**params, "n_estimators": n_trees}
    return Candidate(label, out, float(np.mean(aucs)), n_trees, float(np.mean(costs)),
                     time.perf_counter() - t0), kept


def _rows_per_second(model: lgb.LGBMClassifier, X: pd.DataFrame, n_trees: int, max_rows: int = 2000) -> float:
    rows = X.iloc[:max_rows]
    t0 = time.perf_counter()
    model.predict(rows, pred_contrib=True, num_iteration=n_trees)
    return len(rows) / max(time.perf_counter() - t0, 1e-9)


def select_lightgbm(
    X: pd.DataFrame,
    y: np.ndarray,
    base_params: dict[str, Any],
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    settings: ModelSelectionSettings,
    *,
    monotone: Sequence[int] | None = None,
    monotone_method: str = "basic",
    seed: int = 0,
    n_jobs: int = 1,
    budget_seconds: float | None = None,
    validation: str = "",
) -> SelectionResult:
    """Choose LightGBM's shape on ``splits`` of the training rows within ``budget_seconds``.

    ``base_params`` is the default shape (models.lightgbm.params); ``monotone`` the
    per-column constraints the final model will carry (the search keeps them, so the
    chosen shape is chosen under them).  Returns the chosen params (``n_estimators`` =
    the early-stopped number of trees, averaged over the splits) and every candidate.
    """
    y = np.asarray(y)
    splits = _usable(splits, y)
    if not splits:
        raise ValueError("model selection: no validation split holds both classes")
    budget = float(settings.budget_seconds if budget_seconds is None else budget_seconds)
    t_start = time.perf_counter()
    # one thread per search fit: the fits are small and LightGBM's OpenMP threads wait for each other on a
    # busy machine (a 300-tree fit on German credit took 0.24 s with one thread, 27 s with two on a loaded host)
    fixed = {"verbose": -1, **{k: v for k, v in base_params.items() if k != "monotone_constraints_method"},
             "random_state": seed, "n_jobs": n_jobs}
    if monotone is not None and any(monotone):
        fixed.update(monotone_constraints=list(monotone), monotone_constraints_method=monotone_method)
    default, kept_default = _evaluate("default", fixed, X, y, splits, None, keep=True)
    candidates = [default]
    space = {
        "num_leaves": list(settings.num_leaves), "max_depth": list(settings.max_depth),
        "min_child_samples": list(settings.min_child_samples),
        "reg_lambda": loguniform(*settings.reg_lambda), "learning_rate": list(settings.learning_rate),
    }
    trials: list[dict[str, Any]] = [{k: fixed[k] for k in SEARCHED if k in fixed}]  # default shape, early-stopped
    trials += [{k: (float(v) if isinstance(v, np.floating) else v) for k, v in t.items()}
               for t in ParameterSampler(space, n_iter=settings.n_trials, random_state=seed)]
    for i, trial in enumerate(trials):
        if time.perf_counter() - t_start > budget:
            log.info("model selection: budget of %.0f s spent after %d candidates", budget, len(candidates))
            break
        params = {**fixed, **trial, "n_estimators": settings.max_trees}
        if params.get("max_depth", -1) > 0:  # a depth-d tree has at most 2^d leaves
            params["num_leaves"] = int(min(params["num_leaves"], 2 ** params["max_depth"]))
        cand, _ = _evaluate("default, early-stopped" if i == 0 else f"trial {i}", params, X, y, splits,
                            settings.early_stopping_rounds)
        candidates.append(cand)
    limit = settings.max_cost_ratio * default.cost
    for c in candidates:
        c.eligible = c.cost <= limit
    n_pos = int(sum(y[v].sum() for _, v in splits))
    n_neg = int(sum(len(v) for _, v in splits)) - n_pos
    se = auc_standard_error(default.val_auc, n_pos, n_neg)
    needed = default.val_auc + settings.min_gain_se * se
    better = [c for c in candidates if c.eligible and c is not default and c.val_auc > needed]
    if better:
        best = max(c.val_auc for c in better)
        near = [c for c in better if c.val_auc >= best - settings.auc_tolerance]
        chosen = min(near, key=lambda c: (c.cost, -c.val_auc))
    else:
        chosen = default
    throughput: dict[str, float] = {}
    model, val, n = kept_default[0]
    throughput["default"] = _rows_per_second(model, X.iloc[val], n)
    if chosen is not default:
        fit, val = splits[0]
        m = lgb.LGBMClassifier(**chosen.params).fit(X.iloc[fit], y[fit])
        throughput["chosen"] = _rows_per_second(m, X.iloc[val], chosen.trees)
    else:
        throughput["chosen"] = throughput["default"]
    seconds = time.perf_counter() - t_start
    log.info("model selection (%s): %d candidates in %.0f s; chosen %s (validation AUC %.4f, %d trees, cost %.0f) "
             "vs default (%.4f, %d trees, cost %.0f)", validation, len(candidates), seconds, chosen.label,
             chosen.val_auc, chosen.trees, chosen.cost, default.val_auc, default.trees, default.cost)
    params = {k: v for k, v in chosen.params.items()
              if k not in ("verbose", "random_state", "n_jobs", "monotone_constraints", "monotone_constraints_method")}
    return SelectionResult(params=params, chosen=chosen, default=default, candidates=candidates,
                           validation=validation, seconds=seconds, budget_seconds=budget, throughput=throughput,
                           auc_se=se, needed_auc=needed)
