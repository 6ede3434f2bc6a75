"""Markets with a planted regime change, for replay tests: an edge that exists, then flips."""

from __future__ import annotations

import numpy as np
import pandas as pd


def flipping_market(n_before: int, n_after: int, *, phi: float = 0.5, vol: float = 0.004, seed: int = 0,
                    start: str = "2024-01-01") -> pd.DataFrame:
    """Hourly candles whose log returns are AR(1) with coefficient ``phi`` for ``n_before`` bars, then
    ``-phi``: the next bar's direction follows the last move, then opposes it (a momentum edge that
    turns into its mirror image at bar ``n_before``)."""
    rng = np.random.default_rng(seed)
    n = n_before + n_after
    coef = np.where(np.arange(n) < n_before, phi, -phi)
    eps = rng.normal(0.0, vol, n)
    r = np.empty(n)
    prev = 0.0
    for i in range(n):
        prev = coef[i] * prev + eps[i]
        r[i] = prev
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, vol / 4, n)) * close
    ts = pd.date_range(start, periods=n, freq="1h", tz="UTC").as_unit("ns")
    return pd.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) + wick,
                         "low": np.minimum(open_, close) - wick, "close": close,
                         "volume": rng.uniform(500.0, 1500.0, n)})
