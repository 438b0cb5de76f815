"""Safe loading of spectra from files or uploaded bytes (CSV atoms, NPY/NPZ covariance pairs).

Formats
-------
* CSV with a header naming the columns ``lam``, ``lam_star`` and optionally ``weight``.
* ``.npz`` holding arrays ``Sigma`` and ``Sigma_star`` (two n0 × n0 covariances).
* ``.npy`` holding one array of shape ``(2, n0, n0)`` (Σ then Σ*), or a pair of ``.npy`` files
  via :func:`load_covariance_pair`.

Pickled content is never loaded (``allow_pickle=False``); sizes are capped.
"""

from __future__ import annotations

import csv
import io as _io
import os
import zipfile
from pathlib import Path

import numpy as np

from .spectra import Spectrum

__all__ = [
    "MAX_ATOMS",
    "MAX_BYTES",
    "MAX_DIM",
    "SpectrumFileError",
    "load_covariance_pair",
    "load_spectrum",
    "spectrum_to_csv",
]

#: Largest accepted file, in bytes.
MAX_BYTES = 50 * 1024 * 1024
#: Largest number of atoms in a CSV.
MAX_ATOMS = 200_000
#: Largest covariance dimension n0.
MAX_DIM = 2_000


class SpectrumFileError(ValueError):
    """A spectrum file is malformed, too large or unsafe; the message says which."""


def _read(source: str | os.PathLike | bytes, what: str) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), ""
    else:
        path = Path(source)
        if not path.is_file():
            raise SpectrumFileError(f"{what}: no such file {str(path)!r}")
        if path.stat().st_size > MAX_BYTES:
            raise SpectrumFileError(f"{what}: file is larger than {MAX_BYTES // 2**20} MiB")
        data, name = path.read_bytes(), path.name
    if len(data) > MAX_BYTES:
        raise SpectrumFileError(f"{what}: file is larger than {MAX_BYTES // 2**20} MiB")
    if not data:
        raise SpectrumFileError(f"{what}: file is empty")
    return data, name


def _kind(data: bytes, name: str) -> str:
    lower = name.lower()
    if lower.endswith(".npz") or data[:4] == b"PK\x03\x04":
        return "npz"
    if lower.endswith(".npy") or data[:6] == b"\x93NUMPY":
        return "npy"
    return "csv"


def _load_npy(data: bytes, what: str) -> np.ndarray:
    if data[:6] != b"\x93NUMPY":
        raise SpectrumFileError(f"{what}: not a NumPy .npy file")
    try:
        arr = np.load(_io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise SpectrumFileError(
                f"{what}: the array holds Python objects (pickled data), which is never loaded"
            ) from None
        raise SpectrumFileError(f"{what}: unreadable .npy file ({exc})") from None
    except Exception as exc:
        raise SpectrumFileError(f"{what}: unreadable .npy file ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise SpectrumFileError(f"{what}: expected real numbers, got dtype {arr.dtype}")
    return arr.astype(float)


def _spectrum_from_pair(S: np.ndarray, S_star: np.ndarray, what: str) -> Spectrum:
    for nm, M in (("Sigma", S), ("Sigma_star", S_star)):
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise SpectrumFileError(f"{what}: {nm} must be a square matrix, got shape {M.shape}")
        if M.shape[0] > MAX_DIM:
            raise SpectrumFileError(f"{what}: {nm} is {M.shape[0]}×{M.shape[0]}; the limit is {MAX_DIM}")
    try:
        return Spectrum.from_covariances(S, S_star)
    except (ValueError, TypeError) as exc:
        raise SpectrumFileError(f"{what}: {exc}") from None


def _load_csv(data: bytes, what: str) -> Spectrum:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpectrumFileError(f"{what}: not a UTF-8 text (CSV) file") from None
    rows = [r for r in csv.reader(_io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        raise SpectrumFileError(f"{what}: no rows")
    header = [h.strip().lower() for h in rows[0]]
    if "lam" not in header or "lam_star" not in header:
        raise SpectrumFileError(
            f"{what}: the header must name the columns lam, lam_star (and optionally weight); "
            f"got {rows[0]!r}"
        )
    if len(rows) - 1 > MAX_ATOMS:
        raise SpectrumFileError(f"{what}: more than {MAX_ATOMS} atoms")
    cols = {name: header.index(name) for name in ("lam", "lam_star", "weight") if name in header}
    values: dict[str, list[float]] = {name: [] for name in cols}
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise SpectrumFileError(
                f"{what}: line {lineno} has {len(row)} fields, the header has {len(header)}"
            )
        for name, j in cols.items():
            try:
                values[name].append(float(row[j]))
            except ValueError:
                raise SpectrumFileError(
                    f"{what}: line {lineno}, column {name}: {row[j]!r} is not a number"
                ) from None
    if not values["lam"]:
        raise SpectrumFileError(f"{what}: no data rows after the header")
    try:
        return Spectrum(values["lam"], values["lam_star"], values.get("weight"))
    except (ValueError, TypeError) as exc:
        raise SpectrumFileError(f"{what}: {exc}") from None


def load_spectrum(source: str | os.PathLike | bytes, *, name: str = "") -> Spectrum:
    """Load a :class:`Spectrum` from a path or raw bytes (CSV, ``.npz`` or ``(2, n0, n0)`` ``.npy``).

    ``name`` (a file name) helps pick the format for raw bytes. Raises :class:`SpectrumFileError`
    (a ``ValueError``) with a message naming the problem.
    """
    what = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "upload")
    data, fname = _read(source, what)
    kind = _kind(data, name or fname)
    if kind == "csv":
        return _load_csv(data, what)
    if kind == "npy":
        arr = _load_npy(data, what)
        if arr.ndim != 3 or arr.shape[0] != 2:
            raise SpectrumFileError(
                f"{what}: a single .npy must hold shape (2, n0, n0) (Σ then Σ*), got {arr.shape}; "
                "upload two .npy files for a pair"
            )
        return _spectrum_from_pair(arr[0], arr[1], what)
    try:
        with np.load(_io.BytesIO(data), allow_pickle=False) as z:
            keys = set(z.files)
            if not {"Sigma", "Sigma_star"} <= keys:
                raise SpectrumFileError(
                    f"{what}: an .npz must hold arrays named Sigma and Sigma_star, got {sorted(keys)}"
                )
            S, S_star = z["Sigma"], z["Sigma_star"]
    except SpectrumFileError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        pickled = "pickle" in str(exc).lower()
        msg = "holds pickled data, which is never loaded" if pickled else f"is unreadable ({exc})"
        raise SpectrumFileError(f"{what}: the .npz file {msg}") from None
    for nm, M in (("Sigma", S), ("Sigma_star", S_star)):
        if M.dtype.kind not in "iuf":
            raise SpectrumFileError(f"{what}: {nm} must hold real numbers, got dtype {M.dtype}")
    return _spectrum_from_pair(S.astype(float), S_star.astype(float), what)


def load_covariance_pair(
    sigma: str | os.PathLike | bytes, sigma_star: str | os.PathLike | bytes
) -> Spectrum:
    """Load Σ and Σ* from two ``.npy`` files (paths or bytes) and build the Spectrum."""
    S = _load_npy(_read(sigma, "Sigma")[0], "Sigma")
    S_star = _load_npy(_read(sigma_star, "Sigma_star")[0], "Sigma_star")
    return _spectrum_from_pair(S, S_star, "covariance pair")


def spectrum_to_csv(spec: Spectrum) -> str:
    """CSV text (``lam,lam_star,weight``) that :func:`load_spectrum` reads back."""
    out = _io.StringIO()
    out.write("lam,lam_star,weight\n")
    for a, b, w in zip(spec.lam, spec.lam_star, spec.weights, strict=True):
        out.write(f"{float(a)!r},{float(b)!r},{float(w)!r}\n")
    return out.getvalue()
