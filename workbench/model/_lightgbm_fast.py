"""LightGBM's single-row C API (`LGBM_BoosterPredictForMatSingleRowFast`) for served rows.

`Booster.predict` rebuilds its prediction configuration on every call: about 100 µs, while walking the
trees of a typical model takes a few. The fast C API prepares that configuration once; a row then costs
microseconds. It gives the same numbers as `Booster.predict` (the same code walks the trees). Batches of
more than one row still go through `Booster.predict`.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

__all__ = ["SMALL_BATCH_ROWS", "LightGBMRows"]

# Batches up to this many rows are predicted on one thread: starting threads costs ~2 ms a call.
SMALL_BATCH_ROWS = 256

_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: with the objective's transform (sigmoid, softmax)
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


class LightGBMRows:
    """Predicts float64 matrices with a booster: one row through the fast C API, more through predict.

    num_iteration: trees to use, as `Booster.predict` takes it (None: the booster's best iteration).
    """

    def __init__(self, booster: Any, num_iteration: int | None = None) -> None:
        self.booster = booster
        self.num_iteration = num_iteration
        self._lock = threading.Lock()  # a FastConfig is not safe to share between threads
        self._config: ctypes.c_void_p | None = None
        self._width = 0

    def _iterations(self) -> int:
        if self.num_iteration is not None:
            return int(self.num_iteration)
        best = int(self.booster.best_iteration or 0)
        return best if best > 0 else -1

    def _fast_config(self) -> ctypes.c_void_p:
        if self._config is None:
            from lightgbm.basic import _LIB, _safe_call  # type: ignore[attr-defined]

            config = ctypes.c_void_p()
            self._width = int(self.booster.num_feature())
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                    self.booster._handle,
                    ctypes.c_int(_PREDICT_NORMAL),
                    ctypes.c_int(0),
                    ctypes.c_int(self._iterations()),
                    ctypes.c_int(_DTYPE_FLOAT64),
                    ctypes.c_int32(self._width),
                    ctypes.c_char_p(b"num_threads=1"),
                    ctypes.byref(config),
                )
            )
            self._config = config
            self._outputs = int(self.booster.num_model_per_iteration())
        return self._config

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """What `booster.predict(matrix, num_iteration=...)` returns."""
        if len(matrix) != 1:
            threads = 1 if len(matrix) <= SMALL_BATCH_ROWS else 0
            out: np.ndarray = self.booster.predict(matrix, num_iteration=self._iterations(), num_threads=threads)
            return out
        with self._lock:
            if self._config is None:
                self._prepare()
            row = self._row
            if matrix.shape[1] != len(row):
                raise ValueError(f"expected {len(row)} features, got {matrix.shape[1]}")
            row[:] = matrix[0]
            code = self._predict_row(self._config, self._row_pointer, self._length_ref, self._result_pointer)
            if code != 0:
                from lightgbm.basic import _safe_call

                _safe_call(code)
            result = self._result.copy()
        return result.reshape(1, -1) if len(result) > 1 else result

    def _prepare(self) -> None:
        """The FastConfig and the buffers each row is copied into and read from."""
        from lightgbm.basic import _LIB  # type: ignore[attr-defined]

        self._config = self._fast_config()
        self._row = np.empty(self._width, dtype=np.float64)
        self._result = np.empty(self._outputs, dtype=np.float64)
        self._length = ctypes.c_int64(0)
        self._length_ref = ctypes.byref(self._length)
        self._row_pointer = self._row.ctypes.data_as(ctypes.c_void_p)
        self._result_pointer = self._result.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._predict_row = _LIB.LGBM_BoosterPredictForMatSingleRowFast

    def __del__(self) -> None:
        config = self._config
        if config is not None:
            try:
                from lightgbm.basic import _LIB  # type: ignore[attr-defined]

                _LIB.LGBM_FastConfigFree(config)
            except Exception:  # interpreter shutdown: the library may be gone already
                pass

    def __getstate__(self) -> dict[str, Any]:
        # The FastConfig, the buffers and their pointers belong to this process.
        return {"booster": self.booster, "num_iteration": self.num_iteration}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["booster"], state["num_iteration"])  # type: ignore[misc]
