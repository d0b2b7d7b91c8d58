"""Contributions -> ranked reason sentences, vectorised over many customers.

One ranking rule for every model kind: a reason *up* is a feature whose
contribution is strictly positive (it raises the PD), ranked from the largest;
a reason *down* is strictly negative, ranked from the most negative.  Ties
(equal in float32) go to the feature that comes first in the model's feature
order, so the ranking is deterministic.  The top k of every row are selected in
one compiled pass over the contribution matrix (k insertions per row, no sort;
measured several times faster than ``numpy.argpartition`` with a tie-breaking
key); only the selected cells are formatted, and each distinct shown value of
a feature is rendered once (see :func:`riskmodel.explain.templates.display_key`).

The rule every shown reason obeys (:class:`ReasonRule`, checked on every row by
:func:`count_contradictions`):

* Contributions are measured against one *reference customer* (for LightGBM: exact
  baseline Shapley values against that customer, see
  :mod:`riskmodel.explain.treeshap`; they sum to score(customer) - score(reference)),
  and the sentence quotes that same customer's value: "(typical customer in good
  standing: 3 days)".  The reference is the per-feature median (mode for categories)
  of the training rows that did not default within the horizon.
* Reasons speak for *concepts* (:data:`riskmodel.features.dictionary.CONCEPTS`: all
  payment-delay features, all leverage features ...): a concept's contribution is the
  sum of its features', and it quotes the member feature carrying most of it.
* A concept is listed as raising the risk only if its contribution is positive, the
  quoted member's own contribution is positive, and the quoted value is on the
  risky side of the reference by the feature's credit direction
  (:data:`riskmodel.features.dictionary.CREDIT_DIRECTION`); for a feature without a
  direction the shown value must differ from the reference's.  Mirror rule for
  lowering.  A missing value may be quoted either way (the text claims no side).
  When no member qualifies, the concept is not shown (counted as *withheld*).
* A calendar-driven feature (:data:`riskmodel.features.dictionary.CALENDAR_DRIVEN`)
  is never quoted when its value lies outside its training range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np
import pandas as pd

from riskmodel.explain.templates import (
    ReasonTemplate,
    display_key,
    format_value,
    render_body,
    render_comparison,
    sentence,
    template_for,
)
from riskmodel.explain.treeshap import PARALLEL_LOCK, PARALLEL_MIN_ROWS
from riskmodel.features.dictionary import CALENDAR_DRIVEN, CREDIT_DIRECTION, concept_of

NONE = -1  # index of "no reason" in the rank arrays


@nb.njit(cache=True)
def _select_row(c: np.ndarray, i: int, k_up: int, k_down: int, up: np.ndarray,
                down: np.ndarray) -> None:  # pragma: no cover - compiled
    """Row i: the k largest positive and k most negative entries (float32 order; ties: first index)."""
    f = c.shape[1]
    up_v = np.empty(max(k_up, 1), dtype=np.float32)
    dn_v = np.empty(max(k_down, 1), dtype=np.float32)
    n_up = 0
    n_dn = 0
    for j in range(f):
        v = np.float32(c[i, j])
        if v > 0 and k_up > 0:
            if n_up < k_up or v > up_v[n_up - 1]:
                p = min(n_up, k_up - 1)
                while p > 0 and v > up_v[p - 1]:  # strictly greater: an earlier feature keeps a tie
                    up_v[p] = up_v[p - 1]
                    up[i, p] = up[i, p - 1]
                    p -= 1
                up_v[p] = v
                up[i, p] = j
                n_up = min(n_up + 1, k_up)
        elif v < 0 and k_down > 0:
            if n_dn < k_down or v < dn_v[n_dn - 1]:
                p = min(n_dn, k_down - 1)
                while p > 0 and v < dn_v[p - 1]:
                    dn_v[p] = dn_v[p - 1]
                    down[i, p] = down[i, p - 1]
                    p -= 1
                dn_v[p] = v
                down[i, p] = j
                n_dn = min(n_dn + 1, k_down)


@nb.njit(cache=True, parallel=True)
def _select_parallel(c, k_up, k_down, up, down):  # noqa: ANN001, ANN202 # pragma: no cover
    for i in nb.prange(c.shape[0]):
        _select_row(c, i, k_up, k_down, up, down)


@nb.njit(cache=True)
def _select_serial(c, k_up, k_down, up, down):  # noqa: ANN001, ANN202 # pragma: no cover
    for i in range(c.shape[0]):
        _select_row(c, i, k_up, k_down, up, down)


def rank_reasons(contrib: np.ndarray, n_up: int, n_down: int) -> tuple[np.ndarray, np.ndarray]:
    """Feature indices of the reasons up (raise the PD) and down (lower it) per row.

    Parameters
    ----------
    contrib : (n, F) array
        Contributions; positive raises the risk.
    n_up, n_down : int
        How many reasons of each kind at most.

    Returns
    -------
    (up, down) : int arrays of shape (n, n_up) and (n, n_down), ranked, ``-1`` where a row
    has fewer strictly positive (negative) contributions.

    Examples
    --------
    >>> up, down = rank_reasons(np.array([[0.5, -0.2, 0.5, 0.0, 1.0]]), 4, 2)
    >>> up.tolist(), down.tolist()
    ([[4, 0, 2, -1]], [[1, -1]])
    """
    c = np.ascontiguousarray(contrib, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"contributions must be a 2-d array (rows x features), got shape {c.shape}")
    if np.isnan(c).any():
        raise ValueError(f"contributions contain {int(np.isnan(c).sum())} NaN values")
    up = np.full((c.shape[0], max(n_up, 0)), NONE, dtype=np.int64)
    down = np.full((c.shape[0], max(n_down, 0)), NONE, dtype=np.int64)
    if c.size and c.shape[0] >= PARALLEL_MIN_ROWS:
        with PARALLEL_LOCK:
            _select_parallel(c, max(n_up, 0), max(n_down, 0), up, down)
    elif c.size:
        _select_serial(c, max(n_up, 0), max(n_down, 0), up, down)
    return up, down


_SENTENCE_CACHE = 200_000  # worded sentences remembered by a formatter (about 40 MB at most)


@dataclass(frozen=True)
class _FeatureText:
    template: ReasonTemplate
    c_label: str
    comparison: str


class ReasonFormatter:
    """Turns selected (row, feature) cells into sentences with the customer's values.

    Parameters
    ----------
    features : the model's features, in the column order of the contribution matrix.
    c_of : feature -> C name (character, capacity, ...); features without one read "Other".
    comparison : feature -> comparison point (see :func:`riskmodel.explain.comparison.comparison_points`).
    levels : categorical feature -> its levels; needed to read category codes when values come as
        a float matrix (see :meth:`format`).
    """

    def __init__(self, features: Sequence[str], c_of: Mapping[str, str],
                 comparison: Mapping[str, object], levels: Mapping[str, Sequence[str]] | None = None,
                 reference_label: str | None = None) -> None:
        self.features = list(features)
        self._levels = {j: np.array(list(levels[f]) + [None], dtype=object)
                        for j, f in enumerate(self.features) if levels and f in levels}
        self._text = [
            _FeatureText(template_for(f, f in (levels or {})), str(c_of.get(f) or "other").capitalize(),
                         render_comparison(template_for(f, f in (levels or {})), comparison.get(f),
                                           reference_label))
            for f in self.features
        ]
        self._sentences: dict[tuple[int, object], str] = {}  # see _text_of

    def c_label(self, j: int) -> str:
        return self._text[j].c_label

    def _column(self, X: pd.DataFrame | np.ndarray, j: int, rows: np.ndarray) -> np.ndarray:
        if isinstance(X, np.ndarray):
            v = X[rows, j]
            if j in self._levels:  # category codes; NaN -> the trailing None
                lv = self._levels[j]
                return lv[np.where(np.isnan(v), len(lv) - 1, v).astype(np.int64)]
            return v.astype(float)
        col = X[self.features[j]]
        if self._text[j].template.kind == "category" or isinstance(col.dtype, pd.CategoricalDtype):
            vals = col.astype(object).to_numpy()[rows]
            return np.array([None if pd.isna(v) else str(v) for v in vals], dtype=object)
        return pd.to_numeric(col).to_numpy(dtype=float, na_value=np.nan)[rows]

    def shown_values(self, X: pd.DataFrame | np.ndarray, j: int, rows: np.ndarray) -> np.ndarray:
        """Display keys of feature ``j`` at ``rows`` (categories as strings, NaN when missing)."""
        vals = self._column(X, j, rows)
        kind = self._text[j].template.kind
        return vals if vals.dtype == object else display_key(kind, vals)

    def format(self, idx: np.ndarray, X: pd.DataFrame | np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
        """Sentences for the cells of ``idx`` (rows of X x ranks); None where ``idx`` is -1.

        ``X`` is a frame of the features, or their float matrix (categories as level codes).
        ``keys``: the display keys of every cell of the matrix ``X`` (:meth:`ReasonRule.display_keys`),
        read instead of rounding the shown cells again (not for text categories, which show their level).
        """
        n, k = idx.shape
        out = np.full(n * k, None, dtype=object)
        flat = idx.ravel()
        cells = np.flatnonzero(flat >= 0)
        if cells.size == 0:
            return out.reshape(n, k)
        if cells.size <= 16:  # one customer or a few (the REST service): cell by cell, no grouping
            for cell in cells.tolist():
                out[cell] = self._sentence(int(flat[cell]), cell // k, X, keys)
            return out.reshape(n, k)
        order = cells[np.argsort(flat[cells], kind="stable")]
        feats, starts = np.unique(flat[order], return_index=True)
        bounds = list(starts[1:]) + [order.size]
        for j, lo, hi in zip(feats.tolist(), starts.tolist(), bounds):
            where = order[lo:hi]
            ft = self._text[j]
            if keys is not None and isinstance(X, np.ndarray) and j not in self._levels \
                    and ft.template.kind != "category":
                shown = keys[where // k, j]
            else:
                shown = self.shown_values(X, j, where // k)
            if shown.dtype == object:
                codes, uniq = pd.factorize(pd.Series(shown, dtype=object), use_na_sentinel=False)
                uniq_list = list(uniq)
            else:
                uniq_arr, codes = np.unique(shown, return_inverse=True)
                uniq_list = uniq_arr.tolist()
            texts = np.array([self._text_of(j, u) for u in uniq_list], dtype=object)
            out[where] = texts[np.asarray(codes).ravel()]
        return out.reshape(n, k)

    def _sentence(self, j: int, row: int, X: pd.DataFrame | np.ndarray, keys: np.ndarray | None) -> str:
        """The sentence of one cell, as :meth:`format` words it for a group of cells."""
        ft = self._text[j]
        if keys is not None and isinstance(X, np.ndarray) and j not in self._levels \
                and ft.template.kind != "category":
            value: object = float(keys[row, j])
        else:
            shown = self.shown_values(X, j, np.array([row]))
            value = shown[0] if shown.dtype == object else float(shown[0])
        return self._text_of(j, value)

    def _text_of(self, j: int, value: object) -> str:
        """The sentence of feature ``j`` showing ``value`` (a display key, a level, None or NaN), remembered.

        A book repeats the same shown values (a delay of 30 days, a share of 12.5%) in every chunk and
        service batch: each sentence is worded once and then looked up.
        """
        missing = value is None or (isinstance(value, float) and value != value)
        key = (j, None) if missing else (j, value)
        text = self._sentences.get(key)
        if text is None:
            ft = self._text[j]
            text = sentence(ft.c_label, render_body(ft.template, None if missing else value), ft.comparison)
            if len(self._sentences) >= _SENTENCE_CACHE:
                self._sentences.clear()  # bounded: a book of unusual values never grows it without end
            self._sentences[key] = text
        return text

    def records(self, idx_row: np.ndarray, contrib_row: np.ndarray, texts_row: Sequence[object],
                values_row: Sequence[object]) -> list[dict[str, object]]:
        """One customer's reasons as dicts: feature, c, contribution, value, shown_value, comparison, text.

        ``texts_row`` are the sentences :meth:`format` gave for ``idx_row``; ``values_row``
        the customer's value of every feature (categories as strings, NaN/None when missing).
        """
        out: list[dict[str, object]] = []
        for j, text in zip(idx_row.tolist(), texts_row):
            if j < 0:
                continue
            raw = values_row[j]
            missing = raw is None or (isinstance(raw, float) and np.isnan(raw))
            tmpl = self._text[j].template
            if missing:
                shown = None
            elif isinstance(raw, str):
                shown = format_value("category", raw)
            else:
                key = float(display_key(tmpl.kind, np.array([float(raw)]))[0])
                shown = format_value(tmpl.kind, key, tmpl.unit) if tmpl.kind != "category" else str(raw)
            out.append({
                "feature": self.features[j],
                "c": self._text[j].c_label.lower(),
                "contribution": float(contrib_row[j]),
                "value": None if missing else (raw if isinstance(raw, str) else float(raw)),
                "shown_value": shown,
                "comparison": self._text[j].comparison,
                "text": text,
            })
        return out


def feature_phrase(feature: str, value: object) -> str:
    """A feature and the customer's value as a short phrase (the reason body), e.g. for chart labels."""
    tmpl = template_for(feature)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return render_body(tmpl, None)
    if tmpl.kind == "category" or isinstance(value, str):
        return render_body(tmpl, str(value)) if tmpl.kind == "category" else f"{feature} = {value}"
    return render_body(tmpl, float(display_key(tmpl.kind, np.array([float(value)]))[0]))  # type: ignore[arg-type]


# ------------------------------------------------------------------ the reason rule
REFERENCE_LABEL = "typical customer in good standing"


def _keys(kind: str, values: np.ndarray) -> np.ndarray:
    """Display keys of a column (category codes and flags compared as they are)."""
    if kind == "category":
        return np.asarray(values, dtype=float)
    return display_key(kind, values)


class ReasonRule:
    """Selects the reasons of many rows by concept, showing only those on the right side of the reference.

    Parameters
    ----------
    features : the model's features (columns of the contribution and value matrices).
    reference : (F,) the reference customer's values (categories as level codes, NaN unknown).
    lower, upper : (F,) training range of each feature (NaN: unknown); only used for calendar-driven ones.
    directions : feature -> +1 / -1 credit direction (default: the dictionary's).
    """

    def __init__(self, features: Sequence[str], reference: np.ndarray, lower: np.ndarray | None = None,
                 upper: np.ndarray | None = None, directions: Mapping[str, int] | None = None) -> None:
        self.features = list(features)
        F = len(self.features)
        dirs = CREDIT_DIRECTION if directions is None else directions
        self.direction = np.array([int(dirs.get(f, 0)) for f in self.features], dtype=np.int64)
        self.kinds = [template_for(f).kind for f in self.features]
        self.reference = np.asarray(reference, dtype=float).reshape(F)
        self.ref_keys = np.array([_keys(k, self.reference[j:j + 1])[0] for j, k in enumerate(self.kinds)])
        self.lower = np.full(F, np.nan) if lower is None else np.asarray(lower, dtype=float)
        self.upper = np.full(F, np.nan) if upper is None else np.asarray(upper, dtype=float)
        self.calendar = np.array([f in CALENDAR_DRIVEN for f in self.features])
        self._calendar_cols = np.flatnonzero(self.calendar)
        self._kind_cols = [(k, np.array([j for j, kj in enumerate(self.kinds) if kj == k], dtype=np.int64))
                           for k in dict.fromkeys(self.kinds)]
        self.concepts = concept_of(self.features)
        names = list(dict.fromkeys(self.concepts))
        self.concept_names = names
        cid = np.array([names.index(c) for c in self.concepts], dtype=np.int64)
        self.concept_id = cid
        self.membership = np.zeros((F, len(names)))
        self.membership[np.arange(F), cid] = 1.0
        self._multi = [(k, np.flatnonzero(cid == k)) for k in range(len(names)) if (cid == k).sum() > 1]
        self._single = np.array([np.flatnonzero(cid == k)[0] for k in range(len(names)) if (cid == k).sum() == 1],
                                dtype=np.int64)
        self._single_k = np.array([k for k in range(len(names)) if (cid == k).sum() == 1], dtype=np.int64)

    def _side_keys(self, M: np.ndarray, MT: np.ndarray | None = None) -> np.ndarray:
        """Display keys of every cell (one display-rounding pass per format kind).

        Computed on the transposed matrix, so that a kind's columns are contiguous rows
        (gathering strided columns cost several times the rounding itself); returns
        the (n, F) keys as a Fortran-ordered array, element for element the same values.
        ``MT`` is ``ascontiguousarray(M.T)`` when the caller has it.
        """
        MT = np.ascontiguousarray(np.asarray(M, dtype=float).T) if MT is None else MT
        keys = np.empty_like(MT)
        for kind, cols in self._kind_cols:
            keys[cols] = _keys(kind, MT[cols])
        return keys.T

    def display_keys(self, M: np.ndarray, MT: np.ndarray | None = None) -> np.ndarray:
        """(n, F) display keys of every cell of ``M`` (what the sentences show; categories as codes).

        Computed once per chunk and shared by :meth:`select`, :func:`count_contradictions` and
        :meth:`ReasonFormatter.format` (``keys=``), which would otherwise round the same cells again.
        ``MT`` is ``ascontiguousarray(M.T)`` when the caller has it.
        """
        return self._side_keys(M, MT)

    def sides(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(may_raise, may_lower): per cell, whether the shown value may be quoted as raising / lowering."""
        M = np.asarray(M, dtype=float)
        keys = self._side_keys(M)
        diff = keys - self.ref_keys[None, :]  # NaN where the value or the reference is missing
        miss = np.isnan(M)
        d = self.direction[None, :]
        other = diff != 0  # no direction: the shown value must differ (True for an unknown reference)
        with np.errstate(invalid="ignore"):
            up = miss | np.where(d > 0, diff > 0, np.where(d < 0, diff < 0, other))
            down = miss | np.where(d > 0, diff < 0, np.where(d < 0, diff > 0, other))
        cal = self._calendar_cols
        if cal.size:
            x = M[:, cal]
            outside = (x < self.lower[cal]) | (x > self.upper[cal])  # False for NaN bounds
            up[:, cal] &= ~outside
            down[:, cal] &= ~outside
        return up, down

    def concept_sums(self, contrib: np.ndarray) -> np.ndarray:
        """(n, concepts) sums of the contributions of each concept's features.

        Added feature by feature in column order (not a BLAS product, whose order of additions
        depends on the number of rows): a customer's sums are the same to the last bit whether it
        is scored alone, in a service batch or in a batch chunk.
        """
        c = np.ascontiguousarray(contrib, dtype=np.float64)
        out = np.zeros((c.shape[0], len(self.concept_names)))
        _concept_sums(c, self.concept_id, out)
        return out

    def select(self, contrib: np.ndarray, M: np.ndarray, n_up: int, n_down: int, count: bool = True,
               G: np.ndarray | None = None, keys: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """Quoted feature indices (n x n_up, n x n_down; -1 none), ranked by concept contribution, and counts.

        Counts: ``withheld`` = concepts that are among the top reasons by contribution but are not shown,
        because no member can be quoted without contradiction (or only calendar-driven ones out of range).
        ``G`` is ``concept_sums(contrib)`` and ``keys`` is ``display_keys(M)`` when the caller has them.  The display keys are computed with
        numpy (exactly as :meth:`sides`); sides, the best member of every concept and the ranking by
        concept are then one compiled pass per row (:func:`_rule_rows`), the rule of :meth:`sides` and
        :func:`rank_reasons` cell for cell.
        """
        c = np.ascontiguousarray(contrib, dtype=np.float64)
        n, F = c.shape
        n_up, n_down = max(n_up, 0), max(n_down, 0)
        if n == 0:
            return (np.full((0, n_up), NONE, np.int64), np.full((0, n_down), NONE, np.int64), {"withheld": 0})
        Mf = np.ascontiguousarray(M, dtype=np.float64)
        G = np.ascontiguousarray(self.concept_sums(c) if G is None else G, dtype=np.float64)
        if count and np.isnan(G).any():
            raise ValueError(f"contributions contain {int(np.isnan(G).sum())} NaN values")
        keys = self._side_keys(Mf) if keys is None else keys
        up = np.full((n, n_up), NONE, dtype=np.int64)
        down = np.full((n, n_down), NONE, dtype=np.int64)
        withheld = np.zeros(n, dtype=np.int64)
        args = (c, Mf, keys, G, self.ref_keys.astype(np.float64), self.direction, self.calendar,
                self.lower, self.upper, self.concept_id, n_up, n_down, count, up, down, withheld)
        if n >= PARALLEL_MIN_ROWS:
            with PARALLEL_LOCK:
                _rule_parallel(*args)
        else:
            _rule_serial(*args)
        return up, down, {"withheld": int(withheld.sum()) if count else 0}


@nb.njit(cache=True, nogil=True)
def _concept_sums(c: np.ndarray, concept_id: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            out[i, concept_id[j]] += c[i, j]


@nb.njit(cache=True)
def _rule_row(i, c, M, keys, G, ref_keys, direction, calendar, lower, upper, concept_id,  # noqa: ANN001
              n_up, n_down, count, up, down, withheld,
              cu, cd, best_up, best_dn, score, gu, gd, ru, rd):  # pragma: no cover - compiled
    """Row i of :meth:`ReasonRule.select` (buffers cu .. rd are the caller's scratch rows)."""
    F = c.shape[1]
    K = G.shape[1]
    for k in range(K):
        best_up[k] = NONE
        best_dn[k] = NONE
    for j in range(F):
        x = M[i, j]
        v = c[i, j]
        if np.isnan(x):
            may_up = True
            may_dn = True
        else:
            diff = keys[i, j] - ref_keys[j]
            d = direction[j]
            if d > 0:
                may_up = diff > 0
                may_dn = diff < 0
            elif d < 0:
                may_up = diff < 0
                may_dn = diff > 0
            else:
                may_up = diff != 0
                may_dn = diff != 0
            if calendar[j] and (x < lower[j] or x > upper[j]):
                may_up = False
                may_dn = False
        cu[j] = v if (may_up and v > 0) else 0.0
        cd[j] = v if (may_dn and v < 0) else 0.0
        # best member per concept: the first largest (up) / most negative (down), as numpy's argmax / argmin
        k = concept_id[j]
        b = best_up[k]
        if b == NONE:
            best_up[k] = j  # provisional first member; checked below
        elif cu[j] > cu[b]:
            best_up[k] = j
        b = best_dn[k]
        if b == NONE:
            best_dn[k] = j
        elif cd[j] < cd[b]:
            best_dn[k] = j
    for k in range(K):
        bu = best_up[k]
        if bu != NONE and not cu[bu] > 0:
            best_up[k] = NONE
        bd = best_dn[k]
        if bd != NONE and not cd[bd] < 0:
            best_dn[k] = NONE
        g = G[i, k]
        ok = (g > 0 and best_up[k] >= 0) or (g < 0 and best_dn[k] >= 0)
        score[0, k] = g if ok else 0.0
    for p in range(n_up):
        gu[0, p] = NONE
    for p in range(n_down):
        gd[0, p] = NONE
    _select_row(score, 0, n_up, n_down, gu, gd)
    for p in range(n_up):
        up[i, p] = best_up[gu[0, p]] if gu[0, p] >= 0 else NONE
    for p in range(n_down):
        down[i, p] = best_dn[gd[0, p]] if gd[0, p] >= 0 else NONE
    if count:  # concepts among the unfiltered top reasons that the rule did not show
        for k in range(K):
            score[0, k] = G[i, k]
        for p in range(n_up):
            ru[0, p] = NONE
        for p in range(n_down):
            rd[0, p] = NONE
        _select_row(score, 0, n_up, n_down, ru, rd)
        w = 0
        for p in range(n_up):
            if ru[0, p] >= 0:
                kept = False
                for q in range(n_up):
                    if gu[0, q] == ru[0, p]:
                        kept = True
                w += 0 if kept else 1
        for p in range(n_down):
            if rd[0, p] >= 0:
                kept = False
                for q in range(n_down):
                    if gd[0, q] == rd[0, p]:
                        kept = True
                w += 0 if kept else 1
        withheld[i] = w


@nb.njit(cache=True, parallel=True)
def _rule_parallel(c, M, keys, G, ref_keys, direction, calendar, lower, upper, concept_id,  # noqa: ANN001, ANN202
                   n_up, n_down, count, up, down, withheld):  # pragma: no cover - compiled
    n, F = c.shape
    K = G.shape[1]
    n_blocks = (n + 255) // 256
    for b in nb.prange(n_blocks):
        cu = np.empty(F)
        cd = np.empty(F)
        best_up = np.empty(K, dtype=np.int64)
        best_dn = np.empty(K, dtype=np.int64)
        score = np.empty((1, K))
        gu = np.empty((1, n_up), dtype=np.int64)
        gd = np.empty((1, n_down), dtype=np.int64)
        ru = np.empty((1, n_up), dtype=np.int64)
        rd = np.empty((1, n_down), dtype=np.int64)
        for i in range(b * 256, min(n, b * 256 + 256)):
            _rule_row(i, c, M, keys, G, ref_keys, direction, calendar, lower, upper, concept_id, n_up, n_down,
                      count, up, down, withheld, cu, cd, best_up, best_dn, score, gu, gd, ru, rd)


@nb.njit(cache=True)
def _rule_serial(c, M, keys, G, ref_keys, direction, calendar, lower, upper, concept_id,  # noqa: ANN001, ANN202
                 n_up, n_down, count, up, down, withheld):  # pragma: no cover - compiled
    n, F = c.shape
    K = G.shape[1]
    cu = np.empty(F)
    cd = np.empty(F)
    best_up = np.empty(K, dtype=np.int64)
    best_dn = np.empty(K, dtype=np.int64)
    score = np.empty((1, K))
    gu = np.empty((1, n_up), dtype=np.int64)
    gd = np.empty((1, n_down), dtype=np.int64)
    ru = np.empty((1, n_up), dtype=np.int64)
    rd = np.empty((1, n_down), dtype=np.int64)
    for i in range(n):
        _rule_row(i, c, M, keys, G, ref_keys, direction, calendar, lower, upper, concept_id, n_up, n_down,
                  count, up, down, withheld, cu, cd, best_up, best_dn, score, gu, gd, ru, rd)


def count_contradictions(rule: ReasonRule, up: np.ndarray, down: np.ndarray, contrib: np.ndarray,
                         M: np.ndarray, G: np.ndarray | None = None, keys: np.ndarray | None = None) -> int:
    """Shown reasons that contradict themselves, checked cell by cell on what is shown.

    A reason up contradicts when its feature's or its concept's contribution is not positive, or
    its quoted value (as displayed) is not on the risky side of the reference it quotes (for a
    feature without a credit direction: equal to it as displayed), or it is a calendar-driven
    feature outside its training range; mirror rule for reasons down.  Missing values claim no side.
    ``G`` is ``rule.concept_sums(contrib)`` and ``keys`` is ``rule.display_keys(M)`` when the caller has them
    (the same rounding of the same cells; the decisions are checked here again).
    """
    G = rule.concept_sums(contrib) if G is None else G
    keys = rule.display_keys(M) if keys is None else keys
    return int(_count_contradictions(
        np.ascontiguousarray(up, dtype=np.int64), np.ascontiguousarray(down, dtype=np.int64),
        np.asarray(contrib, dtype=np.float64), np.asarray(M, dtype=np.float64), np.asarray(keys, dtype=np.float64),
        np.asarray(G, dtype=np.float64), rule.ref_keys.astype(np.float64), rule.direction, rule.calendar,
        rule.lower, rule.upper, rule.concept_id))


@nb.njit(cache=True, nogil=True)
def _count_contradictions(up, down, contrib, M, keys, G, ref_keys, direction, calendar, lower, upper,  # noqa: ANN001
                          concept_id):  # noqa: ANN001, ANN202  # pragma: no cover - compiled
    """The rule of :func:`count_contradictions`, shown cell by shown cell."""
    bad = 0
    for side in range(2):
        idx = up if side == 0 else down
        sign = 1.0 if side == 0 else -1.0
        for r in range(idx.shape[0]):
            for p in range(idx.shape[1]):
                j = idx[r, p]
                if j < 0:
                    continue
                x = M[r, j]
                wrong = contrib[r, j] * sign <= 0 or G[r, concept_id[j]] * sign <= 0
                if not np.isnan(x):  # missing values claim no side
                    d = direction[j]
                    if d != 0:
                        if not (keys[r, j] - ref_keys[j]) * d * sign > 0:
                            wrong = True
                    elif keys[r, j] == ref_keys[j]:
                        wrong = True
                    if calendar[j] and (x < lower[j] or x > upper[j]):
                        wrong = True
                bad += 1 if wrong else 0
    return bad
