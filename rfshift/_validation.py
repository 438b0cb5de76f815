"""Input validation shared by the public functions (messages name the argument and the range)."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["as_real_array", "check_parameter", "plain_scalar"]

_PLAIN_TYPES = frozenset({float, int, np.float64, np.float32, np.int64, np.int32})


def as_real_array(value: object, name: str) -> np.ndarray:
    """Convert ``value`` to a float64 array, refusing booleans, complex numbers, strings and objects."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number or array of real numbers, got a boolean")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real number or array of real numbers, got {value!r}")
    if value is None:
        raise TypeError(f"{name} must be a real number or array of real numbers, got None")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} could not be converted to an array: {exc}") from None
    if arr.dtype == bool:
        raise TypeError(f"{name} must hold real numbers, got booleans")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex values")
    if arr.dtype.kind not in "iuf":
        if arr.dtype.kind == "O" and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in arr.ravel()
        ):
            arr = arr.astype(float)
        else:
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def check_parameter(
    value: object, name: str, *, allow_zero: bool, description: str = ""
) -> np.ndarray:
    """Validate a hyperparameter: finite, real, ``> 0`` (or ``>= 0`` when ``allow_zero``)."""
    arr = as_real_array(value, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; give at least one value")
    what = f" ({description})" if description else ""
    if np.isnan(arr).any():
        raise ValueError(f"{name}{what} contains NaN")
    if np.isinf(arr).any():
        raise ValueError(f"{name}{what} must be finite, got {float(arr[np.isinf(arr)].ravel()[0])!r}")
    bad = arr < 0 if allow_zero else arr <= 0
    if bad.any():
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}{what} must be {rng}, got {float(arr[bad].ravel()[0])!r}")
    return arr


def plain_scalar(value: object, *, allow_zero: bool) -> float | None:
    """``float(value)`` when ``value`` is a plain real number (Python or NumPy float/int, not a bool
    or an array) that :func:`check_parameter` accepts; else None (``check_parameter`` then decides
    and raises). A cheap fast path for one-point calls."""
    if type(value) not in _PLAIN_TYPES:
        return None
    try:
        v = float(value)  # type: ignore[arg-type]
    except OverflowError:
        return None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        return None
    return v
