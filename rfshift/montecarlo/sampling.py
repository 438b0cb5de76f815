"""Finite-n0 realisation of (Σ, Σ*), training designs and the random draws of one trial.

Spectrum → covariances: atom k with weight p_k gets c_k eigen-directions, c_k = round(p_k·n0) fixed by
the largest-remainder rule so that Σ c_k = n0 exactly: every atom first gets ⌊p_k n0⌋, then the
remaining directions go one each to the atoms with the largest fractional parts p_k n0 − ⌊p_k n0⌋
(ties: lower index first). Σ = diag(λ_k repeated c_k times), Σ* = diag(λ*_k repeated). The realised
weights c_k/n0 define the spectrum that the theory is compared with (``Geometry.spectrum``).

Explicit covariances (Σ, Σ*) are used as they are, dense, with factors L Lᵀ = Σ, T Tᵀ = Σ* from
their eigendecompositions (they need not commute).

Target (issue 9): β ~ N(0, B). For a Spectrum, atom k's target power b_k (``spec.target_power`` or the
``target_power`` argument) is repeated over its directions and β = √b ⊙ g (g ~ N(0, I)); for explicit
covariances B is a third matrix (or a vector: B = diag) that must commute with Σ (as the theory
requires; ``Spectrum.from_covariances`` refuses it otherwise), β = B^{1/2} g. With b ≡ 1 (or no target)
β = g exactly, so the draws and results of the isotropic target are unchanged.

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
    "disagreement_design",
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
    ``target_factor``: B^{1/2} of β ~ N(0, B) (a vector √b when ``diagonal`` and B is diagonal, else
    n0 × n0), None for B = I. ``target_power``: the realised b per atom of ``spectrum`` (None: b ≡ 1).
    """

    n0: int
    train_factor: np.ndarray
    test_factor: np.ndarray
    diagonal: bool
    spectrum: Spectrum
    target_factor: np.ndarray | None = None
    target_power: np.ndarray | None = None


def _psd_factor(M: np.ndarray) -> np.ndarray:
    lam, V = np.linalg.eigh(0.5 * (M + M.T))
    return V * np.sqrt(np.maximum(lam, 0.0))[None, :]


def _target_atoms(spec: Spectrum, target_power: object | None) -> np.ndarray | None:
    """Per-atom target power from the argument or ``spec.target_power`` (not both); None if b ≡ 1."""
    own = getattr(spec, "target_power", None)
    if target_power is not None and own is not None:
        raise ValueError("target_power given twice: as an argument and as spec.target_power; pass one")
    b = own if target_power is None else target_power
    if b is None:
        return None
    b = np.asarray(b, dtype=float)
    if b.shape != spec.lam.shape:
        raise ValueError(f"target_power must have one entry per atom ({spec.lam.size}), got shape {b.shape}")
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise ValueError(f"target_power must be finite and >= 0, got {b.tolist()}")
    if not float(spec.weights @ b) > 0:
        raise ValueError("target_power is zero on every atom of positive weight (zero target)")
    return None if np.all(b == 1.0) else b


def realise(spec: Spectrum | tuple, n0: int | None, target_power: object | None = None) -> Geometry:
    """Covariance factors for a :class:`Spectrum` (at ``n0``) or a tuple ``(Sigma, Sigma_star)`` /
    ``(Sigma, Sigma_star, B)``; ``target_power``: per atom (Spectrum) or B (tuple: n0 × n0 or a
    vector for diag(b)), an alternative to ``spec.target_power`` / the third matrix."""
    if isinstance(spec, Spectrum):
        n0 = 512 if n0 is None else n0
        b = _target_atoms(spec, target_power)
        counts = atom_counts(spec.weights, n0)
        lam = np.repeat(spec.lam, counts)
        lam_star = np.repeat(spec.lam_star, counts)
        keep = counts > 0
        b_keep = None if b is None else b[keep]
        realised = Spectrum(spec.lam[keep], spec.lam_star[keep], counts[keep] / n0, target_power=b_keep)
        tf = None if b is None else np.sqrt(np.repeat(b, counts))
        return Geometry(n0, np.sqrt(lam), np.sqrt(lam_star), True, realised, tf, b_keep)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        if len(spec) == 3 and target_power is not None:
            raise ValueError("target covariance given twice: as spec[2] and as target_power; pass one")
        B = spec[2] if len(spec) == 3 else target_power
        S = np.asarray(spec[0], dtype=float)
        S_star = np.asarray(spec[1], dtype=float)
        size = S.shape[0]
        if n0 is not None and n0 != size:
            raise ValueError(f"n0={n0} does not match the {size}×{size} covariances; omit n0 or pass {size}")
        tf = None
        if B is not None:
            B = np.asarray(B, dtype=float)
            if B.ndim == 1:
                B = np.diag(B)
            if B.shape != (size, size) or not np.all(np.isfinite(B)):
                raise ValueError(f"the target covariance must be a finite {size}×{size} matrix (or {size} "
                                 f"values for its diagonal), got shape {B.shape}")
            lam_b = np.linalg.eigvalsh(0.5 * (B + B.T))
            if lam_b.min() < -1e-8 * max(abs(lam_b).max(), 1e-300) or lam_b.max() <= 0:
                raise ValueError("the target covariance must be positive semi-definite and non-zero")
            tf = _psd_factor(B)
        # validates symmetry and PSD, and that B commutes with Σ (ValueError otherwise: no theory)
        realised = Spectrum.from_covariances(S, S_star, target_cov=B)
        b_atoms = getattr(realised, "target_power", None) if B is not None else None
        return Geometry(size, _psd_factor(S), _psd_factor(S_star), False, realised, tf, b_atoms)
    raise TypeError(
        "spec must be an rfshift.Spectrum or a tuple (Sigma, Sigma_star[, B]) of n0×n0 covariance "
        f"matrices, got {type(spec).__name__}"
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


def disagreement_design() -> Design:
    """2×2 design over W and the data (X, ε): (W0, D0), (W1, D0), (W0, D1), (W1, D1). Every pair shares
    the data only, W only, or nothing — the three disagreements of issue 11 and the ensemble terms."""
    return Design(((0, 0, 0), (1, 0, 0), (0, 1, 1), (1, 1, 1)))


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
