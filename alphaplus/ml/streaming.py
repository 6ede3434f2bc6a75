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
from alphaplus.ml.stream_kernel import INPUT, MEAN_FIELDS, OPCODE, ROLLING_MEAN, ROLLING_STD, VAR_FIELDS, advance_kernel

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
                # Fresh accumulators: zeros, and no previous value (NaN) for the mean's run of equal values.
                acc_init += [0.0] * (len(MEAN_FIELDS) - 1) + [np.nan] if op == "rolling_mean" else [0.0] * len(VAR_FIELDS)
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
