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

import itertools
import math
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import special

__all__ = [
    "FullResult",
    "MCResult",
    "cross_feature_moments",
    "feature_test_moments",
    "simulate_full",
    "simulate_linear_ridge",
    "simulate_rf",
    "spectrum_covariances",
    "target_matrix",
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
    B: np.ndarray | None = None,
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
    BX = X if B is None else B @ X
    H = X.T @ BX / n0  # E_β[YᵀY] − σ²I for β ~ N(0, B)
    H[np.diag_indices(m)] += noise_var
    GH = G @ H
    out = []
    for S_test in (Sigma_star, Sigma):
        WS = W @ S_test
        C = WS @ W.T / n0
        M, d = feature_test_moments(act, C)
        cross = float(np.sum(BX * ((G.T @ (d[:, None] * WS)).T))) / n0**1.5
        quad = float(np.sum(GH * (M @ G)))
        yy = np.trace(S_test) if B is None else float(np.sum(S_test * B))
        out.append(yy / n0 - 2 * cross + quad)
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
    target_power: np.ndarray | None = None,
) -> MCResult:
    """Monte Carlo of the OOD (Σ*) and ID (Σ) test error at n0 = Sigma.shape[0],
    m = round(n0/φ), n1 = round(n0/ψ). ``target_power``: β ~ N(0, B) with B = diag(b) for a vector
    b (coordinates of Σ, i.e. per eigen-direction when Σ is diagonal) or B itself (n0 × n0, PSD);
    None: B = I. E_β stays exact: E(βᵀx)² = xᵀBx, E[ββᵀ] = B in the cross and label terms."""
    Sigma = np.asarray(Sigma, dtype=float)
    Sigma_star = np.asarray(Sigma_star, dtype=float)
    n0 = Sigma.shape[0]
    B = target_matrix(target_power, n0)
    m = round(n0 / phi)
    n1 = round(n0 / psi)
    rng = np.random.default_rng(seed)
    half = _sqrt_psd(Sigma)
    with threadpool_limits(1):
        samples = np.array(
            [_trial_errors(rng, act, half, Sigma, Sigma_star, n1, m, gamma, noise_var, B)
             for _ in range(trials)]
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


# --- structured targets, single-index teachers, disagreement, ensembles, training error ------------
#
# Written from the definitions (issues 9 and 11), independently of the engine's formulas.


def target_matrix(target_power, n0: int) -> np.ndarray | None:
    """B of β ~ N(0, B): None → None (B = I); a length-n0 vector b → diag(b); an n0 × n0 PSD matrix."""
    if target_power is None:
        return None
    b = np.asarray(target_power, dtype=float)
    if b.ndim == 1:
        if b.shape != (n0,) or np.any(b < 0) or not np.all(np.isfinite(b)):
            raise ValueError(f"target_power must be {n0} finite values >= 0, got shape {b.shape}")
        return np.diag(b)
    if b.shape != (n0, n0):
        raise ValueError(f"target_power matrix must be {n0}×{n0}, got {b.shape}")
    return 0.5 * (b + b.T)


def spectrum_covariances(lam, lam_star, weights, n0: int, target_power=None):
    """Diagonal (Σ, Σ*, b) at dimension n0 for atoms (λ_k, λ*_k, p_k, b_k): round(p_k n0) directions
    per atom by the largest-remainder rule. Returns the matrices, the per-direction target power and
    the realised weights counts/n0 (what the theory must use)."""
    w = np.asarray(weights, dtype=float)
    raw = w * n0
    counts = np.floor(raw).astype(int)
    short = n0 - counts.sum()
    order = np.lexsort((np.arange(w.size), -(raw - counts)))
    counts[order[:short]] += 1
    b = np.ones(len(w)) if target_power is None else np.asarray(target_power, dtype=float)
    return (np.diag(np.repeat(lam, counts)), np.diag(np.repeat(lam_star, counts)),
            np.repeat(b, counts), counts / n0)


def _act_fn(act):
    """NumPy callable of a student/teacher activation: the keys of _ACTS or anything rfshift knows."""
    if isinstance(act, str) and act in _ACTS:
        return _ACTS[act]
    from rfshift.activations import get_activation

    return get_activation(act).fn


def _relu_hermite(q: np.ndarray, order: int) -> np.ndarray:
    """Exact normalised Hermite coefficients of relu(√q g): √q·c_k with c_0 = 1/√(2π), c_1 = 1/2,
    c_k = φ(0) He_{k−2}(0)/√k! (k ≥ 2, from E[f He_k] = E[f^{(k)}] and relu'' = δ)."""
    c = np.zeros(order + 1)
    c[0] = 1 / math.sqrt(2 * math.pi)
    if order >= 1:
        c[1] = 0.5
    for k in range(2, order + 1):
        j = k - 2
        he0 = 0.0 if j % 2 else (-1) ** (j // 2) * float(np.prod(np.arange(j - 1, 0, -2)))
        c[k] = he0 / math.sqrt(2 * math.pi) / math.sqrt(math.factorial(k))
    return c[:, None] * np.sqrt(q)[None, :]


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(200)


def _teacher_hermite(act, q: float, order: int) -> np.ndarray:
    """h_k = E[f*(√q g) He_k(g)]/√k!, k = 0..order, by Gauss–Legendre on [−13, 13] split at the
    activation's breakpoints (accurate at kinks, unlike Gauss–Hermite)."""
    from rfshift.activations import get_activation

    a = get_activation(act)
    sd = math.sqrt(q)
    cuts = sorted({-13.0, 13.0, *(bp / sd for bp in a.breakpoints if abs(bp / sd) < 13.0)})
    g, wts = [], []
    for lo, hi in itertools.pairwise(cuts):
        g.append(0.5 * (hi - lo) * _GL_NODES + 0.5 * (hi + lo))
        wts.append(0.5 * (hi - lo) * _GL_WEIGHTS)
    g, wts = np.concatenate(g), np.concatenate(wts)
    vals = a.fn(sd * g) * wts * np.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)
    out = np.empty(order + 2)
    e_prev, e_cur = np.zeros_like(g), np.ones_like(g)
    for k in range(order + 2):
        out[k] = vals @ e_cur
        e_prev, e_cur = e_cur, (g * e_cur - math.sqrt(k) * e_prev) / math.sqrt(k + 1)
    # the last entry is E f*² (second moment), from the same nodes
    out[-1] = (a.fn(sd * g) ** 2 * wts * np.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)).sum()
    return out


def _student_hermite(act, q: np.ndarray, order: int) -> np.ndarray:
    if act == "relu":
        return _relu_hermite(q, order)
    return _hermite_coefficients(_act_fn(act), q, order)


def cross_feature_moments(act, C12: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """E σ(z1) σ(z2)ᵀ for two *different* weight matrices: z1 ~ N(0, diag q1), z2 ~ N(0, diag q2),
    Cov(z1, z2) = C12 (all correlations O(1/√n0))."""
    s1, s2 = np.sqrt(q1), np.sqrt(q2)
    if act == "relu":
        norm = np.outer(s1, s2)
        cos = np.clip(C12 / norm, -1.0, 1.0)
        theta = np.arccos(cos)
        return norm / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)
    if act == "erf":
        return (2 / np.pi) * np.arcsin(np.clip(2 * C12 / np.sqrt(np.outer(1 + 2 * q1, 1 + 2 * q2)), -1, 1))
    if act == "linear":
        return C12.copy()
    rho = C12 / np.outer(s1, s2)
    rmax = float(np.abs(rho).max())
    order = int(np.ceil(math.log(1e-14) / math.log(max(rmax, 1e-3))))
    if order > 120:  # pragma: no cover
        raise RuntimeError(f"Mehler series would need {order} terms (max |rho| = {rmax:.3f})")
    h1, h2 = _student_hermite(act, q1, order), _student_hermite(act, q2, order)
    M = np.zeros_like(C12)
    rk = np.ones_like(C12)
    for k in range(order + 1):
        M += np.outer(h1[k], h2[k]) * rk
        rk = rk * rho
    return M


def _teacher_student_cross(act, teacher, c: np.ndarray, q: np.ndarray, qt: float) -> np.ndarray:
    """e_i = E[f*(u) σ(z_i)] with u ~ N(0, qt), z_i ~ N(0, q_i), Cov(u, z_i) = c_i (Mehler)."""
    rho = c / np.sqrt(q * qt)
    rmax = float(np.abs(rho).max())
    order = int(np.ceil(math.log(1e-14) / math.log(max(rmax, 1e-3))))
    if order > 120 and act in ("relu", "erf"):
        # strong correlations (a spiked Σ): condition on u instead, E[f*(u) E[σ(z)|u]] with
        # z|u ~ N(ρ√(q/qt) u, q(1 − ρ²)); the inner mean is closed-form, the outer Gauss–Hermite
        u = math.sqrt(qt) * _GH_NODES  # (K,)
        mu = (c / qt)[:, None] * u[None, :]  # (n, K)
        sd = np.sqrt(np.maximum(q - c * c / qt, 1e-300))[:, None]
        if act == "relu":
            inner = mu * special.ndtr(mu / sd) + sd * np.exp(-0.5 * (mu / sd) ** 2) / math.sqrt(2 * math.pi)
        else:
            inner = special.erf(mu / np.sqrt(1 + 2 * sd * sd))
        return inner @ (_act_fn(teacher)(u) * _GH_WEIGHTS)
    if order > 120:  # pragma: no cover
        raise RuntimeError(f"Mehler series would need {order} terms (max |rho| = {rmax:.3f})")
    ht = _teacher_hermite(teacher, qt, order)[:-1]
    hs = _student_hermite(act, q, order)
    return np.sum(ht[:, None] * hs * rho[None, :] ** np.arange(order + 1)[:, None], axis=0)


def _solve_g(F: np.ndarray, gamma: float) -> np.ndarray:
    """G = F(FᵀF/n1 + γ)^{-1}/n1 (n1 × m), pseudo-inverse of Fᵀ at γ = 0; coefficients c = G Yᵀ."""
    n1, m = F.shape
    if n1 <= m:
        return np.linalg.solve(F @ F.T + n1 * gamma * np.eye(n1), F)
    return np.linalg.solve(F.T @ F + n1 * gamma * np.eye(m), F.T).T


#: the models of one trial: (index of W, index of the data (X, ε)); models 0..K−1 share the data
def _models(n_ens: int) -> list[tuple[int, int]]:
    return [(k, 0) for k in range(n_ens)] + [(0, 1)]


@dataclass(frozen=True)
class FullResult:
    """Means and standard errors (over independent trials) of every per-trial estimate.

    Keys (suffix ``_id``: the same models tested on Σ instead of Σ*): ``error``, ``bias``-free
    quantities ``dis_shared_data``, ``dis_shared_features``, ``dis_independent`` (E_x(f1 − f2)² for
    two models sharing (X, ε) / W / nothing, β always shared), ``ens{K}`` (error of the average of K
    models with independent W on the same data), ``ens_inf`` (K → ∞: yy − 2 E yf + Q_{Xε}),
    ``ens_wvar`` (= E_1 − E_∞, the W-variance), ``noise_part`` (E_x Var_ε ŷ, the label-noise
    variance), and, law-free, ``training_error`` ((1/m)‖y − ŷ(X)‖² on
    the noisy labels), ``gcv`` (training_error/(1 − df/m)²), ``df_ratio`` (df/m, df = tr K(K+γ)^{-1}).
    """

    mean: dict
    se: dict
    samples: dict
    trials: int
    phi: float
    psi: float

    def z(self, name: str, theory: float) -> float:
        return (theory - self.mean[name]) / self.se[name]


def _full_trial(rng, act, teacher, half, Sigma, Sigma_star, Bhalf, n1, m, gamma, noise_var, n_ens, ks):
    n0 = Sigma.shape[0]
    rt = math.sqrt(n0)
    models = _models(n_ens)
    n_data = 2
    W = [rng.standard_normal((n1, n0)) for _ in range(n_ens)]
    X = [half @ rng.standard_normal((n0, m)) for _ in range(n_data)]
    if teacher is not None:  # β sampled; labels f*(βᵀx/√n0), noise averaged exactly
        g = rng.standard_normal(n0)
        beta = g if Bhalf is None else Bhalf @ g
        Yc = [_act_fn(teacher)(beta @ x / rt) for x in X]
        BX = None
    else:
        BX = [x if Bhalf is None else Bhalf @ (Bhalf.T @ x) for x in X]
    Fs = [_act_fn(act)(W[iw] @ X[ix] / rt) for iw, ix in models]
    Gs = [_solve_g(F, gamma) for F in Fs]
    P = len(models)

    def label_cov(p, q):  # E_{β,ε}[Y_qᵀ Y_p] (m × m), linear target
        ip, iq = models[p][1], models[q][1]
        L = X[iq].T @ BX[ip] / n0
        if ip == iq:
            L[np.diag_indices(m)] += noise_var
        return L

    out = {}
    # training error and GCV on the training law (per model, averaged over the models)
    te, gcv, dfr = [], [], []
    for p, (_iw, ix) in enumerate(models):
        R = np.eye(m) - Fs[p].T @ Gs[p]  # residual operator (I − S), S = K(K+γ)^{-1}
        if teacher is None:
            L = label_cov(p, p)
            t = float(np.sum((R @ L) * R)) / m  # tr(R L Rᵀ)/m
        else:
            r = R @ Yc[ix]
            t = (float(r @ r) + noise_var * float(np.sum(R * R))) / m
        df = m - float(np.trace(R))
        te.append(t)
        dfr.append(df / m)
        gcv.append(t / (1 - df / m) ** 2 if m - df > 1e-9 * m else math.nan)
    out["training_error"] = float(np.mean(te))
    out["gcv"] = float(np.mean(gcv))
    out["df_ratio"] = float(np.mean(dfr))
    for sfx, S in (("", Sigma_star), ("_id", Sigma)):
        WS = [w @ S for w in W]
        q = [np.einsum("ij,ij->i", ws, w) / n0 for ws, w in zip(WS, W, strict=True)]
        Mw = {}
        for a in range(n_ens):
            Mw[a, a] = feature_test_moments(act, WS[a] @ W[a].T / n0)[0]
            for c in range(a + 1, n_ens):
                Mw[a, c] = cross_feature_moments(act, WS[a] @ W[c].T / n0, q[a], q[c])
                Mw[c, a] = Mw[a, c].T
        Gm = np.empty((P, P))
        yf = np.empty(P)
        if teacher is None:
            yy = float(np.sum(S * (np.eye(n0) if Bhalf is None else Bhalf @ Bhalf.T))) / n0
            for p, (iw, ix) in enumerate(models):
                d = _mean_slope(act, q[iw])
                yf[p] = float(np.sum(d[:, None] * (WS[iw] @ BX[ix]) * Gs[p])) / n0**1.5
            for p in range(P):
                for r in range(p, P):
                    L = label_cov(p, r)
                    A = Gs[p].T @ Mw[models[p][0], models[r][0]] @ Gs[r]
                    Gm[p, r] = Gm[r, p] = float(np.sum(A * L.T))
        else:
            qt = float(beta @ S @ beta) / n0
            ht = _teacher_hermite(teacher, qt, 0)
            yy = float(ht[-1])
            coef = [Gs[p] @ Yc[ix] for p, (iw, ix) in enumerate(models)]
            for p, (iw, _ix) in enumerate(models):
                e = _teacher_student_cross(act, teacher, WS[iw] @ beta / n0, q[iw], qt)
                yf[p] = float(coef[p] @ e)
            for p in range(P):
                for r in range(p, P):
                    Mpr = Mw[models[p][0], models[r][0]]
                    v = float(coef[p] @ Mpr @ coef[r])
                    if models[p][1] == models[r][1]:
                        v += noise_var * float(np.sum(Gs[p] * (Mpr @ Gs[r])))
                    Gm[p, r] = Gm[r, p] = v
        lin = yy - 2 * yf
        diag = np.diag(Gm)
        # label-noise variance E_x Var_ε ŷ = σ² tr(Gᵀ M G) of the models sharing the data
        out["noise_part" + sfx] = noise_var * float(np.mean(
            [np.sum(Gs[a] * (Mw[a, a] @ Gs[a])) for a in range(n_ens)]))
        out["error" + sfx] = float(np.mean(lin + diag))
        ens = list(range(n_ens))  # models sharing the data, independent W
        off = [Gm[a, c] for a in ens for c in ens if a != c] or [math.nan]  # n_ens = 1: not estimable
        out["dis_shared_data" + sfx] = 2 * (float(np.mean(diag[ens])) - float(np.mean(off)))
        o = P - 1  # model (W_0, data 1)
        out["dis_shared_features" + sfx] = diag[0] + diag[o] - 2 * Gm[0, o]
        out["dis_independent" + sfx] = (float(np.mean([diag[a] + diag[o] - 2 * Gm[a, o] for a in ens[1:]]))
                                        if n_ens > 1 else math.nan)
        lin_e = float(np.mean(lin[ens]))
        out["ens_inf" + sfx] = lin_e + float(np.mean(off))
        out["ens_wvar" + sfx] = float(np.mean(diag[ens])) - float(np.mean(off))
        for K in ks:  # direct: average the errors of the disjoint groups of K models
            groups = [ens[i:i + K] for i in range(0, n_ens - K + 1, K)]
            vals = [float(np.mean(lin[gr])) + float(np.mean(Gm[np.ix_(gr, gr)])) for gr in groups]
            out[f"ens{K}{sfx}"] = float(np.mean(vals))
    return out


def _mean_slope(act, q: np.ndarray) -> np.ndarray:
    """E σ'(z) for z ~ N(0, q) (= E[zσ(z)]/q)."""
    if act == "relu":
        return np.full(q.size, 0.5)
    if act == "erf":
        return 2.0 / np.sqrt(np.pi * (1.0 + 2.0 * q))
    if act == "linear":
        return np.ones(q.size)
    return _hermite_coefficients(_act_fn(act), q, 1)[1] / np.sqrt(q)


def simulate_full(
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
    target_power=None,
    teacher: str | None = None,
    n_ens: int = 4,
    ks: tuple[int, ...] = (1, 2, 4),
) -> FullResult:
    """Monte Carlo (plain NumPy) of error, disagreements, K-ensembles, training error and GCV.

    Per trial: fresh W_0..W_{n_ens−1} (n1 × n0), two independent training sets (X, ε) and, for a
    teacher, β. Models (W_k, data 0) for k < n_ens share the data; model (W_0, data 1) shares W_0.
    Linear target (``teacher=None``): y = βᵀx/√n0 + ε, β ~ N(0, B), exact in β, ε and x.
    Single-index teacher: y = f*(βᵀx/√n0) + ε with β ~ N(0, B) *sampled* (no trace trick), exact in
    ε and in x (Mehler series for E[f*(u) σ(z_i)]); the test error is against the clean f*(βᵀx/√n0).
    """
    Sigma = np.asarray(Sigma, dtype=float)
    Sigma_star = np.asarray(Sigma_star, dtype=float)
    n0 = Sigma.shape[0]
    m = round(n0 / phi)
    n1 = round(n0 / psi)
    if any(k > n_ens or n_ens % k for k in ks):
        raise ValueError(f"every K in ks={ks} must divide n_ens={n_ens}")
    B = target_matrix(target_power, n0)
    Bhalf = None if B is None else _sqrt_psd(B)
    rng = np.random.default_rng(seed)
    half = _sqrt_psd(Sigma)
    with threadpool_limits(1):
        rows = [_full_trial(rng, act, teacher, half, Sigma, Sigma_star, Bhalf, n1, m, gamma, noise_var,
                            n_ens, ks) for _ in range(trials)]
    samples = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    mean = {k: float(v.mean()) for k, v in samples.items()}
    se = {k: float(v.std(ddof=1) / math.sqrt(trials)) for k, v in samples.items()}
    return FullResult(mean, se, samples, trials, n0 / m, n0 / n1)
