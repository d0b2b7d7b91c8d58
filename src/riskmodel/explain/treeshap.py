"""Exact path-dependent TreeSHAP for shallow LightGBM boosters, tabulated once per model (fast).

LightGBM's ``pred_contrib`` runs the classic TreeSHAP recursion for every row,
at a cost of about trees x leaves x depth^2.  For the shallow trees credit data
needs, the same exact values are cheaper to get by tabulation, in the spirit of
"Fast TreeSHAP" (Yang, 2021):

* for a leaf whose path uses ``d`` distinct features, the leaf's share of each
  feature's SHAP value depends only on which of those ``d`` features the row
  agrees with (``2**d`` patterns), so it is tabulated once;
* leaves are then summed in *groups*: a subtree together with the path above it,
  as long as their splits number at most ``MAX_GROUP_BITS``.  The group's SHAP
  values depend only on the row's decisions at those splits, so each group is one
  table indexed by those decisions (for depth-4 trees: two tables of 256 rows
  per tree).

Per row and tree the work is then: evaluate every split once, and for each
group gather its decision bits, look up one table row and add its few values.
The result equals ``booster.predict(X, pred_contrib=True)`` (same cover weights,
same missing-value and categorical rules) to floating-point rounding; the tests
check it.  Boosters with deeper trees are refused by :func:`can_explain`;
callers fall back to ``pred_contrib`` there.

Against one reference customer (``reference=``), the same tables hold the exact
*baseline* (interventional, one background row) Shapley values of the game
``v(S) = f(x_S, r_rest)``: a leaf of value ``v`` whose path features split into
``A`` (only the row follows the path), ``B`` (only the reference does) and the
rest (both do) gives each feature of ``A`` ``v (a-1)! b! / (a+b)!`` and each of
``B`` ``-v a! (b-1)! / (a+b)!``; a leaf neither follows adds nothing.  The values
then sum to ``f(x) - f(r)``, the bias is ``f(r)``, a feature equal to the
reference's gets exactly 0, and a feature under a monotone constraint gets the
sign of its constraint times the sign of ``x_j - r_j`` (every marginal step
moves that one feature from ``r_j`` to ``x_j``).  Reasons use this form (see
:mod:`riskmodel.explain.reasons`).

Example
-------
>>> import lightgbm as lgb
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 3))
>>> y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
>>> params = {"objective": "binary", "num_leaves": 4, "verbose": -1}
>>> booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=5)
>>> phi, bias = LightGBMTreeShap(booster).shap_values(X[:4])
>>> bool(np.allclose(phi.sum(axis=1) + bias, booster.predict(X[:4], raw_score=True)))
True
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

MAX_NODES = 64  # splits per tree: node decisions are kept as the bits of one uint64
MAX_GROUP_BITS = 8  # splits per group table (2**8 rows)
MAX_PATH = 12  # splits on one root-to-leaf path (a lone leaf's group needs one bit per split)
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass(frozen=True)
class _Tables:
    """Flat arrays describing every tree and its group tables, ready for the numba kernel."""

    tree_node_start: np.ndarray  # (T+1,) offsets into node arrays
    node_feature: np.ndarray  # (N,) int64
    node_threshold: np.ndarray  # (N,) float64
    node_kind: np.ndarray  # (N,) int8: 0 numeric, 1 numeric with zero-as-missing, 2 categorical
    node_nan_left: np.ndarray  # (N,) bool: where a missing value goes
    node_zero_left: np.ndarray  # (N,) bool: where a zero goes under zero-as-missing
    node_cat_start: np.ndarray  # (N+1,) offsets into cat_left
    cat_left: np.ndarray  # category codes sent left
    tree_group_start: np.ndarray  # (T+1,) offsets into group arrays
    group_bit_start: np.ndarray  # (G+1,) offsets into bit_node (the group's ancestor splits)
    bit_node: np.ndarray  # local node index (within its tree) of each ancestor key bit
    group_sub_lo: np.ndarray  # (G,) first local node of the group's subtree (contiguous depth-first)
    group_sub_n: np.ndarray  # (G,) number of splits in the group's subtree
    group_slot_start: np.ndarray  # (G+1,) offsets into slot_feature
    slot_feature: np.ndarray  # global feature of each group slot
    group_table_start: np.ndarray  # (G+1,) offsets into table
    table: np.ndarray  # per group: 2**bits rows x slots of SHAP values
    bias: float


def _tree_paths(booster: Any) -> tuple[list[Any], int]:
    dump = booster.dump_model()
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output", False):
        raise ValueError("fast TreeSHAP handles binary / regression boosters without averaging only")
    return dump["tree_info"], int(dump["max_feature_idx"]) + 1


@dataclass
class _Tree:
    """One tree numbered depth-first: internal nodes, children, and each leaf's value and path."""

    nodes: list[dict[str, Any]]
    children: list[tuple[tuple[str, int], tuple[str, int]]]  # per node: (kind, id) left and right
    leaves: list[tuple[float, list[tuple[int, bool, float]]]]  # value, path (node, went_left, cover ratio)


def _parse_tree(root: dict[str, Any]) -> _Tree:
    tree = _Tree([], [], [])

    def walk(node: dict[str, Any], path: list[tuple[int, bool, float]]) -> tuple[str, int]:
        if "left_child" not in node:
            tree.leaves.append((float(node.get("leaf_value", 0.0)), list(path)))
            return ("leaf", len(tree.leaves) - 1)
        idx = len(tree.nodes)
        tree.nodes.append(node)
        tree.children.append((("leaf", -1), ("leaf", -1)))
        total = float(node["internal_count"])
        kids = []
        for key, left in (("left_child", True), ("right_child", False)):
            child = node[key]
            count = float(child.get("internal_count", child.get("leaf_count", 0)))
            path.append((idx, left, count / total if total > 0 else 0.0))
            kids.append(walk(child, path))
            path.pop()
        tree.children[idx] = (kids[0], kids[1])
        return ("node", idx)

    walk(root, [])
    return tree


def _groups(tree: _Tree) -> list[tuple[list[int], list[int], list[int]]]:
    """Split a tree into groups (ancestor splits, subtree splits, leaves) of at most MAX_GROUP_BITS splits."""
    def subtree(kind_id: tuple[str, int]) -> tuple[list[int], list[int]]:
        kind, i = kind_id
        if kind == "leaf":
            return [], [i]
        nodes, leaves = [i], []
        for child in tree.children[i]:
            n, lv = subtree(child)
            nodes += n
            leaves += lv
        return nodes, leaves

    out: list[tuple[list[int], list[int], list[int]]] = []

    def visit(kind_id: tuple[str, int], ancestors: list[int]) -> None:
        nodes, leaves = subtree(kind_id)
        if kind_id[0] == "leaf" or len(ancestors) + len(nodes) <= MAX_GROUP_BITS:
            out.append((ancestors, sorted(nodes), leaves))
            return
        for child in tree.children[kind_id[1]]:
            visit(child, ancestors + [kind_id[1]])

    if tree.nodes:
        visit(("node", 0), [])
    return out


@nb.njit(cache=True)
def _leaf_table(value: float, ratios: np.ndarray, d: int, out: np.ndarray) -> None:  # pragma: no cover
    """Fill ``out`` (2**d x d) with the leaf's SHAP value per agreement pattern and slot."""
    fact = np.empty(d + 1)
    fact[0] = 1.0
    for i in range(1, d + 1):
        fact[i] = fact[i - 1] * i
    for pattern in range(1 << d):
        for j in range(d):
            s_j = 1.0 if (pattern >> j) & 1 else 0.0
            diff = s_j - ratios[j]
            if diff == 0.0:
                out[pattern, j] = 0.0
                continue
            acc = 0.0
            # subsets S of the other slots in which every member agrees with the row
            for subset in range(1 << d):
                if (subset >> j) & 1:
                    continue
                if subset & ~pattern:
                    continue
                size = 0
                prod = 1.0
                for k in range(d):
                    if k == j:
                        continue
                    if (subset >> k) & 1:
                        size += 1
                    else:
                        prod *= ratios[k]
                acc += fact[size] * fact[d - size - 1] / fact[d] * prod
            out[pattern, j] = value * diff * acc


def _goes_left(node: dict[str, Any], value: float) -> bool:
    """LightGBM's decision at one split for one value (the rule of :func:`_shap_block`)."""
    if node["decision_type"] == "==":
        if not value > -1.0:  # NaN or negative code: right
            return False
        return int(value) in {int(c) for c in str(node["threshold"]).split("||")}
    missing = _MISSING[str(node["missing_type"])]
    default_left = bool(node["default_left"])
    threshold = float(node["threshold"])
    if value != value:
        return default_left if missing in (1, 2) else 0.0 <= threshold
    if missing == 1 and abs(value) <= 1e-35:
        return default_left
    return value <= threshold


def _baseline_leaf_table(value: float, ref_ok: list[bool], d: int) -> np.ndarray:
    """(2**d x d) baseline Shapley values of one leaf against a reference; pattern bit j = row follows slot j."""
    out = np.zeros((1 << d, max(d, 1)))
    fact = [math.factorial(i) for i in range(d + 1)]
    for pattern in range(1 << d):
        row_ok = [bool((pattern >> j) & 1) for j in range(d)]
        if any(not row_ok[j] and not ref_ok[j] for j in range(d)):
            continue  # neither the row nor the reference can reach the leaf with these choices
        a_set = [j for j in range(d) if row_ok[j] and not ref_ok[j]]
        b_set = [j for j in range(d) if ref_ok[j] and not row_ok[j]]
        a, b = len(a_set), len(b_set)
        if a + b == 0:
            continue
        for j in a_set:
            out[pattern, j] = value * fact[a - 1] * fact[b] / fact[a + b]
        for j in b_set:
            out[pattern, j] = -value * fact[a] * fact[b - 1] / fact[a + b]
    return out


def _leaf_parts(tree: _Tree, leaf: int, max_path_features: int, reference: np.ndarray | None = None
                ) -> tuple[list[int], list[list[tuple[int, bool]]], np.ndarray, float]:
    """A leaf's distinct features, the path conditions of each, its pattern table and its bias share.

    With ``reference`` (one row, the booster's feature order) the table holds baseline Shapley
    values against it and the bias share is the leaf value when the reference reaches the leaf.
    """
    value, path = tree.leaves[leaf]
    feats: list[int] = []
    conds: list[list[tuple[int, bool]]] = []
    ratios: list[float] = []
    for node_idx, left, ratio in path:
        feat = int(tree.nodes[node_idx]["split_feature"])
        if feat not in feats:
            feats.append(feat)
            conds.append([])
            ratios.append(1.0)
        j = feats.index(feat)
        conds[j].append((node_idx, left))
        ratios[j] *= ratio
    d = len(feats)
    if d > max_path_features:
        raise ValueError(f"a leaf path uses {d} features (> {max_path_features}); use pred_contrib for such deep trees")
    if reference is not None:
        ref_ok = [all(_goes_left(tree.nodes[n], float(reference[feats[j]])) == left for n, left in conds[j])
                  for j in range(d)]
        table = _baseline_leaf_table(value, ref_ok, d)
        return feats, conds, table[:, :d], value if all(ref_ok) else 0.0
    table = np.zeros((1 << d, max(d, 1)))
    if d:
        _leaf_table(value, np.asarray(ratios, dtype=np.float64), d, table)
    return feats, conds, table[:, :d], value * float(np.prod(ratios))


def build_tables(booster: Any, max_path_features: int = 10, reference: np.ndarray | None = None) -> _Tables:
    """Tabulate every tree of ``booster`` in groups; ValueError when a tree is too deep for it.

    ``reference``: one row in the booster's feature order (categories as its codes) for baseline
    Shapley values against it; None for path-dependent TreeSHAP (``pred_contrib``).
    """
    tree_info, _ = _tree_paths(booster)
    tree_node_start, tree_group_start = [0], [0]
    node_feature, node_threshold, node_kind, node_nan_left, node_zero_left = [], [], [], [], []
    node_cat_start, cat_left = [0], []  # type: ignore[var-annotated]  # ints, filled below
    group_bit_start, bit_node, group_sub_lo, group_sub_n = [0], [], [], []
    group_slot_start, slot_feature = [0], []
    group_table_start, tables = [0], []
    bias = 0.0
    for info in tree_info:
        tree = _parse_tree(info["tree_structure"])
        if len(tree.nodes) > MAX_NODES:
            raise ValueError(f"a tree has {len(tree.nodes)} splits (> {MAX_NODES}); use pred_contrib")
        if any(len(path) > MAX_PATH for _, path in tree.leaves):
            raise ValueError(f"a tree is deeper than {MAX_PATH} splits; use pred_contrib")
        for nd in tree.nodes:
            node_feature.append(int(nd["split_feature"]))
            categorical = nd["decision_type"] == "=="
            missing = _MISSING[str(nd["missing_type"])]
            default_left = bool(nd["default_left"])
            if categorical:
                node_threshold.append(0.0)
                cat_left.extend(int(c) for c in str(nd["threshold"]).split("||"))
                node_kind.append(2)
                node_nan_left.append(False)  # LightGBM sends a missing category right
            else:
                threshold = float(nd["threshold"])
                node_threshold.append(threshold)
                node_kind.append(1 if missing == 1 else 0)
                # NaN: default direction for NaN-missing; otherwise it is read as 0 (Zero-missing: default)
                node_nan_left.append(default_left if missing in (1, 2) else 0.0 <= threshold)
            node_zero_left.append(default_left)
            node_cat_start.append(len(cat_left))
        if not tree.nodes:  # a lone leaf: a constant
            bias += tree.leaves[0][0]
        for ancestors, sub, leaves in _groups(tree):
            bits = ancestors + sub
            n_bits = len(bits)
            keys = np.arange(1 << n_bits)
            went_left = ((keys[:, None] >> np.arange(n_bits)) & 1).astype(bool)  # key row -> decision per bit
            bit_of = {node: b for b, node in enumerate(bits)}
            gfeats: list[int] = []
            parts = []
            for leaf in leaves:
                feats, conds, ltable, leaf_bias = _leaf_parts(tree, leaf, max_path_features, reference)
                bias += leaf_bias
                for f in feats:
                    if f not in gfeats:
                        gfeats.append(f)
                parts.append((feats, conds, ltable))
            table = np.zeros((1 << n_bits, len(gfeats)))
            for feats, conds, ltable in parts:
                if not feats:
                    continue
                pattern = np.zeros(len(keys), dtype=np.int64)
                for j, cj in enumerate(conds):
                    ok = np.ones(len(keys), dtype=bool)
                    for node_idx, left in cj:
                        ok &= went_left[:, bit_of[node_idx]] == left
                    pattern |= ok.astype(np.int64) << j
                table[:, [gfeats.index(f) for f in feats]] += ltable[pattern]
            if sub != list(range(sub[0], sub[0] + len(sub)) if sub else []):
                raise AssertionError("subtree splits are not numbered contiguously")  # a programming error
            bit_node.extend(ancestors)
            group_bit_start.append(len(bit_node))
            group_sub_lo.append(sub[0] if sub else 0)
            group_sub_n.append(len(sub))
            slot_feature.extend(gfeats)
            group_slot_start.append(len(slot_feature))
            tables.append(table.ravel())
            group_table_start.append(group_table_start[-1] + table.size)
        tree_node_start.append(len(node_feature))
        tree_group_start.append(len(group_bit_start) - 1)
    i64 = np.int64
    return _Tables(
        tree_node_start=np.asarray(tree_node_start, i64),
        node_feature=np.asarray(node_feature, i64),
        node_threshold=np.asarray(node_threshold, np.float64),
        node_kind=np.asarray(node_kind, np.int8),
        node_nan_left=np.asarray(node_nan_left, np.bool_),
        node_zero_left=np.asarray(node_zero_left, np.bool_),
        node_cat_start=np.asarray(node_cat_start, i64),
        cat_left=np.asarray(cat_left, i64),
        tree_group_start=np.asarray(tree_group_start, i64),
        group_bit_start=np.asarray(group_bit_start, i64),
        bit_node=np.asarray(bit_node, np.uint64),
        group_sub_lo=np.asarray(group_sub_lo, np.uint64),
        group_sub_n=np.asarray(group_sub_n, np.uint64),
        group_slot_start=np.asarray(group_slot_start, i64),
        slot_feature=np.asarray(slot_feature, i64),
        group_table_start=np.asarray(group_table_start, i64),
        table=np.concatenate(tables) if tables else np.zeros(0),
        bias=bias,
    )


_BLOCK = 64  # rows per block: a tree's tables stay in cache while the block's rows go through it
#: numba's default threading layer must not be entered from two threads at once
PARALLEL_LOCK = threading.Lock()
#: below this many rows the serial kernel is used (no thread start-up, safe from any thread)
PARALLEL_MIN_ROWS = 2048


@nb.njit(cache=True, nogil=True)
def _shap_block(XT: np.ndarray, out: np.ndarray, lo: int, hi: int, tree_node_start: np.ndarray,
                node_feature: np.ndarray, node_threshold: np.ndarray, node_kind: np.ndarray,
                node_nan_left: np.ndarray, node_zero_left: np.ndarray, node_cat_start: np.ndarray,
                cat_left: np.ndarray, tree_group_start: np.ndarray, group_bit_start: np.ndarray,
                bit_node: np.ndarray, group_sub_lo: np.ndarray, group_sub_n: np.ndarray,
                group_slot_start: np.ndarray, slot_feature: np.ndarray, group_table_start: np.ndarray,
                table: np.ndarray) -> None:  # pragma: no cover - compiled
    """Add the SHAP values of rows lo..hi-1 to ``out`` (tree-major within the block).

    ``XT`` is the matrix transposed (features x rows, C-contiguous), so that one split is
    evaluated over the block's rows as one contiguous, vectorisable loop; the table lookups then
    go row by row, in the same order as always (the sums are the same to the last bit).
    Splits follow LightGBM's rules (NumericalDecision: a missing value goes to ``nan_left``, a zero
    under zero-as-missing to ``zero_left``; CategoricalDecision: the codes listed go left, a
    missing or negative code goes right).
    """
    n_trees = tree_node_start.shape[0] - 1
    one = np.uint64(1)
    n_rows = hi - lo
    bits = np.empty(n_rows, dtype=np.uint64)
    for t in range(n_trees):
        n0 = tree_node_start[t]
        n_nodes = tree_node_start[t + 1] - n0
        bits[:] = 0
        for k in range(n_nodes):
            node = n0 + k
            x = XT[node_feature[node], lo:hi]
            shift = np.uint64(k)
            kind = node_kind[node]
            if kind == 2:
                c0, c1 = node_cat_start[node], node_cat_start[node + 1]
                for r in range(n_rows):
                    f = x[r]
                    if f > -1.0:  # False for NaN; LightGBM truncates to int and sends negative codes right
                        code = int(f)
                        for c in range(c0, c1):
                            if cat_left[c] == code:
                                bits[r] |= one << shift
                                break
            else:
                thr = node_threshold[node]
                nan_left = node_nan_left[node]
                if kind == 1:
                    zero_left = node_zero_left[node]
                    for r in range(n_rows):
                        f = x[r]
                        zero = abs(f) <= 1e-35
                        left = (((f <= thr) | ((f != f) & nan_left)) & (not zero)) | (zero & zero_left)
                        bits[r] |= np.uint64(left) << shift
                else:
                    for r in range(n_rows):
                        f = x[r]
                        bits[r] |= np.uint64((f <= thr) | ((f != f) & nan_left)) << shift
        for r in range(n_rows):
            went_left = bits[r]
            i = lo + r
            for g in range(tree_group_start[t], tree_group_start[t + 1]):
                b0 = group_bit_start[g]
                n_anc = group_bit_start[g + 1] - b0
                key = np.uint64(0)
                for b in range(n_anc):
                    key |= ((went_left >> bit_node[b0 + b]) & one) << np.uint64(b)
                sub_n = group_sub_n[g]
                if sub_n:
                    key |= ((went_left >> group_sub_lo[g]) & ((one << sub_n) - one)) << np.uint64(n_anc)
                s0 = group_slot_start[g]
                n_slots = group_slot_start[g + 1] - s0
                base = group_table_start[g] + np.int64(key) * n_slots
                for s in range(n_slots):
                    out[i, slot_feature[s0 + s]] += table[base + s]


@nb.njit(parallel=True, cache=True, nogil=True)
def _shap_parallel(X, out, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14,  # noqa: ANN001
                   a15, a16):  # noqa: ANN001, ANN202
    n = X.shape[1]  # pragma: no cover - compiled; X is features x rows
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for b in nb.prange(n_blocks):
        _shap_block(X, out, b * _BLOCK, min(n, (b + 1) * _BLOCK), a0, a1, a2, a3, a4, a5, a6, a7, a8, a9,
                    a10, a11, a12, a13, a14, a15, a16)


@nb.njit(cache=True, nogil=True)
def _shap_serial(X, out, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14,  # noqa: ANN001
                 a15, a16):  # noqa: ANN001, ANN202
    n = X.shape[1]  # pragma: no cover - compiled; X is features x rows
    for lo in range(0, n, _BLOCK):
        _shap_block(X, out, lo, min(n, lo + _BLOCK), a0, a1, a2, a3, a4, a5, a6, a7, a8, a9,
                    a10, a11, a12, a13, a14, a15, a16)


class LightGBMTreeShap:
    """Exact TreeSHAP values (log-odds) of a LightGBM booster, tabulated once per model.

    Parameters
    ----------
    booster : lightgbm.Booster
        A fitted binary (or regression) booster.
    max_path_features : int
        Refuse boosters whose leaf paths use more distinct features than this
        (a leaf's table grows as 2**d); see :func:`can_explain`.
    reference : array, optional
        One reference row (booster feature order, categories as the booster's codes, NaN
        missing): the values are then baseline Shapley values against it, summing to
        ``f(x) - f(reference)``, and :attr:`expected_value` is ``f(reference)``.
    lazy : bool
        Tabulate on first use instead of now.
    """

    def __init__(self, booster: Any, max_path_features: int = 10, reference: np.ndarray | None = None,
                 lazy: bool = False) -> None:
        self.booster = booster
        self.max_path_features = max_path_features
        self.reference = None if reference is None else np.asarray(reference, dtype=np.float64).ravel()
        self._built: _Tables | None = None
        if not lazy:  # lazy: tabulated on first use (when a reference will be set first)
            self._built = build_tables(booster, max_path_features, self.reference)
        self.feature_names: list[str] = list(booster.feature_name())
        self.pandas_categorical: list[list[Any]] | None = getattr(booster, "pandas_categorical", None)

    @property
    def _tables(self) -> _Tables:
        if self._built is None:
            self._built = build_tables(self.booster, self.max_path_features, self.reference)
        return self._built

    def with_reference(self, reference: np.ndarray | None) -> "LightGBMTreeShap":
        """The same booster explained against ``reference`` (baseline Shapley; None: path-dependent)."""
        return LightGBMTreeShap(self.booster, self.max_path_features, reference)

    @property
    def expected_value(self) -> float:
        """The bias term: the cover-weighted mean raw score, or the reference's raw score."""
        return self._tables.bias

    def to_matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The float64 matrix LightGBM itself would predict on (categories as the training codes)."""
        missing = [c for c in self.feature_names if c not in X.columns]
        if missing:
            raise KeyError(f"features missing from the input: {missing[:5]}")
        cats = iter(self.pandas_categorical or [])
        cols = []
        for name in self.feature_names:
            s = X[name]
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = next(cats)
                codes = pd.Categorical(s.astype(object), categories=levels).codes.astype(np.float64)
                codes[codes < 0] = np.nan
                cols.append(codes)
            else:
                cols.append(pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan))
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))

    def shap_values(self, X: pd.DataFrame | np.ndarray, serial: bool = False) -> tuple[np.ndarray, float]:
        """Return (rows x features SHAP values in log-odds, bias); row sums + bias = raw score.

        ``serial``: one thread, whatever the size (safe to run beside another thread's parallel kernel;
        the compiled kernels release the GIL).
        """
        M = self.to_matrix(X) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=np.float64)
        out = np.zeros((M.shape[0], len(self.feature_names)))
        MT = np.ascontiguousarray(M.T)  # features x rows: each split reads a contiguous run of rows
        tb = self._tables
        args = (tb.tree_node_start, tb.node_feature, tb.node_threshold, tb.node_kind, tb.node_nan_left,
                tb.node_zero_left, tb.node_cat_start, tb.cat_left, tb.tree_group_start, tb.group_bit_start,
                tb.bit_node, tb.group_sub_lo, tb.group_sub_n, tb.group_slot_start, tb.slot_feature,
                tb.group_table_start, tb.table)
        if M.shape[0] >= PARALLEL_MIN_ROWS and not serial:
            with PARALLEL_LOCK:
                _shap_parallel(MT, out, *args)
        elif M.shape[0]:
            _shap_serial(MT, out, *args)
        return out, tb.bias


def can_explain(booster: Any, max_path_features: int = 10) -> bool:
    """True when every tree of ``booster`` is shallow enough to tabulate (see the module docstring)."""
    try:
        tree_info, _ = _tree_paths(booster)
    except ValueError:
        return False

    def check(node: dict[str, Any], feats: frozenset[int], depth: int) -> tuple[int, bool]:
        if "left_child" not in node:
            return 0, len(feats) <= max_path_features and depth <= MAX_PATH
        f = feats | {int(node["split_feature"])}
        n1, ok1 = check(node["left_child"], f, depth + 1)
        n2, ok2 = check(node["right_child"], f, depth + 1)
        return 1 + n1 + n2, ok1 and ok2

    for t in tree_info:
        n, ok = check(t["tree_structure"], frozenset(), 0)
        if not ok or n > MAX_NODES:
            return False
    return True


def shapley_weight(size: int, d: int) -> float:
    """The Shapley weight s!(d-s-1)!/d! (exposed for tests)."""
    return math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
