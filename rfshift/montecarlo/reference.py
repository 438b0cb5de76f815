"""Plain NumPy/SciPy float64 implementation of one trial (independent of the JAX code).

Used by the tests (same draws → same numbers to 1e-10) and by ``benchmarks/montecarlo.py`` (the
numpy baseline). Straightforward formulas with full n1 × n1 kernel matrices; no chunking.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg, special

__all__ = ["NUMPY_ACTIVATIONS", "reference_trial", "reference_trial_exact_beta"]

NUMPY_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "erf": special.erf,
    "linear": lambda x: x,
    "tanh": np.tanh,
}


def _kernel(name: str, C: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    if name == "relu":  # arc-cosine kernel, written with arctan2
        nrm = np.sqrt(np.outer(d1, d2))
        sin_part = np.sqrt(np.maximum(nrm**2 - C**2, 0.0))
        theta = np.arctan2(sin_part, C)
        return (sin_part + (math.pi - theta) * C) / (2 * math.pi)
    if name == "erf":
        return 2 / math.pi * np.arcsin(2 * C / np.sqrt(np.outer(1 + 2 * d1, 1 + 2 * d2)))
    if name == "linear":
        return C
    raise ValueError(f"no reference kernel for {name!r}")


def _slope(name: str, d: np.ndarray) -> np.ndarray:
    return {"relu": 0.5 + 0 * d, "erf": 2 / np.sqrt(math.pi * (1 + 2 * d)), "linear": 1 + 0 * d}[name]


def reference_trial(beta, W, Z, E, L, T, noise_sd, gamma, idx, activation, z_test=None, *,
                    teacher=None, target_factor=None, z_teacher=None) -> dict:
    """Pair statistics ``yy`` (2,), ``yf`` (2, P), ``G`` (2, P, P) of one trial (0 = OOD, 1 = ID),
    and per training ``train`` (P,) = (1/m)‖Y − Fᵀc‖² and ``df`` (P,) = Σ μ/(μ + γ) over the
    eigenvalues μ of the Gram matrix.

    L, T: dense factors of Σ and Σ* (or 1-D diagonals). ``z_test``: standard-normal test points
    (n_test × n0) for the sampling path, None for the exact kernels. ``target_factor``: B^{1/2}
    (vector: diagonal), β ← B^{1/2} β. ``teacher``: a name in NUMPY_ACTIVATIONS, labels f*(βᵀx/√n0);
    on the exact path its terms yy, yf are *sampled* over ``z_teacher`` (an independent check of the
    simulator's Mehler series), G stays exact.
    """
    Lm = np.diag(L) if np.ndim(L) == 1 else np.asarray(L)
    Tm = np.diag(T) if np.ndim(T) == 1 else np.asarray(T)
    n0 = beta.size
    if target_factor is not None:
        beta = target_factor * beta if np.ndim(target_factor) == 1 else np.asarray(target_factor) @ beta
    sig = NUMPY_ACTIVATIONS[activation]
    fstar = (lambda u: u) if teacher is None else NUMPY_ACTIVATIONS[teacher]
    coefs, wsel, train, dfs = [], [], [], []
    for iw, ix, ie in idx:
        X = Lm @ Z[ix]
        Y = fstar(beta @ X / math.sqrt(n0)) + noise_sd * E[ie]
        F = sig(W[iw] @ X / math.sqrt(n0))
        n1, m = F.shape
        if n1 <= m:
            A = F @ F.T / n1 + gamma * np.eye(n1)
            c = linalg.cho_solve(linalg.cho_factor(A), F @ Y / n1)
        else:
            K = F.T @ F / n1 + gamma * np.eye(m)
            c = F @ linalg.cho_solve(linalg.cho_factor(K), Y) / n1
        coefs.append(c)
        wsel.append(iw)
        r = Y - F.T @ c
        train.append(r @ r / m)
        mu = np.linalg.eigvalsh(F @ F.T / n1 if n1 <= m else F.T @ F / n1)
        dfs.append(float(np.sum(mu / (mu + gamma))))
    coefs = np.array(coefs)
    out = {"yy": [], "yf": [], "G": []}
    for S in (Tm, Lm):
        b = S.T @ beta
        P = [w @ S for w in W]
        if z_test is None:
            d = [np.einsum("ij,ij->i", p, p) / n0 for p in P]
            n_w = len(W)
            full = {}
            for a in range(n_w):
                for c in range(a, n_w):
                    Kmat = _kernel(activation, P[a] @ P[c].T / n0, d[a], d[c])
                    full[a, c] = coefs @ Kmat @ coefs.T
                    full[c, a] = full[a, c].T
            n_pred = len(idx)
            G = np.array([[full[wsel[p], wsel[q]][p, q] for q in range(n_pred)] for p in range(n_pred)])
            if teacher is None:
                yf = np.array([coefs[p] @ ((P[wsel[p]] @ b) / n0 * _slope(activation, d[wsel[p]]))
                               for p in range(n_pred)])
                yy = b @ b / n0
            else:
                y = fstar(z_teacher @ b / math.sqrt(n0))
                preds = np.array([coefs[p] @ sig(P[wsel[p]] @ z_teacher.T / math.sqrt(n0))
                                  for p in range(n_pred)])
                yf = preds @ y / len(y)
                yy = y @ y / len(y)
        else:
            y = fstar(z_test @ b / math.sqrt(n0))
            preds = np.array([coefs[p] @ sig(P[wsel[p]] @ z_test.T / math.sqrt(n0))
                              for p in range(len(idx))])
            G = preds @ preds.T / len(y)
            yf = preds @ y / len(y)
            yy = y @ y / len(y)
        out["yy"].append(yy)
        out["yf"].append(yf)
        out["G"].append(G)
    return {**{k: np.array(v) for k, v in out.items()}, "train": np.array(train), "df": np.array(dfs)}


def reference_trial_exact_beta(W, Z, L, T, Bh, noise_sd, gamma, idx, activation) -> dict:
    """Statistics of one trial averaged exactly over β ~ N(0, B) (B = Bh Bhᵀ; Bh a vector: diagonal)
    and ε, for a linear target (exact kernels). Trace formulas with the explicit solve matrices
    A_p = F_p(F_pᵀF_p/n1 + γ)^{-1}/n1 (n1 × m), c_p = A_p Y_pᵀ:

        G[p, q] = tr(A_pᵀ K_pq A_q E[Y_qᵀ Y_p]),  E[Y_qᵀ Y_p] = X_qᵀ B X_p/n0 + σ² 1{same ε} I,
        yf[p] = Σ_ij E σ'(g_i) (W Σ_t B X_p)_ij (A_p)_ij / n0^{3/2},   yy = tr(Σ_t B)/n0,
        train[p] = tr(R E[YᵀY] Rᵀ)/m with R = I − F_pᵀ A_p, df[p] = tr F_pᵀ A_p.
    """
    Lm = np.diag(L) if np.ndim(L) == 1 else np.asarray(L)
    Tm = np.diag(T) if np.ndim(T) == 1 else np.asarray(T)
    Bhm = np.diag(Bh) if np.ndim(Bh) == 1 else np.asarray(Bh)
    Bm = Bhm @ Bhm.T
    n0 = Lm.shape[0]
    sig = NUMPY_ACTIVATIONS[activation]
    Xs = [Lm @ z for z in Z]
    As, Fs = [], []
    for iw, ix, _ie in idx:
        F = sig(W[iw] @ Xs[ix] / math.sqrt(n0))
        n1 = F.shape[0]
        As.append(np.linalg.solve(F @ F.T / n1 + gamma * np.eye(n1), F) / n1)
        Fs.append(F)

    def label_cov(p, q):  # E[Y_qᵀ Y_p]
        L_ = Xs[idx[q][1]].T @ Bm @ Xs[idx[p][1]] / n0
        if idx[p][2] == idx[q][2]:
            L_ = L_ + noise_sd**2 * np.eye(L_.shape[0])
        return L_

    out = {"yy": [], "yf": [], "G": []}
    for Tt in (Tm, Lm):
        S = Tt @ Tt.T
        P = [w @ Tt for w in W]
        d = [np.einsum("ij,ij->i", p, p) / n0 for p in P]
        G = np.empty((len(idx), len(idx)))
        for p in range(len(idx)):
            for q in range(len(idx)):
                a, c = idx[p][0], idx[q][0]
                K = _kernel(activation, P[a] @ P[c].T / n0, d[a], d[c])
                G[p, q] = np.sum((As[p].T @ K @ As[q]) * label_cov(p, q).T)
        yf = np.array([np.sum(_slope(activation, d[iw])[:, None] * (W[iw] @ S @ Bm @ Xs[ix]) * As[p])
                       for p, (iw, ix, _ie) in enumerate(idx)]) / n0**1.5
        out["yy"].append(np.sum(S * Bm) / n0)
        out["yf"].append(yf)
        out["G"].append(G)
    train, dfs = [], []
    for p in range(len(idx)):
        Sm = Fs[p].T @ As[p]
        R = np.eye(Sm.shape[0]) - Sm
        train.append(np.sum((R @ label_cov(p, p)) * R) / R.shape[0])
        dfs.append(np.trace(Sm))
    return {**{k: np.array(v) for k, v in out.items()}, "train": np.array(train), "df": np.array(dfs)}
