"""Reason sentences: how a feature's value reads, rendered from the feature registry's templates.

A reason reads ``"<C>: <text with the customer's value> (<comparison>)."``, for
example "Character: 3 invoices paid more than 60 days late in the last 12
months (typical customer in good standing: 0)." (the comparison is the reference
customer the contributions are measured against; see riskmodel.explain.reasons)  :data:`TEMPLATES` holds one
:class:`ReasonTemplate` per feature of :data:`riskmodel.features.dictionary.FEATURES`
(a test iterates FEATURES); the texts and the C live in the feature registry
(:mod:`riskmodel.features.dictionary`), so each is said once; this module renders them.

Values are shown through a *format kind* (``count``, ``money``, ``pct`` ...);
:func:`display_key` rounds an array of values to what will be shown, so the
vectorised formatter renders each distinct shown value once.
"""

from __future__ import annotations

import numpy as np

from riskmodel.features.dictionary import FORMAT_KINDS, ReasonTemplate, reason_templates

__all__ = ["FORMAT_KINDS", "TEMPLATES", "ReasonTemplate", "display_key", "format_money", "format_value",
           "generic_template",
           "reason_templates", "render_body", "render_comparison", "sentence", "template_for"]

TEMPLATES: dict[str, ReasonTemplate] = reason_templates()
"""One template per feature of the data dictionary, default settings (the tests check every feature has one)."""


def generic_template(feature: str, categorical: bool = False) -> ReasonTemplate:
    """A plain template for a feature outside the dictionary (flat-table models).

    ``categorical``: the feature holds text levels (a flat table's text column), so it reads as a category.
    """
    return ReasonTemplate(f"{feature.replace('_', ' ')} is {{value}}", "category" if categorical else "score")


def template_for(feature: str, categorical: bool = False) -> ReasonTemplate:
    """The feature's template, or a plain one for features outside the dictionary."""
    return TEMPLATES.get(feature) or generic_template(feature, categorical)


# ------------------------------------------------------------------ formatting
def _sig3(x: np.ndarray) -> np.ndarray:
    """Round to 3 significant digits (0 and NaN kept)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.abs(x)))
    mag = np.where(np.isfinite(mag), mag, 0.0)
    scale = 10.0 ** (mag - 2)
    return np.round(x / scale) * scale


def display_key(kind: str, values: np.ndarray) -> np.ndarray:
    """Round values to what :func:`format_value` shows, so equal keys read the same."""
    return _display_key(kind, np.asarray(values, dtype=float)) + 0.0  # + 0.0 turns -0.0 into 0.0


def _display_key(kind: str, v: np.ndarray) -> np.ndarray:
    if kind in ("count", "days", "months", "flag"):
        return np.round(v)
    if kind in ("money",):
        return _sig3(v)
    if kind == "log_money":
        return _sig3(np.expm1(v))
    if kind in ("pct", "signed_pct"):
        return np.round(v * 1000.0) / 1000.0  # 0.1 percentage point
    if kind in ("years", "signed_days", "rating", "signed_rating", "score10"):
        return np.round(v, 1)
    if kind in ("ratio", "times", "score"):
        return np.where(np.abs(v) >= 100, np.round(v), np.where(np.abs(v) >= 10, np.round(v, 1), np.round(v, 2)))
    return v


def _plural(n: float, unit: tuple[str, str]) -> str:
    return unit[0] if n == 1 else unit[1]


def format_money(x: float) -> str:
    """12.3k, 1.25m, 850, -4.1k."""
    a = abs(x)
    if a >= 1e9:
        s = f"{x / 1e9:.3g}bn"
    elif a >= 1e6:
        s = f"{x / 1e6:.3g}m"
    elif a >= 1e3:
        s = f"{x / 1e3:.3g}k"
    else:
        s = f"{x:.3g}" if a else "0"
    return s


def _pct(x: float, signed: bool = False) -> str:
    p = x * 100.0
    body = f"{p:.0f}" if abs(p) >= 10 or p == 0 or float(p).is_integer() else f"{p:.1f}"
    if signed and p > 0:
        body = "+" + body
    return body + "%"


def _num(x: float) -> str:
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def format_value(kind: str, value: object, unit: tuple[str, str] | None = None) -> str:
    """The shown form of one (display-rounded) value of a format kind."""
    if kind == "category":
        return str(value).replace("_", " ")
    v = float(value)  # type: ignore[arg-type]
    if kind == "count":
        n = round(v)
        return f"{n:,}" + (f" {_plural(n, unit)}" if unit else "")
    if kind == "days":
        n = round(v)
        return f"{n:,} {'day' if abs(n) == 1 else 'days'}"
    if kind == "signed_days":
        return f"{v:+.1f} days"
    if kind == "months":
        n = round(v)
        return "less than a month" if n == 0 else f"{n:,} {'month' if n == 1 else 'months'}"
    if kind == "years":
        return f"{v:.1f} years"
    if kind == "money":
        return format_money(v)
    if kind == "log_money":
        return format_money(v)  # the key is already expm1-ed
    if kind == "pct":
        return _pct(v)
    if kind == "signed_pct":
        return _pct(v, signed=True)
    if kind == "ratio":
        return _num(v)
    if kind == "times":
        return f"{_num(v)} times"
    if kind == "score":
        return _num(v)
    if kind == "rating":
        return f"{v:.1f} / 5"
    if kind == "signed_rating":
        return f"{v:+.1f} points"
    if kind == "score10":
        return f"{v:.1f} / 10"
    if kind == "flag":
        return "yes" if v >= 0.5 else "no"
    raise ValueError(f"unknown format kind {kind!r}")


def render_body(template: ReasonTemplate, key: object) -> str:
    """The sentence body for one display key (NaN / None -> the template's missing text)."""
    if key is None or (isinstance(key, float) and np.isnan(key)):
        return f"{template.label} not known: {template.missing}" if template.label else template.missing
    if template.kind == "flag":
        return template.yes if float(key) >= 0.5 else template.no  # type: ignore[arg-type]
    return template.text.format(value=format_value(template.kind, key, template.unit))


def render_comparison(template: ReasonTemplate, point: object, reference: str | None = None) -> str:
    """The comparison in brackets: the portfolio median, share of 1s or most common level.

    With ``reference`` (e.g. "typical customer in good standing") the point is that reference
    customer's value and reads ``"<reference>: <value>"`` for every kind.
    """
    if reference is not None:
        if point is None or (isinstance(point, float) and np.isnan(point)):
            return f"{reference}: not known"
        if template.kind == "category":
            return f"{reference}: {format_value('category', point)}"
        if template.kind == "flag":
            return f"{reference}: {render_body(template, float(point))}"  # type: ignore[arg-type]
        key = display_key(template.kind, np.array([float(point)]))[0]  # type: ignore[arg-type]
        return f"{reference}: {format_value(template.kind, key, None if template.kind == 'count' else template.unit)}"
    if point is None or (isinstance(point, float) and np.isnan(point)):
        return "no portfolio comparison"
    if template.kind == "flag":
        share = point if isinstance(point, str) else _pct(float(point))  # type: ignore[arg-type]
        return template.share.format(share=share)
    if template.kind == "category":
        return f"most common in the portfolio: {format_value('category', point)}"
    key = display_key(template.kind, np.array([float(point)]))[0]  # type: ignore[arg-type]
    shown = format_value(template.kind, key, None if template.kind == "count" else template.unit)
    return f"portfolio median: {shown}"


def sentence(c_label: str, body: str, comparison: str) -> str:
    """``"<C>: <body> (<comparison>)."``"""
    return f"{c_label}: {body} ({comparison})."
