"""Scoring with LightGBM's Booster itself, at the cost of the trees and not of the wrappers around them.

``LGBMClassifier.predict_proba`` builds a DataFrame check, a predictor object and a thread pool per call
(~0.7 ms for one row; milliseconds under load, when OpenMP threads wait for a core). The Booster's
C entry points score the same trees with the same code: one row through the single-row "fast" entry,
whose configuration is prepared once per model (a few microseconds), several rows through one batch
call. Both return exactly what training-time scoring (``alphaplus.ml.training.predict_proba``) returns.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from alphaplus.ml.training import TrainedModel

# LightGBM C API constants (c_api.h).
_PREDICT_NORMAL = 0
_DTYPE_FLOAT64 = 1
# One thread: a trading process scores rows one bar at a time; waiting for a second core costs more
# than the trees of a row do.
_PARAMETERS = b"num_threads=1"


def booster_of(trained: TrainedModel) -> Any:
    """The lightgbm.Booster of a saved model (the fitted classifier's, or the model itself)."""
    booster = getattr(trained, "booster", None)
    if booster is not None:
        return booster
    model = trained.model
    return model if hasattr(model, "model_to_string") else model.booster_


def best_iteration_of(trained: TrainedModel) -> int | None:
    """The last iteration training-time scoring uses: the classifier's best iteration when it keeps one
    (a model rebuilt from its text), else the Booster's (Booster.predict's own choice); None for all."""
    best = getattr(trained.model, "best_iteration", None)
    if best is None:
        best = getattr(booster_of(trained), "best_iteration", None)
    return int(best) if best and int(best) > 0 else None


def scorer_for(trained: TrainedModel) -> "BoosterScorer":
    """The scorer of a saved model: its Booster, stopped where training-time scoring stops."""
    return BoosterScorer(booster_of(trained), best_iteration_of(trained))


class BoosterScorer:
    """Probability of class 1 for rows of features in the model's feature order."""

    def __init__(self, booster: Any, best_iteration: int | None = None) -> None:
        from lightgbm.basic import _LIB, _safe_call

        self._lib, self._safe_call = _LIB, _safe_call
        self._booster = booster  # kept alive as long as the handles below point into it
        self._handle = booster._handle
        self._num_iteration = best_iteration if best_iteration and best_iteration > 0 else -1
        self.n_features = int(booster.num_feature())
        self._fast = ctypes.c_void_p()
        _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            self._handle, ctypes.c_int(_PREDICT_NORMAL), ctypes.c_int(0), ctypes.c_int(self._num_iteration),
            ctypes.c_int(_DTYPE_FLOAT64), ctypes.c_int32(self.n_features), ctypes.c_char_p(_PARAMETERS),
            ctypes.byref(self._fast)))
        self._row = np.zeros(self.n_features)
        self._one_out = np.zeros(1)
        self._one_len = ctypes.c_int64()
        self._row_ptr = self._row.ctypes.data_as(ctypes.c_void_p)
        self._one_ptr = self._one_out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._predict_one = _LIB.LGBM_BoosterPredictForMatSingleRowFast

    def one(self, row: np.ndarray) -> float:
        """The probability of one row (float64, ``n_features`` values)."""
        self._row[:] = row
        self._safe_call(self._predict_one(self._fast, self._row_ptr, ctypes.byref(self._one_len), self._one_ptr))
        return float(self._one_out[0])

    def many(self, rows: np.ndarray) -> np.ndarray:
        """The probabilities of several rows (float64, shape (n, ``n_features``)) in one call."""
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        n = rows.shape[0]
        out = np.zeros(n)
        out_len = ctypes.c_int64()
        self._safe_call(self._lib.LGBM_BoosterPredictForMat(
            self._handle, rows.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(_DTYPE_FLOAT64), ctypes.c_int32(n),
            ctypes.c_int32(self.n_features), ctypes.c_int(1), ctypes.c_int(_PREDICT_NORMAL), ctypes.c_int(0),
            ctypes.c_int(self._num_iteration), ctypes.c_char_p(_PARAMETERS), ctypes.byref(out_len),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
        return out

    def __del__(self) -> None:
        fast = getattr(self, "_fast", None)
        if fast is not None and fast.value:
            self._lib.LGBM_FastConfigFree(fast)
            self._fast = None
