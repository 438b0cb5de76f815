"""Plain NumPy/SciPy float64 implementation of one trial (independent of the JAX code).

Used by the tests (same draws → same numbers to 1e-10) and by ``benchmarks/montecarlo.py`` (the
numpy baseline). Straightforward formulas with full n1 × n1 kernel matrices; no chunking.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg, special

__all__ = ["NUMPY_ACTIVATIONS", "reference_trial"]

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
