"""Finite-n0 realisation of (Σ, Σ*), training designs and the random draws of one trial.

Spectrum → covariances: atom k with weight p_k gets c_k eigen-directions, c_k = round(p_k·n0) fixed by
the largest-remainder rule so that Σ c_k = n0 exactly: every atom first gets ⌊p_k n0⌋, then the
remaining directions go one each to the atoms with the largest fractional parts p_k n0 − ⌊p_k n0⌋
(ties: lower index first). Σ = diag(λ_k repeated c_k times), Σ* = diag(λ*_k repeated). The realised
weights c_k/n0 define the spectrum that the theory is compared with (``Geometry.spectrum``).

Explicit covariances (Σ, Σ*) are used as they are, dense, with factors L Lᵀ = Σ, T Tᵀ = Σ* from
their eigendecompositions (they need not commute).

A *trial* shares β between several trainings; each training p uses draw indices
``design.idx[p] = (iW, iX, iε)`` of the independent sources W, X, ε.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..spectra import Spectrum

__all__ = [
    "Design",
    "Geometry",
    "atom_counts",
    "draw_trial",
    "factorial_design",
    "normal_test_points",
    "realise",
    "replicate_design",
]


def atom_counts(weights: np.ndarray, n0: int) -> np.ndarray:
    """Directions per atom: round(p_k·n0) by the largest-remainder rule, summing to n0 exactly."""
    w = np.asarray(weights, dtype=float)
    raw = w * n0
    counts = np.floor(raw).astype(np.int64)
    short = int(n0 - counts.sum())
    if short > 0:
        order = np.lexsort((np.arange(w.size), -(raw - counts)))  # largest remainder, then index
        counts[order[:short]] += 1
    return counts


@dataclass(frozen=True, eq=False)
class Geometry:
    """Covariance factors at finite n0: Σ = L Lᵀ (train and ID test), Σ* = T Tᵀ (OOD test).

    ``diagonal``: L and T are stored as vectors (diagonal matrices); otherwise dense n0 × n0.
    ``spectrum`` is the joint spectrum actually simulated (what the theory must be evaluated at).
    """

    n0: int
    train_factor: np.ndarray
    test_factor: np.ndarray
    diagonal: bool
    spectrum: Spectrum


def _psd_factor(M: np.ndarray) -> np.ndarray:
    lam, V = np.linalg.eigh(0.5 * (M + M.T))
    return V * np.sqrt(np.maximum(lam, 0.0))[None, :]


def realise(spec: Spectrum | tuple[object, object], n0: int | None) -> Geometry:
    """Covariance factors for a :class:`Spectrum` (at ``n0``) or a pair ``(Sigma, Sigma_star)``."""
    if isinstance(spec, Spectrum):
        n0 = 512 if n0 is None else n0
        counts = atom_counts(spec.weights, n0)
        lam = np.repeat(spec.lam, counts)
        lam_star = np.repeat(spec.lam_star, counts)
        keep = counts > 0
        realised = Spectrum(spec.lam[keep], spec.lam_star[keep], counts[keep] / n0)
        return Geometry(n0, np.sqrt(lam), np.sqrt(lam_star), True, realised)
    if isinstance(spec, tuple) and len(spec) == 2:
        realised = Spectrum.from_covariances(spec[0], spec[1])  # validates symmetry and PSD
        S = np.asarray(spec[0], dtype=float)
        S_star = np.asarray(spec[1], dtype=float)
        size = S.shape[0]
        if n0 is not None and n0 != size:
            raise ValueError(f"n0={n0} does not match the {size}×{size} covariances; omit n0 or pass {size}")
        return Geometry(size, _psd_factor(S), _psd_factor(S_star), False, realised)
    raise TypeError(
        "spec must be an rfshift.Spectrum or a tuple (Sigma, Sigma_star) of n0×n0 covariance matrices, "
        f"got {type(spec).__name__}"
    )


@dataclass(frozen=True)
class Design:
    """Trainings of one trial: ``idx[p] = (iW, iX, iε)`` indexes the independent draws of W, X, ε."""

    idx: tuple[tuple[int, int, int], ...]

    @property
    def n_pred(self) -> int:
        return len(self.idx)

    @property
    def counts(self) -> tuple[int, int, int]:
        """Number of independent draws of (W, X, ε)."""
        a = np.asarray(self.idx)
        return tuple(int(c) for c in a.max(axis=0) + 1)

    @property
    def is_factorial(self) -> bool:
        return set(self.idx) == set(itertools.product((0, 1), repeat=3)) and self.n_pred == 8


def replicate_design(reps: int) -> Design:
    """``reps`` fully independent trainings sharing β (unbiased cross-pair estimates of Q_∅)."""
    return Design(tuple((r, r, r) for r in range(reps)))


def factorial_design() -> Design:
    """2×2×2 nested design over (W, X, ε): every subset S of shared sources occurs (THEORY.md §7)."""
    return Design(tuple(itertools.product((0, 1), repeat=3)))


def draw_trial(key: jax.Array, n0: int, n1: int, m: int, counts: tuple[int, int, int]) -> dict:
    """Standard-normal draws of one trial: β (n0), W (nW, n1, n0), Z (nX, n0, m), E (nε, m).

    Training inputs are X = L Z, noise ε = σ·E; ``test_key`` seeds the test points of the sampling path.
    """
    kb, kw, kz, ke, kt = jax.random.split(key, 5)
    n_w, n_x, n_e = counts
    return {
        "beta": jax.random.normal(kb, (n0,), jnp.float64),
        "W": jax.random.normal(kw, (n_w, n1, n0), jnp.float64),
        "Z": jax.random.normal(kz, (n_x, n0, m), jnp.float64),
        "E": jax.random.normal(ke, (n_e, m), jnp.float64),
        "test_key": kt,
    }


def normal_test_points(test_key: jax.Array, chunk: int, n0: int, i: int | jax.Array) -> jax.Array:
    """Chunk ``i`` of standard-normal test points z (chunk × n0); x = T z."""
    return jax.random.normal(jax.random.fold_in(test_key, i), (chunk, n0), jnp.float64)
