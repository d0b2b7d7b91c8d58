"""The model comparison report: one self-contained HTML page from a TrainResult.

Computation stays in :mod:`riskmodel.training` and presentation here: this
module only arranges the numbers the training run produced (plus a lift table
and the figures of :mod:`riskmodel.evaluation.plots`) into a jinja2 template,
with every image embedded as base64 PNG so the page travels as one file.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from riskmodel.config import Settings
from riskmodel.data.schemas import TRUE_PD
from riskmodel.evaluation import plots
from riskmodel.evaluation.metrics import lift_table
from riskmodel.evaluation.plots import model_label
from riskmodel.evaluation.results import TrainResult

log = logging.getLogger(__name__)

BASELINE = "baseline_5c"
REFIT = "baseline_5c_refit"
BASELINES = (BASELINE, REFIT)
CARD, REFIT_CARD = "the experts' 5C card", "the refitted 5C card"
SHAP_MODEL = "lightgbm"
SHAP_MAX_ROWS = 2000
PLOT_NAMES = ("roc", "calibration", "grades", "shap")

_DATA_LABELS = {
    "source": "Data source",
    "split": "Validation",
    "train_period": "Training period (snapshots)",
    "test_period": "Test period (snapshots)",
    "time_cutoff": "Test rows: time after",
    "n_train": "Training rows",
    "n_test": "Test rows",
    "train_positive_rate": "Training default rate",
    "test_positive_rate": "Test default rate",
}


# ------------------------------------------------------------------ formatting
def format_p(p: float | None) -> str:
    """A p-value as people read it: ``< 0.001``, ``0.023``, ``0.41``."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    if p < 0.01:
        return f"{p:.3f}"
    return f"{p:.2f}"


def _p_phrase(p: float) -> str:
    s = format_p(p)
    return f"p {s}" if s.startswith("<") else f"p = {s}"


def _num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return "n/a" if math.isnan(float(v)) else f"{float(v):.{digits}f}"
    return str(v)


def _pct(v: Any, digits: int = 2) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "n/a" if math.isnan(f) else f"{f:.{digits}%}"


# display formats and headers of the calibration and lift tables' columns
_PCT_COLS = {"observed_rate", "mean_pd", "pd_min", "pd_max", "max_pd", "default_rate", "cum_share_rows",
             "cum_share_defaults"}
_P_COLS = {"jeffreys_p_value", "binomial_p_value", "p_value"}
_RATIO_COLS = {"lift", "cum_lift"}
_ONE_DECIMAL_COLS = {"expected_defaults"}
_HEADERS = {
    "n": "rows", "bin": "band", "expected_defaults": "expected defaults", "observed_defaults": "observed defaults",
    "observed_rate": "observed rate", "mean_pd": "mean PD", "pd_min": "PD from", "pd_max": "PD to",
    "max_pd": "PD up to", "jeffreys_p_value": "Jeffreys p", "binomial_p_value": "binomial p",
    "default_rate": "default rate", "cum_share_rows": "cum. rows", "cum_share_defaults": "cum. defaults caught",
    "cum_lift": "cum. lift",
}


def _format_cell(col: str, v: Any) -> str:
    if v is None or (isinstance(v, (float, np.floating)) and math.isnan(float(v))):
        return ""
    if col in _P_COLS:
        return format_p(float(v))
    if col in _PCT_COLS:
        return _pct(v)
    if col in _RATIO_COLS:
        return _num(float(v), 2)
    if col in _ONE_DECIMAL_COLS:
        return _num(float(v), 1)
    if isinstance(v, (float, np.floating)) and float(v).is_integer() and col in ("n", "decile", "bin", "defaults"):
        return f"{int(v):,}"
    return _num(v)


def frame_to_table(df: pd.DataFrame, flag_p_below: float | None = None) -> dict[str, Any]:
    """A DataFrame as {"columns", "rows"} of display strings; rows where a test's p is small are flagged."""
    p_cols = [c for c in df.columns if c in _P_COLS]
    rows = []
    for _, r in df.astype(object).iterrows():  # object rows keep ints as ints
        cells = [_format_cell(str(c), r[c]) for c in df.columns]
        flagged = bool(
            flag_p_below is not None
            and any(pd.notna(r[c]) and float(r[c]) < flag_p_below for c in p_cols)
        )
        rows.append({"cells": cells, "flag": flagged})
    return {"columns": [_HEADERS.get(str(c), str(c).replace("_", " ")) for c in df.columns], "rows": rows}


# ------------------------------------------------------------------ content
def verdict(result: TrainResult, alpha: float, material: float = 0.02) -> list[str]:
    """Plain-language conclusions, one sentence each: the champion, the lifts, calibration, the oracle.

    ``material`` is the AUC lift below which a lead is called small, significant or not.
    """
    lines = [_champion_sentence(result, alpha, material), *_lift_sentences(result, alpha, material)]
    if result.champion in result.models and len(result.y_test):
        lines.append(_calibration_sentence(result))
    lines += _oracle_sentences(result)
    return lines


# ------------------------------------------------ the headline: lifts over both baselines
def _ci_phrase(cmp: Mapping[str, Any]) -> str:
    ci = cmp.get("auc_diff_ci95")
    if not ci:
        return ""
    return f" [{float(ci[0]):+.3f}, {float(ci[1]):+.3f}]"


def _lift_phrase(cmp: Mapping[str, Any]) -> str:
    """``+0.041 [+0.030, +0.052], p < 0.001``: a lift with its interval and DeLong p-value."""
    return f"{float(cmp['auc_diff']):+.3f}{_ci_phrase(cmp)}, {_p_phrase(float(cmp['p_value']))}"


def lead_strength(cmp: Mapping[str, Any], alpha: float, material: float) -> str:
    """How a lift reads: "material", "small" (significant, below ``material``), "not_significant" or "worse"."""
    diff, p = float(cmp["auc_diff"]), float(cmp["p_value"])
    if diff > 0 and p < alpha:
        return "material" if diff >= material else "small"
    if diff <= 0 and p < alpha:
        return "worse"
    return "not_significant"


def verdict_is_strong(result: TrainResult, alpha: float, material: float) -> bool:
    """True only when a learned champion beats the experts' card by a material, significant lift.

    The report's verdict box is green only then; a small or absent lead gets the neutral box.
    """
    if result.champion in BASELINES or BASELINE not in result.models:
        return result.champion not in BASELINES and BASELINE not in result.models
    cmp = result.vs_baseline.get(result.champion)
    return cmp is not None and lead_strength(cmp, alpha, material) == "material"


def _champion_sentence(result: TrainResult, alpha: float, material: float) -> str:
    champ = result.champion
    champ_auc = result.models[champ].metrics.get("auc") if champ in result.models else None
    if BASELINE not in result.models:
        return (f"No 5C baseline was given, so the champion is the model with the highest AUC: "
                f"{model_label(champ)} (AUC {_num(champ_auc)}).")
    if champ == BASELINE:
        return f"No learned model beats the 5C scorecard at p < {alpha:g}: the 5C scorecard stays the champion."
    head = (f"Champion: {model_label(champ)} (AUC {_num(champ_auc)}), which beats {CARD} at "
            f"p < {alpha:g}; registered with the alias 'champion'.")
    cmp = result.vs_baseline.get(champ)
    if cmp is not None and lead_strength(cmp, alpha, material) == "small":
        head += (f" Its lead is small ({float(cmp['auc_diff']):+.3f} AUC, below the {material:g} this report "
                 "calls material): the gain over the card in use is real but modest.")
    return head


def _lift_sentences(result: TrainResult, alpha: float, material: float) -> list[str]:
    """Each learned model against the experts' card and the refitted card, then what refitting alone gains."""
    out: list[str] = []
    base = result.models.get(BASELINE)
    auc_b = float(base.metrics["auc"]) if base is not None else float("nan")
    for name, cmp in result.vs_baseline.items():
        if name in BASELINES:
            continue
        who = model_label(name)
        auc = float(result.models[name].metrics["auc"]) if name in result.models else float("nan")
        detail = f"AUC {auc:.3f} vs {auc_b:.3f}, lift {_lift_phrase(cmp)}"
        strength = lead_strength(cmp, alpha, material)
        if strength == "material":
            text = f"{who} beats {CARD}: {detail}."
        elif strength == "small":
            text = (f"{who} ranks customers better than {CARD}, but the lead is small: {detail}; "
                    f"below the {material:g} AUC this report calls material.")
        elif strength == "worse":
            text = f"{who} ranks customers worse than {CARD}: {detail}."
        elif float(cmp["auc_diff"]) > 0:
            text = f"{who} ranks customers slightly better than {CARD}, but not significantly: {detail}."
        else:
            text = f"{who} does not beat {CARD}: {detail}."
        vr = result.vs_refitted.get(name)
        if vr is not None:
            text += " " + _refit_clause(vr, alpha, material)
        out.append(text)
    rc = result.vs_baseline.get(REFIT)
    if rc is not None and REFIT in result.models:
        auc_r = float(result.models[REFIT].metrics["auc"])
        text = ("The refitted 5C card (the experts' points, weights refitted by logistic regression on the "
                f"training rows) reaches AUC {auc_r:.3f}: {_lift_phrase(rc)} over {CARD}, the gain from "
                "re-weighting the evidence the experts already use")
        strength = lead_strength(rc, alpha, material)
        text += {"material": ".",
                 "small": " (significant but small).",
                 "not_significant": " (not significant: the experts' weights use their evidence about as well).",
                 "worse": " (negative: the experts' weights rank better out of time)."}[strength]
        best = max((n for n in result.vs_baseline if n not in BASELINES),
                   key=lambda n: float(result.vs_baseline[n]["auc_diff"]), default=None)
        if best is not None:
            lead, info = float(result.vs_baseline[best]["auc_diff"]), float(rc["auc_diff"])
            if lead > 0 and 0 <= info <= lead:
                text += (f" Of {model_label(best)}'s lead of {lead:+.3f}, {info / lead:.0%} is reached by "
                         f"re-weighting (information) and {1 - info / lead:.0%} comes from the learned method.")
            elif lead > 0 and info > lead:
                text += f" It ranks customers at least as well as {model_label(best)}: the learned method adds nothing."
        out.append(text)
    return out


def _refit_clause(cmp: Mapping[str, Any], alpha: float, material: float) -> str:
    strength = lead_strength(cmp, alpha, material)
    text = f"Against {REFIT_CARD}: lift {_lift_phrase(cmp)}"
    if strength == "material":
        return text + ", what the learned method adds beyond re-weighting the experts' evidence."
    if strength == "small":
        return text + ", so what the learned method adds beyond re-weighting the experts' evidence is small."
    if strength == "worse":
        return text + ": the refitted card ranks customers better."
    return text + ": not significant, re-weighting the experts' evidence does about as well."


def _oracle_sentences(result: TrainResult) -> list[str]:
    """The oracle's AUC and the share of the gap to it each learned model closes (simulated data only)."""
    if result.oracle is None:
        return []
    o_auc = float(result.oracle["auc"])
    if BASELINE not in result.models:
        return [f"The true probabilities of the simulation reach AUC {o_auc:.3f}."]
    parts = []
    for name, cmp in result.vs_baseline.items():
        if name in BASELINES or "oracle_gap_closed" not in cmp:
            continue
        part = f"{model_label(name)} closes {float(cmp['oracle_gap_closed']):.0%}"
        vr = result.vs_refitted.get(name, {})
        if "oracle_gap_closed" in vr:
            part += f" ({float(vr['oracle_gap_closed']):.0%} of the gap from {REFIT_CARD} to the ceiling)"
        parts.append(part)
    text = f"The true probabilities of the simulation reach AUC {o_auc:.3f}"
    if parts:
        text += (f", the ceiling any model could reach; of the gap between {CARD} and this ceiling, "
                 + "; ".join(parts))
    return [text + "."]


def lift_rows(result: TrainResult, alpha: float, material: float) -> list[dict[str, Any]]:
    """The headline table: per model, the lift over the experts' card and over the refitted card."""
    def cells(cmp: Mapping[str, Any] | None) -> dict[str, str]:
        if cmp is None:
            return {"diff": "", "ci": "", "p": "", "gap": ""}
        ci = cmp.get("auc_diff_ci95")
        gap = cmp.get("oracle_gap_closed")
        return {"diff": f"{float(cmp['auc_diff']):+.3f}",
                "ci": f"{float(ci[0]):+.3f} – {float(ci[1]):+.3f}" if ci else "",
                "p": format_p(float(cmp["p_value"])),
                "gap": _pct(gap, 0) if gap is not None else ""}

    words = {"material": ("better", "good"), "small": ("better, small lead", "neutral"),
             "not_significant": ("no significant difference", "neutral"), "worse": ("worse", "bad")}
    rows = []
    for name, cmp in result.vs_baseline.items():
        word, cls = words[lead_strength(cmp, alpha, material)]
        rows.append({"name": model_label(name), "key": name, "auc": _num(result.models[name].metrics.get("auc")),
                     "card": cells(cmp), "refit": cells(result.vs_refitted.get(name)), "word": word, "cls": cls})
    return rows


def _points_text(ind: Any) -> str:
    """An indicator's mapping to points in one line: ``≤ 0: 10 | ≤ 5: 9 | ... | > 180: 1``."""
    from riskmodel.models.baseline import numeric_points

    if ind.categories is not None:
        return ", ".join(f"{k}: {v:g}" for k, v in ind.categories.items())
    cuts = list(ind.cuts)
    pts = numeric_points(ind, np.array([*cuts, np.inf]))  # each cut falls in the bin it closes
    parts = ([f"≤ {c:g}: {round(p, 1):g}" for c, p in zip(cuts, pts[:-1])]
             + [f"> {cuts[-1]:g}: {round(pts[-1], 1):g}"])
    return " | ".join(parts)


def card_rows(result: TrainResult) -> list[dict[str, Any]]:
    """The experts' card as the report shows it: C, feature, weight, refitted weight, points, rationale."""
    base = result.models.get(BASELINE)
    inds = getattr(base.estimator, "indicators_", None) if base is not None else None
    if inds is None:
        return []
    refit = result.models.get(REFIT)
    rw = getattr(refit.estimator, "weights_", None) if refit is not None else None
    total = sum(i.weight for i in inds)
    rows = []
    for j, ind in enumerate(inds):
        rows.append({
            "c": ind.c, "feature": ind.feature, "description": ind.description,
            "weight": f"{ind.weight:g} ({ind.weight / total:.0%})",
            "refit": "" if rw is None else f"{float(rw[j]):.1f} ({float(rw[j]) / float(np.sum(rw)):.0%})",
            "points": _points_text(ind), "missing": f"{ind.missing_points:g}",
            "rationale": ind.rationale,
        })
    return rows


def refit_note(result: TrainResult) -> str:
    """What the refitted card did with the experts' indicators (weights set to zero, fallback)."""
    refit = result.models.get(REFIT)
    if refit is None:
        return ""
    est = refit.estimator
    if getattr(est, "fallback_", False):
        return ("No indicator kept a positive weight in the refit: the refitted card falls back to the experts' "
                "weights.")
    dropped = list(getattr(est, "dropped_", []))
    if not dropped:
        return "Every indicator kept a positive weight in the refit."
    return (f"Weight 0 in the refit for {len(dropped)} indicator(s) whose coefficient came out with the wrong "
            f"sign once the others were known (more points, more risk): {', '.join(dropped)}. A card gives no "
            "points for being worse, so they are left out rather than reversed.")


def _calibration_sentence(result: TrainResult) -> str:
    """Mean PD against the observed rate, and how many grades fail the Jeffreys test, for the champion."""
    m = result.models[result.champion]
    predicted, observed = float(np.mean(m.pd_test)), float(np.mean(result.y_test))
    train = float(np.mean(result.y_train)) if len(result.y_train) else float("nan")
    text = (f"Calibration: the champion predicts a mean PD of {predicted:.2%} against an observed default rate "
            f"of {observed:.2%} on the {rows_word(result)}")
    text += f" (training default rate {train:.2%})" if not str(result.data.get("split", "")).startswith("cv") else ""
    table = m.calibration_grade
    if table is not None and {"jeffreys_p_value", "n"} <= set(table.columns):
        used = table[table["n"] > 0]
        failing = int((used["jeffreys_p_value"] < 0.05).sum())
        text += f"; {failing} of {len(used)} grades fail the Jeffreys test at 5%"
    return text + "."


def metrics_rows(result: TrainResult) -> list[dict[str, Any]]:
    """One display row per model (champion flagged), then the oracle row on simulated data."""
    rows = []
    for name, m in result.models.items():
        mt = m.metrics
        ci = mt.get("auc_ci95") or [float("nan"), float("nan")]
        rows.append({
            "name": model_label(name),
            "key": name,
            "champion": name == result.champion,
            "oracle": False,
            "auc": _num(mt.get("auc")),
            "ci": f"{_num(ci[0])} – {_num(ci[1])}",
            "gini": _num(mt.get("gini")),
            "ks": _num(mt.get("ks")),
            "brier": _num(mt.get("brier"), 4),
            "log_loss": _num(mt.get("log_loss"), 4),
            "psi": _num(mt.get("psi"), 4),
        })
    if result.oracle is not None:
        o = result.oracle
        auc = o.get("auc")
        rows.append({
            "name": model_label("oracle"), "key": "oracle", "champion": False, "oracle": True,
            "auc": _num(auc), "ci": "", "gini": _num(2 * float(auc) - 1 if auc is not None else None),
            "ks": _num(o.get("ks")), "brier": _num(o.get("brier"), 4),
            "log_loss": _num(o.get("log_loss"), 4), "psi": "",
        })
    return rows


def rows_word(result: TrainResult) -> str:
    """What the evaluation rows are: "out-of-fold rows" in cross-validation, else "test rows"."""
    return "out-of-fold rows" if str(result.data.get("split", "")).startswith("cv") else "test rows"


def _data_rows(result: TrainResult) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    data = dict(result.data)
    if str(data.get("split", "")).startswith("cv"):  # every row is trained on and tested once
        data = {k: v for k, v in data.items() if k != "n_train"}
        data["n_test"] = data.pop("n_test", len(result.y_test))
        labels = {"n_test": "Rows (each tested once, out of fold)", "test_positive_rate": "Default rate"}
    else:
        train_rate = float(np.mean(result.y_train)) if len(result.y_train) else None
        ordered: dict[str, Any] = {}
        for k, v in data.items():
            ordered[k] = v
            if k == "n_train":
                ordered["train_positive_rate"] = train_rate
        ordered.setdefault("train_positive_rate", train_rate)
        data, labels = ordered, {}
    for key, value in data.items():
        label = labels.get(key) or _DATA_LABELS.get(key, key.replace("_", " ").capitalize())
        if key.endswith("_rate") or key.endswith("_share"):
            text = _pct(value)
        elif isinstance(value, (list, tuple)) and len(value) == 2:
            text = f"{value[0]} to {value[1]}"
        elif key == "split":
            text = {"out_of_time": "out of time (train on older snapshots, test on the newest)",
                    "cv5": "stratified 5-fold cross-validation (out-of-fold predictions)"}.get(str(value), str(value))
        else:
            text = _num(value)
        rows.append((label, text))
    rows.append(("Features", f"{len(result.features):,} ({len(result.categorical_levels)} categorical)"))
    return rows


# ------------------------------------------------------------------ figures
def _grade_labels(p: np.ndarray, settings: Settings) -> tuple[np.ndarray, list[str]]:
    from riskmodel.grades import assign_grades

    order = [g.grade for g in settings.master_scale.grades]
    return np.asarray(assign_grades(p, settings.master_scale), dtype=object), order


def shap_frame(result: TrainResult, model: str = SHAP_MODEL, max_rows: int = SHAP_MAX_ROWS,
               seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Contributions (log-odds) of ``model`` on a sample of at most ``max_rows`` test rows, and those rows.

    Uses the estimator's own ``contributions(X)`` when it has one, else
    ``shap.TreeExplainer``; returns None when neither applies.
    """
    if model not in result.models or len(result.X_test) == 0:
        return None
    est = result.models[model].estimator
    X = result.X_test
    if len(X) > max_rows:
        X = X.sample(n=max_rows, random_state=seed)
    if hasattr(est, "contributions"):
        raw = est.contributions(X)
        contrib = raw if isinstance(raw, pd.DataFrame) else pd.DataFrame(np.asarray(raw), index=X.index)
        if not isinstance(raw, pd.DataFrame):
            contrib = contrib.iloc[:, : X.shape[1]]
            contrib.columns = list(X.columns)
        contrib = contrib[[c for c in X.columns if c in contrib.columns]]
    else:
        try:
            import shap

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                values = shap.TreeExplainer(est).shap_values(X)
        except Exception as err:  # noqa: BLE001 - not a tree model: no summary, say why
            log.warning("no SHAP summary for %s: %s", model, err)
            return None
        values = values[1] if isinstance(values, list) else values
        values = values[..., 1] if np.ndim(values) == 3 else values
        contrib = pd.DataFrame(values, index=X.index, columns=list(X.columns))
    return contrib, X


def _feature_labels(features: list[str], settings: Settings) -> dict[str, str]:
    """``name (C)`` for features of the data dictionary; other names (flat tables) unchanged."""
    try:
        from riskmodel.features.dictionary import feature_catalog

        catalog = feature_catalog(settings.features)
    except Exception:  # noqa: BLE001 - labels are cosmetic
        return {}
    return {f: f"{f} ({catalog[f].c})" for f in features if f in catalog}


def build_plots(result: TrainResult, settings: Settings) -> dict[str, bytes]:
    """The report's figures as PNG bytes: roc, calibration, grades (champion) and shap (LightGBM)."""
    y = np.asarray(result.y_test)
    scores = {name: np.asarray(m.pd_test, dtype=float) for name, m in result.models.items()}
    tf = result.test_frame
    oracle_col = next((c for c in ("pd_oracle", TRUE_PD) if c in tf.columns), None)
    if result.oracle is not None and oracle_col is not None:
        scores["oracle"] = tf[oracle_col].to_numpy(float)
    rows = rows_word(result)
    out: dict[str, bytes] = {}
    out["roc"] = plots.figure_png(plots.plot_roc(y, scores, f"ROC on the {rows}"))
    out["calibration"] = plots.figure_png(plots.plot_calibration(y, scores, settings.evaluation.calibration_bins))
    champ = result.models[result.champion]
    grades, order = _grade_labels(np.asarray(champ.pd_test, dtype=float), settings)
    out["grades"] = plots.figure_png(plots.plot_grade_distribution(
        grades, y, champ.pd_test, order, f"{rows.capitalize()} by grade of the champion ({model_label(result.champion)})",
        rows_label=rows.capitalize(), pd_floor=settings.master_scale.grades[0].max_pd / 3))
    sf = shap_frame(result, seed=settings.evaluation.seed)
    if sf is not None:
        contrib, X = sf
        out["shap"] = plots.figure_png(plots.plot_shap_summary(
            contrib, X, f"What drives {model_label(SHAP_MODEL)}: SHAP summary ({len(X):,} {rows})",
            labels=_feature_labels(list(contrib.columns), settings)))
    return out


# ------------------------------------------------ PD fitness for limits (issue 9)
_LIGHT_CLASS = {"green": "good", "yellow": "neutral", "red": "bad"}


def backtest_context(result: TrainResult) -> dict[str, Any] | None:
    """The report's backtest block: verdict on the PDs, the light, and tables by grade, cohort, industry."""
    bt = result.extra.get("backtest")
    if not bt:
        return None
    cols = ["n", "defaults", "observed_rate", "mean_pd", "binomial_p", "jeffreys_p", "correlated_p",
            "vasicek_dr_95", "vasicek_dr_999", "light_jeffreys", "light"]
    decisive = "light_jeffreys" if bt.get("decisive_test") == "jeffreys" else "light"

    def table(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
        body = []
        for r in rows:
            cells = [str(r[key])] + [_bt_cell(c, r[c]) for c in cols]
            body.append({"cells": cells, "light": _LIGHT_CLASS.get(r[decisive], "")})
        heads = [key.replace("_", " ")] + [_BT_HEADERS.get(c, c.replace("_", " ")) for c in cols]
        return {"columns": heads, "rows": body}

    hl = bt["hosmer_lemeshow"]
    return {
        "light": bt["light"],
        "css": {"green": "", "yellow": " neutral", "red": " failing"}[bt["light"]],
        "verdict": bt["verdict"],
        "philosophy": str(bt.get("philosophy", "")).replace("_", " "),
        "rho": bt["asset_correlation"],
        "hl": f"Hosmer-Lemeshow {hl['statistic']:.1f} on {hl['df']} df, {format_p(hl['p_value'])}",
        "tables": [(title, table(bt[k], key)) for title, k, key in (
            ("By grade (all test cohorts pooled)", "by_grade", "grade"),
            ("By cohort (snapshot date)", "by_snapshot", "snapshot_date"),
            ("By industry", "by_industry", "industry")) if bt.get(k)],
    }


def _bt_cell(col: str, v: Any) -> str:
    if col == "light":
        return str(v)
    if v is None or (isinstance(v, (float, np.floating)) and math.isnan(float(v))):
        return ""
    if col.endswith("_p"):
        return format_p(float(v))
    if col in ("n", "defaults"):
        return f"{int(v):,}"
    return _pct(v)


_BT_HEADERS = {"light_jeffreys": "light (Jeffreys)", "light": "light (correlated)", "observed_rate": "observed", "mean_pd": "mean PD", "binomial_p": "binomial p",
               "jeffreys_p": "Jeffreys p", "correlated_p": "correlated p", "vasicek_dr_95": "critical DR 95%",
               "vasicek_dr_999": "critical DR 99.9%"}


# ------------------------------------------------ model selection and learning curve (issue 13)
def _shape(c: Mapping[str, Any]) -> dict[str, str]:
    p = c.get("params", {})
    return {"trees": str(c.get("trees", "")), "leaves": str(p.get("num_leaves", "")), "depth": str(p.get("max_depth", "")),
            "min_child": str(p.get("min_child_samples", "")), "lambda": _num(p.get("reg_lambda"), 2),
            "lr": str(p.get("learning_rate", "")), "val_auc": _num(c.get("val_auc"), 4), "cost": f"{c.get('cost', 0):,.0f}"}


def selection_context(result: TrainResult) -> dict[str, Any] | None:
    """The report's model-selection block: chosen vs default shape, validation AUC, TreeSHAP cost, reasons speed."""
    sel = result.extra.get("model_selection")
    if not sel:
        return None
    rates = sel.get("reasons_rows_per_s", {})
    rows = []
    for key, label in (("chosen", "chosen"), ("default", "default (params.yaml)")):
        r = _shape(sel[key])
        r["name"] = label
        r["rate"] = f"{rates[key]:,.0f}" if key in rates else ""
        rows.append(r)
    folds = [{"fold": f["fold"], **_shape(f["chosen"]), "default_auc": _num(f["default"]["val_auc"], 4)}
             for f in sel.get("folds", [])]
    same = sel["chosen"].get("label") == "default"
    return {"rows": rows, "folds": folds, "validation": sel["validation"], "n": sel["n_candidates"],
            "seconds": f"{sel['seconds']:.0f}", "budget": f"{sel['budget_seconds']:.0f}", "same": same,
            "fallback": sel.get("fallback", "")}


def learning_curve_context(result: TrainResult) -> dict[str, Any] | None:
    """The report's learning-curve table: test AUC per share of the training customers, and a verdict."""
    from riskmodel.evaluation.learning_curve import curve_verdict

    rows = result.extra.get("learning_curve")
    if not rows:
        return None
    models = [k[4:] for k in rows[-1] if k.startswith("auc_")]
    body = [{"cells": [f"{r['share']:.0%}", f"{r['customers']:,}", f"{r['rows']:,}", f"{r['defaults']:,}"]
             + [_num(r.get(f"auc_{m}"), 3) for m in models]} for r in rows]
    lead = result.champion if result.champion in models else models[0]
    return {"columns": ["share of customers", "customers", "rows", "defaults"] + [f"AUC {model_label(m)}" for m in models],
            "rows": body, "verdict": curve_verdict(rows, lead), "model": model_label(lead)}


# ------------------------------------------------------------------ page
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("riskmodel.evaluation", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


def render_report(
    result: TrainResult,
    settings: Settings,
    plots_dir: Path | None = None,
    figures: Mapping[str, bytes] | None = None,
) -> str:
    """Render the comparison report as one self-contained HTML page.

    Parameters
    ----------
    result : the training run to report.
    settings : for the champion gate, master scale and evaluation settings.
    plots_dir : when given, the PNG figures are also written there (``roc.png``, ...).
    figures : PNG bytes by name, from :func:`build_plots`; built when not given.

    Returns
    -------
    str : the HTML document (images embedded as base64 PNG).
    """
    figs = dict(figures) if figures is not None else build_plots(result, settings)
    if plots_dir is not None:
        from riskmodel.io import write_atomic

        for name, png in figs.items():
            write_atomic(Path(plots_dir) / f"{name}.png", lambda p, b=png: p.write_bytes(b))  # type: ignore[misc]
    alpha = settings.evaluation.champion_alpha
    material = settings.evaluation.material_auc_lift
    champ = result.models[result.champion]
    grade_tables = []
    compact = ["grade", "n", "observed_rate", "mean_pd", "jeffreys_p_value"]
    for name in [result.champion] + [n for n in result.models if n != result.champion]:
        table = result.models[name].calibration_grade
        if table is None or not len(table):
            continue
        if name != result.champion and all(c in table.columns for c in compact):
            table = table[compact]
        grade_tables.append({"name": model_label(name), "champion": name == result.champion,
                             "table": frame_to_table(table, flag_p_below=0.05)})
    decile = champ.calibration_decile
    lift = lift_table(result.y_test, champ.pd_test, settings.evaluation.calibration_bins)
    images = {k: base64.b64encode(v).decode("ascii") for k, v in figs.items()}
    context = {
        "title": "riskmodel: model comparison",
        "created": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "champion": model_label(result.champion),
        "champion_key": result.champion,
        "alpha": alpha,
        "verdict": verdict(result, alpha, material),
        "verdict_strong": verdict_is_strong(result, alpha, material),
        "champion_is_learned": result.champion not in BASELINES,
        "has_baseline": BASELINE in result.models,
        "rows_word": rows_word(result),
        "is_cv": str(result.data.get("split", "")).startswith("cv"),
        "data_rows": _data_rows(result),
        "metrics": metrics_rows(result),
        "lifts": lift_rows(result, alpha, material),
        "has_refit": REFIT in result.models,
        "has_oracle": result.oracle is not None,
        "material": material,
        "card": card_rows(result),
        "refit_note": refit_note(result),
        "ci_level": f"{settings.evaluation.ci_level:.0%}",
        "grade_tables": grade_tables,
        "decile": frame_to_table(decile) if decile is not None and len(decile) else None,
        "lift": frame_to_table(lift),
        "images": images,
        "calibration_method": settings.models.calibration,
        "horizon_months": settings.snapshots.horizon_months,
        "backtest": backtest_context(result),
        "selection": selection_context(result),  # issue 13
        "learning_curve": learning_curve_context(result),  # issue 13
        "master_scale": [
            {"grade": g.grade, "max_pd": _pct(g.max_pd), "description": g.description}
            for g in settings.master_scale.grades
        ],
    }
    return _template().render(**context)
