"""The kernel of the streaming evaluator: a program's nodes interpreted for one bar of each of many keys,
with scalar arithmetic that rounds as numpy's elementwise operations do, and pandas' online rolling
algorithms (pandas/_libs/window/aggregations.pyx: roll_mean, roll_var, roll_rank, roll_max/min)
replayed step for step. ``alphaplus.ml.streaming`` lays programs out for it and holds the state.
"""

from __future__ import annotations

import numpy as np

try:  # numba is what makes serving cost about what the model costs (see alphaplus.ml.streaming)
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
            if op == INPUT:
                v = inputs[b, code[i, 4]]
            elif op == CONST:
                v = consts[i]
            elif op == NEG:
                v = -x
            elif op == ABS:
                v = abs(x)
            elif op == ADD:
                v = x + y
            elif op == SUB:
                v = x - y
            elif op == MUL:
                v = x * y
            elif op == DIV:
                v = x / y
            elif op == MAXIMUM:  # as numpy takes it: NaN wins, a tie gives the second argument
                v = x if (x > y or x != x) else y
            elif op == MINIMUM:
                v = x if (x < y or x != x) else y
            elif op == CLIP_LOWER:
                v = consts[i] if x < consts[i] else x
            elif op == CLIP_UPPER:
                v = consts[i] if x > consts[i] else x
            elif op == GT:
                v = 1.0 if x > y else 0.0
            elif op == GE:
                v = 1.0 if x >= y else 0.0
            elif op == LT:
                v = 1.0 if x < y else 0.0
            elif op == LE:
                v = 1.0 if x <= y else 0.0
            elif op == EQ:
                v = 1.0 if x == y else 0.0
            elif op == AND:
                v = 1.0 if (x != 0.0 and y != 0.0) else 0.0
            elif op == OR:
                v = 1.0 if (x != 0.0 or y != 0.0) else 0.0
            elif op == ISNAN:
                v = 1.0 if x != x else 0.0
            elif op == WHERE:
                v = y if x != 0.0 else reg[code[i, 3]]
            elif op == SAFE_RATIO:
                if x != x or y != y:
                    v = np.nan
                elif y == 0.0:
                    v = consts[i]
                else:
                    v = x / y
            elif op == FINITE:
                v = np.nan if (x == np.inf or x == -np.inf) else x
            else:
                a = code[i, 1]
                off = ring_offset[a]
                length = ring_length[a]
                w = code[i, 4]
                if op == LAG:
                    v = hist[r, off + (t - w) % length] if t >= w else np.nan
                elif op == ROLLING_MEAN:
                    v = _mean_step(acc[r], code[i, 6], hist[r], off, length, t, w, code[i, 5], x)
                elif op == ROLLING_STD:
                    v = _std_step(acc[r], code[i, 6], hist[r], off, length, t, w, code[i, 5], x)
                elif op == ROLLING_RANK:
                    v = _rank(hist[r], off, length, t, w, code[i, 5], x)
                else:  # rolling_max / rolling_min
                    v = _extreme(hist[r], off, length, t, w, op == ROLLING_MAX)
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
    first = max(0, t - w + 1)
    start = first % length
    count = t + 1 - first
    head = min(count, length - start)
    # Counted without branches, over the ring's two contiguous stretches: the loops vectorise.
    nobs, le, lt = _counts(hist, off + start, off + start + head, val)
    n2, le2, lt2 = _counts(hist, off, off + count - head, val)
    nobs, le, lt = nobs + n2, le + le2, lt + lt2
    if val != val or nobs < minp:
        return np.nan
    rank = float(le)
    rank_min = float(lt + 1)
    rank = ((rank * (rank + 1) / 2) - ((rank_min - 1) * rank_min / 2)) / (rank - rank_min + 1)
    return rank / nobs


@_compiled
def _counts(hist, lo, hi, val):  # pragma: no cover - compiled
    """(valid values, values <= val, values < val) among hist[lo:hi]."""
    nobs = 0
    le = 0
    lt = 0
    for k in range(lo, hi):
        v = hist[k]
        nobs += v == v
        le += v <= val
        lt += v < val
    return nobs, le, lt


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
