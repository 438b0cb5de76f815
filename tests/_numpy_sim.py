"""Plain-NumPy Monte Carlo of finite random-feature ridge regression (THEORY.md §1), for tests.

One trial draws W (n1×n0, iid N(0,1)) and the training inputs X (n0×m, columns ~ N(0, Σ)). The
label vector is Y = βᵀX/√n0 + ε. Everything else is averaged *exactly*:

* over the test point x ~ N(0, Σ*): the pre-activations z = Wx/√n0 are jointly Gaussian with
  covariance C = WΣ*Wᵀ/n0, so E_x f fᵀ is the arc-cosine kernel (ReLU), the arcsine kernel (erf),
  C itself (linear), or Mehler's Hermite series for any other activation (coefficients by
  Gauss–Hermite quadrature; the off-diagonal correlations are O(1/√n0), so the series converges
  fast). The cross term follows from Stein's lemma:
  E_x[f_i(x) βᵀx/√n0] = E σ'(z_i) · (w_iᵀΣ*β/n0);
* over β ~ N(0, I) and ε ~ N(0, σ² I), because the error is a quadratic form in (β, ε).

With a = G Yᵀ (G = F(FᵀF/n1 + γ I)^{-1}/n1, or the pseudo-inverse of Fᵀ when γ = 0) the trial
error is

    tr Σ*/n0 − 2 tr(X Gᵀ diag(d) W Σ*)/n0^{3/2} + tr(Gᵀ M G (XᵀX/n0 + σ² I)),

with M = E_x f fᵀ and d_i = E σ'(z_i). So the only randomness left is (W, X); the trial-to-trial
spread gives an honest standard error. This is independent of the engine: no Gaussian
equivalence, no fixed point, μ0 and all nonlinear terms kept.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import special

__all__ = [
    "MCResult",
    "feature_test_moments",
    "simulate_linear_ridge",
    "simulate_rf",
]

try:  # one BLAS thread: these are many small matrices, and threads only contend on a busy machine
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    def threadpool_limits(limits=None):
        return nullcontext()

_ACTS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "erf": special.erf,
    "tanh": np.tanh,
    "linear": lambda x: x,
}

_GH_NODES, _GH_WEIGHTS = hermegauss(160)
_GH_WEIGHTS = _GH_WEIGHTS / math.sqrt(2.0 * math.pi)  # E over g ~ N(0, 1)


@dataclass(frozen=True)
class MCResult:
    """Trial means and standard errors (spread across independent trials / sqrt(trials))."""

    error: float
    error_se: float
    error_id: float
    error_id_se: float
    trials: int
    samples: np.ndarray  # (trials, 2): OOD and ID error of each trial
    phi: float  # the ratios actually simulated, n0/m and n0/n1 (m, n1 are rounded)
    psi: float

    def z(self, ood: float, id_: float) -> tuple[float, float]:
        """z-scores of theory values against this Monte Carlo."""
        return (ood - self.error) / self.error_se, (id_ - self.error_id) / self.error_id_se


def _hermite_coefficients(fn, q: np.ndarray, order: int) -> np.ndarray:
    """h_k(i) = E[σ(√q_i g) He_k(g)]/√k!, k = 0..order (rows), by Gauss–Hermite quadrature."""
    g = _GH_NODES
    vals = fn(np.sqrt(q)[:, None] * g[None, :]) * _GH_WEIGHTS  # (n, nodes)
    out = np.empty((order + 1, q.size))
    e_prev = np.zeros_like(g)
    e_cur = np.ones_like(g)  # normalised He_0
    for k in range(order + 1):
        out[k] = vals @ e_cur
        e_next = (g * e_cur - math.sqrt(k) * e_prev) / math.sqrt(k + 1)
        e_prev, e_cur = e_cur, e_next
    return out


def feature_test_moments(act: str, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M = E f fᵀ and d = E σ'(z) for z ~ N(0, C) (exact up to quadrature round-off)."""
    q = np.diag(C).copy()
    sq = np.sqrt(q)
    if act == "relu":
        norm = np.outer(sq, sq)
        cos = np.clip(C / norm, -1.0, 1.0)
        theta = np.arccos(cos)
        M = norm / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)
        np.fill_diagonal(M, q / 2)
        return M, np.full(q.size, 0.5)
    if act == "erf":
        a = 1.0 + 2.0 * q
        M = (2 / np.pi) * np.arcsin(np.clip(2 * C / np.sqrt(np.outer(a, a)), -1.0, 1.0))
        return M, 2.0 / np.sqrt(np.pi * a)
    if act == "linear":
        return C.copy(), np.ones(q.size)
    # Mehler: E σ(z_i)σ(z_j) = Σ_k h_k(i) h_k(j) ρ_ij^k, ρ_ij = C_ij/√(q_i q_j), i ≠ j.
    fn = _ACTS[act]
    rho = C / np.outer(sq, sq)
    np.fill_diagonal(rho, 0.0)
    rmax = float(np.abs(rho).max())
    # truncate where the remainder is below 1e-14 (|h_k| <= sqrt(E σ²) for every k)
    order = int(np.ceil(math.log(1e-14) / math.log(max(rmax, 1e-3))))
    if order > 120:  # pragma: no cover - guard on the truncation
        raise RuntimeError(f"Mehler series would need {order} terms (max |rho| = {rmax:.3f})")
    h = _hermite_coefficients(fn, q, order)
    M = np.zeros_like(C)
    rk = np.ones_like(C)
    for k in range(order + 1):
        M += np.outer(h[k], h[k]) * rk
        rk = rk * rho
    second = (fn(sq[:, None] * _GH_NODES[None, :]) ** 2) @ _GH_WEIGHTS
    np.fill_diagonal(M, second)
    return M, h[1] / sq  # E σ'(z) = E[σ(z) z]/q = h_1/√q


def _sqrt_psd(S: np.ndarray) -> np.ndarray:
    lam, V = np.linalg.eigh(S)
    return (V * np.sqrt(np.maximum(lam, 0.0))) @ V.T


def _trial_errors(
    rng: np.random.Generator,
    act: str,
    Sigma_half: np.ndarray,
    Sigma: np.ndarray,
    Sigma_star: np.ndarray,
    n1: int,
    m: int,
    gamma: float,
    noise_var: float,
) -> tuple[float, float]:
    n0 = Sigma.shape[0]
    W = rng.standard_normal((n1, n0))
    X = Sigma_half @ rng.standard_normal((n0, m))
    F = _ACTS[act](W @ X / math.sqrt(n0))
    # G = F(FᵀF + n1γ)^{-1} = (FFᵀ + n1γ)^{-1}F; at γ = 0 this is the pseudo-inverse of Fᵀ
    # (minimum-norm interpolator for n1 > m, least squares for n1 < m), full rank off ψ = φ.
    if n1 <= m:
        G = np.linalg.solve(F @ F.T + n1 * gamma * np.eye(n1), F)
    else:
        G = np.linalg.solve(F.T @ F + n1 * gamma * np.eye(m), F.T).T
    H = X.T @ X / n0
    H[np.diag_indices(m)] += noise_var
    GH = G @ H
    out = []
    for S_test in (Sigma_star, Sigma):
        WS = W @ S_test
        C = WS @ W.T / n0
        M, d = feature_test_moments(act, C)
        cross = float(np.sum(X * ((G.T @ (d[:, None] * WS)).T))) / n0**1.5
        quad = float(np.sum(GH * (M @ G)))
        out.append(np.trace(S_test) / n0 - 2 * cross + quad)
    return out[0], out[1]


def simulate_rf(
    act: str,
    Sigma: np.ndarray,
    Sigma_star: np.ndarray,
    *,
    phi: float,
    psi: float,
    gamma: float,
    noise_var: float,
    trials: int,
    seed: int,
) -> MCResult:
    """Monte Carlo of the OOD (Σ*) and ID (Σ) test error at n0 = Sigma.shape[0],
    m = round(n0/φ), n1 = round(n0/ψ)."""
    Sigma = np.asarray(Sigma, dtype=float)
    Sigma_star = np.asarray(Sigma_star, dtype=float)
    n0 = Sigma.shape[0]
    m = round(n0 / phi)
    n1 = round(n0 / psi)
    rng = np.random.default_rng(seed)
    half = _sqrt_psd(Sigma)
    with threadpool_limits(1):
        samples = np.array(
            [_trial_errors(rng, act, half, Sigma, Sigma_star, n1, m, gamma, noise_var) for _ in range(trials)]
        )
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / math.sqrt(trials)
    return MCResult(float(mean[0]), float(se[0]), float(mean[1]), float(se[1]), trials, samples,
                    n0 / m, n0 / n1)


def simulate_linear_ridge(
    Sigma: np.ndarray,
    Sigma_star: np.ndarray,
    *,
    phi: float,
    gamma: float,
    noise_var: float,
    trials: int,
    seed: int,
) -> tuple[float, float, float]:
    """Infinite-feature linear model (ψ = 0, σ = id): kernel ridge with kernel XᵀX/n0 + γI,
    i.e. ŷ(x) = aᵀx with a = X(XᵀX/n0 + γI)^{-1}Yᵀ/n0. Exact in β, ε and x; returns (mean, SE, n0/m)."""
    Sigma = np.asarray(Sigma, dtype=float)
    n0 = Sigma.shape[0]
    m = round(n0 / phi)
    rng = np.random.default_rng(seed)
    half = _sqrt_psd(Sigma)
    errs = []
    for _ in range(trials):
        with threadpool_limits(1):
            errs.append(_linear_ridge_trial(rng, half, Sigma_star, n0, m, gamma, noise_var))
    errs = np.asarray(errs)
    return float(errs.mean()), float(errs.std(ddof=1) / math.sqrt(trials)), n0 / m


def _linear_ridge_trial(rng, half, Sigma_star, n0, m, gamma, noise_var) -> float:
    X = half @ rng.standard_normal((n0, m))
    # a = X(XᵀX/n0 + γ)^{-1}Yᵀ/n0 = R X Yᵀ/n0 with R = (XXᵀ/n0 + γ)^{-1}, so
    # a − β/√n0 = −γ R β/√n0 + R X ε/n0 and the error is
    # γ² tr(R Σ* R)/n0 + σ² tr(Σ* R XXᵀ R)/n0², evaluated in R's eigenbasis.
    ell, V = np.linalg.eigh(X @ X.T / n0)
    d = np.einsum("ij,ik,kj->j", V, Sigma_star, V)
    inv = 1.0 / (ell + gamma)
    return gamma**2 * float(d @ inv**2) / n0 + noise_var * float(d @ (ell * inv**2)) / n0
