"""Scorer: the champion bundle turned into PDs, grades, 5C levels, reasons and policy (batch and API).

One :class:`Scorer` is built per bundle and shared by batch scoring, the memo
and the REST service.  Contributions are computed once per row and reused for
the reasons and the memo's waterfall.  For LightGBM champions they come from
:class:`riskmodel.explain.treeshap.LightGBMTreeShap` against the bundle's reference
customer in good standing (exact baseline Shapley values, tabulated; they sum to
score - reference score, and the reasons quote that same customer); other models
use their own ``contributions(X)``.  Reasons follow :class:`riskmodel.explain.reasons.ReasonRule`
(one reason per concept, never contradicting the value it quotes); ``score_features``
puts the counts (shown, contradictions, withheld) in ``result.attrs["reasons"]``.

Row statuses (column ``status``): ``scored``; ``in_default`` (the customer's
first default is on or before the date: grade D, PD 1, the default grade's
policy); ``not_yet_onboarded`` (opened after the date); ``no_activity``
(onboarded but nothing to judge: no invoice in the last 24 months, nothing
open, no financial statement and no visit in the last 24 months).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.bundle import Bundle
from riskmodel.config import C_NAMES, LimitReviewSettings, MasterScaleSettings, ScoringSettings, Settings
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.exceptions import ModelNotFoundError, NoDataError
from riskmodel.explain.comparison import comparison_points
from riskmodel.explain.policy import Policy, policy_for, policy_frame
from riskmodel.explain.reasons import REFERENCE_LABEL, ReasonFormatter, ReasonRule, count_contradictions
from riskmodel.explain.templates import TEMPLATES, template_for
from riskmodel.features.build import POPULATION_STATUS
from riskmodel.grades import assign_grades

log = logging.getLogger(__name__)

STATUS = "status"
SCORED = "scored"
IN_DEFAULT = "in_default"
NOT_YET_ONBOARDED = "not_yet_onboarded"
NO_ACTIVITY = "no_activity"
STATUSES: tuple[str, ...] = (SCORED, IN_DEFAULT, NOT_YET_ONBOARDED, NO_ACTIVITY)

PD = "pd"
GRADE = "grade"
CREDIT_LEVEL = "credit_level"
MODEL_VERSION = "model_version"
LEVEL_PREFIX = "level_"
#: an as-of date more than this many days after the last record is refused (no data describes it)
MAX_DAYS_AFTER_DATA = 366

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# no_activity: every one of these is zero (or missing) for an onboarded customer
_ACTIVITY_FEATURES: tuple[str, ...] = ("pay_n_invoices_24m", "pay_open_amount", "fin_has_statement",
                                       "vis_n_visits_24m")


def reason_columns(n_up: int, n_down: int) -> tuple[list[str], list[str]]:
    """Names of the reason text columns and of their feature-code columns."""
    text = [f"reason_up_{i + 1}" for i in range(n_up)] + [f"reason_down_{i + 1}" for i in range(n_down)]
    return text, [f"{c}_code" for c in text]


def output_columns(n_up: int, n_down: int) -> list[str]:
    """The columns of a batch score table, in order."""
    text, codes = reason_columns(n_up, n_down)
    return [S.CUSTOMER_ID, S.SNAPSHOT_DATE, STATUS, PD, GRADE, CREDIT_LEVEL,
            *[LEVEL_PREFIX + c for c in C_NAMES], *text, *codes,
            "limit", "limit_basis", "terms_days", "prepayment_share", "review_months", MODEL_VERSION]


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
    contributions: pd.Series | None
    expected_value: float | None
    model_version: str
    model_name: str
    features: dict[str, Any] = field(default_factory=dict)
    #: contributions summed by concept (riskmodel.features.dictionary.CONCEPTS), same base value
    concept_contributions: pd.Series | None = None
    #: what ``expected_value`` is: the reference customer's score, or the model's mean score
    base_label: str = "portfolio average"

    def waterfall(self) -> tuple[pd.Series, dict[str, str], str, str]:
        """(contributions, bar labels, base label, remainder noun) for the memo's waterfall.

        By concept when known (a concept's bar is labelled with the member that carries most of
        it), else by feature; the bars still sum to score - base value.
        """
        from riskmodel.explain.reasons import feature_phrase
        from riskmodel.features.dictionary import concept_of

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


@dataclass
class _Scored:
    """Everything computed for the scored rows of a frame (arrays aligned with ``rows``)."""

    rows: np.ndarray
    M: np.ndarray  # encoded features of the scored rows
    pd: np.ndarray
    grade: np.ndarray
    level: np.ndarray
    sub: pd.DataFrame
    contrib: np.ndarray
    up: np.ndarray
    down: np.ndarray
    reason_counts: dict[str, int] = field(default_factory=dict)


class Scorer:
    """Score feature records with a champion bundle.

    Parameters
    ----------
    bundle : Bundle
        The exported champion (model, 5C baseline, reference, manifest).
    scoring : ScoringSettings, optional
        Number of reasons each way (defaults of params.yaml's ``scoring`` when None).
    master_scale : MasterScaleSettings, optional
        Grades and policy; the bundle's own master scale when None.
    fast_shap : bool
        Use the tabulated TreeSHAP for LightGBM models (exact; falls back to the
        model's ``contributions`` when the trees are too deep).

    Examples
    --------
    >>> scorer = Scorer(Bundle.load("models/champion"))          # doctest: +SKIP
    >>> table = scorer.score_features(features_frame)            # doctest: +SKIP
    """

    def __init__(self, bundle: Bundle, scoring: ScoringSettings | None = None,
                 master_scale: MasterScaleSettings | None = None, fast_shap: bool = True,
                 limit_review: LimitReviewSettings | None = None) -> None:
        self.bundle = bundle
        self.scoring = scoring or ScoringSettings()
        # the recommended limit is capped as in the memo (params.yaml limit_review)
        self.limit_review = limit_review or LimitReviewSettings()
        if master_scale is None:
            if "master_scale" not in bundle.manifest:
                raise ValueError("the bundle manifest has no master_scale; pass master_scale explicitly")
            master_scale = MasterScaleSettings.model_validate(bundle.manifest["master_scale"])
        self.master_scale = master_scale
        self.features: list[str] = list(bundle.features)
        if not self.features:
            raise ValueError("the bundle lists no features")
        self.levels: dict[str, list[str]] = {k: [str(v) for v in lv]
                                             for k, lv in bundle.manifest.get("categorical_levels", {}).items()}
        self.c_of = self._c_of(bundle)
        self._pos = {f: j for j, f in enumerate(self.features)}
        self._level_pos = {f: {v: k for k, v in enumerate(lv)} for f, lv in self.levels.items()}
        self.comparison, self.reference_label, lower, upper = self._reason_reference(bundle)
        self.reference_row = self.encode_records([self.comparison])[0]
        self.formatter = ReasonFormatter(self.features, self.c_of, self.comparison, self.levels,
                                         reference_label=self.reference_label)
        self.rule = ReasonRule(self.features, self.reference_row, lower, upper)
        self._explainer = self._fast_explainer(bundle.model) if fast_shap else None
        self._lgb_cols: np.ndarray | None = None
        self._lgb_recode: dict[int, np.ndarray] = {}
        self._calibrate: Any = None
        if self._explainer is not None:
            self._align_booster()
        self.central_tendency = self._central_tendency(bundle)

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _central_tendency(bundle: Bundle) -> Any:
        """The bundle's PD-level calibration (issue 9), or None for a bundle without one."""
        ct = bundle.manifest.get("central_tendency")
        if not ct:
            return None
        from riskmodel.models.central_tendency import CentralTendency

        return CentralTendency.from_dict(ct)

    def _relevel(self, sc: "_Scored", frame: pd.DataFrame | None) -> None:
        """Set the scored rows' PD level for the rating philosophy; grades follow the new PDs.

        ``frame`` holds the input rows (``sc.rows`` picks the scored ones; None: no covariates);
        only the portfolio covariates are read from it, and a missing one is taken at its
        training average (a level for average conditions, not today's).
        """
        ct = self.central_tendency
        if ct is None or not len(sc.pd):
            return
        names = list(ct.covariates)
        cov = None
        if names:
            have = [c for c in names if frame is not None and c in frame.columns]
            cov = (frame[have].iloc[sc.rows] if have else pd.DataFrame(index=range(len(sc.rows))))
            cov = cov.reindex(columns=names).reset_index(drop=True)
        sc.pd = ct.apply(sc.pd, cov)
        sc.grade = np.asarray(assign_grades(sc.pd, self.master_scale), dtype=object)

    @staticmethod
    def _c_of(bundle: Bundle) -> dict[str, str]:
        from riskmodel.features.dictionary import FEATURES, PORTFOLIO_FEATURES

        out = {f: info.c for f, info in {**FEATURES, **PORTFOLIO_FEATURES}.items()}
        for ind in bundle.manifest.get("baseline") or []:
            if isinstance(ind, Mapping) and ind.get("feature") and ind.get("c"):
                out.setdefault(str(ind["feature"]), str(ind["c"]))
        return out

    def _reason_reference(self, bundle: Bundle) -> tuple[dict[str, Any], str, np.ndarray, np.ndarray]:
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
                           for f in self.features])
            hi = np.array([nan if rr.get("train_max", {}).get(f) is None else float(rr["train_max"][f])
                           for f in self.features])
            return {f: vals.get(f) for f in self.features}, str(rr.get("label") or REFERENCE_LABEL), lo, hi
        points = comparison_points(bundle.reference, self.features)
        vals = {}
        for f, v in points.items():
            if isinstance(v, str) and f not in self.levels:  # a 0/1 flag that is 1 for most rows
                v = 1.0
            elif isinstance(v, float) and template_for(f).kind == "flag" and not np.isnan(v):
                v = float(v >= 0.5)
            vals[f] = v
        lo, hi = np.full(len(self.features), nan), np.full(len(self.features), nan)
        ref = bundle.reference
        for j, f in enumerate(self.features):
            g = ref[(ref["variable"] == f) & (ref["bin_type"] == "interval")] if len(ref) else ref
            edges = np.concatenate([g["lower"].to_numpy(dtype=float), g["upper"].to_numpy(dtype=float)]) \
                if len(g) else np.zeros(0)
            edges = edges[np.isfinite(edges)]
            if edges.size:
                lo[j], hi[j] = edges.min(), edges.max()
        return vals, "portfolio median", lo, hi

    @staticmethod
    def _fast_explainer(model: Any) -> Any:
        booster = getattr(model, "booster_", None)
        if booster is None:
            return None
        from riskmodel.explain.treeshap import LightGBMTreeShap, can_explain

        if not can_explain(booster):
            log.info("trees too deep for the tabulated TreeSHAP; using the model's pred_contrib")
            return None
        return LightGBMTreeShap(booster, lazy=True)  # tabulated once the reference customer is set

    def _align_booster(self) -> None:
        """Map our feature order and category codes onto the booster's; check the fast PD path."""
        ex = self._explainer
        names = ex.feature_names
        if sorted(names) != sorted(self.features):
            log.info("booster features differ from the bundle's; using the model's own contributions")
            self._explainer = None
            return
        if names != self.features:
            pos = {f: j for j, f in enumerate(self.features)}
            self._lgb_cols = np.array([pos[f] for f in names])
        cat_names = [f for f in names if f in self.levels]
        booster_levels = ex.pandas_categorical or []
        if len(booster_levels) != len(cat_names):
            log.info("booster categories do not match the bundle's; using the model's own contributions")
            self._explainer = None
            return
        for name, blevels in zip(cat_names, booster_levels):
            ours = self.levels[name]
            bl = [str(v) for v in blevels]
            if bl != ours:
                self._lgb_recode[names.index(name)] = np.array(
                    [bl.index(v) if v in bl else np.nan for v in ours], dtype=float)
        # contributions against the reference customer the reasons quote (baseline Shapley)
        self._explainer = ex.with_reference(self._lgb_matrix(self.reference_row[None, :])[0])
        self._calibrate = self._fast_calibration()

    def _fast_calibration(self) -> Any:
        """PD from the TreeSHAP raw score (sigmoid, then the model's calibrator), checked on probe rows.

        Returns a function raw -> PD, or None (then ``predict_proba`` is called) when
        the model's calibration cannot be reproduced exactly.
        """
        from scipy.special import expit

        model = self.bundle.model
        predictor = getattr(model, "predictor_", None)
        lgbm = getattr(model, "lgbm_", None)
        if predictor is None:
            return None
        if predictor is lgbm:
            def calibrate(raw: np.ndarray) -> np.ndarray:
                return expit(raw)
        else:
            try:
                (cal,) = predictor.calibrated_classifiers_
                (calibrator,) = cal.calibrators
            except (AttributeError, ValueError):
                return None
            # scikit-learn calibrates decision_function when the estimator has one, else predict_proba
            on_raw = hasattr(cal.estimator, "decision_function")

            def calibrate(raw: np.ndarray) -> np.ndarray:
                p = np.asarray(calibrator.predict(raw if on_raw else expit(raw)), dtype=float)
                return np.clip(p, 0.0, 1.0)
        probe = self._probe_frame()
        M = self.encode(probe)
        X = self.to_frame(M)
        _, raw = self._contrib_matrix(M)
        expected = np.asarray(model.predict_proba(X), dtype=float)[:, 1]
        if not np.allclose(calibrate(raw), expected, rtol=0, atol=1e-9):
            log.info("fast PD path disagrees with predict_proba; using predict_proba")
            return None
        return calibrate

    def _probe_frame(self) -> pd.DataFrame:
        """A few rows spread over the training distribution (from the reference bins) plus an empty row."""
        rows = []
        ref = self.bundle.reference
        for q in (0.1, 0.5, 0.9):
            row: dict[str, Any] = {}
            for f in self.features:
                g = ref[(ref["variable"] == f) & (ref["bin_type"] == "interval")] if len(ref) else ref
                if f in self.levels:
                    lv = self.levels[f]
                    row[f] = lv[int(q * (len(lv) - 1))] if lv else None
                elif len(g):
                    edges = g["upper"].to_numpy(dtype=float)
                    finite = edges[np.isfinite(edges)]
                    row[f] = float(finite[int(q * (len(finite) - 1))]) if len(finite) else 0.0
                else:
                    row[f] = 0.0
            rows.append(row)
        rows.append({f: None for f in self.features})
        return pd.DataFrame(rows, columns=self.features)

    @property
    def version(self) -> str:
        return self.bundle.version

    @property
    def model_name(self) -> str:
        return self.bundle.model_name

    # ------------------------------------------------------------ inputs
    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's features as a float matrix (rows x features; categories as level codes, NaN missing).

        Missing columns are NaN.  Numeric columns are converted in one block; a
        numeric feature holding text raises ValueError naming the column and the
        first offending values.  Categorical levels unseen in training become
        missing (as in the model itself), with a warning.
        """
        n = len(frame)
        M = np.full((n, len(self.features)), np.nan)
        num = [j for j, f in enumerate(self.features) if f not in self.levels and f in frame.columns]
        if num:
            block = frame[[self.features[j] for j in num]]
            try:
                M[:, num] = block.to_numpy(dtype=float, na_value=np.nan)
            except (TypeError, ValueError):
                for j in num:
                    col = block[self.features[j]]
                    conv = pd.to_numeric(col, errors="coerce")
                    bad = conv.isna() & col.notna()
                    if bad.any():
                        raise ValueError(f"feature {self.features[j]!r}: {int(bad.sum())} non-numeric value(s), "
                                         f"e.g. {list(col[bad].astype(str).unique()[:3])}") from None
                    M[:, j] = conv.to_numpy(dtype=float, na_value=np.nan)
        for j, name in enumerate(self.features):
            if name not in self.levels or name not in frame.columns:
                continue
            levels = self.levels[name]
            col = frame[name]
            if isinstance(col.dtype, pd.CategoricalDtype) and list(col.cat.categories) == levels:
                codes = np.asarray(col.cat.codes, dtype=float)
            else:
                values = col.astype(object).where(col.notna(), None)
                cat = pd.Categorical([None if v is None else str(v) for v in values], categories=levels)
                unseen = cat.isna() & values.notna().to_numpy()
                if unseen.any():
                    log.warning("feature %s: %d value(s) not among the training levels (e.g. %s); "
                                "scored as missing", name, int(unseen.sum()), list(values[unseen].unique()[:3]))
                codes = np.asarray(cat.codes, dtype=float)
            codes[codes < 0] = np.nan
            M[:, j] = codes
        return M

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Feature records (name -> value, already type-checked) as the float matrix of :meth:`encode`."""
        M = np.full((len(records), len(self.features)), np.nan)
        pos = self._pos
        for i, rec in enumerate(records):
            for name, value in rec.items():
                j = pos.get(name)
                if j is None or value is None:
                    continue
                lv = self._level_pos.get(name)
                M[i, j] = float(lv.get(str(value), np.nan)) if lv is not None else float(value)
        return M

    def to_frame(self, M: np.ndarray, index: Any = None) -> pd.DataFrame:
        """The typed feature frame of a matrix from :meth:`encode` (categoricals as pandas categories)."""
        X = pd.DataFrame(M, columns=self.features, index=index, copy=True)
        for name, levels in self.levels.items():
            if name in X.columns:
                codes = X[name].to_numpy()
                X[name] = pd.Categorical.from_codes(np.where(np.isnan(codes), -1, codes).astype(int),
                                                    categories=levels)
        return X

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns from ``frame``, typed (missing columns are NaN)."""
        return self.to_frame(self.encode(frame), frame.index)

    def _lgb_matrix(self, M: np.ndarray) -> np.ndarray:
        """The matrix in the booster's column order and category codes."""
        out = M[:, self._lgb_cols] if self._lgb_cols is not None else (M.copy() if self._lgb_recode else M)
        for j, remap in self._lgb_recode.items():
            col = out[:, j]
            ok = ~np.isnan(col)
            col[ok] = remap[col[ok].astype(np.int64)]
        return np.ascontiguousarray(out)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Contributions (rows x model features; positive raises the PD), computed once per row."""
        if self._explainer is not None:
            return self._contrib_matrix(self.encode(X))[0]
        c = self.bundle.model.contributions(self.prepare(X))
        c = c.reindex(columns=self.features, fill_value=0.0) if isinstance(c, pd.DataFrame) else c
        return np.asarray(c, dtype=float)

    def _contrib_matrix(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(contributions in the model's feature order, raw score) from the fast TreeSHAP."""
        phi, bias = self._explainer.shap_values(self._lgb_matrix(M))
        raw = phi.sum(axis=1) + bias
        if self._lgb_cols is not None:
            out = np.zeros_like(phi)
            out[:, self._lgb_cols] = phi
            phi = out
        return phi, raw

    @property
    def expected_value(self) -> float | None:
        """The contributions' base value (log-odds for LightGBM and the scorecard)."""
        if self._explainer is not None:
            return float(self._explainer.expected_value)
        ev = getattr(self.bundle.model, "expected_value_", None)
        return None if ev is None else float(ev)

    # ----------------------------------------------------------- statuses
    def statuses(self, frame: pd.DataFrame, M: np.ndarray | None = None,
                 activity_known: np.ndarray | None = None) -> np.ndarray:
        """Status of every row (see the module docstring).

        ``M`` is ``encode(frame)`` when at hand.  The no_activity rule applies to rows
        where all its features are known: by default when ``frame`` has their columns,
        or where ``activity_known`` is True.
        """
        n = len(frame) if M is None else len(M)
        if POPULATION_STATUS in frame.columns:
            pop = frame[POPULATION_STATUS].astype(object).to_numpy()
            known = {"eligible", IN_DEFAULT, NOT_YET_ONBOARDED}
            bad = ~pd.Series(pop).isin(known).to_numpy()
            if bad.any():
                raise ValueError(f"{POPULATION_STATUS}: unknown values {sorted(set(map(str, pop[bad])))[:5]}; "
                                 f"expected {sorted(known)}")
            status = np.where(pop == "eligible", SCORED, pop).astype(object)
        else:
            status = np.full(n, SCORED, dtype=object)
        if activity_known is None:
            activity_known = np.full(n, all(f in frame.columns for f in _ACTIVITY_FEATURES))
        if activity_known.any():
            inactive = activity_known.copy()
            for f in _ACTIVITY_FEATURES:
                if M is not None and f in self._pos:
                    v = M[:, self._pos[f]]
                else:
                    v = pd.to_numeric(frame[f]).to_numpy(dtype=float, na_value=np.nan)
                inactive &= np.nan_to_num(v, nan=0.0) == 0
            status = np.where((status == SCORED) & inactive, NO_ACTIVITY, status)
        return status

    # ------------------------------------------------------------ scoring
    def _compute(self, M: np.ndarray, rows: np.ndarray, count: bool = True) -> _Scored:
        """PD, grade, 5C levels, contributions and reason ranks of the rows ``rows`` of ``M``."""
        Ms = M[rows] if len(rows) != len(M) else M
        X = None
        if len(Ms):
            if self._explainer is not None:
                contrib, raw = self._contrib_matrix(Ms)
                if self._calibrate is not None:
                    pd_ = self._calibrate(raw)
                else:
                    X = self.to_frame(Ms)
                    pd_ = np.asarray(self.bundle.model.predict_proba(X), dtype=float)[:, 1]
            else:
                X = self.to_frame(Ms)
                pd_ = np.asarray(self.bundle.model.predict_proba(X), dtype=float)[:, 1]
                c = self.bundle.model.contributions(X)
                c = c.reindex(columns=self.features, fill_value=0.0) if isinstance(c, pd.DataFrame) else c
                contrib = np.asarray(c, dtype=float)
            grade = np.asarray(assign_grades(pd_, self.master_scale), dtype=object)
        else:
            pd_, contrib, grade = np.zeros(0), np.zeros((0, len(self.features))), np.zeros(0, dtype=object)
        G = self.rule.concept_sums(contrib)  # once per chunk: the rule and the contradiction count share it
        up, down, counts = self.rule.select(contrib, Ms, self.scoring.n_reasons_up, self.scoring.n_reasons_down,
                                            count=count, G=G)
        if count:  # the batch report's counts; single explanations skip them (latency)
            counts = {"rows": int(len(Ms)), "shown": int((up >= 0).sum() + (down >= 0).sum()),
                      "contradictions": count_contradictions(self.rule, up, down, contrib, Ms, G=G), **counts}
        level, sub = self._five_c(Ms, X)
        return _Scored(rows, Ms, pd_, grade, level, sub, contrib, up, down, counts)

    def _five_c(self, M: np.ndarray, X: pd.DataFrame | None) -> tuple[np.ndarray, pd.DataFrame]:
        """5C credit level and per-C levels from the baseline's indicator points (one pass)."""
        base = self.bundle.baseline
        n = len(M)
        if base is None or not n:
            return np.full(n, np.nan), pd.DataFrame(index=range(n))
        inds = getattr(base, "indicators_", None)
        weights = getattr(base, "weights_", None)
        if inds is None or weights is None or any(i.feature not in self._pos for i in inds):
            X = X if X is not None else self.to_frame(M)
            return (np.asarray(base.credit_level(X), dtype=float), base.sub_scores(X).reset_index(drop=True))
        pts = np.column_stack([self._points(i, M[:, self._pos[i.feature]]) for i in inds])
        w = np.asarray(weights, dtype=float)
        level = pts @ w / (10.0 * w.sum())
        sub = {}
        for c in C_NAMES:
            mask = np.array([i.c == c for i in inds])
            if mask.any():
                sub[c] = pts[:, mask] @ w[mask] / (10.0 * w[mask].sum())
        return level, pd.DataFrame(sub)

    def _points(self, ind: Any, x: np.ndarray) -> np.ndarray:
        """Points 1..10 of one baseline indicator on a matrix column (the rule of
        :func:`riskmodel.models.baseline.indicator_points`, on codes and floats)."""
        if ind.categories is not None:
            levels = self.levels.get(ind.feature)
            if levels is None:  # numeric values keyed as strings
                from riskmodel.models.baseline import indicator_points

                return indicator_points(ind, pd.Series(x))
            table = np.array([ind.categories.get(lv, ind.missing_points) for lv in levels] + [ind.missing_points],
                             dtype=float)
            return table[np.where(np.isnan(x), len(levels), x).astype(np.int64)]
        from riskmodel.models.baseline import numeric_points

        return numeric_points(ind, x)

    def score_features(self, frame: pd.DataFrame, as_of: Any = None) -> pd.DataFrame:
        """One output row per input row: status, PD, grade, 5C levels, reasons, limit and terms.

        Parameters
        ----------
        frame : DataFrame
            Feature records (the bundle's features; missing ones are NaN), with
            optional ``customer_id``, ``snapshot_date`` and ``population_status``.
        as_of : date, optional
            Fills ``snapshot_date`` when the frame has none.

        Returns
        -------
        DataFrame with :func:`output_columns`, in the input's row order.
        """
        n = len(frame)
        n_up, n_down = self.scoring.n_reasons_up, self.scoring.n_reasons_down
        M = self.encode(frame)
        status = self.statuses(frame, M)
        rows = np.flatnonzero(status == SCORED)
        sc = self._compute(M, rows)
        self._relevel(sc, frame)

        out: dict[str, Any] = {}
        if S.CUSTOMER_ID in frame.columns:
            out[S.CUSTOMER_ID] = frame[S.CUSTOMER_ID].astype("str").to_numpy()
        else:
            out[S.CUSTOMER_ID] = np.full(n, None, dtype=object)
        if S.SNAPSHOT_DATE in frame.columns:
            out[S.SNAPSHOT_DATE] = pd.to_datetime(frame[S.SNAPSHOT_DATE]).to_numpy()
        else:
            out[S.SNAPSHOT_DATE] = np.full(n, pd.Timestamp(as_of) if as_of is not None else pd.NaT)
        out[STATUS] = pd.Categorical(status, categories=list(STATUSES))

        pd_all = np.full(n, np.nan)
        pd_all[rows] = sc.pd
        default = status == IN_DEFAULT
        pd_all[default] = 1.0
        out[PD] = pd_all
        grade = np.full(n, None, dtype=object)
        grade[rows] = sc.grade
        grade[default] = self.master_scale.default_grade
        out[GRADE] = pd.Categorical(grade, categories=self.grade_names())
        level = np.full(n, np.nan)
        level[rows] = sc.level
        out[CREDIT_LEVEL] = level
        for c in C_NAMES:
            v = np.full(n, np.nan)
            if c in sc.sub.columns:
                v[rows] = sc.sub[c].to_numpy(dtype=float)
            out[LEVEL_PREFIX + c] = v

        text_cols, code_cols = reason_columns(n_up, n_down)
        for idx, names in ((sc.up, text_cols[:n_up]), (sc.down, text_cols[n_up:])):
            texts = self.formatter.format(idx, sc.M)
            for k, name in enumerate(names):
                t = np.full(n, None, dtype=object)
                t[rows] = texts[:, k]
                out[name] = pd.array(t, dtype="str")
                code = np.full(n, -1, dtype=np.int64)
                code[rows] = idx[:, k]
                out[name + "_code"] = pd.Categorical.from_codes(code, categories=self.features)

        equity, revenue = self._statement_figures(M)
        invoiced = M[:, self._pos["pay_amount_12m"]] if "pay_amount_12m" in self._pos else np.full(n, np.nan)
        # the current limit is the one valid before the as-of date (customer_terms history, a model feature)
        current = (np.expm1(M[:, self._pos["reg_log_credit_limit"]]) if "reg_log_credit_limit" in self._pos
                   else None)
        pol = policy_frame(grade, equity, revenue, invoiced, self.master_scale, current_limit=current,
                           max_increase_share=self.limit_review.max_increase_share)
        for c in pol.columns:
            out[c] = pol[c].array
        out[MODEL_VERSION] = pd.Categorical([self.version] * n)
        result = pd.DataFrame(out)[output_columns(n_up, n_down)]
        result.attrs["reasons"] = dict(sc.reason_counts)  # shown, contradictions, withheld (see ReasonRule)
        return result

    def _statement_figures(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Equity and revenue of the latest statement, recovered from the features (NaN without one).

        revenue = exp(fin_log_revenue) - 1; equity = fin_equity_ratio x (exp(fin_log_total_assets) - 1).
        """
        def col(name: str) -> np.ndarray:
            return M[:, self._pos[name]] if name in self._pos else np.full(len(M), np.nan)

        revenue = np.expm1(col("fin_log_revenue"))
        equity = col("fin_equity_ratio") * np.expm1(col("fin_log_total_assets"))
        return equity, revenue

    def _records(self, idx_row: np.ndarray, contrib_row: np.ndarray, texts_row: Sequence[object],
                 values_row: Sequence[object]) -> list[dict[str, Any]]:
        """The formatter's reason records plus the concept each speaks for and its summed contribution."""
        recs = self.formatter.records(idx_row, contrib_row, texts_row, values_row)
        sums = self.rule.concept_sums(contrib_row[None, :])[0]
        for rec, j in zip(recs, [j for j in idx_row.tolist() if j >= 0]):
            k = int(self.rule.concept_id[j])
            rec["concept"] = self.rule.concept_names[k]
            rec["concept_contribution"] = float(sums[k])
            ref = self.comparison.get(self.features[j])
            rec["reference_value"] = None if ref is None or (isinstance(ref, float) and np.isnan(ref)) else ref
            rec["reference"] = self.reference_label
        return recs

    def grade_names(self) -> list[str]:
        """Grades best first, then the default grade."""
        return [g.grade for g in self.master_scale.grades] + [self.master_scale.default_grade]

    def explain_frame(self, frame: pd.DataFrame) -> list[Explanation]:
        """Per-row explanations (reasons as records, policy with its calculation, contributions)."""
        M = self.encode(frame)
        ids = ([None if pd.isna(v) else str(v) for v in frame[S.CUSTOMER_ID].tolist()]
               if S.CUSTOMER_ID in frame.columns else [None] * len(frame))
        return self._explain(M, self.statuses(frame, M), ids, frame)

    def explain_records(self, records: Sequence[Mapping[str, Any]],
                        customer_ids: Sequence[str | None]) -> list[Explanation]:
        """:meth:`explain_frame` for type-checked feature records (the REST service's fast path).

        The no_activity rule applies only to records that give all its features.
        """
        M = self.encode_records(records)
        known = np.array([all(rec.get(f) is not None for f in _ACTIVITY_FEATURES) for rec in records], dtype=bool)
        status = self.statuses(pd.DataFrame(index=range(len(records))), M, known)
        empty = np.array([all(v is None for v in rec.values()) for rec in records], dtype=bool)
        status = np.where(empty & (status == SCORED), NO_ACTIVITY, status)  # no evidence at all: nothing to judge
        return self._explain(M, status, list(customer_ids), pd.DataFrame.from_records(list(records)))

    def self_test(self) -> None:
        """Score one probe record end to end; ModelNotFoundError (one line) when the model cannot score."""
        probe = self._probe_frame().iloc[[1]]
        record = {f: (None if pd.isna(v) else v) for f, v in probe.iloc[0].items()}
        try:
            (result,) = self.explain_records([record], [None])
            if result.pd is not None and not 0.0 <= float(result.pd) <= 1.0:
                raise ValueError(f"PD {result.pd!r} outside [0, 1]")
        except Exception as err:  # noqa: BLE001 - any failure means the model cannot serve
            raise ModelNotFoundError(f"the champion {self.model_name} {self.version} loads but cannot score "
                                     f"({type(err).__name__}: {str(err)[:200]}); re-export it with "
                                     "`riskmodel train`") from err

    def _explain(self, M: np.ndarray, status: np.ndarray, ids: list[str | None],
                 frame: pd.DataFrame | None = None) -> list[Explanation]:
        rows = np.flatnonzero(status == SCORED)
        sc = self._compute(M, rows, count=False)
        self._relevel(sc, frame if frame is not None and len(frame) == len(M) else None)
        pos = {int(r): i for i, r in enumerate(rows)}
        equity, revenue = self._statement_figures(M)
        invoiced = M[:, self._pos["pay_amount_12m"]] if "pay_amount_12m" in self._pos else np.full(len(M), np.nan)
        ev = self.expected_value
        texts_up = self.formatter.format(sc.up, sc.M)
        texts_down = self.formatter.format(sc.down, sc.M)
        values = sc.M.astype(object)
        for j, f in enumerate(self.features):
            if f in self.levels:  # category labels, None when missing
                lv = self.levels[f]
                values[:, j] = [None if np.isnan(v) else lv[int(v)] for v in sc.M[:, j]]
        sub_cols = list(sc.sub.columns)
        sub_values = sc.sub.to_numpy(dtype=float) if sub_cols else None
        out: list[Explanation] = []
        for r in range(len(M)):
            st = str(status[r])
            i = pos.get(r)
            if i is None:
                grade = self.master_scale.default_grade if st == IN_DEFAULT else None
                policy = policy_for(grade, equity[r], revenue[r], self.master_scale, invoiced[r]) if grade else None
                out.append(Explanation(ids[r], st, 1.0 if st == IN_DEFAULT else None, grade, None, {}, [], [],
                                       policy, None, ev, self.version, self.model_name))
                continue
            grade = str(sc.grade[i])
            row_values = values[i]
            out.append(Explanation(
                customer_id=ids[r], status=st, pd=float(sc.pd[i]), grade=grade,
                credit_level=None if np.isnan(sc.level[i]) else float(sc.level[i]),
                sub_scores={c: float(sub_values[i, k]) for k, c in enumerate(sub_cols)},
                reasons_up=self._records(sc.up[i], sc.contrib[i], texts_up[i], row_values),
                reasons_down=self._records(sc.down[i], sc.contrib[i], texts_down[i], row_values),
                policy=policy_for(grade, equity[r], revenue[r], self.master_scale, invoiced[r]),
                contributions=pd.Series(sc.contrib[i], index=self.features),
                concept_contributions=pd.Series(self.rule.concept_sums(sc.contrib[i:i + 1])[0],
                                                index=self.rule.concept_names),
                base_label=(f"reference: {self.reference_label}" if self._explainer is not None
                            else "portfolio average"),
                expected_value=ev, model_version=self.version, model_name=self.model_name,
                features={f: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                          for f, v in zip(self.features, row_values)},
            ))
        return out


# ------------------------------------------------------------------ helpers
def load_champion_bundle(settings: Settings) -> Bundle:
    """The champion, from where ``safety.champion_source`` says, and a log line saying which and why.

    ``bundle`` (default): the verified bundle in ``models_dir/champion`` only;
    ``bundle_or_registry``: the registry alias when there is no bundle at all (a
    bundle that fails verification is never replaced); ``registry``: the alias.
    Raises ModelNotFoundError or BundleIntegrityError with one clear line.
    """
    directory = settings.resolve(settings.paths.models_dir) / "champion"
    source = settings.safety.champion_source
    if source != "registry":
        try:
            bundle = Bundle.load(directory)
        except ModelNotFoundError as first:
            if source == "bundle":
                raise ModelNotFoundError(f"{first} (the MLflow registry is not used unless params.yaml sets "
                                         "safety.champion_source: bundle_or_registry)") from None
            from riskmodel.tracking import load_champion

            try:
                bundle = load_champion(settings)
            except ModelNotFoundError as second:
                raise ModelNotFoundError(f"{first}; and {second}") from None
            log.warning("no bundle in %s: using the MLflow registry champion %s %s "
                        "(safety.champion_source = bundle_or_registry)", directory, bundle.model_name, bundle.version)
            return bundle
        log.info("champion: %s %s from the verified bundle %s", bundle.model_name, bundle.version, directory)
        return bundle
    from riskmodel.tracking import load_champion

    bundle = load_champion(settings)
    log.info("champion: %s %s from the MLflow registry (safety.champion_source = registry)",
             bundle.model_name, bundle.version)
    return bundle


def data_span(tables: Tables) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last record dates over the dated tables (invoices, payments, statements, visits, events)."""
    from riskmodel.features.build import DATA_DATES

    frames = tables.as_dict()
    lo, hi = [], []
    for table, column in DATA_DATES:
        col = pd.to_datetime(frames[table][column]) if len(frames[table]) else pd.Series(dtype="datetime64[ns]")
        if col.notna().any():
            lo.append(col.min())
            hi.append(col.max())
    if not lo:
        raise NoDataError("the tables hold no dated record (no invoice, statement, visit or event)")
    return min(lo), max(hi)


def default_as_of(last: pd.Timestamp) -> pd.Timestamp:
    """The latest quarter end on or before the last record date."""
    last = pd.Timestamp(last).normalize()
    q = last.to_period("Q").end_time.normalize()
    return q if q <= last else (last.to_period("Q") - 1).end_time.normalize()


def parse_as_of(as_of: Any) -> pd.Timestamp:
    """A scoring date from an ISO ``YYYY-MM-DD`` string or a date; NoDataError otherwise.

    Only ISO dates are read: ``01/02/2024`` could be 1 February or 2 January, so it is refused.
    """
    if isinstance(as_of, str) and not _ISO_DATE.fullmatch(as_of.strip()):
        raise NoDataError(f"as-of date {as_of[:40]!r} is not an ISO date; use YYYY-MM-DD (e.g. 2024-12-31)")
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise NoDataError(f"as-of date {as_of!r} is not a date; use YYYY-MM-DD") from None
    if pd.isna(ts):
        raise NoDataError(f"as-of date {as_of!r} is not a date; use YYYY-MM-DD")
    return ts.normalize()


def check_as_of(as_of: pd.Timestamp, first: pd.Timestamp, last: pd.Timestamp,
                max_gap_days: int = MAX_DAYS_AFTER_DATA) -> None:
    """Refuse dates with no data: on or before the first record, or long after the last."""
    if as_of <= first:
        raise NoDataError(f"no data before the as-of date {as_of.date()}: the records start on {first.date()}")
    if (as_of - last).days > max_gap_days:
        raise NoDataError(f"as-of date {as_of.date()} is {(as_of - last).days} days after the last record "
                          f"({last.date()}); the data does not describe customers at that date "
                          f"(allowed: up to {max_gap_days} days)")


def subset_tables(tables: Tables, customer_ids: Sequence[str]) -> Tables:
    """The six tables restricted to some customers."""
    ids = pd.Index(pd.Series(list(customer_ids), dtype="str"))
    return Tables(**{name: frame[frame[S.CUSTOMER_ID].astype("str").isin(ids)]
                     for name, frame in tables.as_dict().items()})


def chunk_tables(tables: Tables, sorted_ids: np.ndarray, size: int) -> Iterator[tuple[slice, Tables]]:
    """Split the six tables into chunks of ``size`` customers (``sorted_ids`` ascending).

    Each table is sorted by customer once; a chunk is then a contiguous slice of
    every table found by binary search, so the cost does not grow with the number
    of chunks times the number of rows.
    """
    frames = {}
    for name, frame in tables.as_dict().items():
        key = frame[S.CUSTOMER_ID].astype("str")
        order = np.argsort(key.to_numpy(), kind="stable")
        frames[name] = (frame.iloc[order], key.to_numpy()[order])
    for sl in iter_chunks(len(sorted_ids), size):
        first, last = sorted_ids[sl][0], sorted_ids[sl][-1]
        part = {}
        for name, (frame, keys) in frames.items():
            lo = np.searchsorted(keys, first, side="left")
            hi = np.searchsorted(keys, last, side="right")
            part[name] = frame.iloc[lo:hi]
        yield sl, Tables(**part)


def iter_chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive row slices of at most ``size`` rows."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    for lo in range(0, n, size):
        yield slice(lo, min(n, lo + size))


def template_coverage(features: Sequence[str]) -> list[str]:
    """Features without a reason template (they read with a plain generic sentence)."""
    return [f for f in features if f not in TEMPLATES]
