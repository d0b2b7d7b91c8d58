"""Figures for the comparison report: ROC, calibration, score distribution by grade, SHAP summary.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot, no
global state, no backend switch) and :func:`figure_png` turns it into PNG bytes,
so the report can embed the images and the pipeline can write or log them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score, roc_curve

MODEL_LABELS: dict[str, str] = {
    "baseline_5c": "5C expert scorecard",
    "baseline_5c_refit": "5C card, refitted weights",
    "lightgbm": "LightGBM",
    "logistic_scorecard": "Logistic scorecard",
    "oracle": "Oracle (true PD)",
}
MODEL_COLORS: dict[str, str] = {
    "baseline_5c": "#7f7f7f",
    "baseline_5c_refit": "#b0a08a",
    "lightgbm": "#1f6fb4",
    "logistic_scorecard": "#e07b00",
    "oracle": "#2ca02c",
}
_FALLBACK_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def model_label(name: str) -> str:
    """Human name of a model (``lightgbm`` -> ``LightGBM``)."""
    return MODEL_LABELS.get(name, name.replace("_", " ").capitalize())


def _color(name: str, i: int) -> str:
    return MODEL_COLORS.get(name, _FALLBACK_COLORS[i % len(_FALLBACK_COLORS)])


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def _style(ax) -> None:  # noqa: ANN001 - matplotlib Axes
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)


def plot_roc(y: np.ndarray, scores: Mapping[str, np.ndarray], title: str = "ROC on the test period") -> Figure:
    """ROC curves of every model on the same rows, with the AUC in the legend.

    Parameters
    ----------
    y : array of 0/1 labels.
    scores : model name -> predicted PD (an ``oracle`` entry is drawn dashed).
    """
    fig = Figure(figsize=(6.0, 5.2))
    ax = fig.add_subplot()
    for i, (name, p) in enumerate(scores.items()):
        fpr, tpr, _ = roc_curve(y, p)
        auc = roc_auc_score(y, p)
        ax.plot(fpr, tpr, color=_color(name, i), lw=2 if name != "oracle" else 1.5,
                ls="--" if name == "oracle" else "-", label=f"{model_label(name)}  (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=1, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("False positive rate (good customers flagged)")
    ax.set_ylabel("True positive rate (defaults caught)")
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    ax.legend(loc="lower right", frameon=False, fontsize=9)
    _style(ax)
    return fig


def plot_calibration(y: np.ndarray, scores: Mapping[str, np.ndarray], n_bins: int = 10) -> Figure:
    """Mean predicted PD against the observed default rate, by decile of each model's PD."""
    fig = Figure(figsize=(6.0, 5.2))
    ax = fig.add_subplot()
    top = 0.0
    for i, (name, p) in enumerate(scores.items()):
        obs, pred = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
        top = max(top, float(np.max(obs)), float(np.max(pred)))
        ax.plot(pred, obs, marker="o", ms=4, lw=1.5, color=_color(name, i),
                ls="--" if name == "oracle" else "-", label=model_label(name))
    top = min(1.0, top * 1.08) or 1.0
    ax.plot([0, top], [0, top], color="#bbbbbb", lw=1, ls=":", label="perfect calibration")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("Mean predicted PD (decile of each model's score)")
    ax.set_ylabel("Observed default rate")
    ax.set_title("Calibration by decile", loc="left", fontsize=12, fontweight="bold")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}" if top > 0.1 else f"{v:.1%}")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}" if top > 0.1 else f"{v:.1%}")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    _style(ax)
    return fig


def plot_grade_distribution(
    grades: Sequence[str] | np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    order: Sequence[str],
    title: str,
    rows_label: str = "Test rows",
    pd_floor: float | None = None,
) -> Figure:
    """Customers per grade (split by outcome) with the observed default rate against the mean PD.

    Parameters
    ----------
    grades : the grade of every test row.
    y, p : label and predicted PD of every test row.
    order : the master-scale grades, best first (grades with no rows still get a slot).
    title, rows_label : figure title and the bar axis label.
    pd_floor : lowest rate drawn on the log axis (default: half the smallest positive rate);
        an observed rate of zero is drawn as a hollow marker on this floor.
    """
    frame = pd.DataFrame({"grade": np.asarray(grades, dtype=object), "y": np.asarray(y), "p": np.asarray(p)})
    g = frame.groupby("grade", sort=False).agg(n=("y", "size"), bad=("y", "sum"), pd=("p", "mean"))
    g = g.reindex(list(order)).fillna({"n": 0, "bad": 0})
    x = np.arange(len(g))
    n = g["n"].to_numpy(float)
    bad = g["bad"].to_numpy(float)
    good = n - bad
    rate = np.divide(bad, n, out=np.full(len(n), np.nan), where=n > 0)
    mean_pd = g["pd"].to_numpy(float)

    fig = Figure(figsize=(8.0, 4.6))
    ax = fig.add_subplot()
    ax.bar(x, good, color="#9ecae1", label="no default within the horizon")
    ax.bar(x, bad, bottom=good, color="#d62728", label="defaulted within the horizon")
    ax.set_xticks(x, list(g.index))
    ax.set_ylabel(rows_label)
    ax.set_xlabel("Rating grade (master scale)")
    _style(ax)
    ax2 = ax.twinx()
    positive = np.concatenate([rate[rate > 0], mean_pd[mean_pd > 0]])
    floor = pd_floor if pd_floor is not None else (float(positive.min()) / 2 if positive.size else 1e-4)
    shown_pd = np.where(np.isnan(mean_pd), np.nan, np.maximum(mean_pd, floor))
    ax2.plot(x, np.maximum(rate, floor), color="#222222", lw=1.5, zorder=3)
    solid = rate > 0
    ax2.plot(x[solid], rate[solid], "o", color="#222222", label="observed default rate", zorder=4)
    zero = (rate == 0)
    if zero.any():
        ax2.plot(x[zero], np.full(zero.sum(), floor), "o", mfc="white", color="#222222",
                 label="no default observed", zorder=4)
    ax2.plot(x, shown_pd, color="#222222", marker="x", lw=1, ls="--", label="mean predicted PD", zorder=3)
    ax2.set_yscale("log")
    ax2.set_ylim(floor * 0.8, 1.0)
    ax2.set_ylabel("Default rate (log scale)")
    ax2.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}" if v >= 0.01 else f"{v:.1%}" if v >= 0.001 else f"{v:.2%}")
    ax2.spines["top"].set_visible(False)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False,
              fontsize=8.5)
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    return fig


def plot_shap_summary(
    contributions: pd.DataFrame,
    X: pd.DataFrame,
    title: str,
    max_display: int = 15,
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """SHAP beeswarm: one dot per customer and feature, coloured by the feature's value.

    Parameters
    ----------
    contributions : per-row, per-feature contributions in log-odds (same index and columns as X).
    X : the feature values of the same rows (categoricals are coloured by their code; missing is grey).
    labels : display name per feature (e.g. with its C); the column name otherwise.
    """
    import warnings

    with warnings.catch_warnings():  # shap's colour maps use matplotlib calls due for deprecation
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap  # heavy; imported only when a summary is drawn

    values = X[list(contributions.columns)].copy()
    for col in values.columns:
        if isinstance(values[col].dtype, pd.CategoricalDtype):
            values[col] = values[col].cat.codes.replace(-1, np.nan).astype(float)
        elif not pd.api.types.is_numeric_dtype(values[col]) or pd.api.types.is_bool_dtype(values[col]):
            values[col] = pd.to_numeric(values[col], errors="coerce").astype(float)
    explanation = shap.Explanation(
        values=contributions.to_numpy(float),
        data=values.to_numpy(float),
        feature_names=[(labels or {}).get(c, c) for c in contributions.columns],
    )
    n_show = min(max_display, contributions.shape[1])
    fig = Figure(figsize=(8.0, 0.42 * n_show + 1.6))
    ax = fig.add_subplot()
    shap.plots.beeswarm(explanation, max_display=n_show, ax=ax, show=False, plot_size=None, s=9)
    ax.set_xlabel("Contribution to the log-odds of default (SHAP value)")
    for label in ax.get_yticklabels():
        label.set_fontsize(9.5)
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    return fig
