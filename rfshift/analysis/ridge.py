"""Optimal ridge for ID or OOD error, and the regret of tuning γ on ID data (evaluated OOD).

For every point (φ, ψ, σ²) the minimiser of E(γ) over γ ∈ {0} ∪ [γ_lo, γ_hi] is found by a coarse
log-spaced scan (all points in one engine call) followed by a vectorised golden-section search in
log γ on the bracket around the best grid value, then compared with the exact ridgeless value γ = 0.
Regret = E_OOD(γ_ID) − E_OOD(γ_OOD) ≥ 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_parameter
from ..activations import Activation, get_activation
from ..engine import asymptotics
from ..spectra import Spectrum
from ._ratio import safe_ratio

__all__ = ["OptimalRidge", "optimal_ridge", "regret"]

_GOLD = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class OptimalRidge:
    """Result of :func:`optimal_ridge`; fields have the broadcast shape of (phi, psi, noise_var).

    ``gamma`` minimises the ``target`` error ("ood" or "id") and ``error`` is that minimum.
    ``gamma_id``/``gamma_ood`` are both minimisers;
    ``regret = error_ood_at_gamma_id − error_ood_at_gamma_ood`` is what tuning γ on ID data costs
    on the shifted test law (``relative_regret`` divides by the OOD optimum; it is 0 where the regret
    is exactly 0, also when the OOD optimum is 0, and ``inf`` where a positive regret meets a zero
    OOD optimum — never NaN).
    ``at_bound`` flags minimisers on the upper end of the search interval.
    """

    target: str
    gamma: np.ndarray
    error: np.ndarray
    gamma_id: np.ndarray
    gamma_ood: np.ndarray
    error_id_at_gamma_id: np.ndarray
    error_ood_at_gamma_ood: np.ndarray
    error_ood_at_gamma_id: np.ndarray
    regret: np.ndarray
    relative_regret: np.ndarray
    at_bound: np.ndarray


def _minimise(err_fn, n: int, lo: float, hi: float, grid: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised minimisation of err_fn(gamma (n,)) -> (n,) over {0} ∪ [lo, hi] in log γ."""
    y_grid = np.linspace(math.log(lo), math.log(hi), grid)
    vals = np.stack([err_fn(np.full(n, math.exp(y))) for y in y_grid], axis=1)  # (n, grid)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    j = np.argmin(vals, axis=1)
    a = y_grid[np.maximum(j - 1, 0)]
    b = y_grid[np.minimum(j + 1, grid - 1)]
    c = b - _GOLD * (b - a)
    d = a + _GOLD * (b - a)
    fc, fd = err_fn(np.exp(c)), err_fn(np.exp(d))
    while np.max(b - a) > tol:
        left = fc < fd  # minimum in [a, d]: drop (d, b]; else drop [a, c)
        a = np.where(left, a, c)
        b = np.where(left, d, b)
        x_new = np.where(left, b - _GOLD * (b - a), a + _GOLD * (b - a))
        f_new = err_fn(np.exp(x_new))
        c, d, fc, fd = (np.where(left, x_new, d), np.where(left, c, x_new),
                        np.where(left, f_new, fd), np.where(left, fc, f_new))
    y = np.where(fc < fd, c, d)
    best = np.minimum(fc, fd)
    g_best = np.exp(y)
    grid_best = vals[np.arange(n), j]
    use_grid = grid_best < best
    g_best = np.where(use_grid, np.exp(y_grid[j]), g_best)
    best = np.where(use_grid, grid_best, best)
    e0 = err_fn(np.zeros(n))
    zero_better = np.isfinite(e0) & (e0 <= best)
    return np.where(zero_better, 0.0, g_best), np.where(zero_better, e0, best)


def optimal_ridge(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    target: str = "ood",
    gamma_bounds: tuple[float, float] = (1e-8, 1e3),
    grid: int = 23,
    xtol: float = 1e-6,
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> OptimalRidge:
    """Ridge γ minimising the OOD (``target="ood"``) or ID (``"id"``) error, and the regret of ID tuning.

    Minimises E(γ) from :func:`rfshift.asymptotics` over γ ∈ {0} ∪ ``gamma_bounds`` in log γ
    (coarse scan of ``grid`` points, then golden section to ``xtol`` in log γ), vectorised over the
    broadcast (φ, ψ, σ²). Both minimisers are always computed, so the result also holds the regret
    E_OOD(γ_ID) − E_OOD(γ_OOD) of tuning on ID data and evaluating OOD. ``nonlinear_var``,
    ``nonlinear_var_test`` (broadcast like ``noise_var``) and ``teacher`` are passed to the engine
    (docs/theory.md §19); ``target`` here names the error minimised, not the regression target.

    Examples
    --------
    >>> import rfshift as rf
    >>> spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    >>> opt = rf.optimal_ridge(spec, phi=0.5, psi=0.25, noise_var=0.25, target="ood")
    >>> bool(opt.gamma > 0 and opt.regret >= 0)
    True
    """
    if not isinstance(spec, Spectrum):
        raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
    if target not in ("ood", "id"):
        raise ValueError(f"target must be 'ood' or 'id', got {target!r}")
    try:
        lo, hi = (float(x) for x in gamma_bounds)
    except (TypeError, ValueError):
        raise ValueError(f"gamma_bounds must be a pair (lo, hi), got {gamma_bounds!r}") from None
    if not (0 < lo < hi < math.inf):
        raise ValueError(f"gamma_bounds must satisfy 0 < lo < hi < inf, got {gamma_bounds!r}")
    if not (isinstance(grid, int) and grid >= 3):
        raise ValueError(f"grid must be an integer >= 3, got {grid!r}")
    if not (xtol > 0):
        raise ValueError(f"xtol must be > 0, got {xtol!r}")
    act = get_activation(activation)
    ph = check_parameter(phi, "phi", allow_zero=False, description="n0/m")
    ps = check_parameter(psi, "psi", allow_zero=True, description="n0/n1")
    nv = check_parameter(noise_var, "noise_var", allow_zero=True, description="label noise")
    nl = check_parameter(nonlinear_var, "nonlinear_var", allow_zero=True,
                         description="variance of the target's nonlinear part (train law)")
    nlt = nl if nonlinear_var_test is None else check_parameter(
        nonlinear_var_test, "nonlinear_var_test", allow_zero=True,
        description="variance of the target's nonlinear part (test law)")
    shape = np.broadcast_shapes(ph.shape, ps.shape, nv.shape, nl.shape, nlt.shape)
    ph, ps, nv, nl, nlt = (np.ravel(np.broadcast_to(a, shape)) for a in (ph, ps, nv, nl, nlt))
    n = ph.size

    def run(g: np.ndarray):
        return asymptotics(spec, phi=ph, psi=ps, gamma=g, noise_var=nv, activation=act,
                           nonlinear_var=nl, nonlinear_var_test=nlt, teacher=teacher)

    g_id, e_id = _minimise(lambda g: np.ravel(run(g).error_id), n, lo, hi, grid, xtol)
    g_ood, e_ood = _minimise(lambda g: np.ravel(run(g).error), n, lo, hi, grid, xtol)
    e_ood_at_id = np.ravel(run(g_id).error)
    # If the ID minimiser happens to be better OOD (golden-section tolerance), it is the OOD optimum.
    better = e_ood_at_id < e_ood
    g_ood = np.where(better, g_id, g_ood)
    e_ood = np.where(better, e_ood_at_id, e_ood)
    reg = e_ood_at_id - e_ood  # >= 0: e_ood is the minimum over a set holding g_id (see `better`)
    # Regret relative to the OOD optimum. E_OOD = 0 happens (noiseless, exactly learnable, e.g. a
    # linear model with more samples than dimensions): the regret is then exactly 0 too if ID tuning
    # also reaches 0 (relative regret 0), else positive over zero (+inf: any excess is unbounded
    # relative to a perfect optimum).
    rel = safe_ratio(reg, e_ood, zero_over_zero=0.0, name="relative_regret")
    at_bound = (g_id >= hi * (1 - 1e-9)) | (g_ood >= hi * (1 - 1e-9))

    def shaped(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a).reshape(shape)
        return a[()] if a.ndim == 0 else a

    gamma = g_ood if target == "ood" else g_id
    error = e_ood if target == "ood" else e_id
    return OptimalRidge(
        target=target, gamma=shaped(gamma), error=shaped(error), gamma_id=shaped(g_id),
        gamma_ood=shaped(g_ood), error_id_at_gamma_id=shaped(e_id), error_ood_at_gamma_ood=shaped(e_ood),
        error_ood_at_gamma_id=shaped(e_ood_at_id), regret=shaped(reg),
        relative_regret=shaped(rel), at_bound=shaped(at_bound),
    )


def regret(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    **kwargs: object,
) -> np.ndarray:
    """E_OOD(γ_ID) − E_OOD(γ_OOD): excess OOD error from tuning γ on ID data (see :func:`optimal_ridge`).

    Examples
    --------
    >>> import rfshift as rf
    >>> from rfshift.analysis import regret
    >>> float(regret(rf.Spectrum([1.5, 0.5], [1.5, 0.5]), phi=0.5, psi=0.25, noise_var=0.25))  # no shift
    0.0
    """
    return optimal_ridge(spec, phi=phi, psi=psi, noise_var=noise_var, activation=activation,
                         **kwargs).regret
