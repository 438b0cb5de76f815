"""Plain-NumPy Monte Carlo of disagreement, K = 2 ensembles and training error (docs/theory.md §18).

Same design as ``_numpy_sim.py`` (and reusing its exact test-point moments): a trial draws two
feature matrices W1, W2 and two training inputs X1, X2; everything else (β, ε, the test point) is
averaged exactly, because each quantity is a quadratic form in (β, ε). Writing every pair of
predictors as ŷ = aᵀ f with stacked features f = (f_W1, f_W2) and stacked coefficients
a = G Y_allᵀ (G built from the per-model G_j = F_j(F_jᵀF_j + n1γ)^{-1}, Y_all the labels of the
data sets involved), a difference or average of predictors is one stacked predictor, and

    E_{β,ε,x}[(aᵀf − c·βᵀx/√n0)²] = c² tr Σ*/n0 − 2c·cross + tr(Gᵀ M G H),
    H = X_allᵀX_all/n0 + σ² I,  M = E_x f fᵀ,  cross = tr(X_all Gᵀ diag(d) W Σ*)/n0^{3/2}

(c = 0 for a disagreement, 1 for an error). Independent of the engine: no Gaussian equivalence,
no fixed point. The training error is (1/m) tr((I − S)ᵀ(I − S) H) with S = FᵀG the smoother, and
GCV = training error/(1 − tr S/m)²; GCV is not formed where tr S = m (ridgeless interpolation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from _numpy_sim import _ACTS, _sqrt_psd, feature_test_moments, threadpool_limits

__all__ = ["EXTRA_KEYS", "ExtrasResult", "simulate_extras"]

#: Quantities estimated per trial, OOD then ID for the test-point ones.
EXTRA_KEYS = (
    "shared_data", "shared_features", "independent", "ensemble2", "error",
    "shared_data_id", "shared_features_id", "independent_id", "ensemble2_id", "error_id",
    "training_error", "gcv",
)


@dataclass(frozen=True)
class ExtrasResult:
    mean: dict[str, float]
    se: dict[str, float]
    trials: int
    phi: float
    psi: float


def _g(F: np.ndarray, n1: int, m: int, gamma: float) -> np.ndarray:
    """G = F(FᵀF + n1γ)^{-1} (pseudo-inverse of Fᵀ at γ = 0), shape (n1, m)."""
    if n1 <= m:
        return np.linalg.solve(F @ F.T + n1 * gamma * np.eye(n1), F)
    return np.linalg.solve(F.T @ F + n1 * gamma * np.eye(m), F.T).T


def _quad(G: np.ndarray, M: np.ndarray, H: np.ndarray) -> float:
    return float(np.sum((G @ H) * (M @ G)))


def _err(t0: float, G, W_S, d, X, M, H) -> float:
    """Error of the stacked predictor with coefficients G Yᵀ (clean test label)."""
    n0 = X.shape[0]
    cross = float(np.sum(X * ((G.T @ (d[:, None] * W_S)).T))) / n0**1.5
    return t0 - 2 * cross + _quad(G, M, H)


def _trial(rng, act, half, Sigma, Sigma_star, n1, m, gamma, noise_var) -> list[float]:
    n0 = Sigma.shape[0]
    sq = math.sqrt(n0)
    W1, W2 = rng.standard_normal((n1, n0)), rng.standard_normal((n1, n0))
    X1, X2 = half @ rng.standard_normal((n0, m)), half @ rng.standard_normal((n0, m))
    fn = _ACTS[act]
    F11, F21, F12 = fn(W1 @ X1 / sq), fn(W2 @ X1 / sq), fn(W1 @ X2 / sq)
    G11, G21, G12 = _g(F11, n1, m, gamma), _g(F21, n1, m, gamma), _g(F12, n1, m, gamma)
    G22 = _g(fn(W2 @ X2 / sq), n1, m, gamma)
    Xb = np.concatenate([X1, X2], axis=1)
    H1 = X1.T @ X1 / n0 + noise_var * np.eye(m)
    Hb = Xb.T @ Xb / n0 + noise_var * np.eye(2 * m)
    Wst = np.concatenate([W1, W2], axis=0)
    zero = np.zeros((n1, m))
    out: list[float] = []
    for S_test in (Sigma_star, Sigma):
        WS = Wst @ S_test
        M, d = feature_test_moments(act, WS @ Wst.T / n0)
        M11 = M[:n1, :n1]
        d_sd = _quad(np.concatenate([G11, -G21]), M, H1)  # W differ, (X, ε) shared
        d_sf = _quad(np.concatenate([G11, -G12], axis=1), M11, Hb)  # W shared, data differ
        Gi = np.block([[G11, zero], [zero, -G22]])
        d_in = _quad(Gi, M, Hb)  # nothing shared
        t0 = np.trace(S_test) / n0

        e2 = _err(t0, 0.5 * np.concatenate([G11, G21]), WS, d, X1, M, H1)  # K = 2, same data
        e1 = _err(t0, G11, WS[:n1], d[:n1], X1, M11, H1)
        out += [d_sd, d_sf, d_in, e2, e1]
    # training error of (W1, X1): residual (I − S)Y, S = F11ᵀ G11
    R = np.eye(m) - F11.T @ G11
    train = float(np.sum((R @ H1) * R)) / m
    df = float(np.trace(F11.T @ G11)) / m
    gcv = train / (1.0 - df) ** 2 if 1.0 - df > 1e-8 else math.nan
    return [*out, train, gcv]


def simulate_extras(act: str, Sigma, Sigma_star, *, phi: float, psi: float, gamma: float,
                    noise_var: float, trials: int, seed: int) -> ExtrasResult:
    """Trial means and standard errors of :data:`EXTRA_KEYS` at n0 = Sigma.shape[0],
    m = round(n0/φ), n1 = round(n0/ψ)."""
    Sigma = np.asarray(Sigma, dtype=float)
    Sigma_star = np.asarray(Sigma_star, dtype=float)
    n0 = Sigma.shape[0]
    m, n1 = round(n0 / phi), round(n0 / psi)
    rng = np.random.default_rng(seed)
    half = _sqrt_psd(Sigma)
    with threadpool_limits(1):
        rows = np.array([_trial(rng, act, half, Sigma, Sigma_star, n1, m, gamma, noise_var)
                         for _ in range(trials)])
    mean = {k: float(np.mean(rows[:, i])) for i, k in enumerate(EXTRA_KEYS)}
    se = {k: float(np.std(rows[:, i], ddof=1) / math.sqrt(trials)) for i, k in enumerate(EXTRA_KEYS)}
    return ExtrasResult(mean, se, trials, n0 / m, n0 / n1)


def covariances(kind: str, n0: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(Σ, Σ*) at dimension n0 (n0 divisible by 4): block-diagonal atoms, or ``dense``, a
    non-commuting Σ* (aligned diagonal part + a Haar-rotated dense part), as in test_engine."""
    def blocks(values):
        values = np.asarray(values, dtype=float)
        return np.repeat(values, n0 // values.size)

    if kind == "swap":
        return np.diag(blocks([1.5, 0.5])), np.diag(blocks([0.5, 1.5]))
    if kind == "trace":  # tr Σ* ≠ tr Σ (s = 1.0, s* = 1.8)
        return np.diag(blocks([3.0, 0.5, 0.5, 0.5, 0.5])), np.diag(blocks([1.0, 2.0, 2.0, 2.0, 2.0]))
    if kind == "iso2":
        return np.eye(n0), 2.0 * np.eye(n0)
    if kind == "three":
        return np.diag(blocks([2.0, 1.0, 1.0, 0.25])), np.diag(blocks([0.5, 1.0, 1.0, 1.5]))
    if kind == "dense":
        rng = np.random.default_rng(seed + 1000)
        Q, _ = np.linalg.qr(rng.standard_normal((n0, n0)))
        dense = (Q * np.geomspace(0.2, 2.0, n0)) @ Q.T
        return np.diag(blocks([2.0, 1.0, 0.5, 0.25])), np.diag(blocks([0.2, 0.5, 1.0, 2.0])) + dense
    raise ValueError(f"unknown covariance kind {kind!r}")


def theory_extras(res, k: int = 2) -> dict[str, float]:
    """The engine's values of :data:`EXTRA_KEYS` for a scalar :class:`rfshift.Asymptotics`."""
    d, di, e = res.disagreement, res.disagreement_id, res.ensemble(k)
    vals = dict(shared_data=d.shared_data, shared_features=d.shared_features, independent=d.independent,
                ensemble2=e.error, error=res.error, shared_data_id=di.shared_data,
                shared_features_id=di.shared_features, independent_id=di.independent,
                ensemble2_id=e.error_id, error_id=res.error_id, training_error=res.training_error,
                gcv=res.gcv)
    return {key: float(v) for key, v in vals.items()}
