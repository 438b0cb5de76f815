"""The finite random-feature model in JAX: trainings of one trial and their exact test statistics.

Model (THEORY.md §1, simulated as is, true activation including μ0): x ~ N(0, Σ), y = βᵀx/√n0 + ε,
β ~ N(0, I), W iid N(0, 1) (n1 × n0), F = σ(W X/√n0), ŷ(x) = cᵀ σ(W x/√n0) with coefficients

    c = F (K + γ I_m)^{-1} Yᵀ / n1 = (F Fᵀ/n1 + γ I_{n1})^{-1} F Yᵀ / n1,   K = FᵀF/n1.

The system is solved by Cholesky on the smaller Gram side (never an explicit inverse); at γ = 0 this
is the minimum-norm interpolator when n1 > m and the least-squares fit when n1 < m. A singular Gram
(γ = 0 with linear activation and n0 < min(n1, m), or numerically singular) is refused.

Test statistics per trial and test law (OOD Σ* = T Tᵀ, ID Σ = L Lᵀ), with P = W T (rows p_i):
C_ij = p_i·p_j/n0, exact kernels from ``kernels`` evaluated in B × B tiles (``block_rows`` = B; the
n1 × n1 matrix is never held), or ``test_points`` sampled x = T z in chunks otherwise.

Targets (issue 9): β ~ N(0, B) is drawn as β = B^{1/2} g (``target_factor``; None: B = I, β = g). A
single-index teacher (``cfg.teacher``) replaces the labels by y = f*(βᵀx/√n0) + ε; the test error is
against the clean f*(βᵀx/√n0). Exact path: E_x f*(u)² and E_x[f*(u) σ(g_j)] by Mehler's series
(``kernels.teacher_cross``); sampling path: f* applied to the sampled test points.

Training error (issue 11, ``cfg.training``): per training, (1/m)‖Y − ŷ(X)‖² on the noisy labels and
df = tr K(K + γ)^{-1} = (smaller side) − γ tr(Gram + γ)^{-1}, the trace from the Cholesky factor.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import cho_factor, cho_solve, solve_triangular

from .kernels import exact_kernel, jax_activation, teacher_cross
from .sampling import draw_trial, normal_test_points

__all__ = ["Config", "coefficients", "fit", "gram", "run_batch", "trial_statistics", "trial_statistics_jit"]


class Config(NamedTuple):
    """Static (shape-determining) settings of one compiled simulation."""

    n0: int
    n1: int
    m: int
    idx: tuple[tuple[int, int, int], ...]
    activation: str
    exact: bool
    diagonal: bool
    block_rows: int
    test_chunk: int
    n_test_chunks: int
    teacher: str | None = None
    training: bool = False
    exact_beta: bool = False

    @property
    def counts(self) -> tuple[int, int, int]:
        a = np.asarray(self.idx)
        return tuple(int(c) for c in a.max(axis=0) + 1)


def _left(factor: jax.Array, M: jax.Array, diagonal: bool) -> jax.Array:
    """factor @ M (factor diagonal when ``diagonal``)."""
    return factor[:, None] * M if diagonal else factor @ M


def _left_t(factor: jax.Array, v: jax.Array, diagonal: bool) -> jax.Array:
    """factorᵀ @ v."""
    return factor * v if diagonal else factor.T @ v


def gram(A: jax.Array, n_split: int | None = None) -> jax.Array:
    """A Aᵀ computing only the blocks on and above the diagonal of an n_split × n_split tiling
    (XLA has no symmetric rank-k update; this saves ~3/8 of the work for n_split = 4)."""
    n = A.shape[0]
    if n < 256:
        return A @ A.T
    if n_split is None:
        n_split = 8 if n >= 2048 else 4
    edges = [round(i * n / n_split) for i in range(n_split + 1)]
    rows = [A[edges[i]:edges[i + 1]] for i in range(n_split)]
    blocks = [[None] * n_split for _ in range(n_split)]
    for i in range(n_split):
        for j in range(i, n_split):
            blocks[i][j] = rows[i] @ rows[j].T
            if j > i:
                blocks[j][i] = blocks[i][j].T
    return jnp.block(blocks)


def coefficients(F: jax.Array, Y: jax.Array, gamma: jax.Array) -> jax.Array:
    """c = (F Fᵀ/n1 + γ)^{-1} F Y / n1, via Cholesky on the smaller Gram side."""
    n1, m = F.shape
    if n1 <= m:
        G = gram(F) / n1 + gamma * jnp.eye(n1, dtype=F.dtype)
        return cho_solve(cho_factor(G, lower=True), F @ Y / n1)
    K = gram(F.T) / n1 + gamma * jnp.eye(m, dtype=F.dtype)
    return F @ cho_solve(cho_factor(K, lower=True), Y) / n1


def fit(F: jax.Array, Y: jax.Array, gamma: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(c, training error (1/m)‖Y − Fᵀc‖², df = tr K(K + γ)^{-1}) for the fit of ``coefficients``.

    n1 <= m: df = n1 − γ tr(FFᵀ/n1 + γ)^{-1}; n1 > m: df = m − γ tr(K + γ)^{-1} and the residual is
    γ (K + γ)^{-1} Y. tr A^{-1} = ‖L^{-1}‖_F² from the Cholesky factor A = L Lᵀ.
    """
    n1, m = F.shape
    if n1 <= m:
        A = gram(F) / n1 + gamma * jnp.eye(n1, dtype=F.dtype)
        fac = cho_factor(A, lower=True)
        c = cho_solve(fac, F @ Y / n1)
        resid = Y - F.T @ c
        side = n1
    else:
        A = gram(F.T) / n1 + gamma * jnp.eye(m, dtype=F.dtype)
        fac = cho_factor(A, lower=True)
        alpha = cho_solve(fac, Y)
        c = F @ alpha / n1
        resid = gamma * alpha
        side = m
    Linv = solve_triangular(jnp.tril(fac[0]), jnp.eye(side, dtype=F.dtype), lower=True)
    df = side - gamma * jnp.sum(Linv * Linv)
    return c, jnp.sum(resid * resid) / m, df


def _teacher_terms(b, pb, d, cfg: Config):
    """Exact teacher statistics: yy (2,) = E f*(u)², s (2, nW, n1) = E[f*(u) σ(g_j)], max |ρ|."""
    qt = jnp.sum(b * b, axis=-1) / cfg.n0  # Var u per law

    def one_law(pb_t, d_t, q):
        def one_w(c, dd):
            return teacher_cross(cfg.activation, cfg.teacher, c, dd, q)

        return jax.vmap(one_w)(pb_t / cfg.n0, d_t)

    s, second, rho = jax.vmap(one_law)(pb, d, qt)
    return second[:, 0], s, jnp.max(rho)


def _exact_stats(W, factors, b, coef, cfg: Config, avg_info: dict | None = None):
    """Exact test statistics for both test laws at once; b (2, n0).

    Diagonal factors (2, n0): W (nW, n1, n0) and P = W·diag(f) is never formed (tiles scale on the
    fly). Dense factors: W is P itself, (2, nW, n1, n0). full[t, a, c] = coef K coefᵀ with
    K[i, j] = kernel(p_a,i·p_c,j/n0, d_a,i, d_c,j) is accumulated over B × B tiles (one ``lax.scan``);
    for a = c only tiles I <= J are computed (K is symmetric: a tile I < J contributes X + Xᵀ).

    ``cfg.exact_beta``: coef (P, n1, R) holds label *columns* c_p = C_p [g; e] with the first
    ``avg_info["rb"]`` columns for β = B^{1/2} g (or the one sampled-β column of a teacher) and m
    columns for the noise e; then E_{g,e}[c_pᵀ K c_q] = Σ_r c_p^rᵀ K c_q^r over the β columns plus the
    noise columns when p and q share ε, i.e. G exact in β and ε.
    """
    kern = exact_kernel(cfg.activation)
    iw = np.asarray(cfg.idx)[:, 0]
    n_law = b.shape[0]
    n_w, n1, n0 = W.shape[-3:]
    n_pred = coef.shape[0]
    B = cfg.block_rows
    nb = -(-n1 // B)
    pad = nb * B - n1
    if cfg.diagonal:
        d = jnp.einsum("wjn,tn->twj", W * W, factors * factors) / n0  # pre-activation variances
        pb = jnp.einsum("wjn,tn->twj", W, factors * b)  # p_j·b
        Wt = jnp.pad(W, ((0, 0), (0, pad), (0, 0))).reshape(n_w, nb, B, n0)
        f2 = factors * factors

        def cross(t, a, c, i, j):
            return (Wt[a, i] * f2[t][None, :]) @ Wt[c, j].T
    else:
        d = jnp.sum(W * W, axis=-1) / n0
        pb = jnp.einsum("twjn,tn->twj", W, b)
        Pt = jnp.pad(W, ((0, 0), (0, 0), (0, pad), (0, 0))).reshape(n_law, n_w, nb, B, n0)

        def cross(t, a, c, i, j):
            return Pt[t, a, i] @ Pt[t, c, j].T
    dt = jnp.pad(d, ((0, 0), (0, 0), (0, pad)), constant_values=1.0).reshape(n_law, n_w, nb, B)
    tiles = np.array([(t, a, c, i, j, int(a == c and i < j))
                      for t in range(n_law) for a in range(n_w) for c in range(a, n_w)
                      for i in range(nb) for j in range(i if a == c else 0, nb)])
    avg = coef.ndim == 3  # exact average over β and ε: coef (P, n1, R) = label columns (see below)
    if not avg:
        ct = jnp.pad(coef, ((0, 0), (0, pad))).reshape(n_pred, nb, B)

        def body(acc, tile):
            t, a, c, i, j, w = (tile[k] for k in range(6))
            Kb = kern.kernel(cross(t, a, c, i, j) / n0, dt[t, a, i][:, None], dt[t, c, j][None, :])
            X = ct[:, i] @ (Kb @ ct[:, j].T)
            return acc.at[t, a, c].add(X + w * X.T), None

        acc0 = jnp.zeros((n_law, n_w, n_w, n_pred, n_pred), coef.dtype)
    else:
        rb = avg_info["rb"]
        ct = jnp.pad(coef, ((0, 0), (0, pad), (0, 0))).reshape(n_pred, nb, B, coef.shape[-1])

        def body(acc, tile):
            t, a, c, i, j, w = (tile[k] for k in range(6))
            Kb = kern.kernel(cross(t, a, c, i, j) / n0, dt[t, a, i][:, None], dt[t, c, j][None, :])
            KC = jnp.einsum("bc,qcr->qbr", Kb, ct[:, j])
            ci = ct[:, i]
            X = jnp.stack([jnp.einsum("pbr,qbr->pq", ci[..., :rb], KC[..., :rb]),
                           jnp.einsum("pbr,qbr->pq", ci[..., rb:], KC[..., rb:])])
            return acc.at[t, a, c].add(X + w * jnp.swapaxes(X, -1, -2)), None

        acc0 = jnp.zeros((n_law, n_w, n_w, 2, n_pred, n_pred), coef.dtype)
    full, _ = lax.scan(body, acc0, jnp.asarray(tiles))
    lower = np.array([(t, a, c) for t in range(n_law) for a in range(n_w) for c in range(a + 1, n_w)])
    if lower.size:
        full = full.at[lower[:, 0], lower[:, 2], lower[:, 1]].set(
            jnp.swapaxes(full[lower[:, 0], lower[:, 1], lower[:, 2]], -1, -2))
    ar = np.arange(n_pred)
    if not avg:
        G = full[:, iw[:, None], iw[None, :], ar[:, None], ar[None, :]]
    else:  # β columns are shared by every pair, ε columns only by trainings with the same ε draw
        ie = np.asarray(cfg.idx)[:, 2]
        same_eps = jnp.asarray((ie[:, None] == ie[None, :]).astype(float))
        G = (full[:, iw[:, None], iw[None, :], 0, ar[:, None], ar[None, :]]
             + same_eps * full[:, iw[:, None], iw[None, :], 1, ar[:, None], ar[None, :]])
    if cfg.teacher is None and avg:
        # E_β[y ŷ_p]: Stein with β = B^{1/2} g, summed against the β columns (exact in β)
        slope = kern.mean_slope(d)  # (2, nW, n1)
        ws_b = avg_info["ws_b"]  # (2, nW, n1, n0): rows w_jᵀ Σ_t B^{1/2}
        yf = jnp.einsum("tpjr,pjr->tp", (slope[..., None] * ws_b)[:, iw], coef[..., :rb]) / n0
        return avg_info["yy"], yf, G, jnp.zeros(())
    if cfg.teacher is None:
        # Stein: E[y σ(g_j)] = (βᵀΣ*w_j/n0) E σ'(g_j) = (p_j·b/n0) E σ'(g_j)
        s = pb / n0 * kern.mean_slope(d)
        yy = jnp.sum(b * b, axis=-1) / n0
        rho = jnp.zeros(())
    else:
        yy, s, rho = _teacher_terms(b, pb, d, cfg)
    beta_coef = coef[..., 0] if avg else coef  # teacher: one β column (β sampled)
    yf = jnp.sum(beta_coef[None] * s[:, iw], axis=-1)
    return yy, yf, G, rho


def _sampled_stats(Pw, b, coef, test_key, cfg: Config):
    """Sampled test statistics for both laws; the same test normals z give x = T z and x = L z."""
    act = jax_activation(cfg.activation)
    teach = None if cfg.teacher is None else jax_activation(cfg.teacher)
    iw = np.asarray(cfg.idx)[:, 0]
    ar = np.arange(coef.shape[0])
    rt = math.sqrt(cfg.n0)

    def body(carry, i):
        z = normal_test_points(test_key, cfg.test_chunk, cfg.n0, i)
        y = jnp.einsum("tn,kn->tk", b, z) / rt  # (2, chunk)
        if teach is not None:
            y = teach(y)
        H = act(jnp.einsum("twjn,kn->twjk", Pw, z) / rt)  # (2, nW, n1, chunk)
        preds = jnp.einsum("pj,twjk->twpk", coef, H)[:, iw, ar]  # (2, P, chunk)
        G, yf, yy = carry
        return (G + jnp.einsum("tpk,tqk->tpq", preds, preds), yf + jnp.einsum("tpk,tk->tp", preds, y),
                yy + jnp.sum(y * y, axis=-1)), None

    n_pred = coef.shape[0]
    init = (jnp.zeros((2, n_pred, n_pred)), jnp.zeros((2, n_pred)), jnp.zeros(2))
    (G, yf, yy), _ = lax.scan(body, init, jnp.arange(cfg.n_test_chunks))
    n_test = cfg.test_chunk * cfg.n_test_chunks
    return yy / n_test, yf / n_test, G / n_test


def _project(W: jax.Array, factors: jax.Array) -> jax.Array:
    """P = W T for both dense factors: (2, nW, n1, n0)."""
    return jnp.einsum("wjn,tnk->twjk", W, factors)


def trial_statistics(draws: dict, train_factor: jax.Array, test_factor: jax.Array, noise_sd: jax.Array,
                     gamma: jax.Array, cfg: Config, target_factor: jax.Array | None = None
                     ) -> dict[str, jax.Array]:
    """Pair statistics of one trial: ``yy`` (2,), ``yf`` (2, P), ``G`` (2, P, P); index 0 = OOD, 1 = ID.

    yy = E_x y², yf[p] = E_x[y ŷ_p], G[p, q] = E_x[ŷ_p ŷ_q] over the test law (see ``estimators``),
    y the clean target. With ``cfg.training``: ``train`` (P,) training errors on the noisy labels and
    ``df`` (P,); with a teacher on the exact path: ``rho`` (), the largest |ρ| of the Mehler series.
    ``target_factor``: B^{1/2} (vector: diagonal) of β ~ N(0, B), None for B = I.
    """
    act = jax_activation(cfg.activation)
    idx = jnp.asarray(np.asarray(cfg.idx))
    rt = math.sqrt(cfg.n0)
    beta, W, Z, E = draws["beta"], draws["W"], draws["Z"], draws["E"]
    if target_factor is not None:
        beta = target_factor * beta if target_factor.ndim == 1 else target_factor @ beta
    X = jax.vmap(lambda z: _left(train_factor, z, cfg.diagonal))(Z)  # (nX, n0, m)
    y_clean = jnp.einsum("n,xnm->xm", _left_t(train_factor, beta, cfg.diagonal), Z) / rt
    if cfg.teacher is not None:
        y_clean = jax_activation(cfg.teacher)(y_clean)

    if cfg.exact_beta:  # label columns (m, R): [Xᵀ B^{1/2}/√n0 | σ I] or [f*(Xᵀβ/√n0) | σ I]
        if cfg.teacher is None:
            bh = jnp.ones(cfg.n0, dtype=Z.dtype) if target_factor is None else target_factor
            if cfg.diagonal and bh.ndim == 1:
                lb = train_factor * bh  # L B^{1/2} (diagonal)
                beta_cols = jnp.einsum("xnm,n->xmn", Z, lb) / rt
            else:
                Lm = jnp.diag(train_factor) if cfg.diagonal else train_factor
                lb = Lm.T * bh[None, :] if bh.ndim == 1 else Lm.T @ bh  # Lᵀ B^{1/2}
                beta_cols = jnp.einsum("xnm,nk->xmk", Z, lb) / rt
        else:
            beta_cols = y_clean[..., None]
        eye = noise_sd * jnp.eye(cfg.m, dtype=Z.dtype)

    def train(p):
        iw, ix, ie = idx[p, 0], idx[p, 1], idx[p, 2]
        F = act(W[iw] @ X[ix] / rt)
        if cfg.exact_beta:
            Y = jnp.concatenate([beta_cols[ix], eye], axis=1)
        else:
            Y = y_clean[ix] + noise_sd * E[ie]
        if cfg.training:
            return fit(F, Y, gamma)
        return coefficients(F, Y, gamma)

    extra: dict[str, jax.Array] = {}
    if cfg.training:
        coef, extra["train"], extra["df"] = lax.map(train, jnp.arange(len(cfg.idx)))
    else:
        coef = lax.map(train, jnp.arange(len(cfg.idx)))  # (P, n1)
    factors = jnp.stack([test_factor, train_factor])  # OOD (Σ*), ID (Σ)
    if cfg.diagonal:
        b = factors * beta[None, :]
    else:
        b = jnp.einsum("tnk,n->tk", factors, beta)
    avg_info = None
    if cfg.exact_beta:
        if not cfg.exact:
            raise ValueError("exact_beta needs an activation with a closed-form test kernel")
        avg_info = {"rb": 1 if cfg.teacher is not None else cfg.n0}
        if cfg.teacher is None:  # w_jᵀ Σ_t B^{1/2} rows and E_β y² = tr(Σ_t B)/n0
            bh = jnp.ones(cfg.n0, dtype=W.dtype) if target_factor is None else target_factor
            if cfg.diagonal and bh.ndim == 1:
                fb = factors * factors * bh[None, :]  # (2, n0)
                avg_info["ws_b"] = W[None] * fb[:, None, None, :]
                avg_info["yy"] = jnp.sum(factors * factors * bh * bh, axis=-1) / cfg.n0
            else:
                Tm = jax.vmap(jnp.diag)(factors) if cfg.diagonal else factors  # (2, n0, n0)
                tb = jnp.einsum("tnk,n->tkn", Tm, bh) if bh.ndim == 1 else jnp.einsum("tnk,nl->tkl", Tm, bh)
                avg_info["ws_b"] = jnp.einsum("wjn,tnk,tkl->twjl", W, Tm, tb)
                avg_info["yy"] = jnp.sum(tb * tb, axis=(-2, -1)) / cfg.n0
    if cfg.exact:
        yy, yf, G, rho = _exact_stats(W if cfg.diagonal else _project(W, factors), factors, b, coef, cfg,
                                      avg_info)
        if cfg.teacher is not None:
            extra["rho"] = rho
        return {"yy": yy, "yf": yf, "G": G, **extra}
    Pw = W[None] * factors[:, None, None, :] if cfg.diagonal else _project(W, factors)
    yy, yf, G = _sampled_stats(Pw, b, coef, draws["test_key"], cfg)
    return {"yy": yy, "yf": yf, "G": G, **extra}


trial_statistics_jit = jax.jit(trial_statistics, static_argnames=("cfg",))


@partial(jax.jit, static_argnames=("cfg",))
def run_batch(keys: jax.Array, train_factor: jax.Array, test_factor: jax.Array, noise_sd: jax.Array,
              gamma: jax.Array, cfg: Config, target_factor: jax.Array | None = None) -> dict[str, jax.Array]:
    """``trial_statistics`` for trial keys of shape (n_dev, per_dev, 2): ``vmap`` over the leading
    (device-sharded) axis, ``lax.map`` (sequential, memory-bounded) over the trials of each device."""

    def one(key):
        draws = draw_trial(key, cfg.n0, cfg.n1, cfg.m, cfg.counts)
        return trial_statistics(draws, train_factor, test_factor, noise_sd, gamma, cfg, target_factor)

    if keys.shape[0] == 1:  # one device: no batch axis in the compiled program (faster to compile)
        return jax.tree_util.tree_map(lambda a: a[None], lax.map(one, keys[0]))
    return jax.vmap(lambda ks: lax.map(one, ks))(keys)
