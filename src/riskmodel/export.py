"""Turn a TrainResult into the champion Bundle: model, baseline, drift references, manifest, model card.

Pure: the bundle is built in memory; :meth:`riskmodel.bundle.Bundle.save` (called
by the pipeline) writes it.

Reference distributions (``Bundle.reference``) are a tidy frame, one row per
variable and bin, so drift checks can bin new data the same way:

=========  ===================================================================
variable   feature name, or ``score`` for the model's PD
kind       ``feature`` or ``score``
bin        0, 1, ... within the variable
bin_type   ``interval`` (``lower < x <= upper``; the outer edges are -inf/+inf),
           ``category`` (``x == level``) or ``missing`` (NaN, and for
           categoricals any level unseen in training)
lower      float (NaN unless interval)
upper      float (NaN unless interval)
level      category level ("" unless category)
count      training rows in the bin
share      training share of the bin (sums to 1 per variable)
=========  ===================================================================
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.bundle import Bundle
from riskmodel.config import Settings
from riskmodel.evaluation.plots import model_label
from riskmodel.evaluation.report import format_p
from riskmodel.training import TrainResult

BASELINE = "baseline_5c"
SCORE = "score"
REFERENCE_COLUMNS = ["variable", "kind", "bin", "bin_type", "lower", "upper", "level", "count", "share"]


def _numeric_reference(name: str, kind: str, values: np.ndarray, n_bins: int) -> list[dict[str, Any]]:
    x = np.asarray(values, dtype=float)
    finite = x[~np.isnan(x)]
    edges = (
        np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])) if finite.size else np.array([])
    )
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    idx = np.searchsorted(edges, finite, side="left")  # bin i holds bounds[i] < x <= bounds[i + 1]
    counts = np.bincount(idx, minlength=len(bounds) - 1)
    n = max(len(x), 1)
    rows = [
        {"variable": name, "kind": kind, "bin": i, "bin_type": "interval", "lower": float(bounds[i]),
         "upper": float(bounds[i + 1]), "level": "", "count": int(c), "share": c / n}
        for i, c in enumerate(counts)
    ]
    n_missing = int(np.isnan(x).sum())
    rows.append({"variable": name, "kind": kind, "bin": len(rows), "bin_type": "missing", "lower": np.nan,
                 "upper": np.nan, "level": "", "count": n_missing, "share": n_missing / n})
    return rows


def _categorical_reference(name: str, values: pd.Series, levels: list[str]) -> list[dict[str, Any]]:
    as_str = values.astype(object).where(values.notna(), None)
    counts = as_str.value_counts(dropna=True)
    n = max(len(values), 1)
    rows = []
    for i, level in enumerate(levels):
        c = int(counts.get(level, 0))
        rows.append({"variable": name, "kind": "feature", "bin": i, "bin_type": "category", "lower": np.nan,
                     "upper": np.nan, "level": str(level), "count": c, "share": c / n})
    other = len(values) - sum(int(counts.get(level, 0)) for level in levels)
    rows.append({"variable": name, "kind": "feature", "bin": len(rows), "bin_type": "missing", "lower": np.nan,
                 "upper": np.nan, "level": "", "count": int(other), "share": other / n})
    return rows


def reference_distributions(
    X_train: pd.DataFrame,
    score_train: np.ndarray,
    categorical_levels: dict[str, list[str]],
    n_bins: int = 10,
) -> pd.DataFrame:
    """Training distributions of every feature and of the score, for drift (PSI) checks.

    Parameters
    ----------
    X_train : training features.
    score_train : the model's training PD.
    categorical_levels : levels of each categorical feature (others are binned by quantile).
    n_bins : number of quantile bins for numeric variables (fewer when values repeat).

    Returns
    -------
    DataFrame with the columns listed in the module docstring.
    """
    rows: list[dict[str, Any]] = []
    for col in X_train.columns:
        s = X_train[col]
        if col in categorical_levels or isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object \
                or pd.api.types.is_string_dtype(s.dtype):
            levels = categorical_levels.get(col) or sorted(map(str, s.dropna().unique()))
            rows += _categorical_reference(col, s, [str(v) for v in levels])
        else:
            rows += _numeric_reference(col, "feature", pd.to_numeric(s).to_numpy(dtype=float, na_value=np.nan),
                                       n_bins)
    rows += _numeric_reference(SCORE, "score", np.asarray(score_train, dtype=float), n_bins)
    out = pd.DataFrame(rows, columns=REFERENCE_COLUMNS)
    return out.astype({"variable": str, "kind": str, "bin": "int64", "bin_type": str, "lower": float,
                       "upper": float, "level": str, "count": "int64", "share": float})


def reason_reference(X_train: pd.DataFrame, y_train: np.ndarray,
                     categorical_levels: dict[str, list[str]]) -> dict[str, Any]:
    """The reference customer the reasons are measured against and quote (see riskmodel.explain.reasons).

    A typical customer in good standing: per feature, the median (mode for categories; 0/1 flags
    rounded) of the training rows that did not default within the horizon (label 0), over their
    non-missing values.  Also each feature's training minimum and maximum (all rows), so a
    calendar-driven feature outside its training range is never quoted as a reason.
    """
    good = X_train[np.asarray(y_train) == 0]
    values: dict[str, Any] = {}
    lo: dict[str, Any] = {}
    hi: dict[str, Any] = {}
    for col in X_train.columns:
        s = good[col]
        if col in categorical_levels or isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            counts = s.dropna().astype(str).value_counts()
            values[col] = str(counts.index[0]) if len(counts) else None
            lo[col] = hi[col] = None
            continue
        x = pd.to_numeric(s).to_numpy(dtype=float, na_value=np.nan)
        x = x[~np.isnan(x)]
        med = float(np.median(x)) if x.size else None
        if med is not None and set(np.unique(x)) <= {0.0, 1.0}:
            med = float(med >= 0.5)
        values[col] = med
        allx = pd.to_numeric(X_train[col]).to_numpy(dtype=float, na_value=np.nan)
        allx = allx[~np.isnan(allx)]
        lo[col] = float(allx.min()) if allx.size else None
        hi[col] = float(allx.max()) if allx.size else None
    return {"label": "typical customer in good standing",
            "population": "training rows without a default within the horizon",
            "n_rows": int(len(good)), "values": values, "train_min": lo, "train_max": hi}


def feature_psi(reference: pd.DataFrame, X_test: pd.DataFrame) -> dict[str, float | None]:
    """Train -> test PSI of every feature (the one PSI of riskmodel.drift), by feature."""
    from riskmodel.drift import drift_report

    rep = drift_report(reference, X_test, None)
    rep = rep[rep["kind"] == "feature"]
    return {str(r.variable): (None if not np.isfinite(r.psi) else float(r.psi)) for r in rep.itertuples()}


def _card_reasons_section(manifest: dict[str, Any]) -> list[str]:
    """Model card: feature PSI (train -> test), monotonicity one at a time and jointly, reason reference."""
    from riskmodel.features.dictionary import CALENDAR_DRIVEN

    lines: list[str] = []
    rr = manifest.get("reason_reference")
    if rr:
        lines += ["## Reasons", f"Contributions are measured against, and reasons quote, a {rr['label']} "
                  f"(per-feature median of {rr['n_rows']:,} {rr['population']}). A reason is shown only when its "
                  "contribution and the side of the quoted value agree; calendar-driven features "
                  f"({', '.join(sorted(CALENDAR_DRIVEN))}) are never quoted outside their training range.", ""]
    mono = manifest.get("monotone_check") or {}
    joint = manifest.get("joint_monotone_check") or {}
    if mono or joint:
        lines += ["## Monotone constraints"]
        broken = [f for f, ok in mono.items() if not ok]
        lines.append(f"- one feature at a time: {len(mono) - len(broken)} of {len(mono)} constraints hold"
                     + (f"; violated: {', '.join(broken)}" if broken else ""))
        for concept, r in joint.items():
            moved = ", ".join(f"{f} {'+' if d > 0 else '-'}" for f, d in r["moved"].items())
            lines.append(f"- jointly, concept {concept} ({moved}; {r['rows']} rows): "
                         + ("holds" if r["ok"] else f"VIOLATED, raw score falls by up to {r['max_drop']:.3f}"))
        lines.append("")
    psi = manifest.get("feature_psi") or {}
    if psi:
        lines += ["## Feature drift, training to test (PSI)", "", "| feature | PSI | note |", "| --- | --- | --- |"]
        for f, v in sorted(psi.items(), key=lambda kv: -(kv[1] if kv[1] is not None else -1.0)):
            note = "calendar-driven" if f in CALENDAR_DRIVEN else ""
            lines.append(f"| `{f}` | {'n/a' if v is None else f'{v:.3f}'} | {note} |")
        lines.append("")
    return lines


def _baseline_definition(result: TrainResult) -> list[dict[str, Any]] | None:
    base = result.models.get(BASELINE)
    indicators = getattr(base.estimator, "indicators_", None) if base is not None else None
    if indicators is None:
        return None
    return [i.model_dump(mode="json") if hasattr(i, "model_dump") else dict(i) for i in indicators]


def to_jsonable(value: Any, nan_as_none: bool = False) -> Any:
    """Numpy scalars and arrays, dates and (optionally) NaN to plain JSON values, recursively."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, nan_as_none) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_jsonable(v, nan_as_none) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if nan_as_none and isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def model_card(manifest: dict[str, Any]) -> str:
    """A short model card (markdown) for people: use, data, period, performance, limitations."""
    name = manifest["model_name"]
    m = manifest["metrics"]
    mine = m["models"][name]
    data = m["data"]
    ci = mine.get("auc_ci95") or [float("nan"), float("nan")]
    lines = [
        f"# Model card: {model_label(name)} ({manifest['version']})",
        "",
        "## Intended use",
        "Probability that a business customer (trade credit) defaults within the next "
        f"{manifest.get('horizon_months', 12)} months, mapped to a rating grade of the master scale, "
        "to support credit-limit, payment-terms and review decisions by a credit department. "
        "It supports a credit analyst's judgement; it does not replace it, and it is not meant for consumers.",
        "",
        "## Data",
        f"- source: {data.get('source')}; validation: {data.get('split')}",
        f"- training rows: {data.get('n_train'):,}; test rows: {data.get('n_test'):,}; "
        f"test default rate: {data.get('test_positive_rate', float('nan')):.2%}",
        f"- training period: {manifest.get('training_period') or 'n/a'}; test period: "
        f"{manifest.get('test_period') or 'n/a'}",
        f"- features: {len(manifest['features'])} ({len(manifest['categorical_levels'])} categorical)",
        *([f"- features left out: {data['features_left_out']}"] if data.get("features_left_out") else []),
        *([f"- trained on a sample: {data['sample']}"] if data.get("sample") else []),  # issue 14
        "",
        "## Performance on the test rows",
        f"- AUC {mine['auc']:.3f} ({manifest.get('ci_level', 0.95):.0%} CI {ci[0]:.3f} to {ci[1]:.3f}), "
        f"Gini {mine.get('gini', float('nan')):.3f}, KS {mine.get('ks', float('nan')):.3f}, "
        f"Brier {mine.get('brier', float('nan')):.4f}, log loss {mine.get('log_loss', float('nan')):.4f}",
    ]
    for other, om in m["models"].items():
        if other != name:
            lines.append(f"- for comparison, {model_label(other)}: AUC {om['auc']:.3f}")
    lines += headline_lines(m, name)
    if "oracle" in m:
        lines.append(f"- true probabilities of the simulation (ceiling): AUC {m['oracle']['auc']:.3f}")
    lines += [
        f"- probabilities calibrated: {manifest.get('calibration')}",
        *pd_level_section(manifest),
        "",
        "## Limitations",
        "- Trained on past defaults: a change of the economy, of the customer mix or of the credit policy "
        "shifts the probabilities; watch the drift report (PSI) and re-train each quarter.",
        "- Probabilities are calibrated on the training period; the test period shows how they hold up "
        "out of time (see the calibration by grade in the report).",
        "- Features need the records the model was trained with (ledger, statements, visits, events); "
        "customers with little history get less reliable scores.",
        "- Reason codes explain the model, not the causes of default.",
        "",
    ]
    lines += card_lines(manifest.get("baseline"))
    lines += [
        *_card_reasons_section(manifest),
        f"MLflow run: {manifest.get('mlflow_run_id') or 'not tracked'}; created {manifest['created_at']}.",
        "",
    ]
    return "\n".join(lines)


def _lift_text(cmp: dict[str, Any]) -> str:
    ci = cmp.get("auc_diff_ci95")
    text = f"AUC {cmp['auc_diff']:+.3f}"
    if ci:
        text += f" ({ci[0]:+.3f} to {ci[1]:+.3f})"
    text += f", DeLong p {format_p(cmp['p_value'])}"
    if cmp.get("oracle_gap_closed") is not None:
        text += f", {cmp['oracle_gap_closed']:.0%} of the gap to the true PDs closed"
    return text


def headline_lines(metrics: dict[str, Any], name: str) -> list[str]:
    """The model card's lifts: over the experts' 5C card and over the refitted card (metrics.json blocks)."""
    out = []
    vs = metrics.get("vs_baseline", {}).get(name)
    if vs:
        out.append(f"- against the experts' 5C card: {_lift_text(vs)}")
    vr = metrics.get("vs_refitted", {}).get(name)
    if vr:
        out.append(f"- against the refitted 5C card (the experts' points, weights refitted): {_lift_text(vr)}")
    gate = metrics.get("champion_gate")
    if gate and name != BASELINE:
        out.append(f"- champion gate: beat {model_label(gate['against'])} at p < {gate['alpha']:g}")
    return out


def card_lines(baseline: list[dict[str, Any]] | None) -> list[str]:
    """The experts' 5C card in the model card: each indicator with its C, weight and rationale."""
    if not baseline:
        return []
    total = sum(float(i["weight"]) for i in baseline) or 1.0
    intro = ("Credit level = sum(weight x points) / sum(weight x 10); points 1..10 per indicator from the credit "
             "department's cut points.")
    if not any(i.get("c") == "collateral" for i in baseline):
        intro += " Collateral is not on the card: it belongs to the limit and loss side."
    out = ["## The experts' 5C card (the baseline and the 5C levels of every score)", intro, "",
           "| C | indicator | weight | rationale |", "| --- | --- | --- | --- |"]
    for i in baseline:
        rationale = str(i.get("rationale") or "").replace("|", "/")
        out.append(f"| {i['c']} | `{i['feature']}` | {float(i['weight']):g} ({float(i['weight']) / total:.0%}) "
                   f"| {rationale} |")
    return out + [""]


PHILOSOPHY_TEXT = {
    "point_in_time": (
        "Point in time: the PD is today's {horizon}-month default probability, conditional on the state of the economy "
        "and of the customer's segment at the rating date (the ledger's overdue shares say where the cycle is). "
        "PDs rise in a downturn and fall in a recovery, grades migrate with the cycle, and limits tighten at the "
        "start of a downturn, when it matters. This fits trade credit (30 to 90 day terms, exposures re-decided "
        "every quarter) and IFRS 9 expected losses."),
    "through_the_cycle": (
        "Through the cycle: the PD is the long-run average default rate of the customer's risk level, the worst "
        "observed year included. PDs and grades hardly move with the economy, so limits stay stable; in a "
        "downturn observed default rates exceed the PDs (and fall below them in good years) by design."),
    "hybrid": (
        "Hybrid: a blend of the point-in-time and the through-the-cycle level (calibration.hybrid_weight on "
        "point in time): grades migrate with the cycle, but less; limits move part of the way."),
}


def pd_level_section(manifest: dict[str, Any]) -> list[str]:
    """Model-card lines on the rating philosophy and the backtest of the PD level (issue 9)."""
    phil = manifest.get("rating_philosophy")
    bt = (manifest.get("metrics") or {}).get("backtest")
    lines: list[str] = []
    ct = manifest.get("central_tendency")
    if phil and ct:
        from riskmodel.models.central_tendency import CentralTendency

        lines += ["", "## Rating philosophy and PD level", PHILOSOPHY_TEXT.get(phil, str(phil)).replace("{horizon}", str(manifest.get("horizon_months", 12))),
                  f"- PD level: {CentralTendency.from_dict(ct).describe()}"]
    elif phil:
        lines += ["", "## Rating philosophy and PD level",
                  "No central-tendency step on this path: the PDs keep the learned model's own calibration on "
                  "the training rows, whatever the economy at the rating date (no declared philosophy applies)."]
    if bt:
        lines += ["", "## Backtest of the PDs (test period)", f"- {bt['verdict']}",
                  f"- traffic light (correlation-adjusted binomial, asset correlation {bt['asset_correlation']:g}): "
                  f"{bt['light']}; Hosmer-Lemeshow p {format_p(bt['hosmer_lemeshow']['p_value'])}"]
        lines += [f"- grade {r['grade']}: {r['n']:,} rows, observed {r['observed_rate']:.2%} vs PD {r['mean_pd']:.2%}: "
                  f"{r['light']}" for r in bt.get("by_grade", []) if r["n"]]
        lines += [f"- cohort {r['snapshot_date']}: observed {r['observed_rate']:.2%} vs PD {r['mean_pd']:.2%}: "
                  f"{r['light']}" for r in bt.get("by_snapshot", [])]
    return lines


def build_bundle(
    result: TrainResult,
    settings: Settings,
    run_id: str | None,
    model_name: str | None = None,
    created_at: dt.datetime | None = None,
) -> Bundle:
    """Package one model of a training run (the champion by default) as a :class:`Bundle`.

    Parameters
    ----------
    result : the training run.
    settings : master scale, calibration, bins for the drift references.
    run_id : the MLflow run the bundle belongs to (None when not tracked).
    model_name : which model to package; the champion when None.
    created_at : timestamp of the version (now when None).

    Returns
    -------
    Bundle : model, fitted 5C baseline (None when the run had none), reference
    distributions, manifest and model card.
    """
    name = model_name or result.champion
    if name not in result.models:
        raise KeyError(f"no model named {name!r} in the training result; have {sorted(result.models)}")
    chosen = result.models[name]
    created = created_at or dt.datetime.now(dt.UTC)
    version = f"{created:%Y%m%d-%H%M%S}-{(run_id or 'local')[:8]}"
    base = result.models.get(BASELINE)
    reference = reference_distributions(
        result.X_train, chosen.pd_train, result.categorical_levels, settings.evaluation.psi_bins
    )
    extra = result.extra or {}
    manifest: dict[str, Any] = {
        "model_name": name,
        "champion": result.champion,
        "is_champion": name == result.champion,
        "version": version,
        "features": list(result.features),
        "categorical_levels": {k: [str(v) for v in lv] for k, lv in result.categorical_levels.items()},
        "feature_dtypes": {c: str(result.X_train[c].dtype) for c in result.features if c in result.X_train},
        "metrics": to_jsonable(result.metrics_json(), nan_as_none=True),
        "master_scale": settings.master_scale.model_dump(mode="json"),
        "baseline": _baseline_definition(result),
        "calibration": settings.models.calibration,
        "calibration_folds": settings.models.calibration_folds,
        "rating_philosophy": settings.calibration.philosophy,
        "central_tendency": to_jsonable((extra.get("central_tendency") or {}).get(name)),
        "horizon_months": settings.snapshots.horizon_months,
        "feature_settings": settings.features.model_dump(mode="json"),  # the registry of these features
        "training_period": to_jsonable(extra.get("train_period")),
        "test_period": to_jsonable(extra.get("test_period")),
        "target": extra.get("target"),
        "ci_level": settings.evaluation.ci_level,
        "created_at": created.isoformat(timespec="seconds"),
        "mlflow_run_id": run_id,
        "reference_format": "see riskmodel.export: variable, kind, bin, bin_type, lower, upper, level, count, share",
        "reason_reference": to_jsonable(reason_reference(result.X_train[[f for f in result.features
                                                                          if f in result.X_train.columns]],
                                                         result.y_train, result.categorical_levels),
                                        nan_as_none=True),
        "feature_psi": {f: v for f, v in feature_psi(reference, result.X_test).items() if f in result.features},
        "monotone_check": to_jsonable((extra.get("monotone_check") or {}).get(name, {})),
        "joint_monotone_check": to_jsonable((extra.get("joint_monotone_check") or {}).get(name, {}),
                                            nan_as_none=True),
    }
    return Bundle(
        model=chosen.estimator,
        baseline=base.estimator if base is not None else None,
        reference=reference,
        manifest=manifest,
        model_card=model_card(manifest),
    )
