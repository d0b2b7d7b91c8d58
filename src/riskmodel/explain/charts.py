"""The memo's charts (matplotlib, no pyplot state): 5C levels, contribution waterfall, payments, ratios.

Each function returns a :class:`matplotlib.figure.Figure`; :func:`png_base64`
turns one into the base64 PNG the HTML memo embeds.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Mapping, Sequence

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


def waterfall_chart(contributions: pd.Series, base_value: float, labels: Mapping[str, str] | None = None,
                    top: int = 10, unit: str = "log-odds", base_label: str = "portfolio average",
                    rest_label: str = "features") -> Figure:
    """Contribution waterfall: from the base value through the largest contributions to the model's score.

    Red bars raise the risk, green bars lower it; the remaining features are summed in one bar.
    The base value (``base_label``: the portfolio average, or the reference customer the
    contributions are measured against) and the customer's score are marked by dashed lines;
    ``rest_label`` names what the remainder bar sums ("features", or "concepts").
    """
    labels = labels or {}
    c = contributions.astype(float)
    order = c.abs().sort_values(ascending=False, kind="stable").index
    shown = list(order[:top])
    items = [(labels.get(f, f), float(c[f])) for f in shown]
    if len(order) > top:
        items.append((f"{len(order) - top} other {rest_label} together (sum)", float(c.drop(index=shown).sum())))
    total = base_value + float(c.sum())
    n = len(items)
    fig = Figure(figsize=(8.2, 0.3 * (n + 2) + 0.8))
    ax = fig.subplots()
    ys = np.arange(n + 2)[::-1]
    path = np.cumsum([base_value] + [v for _, v in items])
    lo, hi = float(min(path.min(), total)), float(max(path.max(), total))
    span = max(hi - lo, 1e-6)
    ax.set_xlim(lo - 0.06 * span, hi + 0.16 * span)
    ax.axvline(base_value, color=MUTED, linestyle=(0, (2, 2)), linewidth=0.9)
    ax.axvline(total, color=NAVY, linestyle=(0, (2, 2)), linewidth=0.9)
    ax.plot([base_value], [ys[0]], marker="o", color=MUTED, markersize=6)
    ax.text(base_value, ys[0], f"   {base_value:+.2f}", va="center", ha="left", fontsize=8.5, color=MUTED)
    cum = base_value
    for (label, v), yi in zip(items, ys[1:-1]):
        ax.barh(yi, v, left=cum, color=RED if v > 0 else GREEN, height=0.62)
        ax.text(max(cum, cum + v) + 0.01 * span, yi, f"{v:+.2f}", va="center", ha="left", fontsize=8, color=INK)
        cum += v
    ax.plot([total], [ys[-1]], marker="D", color=NAVY, markersize=7)
    ax.text(total, ys[-1], f"   {total:+.2f}", va="center", ha="left", fontsize=9, color=NAVY, fontweight="bold")
    names = [base_label] + [textwrap.shorten(lbl[:1].upper() + lbl[1:], 64, placeholder="…")
                                     for lbl, _ in items] + ["this customer"]
    _style(ax)
    ax.set_yticks(ys, names, fontsize=8.5)
    for t in ax.get_yticklabels():
        t.set_color(INK)
    ax.get_yticklabels()[0].set_color(MUTED)
    ax.get_yticklabels()[-1].set_fontweight("bold")
    ax.get_yticklabels()[-1].set_color(NAVY)
    ax.set_ylim(-0.7, n + 1.7)
    ax.set_xlabel(f"score in {unit} (further right = riskier)", fontsize=8.5, color=MUTED)
    fig.tight_layout()
    return fig


def payment_chart(history: pd.DataFrame) -> Figure:
    """Monthly open and overdue amounts (bars) and days past due (lines) over the history window."""
    fig = Figure(figsize=(8.2, 2.7))
    ax = fig.subplots()
    x = np.arange(len(history))
    ax.bar(x, history["open_amount"], color="#e5e7eb", width=0.75, label="open")
    ax.bar(x, history["overdue_amount"], color=AMBER, width=0.75, label="overdue")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_money(v)))
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.set_ylabel("amount", fontsize=8.5, color=MUTED)
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


def ratio_chart(trend: pd.DataFrame, ratios: Mapping[str, str], pct: Sequence[str] = ()) -> Figure:
    """Small multiples: one line per key ratio over the statements' period ends."""
    names = [r for r in ratios if r in trend.columns][:4]
    fig = Figure(figsize=(8.2, 2.1))
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    years = [pd.Timestamp(d).strftime("%b '%y") for d in trend["period_end"]] if len(trend) else []
    for ax, name in zip(axes, names):
        v = trend[name].to_numpy(dtype=float)
        ax.plot(range(len(v)), v, color=NAVY, linewidth=1.6, marker="o", markersize=3.5)
        if len(v):
            last = v[-1]
            shown = f"{last:.0%}" if name in pct else f"{last:.2f}"
            ax.annotate(shown, (len(v) - 1, last), textcoords="offset points", xytext=(0, 6), ha="center",
                        fontsize=8, color=INK, fontweight="bold")
        ax.set_title(ratios[name], fontsize=9, color=INK, loc="left")
        step = 1 if len(years) <= 3 else 2
        ticks = list(range(len(years)))[::-1][::step][::-1]
        ax.set_xticks(ticks, [years[i] for i in ticks], fontsize=7.5)
        if name in pct:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.0%}"))
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.margins(x=0.15, y=0.3)
        _style(ax, "y")
    fig.tight_layout(w_pad=2.0)
    return fig
