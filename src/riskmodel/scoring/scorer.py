"""Scorer: the champion bundle turned into PDs, grades, 5C levels, reasons and policy (batch and API).

One :class:`Scorer` is built per bundle and shared by batch scoring, the memo, the REST
service and the MLflow pyfunc.  It composes the parts of :mod:`riskmodel.scoring`:
encoding (:mod:`~riskmodel.scoring.encoding`), row statuses (:mod:`~riskmodel.scoring.statuses`),
the calibration replay and PD level (:mod:`~riskmodel.scoring.calibration`), the 5C
recompute (:mod:`~riskmodel.scoring.five_c`) and the reasons (:mod:`~riskmodel.scoring.explanations`,
:class:`riskmodel.explain.reasons.ReasonRule`).  Contributions are computed once per row and
reused for the reasons and the memo's waterfall.  For LightGBM champions they come from
:class:`riskmodel.explain.treeshap.LightGBMTreeShap` against the bundle's reference customer in
good standing (exact baseline Shapley values, tabulated; they sum to score - reference score,
and the reasons quote that same customer); other models use their own ``contributions(X)``.
``score_features`` puts the reason counts (shown, contradictions, withheld) in
``result.attrs["reasons"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.bundle import Bundle
from riskmodel.config import C_NAMES, LimitReviewSettings, MasterScaleSettings, ScoringSettings
from riskmodel.data import schemas as S
from riskmodel.exceptions import ModelNotFoundError
from riskmodel.explain.policy import policy_for, policy_frame
from riskmodel.explain.reasons import ReasonFormatter, ReasonRule, count_contradictions
from riskmodel.explain.treeshap import LightGBMTreeShap, can_explain
from riskmodel.features import names as N
from riskmodel.grades import assign_grades
from riskmodel.scoring.calibration import central_tendency_of, relevel, replay_calibration
from riskmodel.scoring.columns import (
    CREDIT_LEVEL,
    GRADE,
    IN_DEFAULT,
    LEVEL_PREFIX,
    MODEL_VERSION,
    NO_ACTIVITY,
    PD,
    SCORED,
    STATUS,
    STATUSES,
    output_columns,
    reason_columns,
)
from riskmodel.scoring.encoding import FeatureEncoder
from riskmodel.scoring.explanations import Explanation, c_of, reason_records, reason_reference
from riskmodel.scoring.five_c import FiveCLevels
from riskmodel.scoring.statuses import ACTIVITY_FEATURES, row_statuses

log = logging.getLogger(__name__)

#: rows of one pipelined block of :meth:`Scorer.score_features` (a frame under twice this is scored in one piece)
PIPELINE_BLOCK = 10_000


@dataclass
class _Scored:
    """Everything computed for the scored rows of a frame (arrays aligned with ``rows``)."""

    rows: np.ndarray
    M: np.ndarray  # encoded features of the scored rows
    pd: np.ndarray
    grade: np.ndarray
    level: np.ndarray
    sub: dict[str, np.ndarray]  # C -> level of each scored row
    contrib: np.ndarray
    up: np.ndarray
    down: np.ndarray
    reason_counts: dict[str, int] = field(default_factory=dict)
    keys: np.ndarray | None = None  # display keys of every cell of M (ReasonRule.display_keys)


@dataclass
class _Columns:
    """One block's output columns before typing (see :meth:`Scorer._block_columns`)."""

    n: int
    columns: dict[str, Any]
    policy: pd.DataFrame
    reason_counts: dict[str, int]


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
    With a trained champion (``riskmodel train``) and a features frame::

        scorer = Scorer(Bundle.load("models/champion"))
        table = scorer.score_features(features_frame)
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
        self.encoder = FeatureEncoder.of(bundle)
        self.levels: dict[str, list[str]] = self.encoder.levels
        self.c_of = c_of(bundle)
        self._pos = self.encoder.pos
        self.comparison, self.reference_label, lower, upper = reason_reference(bundle, self.features, self.levels)
        self.reference_row = self.encode_records([self.comparison])[0]
        self.formatter = ReasonFormatter(self.features, self.c_of, self.comparison, self.levels,
                                         reference_label=self.reference_label)
        self.rule = ReasonRule(self.features, self.reference_row, lower, upper)
        self._explainer: Any = self._fast_explainer(bundle.model) if fast_shap else None
        self._lgb_cols: np.ndarray | None = None
        self._lgb_recode: dict[int, np.ndarray] = {}
        self._calibrate: Any = None
        if self._explainer is not None:
            self._align_booster()
        self.central_tendency = central_tendency_of(bundle)
        self.pipeline_block = PIPELINE_BLOCK  # rows of one pipelined block of score_features
        self._five_c_levels = FiveCLevels(bundle.baseline, self.encoder)

    # ------------------------------------------------------------ set-up
    def _relevel(self, sc: "_Scored", frame: pd.DataFrame | None) -> None:
        """Set the scored rows' PD level for the rating philosophy (:func:`riskmodel.scoring.calibration.relevel`)."""
        if self.central_tendency is None or not len(sc.pd):
            return
        sc.pd, sc.grade = relevel(self.central_tendency, sc.pd, frame, sc.rows, self.master_scale)

    @staticmethod
    def _fast_explainer(model: Any) -> Any:
        booster = getattr(model, "booster_", None)
        if booster is None:
            return None
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
        """PD from the TreeSHAP raw score (the model's ``pd_from_raw``), checked on probe rows.

        Returns a function raw -> PD, or None (then ``predict_proba`` is called) when
        the model's calibration cannot be reproduced exactly.
        """
        M = self.encode(self._probe_frame())
        _, raw = self._contrib_matrix(M)
        return replay_calibration(self.bundle.model, raw, self.to_frame(M))

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
        """The model's features as a float matrix (see :meth:`riskmodel.scoring.encoding.FeatureEncoder.encode`)."""
        return self.encoder.encode(frame)

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Feature records (name -> value, already type-checked) as the float matrix of :meth:`encode`."""
        return self.encoder.encode_records(records)

    def to_frame(self, M: np.ndarray, index: Any = None) -> pd.DataFrame:
        """The typed feature frame of a matrix from :meth:`encode` (categoricals as pandas categories)."""
        return self.encoder.to_frame(M, index)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns from ``frame``, typed (missing columns are NaN)."""
        return self.encoder.prepare(frame)

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

    def _contrib_matrix(self, M: np.ndarray, serial: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(contributions in the model's feature order, raw score) from the fast TreeSHAP (``serial``: one thread)."""
        phi, bias = self._explainer.shap_values(self._lgb_matrix(M), serial=serial)
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
        """Status of every row (see :mod:`riskmodel.scoring.statuses`); ``M`` is ``encode(frame)`` when at hand."""
        return row_statuses(frame, M, self._pos, activity_known)

    # ------------------------------------------------------------ scoring
    def _compute(self, M: np.ndarray, rows: np.ndarray, count: bool = True,
                 shap: tuple[np.ndarray, np.ndarray] | None = None) -> _Scored:
        """PD, grade, 5C levels, contributions and reason ranks of the rows ``rows`` of ``M``.

        ``shap``: the rows' (contributions, raw score) from :meth:`_contrib_matrix`, when already computed.
        """
        Ms = M[rows] if len(rows) != len(M) else M
        X = None
        if len(Ms):
            if self._explainer is not None:
                contrib, raw = self._contrib_matrix(Ms) if shap is None else shap
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
        # once per chunk, shared: the transposed matrix (contiguous columns for the display rounding and
        # the 5C points), the display keys (rule, contradiction count, sentences), the concept sums
        MT = np.ascontiguousarray(Ms.T)
        keys = self.rule.display_keys(Ms, MT)
        G = self.rule.concept_sums(contrib)
        up, down, counts = self.rule.select(contrib, Ms, self.scoring.n_reasons_up, self.scoring.n_reasons_down,
                                            count=count, G=G, keys=keys)
        if count:  # the batch report's counts; single explanations skip them (latency)
            counts = {"rows": int(len(Ms)), "shown": int((up >= 0).sum() + (down >= 0).sum()),
                      "contradictions": count_contradictions(self.rule, up, down, contrib, Ms, G=G, keys=keys),
                      **counts}
        level, sub = self._five_c(Ms, X, MT)
        return _Scored(rows, Ms, pd_, grade, level, sub, contrib, up, down, counts, keys)

    def _five_c(self, M: np.ndarray, X: pd.DataFrame | None,
                MT: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """5C credit level and per-C levels (see :func:`riskmodel.scoring.five_c.five_c_levels`)."""
        return self._five_c_levels(M, X, MT)

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

        A large frame is scored in blocks of ``pipeline_block`` rows (:data:`PIPELINE_BLOCK`), pipelined: while this
        thread turns block *k* into PDs, reasons and policy (mostly single-threaded numpy and
        pandas), a second thread computes the TreeSHAP contributions of block *k + 1* (compiled,
        without the GIL).  Every row's figures depend on that row alone, so the result is the same
        as scoring the frame in one piece (tests/test_scoring_pipelined.py).
        """
        n = len(frame)
        M = self.encode(frame)
        block = self.pipeline_block
        if self._explainer is None or n < 2 * block:
            return self._score_block(frame, M, as_of)
        status = self.statuses(frame, M)
        bounds = [(lo, min(n, lo + block)) for lo in range(0, n, block)]

        def contrib_of(k: int, serial: bool) -> tuple[np.ndarray, np.ndarray]:
            lo, hi = bounds[k]
            rows = np.flatnonzero(status[lo:hi] == SCORED)
            return self._contrib_matrix(M[lo:hi][rows], serial=serial)

        parts: list[_Columns] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="treeshap") as pool:
            ahead: Future[tuple[np.ndarray, np.ndarray]] | None = None
            done = contrib_of(0, serial=False)  # nothing to overlap yet: both cores on the first block
            for k, (lo, hi) in enumerate(bounds):
                if ahead is not None:
                    done = ahead.result()
                ahead = pool.submit(contrib_of, k + 1, True) if k + 1 < len(bounds) else None
                parts.append(self._block_columns(frame.iloc[lo:hi], M[lo:hi], as_of, status[lo:hi], done))
        return self._assemble(parts)

    def _score_block(self, frame: pd.DataFrame, M: np.ndarray, as_of: Any = None,
                     status: np.ndarray | None = None,
                     shap: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
        """:meth:`score_features` of one block, in one piece."""
        return self._assemble([self._block_columns(frame, M, as_of, status, shap)])

    def _block_columns(self, frame: pd.DataFrame, M: np.ndarray, as_of: Any = None,
                       status: np.ndarray | None = None,
                       shap: tuple[np.ndarray, np.ndarray] | None = None) -> "_Columns":
        """The output columns of one block as plain arrays (categories as codes, texts as objects).

        ``shap``: the block's scored rows' TreeSHAP (contributions, raw).  The typed frame is built
        once for all the blocks of a frame (:meth:`_assemble`): typed columns cost per call.
        """
        n = len(frame)
        n_up, n_down = self.scoring.n_reasons_up, self.scoring.n_reasons_down
        status = self.statuses(frame, M) if status is None else status
        rows = np.flatnonzero(status == SCORED)
        sc = self._compute(M, rows, shap=shap)
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
        # categoricals as integer codes (no hashing of n strings); typed in _assemble
        status_code = np.full(n, -1, dtype=np.int64)
        for k, name in enumerate(STATUSES):
            status_code[status == name] = k
        out[STATUS] = status_code

        pd_all = np.full(n, np.nan)
        pd_all[rows] = sc.pd
        default = status == IN_DEFAULT
        pd_all[default] = 1.0
        out[PD] = pd_all
        grade = np.full(n, None, dtype=object)
        grade[rows] = sc.grade
        grade[default] = self.master_scale.default_grade
        out[GRADE] = grade
        level = np.full(n, np.nan)
        level[rows] = sc.level
        out[CREDIT_LEVEL] = level
        for c in C_NAMES:
            v = np.full(n, np.nan)
            if c in sc.sub:
                v[rows] = sc.sub[c]
            out[LEVEL_PREFIX + c] = v

        text_cols, code_cols = reason_columns(n_up, n_down)
        for idx, names in ((sc.up, text_cols[:n_up]), (sc.down, text_cols[n_up:])):
            texts = self.formatter.format(idx, sc.M, keys=sc.keys)
            for k, name in enumerate(names):
                t = np.full(n, None, dtype=object)
                t[rows] = texts[:, k]
                out[name] = t
                code = np.full(n, -1, dtype=np.int64)
                code[rows] = idx[:, k]
                out[name + "_code"] = code

        equity, revenue = self._statement_figures(M)
        invoiced = M[:, self._pos[N.pay_amount(12)]] if N.pay_amount(12) in self._pos else np.full(n, np.nan)
        # the current limit is the one valid before the as-of date (customer_terms history, a model feature)
        current = (np.expm1(M[:, self._pos[N.REG_LOG_CREDIT_LIMIT]]) if N.REG_LOG_CREDIT_LIMIT in self._pos
                   else None)
        pol = policy_frame(grade, equity, revenue, invoiced, self.master_scale, current_limit=current,
                           max_increase_share=self.limit_review.max_increase_share)
        return _Columns(n, out, pol, dict(sc.reason_counts))

    def _assemble(self, blocks: list["_Columns"]) -> pd.DataFrame:
        """The typed output frame of the blocks, in order, and the summed reason counts in ``attrs``."""
        n_up, n_down = self.scoring.n_reasons_up, self.scoring.n_reasons_down
        n = sum(b.n for b in blocks)
        first = blocks[0].columns

        def col(name: str) -> np.ndarray:
            return first[name] if len(blocks) == 1 else np.concatenate([b.columns[name] for b in blocks])

        out: dict[str, Any] = {S.CUSTOMER_ID: col(S.CUSTOMER_ID), S.SNAPSHOT_DATE: col(S.SNAPSHOT_DATE),
                               STATUS: pd.Categorical.from_codes(col(STATUS), categories=list(STATUSES)),
                               PD: col(PD), GRADE: pd.Categorical(col(GRADE), categories=self.grade_names()),
                               CREDIT_LEVEL: col(CREDIT_LEVEL)}
        for c in C_NAMES:
            out[LEVEL_PREFIX + c] = col(LEVEL_PREFIX + c)
        text_cols, _ = reason_columns(n_up, n_down)
        for name in text_cols:
            out[name] = pd.array(col(name), dtype="str")
            out[name + "_code"] = pd.Categorical.from_codes(col(name + "_code"), categories=self.features)
        pol = blocks[0].policy if len(blocks) == 1 else pd.concat([b.policy for b in blocks], ignore_index=True)
        for c in pol.columns:
            out[c] = pol[c].array
        out[MODEL_VERSION] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int64), categories=[self.version])
        result = pd.DataFrame(out)[output_columns(n_up, n_down)]
        counts: dict[str, int] = {}
        for b in blocks:  # shown, contradictions, withheld (see ReasonRule)
            for key, v in b.reason_counts.items():
                counts[key] = counts.get(key, 0) + int(v)
        result.attrs["reasons"] = counts
        return result

    def _statement_figures(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Equity and revenue of the latest statement, recovered from the features (NaN without one).

        revenue = exp(fin_log_revenue) - 1; equity = fin_equity_ratio x (exp(fin_log_total_assets) - 1).
        """
        def col(name: str) -> np.ndarray:
            return M[:, self._pos[name]] if name in self._pos else np.full(len(M), np.nan)

        revenue = np.expm1(col(N.FIN_LOG_REVENUE))
        equity = col(N.FIN_EQUITY_RATIO) * np.expm1(col(N.FIN_LOG_TOTAL_ASSETS))
        return equity, revenue

    def _records(self, idx_row: np.ndarray, contrib_row: np.ndarray, texts_row: Sequence[object],
                 values_row: Sequence[object], concept_row: np.ndarray | None = None) -> list[dict[str, Any]]:
        """One customer's reason records (see :func:`riskmodel.scoring.explanations.reason_records`)."""
        return reason_records(self.formatter, self.rule, self.comparison, self.reference_label, idx_row,
                              contrib_row, texts_row, values_row, concept_row)

    def grade_names(self) -> list[str]:
        """Grades best first, then the default grade."""
        return [g.grade for g in self.master_scale.grades] + [self.master_scale.default_grade]

    def explain_frame(self, frame: pd.DataFrame) -> list[Explanation]:
        """Per-row explanations (reasons as records, policy with its calculation, contributions)."""
        M = self.encode(frame)
        ids: list[str | None] = ([None if pd.isna(v) else str(v) for v in frame[S.CUSTOMER_ID].tolist()]
               if S.CUSTOMER_ID in frame.columns else [None] * len(frame))
        return self._explain(M, self.statuses(frame, M), ids, frame)

    def explain_records(self, records: Sequence[Mapping[str, Any]],
                        customer_ids: Sequence[str | None]) -> list[Explanation]:
        """:meth:`explain_frame` for type-checked feature records (the REST service's fast path).

        The no_activity rule applies only to records that give all its features.
        """
        M = self.encode_records(records)
        known = np.array([all(rec.get(f) is not None for f in ACTIVITY_FEATURES) for rec in records], dtype=bool)
        status = self.statuses(pd.DataFrame(index=range(len(records))), M, known)
        empty = np.array([all(v is None for v in rec.values()) for rec in records], dtype=bool)
        status = np.where(empty & (status == SCORED), NO_ACTIVITY, status)  # no evidence at all: nothing to judge
        # only the calibration's portfolio covariates are read from a frame (the rest is in M)
        covariates = list(self.central_tendency.covariates) if self.central_tendency is not None else []
        frame = pd.DataFrame({c: [rec.get(c) for rec in records] for c in covariates}, index=range(len(records)))
        return self._explain(M, status, list(customer_ids), frame)

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
        invoiced = M[:, self._pos[N.pay_amount(12)]] if N.pay_amount(12) in self._pos else np.full(len(M), np.nan)
        ev = self.expected_value
        texts_up = self.formatter.format(sc.up, sc.M, keys=sc.keys)
        texts_down = self.formatter.format(sc.down, sc.M, keys=sc.keys)
        values = sc.M.astype(object)
        for j, f in enumerate(self.features):
            if f in self.levels:  # category labels, None when missing
                lv = self.levels[f]
                values[:, j] = [None if np.isnan(v) else lv[int(v)] for v in sc.M[:, j]]
        concepts = self.rule.concept_sums(sc.contrib)  # rows x concepts, once for the batch
        sub_cols = list(sc.sub)
        sub_values = np.column_stack([sc.sub[c] for c in sub_cols]) if sub_cols else np.empty((len(sc.rows), 0))
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
                reasons_up=self._records(sc.up[i], sc.contrib[i], texts_up[i], row_values, concepts[i]),
                reasons_down=self._records(sc.down[i], sc.contrib[i], texts_down[i], row_values, concepts[i]),
                policy=policy_for(grade, equity[r], revenue[r], self.master_scale, invoiced[r]),
                contribution_values=sc.contrib[i], contribution_names=self.features,
                concept_values=concepts[i], concept_names=self.rule.concept_names,
                base_label=(f"reference: {self.reference_label}" if self._explainer is not None
                            else "portfolio average"),
                expected_value=ev, model_version=self.version, model_name=self.model_name,
                feature_values=row_values,
            ))
        return out
