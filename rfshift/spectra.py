"""The joint spectral measure of (Σ, Σ*) — THEORY.md §2.

Eigendecompose Σ = Σ_k λ_k v_k v_kᵀ and set λ*_k = v_kᵀ Σ* v_k. The averaged error depends on
(Σ, Σ*) only through the atoms (λ_k, λ*_k) with weights p_k (Σ p_k = 1). This is exact for any PSD
Σ*, commuting with Σ or not. This module is the only place that validates spectral input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ._validation import as_real_array

__all__ = ["DataSpectrum", "Spectrum"]

_T = TypeVar("_T")

#: Relative tolerance for symmetry and PSD checks of covariance matrices.
COVARIANCE_RTOL = 1e-8
#: Relative tolerance ‖ΣB − BΣ‖_F <= COMMUTE_RTOL ‖Σ‖_F ‖B‖_F for a target covariance B.
COMMUTE_RTOL = 1e-8


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
    """Atoms of the joint spectral measure μ of (Σ, Σ*), optionally with a target power per atom.

    Parameters
    ----------
    lam:
        Training eigenvalues λ_k >= 0 (eigenvalues of Σ).
    lam_star:
        Test variances λ*_k = v_kᵀ Σ* v_k >= 0 along the same eigenvectors.
    weights:
        Non-negative atom weights p_k; normalised to sum to 1. Default: uniform.
    target_power:
        Target power b_k = E[(v_kᵀβ)²] >= 0 per atom for a linear target βᵀx/√n0 with
        β ~ N(0, B), B commuting with Σ (docs/theory.md, "Structured and nonlinear targets").
        ``None`` (default) is the isotropic target β ~ N(0, I), i.e. b ≡ 1. Not normalised: the
        training signal energy is ``signal = Σ p b λ`` (= s when b ≡ 1).

    n0:
        Optional input dimension the atoms come from (keyword only). Set by
        :meth:`from_covariances` and :meth:`from_samples`; ``None`` (default) reads the atoms as a
        measure of the proportional limit (n0 → ∞). Only the concentration diagnostic
        (:func:`rfshift.concentration`) uses it; the limit itself does not depend on it.

    ``s = Σ p λ = tr Σ / n0`` and ``s_star = Σ p λ* = tr Σ* / n0`` must both be positive.

    Raises ``ValueError`` naming the argument for NaN/inf/negative entries, wrong lengths, zero
    traces, or a target power that is zero on every atom.
    """

    lam: np.ndarray
    lam_star: np.ndarray
    weights: np.ndarray
    target_power: np.ndarray | None
    n0: int | None = None

    def __init__(
        self,
        lam: object,
        lam_star: object,
        weights: object | None = None,
        target_power: object | None = None,
        *,
        n0: int | None = None,
    ) -> None:
        if n0 is not None:
            if isinstance(n0, (bool, np.bool_)) or not isinstance(n0, (int, np.integer)) or n0 < 1:
                raise ValueError(f"n0 must be a positive integer (the input dimension) or None, got {n0!r}")
            n0 = int(n0)
        object.__setattr__(self, "n0", n0)
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
        b = None
        if target_power is not None:
            b = _atoms(target_power, "target_power")
            if b.shape != lam_a.shape:
                raise ValueError(
                    f"target_power must have the same length as lam, got {b.size} and {lam_a.size}"
                )
            if not float(w @ b) > 0:
                raise ValueError(
                    "target_power is zero on every atom of positive weight (the target would be "
                    "identically zero); give at least one positive entry"
                )
        for name, arr in (("lam", lam_a), ("lam_star", lam_s), ("weights", w), ("target_power", b)):
            if arr is not None:
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
    def b(self) -> np.ndarray:
        """Target power per atom (ones for the isotropic target ``target_power=None``)."""
        if self.target_power is not None:
            return self.target_power

        def ones() -> np.ndarray:
            b = np.ones_like(self.lam)
            b.flags.writeable = False
            return b

        return self._derived("b", ones)

    @property
    def has_target(self) -> bool:
        """True if a non-isotropic target power is set (b not identically 1)."""
        return self.target_power is not None and not bool(np.all(self.target_power == 1.0))

    @property
    def signal(self) -> float:
        """Training signal energy ⟨b λ⟩ = E(βᵀx)²/n0 under the training law (= s when b ≡ 1)."""
        return self._derived("signal", lambda: float(self.weights @ (self.b * self.lam)))

    @property
    def signal_star(self) -> float:
        """Test signal energy ⟨b λ*⟩ = E(βᵀx)²/n0 under the test law (= s* when b ≡ 1)."""
        return self._derived("signal_star", lambda: float(self.weights @ (self.b * self.lam_star)))

    @property
    def n_atoms(self) -> int:
        return int(self.lam.size)

    def __len__(self) -> int:
        return self.n_atoms

    def __repr__(self) -> str:
        tgt = "" if self.target_power is None else f", signal={self.signal:.6g}"
        return f"Spectrum(n_atoms={self.n_atoms}, s={self.s:.6g}, s_star={self.s_star:.6g}{tgt})"

    def in_distribution(self) -> Spectrum:
        """The same training spectrum (and target) tested on its own law (λ* = λ)."""
        return Spectrum(self.lam, self.lam, self.weights, self.target_power, n0=self.n0)

    def swapped(self) -> Spectrum:
        """Exchange the roles of Σ and Σ* (atoms and target power are kept)."""
        return Spectrum(self.lam_star, self.lam, self.weights, self.target_power, n0=self.n0)

    def with_target(self, target_power: object | None) -> Spectrum:
        """The same (Σ, Σ*) atoms with another target power (``None``: isotropic)."""
        return Spectrum(self.lam, self.lam_star, self.weights, target_power, n0=self.n0)

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
    def from_covariances(
        cls, Sigma: object, Sigma_star: object, target_cov: object | None = None
    ) -> Spectrum:
        """From two symmetric PSD ``n0 × n0`` matrices (they need not commute), optionally with the
        target covariance B = E ββᵀ (β ~ N(0, B)), which must commute with Σ.

        λ_k are the eigenvalues of Σ and λ*_k = v_kᵀ Σ* v_k in Σ's eigenbasis (exact for the
        averaged error, THEORY.md §2). With ``target_cov`` the basis is the joint eigenbasis of
        (Σ, B) (inside each eigenspace of Σ it diagonalises B), b_k = v_kᵀ B v_k, and Σ* is
        projected onto that basis (docs/theory.md, "Structured and nonlinear targets").
        Symmetry and PSD are checked to a relative tolerance of 1e-8 of the largest absolute entry;
        tiny negative eigenvalues within it are clipped to 0. Commutation is required to
        ‖ΣB − BΣ‖_F <= 1e-8 ‖Σ‖_F ‖B‖_F (``COMMUTE_RTOL``); eigenvalues of Σ closer than
        1e-10·max λ are treated as one eigenspace.
        """
        S = _covariance(Sigma, "Sigma", check_psd=False)  # PSD: from the eigenvalues below
        S_star = _covariance(Sigma_star, "Sigma_star")
        if S.shape != S_star.shape:
            raise ValueError(
                f"Sigma and Sigma_star must have the same shape, got {S.shape} and {S_star.shape}"
            )
        lam, vecs = np.linalg.eigh(S)
        _check_psd_eigenvalues(float(lam[0]), S, "Sigma", _abs_max(S))
        b = None
        if target_cov is not None:
            Bm = _covariance(target_cov, "target_cov")
            if Bm.shape != S.shape:
                raise ValueError(
                    f"target_cov must have the same shape as Sigma, got {Bm.shape} and {S.shape}"
                )
            comm = float(np.linalg.norm(S @ Bm - Bm @ S))
            bound = COMMUTE_RTOL * float(np.linalg.norm(S)) * float(np.linalg.norm(Bm))
            if comm > bound:
                raise ValueError(
                    "target_cov does not commute with Sigma (‖ΣB − BΣ‖_F = "
                    f"{comm:.3g} > {COMMUTE_RTOL:g}·‖Σ‖_F‖B‖_F = {bound:.3g}); the theory needs a "
                    "target covariance diagonal in an eigenbasis of Sigma"
                )
            vecs = _joint_basis(lam, vecs, Bm)
            b = np.maximum(np.einsum("ik,ik->k", vecs, Bm @ vecs), 0.0)
            lam = np.einsum("ik,ik->k", vecs, S @ vecs)
        # λ*_k = v_kᵀ Σ* v_k = diag(Vᵀ Σ* V), as one BLAS product and a column-wise dot.
        lam_star = np.einsum("ik,ik->k", vecs, S_star @ vecs)
        # Both matrices passed the PSD check, so negative values here are round-off.
        return cls(np.maximum(lam, 0.0), np.maximum(lam_star, 0.0), None, b, n0=S.shape[0])

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

    @classmethod
    def from_data(cls, X_train: object, y_train: object, X_test: object) -> DataSpectrum:
        """Spectrum with an estimated target power from labelled training data (and unlabelled test
        inputs), and the estimated variance of the part of the labels no linear function explains.

        Rows are samples. Estimator (docs/theory.md §19.6): centre X_train, y_train and X_test (the
        theory is for zero-mean inputs and labels); eigendecompose the training covariance
        Σ̂ = Σ λ_k v_k v_kᵀ (divisor m − 1); λ*_k = v_kᵀ Σ̂* v_k; fit OLS in that basis,
        θ̂_k = ⟨z_k, y⟩/((m − 1)λ_k) with z_k = X v_k; residual variance
        τ̂² = RSS/(m − n0 − 1); and correct each squared coefficient for its own estimation noise,

            b̂_k = n0 (θ̂_k² − τ̂²/((m − 1) λ_k)),  then clipped at 0,

        (E θ̂_k² = θ_k² + τ²/((m − 1)λ_k) given X, so the unclipped b̂ is unbiased for b_k; clipping
        biases it upward by at most the clipped amount, reported as ``signal_raw`` − ``signal``).
        Directions with λ_k <= 1e-12 max λ get b̂ = 0.

        Parameters
        ----------
        X_train:
            Training inputs, shape (m, n0), rows are samples; needs m > n0 + 1.
        y_train:
            Training labels, shape (m,), one per row of ``X_train``.
        X_test:
            Unlabelled test inputs, shape (m*, n0) (m* >= 2; any number of rows, same columns).

        Returns
        -------
        DataSpectrum
            ``spectrum`` (a :class:`Spectrum` with n0 atoms (λ_k, λ*_k), uniform weights, the
            estimated ``target_power`` b̂ of shape (n0,), and ``n0`` set), ``noise_var`` τ̂²
            (float), ``signal``/``signal_raw`` (floats) and ``n_samples`` = m. Unpacks as
            ``spec, noise_var = Spectrum.from_data(X_train, y_train, X_test)``.

        Raises
        ------
        ValueError
            ``X_train``/``X_test`` not 2-D, with fewer than 2 rows, no columns, NaN/inf, or
            different numbers of columns; ``y_train`` not of shape (m,) or not finite;
            m <= n0 + 1 (reduce the dimension, e.g. PCA, or add samples); and
            "no linear signal detected (every estimated target power is <= 0)" when every b̂_k
            clips to 0 (the labels look like pure noise to OLS: the spectrum would have no target
            to predict).
        """
        Xa = _samples(X_train, "X_train")
        Xb = _samples(X_test, "X_test")
        if Xa.shape[1] != Xb.shape[1]:
            raise ValueError(
                "X_train and X_test must have the same number of columns (input dimension), "
                f"got {Xa.shape[1]} and {Xb.shape[1]}"
            )
        y = as_real_array(y_train, "y_train")
        if y.ndim != 1 or y.size != Xa.shape[0]:
            raise ValueError(
                f"y_train must be one-dimensional with one label per row of X_train ({Xa.shape[0]}), "
                f"got shape {y.shape}"
            )
        if not np.all(np.isfinite(y)):
            raise ValueError("y_train contains NaN or inf")
        return _target_from_data(Xa, y, Xb)


@dataclass(frozen=True)
class DataSpectrum:
    """Result of :meth:`Spectrum.from_data`: the spectrum with an estimated target power, and the
    estimated variance of what no linear function of x explains under the training law.

    Unpacks as ``spec, noise_var = Spectrum.from_data(...)``.

    Attributes
    ----------
    spectrum:
        Atoms (λ, λ*) from the empirical covariances, ``target_power`` = the clipped estimate b̂.
    noise_var:
        τ̂² = RSS/(m − n0 − 1): label noise plus the target's nonlinear part (σ² + σ_g²) under the
        training law; pass it as ``noise_var`` (or ``nonlinear_var``). The test law's nonlinear
        variance cannot be estimated without test labels.
    signal, signal_raw:
        ⟨b̂λ⟩ after clipping, and the unbiased (unclipped) estimate of E(βᵀx)²/n0.
    n_samples:
        m, the number of training rows used.
    """

    spectrum: Spectrum
    noise_var: float
    signal: float
    signal_raw: float
    n_samples: int

    def __iter__(self):
        return iter((self.spectrum, self.noise_var))


def _joint_basis(lam: np.ndarray, vecs: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Rotate Σ's eigenvectors inside each (numerically) degenerate eigenspace to diagonalise B."""
    tol = 1e-10 * max(float(np.abs(lam).max()), np.finfo(float).tiny)
    out = vecs.copy()
    start = 0
    n = lam.size
    while start < n:
        stop = start + 1
        while stop < n and lam[stop] - lam[stop - 1] <= tol:
            stop += 1
        if stop - start > 1:
            V = vecs[:, start:stop]
            _, R = np.linalg.eigh(V.T @ B @ V)
            out[:, start:stop] = V @ R
        start = stop
    return out


def _target_from_data(X: np.ndarray, y: np.ndarray, Xt: np.ndarray) -> DataSpectrum:
    """Estimator of :meth:`Spectrum.from_data` (docs/theory.md §19.6)."""
    m, n0 = X.shape
    if m <= n0 + 1:
        raise ValueError(
            f"from_data needs more training samples than input dimensions + 1 (OLS in Σ̂'s eigenbasis "
            f"with an unbiased residual variance), got m = {m} rows and n0 = {n0} columns; reduce the "
            "dimension (e.g. PCA) or add samples"
        )
    Xc = X - X.mean(axis=0)
    yc = y - y.mean()
    C = Xc.T @ Xc / (m - 1)
    lam, V = np.linalg.eigh(0.5 * (C + C.T))
    Xtc = Xt - Xt.mean(axis=0)
    C_star = Xtc.T @ Xtc / (Xt.shape[0] - 1)
    lam_star = np.maximum(np.einsum("ik,ij,jk->k", V, C_star, V), 0.0)
    lam = np.maximum(lam, 0.0)
    Z = Xc @ V  # coordinates in Σ̂'s eigenbasis; ZᵀZ = (m − 1) diag(λ)
    usable = lam > 1e-12 * max(float(lam.max()), np.finfo(float).tiny)
    theta = np.zeros(n0)
    theta[usable] = (Z[:, usable].T @ yc) / ((m - 1) * lam[usable])  # OLS coefficient of z_k
    resid = yc - Z @ theta
    dof = m - 1 - int(usable.sum())
    tau2 = float(resid @ resid) / dof
    # b_k = n0 E(v_kᵀθ)² with θ = β/√n0; E θ̂_k² = θ_k² + τ²/((m − 1)λ_k)
    b_raw = np.zeros(n0)
    b_raw[usable] = n0 * (theta[usable] ** 2 - tau2 / ((m - 1) * lam[usable]))
    b = np.maximum(b_raw, 0.0)
    if not (b @ lam) > 0:
        raise ValueError("from_data: no linear signal detected (every estimated target power is <= 0)")
    spec = Spectrum(lam, lam_star, None, b, n0=n0)
    return DataSpectrum(spectrum=spec, noise_var=tau2, signal=spec.signal,
                        signal_raw=float(b_raw @ lam) / n0, n_samples=m)


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
    # (O(n0²) passes without temporaries where possible: max/min propagate NaN and inf)
    scale = _abs_max(M)
    if not math.isfinite(scale):
        raise ValueError(f"{name} contains NaN or inf")
    scale = max(scale, np.finfo(float).tiny)
    D = M - M.T
    asym = _abs_max(D)
    if asym > COVARIANCE_RTOL * scale:
        raise ValueError(
            f"{name} is not symmetric (max |M - Mᵀ| = {asym:.3g}, relative {asym / scale:.3g})"
        )
    D *= -0.5
    D += M
    M = D  # = (M + Mᵀ)/2, exactly symmetric
    if check_psd:
        shifted = M.copy()
        shifted.flat[:: M.shape[0] + 1] += _psd_tolerance(M, scale)
        try:
            np.linalg.cholesky(shifted)
        except np.linalg.LinAlgError:
            _check_psd_eigenvalues(float(np.linalg.eigvalsh(M)[0]), M, name, scale)
    return M


def _abs_max(M: np.ndarray) -> float:
    """max |M_ij| (NaN if M holds a NaN) without an |M| temporary."""
    return max(float(M.max()), -float(M.min()))


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
