"""The serving evaluator of series programs: a per-key state (one key per symbol) updated in O(1) per bar.

A ``StreamState`` holds, for each key, the last values of every series something looks back at (ring
buffers as long as the longest lag or window over that series) and the accumulators of every rolling
mean and standard deviation. ``advance`` takes one new bar for each of many keys and returns their
outputs; ``warm`` replays a key's history through the very same kernel.

The kernel interprets the program node by node with scalar arithmetic, which rounds exactly like
numpy's elementwise operations. Rolling means and standard deviations replay pandas' own online
algorithms (pandas/_libs/window/aggregations.pyx, roll_mean and roll_var: Kahan-compensated sums,
Welford's variance with its recomputation when cancellation is suspected, the run-of-equal-values rule
of the mean), so a state fed bars from a series' first bar reproduces the frame evaluation bit for bit.
Logarithms are taken with numpy before the kernel runs (another implementation can round differently).

The kernel is compiled with numba (a 600-bar warm-up: 0.6 ms compiled, 80 ms as plain Python); where
numba is missing, plain Python runs the same code with identical values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable

import numpy as np

from alphaplus.ml.dataflow import CANDLE_INPUTS, ELEMENTWISE, NUMPY_ONLY_OPS, Expr, Program, compile_program

try:  # numba is what makes serving cost about what the model costs; see the module docstring
    from numba import njit as _njit

    def _compiled(fn):
        return _njit(cache=True, error_model="numpy", nogil=True)(fn)

    COMPILED = True
except ImportError:  # pragma: no cover - exercised only where numba is absent
    def _compiled(fn):
        return fn

    COMPILED = False

# Kernel opcodes; the names are those of alphaplus.ml.dataflow.
_OPS = ("input", "const", "neg", "abs", "add", "sub", "mul", "div", "maximum", "minimum", "clip_lower",
        "clip_upper", "gt", "ge", "lt", "le", "eq", "and", "or", "isnan", "where", "safe_ratio", "finite", "lag",
        "rolling_mean", "rolling_std", "rolling_max", "rolling_min", "rolling_rank")
OPCODE = {name: i for i, name in enumerate(_OPS)}
(INPUT, CONST, NEG, ABS, ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, CLIP_LOWER, CLIP_UPPER, GT, GE, LT, LE, EQ, AND, OR,
 ISNAN, WHERE, SAFE_RATIO, FINITE, LAG, ROLLING_MEAN, ROLLING_STD, ROLLING_MAX, ROLLING_MIN, ROLLING_RANK) = range(len(_OPS))

# Accumulator fields per rolling mean / standard deviation node (pandas' variables of the same names).
MEAN_FIELDS = ("sum_x", "compensation_add", "compensation_remove", "nobs", "neg_ct", "num_consecutive_same_value",
               "prev_value")
VAR_FIELDS = ("nobs", "mean_x", "ssqdm_x", "compensation_add", "compensation_remove", "numerically_unstable")
# pandas: "an operation is ill-conditioned if it leaves only up to 3 significant digits"
_INV_COND_TOL = float(np.finfo(np.float64).eps) * 1e3

# Code columns: opcode, three argument registers, then the node's parameters.
_OP, _A, _B, _C, _WINDOW, _MIN_PERIODS, _ACC = range(7)


@dataclass(frozen=True)
class KernelProgram:
    """A program laid out for the kernel: one row of ``code`` per node, state offsets, ring sizes."""

    program: Program
    code: np.ndarray  # int64 (nodes, 7)
    consts: np.ndarray  # float64 (nodes,): constants, fill values, clip bounds
    ring_offset: np.ndarray  # int64 (nodes,): where the node's remembered values start in a hist row
    ring_length: np.ndarray  # int64 (nodes,): 0 for nodes nothing looks back at
    keeps_state: np.ndarray  # bool (nodes,): needed to keep the state right even when nobody reads outputs
    outputs: np.ndarray  # int64 (outputs,)
    pre: Program  # the numpy-only nodes, evaluated over the inputs before the kernel runs
    acc_init: np.ndarray  # float64 (accumulators,): a fresh key's accumulators
    hist_width: int

    @classmethod
    def build(cls, program: Program) -> "KernelProgram":
        nodes, n = program.nodes, len(program.nodes)
        code = np.full((n, 7), -1, dtype=np.int64)
        consts = np.zeros(n)
        memory = np.zeros(n, dtype=np.int64)  # how far back each node is read
        pre_nodes: dict[str, Expr] = {}
        acc_init: list[float] = []
        for i, (node, args) in enumerate(zip(nodes, program.args)):
            op = node.op
            if op in NUMPY_ONLY_OPS:
                code[i, _OP] = INPUT
                code[i, _WINDOW] = len(CANDLE_INPUTS) + len(pre_nodes)
                pre_nodes[f"pre_{i}"] = node
                continue
            code[i, _OP] = OPCODE[op]
            code[i, _A:_A + len(args)] = args
            consts[i] = node.value
            if op == "input":
                code[i, _WINDOW] = CANDLE_INPUTS.index(node.name)
            elif op == "lag" or op.startswith("rolling_"):
                code[i, _WINDOW], code[i, _MIN_PERIODS] = node.window, node.min_periods
                memory[args[0]] = max(memory[args[0]], node.window)
            if op in ("rolling_mean", "rolling_std"):
                code[i, _ACC] = len(acc_init)
                acc_init += [0.0] * 6 + [np.nan] if op == "rolling_mean" else [0.0] * len(VAR_FIELDS)
        # A value read k bars back is kept with the k bars after it: rings of k + 1 slots.
        ring_length = np.where(memory > 0, memory + 1, 0).astype(np.int64)
        ring_offset = (np.cumsum(ring_length) - ring_length).astype(np.int64)
        keeps_state = np.zeros(n, dtype=bool)
        for i in range(n - 1, -1, -1):
            if ring_length[i] or code[i, _OP] in (ROLLING_MEAN, ROLLING_STD):
                keeps_state[i] = True
            if keeps_state[i] and code[i, _OP] != INPUT:
                keeps_state[list(program.args[i])] = True
        return cls(program=program, code=code, consts=consts, ring_offset=ring_offset, ring_length=ring_length,
                   keeps_state=keeps_state, outputs=np.asarray(program.outputs, dtype=np.int64),
                   pre=compile_program(pre_nodes), acc_init=np.asarray(acc_init, dtype=np.float64),
                   hist_width=int(ring_length.sum()))

    def kernel_inputs(self, bars: np.ndarray) -> np.ndarray:
        """Candle columns (rows of open, high, low, close, volume) with the numpy-only values appended."""
        if not self.pre.nodes:
            return np.ascontiguousarray(bars, dtype=np.float64)
        inputs = np.empty((len(bars), len(CANDLE_INPUTS) + len(self.pre.outputs)))
        inputs[:, :len(CANDLE_INPUTS)] = bars
        # The same numpy calls as evaluate_frame's, without its per-call bookkeeping (this runs per bar).
        values: list[np.ndarray] = []
        with np.errstate(all="ignore"):
            for node, args in zip(self.pre.nodes, self.pre.args):
                if node.op == "input":
                    values.append(inputs[:, CANDLE_INPUTS.index(node.name)])
                else:
                    values.append(ELEMENTWISE[node.op](node, *[values[a] for a in args]))
        for j, i in enumerate(self.pre.outputs):
            inputs[:, len(CANDLE_INPUTS) + j] = values[i]
        return inputs


class StreamState:
    """The serving state of one program for many keys (symbols), stored as rows of a few arrays."""

    def __init__(self, program: Program, capacity: int = 16) -> None:
        self.kernel = KernelProgram.build(program)
        self.output_names = program.output_names
        self._rows: dict[Hashable, int] = {}
        capacity = max(int(capacity), 1)
        self._acc = np.tile(self.kernel.acc_init, (capacity, 1))
        self._hist = np.zeros((capacity, self.kernel.hist_width))
        self._count = np.zeros(capacity, dtype=np.int64)

    # --- keys ------------------------------------------------------------------------------------

    def row(self, key: Hashable) -> int:
        """The row of ``key``, created (fresh, no bars seen) on first use."""
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = len(self._rows)
            if row >= len(self._count):
                self._grow(2 * len(self._count))
        return row

    def __contains__(self, key: Hashable) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def bars_seen(self, key: Hashable) -> int:
        """How many bars ``key``'s state has taken in (0 for an unknown key)."""
        row = self._rows.get(key)
        return 0 if row is None else int(self._count[row])

    def reset(self, key: Hashable) -> int:
        """Forget ``key``'s bars; its row is kept."""
        row = self.row(key)
        self._acc[row] = self.kernel.acc_init
        self._count[row] = 0
        return row

    @property
    def bytes_per_key(self) -> int:
        """Memory the state holds per key (accumulators, rings, bar count)."""
        return self._acc.shape[1] * 8 + self._hist.shape[1] * 8 + 8

    # --- bars ------------------------------------------------------------------------------------

    def advance(self, rows: np.ndarray, bars: np.ndarray) -> np.ndarray:
        """Take one bar per row (``bars``: float64 (n, 5) of open, high, low, close, volume; rows
        distinct) and return the outputs after it, float64 (n, outputs)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), len(self.kernel.outputs)))
        emit = np.ones(len(rows), dtype=np.bool_)
        self._run(rows, bars, emit, out)
        return out

    def warm(self, key: Hashable, bars: np.ndarray) -> np.ndarray:
        """Start ``key`` afresh from its history (float64 (n, 5), oldest first); the outputs of its last
        bar (NaN when there are no bars)."""
        row = self.reset(key)
        n = len(bars)
        out = np.full((1, len(self.kernel.outputs)), np.nan)
        if n:
            emit = np.zeros(n, dtype=np.bool_)
            emit[-1] = True
            # Only the last bar's outputs are wanted: earlier bars run the nodes the state needs.
            full = np.empty((n, len(self.kernel.outputs)))
            self._run(np.full(n, row, dtype=np.int64), bars, emit, full)
            out[0] = full[-1]
        return out[0]

    def _run(self, rows: np.ndarray, bars: np.ndarray, emit: np.ndarray, out: np.ndarray) -> None:
        k = self.kernel
        inputs = k.kernel_inputs(bars)
        advance_kernel(k.code, k.consts, k.ring_offset, k.ring_length, k.keeps_state, k.outputs, rows, inputs, emit,
                       self._acc, self._hist, self._count, out)

    def _grow(self, capacity: int) -> None:
        old = len(self._count)
        acc = np.tile(self.kernel.acc_init, (capacity, 1))
        acc[:old] = self._acc
        hist = np.zeros((capacity, self._hist.shape[1]))
        hist[:old] = self._hist
        count = np.zeros(capacity, dtype=np.int64)
        count[:old] = self._count
        self._acc, self._hist, self._count = acc, hist, count


# --- the kernel -----------------------------------------------------------------------------------


@_compiled
def advance_kernel(code, consts, ring_offset, ring_length, keeps_state, outputs, rows, inputs, emit, acc, hist, count,
                   out):  # pragma: no cover - compiled; its Python form is exercised by the equality tests
    """Feed ``inputs[b]`` to the state row ``rows[b]`` for every b, in order; outputs where ``emit[b]``."""
    n = code.shape[0]
    reg = np.empty(n)
    for b in range(rows.shape[0]):
        r = rows[b]
        t = count[r]
        full = emit[b]
        for i in range(n):
            if not full and not keeps_state[i]:
                continue
            op = code[i, 0]
            x = reg[code[i, 1]] if code[i, 1] >= 0 else 0.0
            y = reg[code[i, 2]] if code[i, 2] >= 0 else 0.0
            if op == 0:  # input
                v = inputs[b, code[i, 4]]
            elif op == 1:  # const
                v = consts[i]
            elif op == 2:  # neg
                v = -x
            elif op == 3:  # abs
                v = abs(x)
            elif op == 4:  # add
                v = x + y
            elif op == 5:  # sub
                v = x - y
            elif op == 6:  # mul
                v = x * y
            elif op == 7:  # div
                v = x / y
            elif op == 8:  # maximum as numpy takes it: NaN wins, a tie gives the second argument
                v = x if (x > y or x != x) else y
            elif op == 9:  # minimum
                v = x if (x < y or x != x) else y
            elif op == 10:  # clip_lower
                v = consts[i] if x < consts[i] else x
            elif op == 11:  # clip_upper
                v = consts[i] if x > consts[i] else x
            elif op == 12:  # gt
                v = 1.0 if x > y else 0.0
            elif op == 13:  # ge
                v = 1.0 if x >= y else 0.0
            elif op == 14:  # lt
                v = 1.0 if x < y else 0.0
            elif op == 15:  # le
                v = 1.0 if x <= y else 0.0
            elif op == 16:  # eq
                v = 1.0 if x == y else 0.0
            elif op == 17:  # and
                v = 1.0 if (x != 0.0 and y != 0.0) else 0.0
            elif op == 18:  # or
                v = 1.0 if (x != 0.0 or y != 0.0) else 0.0
            elif op == 19:  # isnan
                v = 1.0 if x != x else 0.0
            elif op == 20:  # where
                v = y if x != 0.0 else reg[code[i, 3]]
            elif op == 21:  # safe_ratio
                if x != x or y != y:
                    v = np.nan
                elif y == 0.0:
                    v = consts[i]
                else:
                    v = x / y
            elif op == 22:  # finite
                v = np.nan if (x == np.inf or x == -np.inf) else x
            else:
                a = code[i, 1]
                off = ring_offset[a]
                length = ring_length[a]
                w = code[i, 4]
                if op == 23:  # lag
                    v = hist[r, off + (t - w) % length] if t >= w else np.nan
                elif op == 24:  # rolling_mean
                    v = _mean_step(acc[r], code[i, 6], hist[r], off, length, t, w, code[i, 5], x)
                elif op == 25:  # rolling_std
                    v = _std_step(acc[r], code[i, 6], hist[r], off, length, t, w, code[i, 5], x)
                elif op == 28:  # rolling_rank
                    v = _rank(hist[r], off, length, t, w, code[i, 5], x)
                else:  # rolling_max / rolling_min
                    v = _extreme(hist[r], off, length, t, w, op == 26)
            reg[i] = v
            if ring_length[i] > 0:
                hist[r, ring_offset[i] + t % ring_length[i]] = v
        count[r] = t + 1
        if full:
            for j in range(outputs.shape[0]):
                out[b, j] = reg[outputs[j]]


@_compiled
def _mean_step(acc, o, hist, off, length, t, w, minp, val):  # pragma: no cover - compiled
    """pandas' roll_mean for one more bar (fixed window ``w``): remove the value leaving, add ``val``."""
    if t == 0 or w == 1:  # pandas sets the window up from scratch
        acc[o:o + 6] = 0.0
        acc[o + 6] = np.nan
    elif t >= w:
        old = hist[off + (t - w) % length]
        if old == old:  # remove_mean
            acc[o + 3] -= 1.0
            y = -old - acc[o + 2]
            s = acc[o] + y
            acc[o + 2] = s - acc[o] - y
            acc[o] = s
            if np.signbit(old):
                acc[o + 4] -= 1.0
    if val == val:  # add_mean
        acc[o + 3] += 1.0
        y = val - acc[o + 1]
        s = acc[o] + y
        acc[o + 1] = s - acc[o] - y
        acc[o] = s
        if np.signbit(val):
            acc[o + 4] += 1.0
        if val == acc[o + 6]:
            acc[o + 5] += 1.0
        else:
            acc[o + 5] = 1.0
        acc[o + 6] = val
    nobs = acc[o + 3]
    if nobs >= minp and nobs > 0:  # calc_mean
        result = acc[o] / nobs
        if acc[o + 5] >= nobs:
            result = acc[o + 6]
        elif acc[o + 4] == 0 and result < 0:
            result = 0.0
        elif acc[o + 4] == nobs and result > 0:
            result = 0.0
        return result
    return np.nan


@_compiled
def _add_var(acc, o, val):  # pragma: no cover - compiled
    if val != val:
        return
    acc[o] += 1.0
    prev_mean = acc[o + 1] - acc[o + 3]
    y = val - acc[o + 3]
    t = y - acc[o + 1]
    acc[o + 3] = t + acc[o + 1] - y
    acc[o + 1] = acc[o + 1] + t / acc[o]
    prev_m2 = acc[o + 2]
    acc[o + 2] = acc[o + 2] + (val - prev_mean) * (val - acc[o + 1])
    if prev_m2 * _INV_COND_TOL > acc[o + 2]:
        acc[o + 5] = 1.0


@_compiled
def _remove_var(acc, o, val):  # pragma: no cover - compiled
    if val != val:
        return
    acc[o] -= 1.0
    if acc[o] != 0.0:
        prev_mean = acc[o + 1] - acc[o + 4]
        y = val - acc[o + 4]
        t = y - acc[o + 1]
        acc[o + 4] = t + acc[o + 1] - y
        acc[o + 1] = acc[o + 1] - t / acc[o]
        prev_m2 = acc[o + 2]
        acc[o + 2] = acc[o + 2] - (val - prev_mean) * (val - acc[o + 1])
        if prev_m2 * _INV_COND_TOL > acc[o + 2]:
            acc[o + 5] = 1.0
    else:
        acc[o + 1] = 0.0
        acc[o + 2] = 0.0
        acc[o + 5] = 0.0


@_compiled
def _std_step(acc, o, hist, off, length, t, w, minp, val):  # pragma: no cover - compiled
    """pandas' roll_var (ddof=1) for one more bar, then the square root as Rolling.std takes it."""
    recompute = t == 0 or w == 1
    if not recompute:
        # add_var's compensation and remove_var's are separate, as in pandas.
        if t >= w:
            _remove_var(acc, o, hist[off + (t - w) % length])
        _add_var(acc, o, val)
    if recompute or acc[o + 5] != 0.0:
        acc[o:o + 6] = 0.0
        for j in range(max(0, t - w + 1), t + 1):
            _add_var(acc, o, hist[off + j % length])
        acc[o + 5] = 0.0
    nobs = acc[o]
    if nobs >= max(minp, 1) and nobs > 1.0:
        var = acc[o + 2] / (nobs - 1.0)
        return 0.0 if var < 0 else np.sqrt(var)
    return np.nan


@_compiled
def _rank(hist, off, length, t, w, minp, val):  # pragma: no cover - compiled
    """pandas' roll_rank (average ties, percentile) of ``val`` among the window's valid values."""
    nobs = 0
    le = 0
    lt = 0
    first = max(0, t - w + 1)
    k = first % length
    for _ in range(first, t + 1):
        v = hist[off + k]
        k += 1
        if k == length:
            k = 0
        if v == v:
            nobs += 1
            if v <= val:
                le += 1
                if v < val:
                    lt += 1
    if val != val or nobs < minp:
        return np.nan
    rank = float(le)
    rank_min = float(lt + 1)
    rank = ((rank * (rank + 1) / 2) - ((rank_min - 1) * rank_min / 2)) / (rank - rank_min + 1)
    return rank / nobs


@_compiled
def _extreme(hist, off, length, t, w, is_max):  # pragma: no cover - compiled
    """Max (or min) of a full window; NaN while it is not full or holds a NaN (min_periods == window)."""
    if t + 1 < w:
        return np.nan
    best = np.nan
    k = (t - w + 1) % length
    for _ in range(w):
        v = hist[off + k]
        k += 1
        if k == length:
            k = 0
        if v != v:
            return np.nan
        if best != best or (v >= best if is_max else v <= best):
            best = v
    return best
