"""Generalized deterministic equivalent of ridge regression on features given W (docs/theory.md §20.2).

The Gaussian-covariate-model equivalent used by :mod:`rfshift.finite_size` (docs/theory.md §20,
step 2) replaces every leave-one-out quadratic form f(x_i)ᵀQ₋ᵢf(x_i)/m by its mean. The generalized
equivalent keeps its dependence on the input x (each input a point mass):

    R = (E_x[D(x) f fᵀ] + κ)^{-1},   D(x) = 1/(ε + f(x)ᵀ R f(x)/m),
    ā = A β,  A = R E_x[D(x) f(x) xᵀ]/√n0,
    E_T = tr(T B)/n0 − 2 tr(Ψ_Tᵀ A B) + tr(Aᵀ Φ_T A B) + (1/m) E_x[D² u_T (ρ + σ²)],
    u_T(x) = f(x)ᵀ T_T f(x),  T_T = R Φ_T R + R E_x[D² (u_T/m) f fᵀ] R,
    ρ(x) = (x/√n0 − Aᵀf)ᵀ B (x/√n0 − Aᵀf),

with (ε, κ) = (1, λ) for λ = n1γ/m > 0, (1, 0) ridgeless with n1 < m and (0, 1) ridgeless with n1 > m
(the rescaled λ → 0 limit). Our own derivation (leave-one-out plus the envelope theorem), in
docs/theory.md §20.2, where the exact reduction to step 2 when D and u are constant is shown.

The x-expectations are pool averages over N inputs (columns of ``X``, features ``F``), with the exact
moments Φ, Ψ as control variates, pool point k's own term removed from everything evaluated at x_k
(Sherman–Morrison), and matrix-free linear algebra: cost O(iterations · n1² · N), memory O(n1·N).

Targets (docs/theory.md §20.2, "Targets"): the label is βᵀy(x) with label components y (q × N on the
pool; X/√n0 for the linear target) and E ββᵀ = B; a sampled single-index teacher is q = 2 components
f*(β_jᵀx/√n0) with B = I/2. A number-valued nonlinear part is label noise counted as sampling variance.

Core layer: NumPy/SciPy only. Reached through ``rfshift.finite_size(..., equivalent="generalized")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.sparse.linalg import LinearOperator, gmres

from ._errors import ConvergenceError

__all__ = ["GeneralizedDraw", "constant_draw", "generalized_draw", "regime"]

_CHUNK = 4096


@dataclass(frozen=True)
class GeneralizedDraw:
    """Generalized equivalent given W, one entry per test law.

    ``error = mean + variance``: ``mean`` is the error of the mean predictor ā (exact test
    expectation with Φ_T, Ψ_T), ``variance`` the fluctuation term (1/m)E_x[D²u_T(ρ + σ²)] =
    ``variance_noise`` (the σ² part) + ``variance_sampling`` (the ρ part).
    ``D``: D(x_k) on the pool (the constant value for :func:`constant_draw`); ``A``: ā = Aβ
    (n1 × n0); ``iterations``: of the D(x) fixed point; ``kappa``: κ/mean(D), the effective
    regulariser (R = (E[D ffᵀ] + κ)^{-1} = D̄^{-1}(E[(D/D̄) ffᵀ] + κ/D̄)^{-1}; it is §20's κ when D is
    constant)."""

    error: tuple[float, ...]
    mean: tuple[float, ...]
    variance: tuple[float, ...]
    variance_noise: tuple[float, ...]
    variance_sampling: tuple[float, ...]
    D: np.ndarray
    A: np.ndarray
    iterations: int
    kappa: float


def regime(m: int, n1: int, gamma: float) -> tuple[float, float]:
    """(ε, κ) of D(x) = 1/(ε + fᵀRf/m), R = (E[D ffᵀ] + κ)^{-1} (docs/theory.md §20.2, ridgeless).

    Raises ValueError at the interpolation threshold (γ = 0 and n1 = m)."""
    lam = n1 * gamma / m
    if lam > 0:
        return 1.0, lam
    if n1 < m:
        return 1.0, 0.0
    if n1 > m:
        return 0.0, 1.0
    raise ValueError(f"gamma = 0 with n1 = m = {m}: the interpolation threshold (the variance is infinite)")


def _anderson(step, x0: np.ndarray, tol: float, maxit: int, what: str, depth: int = 6):
    """Anderson-accelerated fixed point x = step(x) (sup-norm tolerance); ConvergenceError if not."""
    x = x0
    hx: list[np.ndarray] = []
    hg: list[np.ndarray] = []
    res = math.inf
    for it in range(maxit):
        g = step(x)
        res = float(np.max(np.abs(g - x)))
        if not math.isfinite(res):
            raise ConvergenceError(f"{what}: non-finite iterate at iteration {it}")
        if res < tol:
            return g, it
        hx.append(x.copy())
        hg.append(g.copy())
        if len(hx) > depth:
            hx.pop(0)
            hg.pop(0)
        if len(hx) >= 2:
            Rk = np.array(hg) - np.array(hx)
            coef, *_ = np.linalg.lstsq(np.diff(Rk, axis=0).T, g - x, rcond=None)
            x = g - coef @ np.diff(np.array(hg), axis=0)
        else:
            x = g
    raise ConvergenceError(f"{what}: no convergence in {maxit} iterations (residual {res:.2e})")


def _weighted_gram(F: np.ndarray, w: np.ndarray) -> np.ndarray:
    """F diag(w) Fᵀ (n1 × n1), in column chunks."""
    out = np.zeros((F.shape[0], F.shape[0]))
    for i in range(0, F.shape[1], _CHUNK):
        Fc = F[:, i:i + _CHUNK]
        out += (Fc * w[i:i + _CHUNK]) @ Fc.T
    return out


def _start(Phi: np.ndarray, m: int, n1: int, gamma: float, eps: float) -> float:
    """The constant D of the current equivalent (docs/theory.md §20 step 2): 1 − df₁/m, or 1/κ.

    Raises ValueError when γ = 0 and Φ is singular (rank < n1): the ridgeless generalized
    equivalent needs E[D f fᵀ] invertible."""
    from .finite_size import _solve_kappa

    e = np.maximum(np.linalg.eigvalsh(Phi), 0.0)
    tol = max(float(e[-1]), np.finfo(float).tiny) * n1 * 1e-13
    rank = int(np.sum(e > tol))
    if gamma == 0 and rank < n1:
        raise ValueError(f"gamma = 0 with a singular feature second moment (rank {rank} < n1 = {n1}): the "
                         "generalized equivalent needs gamma > 0 here (or equivalent='gaussian')")
    kap = _solve_kappa(np.where(e > tol, e, 0.0), m, n1 * gamma / m, rank)
    if eps == 1.0:
        return 1.0 - float(np.sum(e / (e + kap))) / m
    return 1.0 / kap


def _mean_term(t: float, PsiT: np.ndarray, PhiT: np.ndarray, A: np.ndarray, B: np.ndarray | None) -> float:
    AB = A if B is None else A @ B
    return t - 2.0 * float(np.sum(PsiT * AB)) + float(np.sum((PhiT @ A) * AB))


def constant_draw(Phi, Psi, t_train, tests, *, m, n1, gamma, noise_var, B=None,
                  nonlinear_var: float = 0.0) -> GeneralizedDraw:
    """The generalized formulas with D, u and ρ frozen at their means: must equal §20 step 2 exactly.

    ``tests``: sequence of (Φ_T, Ψ_T, t_T) with t_T = tr(TB)/n0 (or, for label components Y, the
    block form of :func:`generalized_draw`). Used as an identity check."""
    eps, kap = regime(m, n1, gamma)
    D0 = _start(Phi, m, n1, gamma, eps)
    R = np.linalg.inv(D0 * Phi + kap * np.eye(n1))
    A = D0 * R @ Psi
    PhiR = Phi @ R
    slack = 1.0 - D0 ** 2 * float(np.sum(PhiR * PhiR.T)) / m  # 1 − df₂/m
    rho = _mean_term(t_train, Psi, Phi, A, B) + nonlinear_var
    means, vn, vs = [], [], []
    for PhiT, PsiT, tT in tests:
        means.append(_mean_term(tT, PsiT, PhiT, A, B))
        amp = D0 ** 2 * float(np.sum((R @ Phi @ R) * PhiT)) / slack / m
        vn.append(amp * noise_var)
        vs.append(amp * rho)
    return _result(means, vn, vs, np.full(1, D0), A, 0, kap)


def _result(means, vn, vs, D, A, iters, kap) -> GeneralizedDraw:
    var = [a + b for a, b in zip(vn, vs, strict=True)]
    return GeneralizedDraw(tuple(a + b for a, b in zip(means, var, strict=True)), tuple(means), tuple(var),
                           tuple(vn), tuple(vs), D, A, iters, float(kap / np.mean(D)))


def generalized_draw(Phi, Psi, F, X, tests, *, m, n1, gamma, noise_var, B=None, Y=None,
                     nonlinear_var: float = 0.0, tol: float = 1e-11,
                     gmres_rtol: float = 1e-9) -> GeneralizedDraw:
    """Generalized equivalent given W on a pool of inputs.

    Parameters
    ----------
    Phi, Psi:
        Exact training moments E[f fᵀ] (n1 × n1) and E[f yᵀ] (n1 × q) of the label components y
        (the control variates); for the linear target y = x/√n0, Ψ = E[f xᵀ]/√n0 (n1 × n0).
    F, X:
        Pool: features f(x_k) (n1 × N) and inputs x_k (n0 × N), x_k from the training law.
    tests:
        Sequence of (Φ_T, Ψ_T, t_T) per test law: Ψ_T = E_T[f yᵀ] (n1 × q), t_T = tr(E_T[y yᵀ] B).
    m, n1, gamma, noise_var, B:
        Training samples, features, ridge γ on FᵀF/n1 (λ = n1γ/m on FFᵀ/m), label-noise variance,
        q × q weight of the label components (None: I). The label is y = βᵀy(x) averaged over
        β ~ N(0, B) (linear target, q = n0), or, with ``Y``, the mean over q sampled teachers
        y_j = f*(β_jᵀx/√n0) with B = I/q (docs/theory.md §20.2, "Targets").
    Y:
        Label components on the pool (q × N); None: X/√n0 (the linear target).
    nonlinear_var:
        Variance of a target part uncorrelated with x and the features: training-label noise that
        counts as ``variance_sampling`` (docs/theory.md §20.1 convention; add the test-law value to
        t_T yourself).

    Raises ConvergenceError if the D(x) fixed point or the u-system does not converge, ValueError at
    the interpolation threshold. Source: docs/theory.md §20.2.
    """
    n0, N = X.shape
    if F.shape != (n1, N):
        raise ValueError(f"F must be n1 × N = {n1} × {N}, got {F.shape}")
    Y = X / math.sqrt(n0) if Y is None else np.asarray(Y, dtype=float).reshape(-1, N)
    if Psi.shape != (n1, Y.shape[0]):
        raise ValueError(f"Psi must be n1 × q = {n1} × {Y.shape[0]}, got {Psi.shape}")
    eps, kap = regime(m, n1, gamma)
    D0 = _start(Phi, m, n1, gamma, eps)
    eye = np.eye(n1)

    def parts(D):
        Db = D.mean()
        P = Db * Phi + _weighted_gram(F, D - Db) / N + kap * eye
        P = 0.5 * (P + P.T)
        try:
            L = np.linalg.cholesky(P)
        except np.linalg.LinAlgError as exc:  # pragma: no cover - the control variate went indefinite
            raise ConvergenceError("E_x[D f fᵀ] + κ lost positive definiteness on this pool; "
                                   "use a larger pool") from exc
        Z = solve_triangular(L, F, lower=True, check_finite=False)
        s = np.einsum("ij,ij->j", Z, Z)  # f_kᵀ R f_k
        a = (D - Db) / N  # pool point k's own weight in E[D ffᵀ] beyond the control variate
        return s / (1.0 - a * s), a, s, P  # f_kᵀ R₋ₖ f_k (Sherman–Morrison)

    def step(logd):
        s_loo, *_ = parts(np.exp(logd))
        return -np.log(eps + s_loo / m)

    logd, iters = _anderson(step, np.full(N, math.log(D0)), tol, 500, "D(x) fixed point")
    D = np.exp(logd)
    _, a, s, P = parts(D)
    c = 1.0 / (1.0 - a * s)  # R₋ₖ f_k = c_k R f_k
    Db = D.mean()
    R = np.linalg.inv(P)
    R = 0.5 * (R + R.T)
    PsiD = Db * Psi  # E[D f yᵀ] with the exact Ψ as control variate
    for i in range(0, N, _CHUNK):
        PsiD += (F[:, i:i + _CHUNK] * (D[i:i + _CHUNK] - Db)) @ Y[:, i:i + _CHUNK].T / N
    A = R @ PsiD
    RF = R @ F
    # leave-one-out fitted value f_kᵀA₋ₖ = c_k (f_kᵀA − a_k s_k y_kᵀ); ρ_k = r_kᵀ B r_k
    resid = Y - c[None, :] * (A.T @ F - (a * s)[None, :] * Y)
    rho = np.einsum("ij,ij->j", resid, resid if B is None else B @ resid)
    h = np.einsum("ij,ij->j", RF, Phi @ RF)  # f_kᵀ R Φ R f_k
    c2m = c * c / m

    def sandwich(z):  # Σ_{l≠k} (f_kᵀ R f_l)² z_l
        Y = _weighted_gram(F, z)
        return np.einsum("ij,ij->j", RF, Y @ RF) - s * s * z

    def adjoint(v):  # Lᵀv for (Lu)_k = c_k²[h_k w̄ + Σ_{l≠k} G_kl²(w_l − w̄)/N]/m, w = D²u
        z = c2m * v
        t = sandwich(z)
        return D * D * ((h @ z) / N + (t - t.mean()) / N)

    op = LinearOperator((N, N), matvec=lambda v: v - adjoint(v), dtype=float)

    def solve(omega):  # v with (I − Lᵀ)v = ω/N: then mean(ω u_M) = vᵀ u0_M for every test law M
        if not np.any(omega):
            return np.zeros(N)
        v, info = gmres(op, omega / N, rtol=gmres_rtol, atol=0.0, restart=80, maxiter=20)
        if info != 0:
            raise ConvergenceError(f"u-system (GMRES) did not converge (info {info}, m = {m}, n1 = {n1})")
        return v

    v_noise = solve(D * D * noise_var / m)
    v_samp = solve(D * D * (rho + nonlinear_var) / m)
    means, vn, vs = [], [], []
    for PhiT, PsiT, tT in tests:
        means.append(_mean_term(tT, PsiT, PhiT, A, B))
        u0 = c * c * np.einsum("ij,ij->j", RF, PhiT @ RF)
        vn.append(float(v_noise @ u0))
        vs.append(float(v_samp @ u0))
    return _result(means, vn, vs, D, A, iters, kap)
