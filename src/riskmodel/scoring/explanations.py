"""Explanations: the reference customer the reasons quote, reason records, and one customer's explanation.

The reasons themselves are chosen by :class:`riskmodel.explain.reasons.ReasonRule` and worded
by :class:`riskmodel.explain.reasons.ReasonFormatter`; this module holds what scoring adds:
which reference customer they are measured against (:func:`reason_reference`), each C of a
feature (:func:`c_of`), the records of one customer's reasons (:func:`reason_records`) and
the :class:`Explanation` the memo and the API read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pandas import Series  # the dataclass field ``pd`` below shadows the module in annotations

from riskmodel.bundle import Bundle
from riskmodel.explain.comparison import comparison_points
from riskmodel.explain.policy import Policy
from riskmodel.explain.reasons import REFERENCE_LABEL, ReasonFormatter, ReasonRule, feature_phrase
from riskmodel.explain.templates import TEMPLATES, template_for
from riskmodel.features.dictionary import concept_of, recorded_catalog


@dataclass
class Explanation:
    """One customer's score and its explanation (for the memo and the API)."""

    customer_id: str | None
    status: str
    pd: float | None
    grade: str | None
    credit_level: float | None
    sub_scores: dict[str, float]
    reasons_up: list[dict[str, Any]]
    reasons_down: list[dict[str, Any]]
    policy: Policy | None
    #: contributions by feature (``contribution_names``); see :attr:`contributions`
    contribution_values: np.ndarray | None
    expected_value: float | None
    model_version: str
    model_name: str
    #: the customer's feature values (``contribution_names``; category labels, None or NaN missing); see :attr:`features`
    feature_values: Sequence[Any] = ()
    #: contributions summed by concept (``concept_names``, riskmodel.features.dictionary.CONCEPTS), same base value
    concept_values: np.ndarray | None = None
    #: what ``expected_value`` is: the reference customer's score, or the model's mean score
    base_label: str = "portfolio average"
    contribution_names: Sequence[str] = ()
    concept_names: Sequence[str] = ()

    # built on demand: the memo reads them, the REST service does not (two Series and a dict a
    # customer cost as much as the rest of a batched explanation)
    @cached_property
    def features(self) -> dict[str, Any]:
        """Feature -> the customer's value (None when missing)."""
        return {f: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                for f, v in zip(self.contribution_names, self.feature_values)}

    @cached_property
    def contributions(self) -> Series | None:
        """Contributions by feature (log-odds; positive raises the PD), None when the model gives none."""
        if self.contribution_values is None:
            return None
        return pd.Series(self.contribution_values, index=list(self.contribution_names))

    @cached_property
    def concept_contributions(self) -> Series | None:
        """Contributions summed by concept, None when not known."""
        if self.concept_values is None:
            return None
        return pd.Series(self.concept_values, index=list(self.concept_names))

    def waterfall(self) -> tuple[Series, dict[str, str], str, str]:
        """(contributions, bar labels, base label, remainder noun) for the memo's waterfall.

        By concept when known (a concept's bar is labelled with the member that carries most of
        it), else by feature; the bars still sum to score - base value.
        """
        c = self.contributions if self.contributions is not None else pd.Series(dtype=float)
        if self.concept_contributions is None:
            labels = {f: feature_phrase(f, self.features.get(f)) for f in c.index}
            return c, labels, self.base_label, "features"
        concepts = pd.Series(concept_of(list(c.index)), index=c.index)
        labels = {}
        for concept in self.concept_contributions.index:
            members = c[concepts == concept]
            lead = members.abs().idxmax() if len(members) else concept
            phrase = feature_phrase(lead, self.features.get(lead))
            labels[concept] = phrase if len(members) <= 1 else f"{concept}: {phrase}"
        return self.concept_contributions, labels, self.base_label, "concepts"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (no contributions series)."""
        return {
            "customer_id": self.customer_id,
            "status": self.status,
            "pd": self.pd,
            "grade": self.grade,
            "credit_level": self.credit_level,
            "sub_scores": self.sub_scores,
            "reasons_up": self.reasons_up,
            "reasons_down": self.reasons_down,
            "policy": None if self.policy is None else {**self.policy.as_dict(), "terms": self.policy.terms_text},
            "model_version": self.model_version,
            "model_name": self.model_name,
        }


def c_of(bundle: Bundle) -> dict[str, str]:
    """Feature -> its C (data dictionary, then the bundle's baseline indicators for other features)."""
    out = {f: info.c for f, info in recorded_catalog(bundle.manifest.get("feature_settings")).items()}
    for ind in bundle.manifest.get("baseline") or []:
        if isinstance(ind, Mapping) and ind.get("feature") and ind.get("c"):
            out.setdefault(str(ind["feature"]), str(ind["c"]))
    return out


def reason_reference(bundle: Bundle, features: Sequence[str], levels: Mapping[str, Sequence[str]]
                     ) -> tuple[dict[str, Any], str, np.ndarray, np.ndarray]:
    """The reference customer of the reasons: values by feature, its label, training min and max.

    From the manifest's ``reason_reference`` (see :func:`riskmodel.export.reason_reference`);
    bundles made before it compare with the portfolio median of the drift reference instead
    (the contributions are then measured against that same point).
    """
    rr = bundle.manifest.get("reason_reference")
    nan = float("nan")
    if rr:
        vals = rr.get("values", {})
        lo = np.array([nan if rr.get("train_min", {}).get(f) is None else float(rr["train_min"][f])
                       for f in features])
        hi = np.array([nan if rr.get("train_max", {}).get(f) is None else float(rr["train_max"][f])
                       for f in features])
        return {f: vals.get(f) for f in features}, str(rr.get("label") or REFERENCE_LABEL), lo, hi
    points = comparison_points(bundle.reference, list(features))
    out = {}
    for f, v in points.items():
        if isinstance(v, str) and f not in levels:  # a 0/1 flag that is 1 for most rows
            v = 1.0
        elif isinstance(v, float) and template_for(f).kind == "flag" and not np.isnan(v):
            v = float(v >= 0.5)
        out[f] = v
    lo, hi = np.full(len(features), nan), np.full(len(features), nan)
    ref = bundle.reference
    for j, f in enumerate(features):
        g = ref[(ref["variable"] == f) & (ref["bin_type"] == "interval")] if len(ref) else ref
        edges = np.concatenate([g["lower"].to_numpy(dtype=float), g["upper"].to_numpy(dtype=float)]) \
            if len(g) else np.zeros(0)
        edges = edges[np.isfinite(edges)]
        if edges.size:
            lo[j], hi[j] = edges.min(), edges.max()
    return out, "portfolio median", lo, hi


def reason_records(formatter: ReasonFormatter, rule: ReasonRule, comparison: Mapping[str, Any],
                   reference_label: str, idx_row: np.ndarray, contrib_row: np.ndarray,
                   texts_row: Sequence[object], values_row: Sequence[object],
                   concept_row: np.ndarray | None = None) -> list[dict[str, Any]]:
    """The formatter's reason records plus the concept each speaks for, its summed contribution and
    the reference value the sentence quotes (``concept_row``: the row's concept sums when at hand)."""
    recs = formatter.records(idx_row, contrib_row, texts_row, values_row)
    sums = rule.concept_sums(contrib_row[None, :])[0] if concept_row is None else concept_row
    for rec, j in zip(recs, [j for j in idx_row.tolist() if j >= 0]):
        k = int(rule.concept_id[j])
        rec["concept"] = rule.concept_names[k]
        rec["concept_contribution"] = float(sums[k])
        ref = comparison.get(rule.features[j])
        rec["reference_value"] = None if ref is None or (isinstance(ref, float) and np.isnan(ref)) else ref
        rec["reference"] = reference_label
    return recs


def template_coverage(features: Sequence[str]) -> list[str]:
    """Features without a reason template (they read with a plain generic sentence)."""
    return [f for f in features if f not in TEMPLATES]
