"""The joint spectral measure of (Σ, Σ*) — THEORY.md §2.

Eigendecompose Σ = Σ_k λ_k v_k v_kᵀ and set λ*_k = v_kᵀ Σ* v_k. The averaged error depends on
(Σ, Σ*) only through the atoms (λ_k, λ*_k) with weights p_k (Σ p_k = 1). This is exact for any PSD
Σ*, commuting with Σ or not. This module is the only place that validates spectral input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ._validation import as_real_array

__all__ = ["Spectrum"]

_T = TypeVar("_T")

#: Relative tolerance for symmetry and PSD checks of covariance matrices.
COVARIANCE_RTOL = 1e-8


def _atoms(value: object, name: str) -> np.ndarray:
    arr = as_real_array(value, name)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; a spectrum needs at least one atom")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN (at index {int(np.flatnonzero(np.isnan(arr))[0])})")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains inf (at index {int(np.flatnonzero(np.isinf(arr))[0])})")
    if (arr < 0).any():
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} must be >= 0 (eigenvalues of a PSD matrix); {name}[{i}] = {arr[i]!r}")
    return arr


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Atoms of the joint spectral measure μ of (Σ, Σ*).

    Parameters
    ----------
    lam:
        Training eigenvalues λ_k >= 0 (eigenvalues of Σ).
    lam_star:
        Test variances λ*_k = v_kᵀ Σ* v_k >= 0 along the same eigenvectors.
    weights:
        Non-negative atom weights p_k; normalised to sum to 1. Default: uniform.

    ``s = Σ p λ = tr Σ / n0`` and ``s_star = Σ p λ* = tr Σ* / n0`` must both be positive.
    """

    lam: np.ndarray
    lam_star: np.ndarray
    weights: np.ndarray

    def __init__(self, lam: object, lam_star: object, weights: object | None = None) -> None:
        lam_a = _atoms(lam, "lam")
        lam_s = _atoms(lam_star, "lam_star")
        if lam_s.shape != lam_a.shape:
            raise ValueError(
                f"lam and lam_star must have the same length, got {lam_a.size} and {lam_s.size}"
            )
        if weights is None:
            w = np.full(lam_a.shape, 1.0 / lam_a.size)
        else:
            w = _atoms(weights, "weights")
            if w.shape != lam_a.shape:
                raise ValueError(
                    f"weights must have the same length as lam, got {w.size} and {lam_a.size}"
                )
            total = w.sum()
            if not total > 0:
                raise ValueError("weights sum to zero; give at least one positive weight")
            w = w / total
        s = float(w @ lam_a)
        s_star = float(w @ lam_s)
        if not s > 0:
            raise ValueError("the training covariance is zero (tr Σ = 0); lam needs a positive atom")
        if not s_star > 0:
            raise ValueError(
                "the test covariance is zero (tr Σ* = 0); lam_star needs a positive atom"
            )
        for name, arr in (("lam", lam_a), ("lam_star", lam_s), ("weights", w)):
            arr = np.array(arr, dtype=np.float64)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "_s", s)
        object.__setattr__(self, "_s_star", s_star)

    # --- derived quantities ------------------------------------------------------------------
    @property
    def s(self) -> float:
        """Training pre-activation variance s = ∫ λ dμ = tr Σ / n0."""
        return self._s  # type: ignore[attr-defined, no-any-return]

    @property
    def s_star(self) -> float:
        """Test pre-activation variance s* = ∫ λ* dμ = tr Σ* / n0."""
        return self._s_star  # type: ignore[attr-defined, no-any-return]

    def _derived(self, key: object, make: Callable[[], _T]) -> _T:
        """Private per-spectrum cache of derived data (the atoms are immutable, so it never goes
        stale): ``make()`` runs on the first request for ``key``. Used by the engine for its weight
        columns, moment table and solver brackets; not pickled."""
        cache = self.__dict__.setdefault("_cache", {})
        try:
            return cache[key]  # type: ignore[no-any-return]
        except KeyError:
            value = cache[key] = make()
            return value

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_cache", None)
        return state

    @property
    def n_atoms(self) -> int:
        return int(self.lam.size)

    def __len__(self) -> int:
        return self.n_atoms

    def __repr__(self) -> str:
        return f"Spectrum(n_atoms={self.n_atoms}, s={self.s:.6g}, s_star={self.s_star:.6g})"

    def in_distribution(self) -> Spectrum:
        """The same training spectrum tested on its own law (λ* = λ)."""
        return Spectrum(self.lam, self.lam, self.weights)

    def swapped(self) -> Spectrum:
        """Exchange the roles of Σ and Σ* (atoms are kept; useful for symmetric checks)."""
        return Spectrum(self.lam_star, self.lam, self.weights)

    def test_mass_cdf(self, grid: object | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative test mass ν([0, t]) with ν(dλ) = λ* μ(dλ), at ``grid`` (default: sorted λ)."""
        t = np.unique(self.lam) if grid is None else np.asarray(grid, dtype=float)
        order = np.argsort(self.lam, kind="stable")
        lam_sorted = self.lam[order]
        mass = np.cumsum((self.weights * self.lam_star)[order])
        idx = np.searchsorted(lam_sorted, t, side="right")
        out = np.where(idx > 0, mass[np.maximum(idx - 1, 0)], 0.0)
        return t, out

    # --- constructors --------------------------------------------------------------------------
    @classmethod
    def isotropic(cls, scale: float = 1.0, scale_star: float | None = None) -> Spectrum:
        """Σ = scale·I, Σ* = scale_star·I (default: no shift)."""
        scale_star = scale if scale_star is None else scale_star
        return cls([scale], [scale_star])

    @classmethod
    def from_covariances(cls, Sigma: object, Sigma_star: object) -> Spectrum:
        """From two symmetric PSD ``n0 × n0`` matrices (they need not commute).

        λ_k are the eigenvalues of Σ and λ*_k = v_kᵀ Σ* v_k in Σ's eigenbasis (exact for the
        averaged error, THEORY.md §2). Symmetry and PSD are checked to a relative tolerance of
        1e-8 of the largest absolute entry; tiny negative eigenvalues within it are clipped to 0.
        """
        S = _covariance(Sigma, "Sigma", check_psd=False)  # PSD: from the eigenvalues below
        S_star = _covariance(Sigma_star, "Sigma_star")
        if S.shape != S_star.shape:
            raise ValueError(
                f"Sigma and Sigma_star must have the same shape, got {S.shape} and {S_star.shape}"
            )
        lam, vecs = np.linalg.eigh(S)
        _check_psd_eigenvalues(float(lam[0]), S, "Sigma", float(np.abs(S).max()))
        # λ*_k = v_kᵀ Σ* v_k = diag(Vᵀ Σ* V), as one BLAS product and a column-wise dot.
        lam_star = np.einsum("ik,ik->k", vecs, S_star @ vecs)
        # Both matrices passed the PSD check, so negative values here are round-off.
        return cls(np.maximum(lam, 0.0), np.maximum(lam_star, 0.0))

    @classmethod
    def from_samples(cls, X_train: object, X_test: object) -> Spectrum:
        """From sample matrices (rows are samples, columns the n0 input coordinates).

        Uses the centred empirical covariances (``np.cov`` convention, divisor ``n - 1``).
        """
        Xa = _samples(X_train, "X_train")
        Xb = _samples(X_test, "X_test")
        if Xa.shape[1] != Xb.shape[1]:
            raise ValueError(
                "X_train and X_test must have the same number of columns (input dimension), "
                f"got {Xa.shape[1]} and {Xb.shape[1]}"
            )
        Ca = np.cov(Xa, rowvar=False).reshape(Xa.shape[1], Xa.shape[1])
        Cb = np.cov(Xb, rowvar=False).reshape(Xb.shape[1], Xb.shape[1])
        return cls.from_covariances(Ca, Cb)


def _covariance(value: object, name: str, *, check_psd: bool = True) -> np.ndarray:
    """A validated, exactly symmetrised covariance matrix (square, finite, symmetric, PSD).

    Symmetry is checked to ``COVARIANCE_RTOL`` of the largest absolute entry. The PSD check
    (``check_psd``) accepts a smallest eigenvalue ``>= -COVARIANCE_RTOL·scale·n0`` and costs one
    Cholesky factorisation of ``M + COVARIANCE_RTOL·scale·n0·I`` (an eigenvalue computation runs
    only when that fails, to report the smallest eigenvalue or to accept a borderline case).
    """
    M = as_real_array(value, name)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square 2-D matrix, got shape {M.shape}")
    if M.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} contains NaN or inf")
    scale = max(float(np.abs(M).max()), np.finfo(float).tiny)
    D = M - M.T
    asym = float(np.abs(D).max())
    if asym > COVARIANCE_RTOL * scale:
        raise ValueError(
            f"{name} is not symmetric (max |M - Mᵀ| = {asym:.3g}, relative {asym / scale:.3g})"
        )
    M = M - 0.5 * D  # = (M + Mᵀ)/2, exactly symmetric
    if check_psd:
        shifted = M.copy()
        shifted.flat[:: M.shape[0] + 1] += _psd_tolerance(M, scale)
        try:
            np.linalg.cholesky(shifted)
        except np.linalg.LinAlgError:
            _check_psd_eigenvalues(float(np.linalg.eigvalsh(M)[0]), M, name, scale)
    return M


def _psd_tolerance(M: np.ndarray, scale: float) -> float:
    """How negative the smallest eigenvalue of a PSD matrix ``M`` (largest |entry| ``scale``) may be
    from round-off: ``COVARIANCE_RTOL·scale·n0``."""
    return COVARIANCE_RTOL * scale * M.shape[0]


def _check_psd_eigenvalues(eig_min: float, M: np.ndarray, name: str, scale: float) -> None:
    if eig_min < -_psd_tolerance(M, scale):
        raise ValueError(
            f"{name} is not positive semi-definite (smallest eigenvalue {eig_min:.3g})"
        )


def _samples(value: object, name: str) -> np.ndarray:
    X = as_real_array(value, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows are samples), got shape {X.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples (rows), got {X.shape[0]}")
    if X.shape[1] < 1:
        raise ValueError(f"{name} has no columns")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or inf")
    return X
