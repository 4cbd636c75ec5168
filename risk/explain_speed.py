"""Exact TreeSHAP for LightGBM, fast: per-leaf lookup tables instead of the path recursion.

Why: path-dependent TreeSHAP (``booster.predict(X, pred_contrib=True)``, which is also what
``shap.TreeExplainer`` calls for LightGBM) costs about trees × leaves × depth² per row and is the
slowest stage of a monthly run. The same values can be had for trees × leaves × depth per row.

How (the idea of FastTreeSHAP "v2", written out here because fasttreeshap does not build against
numpy 2). Path-dependent TreeSHAP is the exact Shapley value of the game

    v(S) = Σ_leaves value_l · Π_{f on the path of l}  (1[x agrees with every split on f]  if f ∈ S
                                                       else Π cover ratios of those splits)

Shapley values are linear in the game, so they are the sum over leaves of the Shapley values of one
product game per leaf. That game involves only the d ≤ depth distinct features on the leaf's path and
depends on ``x`` only through which of them ``x`` agrees with: a d-bit code. So each leaf gets a table
(2^d codes × d features) computed once per model, and explaining a row means, per tree, deciding each
split once, forming each leaf's code and adding d numbers. Values equal LightGBM's to rounding (a test
checks 1e-6 against ``shap.TreeExplainer`` and additivity against ``predict(raw_score=True)``).

Split decisions follow LightGBM's ``Tree::NumericalDecision`` / ``CategoricalDecision`` exactly:
``x <= threshold`` goes left; NaN becomes 0 unless the split's missing type is NaN; missing values
(NaN, or zero for missing type Zero) follow ``default_left``; categorical: NaN or negative go right,
categories in the split's set go left. Cover is LightGBM's data count per node, as in its TreeSHAP.

Reusing explanations of unchanged rows (:func:`reuse_unchanged`) is offered too; see docs/scale.md
for what each lever is worth on the simulated county.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from math import factorial
from typing import Any

import lightgbm as lgb
import numba
import numpy as np
import pandas as pd

from training.model import ModelMismatchError

#: Deepest path (distinct features on one root-to-leaf path) tabulated; deeper models fall back.
MAX_PATH_FEATURES = 12
#: Trees with at most this many splits get one table over all split outcomes (2^splits rows):
#: a row then costs one lookup per tree instead of one per leaf.
MAX_PATTERN_SPLITS = 8
#: Cached tables per process (keyed by a hash of the model text).
_CACHE_SIZE = 4
_MISSING_NONE, _MISSING_ZERO, _MISSING_NAN = 0, 1, 2
_ZERO_THRESHOLD = 1e-35
#: Rows per parallel block in the explanation kernel.
_BLOCK = 256


@dataclass(frozen=True)
class ShapTables:
    """A LightGBM booster compiled into per-leaf Shapley tables.

    Build with :meth:`from_booster`; explain with :meth:`contributions`. Arrays are flat over all
    trees (nodes ``tree_nodes[t]:tree_nodes[t+1]``, leaves ``tree_leaves[t]:tree_leaves[t+1]``).
    """

    n_features: int
    feature_names: tuple[str, ...]
    pandas_categorical: Any
    expected_value: float
    tree_nodes: np.ndarray  # int64 (T+1,)
    tree_leaves: np.ndarray  # int64 (T+1,)
    node_feature: np.ndarray  # int64 (M,)
    node_threshold: np.ndarray  # float64 (M,)
    node_flags: np.ndarray  # int64 (M,): bit0 categorical, bit1 default_left, bits2-3 missing type
    node_cats: np.ndarray  # int64 (M, 2): start and length in cat_values (categorical splits)
    cat_values: np.ndarray  # int64: the left-going categories of every categorical split
    leaf_path: np.ndarray  # int64 (P,): local node index along each leaf's path
    leaf_goes_left: np.ndarray  # bool (P,)
    leaf_slot: np.ndarray  # int64 (P,): which of the leaf's distinct features the node splits on
    leaf_path_start: np.ndarray  # int64 (L+1,)
    leaf_features: np.ndarray  # int64 (Q,): distinct features of each leaf's path
    leaf_feature_start: np.ndarray  # int64 (L+1,)
    leaf_table_start: np.ndarray  # int64 (L+1,): into table
    table: np.ndarray  # float64: per leaf, 2^d rows × d contributions
    tree_pattern_start: np.ndarray  # int64 (T,): into pattern_table, -1 when the tree has none
    tree_feature_start: np.ndarray  # int64 (T+1,): into tree_features
    tree_features: np.ndarray  # int64: distinct features of each small tree
    pattern_table: np.ndarray  # float64: per small tree, 2^splits rows × its features

    @classmethod
    def from_booster(cls, booster: lgb.Booster) -> ShapTables:
        """Compile ``booster`` (binary or regression, no linear trees).

        Raises
        ------
        ModelMismatchError
            When the model is of a kind this path does not handle (multiclass, linear trees, paths
            with more than ``MAX_PATH_FEATURES`` distinct features); use ``pred_contrib`` instead.
        """
        dump = booster.dump_model()
        _check_supported(dump)
        builder = _TableBuilder(int(dump["max_feature_idx"]) + 1)
        for tree in dump["tree_info"]:
            builder.add_tree(tree["tree_structure"])
        return builder.finish(
            feature_names=tuple(booster.feature_name()),
            pandas_categorical=booster.pandas_categorical,
        )

    def contributions(self, features: pd.DataFrame | np.ndarray, *, threads: int = 0) -> np.ndarray:
        """SHAP contributions exactly as ``booster.predict(features, pred_contrib=True)``.

        Parameters
        ----------
        features
            What the booster is given at predict time (``RiskModel.transform_features(X)``): a
            DataFrame with the booster's feature names, or a float array in the same column order.
        threads
            Numba threads; 0 = all available.

        Returns
        -------
        numpy.ndarray
            Shape (n_rows, n_features + 1): one column per feature, the last is the expected value.
        """
        matrix = self.matrix(features)
        out = np.zeros((matrix.shape[0], self.n_features + 1), dtype=np.float64)
        previous = numba.get_num_threads()
        if threads:
            numba.set_num_threads(min(threads, _max_threads()))
        try:
            _kernel(_explain_rows)(matrix, *self._kernel_arrays(), out)
        finally:
            numba.set_num_threads(previous)
        out[:, -1] = self.expected_value
        return out

    def matrix(self, features: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The float64 matrix LightGBM predicts on (categories as codes, missing codes as NaN)."""
        if isinstance(features, pd.DataFrame):
            names = [str(c) for c in features.columns]
            if names != list(self.feature_names):
                missing = sorted(set(self.feature_names) - set(names))
                unexpected = sorted(set(names) - set(self.feature_names))
                raise ModelMismatchError(
                    f"explanation input does not match the model's features: missing {missing}, "
                    f"unexpected {unexpected} (or the order differs); pass "
                    "RiskModel.transform_features(X)"
                )
            # the conversion LightGBM's own predict applies to a DataFrame
            array, *_ = lgb.basic._data_from_pandas(
                features, "auto", "auto", self.pandas_categorical
            )
        else:
            array = features
        array = np.ascontiguousarray(array, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.n_features:
            raise ModelMismatchError(
                f"expected a 2-D array with {self.n_features} feature columns, got shape "
                f"{array.shape}"
            )
        return array

    def _kernel_arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.tree_nodes,
            self.tree_leaves,
            self.node_feature,
            self.node_threshold,
            self.node_flags,
            self.node_cats,
            self.cat_values,
            self.leaf_path,
            self.leaf_goes_left,
            self.leaf_slot,
            self.leaf_path_start,
            self.leaf_features,
            self.leaf_feature_start,
            self.leaf_table_start,
            self.table,
            self.tree_pattern_start,
            self.tree_feature_start,
            self.tree_features,
            self.pattern_table,
        )


def _max_threads() -> int:
    return int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))


def _kernel(function: Any) -> Any:
    """A numba dispatcher, typed loosely (its call signature is not visible to mypy)."""
    return function


_cache: OrderedDict[str, ShapTables] = OrderedDict()
_cache_lock = threading.Lock()


def tables_for(booster: lgb.Booster) -> ShapTables:
    """:meth:`ShapTables.from_booster`, cached per process by a hash of the model text."""
    key = hashlib.sha256(booster.model_to_string().encode("utf-8")).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    tables = ShapTables.from_booster(booster)
    with _cache_lock:
        _cache[key] = tables
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return tables


def fast_contributions(
    booster: lgb.Booster, features: pd.DataFrame | np.ndarray, *, threads: int = 0
) -> np.ndarray:
    """Drop-in for ``booster.predict(features, pred_contrib=True)``: same values, faster.

    Falls back to LightGBM's own TreeSHAP for models this path does not tabulate (multiclass,
    linear trees, very deep trees).
    """
    try:
        tables = tables_for(booster)
    except ModelMismatchError:
        return np.asarray(booster.predict(features, pred_contrib=True), dtype=np.float64)
    return tables.contributions(features, threads=threads)


def row_digests(matrix: np.ndarray, *, model_key: str) -> np.ndarray:
    """One sha1 hex digest per row of ``matrix`` (float64, NaN-safe) salted with ``model_key``."""
    data = np.ascontiguousarray(matrix, dtype=np.float64)
    salt = model_key.encode("utf-8")
    return np.array(
        [hashlib.sha1(salt + row.tobytes()).hexdigest() for row in data.view(np.uint8)],
        dtype=object,
    )


def reuse_unchanged(
    digests: np.ndarray, previous: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Which rows can take last month's explanation unchanged.

    Parameters
    ----------
    digests
        :func:`row_digests` of this month's rows (salted with the model version).
    previous
        Last month's contributions indexed by digest (one column per feature plus the bias), or None.

    Returns
    -------
    (reused, values)
        Boolean mask of reusable rows, and their contributions in row order (None when none).
    """
    if previous is None or previous.empty:
        return np.zeros(len(digests), dtype=bool), None
    reused = pd.Index(previous.index).get_indexer(digests) >= 0
    if not reused.any():
        return reused, None
    return reused, previous.loc[digests[reused]].to_numpy(dtype=np.float64)


# ---------------------------------------------------------------------------------------- building
def _check_supported(dump: dict[str, Any]) -> None:
    if int(dump.get("num_tree_per_iteration", 1)) != 1:
        raise ModelMismatchError("fast explanations handle one tree per iteration (not multiclass)")
    for tree in dump["tree_info"]:
        if _has_linear_leaf(tree["tree_structure"]):
            raise ModelMismatchError("fast explanations do not handle linear trees")


def _has_linear_leaf(node: dict[str, Any]) -> bool:
    if "leaf_index" in node or "split_index" not in node:
        return "leaf_coeff" in node
    return _has_linear_leaf(node["left_child"]) or _has_linear_leaf(node["right_child"])


class _TableBuilder:
    """Accumulates flat arrays tree by tree."""

    def __init__(self, n_features: int) -> None:
        self.n_features = n_features
        self.expected = 0.0
        self.tree_nodes = [0]
        self.tree_leaves = [0]
        self.nodes: list[tuple[int, float, int, int, int]] = []
        self.cat_values: list[int] = []
        self.leaf_path: list[int] = []
        self.leaf_left: list[bool] = []
        self.leaf_slot: list[int] = []
        self.leaf_path_start = [0]
        self.leaf_features: list[int] = []
        self.leaf_feature_start = [0]
        self.leaf_table_start = [0]
        self.table: list[np.ndarray] = []

    def add_tree(self, root: dict[str, Any]) -> None:
        count = _count(root)
        local: dict[int, int] = {}
        stack: list[tuple[dict[str, Any], list[tuple[int, bool, int, float]]]] = [(root, [])]
        while stack:  # depth first; a leaf's path lists (local node, goes left, feature, ratio)
            node, path = stack.pop()
            if "split_index" not in node:
                self._add_leaf(node, path, count)
                continue
            index = local.setdefault(int(node["split_index"]), len(local))
            self._add_node(index, node)
            parent = _count(node)
            for side, left in (("right_child", False), ("left_child", True)):
                child = node[side]
                step = (index, left, int(node["split_feature"]), _count(child) / parent)
                stack.append((child, [*path, step]))
        self.tree_nodes.append(self.tree_nodes[-1] + len(local))
        self.tree_leaves.append(len(self.leaf_path_start) - 1)

    def _add_node(self, index: int, node: dict[str, Any]) -> None:
        start = self.tree_nodes[-1]
        while len(self.nodes) < start + index + 1:
            self.nodes.append((0, 0.0, 0, 0, 0))
        categorical = node["decision_type"] == "=="
        missing = {"None": _MISSING_NONE, "Zero": _MISSING_ZERO, "NaN": _MISSING_NAN}[
            node.get("missing_type", "None")
        ]
        flags = int(categorical) | (int(bool(node["default_left"])) << 1) | (missing << 2)
        if categorical:
            cats = [int(c) for c in str(node["threshold"]).split("||")]
            cat_start, cat_len, threshold = len(self.cat_values), len(cats), 0.0
            self.cat_values.extend(cats)
        else:
            cat_start, cat_len, threshold = 0, 0, float(node["threshold"])
        self.nodes[start + index] = (
            int(node["split_feature"]),
            threshold,
            flags,
            cat_start,
            cat_len,
        )

    def _add_leaf(
        self, node: dict[str, Any], path: list[tuple[int, bool, int, float]], count: float
    ) -> None:
        value = float(node["leaf_value"])
        self.expected += value * _count(node) / count if count > 0 else value
        features: list[int] = []
        ratios: list[float] = []
        for local, left, feature, ratio in path:
            if feature not in features:
                features.append(feature)
                ratios.append(1.0)
            slot = features.index(feature)
            ratios[slot] *= ratio
            self.leaf_path.append(local)
            self.leaf_left.append(left)
            self.leaf_slot.append(slot)
        if len(features) > MAX_PATH_FEATURES:
            raise ModelMismatchError(
                f"a leaf path uses {len(features)} distinct features; fast explanations tabulate at "
                f"most {MAX_PATH_FEATURES} (train shallower trees or use pred_contrib)"
            )
        table = _leaf_table(value, np.array(ratios, dtype=np.float64))
        self.leaf_path_start.append(len(self.leaf_path))
        self.leaf_features.extend(features)
        self.leaf_feature_start.append(len(self.leaf_features))
        self.table.append(table.ravel())
        self.leaf_table_start.append(self.leaf_table_start[-1] + table.size)

    def finish(self, *, feature_names: tuple[str, ...], pandas_categorical: Any) -> ShapTables:
        nodes = self.nodes or [(0, 0.0, 0, 0, 0)]

        def ints(values: list[int]) -> np.ndarray:
            return np.asarray(values, dtype=np.int64)

        tables = ShapTables(
            n_features=self.n_features,
            feature_names=feature_names,
            pandas_categorical=pandas_categorical,
            expected_value=self.expected,
            tree_nodes=ints(self.tree_nodes),
            tree_leaves=ints(self.tree_leaves),
            node_feature=ints([n[0] for n in nodes]),
            node_threshold=np.asarray([n[1] for n in nodes], dtype=np.float64),
            node_flags=ints([n[2] for n in nodes]),
            node_cats=np.asarray([[n[3], n[4]] for n in nodes], dtype=np.int64).reshape(-1, 2),
            cat_values=ints(self.cat_values or [0]),
            leaf_path=ints(self.leaf_path or [0]),
            leaf_goes_left=np.asarray(self.leaf_left or [False], dtype=np.bool_),
            leaf_slot=ints(self.leaf_slot or [0]),
            leaf_path_start=ints(self.leaf_path_start),
            leaf_features=ints(self.leaf_features or [0]),
            leaf_feature_start=ints(self.leaf_feature_start),
            leaf_table_start=ints(self.leaf_table_start),
            table=np.concatenate(self.table) if self.table else np.zeros(1),
            tree_pattern_start=np.full(len(self.tree_nodes) - 1, -1, dtype=np.int64),
            tree_feature_start=np.zeros(len(self.tree_nodes), dtype=np.int64),
            tree_features=np.zeros(1, dtype=np.int64),
            pattern_table=np.zeros(1),
        )
        return _with_patterns(tables)


def _with_patterns(tables: ShapTables) -> ShapTables:
    """Add, for every tree with at most `MAX_PATTERN_SPLITS` splits, its table over split outcomes.

    Row p of a tree's table holds the tree's contributions when split k sends the row left iff bit k
    of p is set: the sum of its leaves' table rows for the codes those outcomes give.
    """
    n_trees = len(tables.tree_nodes) - 1
    starts = np.full(n_trees, -1, dtype=np.int64)
    feature_start = [0]
    features: list[int] = []
    blocks: list[np.ndarray] = []
    offset = 0
    for t in range(n_trees):
        splits = int(tables.tree_nodes[t + 1] - tables.tree_nodes[t])
        block = _tree_pattern_table(tables, t, splits) if splits <= MAX_PATTERN_SPLITS else None
        if block is not None:
            mine, values = block
            starts[t] = offset
            offset += values.size
            features.extend(mine)
            blocks.append(values.ravel())
        feature_start.append(len(features))
    return replace(
        tables,
        tree_pattern_start=starts,
        tree_feature_start=np.asarray(feature_start, dtype=np.int64),
        tree_features=np.asarray(features or [0], dtype=np.int64),
        pattern_table=np.concatenate(blocks) if blocks else np.zeros(1),
    )


def _tree_pattern_table(
    tables: ShapTables, tree: int, splits: int
) -> tuple[list[int], np.ndarray] | None:
    leaves = range(int(tables.tree_leaves[tree]), int(tables.tree_leaves[tree + 1]))
    mine = sorted(
        {
            int(f)
            for leaf in leaves
            for f in tables.leaf_features[
                tables.leaf_feature_start[leaf] : tables.leaf_feature_start[leaf + 1]
            ]
        }
    )
    if not mine:
        return None
    column = {f: i for i, f in enumerate(mine)}
    patterns = np.arange(1 << splits, dtype=np.int64)
    left = ((patterns[:, None] >> np.arange(splits)) & 1).astype(bool)
    values = np.zeros((len(patterns), len(mine)))
    for leaf in leaves:
        f0, f1 = int(tables.leaf_feature_start[leaf]), int(tables.leaf_feature_start[leaf + 1])
        d = f1 - f0
        p0, p1 = int(tables.leaf_path_start[leaf]), int(tables.leaf_path_start[leaf + 1])
        disagree = left[:, tables.leaf_path[p0:p1]] != tables.leaf_goes_left[p0:p1]
        code = np.full(len(patterns), (1 << d) - 1, dtype=np.int64)
        for k, slot in enumerate(tables.leaf_slot[p0:p1]):
            code &= ~(disagree[:, k].astype(np.int64) << int(slot))
        start = int(tables.leaf_table_start[leaf])
        rows = tables.table[start : start + (1 << d) * d].reshape(1 << d, d)[code]
        for i in range(d):
            values[:, column[int(tables.leaf_features[f0 + i])]] += rows[:, i]
    return mine, values


def _count(node: dict[str, Any]) -> float:
    return float(node.get("internal_count", node.get("leaf_count", 0)))


def _leaf_table(value: float, ratios: np.ndarray) -> np.ndarray:
    """Shapley values of one leaf's product game for every agreement code.

    Players are the leaf's d distinct path features; v(S) = value · Π_{f∈S} a_f · Π_{f∉S} r_f with
    a_f ∈ {0, 1} (bit f of the code: x agrees with every split on f) and r_f the product of the
    cover ratios along f's splits. Returns an array (2^d, d).
    """
    d = len(ratios)
    weights = np.array(
        [factorial(s) * factorial(d - s - 1) / factorial(d) for s in range(d)], dtype=np.float64
    )
    return _leaf_table_kernel(value, ratios, weights)


@numba.njit(cache=True)
def _leaf_table_kernel(value: float, ratios: np.ndarray, weights: np.ndarray) -> np.ndarray:
    d = ratios.shape[0]
    out = np.zeros((1 << d, d))
    for code in range(1 << d):
        for i in range(d):
            a_i = float((code >> i) & 1)
            total = 0.0
            for subset in range(1 << d):
                if (subset >> i) & 1:
                    continue
                product = 1.0
                size = 0
                for f in range(d):
                    if f == i:
                        continue
                    if (subset >> f) & 1:
                        size += 1
                        if not (code >> f) & 1:
                            product = 0.0
                            break
                    else:
                        product *= ratios[f]
                if product != 0.0:
                    total += weights[size] * product
            out[code, i] = value * (a_i - ratios[i]) * total
    return out


# --------------------------------------------------------------------------------------- explaining
@numba.njit(cache=True, inline="always")
def _goes_left(
    x: float, threshold: float, flags: int, cat_start: int, cat_len: int, cat_values: np.ndarray
) -> bool:
    if flags & 1:  # categorical
        if np.isnan(x) or x < 0:
            return False
        category = int(x)
        for k in range(cat_start, cat_start + cat_len):  # noqa: SIM110 (numba: no generators)
            if cat_values[k] == category:
                return True
        return False
    missing = (flags >> 2) & 3
    if np.isnan(x) and missing != _MISSING_NAN:
        x = 0.0
    if (missing == _MISSING_ZERO and -_ZERO_THRESHOLD <= x <= _ZERO_THRESHOLD) or (
        missing == _MISSING_NAN and np.isnan(x)
    ):
        return bool((flags >> 1) & 1)
    return x <= threshold


@numba.njit(parallel=True, cache=True)
def _explain_rows(
    X: np.ndarray,
    tree_nodes: np.ndarray,
    tree_leaves: np.ndarray,
    node_feature: np.ndarray,
    node_threshold: np.ndarray,
    node_flags: np.ndarray,
    node_cats: np.ndarray,
    cat_values: np.ndarray,
    leaf_path: np.ndarray,
    leaf_goes_left: np.ndarray,
    leaf_slot: np.ndarray,
    leaf_path_start: np.ndarray,
    leaf_features: np.ndarray,
    leaf_feature_start: np.ndarray,
    leaf_table_start: np.ndarray,
    table: np.ndarray,
    tree_pattern_start: np.ndarray,
    tree_feature_start: np.ndarray,
    tree_features: np.ndarray,
    pattern_table: np.ndarray,
    out: np.ndarray,
) -> None:
    n_trees = tree_nodes.shape[0] - 1
    max_nodes = 1
    for t in range(n_trees):
        max_nodes = max(max_nodes, tree_nodes[t + 1] - tree_nodes[t])
    n_rows = X.shape[0]
    n_blocks = (n_rows + _BLOCK - 1) // _BLOCK
    # tree-major inside a block of rows: one tree's tables stay in cache while the block passes
    for b in numba.prange(n_blocks):
        left = np.empty(max_nodes, dtype=np.bool_)
        for t in range(n_trees):
            first = tree_nodes[t]
            for r in range(b * _BLOCK, min(n_rows, (b + 1) * _BLOCK)):
                for k in range(tree_nodes[t + 1] - first):
                    n = first + k
                    left[k] = _goes_left(
                        X[r, node_feature[n]],
                        node_threshold[n],
                        node_flags[n],
                        node_cats[n, 0],
                        node_cats[n, 1],
                        cat_values,
                    )
                if tree_pattern_start[t] >= 0:
                    pattern = 0
                    for k in range(tree_nodes[t + 1] - first):
                        if left[k]:
                            pattern |= 1 << k
                    g0 = tree_feature_start[t]
                    u = tree_feature_start[t + 1] - g0
                    base = tree_pattern_start[t] + pattern * u
                    for i in range(u):
                        out[r, tree_features[g0 + i]] += pattern_table[base + i]
                    continue
                for leaf in range(tree_leaves[t], tree_leaves[t + 1]):
                    f0 = leaf_feature_start[leaf]
                    d = leaf_feature_start[leaf + 1] - f0
                    if d == 0:
                        continue
                    code = (1 << d) - 1
                    for p in range(leaf_path_start[leaf], leaf_path_start[leaf + 1]):
                        if left[leaf_path[p]] != leaf_goes_left[p]:
                            code &= ~(1 << leaf_slot[p])
                    base = leaf_table_start[leaf] + code * d
                    for i in range(d):
                        out[r, leaf_features[f0 + i]] += table[base + i]
