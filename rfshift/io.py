"""Safe loading of spectra from files or uploaded bytes (CSV atoms, NPY/NPZ covariance pairs).

Formats
-------
* CSV with a header naming the columns ``lam``, ``lam_star`` and optionally ``weights`` and
  ``target_power`` (the :class:`Spectrum` keywords; ``weight`` is accepted as an alias), in any
  order, case-insensitive.
* ``.npz`` holding exactly the arrays ``Sigma`` and ``Sigma_star`` (two n0 × n0 covariances) and
  optionally ``target_cov`` (the target covariance B, commuting with Sigma), or 1-D atom arrays named
  like the CSV columns.
* ``.npy`` holding one array of shape ``(2, n0, n0)`` (Σ then Σ*), or a pair of ``.npy`` files
  via :func:`load_covariance_pair`.

Pickled content is never loaded (``allow_pickle=False``); sizes are capped. Nothing is dropped
silently: a column or array the loader does not use is refused with an error naming it. The accepted
names live in one table, :data:`COLUMNS`.
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
    "COLUMNS",
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
    if lower.endswith(".npz") or data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):  # (empty) zip
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


def _spectrum_from_pair(S: np.ndarray, S_star: np.ndarray, what: str,
                        B: np.ndarray | None = None) -> Spectrum:
    mats = [("Sigma", S), ("Sigma_star", S_star)] + ([] if B is None else [(TARGET_COV_KEY, B)])
    for nm, M in mats:
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise SpectrumFileError(f"{what}: {nm} must be a square matrix, got shape {M.shape}")
        if M.shape[0] > MAX_DIM:
            raise SpectrumFileError(f"{what}: {nm} is {M.shape[0]}×{M.shape[0]}; the limit is {MAX_DIM}")
    try:
        return Spectrum.from_covariances(S, S_star, target_cov=B)
    except (ValueError, TypeError) as exc:
        raise SpectrumFileError(f"{what}: {exc}") from None


#: Accepted CSV column names (and ``.npz`` atom-array keys), case-insensitive, mapped to the
#: :class:`Spectrum` keyword they fill. One entry per name: adding a column (e.g. a future
#: ``target_power``) is one line here plus the keyword in ``Spectrum``. Aliases map to the same keyword;
#: a file naming one keyword twice (``weight`` and ``weights``) is refused.
COLUMNS: dict[str, str] = {
    "lam": "lam",
    "lam_star": "lam_star",
    "weights": "weights",
    "weight": "weights",  # alias kept from earlier versions (``spectrum_to_csv`` wrote it)
    "target_power": "target_power",  # b_k per atom (docs/theory.md §19); absent: isotropic target
}
#: Keywords every atom file must provide.
REQUIRED = ("lam", "lam_star")
#: ``.npz`` keys of a covariance pair, and the optional target covariance B (docs/theory.md §19).
COVARIANCE_KEYS = ("Sigma", "Sigma_star")
TARGET_COV_KEY = "target_cov"


def _accepted() -> str:
    return ", ".join(COLUMNS)


def _map_names(names: list[str], what: str, kind: str) -> dict[str, int]:
    """Keyword -> position for the column names of a file; refuses unknown, duplicate or missing ones."""
    unknown = [n for n in names if n.strip().lower() not in COLUMNS]
    missing = [k for k in REQUIRED if k not in {COLUMNS.get(n.strip().lower()) for n in names}]
    if missing:
        what_kind = "the header must name the columns" if kind == "column" else "the arrays must be"
        raise SpectrumFileError(
            f"{what}: {what_kind} {', '.join(REQUIRED)} (and optionally weights; accepted names: "
            f"{_accepted()}, case-insensitive); missing {', '.join(missing)}"
            + (f", unknown {kind} {', '.join(repr(n) for n in unknown)}" if unknown else "")
            + f"; got {names!r}"
        )
    if unknown:
        raise SpectrumFileError(
            f"{what}: unknown {kind} {', '.join(repr(n) for n in unknown)}; accepted names are "
            f"{_accepted()} (case-insensitive). Remove or rename the {kind} — nothing is dropped silently"
        )
    out: dict[str, int] = {}
    for j, n in enumerate(names):
        key = COLUMNS[n.strip().lower()]
        if key in out:
            raise SpectrumFileError(
                f"{what}: {kind}s {names[out[key]]!r} and {n!r} both give {key}; keep only one"
            )
        out[key] = j
    return out


def _spectrum(values: dict[str, object], what: str) -> Spectrum:
    try:
        return Spectrum(**values)
    except (ValueError, TypeError) as exc:
        raise SpectrumFileError(f"{what}: {exc}") from None


def _load_csv(data: bytes, what: str) -> Spectrum:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpectrumFileError(f"{what}: not a UTF-8 text (CSV) file") from None
    rows = [(i, r) for i, r in enumerate(csv.reader(_io.StringIO(text)), start=1)
            if any(c.strip() for c in r)]  # blank lines carry no data
    if not rows:
        raise SpectrumFileError(f"{what}: no rows")
    header = rows[0][1]
    if all(_is_number(h) for h in header):
        raise SpectrumFileError(
            f"{what}: the first line {header!r} holds numbers, not a header; the first line must name "
            f"the columns (lam, lam_star and optionally weights; accepted: {_accepted()})"
        )
    cols = _map_names(header, what, "column")
    if len(rows) - 1 > MAX_ATOMS:
        raise SpectrumFileError(f"{what}: more than {MAX_ATOMS} atoms")
    values: dict[str, list[float]] = {name: [] for name in cols}
    for lineno, row in rows[1:]:
        if len(row) != len(header):
            raise SpectrumFileError(
                f"{what}: line {lineno} has {len(row)} fields, the header has {len(header)}"
            )
        for name, j in cols.items():
            try:
                x = float(row[j])
            except ValueError:
                raise SpectrumFileError(
                    f"{what}: line {lineno}, column {header[j].strip()}: {row[j]!r} is not a number"
                ) from None
            if not np.isfinite(x):
                kind = "NaN" if np.isnan(x) else "inf"
                raise SpectrumFileError(
                    f"{what}: line {lineno}, column {header[j].strip()}: {name} contains {kind} "
                    f"({row[j].strip()!r}); rows with NaN or inf are never skipped, fix or remove the line"
                )
            values[name].append(x)
    if not values["lam"]:
        raise SpectrumFileError(f"{what}: no data rows after the header")
    return _spectrum(dict(values), what)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_npz(data: bytes, what: str) -> Spectrum:
    try:
        with np.load(_io.BytesIO(data), allow_pickle=False) as z:
            keys = list(z.files)
            if set(COVARIANCE_KEYS) & set(keys):
                extra = [k for k in keys if k not in (*COVARIANCE_KEYS, TARGET_COV_KEY)]
                if extra or not set(COVARIANCE_KEYS) <= set(keys):
                    raise SpectrumFileError(
                        f"{what}: a covariance .npz must hold exactly the arrays Sigma and Sigma_star "
                        f"(and optionally {TARGET_COV_KEY})"
                        + (f"; unused arrays {', '.join(map(repr, extra))} are refused rather than "
                           "dropped" if extra else f", got {sorted(keys)}")
                    )
                arrays = {k: z[k] for k in (*COVARIANCE_KEYS, TARGET_COV_KEY) if k in keys}
            else:
                if not keys:
                    raise SpectrumFileError(f"{what}: the .npz file holds no arrays")
                if not {k.lower() for k in keys} & set(COLUMNS):
                    raise SpectrumFileError(
                        f"{what}: an .npz must hold arrays named Sigma and Sigma_star (covariances) or "
                        f"atom arrays named {_accepted()}; got {sorted(keys)}"
                    )
                cols = _map_names(keys, what, "array")
                arrays = {key: z[keys[j]] for key, j in cols.items()}
    except SpectrumFileError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        pickled = "pickle" in str(exc).lower()
        msg = "holds pickled data, which is never loaded" if pickled else f"is unreadable ({exc})"
        raise SpectrumFileError(f"{what}: the .npz file {msg}") from None
    for nm, M in arrays.items():
        if M.dtype.kind not in "iuf":
            raise SpectrumFileError(f"{what}: {nm} must hold real numbers, got dtype {M.dtype}")
    if "Sigma" in arrays:
        B = arrays.get(TARGET_COV_KEY)
        return _spectrum_from_pair(arrays["Sigma"].astype(float), arrays["Sigma_star"].astype(float),
                                   what, None if B is None else B.astype(float))
    for nm, M in arrays.items():
        if M.ndim != 1:
            raise SpectrumFileError(f"{what}: array {nm} must be one-dimensional, got shape {M.shape}")
        if M.size > MAX_ATOMS:
            raise SpectrumFileError(f"{what}: more than {MAX_ATOMS} atoms")
    return _spectrum({k: M.astype(float) for k, M in arrays.items()}, what)


def load_spectrum(source: str | os.PathLike | bytes, *, name: str = "") -> Spectrum:
    """Load a :class:`Spectrum` from a path or raw bytes (CSV, ``.npz`` or ``(2, n0, n0)`` ``.npy``).

    ``name`` (a file name) helps pick the format for raw bytes. CSV columns and ``.npz`` atom arrays
    are read through :data:`COLUMNS` (``lam``, ``lam_star``, ``weights``/``weight``); a ``.npz`` may
    instead hold exactly ``Sigma`` and ``Sigma_star``. Nothing is dropped silently: an unknown column
    or array, a duplicated one, a header-less CSV, a NaN/inf cell or a ragged line raises
    :class:`SpectrumFileError` (a ``ValueError``) with a message naming the problem.

    Examples
    --------
    >>> from rfshift.io import load_spectrum
    >>> spec = load_spectrum(b"lam,lam_star,weights\\n1.5,0.5,1\\n1,1,2\\n0.5,1.5,1\\n")
    >>> spec.weights.tolist()
    [0.25, 0.5, 0.25]
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
    return _load_npz(data, what)


def load_covariance_pair(
    sigma: str | os.PathLike | bytes, sigma_star: str | os.PathLike | bytes
) -> Spectrum:
    """Load Σ and Σ* from two ``.npy`` files (paths or bytes) and build the Spectrum."""
    S = _load_npy(_read(sigma, "Sigma")[0], "Sigma")
    S_star = _load_npy(_read(sigma_star, "Sigma_star")[0], "Sigma_star")
    return _spectrum_from_pair(S, S_star, "covariance pair")


def spectrum_to_csv(spec: Spectrum) -> str:
    """CSV text (``lam,lam_star,weights[,target_power]``, the API's names) that :func:`load_spectrum`
    reads back; the ``target_power`` column is written when the spectrum has one."""
    out = _io.StringIO()
    if spec.target_power is None:
        out.write("lam,lam_star,weights\n")
        for a, b, w in zip(spec.lam, spec.lam_star, spec.weights, strict=True):
            out.write(f"{float(a)!r},{float(b)!r},{float(w)!r}\n")
    else:
        out.write("lam,lam_star,weights,target_power\n")
        for a, b, w, t in zip(spec.lam, spec.lam_star, spec.weights, spec.target_power, strict=True):
            out.write(f"{float(a)!r},{float(b)!r},{float(w)!r},{float(t)!r}\n")
    return out.getvalue()
