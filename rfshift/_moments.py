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

import contextlib

import numpy as np

__all__ = ["KINDS", "MARGIN", "WIDTH", "ChebyshevMoments", "exact_moments", "point_moments"]

KINDS = ("q", "qq", "d2", "u", "uu", "uq")

#: Target number of (point × atom) entries per block of work: 128 KiB temporaries stay in L2 cache
#: (2^17 was 5× slower on the table build, benchmarks/engine.py).
_BLOCK = 1 << 14
#: The same for :class:`_NodeSums` (one temporary per block; 2^15 was fastest at 1,000 atoms).
_BLOCK_SUMS = 1 << 15
#: Chebyshev–Lobatto nodes per panel and panel width in y = log k.
_NODES = 14
WIDTH = 0.5
#: Extra range (in log k) tabulated beyond the smallest and largest positive eigenvalue.
MARGIN = 10.0
#: Largest acceptable size of the two last Chebyshev coefficients, relative to the panel maximum.
_DECAY_TOL = 1e-15


_QUIET = contextlib.nullcontext()


def _blocks(n_points: int, n_atoms: int, block: int = _BLOCK) -> list[slice]:
    size = max(1, block // max(n_atoms, 1))
    return [slice(i, min(i + size, n_points)) for i in range(0, n_points, size)]


def _kernels(k: np.ndarray | float, lam: np.ndarray, pos: np.ndarray | None,
             kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """g(λ, k) for each kind, broadcasting ``k`` against ``lam`` (the one home of these formulas).

    ``pos`` is the mask λ > 0, or None when every λ > 0 (then no masking is needed). Exact at k = 0
    as well (u = 1[λ=0], q = 1[λ>0], d2 = 1[λ>0]/λ).
    """
    # (one k > 0 needs no errstate: λ + k > 0; the call is the engine's one-point path)
    one_k = type(k) in (float, np.float64) and k > 0
    with _QUIET if one_k else np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / (lam + k)
        q = lam * inv if pos is None else np.where(pos, lam * inv, 0.0)
        u = k * inv if pos is None else np.where(pos, k * inv, 1.0)
        g: dict[str, np.ndarray] = {}
        for key in kinds:
            if key == "q":
                g[key] = q
            elif key == "qq":
                g[key] = q * q
            elif key == "d2":
                g[key] = q * inv if pos is None else np.where(pos, q * inv, 0.0)
            elif key == "u":
                g[key] = u
            elif key == "uu":
                g[key] = u * u
            else:
                g[key] = u * q
    return g


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
    mask = None if pos.all() else pos
    inv_lam = np.where(pos, 1.0 / np.where(pos, lam, 1.0), 0.0)
    for sl in _blocks(n, lam.size):
        g = _kernels(kx[sl, None], lam, mask, kinds)
        if "d2" in kinds:
            zero = kx[sl] == 0
            if zero.any():
                g["d2"][zero] = inv_lam
        for key in kinds:
            out[key][sl] = g[key] @ cols
    return out


#: Each kind as (c, b, a): g = k^a λ^b r^c with r = 1/(λ + k) — the form :func:`_node_sums` uses.
_POWERS = {"q": (1, 1, 0), "u": (1, 0, 1), "qq": (2, 2, 0), "d2": (2, 1, 0), "uq": (2, 1, 1), "uu": (2, 0, 2)}
#: :func:`_node_sums` applies where every λ > 0 and every k lie in [1/_SAFE, _SAFE] (then r², λ², k²
#: and the scaled weight columns are normal floats); elsewhere :func:`exact_moments` is used.
_SAFE = 1e100


class _NodeSums:
    """Σ_atoms g(λ, k)·cols at many k > 0 for one spectrum, as ``{kind: (J × points)}`` (function-major).

    With r = 1/(λ + k) every kind is k^a λ^b r^c (``_POWERS``): q = λr, u = kr, qq = λ²r², d2 = λr²,
    uq = kλr², uu = k²r². So one division and one square per (point, atom) and two BLAS products
    with the weight columns scaled by λ^b give every moment; the factor k^a multiplies the sums. All
    terms are non-negative (the weight columns are), so this is as accurate as summing g·cols directly.
    The product is taken as (columns × atoms) @ (atoms × points) — with OpenBLAS this kernel sums
    the 1,000 atoms of the benchmark to ~5e-16 relative where (points × atoms) @ (atoms × columns) in
    small blocks gives ~4e-15. Used for the Chebyshev nodes and panel edges (``k`` inside the table's
    range); returns None when the scaled columns or the range are not safe (see ``_SAFE``), and the
    caller then uses :func:`exact_moments`.
    """

    def __init__(self, lam: np.ndarray, cols: np.ndarray, kinds: tuple[str, ...]) -> None:
        self.lam, self.kinds, self.J = lam, kinds, cols.shape[1]
        pos = lam[lam > 0]
        self.ok = bool(pos.size and pos.min() >= 1.0 / _SAFE and pos.max() <= _SAFE)
        # for r^c: the λ powers b needed, and the (b-block × J) rows of the scaled column matrix
        self.rows: dict[int, dict[int, int]] = {}
        self.mats: dict[int, np.ndarray] = {}
        for c in (1, 2):
            bs = sorted({_POWERS[k][1] for k in kinds if _POWERS[k][0] == c}, reverse=True)
            if not bs:
                continue
            mat = np.concatenate([cols.T * lam**b for b in bs], axis=0)
            nz = np.concatenate([cols.T] * len(bs), axis=0) != 0
            # every non-zero weight must stay a normal, finite float after scaling by λ^b
            good = np.all(np.isfinite(mat)) and np.all(np.abs(mat[nz]) >= np.finfo(float).tiny)
            self.ok = self.ok and bool(good)
            self.mats[c] = np.ascontiguousarray(mat)
            self.rows[c] = {b: i * self.J for i, b in enumerate(bs)}

    def __call__(self, k: np.ndarray) -> dict[str, np.ndarray] | None:
        if not self.ok or k.size == 0 or not (k.min() >= 1.0 / _SAFE and k.max() <= _SAFE):
            return None
        out = {c: np.empty((m.shape[0], k.size)) for c, m in self.mats.items()}
        for sl in _blocks(k.size, self.lam.size, _BLOCK_SUMS):
            r = self.lam + k[sl, None]  # (points × atoms)
            np.divide(1.0, r, out=r)
            if 1 in self.mats:
                out[1][:, sl] = self.mats[1] @ r.T
            if 2 in self.mats:
                np.multiply(r, r, out=r)
                out[2][:, sl] = self.mats[2] @ r.T
        res = {}
        for key in self.kinds:
            c, b, a = _POWERS[key]
            i = self.rows[c][b]
            block = out[c][i:i + self.J]
            res[key] = block if a == 0 else block * (k if a == 1 else k * k)
        return res


def point_moments(k: float, lam: np.ndarray, cols: np.ndarray, mask: np.ndarray | None,
                  kinds: tuple[str, ...] = KINDS) -> dict[str, np.ndarray]:
    """The moments of :func:`exact_moments` at one k > 0: ``{kind: (J,)}`` (``mask``: λ > 0, or None
    when every λ > 0), with a few small NumPy calls — the engine's scalar path."""
    g = _kernels(k, lam, mask, kinds)
    return {key: g[key] @ cols for key in kinds}


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
        k_e = np.exp(y_e)
        ex = _NodeSums(lam, cols[:, :1], ("q", "uq"))(k_e)
        if ex is None:
            ex = {key: v.T for key, v in exact_moments(k_e, lam, cols[:, :1], ("q", "uq")).items()}
        self.edges = (y_e, ex["q"][0], ex["uq"][0])
        self._sums = _NodeSums(lam, cols, kinds)

    def _build(self, panels: np.ndarray) -> None:
        new = panels[~self.built[panels]]
        if new.size == 0:
            return
        centers = self.y0 + WIDTH * (new + 0.5)
        ynodes = centers[:, None] + 0.5 * WIDTH * self._x[None, :]
        k_nodes = np.exp(ynodes.ravel())
        sums = self._sums(k_nodes)  # {kind: (J × nodes)}, or None outside its safe range
        if sums is None:
            sums = {key: v.T for key, v in exact_moments(k_nodes, self.lam, self.cols, self.kinds).items()}
        # (functions × panels × nodes), function index J·kind + column
        vals = np.concatenate([sums[k] for k in self.kinds], axis=0).reshape(self.n_fun, new.size, _NODES)
        coef = np.einsum("kj,fpj->pkf", self._M, vals)
        scale = np.abs(vals).max(axis=2).T
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
        self, kx: np.ndarray, kinds: tuple[str, ...] | None = None, first_column: bool = False,
        select: tuple[tuple[str, int], ...] | None = None,
    ) -> dict:
        """Moments at ``kx`` for ``kinds`` (all weight columns, or only the first one):
        ``{kind: (points × J)}``; or, with ``select`` = ((kind, column), ...), only those moments:
        ``{(kind, column): (points,)}`` (fewer table rows to evaluate)."""
        kinds = self.kinds if kinds is None else kinds
        kx = np.asarray(kx, dtype=float)
        Jall = self.cols.shape[1]
        J = 1 if first_column else Jall
        if select is not None:
            fidx = np.array([Jall * self.kinds.index(k) + c for k, c in select], dtype=np.int64)
            J = Jall
        else:
            fidx = np.concatenate([np.arange(J) + Jall * self.kinds.index(k) for k in kinds])
        # Results are assembled function-major, (functions × points): each moment column handed out
        # is then a contiguous row.
        out = np.empty((fidx.size, kx.size))
        with np.errstate(divide="ignore"):
            y = np.log(kx)
        inside = (y >= self.y0) & (y <= self.y1)
        all_in = bool(inside.all())
        if all_in:
            pan = np.minimum(np.floor((y - self.y0) * (1.0 / WIDTH)).astype(np.int64), self.n_pan - 1)
        else:
            pan = np.full(kx.size, -1, dtype=np.int64)
            pan[inside] = np.minimum(np.floor((y[inside] - self.y0) * (1.0 / WIDTH)).astype(np.int64),
                                     self.n_pan - 1)
        self._build(np.flatnonzero(np.bincount(pan[inside] if not all_in else pan, minlength=self.n_pan)))
        bad = self.bad[pan[inside] if not all_in else pan]
        if bad.any():
            inside[inside] = ~bad
            all_in = False
        if not all_in:
            if select is not None:
                used = tuple(dict.fromkeys(k for k, _ in select))
                ex = exact_moments(kx[~inside], self.lam, self.cols, used)
                out[:, ~inside] = np.stack([ex[k][:, c] for k, c in select])
            else:
                ex = exact_moments(kx[~inside], self.lam, self.cols[:, :J], kinds)
                out[:, ~inside] = np.concatenate([ex[k] for k in kinds], axis=1).T
        idx = np.arange(kx.size) if all_in else np.flatnonzero(inside)
        if idx.size:
            # sort the points by panel; one (functions × nodes) @ (nodes × points) product per panel
            # (panel numbers as int16 when they fit: NumPy's stable argsort is then a radix sort,
            # 5x faster than on int64 at 10^4 points)
            key = pan[idx].astype(np.int16) if self.n_pan < 2**15 else pan[idx]
            order = idx[np.argsort(key, kind="stable")]
            ps = pan[order]
            xs = 2.0 * (y[order] - (self.y0 + WIDTH * ps)) / WIDTH - 1.0
            T = _cheb_basis(xs, _NODES)
            coef_t = np.ascontiguousarray(self.coef[:, :, fidx].transpose(0, 2, 1))  # (panels, f, nodes)
            res = np.empty((fidx.size, order.size))
            bounds = np.searchsorted(ps, np.arange(self.n_pan + 1))
            for pnl in np.flatnonzero(np.diff(bounds)):
                a, b = bounds[pnl], bounds[pnl + 1]
                np.matmul(coef_t[pnl], T[:, a:b], out=res[:, a:b])
            if all_in:  # undo the sort with a gather (cheaper than a scatter)
                inv = np.empty_like(order)
                inv[order] = np.arange(order.size)
                np.take(res, inv, axis=1, out=out)
            else:
                out[:, order] = res
        if select is not None:
            return {sel: out[i] for i, sel in enumerate(select)}
        return {k: out[i * J:(i + 1) * J].T for i, k in enumerate(kinds)}
