"""Series expressions: an indicator is written once, as an expression over candle columns, and
evaluated two ways from that one definition.

- Over a whole frame (``evaluate_frame``): vectorised numpy for elementwise steps and pandas' rolling
  windows for window statistics. This is the training path; its values are what models learn from.
- Bar by bar from a small per-symbol state (``alphaplus.ml.streaming``): the serving path. Its rolling
  windows replay pandas' own online algorithms (Kahan sums, Welford variance) in O(1) per bar, so a
  state fed the same bars holds the same values as the frame evaluation, not merely close ones.

An expression is a small immutable tree. Equal subtrees are the same computation: ``compile_program``
shares them, so ``log(close)`` used by ten features is computed (and, when serving, stored) once.
Elementwise semantics follow numpy (NaN propagates); comparisons give booleans that only ``where``
and ``&``/``|`` consume. ``log``/``log1p`` may only take inputs that do not look back in time: the
serving path evaluates them with numpy too, because another ``log`` can round differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

CANDLE_INPUTS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

ELEMENTWISE_OPS = frozenset({
    "const", "neg", "abs", "add", "sub", "mul", "div", "maximum", "minimum", "clip_lower", "clip_upper",
    "gt", "ge", "lt", "le", "eq", "and", "or", "isnan", "where", "safe_ratio", "finite", "log", "log1p",
})
ROLLING_OPS = frozenset({"rolling_mean", "rolling_std", "rolling_max", "rolling_min", "rolling_rank"})
LOOKBACK_OPS = ROLLING_OPS | {"lag"}
# Evaluated with numpy on every path (see the module docstring).
NUMPY_ONLY_OPS = frozenset({"log", "log1p"})


@dataclass(frozen=True)
class Expr:
    """One node: an operation, its argument nodes and its parameters."""

    op: str
    args: tuple["Expr", ...] = ()
    window: int = 0  # lag distance or rolling window, in bars
    min_periods: int = 0  # rolling windows: fewer valid values than this give NaN
    value: float = 0.0  # constant, fill value of safe_ratio, bound of a clip
    name: str = ""  # input column

    def __add__(self, other: ExprLike) -> Expr:
        return Expr("add", (self, _expr(other)))

    def __radd__(self, other: ExprLike) -> Expr:
        return Expr("add", (_expr(other), self))

    def __sub__(self, other: ExprLike) -> Expr:
        return Expr("sub", (self, _expr(other)))

    def __rsub__(self, other: ExprLike) -> Expr:
        return Expr("sub", (_expr(other), self))

    def __mul__(self, other: ExprLike) -> Expr:
        return Expr("mul", (self, _expr(other)))

    def __rmul__(self, other: ExprLike) -> Expr:
        return Expr("mul", (_expr(other), self))

    def __truediv__(self, other: ExprLike) -> Expr:
        return Expr("div", (self, _expr(other)))

    def __rtruediv__(self, other: ExprLike) -> Expr:
        return Expr("div", (_expr(other), self))

    def __neg__(self) -> Expr:
        return Expr("neg", (self,))

    def __abs__(self) -> Expr:
        return Expr("abs", (self,))

    # Ordering builds comparisons; == stays structural equality (it is what shares equal subtrees).
    def __gt__(self, other: ExprLike) -> Expr:  # type: ignore[override]
        return Expr("gt", (self, _expr(other)))

    def __ge__(self, other: ExprLike) -> Expr:  # type: ignore[override]
        return Expr("ge", (self, _expr(other)))

    def __lt__(self, other: ExprLike) -> Expr:  # type: ignore[override]
        return Expr("lt", (self, _expr(other)))

    def __le__(self, other: ExprLike) -> Expr:  # type: ignore[override]
        return Expr("le", (self, _expr(other)))

    def __and__(self, other: Expr) -> Expr:
        return Expr("and", (self, other))

    def __or__(self, other: Expr) -> Expr:
        return Expr("or", (self, other))


ExprLike = Expr | float | int
NAN = math.nan


def _expr(x: ExprLike) -> Expr:
    return x if isinstance(x, Expr) else Expr("const", value=float(x))


# --- the vocabulary definitions are written in ---------------------------------------------------


def column(name: str) -> Expr:
    """A candle column (``open``, ``high``, ``low``, ``close``, ``volume``) as float64."""
    if name not in CANDLE_INPUTS:
        raise ValueError(f"unknown candle column {name!r}; inputs are {', '.join(CANDLE_INPUTS)}")
    return Expr("input", name=name)


def const(value: float) -> Expr:
    return Expr("const", value=float(value))


def log(x: Expr) -> Expr:
    return Expr("log", (x,))


def log1p(x: Expr) -> Expr:
    return Expr("log1p", (x,))


def maximum(a: ExprLike, b: ExprLike) -> Expr:
    """Elementwise maximum; NaN when either side is NaN (numpy's ``maximum``)."""
    return Expr("maximum", (_expr(a), _expr(b)))


def minimum(a: ExprLike, b: ExprLike) -> Expr:
    return Expr("minimum", (_expr(a), _expr(b)))


def clip_lower(x: Expr, bound: float) -> Expr:
    """``x`` where ``x >= bound`` (NaN stays NaN), else ``bound``: pandas' ``clip(lower=bound)``."""
    return Expr("clip_lower", (x,), value=float(bound))


def clip_upper(x: Expr, bound: float) -> Expr:
    return Expr("clip_upper", (x,), value=float(bound))


def eq(a: ExprLike, b: ExprLike) -> Expr:
    return Expr("eq", (_expr(a), _expr(b)))


def isnan(x: Expr) -> Expr:
    return Expr("isnan", (x,))


def where(condition: Expr, if_true: ExprLike, if_false: ExprLike) -> Expr:
    return Expr("where", (condition, _expr(if_true), _expr(if_false)))


def safe_ratio(num: Expr, den: Expr, fill: float = 0.0) -> Expr:
    """``num / den``; ``fill`` where ``den`` is 0; NaN where either is NaN.

    Zero-range candles and flat stretches happen in real data; a defined value beats inf/NaN there.
    """
    return Expr("safe_ratio", (num, den), value=float(fill))


def finite(x: Expr) -> Expr:
    """``x`` with +-inf turned into NaN."""
    return Expr("finite", (x,))


def lag(x: Expr, bars: int) -> Expr:
    """The value ``bars`` bars earlier (NaN before the series has that many)."""
    return Expr("lag", (x,), window=_positive(bars, "lag"))


def rolling_mean(x: Expr, window: int, min_periods: int | None = None) -> Expr:
    return _rolling("rolling_mean", x, window, min_periods)


def rolling_std(x: Expr, window: int, min_periods: int | None = None) -> Expr:
    """Sample standard deviation (ddof=1) over the trailing window."""
    return _rolling("rolling_std", x, window, min_periods)


def rolling_max(x: Expr, window: int) -> Expr:
    return _rolling("rolling_max", x, window, None)


def rolling_min(x: Expr, window: int) -> Expr:
    return _rolling("rolling_min", x, window, None)


def rolling_rank_pct(x: Expr, window: int, min_periods: int | None = None) -> Expr:
    """Percentile rank (ties averaged, 0 < rank <= 1) of the value among the trailing window's valid values."""
    return _rolling("rolling_rank", x, window, min_periods)


def _rolling(op: str, x: Expr, window: int, min_periods: int | None) -> Expr:
    window = _positive(window, op)
    min_periods = window if min_periods is None else _positive(min_periods, f"{op} min_periods")
    if op in ("rolling_max", "rolling_min") and min_periods != window:
        raise ValueError(f"{op} supports only full windows")
    return Expr(op, (x,), window=window, min_periods=min_periods)


def _positive(n: int, what: str) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"{what} needs a positive whole number of bars, got {n!r}")
    return int(n)


# --- programs: the expressions of several outputs, flattened -------------------------------------


@dataclass(frozen=True)
class Program:
    """Distinct nodes of some named outputs in evaluation order (arguments before their users)."""

    nodes: tuple[Expr, ...]
    args: tuple[tuple[int, ...], ...]  # node positions of each node's arguments
    output_names: tuple[str, ...]
    outputs: tuple[int, ...]  # node position of each output

    def lookback(self) -> int:
        """Bars of history the newest value can depend on (how far back a state must remember)."""
        depth = [0] * len(self.nodes)
        for i, node in enumerate(self.nodes):
            # A lag of k reaches k bars back; a window of w bars reaches w - 1 back.
            own = node.window if node.op == "lag" else node.window - 1 if node.op in ROLLING_OPS else 0
            depth[i] = own + max((depth[a] for a in self.args[i]), default=0)
        return max((depth[i] for i in self.outputs), default=0)


def compile_program(outputs: Mapping[str, Expr]) -> Program:
    """Flatten named outputs into one program, sharing equal subexpressions."""
    position: dict[Expr, int] = {}
    nodes: list[Expr] = []
    args: list[tuple[int, ...]] = []

    def visit(node: Expr) -> int:
        found = position.get(node)
        if found is not None:
            return found
        arg_positions = tuple(visit(a) for a in node.args)
        if node.op in NUMPY_ONLY_OPS and any(_looks_back(a) for a in node.args):
            raise ValueError(f"{node.op} may only take values that do not look back in time")
        position[node] = len(nodes)
        nodes.append(node)
        args.append(arg_positions)
        return position[node]

    out = tuple(visit(e) for e in outputs.values())
    return Program(tuple(nodes), tuple(args), tuple(outputs), out)


def _looks_back(node: Expr) -> bool:
    return node.op in LOOKBACK_OPS or any(_looks_back(a) for a in node.args)


# --- the vectorised evaluator ---------------------------------------------------------------------


def evaluate_frame(program: Program, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output of ``program`` over whole columns (equal-length float64 arrays, oldest first)."""
    values: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        for node, arg_positions in zip(program.nodes, program.args):
            values.append(_evaluate_node(node, [values[a] for a in arg_positions], columns))
    return {name: values[i] for name, i in zip(program.output_names, program.outputs)}


def _evaluate_node(node: Expr, a: list[np.ndarray], columns: Mapping[str, np.ndarray]) -> np.ndarray:
    op = node.op
    if op == "input":
        return np.asarray(columns[node.name], dtype=np.float64)
    if op == "const":
        n = len(next(iter(columns.values())))
        return np.full(n, node.value)
    if op in ROLLING_OPS:
        return _rolling_frame(node, a[0])
    if op == "lag":
        out = np.empty_like(a[0])
        k = min(node.window, len(out))
        out[:k] = np.nan
        out[k:] = a[0][: len(out) - k]
        return out
    return ELEMENTWISE[op](node, *a)


def _rolling_frame(node: Expr, x: np.ndarray) -> np.ndarray:
    window = pd.Series(x, copy=False).rolling(node.window, min_periods=node.min_periods)
    if node.op == "rolling_mean":
        result = window.mean()
    elif node.op == "rolling_std":
        result = window.std(ddof=1)
    elif node.op == "rolling_max":
        result = window.max()
    elif node.op == "rolling_min":
        result = window.min()
    else:
        result = window.rank(pct=True)
    return result.to_numpy(dtype=np.float64)


def _safe_ratio(node: Expr, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    ratio = np.where(den != 0, num / np.where(den != 0, den, np.nan), node.value)
    return np.where(np.isnan(num) | np.isnan(den), np.nan, ratio)


# numpy's own kernels: the serving path's scalar code is checked against these, value for value.
ELEMENTWISE = {
    "neg": lambda n, x: -x,
    "abs": lambda n, x: np.abs(x),
    "add": lambda n, x, y: x + y,
    "sub": lambda n, x, y: x - y,
    "mul": lambda n, x, y: x * y,
    "div": lambda n, x, y: x / y,
    "maximum": lambda n, x, y: np.maximum(x, y),
    "minimum": lambda n, x, y: np.minimum(x, y),
    "clip_lower": lambda n, x: np.where(x < n.value, n.value, x),
    "clip_upper": lambda n, x: np.where(x > n.value, n.value, x),
    "gt": lambda n, x, y: x > y,
    "ge": lambda n, x, y: x >= y,
    "lt": lambda n, x, y: x < y,
    "le": lambda n, x, y: x <= y,
    "eq": lambda n, x, y: x == y,
    "and": lambda n, x, y: x & y,
    "or": lambda n, x, y: x | y,
    "isnan": lambda n, x: np.isnan(x),
    "where": lambda n, c, x, y: np.where(c, x, y),
    "safe_ratio": _safe_ratio,
    "finite": lambda n, x: np.where(np.isinf(x), np.nan, x),
    "log": lambda n, x: np.log(x),
    "log1p": lambda n, x: np.log1p(x),
}
