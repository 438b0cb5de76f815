"""Result dataclasses as pandas DataFrames and xarray Datasets (optional extra ``rfshift[frames]``).

Used by ``Asymptotics.to_dataframe()/to_xarray()``, ``RobustnessCurve`` and ``LinearRelation``. The
conversion is generic over the dataclass fields, so fields added later appear without changes here:

* every field that is an array (or scalar) of the result's broadcast shape becomes a column /
  data variable under its own name (``error``, ``bias_id``, ``k_x``, ``interpolation_peak``, …);
* a :class:`rfshift.VarianceTerms` field ``variance_terms`` (``variance_terms_id``) becomes the
  columns ``variance_w``, ``variance_x``, ``variance_eps``, ``variance_wx``, ``variance_w_eps``,
  ``variance_x_eps``, ``variance_wx_eps`` (``variance_id_w``, …): the ANOVA terms of ``variance``;
* the broadcast parameters (``params``: phi, psi, gamma, noise_var, nonlinear_var, …) are always
  per-point columns / coordinates, even where the result stores one as a plain number;
* scalars of the whole result (activation name, ρ, ω, … named in ``scalars``, fields annotated
  ``float``/``int``/``str``/``bool``) always go to ``DataFrame.attrs`` / ``Dataset.attrs``, for 0-d
  results as for arrays;
* ``extra`` adds named per-point arrays (e.g. derived properties such as ``error_noisy``).

pandas and xarray are imported only when a conversion is asked for; a missing one raises an
ImportError that names the extra to install.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

__all__ = ["columns", "to_dataframe", "to_xarray"]

EXTRA = "pip install 'rfshift[frames]'"


def _require(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{what} needs {module}, which is not installed: {EXTRA} "
                          f"(or pip install {module}); original error: {exc}") from None


_SCALAR_TYPES = ("float", "int", "str", "bool")


def columns(result: object, shape: tuple[int, ...], extra: Mapping[str, object] | None = None,
            params: Sequence[str] = (), scalars: Sequence[str] = ()
            ) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """(per-point arrays of ``shape`` by column name, whole-result scalars) of a result dataclass.

    Names in ``params`` are broadcast to ``shape``; names in ``scalars`` and fields annotated as a
    plain scalar type go to the attrs (when they are 0-d numbers or strings) whatever ``shape`` is.
    """
    if not is_dataclass(result):
        raise TypeError(f"expected a result dataclass, got {type(result).__name__}")
    cols: dict[str, np.ndarray] = {}
    attrs: dict[str, object] = {}

    scalar_names = set(scalars) | {f.name for f in fields(result)  # type: ignore[arg-type]
                                   if str(f.type) in _SCALAR_TYPES and f.name not in params}

    def add(name: str, value: object) -> None:
        arr = np.asarray(value)
        if name in params and arr.dtype.kind in "iufb":
            cols[name] = np.broadcast_to(arr, shape)
        elif name in scalar_names and arr.ndim == 0 and arr.dtype.kind in "iufb":
            attrs[name] = arr.item()
        elif arr.shape == shape or (arr.ndim == 0 and shape == ()):
            cols[name] = arr
        elif arr.ndim == 0 and arr.dtype.kind in "iufb":
            attrs[name] = arr.item()
        elif arr.ndim == 0 and isinstance(value, str):
            attrs[name] = value
        # other shapes (e.g. per-atom arrays of a comparison) are not per-point data: left out

    for f in fields(result):  # type: ignore[arg-type]
        value = getattr(result, f.name)
        if is_dataclass(value) and hasattr(value, "as_dict") and f.name.startswith("variance_terms"):
            prefix = f.name.replace("variance_terms", "variance")
            for term, arr in value.as_dict().items():
                add(f"{prefix}_{term}", arr)
        elif isinstance(value, (np.ndarray, float, int, np.generic, bool, str)):
            add(f.name, value)
        elif hasattr(value, "name") and isinstance(value.name, str):
            attrs[f.name] = value.name  # an Activation
    for name, value in (extra or {}).items():
        add(name, value)
    return cols, attrs


def to_dataframe(result: object, shape: tuple[int, ...], params: Sequence[str],
                 extra: Mapping[str, object] | None = None, scalars: Sequence[str] = ()) -> Any:
    """One row per broadcast point (C order); parameter columns first, then every output; the
    whole-result scalars in ``DataFrame.attrs``."""
    pd = _require("pandas", "to_dataframe()")
    cols, attrs = columns(result, shape, extra, params, scalars)
    order = [p for p in params if p in cols] + [c for c in cols if c not in params]
    df = pd.DataFrame({c: np.broadcast_to(cols[c], shape).reshape(-1) for c in order})
    df.attrs.update(attrs)
    return df


def _varies_along(arr: np.ndarray, axis: int) -> bool:
    first = np.take(arr, [0], axis=axis)
    return bool(np.any(arr != first))


def to_xarray(result: object, shape: tuple[int, ...], params: Sequence[str],
              extra: Mapping[str, object] | None = None, scalars: Sequence[str] = ()) -> Any:
    """An ``xarray.Dataset`` on the broadcast grid.

    Each axis is named after the parameter (first in ``params`` order) that varies along it and
    along no other axis, and that parameter's values are the axis coordinate; other parameters that
    vary only along the same axis are extra coordinates on it, parameters varying along several axes
    are multi-dimensional coordinates, and constant ones are scalar coordinates. An axis along
    which nothing varies (length 1) is named ``axis<i>``. Whole-result scalars go to
    ``Dataset.attrs`` (also for a 0-d result, whose parameters are scalar coordinates).
    """
    xr = _require("xarray", "to_xarray()")
    cols, attrs = columns(result, shape, extra, params, scalars)
    full = {p: np.broadcast_to(cols[p], shape) for p in params if p in cols}
    along = {p: [ax for ax in range(len(shape)) if _varies_along(a, ax)] for p, a in full.items()}
    dims: list[str] = []
    for ax in range(len(shape)):
        names = [p for p in params if p in along and along[p] == [ax]]
        name = names[0] if names else f"axis{ax}"
        if name in dims:  # cannot happen for distinct parameters; keep names unique anyway
            name = f"{name}_{ax}"
        dims.append(name)
    coords: dict[str, Any] = {}
    for p, axes in along.items():
        a = full[p]
        if not axes:
            coords[p] = ((), a.reshape(-1)[0] if a.size else a)
        elif len(axes) == 1:
            ax = axes[0]
            idx = [0] * len(shape)
            idx[ax] = slice(None)
            coords[p] = (dims[ax], np.asarray(a[tuple(idx)]))
        else:
            coords[p] = (tuple(dims), np.asarray(a))
    data = {c: (tuple(dims), np.broadcast_to(v, shape).copy()) for c, v in cols.items() if c not in full}
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({k: v for k, v in attrs.items() if isinstance(v, (str, int, float, bool))})
    return ds
