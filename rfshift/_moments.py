"""Spectral moments as functions of the effective ridge k = k_x > 0.

Every quantity of THEORY.md §4–7 is a weighted sum over the atoms of one of

    q = λ/(λ+k),  q²,  d2 = λ/(λ+k)²,  u = k/(λ+k),  u²,  uq = u·q

with weight columns such as p, pλ*, pλ. Two evaluators return the same table:

* :func:`exact_moments` sums over the atoms for every point (cost O(points × atoms));
* :class:`ChebyshevMoments` interpolates each moment in y = log k by piecewise Chebyshev polynomials
  (unit panels, 20 Chebyshev–Lobatto nodes) built from exact sums at the nodes (cost
  O(nodes × atoms + points)). Each moment is analytic in the strip |Im y| < π (its poles sit at
  k = −λ, i.e. Im y = ±π), so on the Bernstein ellipse of semi-minor axis π/2 around a unit
  panel the interpolation error is below ~1e-15 of the moment's size on the panel. The build
  checks the decay of the Chebyshev coefficients and refuses (falls back to exact sums) if it is not
  reached. Outside the tabulated range, points are evaluated exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KINDS", "MARGIN", "WIDTH", "ChebyshevMoments", "exact_moments"]

KINDS = ("q", "qq", "d2", "u", "uu", "uq")

#: Target number of (point × atom) entries per block of work; keeps temporaries in cache.
_BLOCK = 1 << 17
#: Chebyshev–Lobatto nodes per panel and panel width in y = log k.
_NODES = 14
WIDTH = 0.5
#: Extra range (in log k) tabulated beyond the smallest and largest positive eigenvalue.
MARGIN = 10.0
#: Largest acceptable size of the two last Chebyshev coefficients, relative to the panel maximum.
_DECAY_TOL = 1e-15


def _blocks(n_points: int, n_atoms: int) -> list[slice]:
    size = max(1, _BLOCK // max(n_atoms, 1))
    return [slice(i, min(i + size, n_points)) for i in range(0, n_points, size)]


def exact_moments(
    kx: np.ndarray, lam: np.ndarray, cols: np.ndarray, kinds: tuple[str, ...] = KINDS
) -> dict[str, np.ndarray]:
    """Σ_atoms g(λ, k)·cols for g in ``kinds``; returns ``{kind: (points × J)}``.

    Exact at k = 0 as well (u = 1[λ=0], q = 1[λ>0], d2 = 1[λ>0]/λ).
    """
    kx = np.asarray(kx, dtype=float)
    n, j = kx.size, cols.shape[1]
    out = {key: np.empty((n, j)) for key in kinds}
    pos = lam > 0
    all_pos = bool(pos.all())  # then the masks below are no-ops: skip them
    inv_lam = np.where(pos, 1.0 / np.where(pos, lam, 1.0), 0.0)
    for sl in _blocks(n, lam.size):
        k = kx[sl, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / (lam + k)
            q = lam * inv if all_pos else np.where(pos, lam * inv, 0.0)
            u = k * inv if all_pos else np.where(pos, k * inv, 1.0)
            if "d2" in kinds:
                d2 = q * inv if all_pos else np.where(pos, q * inv, 0.0)
                zero = kx[sl] == 0
                if zero.any():
                    d2[zero] = inv_lam
        for key in kinds:
            if key == "q":
                g = q
            elif key == "qq":
                g = q * q
            elif key == "d2":
                g = d2
            elif key == "u":
                g = u
            elif key == "uu":
                g = u * u
            else:
                g = u * q
            out[key][sl] = g @ cols
    return out


def _cheb_nodes(n: int) -> np.ndarray:
    return np.cos(np.pi * np.arange(n) / (n - 1))  # Chebyshev–Lobatto, from +1 down to −1


def _values_to_coefficients(n: int) -> np.ndarray:
    """Matrix M with coef = M @ values at Lobatto nodes (discrete cosine transform, type I)."""
    j = np.arange(n)
    M = np.cos(np.pi * np.outer(j, j) / (n - 1)) * (2.0 / (n - 1))
    M[:, 0] *= 0.5
    M[:, -1] *= 0.5
    M[0, :] *= 0.5
    M[-1, :] *= 0.5
    return M


def _cheb_basis(x: np.ndarray, n: int) -> np.ndarray:
    """T_k(x) for k < n as an (n, len(x)) array (rows contiguous)."""
    T = np.empty((n, x.size))
    T[0] = 1.0
    if n > 1:
        T[1] = x
    x2 = 2.0 * x
    for k in range(2, n):
        np.multiply(x2, T[k - 1], out=T[k])
        T[k] -= T[k - 2]
    return T


class ChebyshevMoments:
    """Piecewise-Chebyshev table of the moments of a spectrum in y = log k (see module doc).

    Panels are built lazily, when a point first lands in them. A panel whose Chebyshev coefficients
    do not decay to ``_DECAY_TOL`` is marked bad and its points are summed exactly.
    """

    def __init__(self, lam: np.ndarray, cols: np.ndarray, kinds: tuple[str, ...] = KINDS) -> None:
        self.lam, self.cols, self.kinds = lam, cols, kinds
        pos = lam[lam > 0]
        lo = np.floor(np.log(pos.min()) - MARGIN)
        hi = np.ceil(np.log(pos.max()) + MARGIN)
        n_pan = max(1, int(np.ceil((hi - lo) / WIDTH)))
        self.y0, self.n_pan = float(lo), n_pan
        self.y1 = self.y0 + n_pan * WIDTH
        self.n_fun = len(kinds) * cols.shape[1]
        self.coef = np.zeros((n_pan, _NODES, self.n_fun))
        self.built = np.zeros(n_pan, dtype=bool)
        self.bad = np.zeros(n_pan, dtype=bool)
        self._M = _values_to_coefficients(_NODES)
        self._x = _cheb_nodes(_NODES)
        # Panel edges y0 + i·width with the exact a1 = ⟨q⟩ and ⟨uq⟩ (first weight column) there,
        # for bracketing roots without evaluating the table.
        y_e = self.y0 + WIDTH * np.arange(n_pan + 1)
        ex = exact_moments(np.exp(y_e), lam, cols[:, :1], ("q", "uq"))
        self.edges = (y_e, ex["q"][:, 0], ex["uq"][:, 0])

    def _build(self, panels: np.ndarray) -> None:
        new = panels[~self.built[panels]]
        if new.size == 0:
            return
        centers = self.y0 + WIDTH * (new + 0.5)
        ynodes = centers[:, None] + 0.5 * WIDTH * self._x[None, :]
        vals = exact_moments(np.exp(ynodes.ravel()), self.lam, self.cols, self.kinds)
        stacked = np.stack([vals[k] for k in self.kinds], axis=1).reshape(new.size, _NODES, self.n_fun)
        coef = np.einsum("kj,pjf->pkf", self._M, stacked)
        scale = np.abs(stacked).max(axis=1)
        tail = np.abs(coef[:, -2:, :]).max(axis=1)
        # The node values are sums over the atoms and carry round-off ~ eps·sqrt(n_atoms); the tail
        # can decay no further than that.
        tol = max(_DECAY_TOL, 8.0 * np.finfo(float).eps * np.sqrt(self.lam.size))
        good = np.all(tail <= tol * np.maximum(scale, np.finfo(float).tiny) + 1e-300, axis=1)
        # ``built`` last: a table shared between calls is then never read half-written
        self.coef[new] = coef
        self.bad[new] = ~good
        self.built[new] = True

    def __call__(
        self, kx: np.ndarray, kinds: tuple[str, ...] | None = None, first_column: bool = False
    ) -> dict[str, np.ndarray]:
        """Moments at ``kx`` for ``kinds`` (all weight columns, or only the first one)."""
        kinds = self.kinds if kinds is None else kinds
        kx = np.asarray(kx, dtype=float)
        Jall = self.cols.shape[1]
        J = 1 if first_column else Jall
        fidx = np.concatenate([np.arange(J) + Jall * self.kinds.index(k) for k in kinds])
        out = np.empty((kx.size, fidx.size))
        with np.errstate(divide="ignore"):
            y = np.log(kx)
        pan = np.full(kx.size, -1, dtype=np.int64)
        inside = (y >= self.y0) & (y <= self.y1)
        pan[inside] = np.minimum(np.floor((y[inside] - self.y0) * (1.0 / WIDTH)).astype(np.int64),
                                 self.n_pan - 1)
        used = np.flatnonzero(np.bincount(pan[inside], minlength=self.n_pan))
        self._build(used)
        inside[inside] = ~self.bad[pan[inside]]
        if not inside.all():
            ex = exact_moments(kx[~inside], self.lam, self.cols[:, :J], kinds)
            out[~inside] = np.concatenate([ex[k] for k in kinds], axis=1)
        idx = np.flatnonzero(inside)
        if idx.size:
            order = idx[np.argsort(pan[idx], kind="stable")]
            ps = pan[order]
            xs = 2.0 * (y[order] - (self.y0 + WIDTH * ps)) / WIDTH - 1.0
            T = _cheb_basis(xs, _NODES)
            res = np.empty((order.size, fidx.size))
            bounds = np.searchsorted(ps, np.arange(self.n_pan + 1))
            for pnl in np.flatnonzero(np.diff(bounds)):
                a, b = bounds[pnl], bounds[pnl + 1]
                res[a:b] = T[:, a:b].T @ self.coef[pnl][:, fidx]
            out[order] = res
        return {k: out[:, i * J:(i + 1) * J] for i, k in enumerate(kinds)}
