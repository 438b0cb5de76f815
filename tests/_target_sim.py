"""Plain-NumPy Monte Carlo for structured and nonlinear targets (docs/theory.md, "Structured and
nonlinear targets"), built on the exact test-point averages of ``_numpy_sim``.

Two kinds of target:

* **linear, β ~ N(0, B)**: the error is a quadratic form in (β, ε), averaged exactly:
  tr(BΣ*)/n0 − 2 tr(X Gᵀ diag(d) W Σ* B)/n0^{3/2} + tr(Gᵀ M G (XᵀBX/n0 + σ² I));
* **single-index teacher** y = f*(βᵀx/√n0) + ε: β = B^{1/2}ξ is drawn per trial, the labels are the
  teacher's values, ε is averaged exactly, and the test point x ~ N(0, Σ*) exactly: the pair
  (z_i = w_iᵀx/√n0, t = βᵀx/√n0) is jointly Gaussian, so E[σ(z_i) f*(t)] is Mehler's series
  Σ_k h_k(i) h*_k ρ_i^k (ρ_i = corr(z_i, t) = O(n0^{-1/2})) and E f*(t)² is a 1-D quadrature.

Also the X-shared disagreement E_x(ŷ1 − ŷ2)² of two predictors with the same training inputs (hence
the same teacher values) but independent W and ε, which is 2(V − V_X − V_ε) and so tells whether
the target's nonlinear part lands in V_X (shared with X) or in V_Xε.

Independent of the engine: no Gaussian equivalence, no fixed point.
"""

from __future__ import annotations

import math

import numpy as np
from _numpy_sim import (
    _ACTS,
    _GH_NODES,
    _GH_WEIGHTS,
    _hermite_coefficients,
    _sqrt_psd,
    feature_test_moments,
    threadpool_limits,
)

__all__ = ["simulate_target"]


def _solve_g(F: np.ndarray, n1: int, m: int, gamma: float) -> np.ndarray:
    if n1 <= m:
        return np.linalg.solve(F @ F.T + n1 * gamma * np.eye(n1), F)
    return np.linalg.solve(F.T @ F + n1 * gamma * np.eye(m), F.T).T


def _teacher_cross(act: str, teacher: str, C: np.ndarray, cvec: np.ndarray, vt: float) -> np.ndarray:
    """E[σ(z_i) f*(t)] for (z, t) Gaussian, Var z_i = C_ii, Cov(z_i, t) = cvec_i, Var t = vt."""
    q = np.diag(C).copy()
    rho = cvec / np.sqrt(q * vt)
    rmax = float(np.abs(rho).max())
    order = min(int(np.ceil(math.log(1e-14) / math.log(max(rmax, 1e-3)))), 60)
    h = _hermite_coefficients(_ACTS[act], q, order)  # (order+1, n1)
    ht = _hermite_coefficients(_ACTS[teacher], np.array([vt]), order)[:, 0]
    return np.sum(h * ht[:, None] * rho[None, :] ** np.arange(order + 1)[:, None], axis=0)


def _teacher_second(teacher: str, vt: float) -> float:
    return float((_ACTS[teacher](math.sqrt(vt) * _GH_NODES) ** 2) @ _GH_WEIGHTS)


def _trial(rng, act, half, Sigma, Sigma_star, B, B_half, n1, m, gamma, noise_var, teacher, disagree):
    n0 = Sigma.shape[0]
    W = rng.standard_normal((n1, n0))
    X = half @ rng.standard_normal((n0, m))
    F = _ACTS[act](W @ X / math.sqrt(n0))
    G = _solve_g(F, n1, m, gamma)
    out = []
    if teacher is None:
        H = X.T @ (B @ X) / n0
        H[np.diag_indices(m)] += noise_var
        GH = G @ H
        for S in (Sigma_star, Sigma):
            WS = W @ S
            M, d = feature_test_moments(act, WS @ W.T / n0)
            cross = float(np.sum(X * ((G.T @ (d[:, None] * (WS @ B))).T))) / n0**1.5
            out.append(np.trace(S @ B) / n0 - 2 * cross + float(np.sum(GH * (M @ G))))
        return out
    beta = B_half @ rng.standard_normal(n0)
    y = _ACTS[teacher](beta @ X / math.sqrt(n0))
    a = G @ y
    for S in (Sigma_star, Sigma):
        WS = W @ S
        C = WS @ W.T / n0
        M, _ = feature_test_moments(act, C)
        vt = float(beta @ S @ beta) / n0
        h = _teacher_cross(act, teacher, C, WS @ beta / n0, vt)
        err = _teacher_second(teacher, vt) - 2 * a @ h + a @ M @ a + noise_var * float(np.sum(G * (M @ G)))
        out.append(err)
    if disagree:
        # second predictor: same X (same teacher values), independent W and ε
        W2 = rng.standard_normal((n1, n0))
        G2 = _solve_g(_ACTS[act](W2 @ X / math.sqrt(n0)), n1, m, gamma)
        Wb = np.vstack([W, W2])
        M, _ = feature_test_moments(act, Wb @ Sigma_star @ Wb.T / n0)
        ab = np.concatenate([a, -(G2 @ y)])
        d = ab @ M @ ab + noise_var * (float(np.sum(G * (M[:n1, :n1] @ G)))
                                       + float(np.sum(G2 * (M[n1:, n1:] @ G2))))
        out.append(d)
    return out


def simulate_target(
    act: str,
    Sigma: np.ndarray,
    Sigma_star: np.ndarray,
    B: np.ndarray,
    *,
    phi: float,
    psi: float,
    gamma: float,
    noise_var: float,
    trials: int,
    seed: int,
    teacher: str | None = None,
    disagree: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Trial means and standard errors of (OOD error, ID error[, X-shared disagreement]) at
    n0 = Sigma.shape[0], m = round(n0/φ), n1 = round(n0/ψ). ``B`` is the target covariance."""
    Sigma, Sigma_star, B = (np.asarray(a, dtype=float) for a in (Sigma, Sigma_star, B))
    n0 = Sigma.shape[0]
    m, n1 = round(n0 / phi), round(n0 / psi)
    rng = np.random.default_rng(seed)
    half, B_half = _sqrt_psd(Sigma), _sqrt_psd(B)
    with threadpool_limits(1):
        s = np.array([_trial(rng, act, half, Sigma, Sigma_star, B, B_half, n1, m, gamma, noise_var,
                             teacher, disagree) for _ in range(trials)])
    return s.mean(axis=0), s.std(axis=0, ddof=1) / math.sqrt(trials)
