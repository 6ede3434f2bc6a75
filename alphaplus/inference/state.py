"""What an engine knows of each symbol's market: one streaming state computing the regime indicators and
the features of every feature set it serves, fed one bar at a time or warmed up from history.

The state depends on the bars only, never on a model: a promotion or rollback changes which features a
version reads (``columns_for``), not the state. Feature values equal the training path's
(``build_features``) for the same bars; see ``alphaplus.ml.streaming``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from alphaplus.core.errors import InvalidInput
from alphaplus.ml.dataflow import CANDLE_INPUTS, compile_program
from alphaplus.ml.features import FeatureSpec, feature_expressions
from alphaplus.ml.regimes import RegimeRule, label_regimes, regime_expressions, warmup_bars
from alphaplus.ml.streaming import StreamState
from alphaplus.ml.training import TrainedModel

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_REGIME_OUTPUTS = ("vol_percentile", "trend_strength")
# The key predict(symbol, candles) evaluates frames under: no symbol can be equal to it.
_FRAME = object()


class Bar(NamedTuple):
    """One candle of one symbol: when it opened, and its prices and volume."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


# A Bar, a (ts, open, high, low, close, volume) tuple, or a mapping (dict, pandas row) with those keys.
BarLike = Bar | Sequence[Any] | Mapping[str, Any]


def bar_time(value: Any) -> tuple[datetime, int]:
    """A bar's time as a timezone-aware datetime (naive means UTC) and as nanoseconds since the epoch."""
    if isinstance(value, pd.Timestamp) and value.tzinfo is not None:
        return value, value.value  # a Timestamp is a datetime: kept as it is
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        ts = pd.Timestamp(value).tz_localize(UTC)
        return ts, ts.value
    if isinstance(value, datetime):
        ts = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return ts, ((ts - _EPOCH) // _US) * 1000
    raise InvalidInput(f"a bar's ts must be a datetime or pandas Timestamp, got {type(value).__name__}")


def parse_bar(bar: BarLike) -> tuple[datetime, int, tuple[float, ...]]:
    """(time, nanoseconds, (open, high, low, close, volume)) of one bar; InvalidInput if it is not one."""
    try:
        if isinstance(bar, tuple):
            if len(bar) != 6:
                raise TypeError
            ts, floats = bar[0], tuple(map(float, bar[1:]))
        else:
            ts, floats = bar["ts"], (float(bar["open"]), float(bar["high"]), float(bar["low"]), float(bar["close"]),
                                     float(bar["volume"]))
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise InvalidInput(
            "a bar is a Bar, a (ts, open, high, low, close, volume) tuple or a mapping with those keys"
        ) from e
    when, ns = bar_time(ts)
    return when, ns, floats


def candle_arrays(candles: pd.DataFrame, tail: int | None = None) -> tuple[tuple[datetime, int], np.ndarray]:
    """(time of the last bar, float64 (n, 5) values) of a canonical candle frame, oldest first; only its
    last ``tail`` rows when given."""
    if not isinstance(candles, pd.DataFrame) or len(candles) == 0 or "ts" not in candles.columns:
        raise InvalidInput("candles must be a non-empty frame with ts, open, high, low, close, volume")
    missing = [c for c in CANDLE_INPUTS if c not in candles.columns]
    if missing:
        raise InvalidInput(f"candles lack the column(s) {', '.join(missing)}")
    frame = candles if tail is None else candles.iloc[-tail:]
    stamps = getattr(frame["ts"].array, "asi8", None)
    if stamps is None:
        raise InvalidInput("candles' ts column must hold datetimes")
    if len(stamps) > 1 and not (np.diff(stamps) > 0).all():
        raise InvalidInput("candles must be in time order, one row per bar (ts strictly increasing)")
    values = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in CANDLE_INPUTS])
    return bar_time(frame["ts"].iloc[-1]), values


class MarketState:
    """Per-symbol streaming state of the regime rule and the feature sets an engine serves."""

    def __init__(self, feature_specs: Iterable[FeatureSpec], rule: RegimeRule) -> None:
        self.rule = rule
        self.feature_specs = tuple(dict.fromkeys(feature_specs))
        outputs = {name: e for name, e in regime_expressions(rule).items() if name in _REGIME_OUTPUTS}
        for k, spec in enumerate(self.feature_specs):
            outputs.update({f"{k}:{name}": e for name, e in feature_expressions(spec).items()})
        program = compile_program(outputs)
        self._state = StreamState(program)
        self._position = {name: i for i, name in enumerate(program.output_names)}
        self._specs = {spec: k for k, spec in enumerate(self.feature_specs)}
        self._last_ns: dict[str, int] = {}
        # The longest look-back: a state warmed with this many bars holds what any longer history gives.
        self.history_bars = program.lookback() + 1
        self.regime_bars = warmup_bars(rule) + 1
        self.feature_bars = max((s.warmup_bars + 1 for s in self.feature_specs), default=1)

    # --- which outputs a model reads --------------------------------------------------------------

    def position(self, trained: TrainedModel, name: str) -> int:
        """Output position of feature ``name`` of the model's feature set (-1 when it has no such feature)."""
        k = self._specs.get(trained.feature_spec)
        if k is None:
            raise InvalidInput(
                "the model was trained on a feature set this engine does not compute "
                f"({trained.feature_spec.to_json()}); open the engine with feature_specs including it"
            )
        return self._position.get(f"{k}:{name}", -1)

    def columns_for(self, trained: TrainedModel) -> np.ndarray:
        """Output positions of the model's features, in its feature order."""
        columns = np.asarray([self.position(trained, n) for n in trained.feature_names], dtype=np.int64)
        if (columns < 0).any():
            raise InvalidInput("the model reads features its feature set does not define")
        return columns

    def regimes(self, outputs: np.ndarray) -> np.ndarray:
        """The regime of each row of outputs (object array; NaN where it cannot be classified yet)."""
        return label_regimes(outputs[:, self._position["vol_percentile"]],
                             outputs[:, self._position["trend_strength"]], self.rule)

    # --- bars ------------------------------------------------------------------------------------

    def bars_seen(self, symbol: str) -> int:
        return self._state.bars_seen(symbol)

    @property
    def bytes_per_symbol(self) -> int:
        return self._state.bytes_per_key

    def __len__(self) -> int:
        return len(self._last_ns)

    def advance(self, symbols: Sequence[str], ns: Sequence[int], values: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Feed one bar per symbol; (outputs of the accepted rows, positions of the accepted symbols).
        A bar not after the symbol's last one is refused (left out), the others are taken."""
        last = self._last_ns
        accepted = [i for i, (s, t) in enumerate(zip(symbols, ns)) if t > last.get(s, -1 << 62)]
        if len(accepted) < len(symbols):
            values = values[accepted]
        rows = np.fromiter((self._state.row(symbols[i]) for i in accepted), dtype=np.int64, count=len(accepted))
        outputs = self._state.advance(rows, values)
        for i in accepted:
            last[symbols[i]] = ns[i]
        return outputs, accepted

    def last_bar_time(self, symbol: str) -> datetime | None:
        ns = self._last_ns.get(symbol)
        return None if ns is None else pd.Timestamp(ns, tz=UTC).to_pydatetime()

    def warm(self, symbol: str, candles: pd.DataFrame) -> None:
        """Start ``symbol`` afresh from its history (its state forgets earlier bars)."""
        (_, ns), values = candle_arrays(candles)
        self._state.warm(symbol, values)
        self._last_ns[symbol] = ns

    def evaluate(self, candles: pd.DataFrame) -> tuple[datetime, np.ndarray]:
        """(time, outputs (1, n)) of the last bar of a frame, from its last ``history_bars`` bars; no
        symbol's state changes."""
        (when, _), values = candle_arrays(candles, self.history_bars)
        return when, self._state.warm(_FRAME, values)[None, :]
