"""A mixed-integer linear model held as named, vectorised blocks.

Each resource kind adds its variables and constraint families as whole arrays over
(resource, interval), never one Python object per constraint. The finished model is a
sparse matrix that two emitters consume: :mod:`vpp.optimizer.emit_highs` passes it straight
to HiGHS, :mod:`vpp.optimizer.emit_pyomo` builds the equivalent Pyomo model (for other
solvers and for export). Names follow ``<kind>.<quantity>[_<qualifier>]``, e.g.
``battery.soc_kwh`` or ``system.target_shortfall_kw``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from vpp.domain import FloatArray as FloatArray  # the optimiser's modules take it from here

IntArray = NDArray[np.int64]

#: Objective terms, reported separately so a dispatch's cost can be explained.
COST_CATEGORIES = (
    "compensation",
    "rotation",
    "degradation",
    "energy",
    "shortfall_penalty",
    "rebound_penalty",
    "capability_reward",
    "tie_break",  # vanishing preferences between equal plans; not money
)

Term = tuple[ArrayLike, ArrayLike]
"""(variable indices, coefficients); indices < 0 are skipped. Trailing axes beyond the
row shape are summed over, so ``(idx[r, t, k], coef[r, t, k])`` adds sum_k coef * x."""


@dataclass(frozen=True)
class Cut:
    """A row found after a solve: ``lower <= vals . x[cols] <= upper``."""

    cols: IntArray
    vals: FloatArray
    lower: float
    upper: float


Separator = Callable[[FloatArray], list[Cut]]
"""Given a solution, the rows it violates among a family too large to write out (lazy
constraints); an empty list when it satisfies them all, i.e. when it is feasible."""


@dataclass(frozen=True)
class Block:
    """A named group of variables or constraint rows: a start offset and an array shape."""

    name: str
    start: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def indices(self) -> IntArray:
        return np.arange(self.start, self.start + self.size, dtype=np.int64).reshape(self.shape)


@dataclass
class LinearModel:
    """Variables, rows ``lower <= A x <= upper``, and a minimised cost ``c x``."""

    var_blocks: dict[str, Block] = field(default_factory=dict)
    row_blocks: dict[str, Block] = field(default_factory=dict)
    _lower: list[FloatArray] = field(default_factory=list)
    _upper: list[FloatArray] = field(default_factory=list)
    _integer: list[NDArray[np.bool_]] = field(default_factory=list)
    _rows: list[IntArray] = field(default_factory=list)
    _cols: list[IntArray] = field(default_factory=list)
    _vals: list[FloatArray] = field(default_factory=list)
    _row_lower: list[FloatArray] = field(default_factory=list)
    _row_upper: list[FloatArray] = field(default_factory=list)
    _cost_cols: dict[str, list[IntArray]] = field(default_factory=dict)
    _cost_vals: dict[str, list[FloatArray]] = field(default_factory=dict)
    _cost_const: dict[str, float] = field(default_factory=dict)
    separators: list[Separator] = field(default_factory=list)
    n_vars: int = 0
    n_rows: int = 0
    sealed: bool = False

    def add_variables(
        self,
        name: str,
        shape: int | tuple[int, ...],
        lower: ArrayLike = 0.0,
        upper: ArrayLike = np.inf,
        *,
        integer: bool = False,
    ) -> IntArray:
        """Add a block of variables and return their indices, shaped like the block."""
        self._check_open(name, self.var_blocks)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        block = Block(name, self.n_vars, shape)
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), shape).ravel()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), shape).ravel()
        if np.any(lo > hi + 1e-9):
            bad = int(np.argmax(lo > hi + 1e-9))
            raise ValueError(f"{name}: lower bound {lo[bad]} above upper bound {hi[bad]} at {bad}")
        self._lower.append(lo.copy())
        self._upper.append(np.maximum(hi, lo).copy())
        self._integer.append(np.full(block.size, integer))
        self.var_blocks[name] = block
        self.n_vars += block.size
        return block.indices()

    def add_constraints(
        self,
        name: str,
        terms: Sequence[Term],
        lower: ArrayLike = -np.inf,
        upper: ArrayLike = np.inf,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        """Add one constraint family ``lower <= sum of terms <= upper``, a row per element.

        The row shape is ``shape`` if given; else the bounds broadcast against the first
        term when both have as many axes (or the bounds are scalars); else the bounds' own
        shape, the terms' extra trailing axes being summed.
        """
        self._check_open(name, self.row_blocks)
        lo_arr = np.asarray(lower, dtype=np.float64)
        hi_arr = np.asarray(upper, dtype=np.float64)
        if shape is None:
            shape = np.broadcast_shapes(lo_arr.shape, hi_arr.shape)
            if terms:
                first = np.asarray(terms[0][0]).shape
                if len(shape) in (0, len(first)):
                    shape = np.broadcast_shapes(shape, first)
        block = Block(name, self.n_rows, tuple(shape))
        if block.size == 0:
            return
        row_ids = block.indices()
        for idx_like, coef_like in terms:
            idx = np.asarray(idx_like, dtype=np.int64)
            extra = idx.ndim - len(shape)
            if extra < 0 or idx.shape[: len(shape)] != tuple(shape):
                raise ValueError(f"{name}: term of shape {idx.shape} does not fit rows {shape}")
            coef = np.broadcast_to(np.asarray(coef_like, dtype=np.float64), idx.shape)
            rows = np.broadcast_to(row_ids.reshape(tuple(shape) + (1,) * extra), idx.shape)
            keep = (idx >= 0) & (coef != 0.0)
            self._rows.append(rows[keep])
            self._cols.append(idx[keep])
            self._vals.append(coef[keep])
        self._row_lower.append(np.broadcast_to(lo_arr, shape).ravel().copy())
        self._row_upper.append(np.broadcast_to(hi_arr, shape).ravel().copy())
        self.row_blocks[name] = block
        self.n_rows += block.size

    def add_sparse_constraints(
        self,
        name: str,
        n_rows: int,
        entries: tuple[ArrayLike, ArrayLike, ArrayLike],
        lower: ArrayLike = -np.inf,
        upper: ArrayLike = np.inf,
    ) -> None:
        """Add a ragged constraint family given as (local row, variable, coefficient) triplets."""
        self._check_open(name, self.row_blocks)
        if n_rows == 0:
            return
        block = Block(name, self.n_rows, (n_rows,))
        rows, cols, vals = (np.asarray(a).ravel() for a in entries)
        self._rows.append(rows.astype(np.int64) + block.start)
        self._cols.append(cols.astype(np.int64))
        self._vals.append(vals.astype(np.float64))
        self._row_lower.append(np.broadcast_to(np.asarray(lower, np.float64), (n_rows,)).copy())
        self._row_upper.append(np.broadcast_to(np.asarray(upper, np.float64), (n_rows,)).copy())
        self.row_blocks[name] = block
        self.n_rows += n_rows

    def add_cost_constant(self, category: str, value: float) -> None:
        """A constant part of a cost category (e.g. the baseline's energy), for reporting."""
        if category not in COST_CATEGORIES:
            raise ValueError(f"unknown cost category {category!r}")
        self._cost_const[category] = self._cost_const.get(category, 0.0) + value

    def add_cost(self, category: str, idx: ArrayLike, coef: ArrayLike) -> None:
        """Add ``sum coef * x[idx]`` to the minimised objective under a reported category."""
        if category not in COST_CATEGORIES:
            raise ValueError(f"unknown cost category {category!r}")
        if self.sealed:
            raise RuntimeError("model is sealed")
        idx_arr = np.asarray(idx, dtype=np.int64)
        coef_arr = np.broadcast_to(np.asarray(coef, dtype=np.float64), idx_arr.shape)
        keep = idx_arr >= 0
        self._cost_cols.setdefault(category, []).append(idx_arr[keep].ravel())
        self._cost_vals.setdefault(category, []).append(coef_arr[keep].ravel())

    def add_separator(self, separator: Separator) -> None:
        """Constraints checked after each solve and added where violated (solve_highs loops
        until none is): only a solver that runs the loop may solve this model."""
        if self.sealed:
            raise RuntimeError("model is sealed")
        self.separators.append(separator)

    def _check_open(self, name: str, blocks: dict[str, Block]) -> None:
        if self.sealed:
            raise RuntimeError("model is sealed")
        if name in blocks:
            raise ValueError(f"block {name!r} exists already")

    # --- the finished model -------------------------------------------------------------

    def seal(self) -> LinearModel:
        self.sealed = True
        return self

    @cached_property
    def col_lower(self) -> FloatArray:
        return _concat(self._lower)

    @cached_property
    def col_upper(self) -> FloatArray:
        return _concat(self._upper)

    @cached_property
    def integrality(self) -> NDArray[np.bool_]:
        return np.concatenate(self._integer) if self._integer else np.zeros(0, dtype=bool)

    @cached_property
    def row_lower(self) -> FloatArray:
        return _concat(self._row_lower)

    @cached_property
    def row_upper(self) -> FloatArray:
        return _concat(self._row_upper)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """The constraint matrix; duplicate entries of one row and column are summed."""
        if not self._rows:
            return sp.csr_matrix((self.n_rows, self.n_vars))
        coo = sp.coo_matrix(
            (np.concatenate(self._vals), (np.concatenate(self._rows), np.concatenate(self._cols))),
            shape=(self.n_rows, self.n_vars),
        )
        csr = coo.tocsr()
        csr.sum_duplicates()
        csr.eliminate_zeros()
        return csr

    @cached_property
    def cost_by_category(self) -> dict[str, FloatArray]:
        """Objective coefficients per category, each a dense vector over all variables."""
        out: dict[str, FloatArray] = {}
        for category, cols in self._cost_cols.items():
            vec = np.zeros(self.n_vars)
            np.add.at(vec, np.concatenate(cols), np.concatenate(self._cost_vals[category]))
            out[category] = vec
        return out

    @cached_property
    def cost(self) -> FloatArray:
        total = np.zeros(self.n_vars)
        for vec in self.cost_by_category.values():
            total += vec
        return total

    @property
    def n_integer(self) -> int:
        return int(self.integrality.sum())

    def value(self, x: FloatArray, name: str) -> FloatArray:
        """The solution values of one variable block, in the block's shape."""
        block = self.var_blocks[name]
        return x[block.start : block.start + block.size].reshape(block.shape)

    @property
    def objective_constant(self) -> float:
        return float(sum(self._cost_const.values()))

    def costs_of(self, x: FloatArray) -> dict[str, float]:
        """Each cost category's value at ``x``, constants included [CNY]."""
        out = {cat: float(vec @ x) for cat, vec in self.cost_by_category.items()}
        for cat, value in self._cost_const.items():
            out[cat] = out.get(cat, 0.0) + value
        return out

    def violation(self, x: FloatArray) -> float:
        """Largest violation of a bound or row by ``x`` (for checks and tests)."""
        activity = self.matrix @ x
        parts = [
            np.max(self.col_lower - x, initial=0.0),
            np.max(x - self.col_upper, initial=0.0),
            np.max(self.row_lower - activity, initial=0.0),
            np.max(activity - self.row_upper, initial=0.0),
        ]
        return float(max(parts))


def _concat(parts: list[FloatArray]) -> FloatArray:
    return np.concatenate(parts) if parts else np.zeros(0)
