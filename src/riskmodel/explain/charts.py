"""The memo's charts (matplotlib, no pyplot state): 5C levels, contribution waterfall, payments, ratios.

Each function returns a :class:`matplotlib.figure.Figure`; :func:`png_base64`
turns one into the base64 PNG the HTML memo embeds.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from riskmodel.explain.templates import format_money

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
NAVY = "#1e3a5f"
RED = "#b91c1c"
GREEN = "#15803d"
AMBER = "#d97706"
LIGHT = "#cbd5e1"
C_COLORS = {"character": "#1e3a5f", "capacity": "#0f766e", "capital": "#7c3aed", "collateral": "#b45309",
            "conditions": "#475569"}


def _style(ax, grid_axis: str = "x") -> None:  # noqa: ANN001 - matplotlib Axes
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)
    ax.tick_params(colors=MUTED, labelsize=8.5, length=0)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def png_base64(fig: Figure, dpi: int = 144) -> str:
    """The figure as a base64-encoded PNG (for ``<img src="data:image/png;base64,...">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def level_color(level: float) -> str:
    """Red below 40%, amber below 60%, green from 60% (5C credit levels)."""
    return RED if level < 0.4 else AMBER if level < 0.6 else GREEN


def five_c_chart(sub_scores: Mapping[str, float], credit_level: float | None) -> Figure:
    """Horizontal bars of the 5C levels (0-100%) with the overall credit level as a dashed line."""
    names = list(sub_scores)
    values = np.array([sub_scores[n] for n in names], dtype=float)
    fig = Figure(figsize=(5.0, 0.42 * max(len(names), 1) + 0.6))
    ax = fig.subplots()
    y = np.arange(len(names))[::-1]
    ax.barh(y, np.ones(len(names)), color="#f3f4f6", height=0.62)
    ax.barh(y, values, color=[level_color(v) for v in values], height=0.62)
    for yi, v in zip(y, values):
        ax.text(min(v, 0.97) + 0.015 if v < 0.88 else v - 0.015, yi, f"{v:.0%}", va="center",
                ha="left" if v < 0.88 else "right", fontsize=9, color=INK if v < 0.88 else "white",
                fontweight="bold")
    if credit_level is not None and not np.isnan(credit_level):
        ax.axvline(credit_level, color=INK, linestyle=(0, (3, 2)), linewidth=1.1)
        ax.text(credit_level, len(names) - 0.35, f"overall {credit_level:.0%}", ha="center", va="bottom",
                fontsize=8.5, color=INK)
    ax.set_yticks(y, [n.capitalize() for n in names], fontsize=9.5, color=INK)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, len(names) - 0.1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    _style(ax)
    fig.tight_layout()
    return fig


def _wrap(label: str, width: int = 46) -> str:
    """A label on up to three lines, never cut: a committee reads the whole phrase."""
    text = label[:1].upper() + label[1:]
    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text


def _value_label(ax, x: float, y: float, text: str, **kw: Any) -> None:  # noqa: ANN001 - matplotlib Axes
    """A value written just right of (x, y), on a white box so lines behind it never cross it."""
    kw.pop("ha", None)
    kw.pop("va", None)
    ax.annotate(text, (x, y), textcoords="offset points", xytext=(6, 0), ha="left", va="center", zorder=5,
                bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.9}, **kw)


def waterfall_chart(wf: Mapping[str, Any], pd_text: Callable[[float], str], horizon_months: int = 12) -> Figure:
    """Contribution waterfall from the structured memo's ``waterfall`` block.

    From the reference (``base_label``) through the largest contributions (red raises the risk,
    green lowers it; the rest summed in one bar) to the model's raw score, then the
    calibration step (navy) to the calibrated PD of the headline, whose logit it ends at.
    Labels wrap instead of being cut.  ``pd_text`` formats a PD as the memo does.
    """
    unit = str(wf["unit"])
    base = float(wf["base_value"])
    items = [(s["label"], float(s["contribution"])) for s in wf["steps"]]
    others = wf.get("others") or {}
    if others.get("n_features"):
        rest = wf.get("rest_label", "features")
        items.append((f"{others['n_features']} other {rest} together", float(others["contribution"])))
    raw = float(wf["raw_score"])
    calib = wf.get("calibration")
    final = float(wf["calibrated_score"]) if calib is not None else raw
    labels = [_wrap(str(wf.get("base_label") or "portfolio average"))] + [_wrap(lbl) for lbl, _ in items]
    values = [v for _, v in items]
    if calib is not None:
        labels += ["Model score (raw)", f"Calibration to the\n{horizon_months}-month PD"]
    labels += ["This customer"]
    heights = [1 + lbl.count("\n") for lbl in labels]
    slot = [0.34 + 0.15 * (h - 1) for h in heights]  # inches per row
    y_top = np.cumsum([0] + slot[:-1]) + np.array(slot) / 2
    ys = -y_top
    fig = Figure(figsize=(8.6, sum(slot) + 0.9))
    ax = fig.subplots()
    path = np.cumsum([base] + values)
    pts = np.concatenate([path, [raw, final]])
    lo, hi = float(pts.min()), float(pts.max())
    span = max(hi - lo, 1e-6)
    ax.set_xlim(lo - 0.08 * span, hi + 0.30 * span)
    ax.axvline(base, color=MUTED, linestyle=(0, (2, 2)), linewidth=0.9)
    ax.axvline(final, color=NAVY, linestyle=(0, (2, 2)), linewidth=0.9)
    bar_h = 0.22
    ax.plot([base], [ys[0]], marker="o", color=MUTED, markersize=6)
    _value_label(ax, base, ys[0], f"{base:+.2f}", va="center", ha="left", fontsize=8.5, color=MUTED)
    cum = base
    for v, yi in zip(values, ys[1:1 + len(values)]):
        ax.barh(yi, v, left=cum, color=RED if v > 0 else GREEN, height=bar_h)
        _value_label(ax, max(cum, cum + v), yi, f"{v:+.2f}", fontsize=8, color=INK)
        cum += v
    k = 1 + len(values)
    if calib is not None:
        raw_pd = wf.get("raw_pd")
        ax.plot([raw], [ys[k]], marker="o", color=INK, markersize=5)
        _value_label(ax, raw, ys[k], f"{raw:+.2f}" + (f"  (PD {pd_text(raw_pd)} before calibration)"
                                                            if raw_pd is not None else ""),
                va="center", ha="left", fontsize=8, color=INK)
        ax.barh(ys[k + 1], calib, left=raw, color=NAVY, height=bar_h, alpha=0.75)
        _value_label(ax, max(raw, raw + calib), ys[k + 1], f"{calib:+.2f}", fontsize=8, color=INK)
        k += 2
    ax.plot([final], [ys[k]], marker="D", color=NAVY, markersize=7)
    _value_label(ax, final, ys[k], f"{final:+.2f} = PD {pd_text(float(wf['pd']))}", va="center", ha="left",
            fontsize=9, color=NAVY, fontweight="bold")
    _style(ax)
    ax.set_yticks(ys, labels, fontsize=8.3, linespacing=1.05)
    for t in ax.get_yticklabels():
        t.set_color(INK)
    ax.get_yticklabels()[0].set_color(MUTED)
    ax.get_yticklabels()[-1].set_fontweight("bold")
    ax.get_yticklabels()[-1].set_color(NAVY)
    ax.set_ylim(ys[-1] - slot[-1] / 2 - 0.05, ys[0] + slot[0] / 2 + 0.05)
    ax.set_xlabel(f"score in {unit} (further right = riskier)", fontsize=8.5, color=MUTED)
    fig.tight_layout()
    return fig


def payment_chart(history: pd.DataFrame, currency: str = "") -> Figure:
    """Monthly open and overdue amounts (bars) and days past due (lines) over the history window."""
    fig = Figure(figsize=(8.2, 2.7))
    ax = fig.subplots()
    x = np.arange(len(history))
    ax.bar(x, history["open_amount"], color="#e5e7eb", width=0.75, label="open")
    ax.bar(x, history["overdue_amount"], color=AMBER, width=0.75, label="overdue")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_money(v)))
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.set_ylabel(f"amount ({currency})" if currency else "amount", fontsize=8.5, color=MUTED)
    _style(ax, "y")
    ax2 = ax.twinx()
    ax2.plot(x, history["max_dpd_open"], color=RED, linewidth=1.6, marker="o", markersize=2.5,
             label="oldest overdue invoice (days past due)")
    ax2.plot(x, history["mean_dpd_settled"], color=NAVY, linewidth=1.2, linestyle=(0, (3, 2)),
             label="average days late of invoices paid in the month")
    ax2.set_ylim(bottom=0)
    ax2.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax2.set_ylabel("days", fontsize=8.5, color=MUTED)
    for side in ("top", "left", "bottom"):
        ax2.spines[side].set_visible(False)
    ax2.spines["right"].set_color(GRID)
    ax2.tick_params(colors=MUTED, labelsize=8.5, length=0)
    step = max(1, len(history) // 8)
    ticks = x[::-1][::step][::-1]
    ax.set_xticks(ticks, [history["month_end"].iloc[i].strftime("%b %y") for i in ticks])
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7.5, frameon=False, ncol=4, loc="upper left", bbox_to_anchor=(0, 1.2))
    fig.tight_layout()
    return fig


def ratio_chart(trend: pd.DataFrame, ratios: Mapping[str, str], pct: Sequence[str] = (),
                missing: Sequence[pd.Timestamp] = ()) -> Figure:
    """Small multiples: one line per key ratio over the statements' period ends, on a time axis.

    Years are placed by date, so a fiscal year without a statement (``missing``) leaves a
    visible gap: the line breaks there and a grey band marks it.  The latest value is written
    beside its point, on a white box, clear of the line.
    """
    names = [r for r in ratios if r in trend.columns][:4]
    fig = Figure(figsize=(8.6, 2.2))
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    ends = pd.to_datetime(trend["period_end"]) if len(trend) else pd.Series(dtype="datetime64[ns]")
    x = ends.dt.year + (ends.dt.day_of_year - 1) / 365.25 if len(trend) else pd.Series(dtype=float)
    miss = [pd.Timestamp(d).year + (pd.Timestamp(d).day_of_year - 1) / 365.25 for d in missing]
    for ax, name in zip(axes, names):
        v = trend[name].to_numpy(dtype=float)
        xs = x.to_numpy(dtype=float)
        # break the line across missing years: insert a NaN between points more than 15 months apart
        bx, bv = [], []
        for i, (xi, vi) in enumerate(zip(xs, v)):
            if i and xi - xs[i - 1] > 1.25:
                bx.append((xi + xs[i - 1]) / 2)
                bv.append(np.nan)
            bx.append(xi)
            bv.append(vi)
        ax.plot(bx, bv, color=NAVY, linewidth=1.6, marker="o", markersize=3.5)
        runs: list[list[float]] = []  # consecutive missing years share one band and one label
        for m in sorted(miss):
            if runs and m - runs[-1][-1] < 1.25:
                runs[-1].append(m)
            else:
                runs.append([m])
        for run in runs:
            ax.axvspan(run[0] - 0.4, run[-1] + 0.4, color="#f3f4f6", zorder=0)
            ax.text((run[0] + run[-1]) / 2, 0.03, "no\nstatement", transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=6.5, color=MUTED, linespacing=0.95)
        if len(v) and not np.isnan(v[-1]):
            last = v[-1]
            shown = f"{round(last * 100) + 0:.0f}%" if name in pct else f"{last:.2f}"
            ax.annotate(shown, (xs[-1], last), textcoords="offset points", xytext=(7, 0), ha="left", va="center",
                        fontsize=8, color=INK, fontweight="bold",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
        ax.set_title(ratios[name], fontsize=9, color=INK, loc="left")
        # one tick per fiscal period (statements and missing ones), labelled by the period end's year
        marks = sorted(list(zip(xs, ends.dt.year)) + [(m, pd.Timestamp(d).year) for m, d in zip(miss, missing)])
        step = 1 if len(marks) <= 4 else 2
        ticks = marks[::-1][::step][::-1]
        ax.set_xticks([t for t, _ in ticks], [f"FY{yr % 100:02d}" for _, yr in ticks], fontsize=7.5)
        if len(xs):
            lo, hi = min(list(xs) + miss), max(list(xs) + miss)
            ax.set_xlim(lo - 0.5, hi + 0.9)  # room on the right for the latest value
        if name in pct:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda t, _: f"{round(t * 100) + 0:.0f}%"))
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.margins(y=0.3)
        _style(ax, "y")
    fig.tight_layout(w_pad=2.0)
    return fig
