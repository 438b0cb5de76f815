"""Spectral moments as functions of the effective ridge k = k_x > 0.

Every quantity of THEORY.md §4–7 is a weighted sum over the atoms of one of

    q = λ/(λ+k),  q²,  d2 = λ/(λ+k)²,  u = k/(λ+k),  u²,  uq = u·q

with weight columns such as p, pλ*, pλ. Two evaluators return the same table:

* :func:`exact_moments` sums over the atoms for every point (cost O(points × atoms));
* :class:`ChebyshevMoments` interpolates each moment in y = log k by piecewise Chebyshev polynomials
  (panels of width 0.5 in y, 14 Chebyshev–Lobatto nodes) built from exact sums at the nodes (cost
  O(nodes × atoms + points)). Each moment is analytic in the strip |Im y| < π (its poles sit at
  k = −λ, i.e. Im y = ±π), so on the Bernstein ellipse of semi-minor axis π/2 around a panel
  (ρ ≈ 12.6) the interpolation error is below ~1e-15 of the moment's size on the panel. The build
  checks the decay of the Chebyshev coefficients and refuses (falls back to exact sums) if it is not
  reached. Outside the tabulated range, points are evaluated exactly. A table holds only the
  (kind, weight column) moments it is built for (``funcs``; the engine asks for the 10 its
  formulas read), and builds a panel when a point first lands in it. The node sums use
  r = 1/(λ + k) and r² only (:class:`_NodeSums`): one division and one square per (node, atom).
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
#: Points per chunk of a table evaluation (the Chebyshev basis of a chunk is nodes × chunk).
_EVAL_CHUNK = 4096
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


#: Each kind as (c, b, a): g = k^a λ^b r^c with r = 1/(λ + k) — the form :class:`_NodeSums` uses.
_POWERS = {"q": (1, 1, 0), "u": (1, 0, 1), "qq": (2, 2, 0), "d2": (2, 1, 0), "uq": (2, 1, 1), "uu": (2, 0, 2)}
#: :class:`_NodeSums` applies where every λ > 0, every non-zero weight and every k lie in
#: [1/_SAFE, _SAFE] (then r², λ²·weight and k² are normal floats); elsewhere :func:`exact_moments`.
_SAFE = 1e100


class _NodeSums:
    """Σ_atoms g(λ, k)·cols[:, j] at many k > 0 for a list of moments ``funcs`` = ((kind, j), ...),
    as a (functions × points) array.

    With r = 1/(λ + k) every kind is k^a λ^b r^c (``_POWERS``): q = λr, u = kr, qq = λ²r², d2 = λr²,
    uq = kλr², uu = k²r². So one division and one square per (point, atom) and two BLAS products
    with the weight columns scaled by λ^b (only the distinct ones the moments need) give every
    moment; the factor k^a multiplies the sums. All terms are non-negative (the weight columns
    are), so this is as accurate as summing g·cols directly. The product is taken as
    (columns × atoms) @ (atoms × points): with OpenBLAS this kernel sums the 1,000 atoms of the
    benchmark to ~5e-16 relative, where (points × atoms) @ (atoms × columns) in small blocks gives
    ~4e-15. Used for the Chebyshev nodes and panel edges (``k`` inside the table's range); returns
    None when the spectrum or ``k`` is outside the safe range (``_SAFE``), and the caller then uses
    :func:`exact_moments`.
    """

    def __init__(self, lam: np.ndarray, cols: np.ndarray, funcs: tuple[tuple[str, int], ...]) -> None:
        self.lam = lam
        pos = lam[lam > 0]
        w = np.abs(cols[:, sorted({j for _, j in funcs})])
        w = w[w > 0]
        self.ok = bool(pos.size and w.size and pos.min() >= 1.0 / _SAFE and pos.max() <= _SAFE
                       and w.min() >= 1.0 / _SAFE and w.max() <= _SAFE)
        rows: dict[int, dict[tuple[int, int], int]] = {1: {}, 2: {}}  # r^c: (b, j) -> row
        for kind, j in funcs:
            c, b, _ = _POWERS[kind]
            rows[c].setdefault((b, j), len(rows[c]))
        self.mats = {c: np.stack([cols[:, j] * lam**b if b else cols[:, j] for b, j in rc])
                     for c, rc in rows.items() if rc}
        self.plan = [(_POWERS[kind][0], rows[_POWERS[kind][0]][_POWERS[kind][1], j], _POWERS[kind][2])
                     for kind, j in funcs]

    def __call__(self, k: np.ndarray) -> np.ndarray | None:
        if not self.ok or k.size == 0 or not (k.min() >= 1.0 / _SAFE and k.max() <= _SAFE):
            return None
        sums = {c: np.empty((m.shape[0], k.size)) for c, m in self.mats.items()}
        blocks = _blocks(k.size, self.lam.size, _BLOCK_SUMS)
        r_buf = np.empty((blocks[0].stop - blocks[0].start, self.lam.size))
        for sl in blocks:
            r = r_buf[: sl.stop - sl.start]
            np.add(self.lam, k[sl, None], out=r)  # (points × atoms)
            np.divide(1.0, r, out=r)
            if 1 in self.mats:
                sums[1][:, sl] = self.mats[1] @ r.T
            if 2 in self.mats:
                np.multiply(r, r, out=r)
                sums[2][:, sl] = self.mats[2] @ r.T
        out = np.empty((len(self.plan), k.size))
        for i, (c, row, a) in enumerate(self.plan):
            if a == 0:
                out[i] = sums[c][row]
            else:
                np.multiply(sums[c][row], k if a == 1 else k * k, out=out[i])
        return out


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

    def __init__(self, lam: np.ndarray, cols: np.ndarray, kinds: tuple[str, ...] = KINDS,
                 funcs: tuple[tuple[str, int], ...] | None = None) -> None:
        self.lam, self.cols, self.kinds = lam, cols, kinds
        if funcs is None:  # every (kind, weight column)
            funcs = tuple((k, j) for k in kinds for j in range(cols.shape[1]))
        # the first weight column's ⟨q⟩ and ⟨uq⟩ (the solver's residual) are always tabulated
        self.funcs = tuple(dict.fromkeys((("q", 0), ("uq", 0), *funcs)))
        self.fpos = {f: i for i, f in enumerate(self.funcs)}
        pos = lam[lam > 0]
        lo = np.floor(np.log(pos.min()) - MARGIN)
        hi = np.ceil(np.log(pos.max()) + MARGIN)
        n_pan = max(1, int(np.ceil((hi - lo) / WIDTH)))
        self.y0, self.n_pan = float(lo), n_pan
        self.y1 = self.y0 + n_pan * WIDTH
        self.n_fun = len(self.funcs)
        self.coef = np.zeros((n_pan, _NODES, self.n_fun))
        self.built = np.zeros(n_pan, dtype=bool)
        self.bad = np.zeros(n_pan, dtype=bool)
        self._M = _values_to_coefficients(_NODES)
        self._x = _cheb_nodes(_NODES)
        self._sums = _NodeSums(lam, cols, self.funcs)
        # Panel edges y0 + i·width with the exact a1 = ⟨q⟩ and ⟨uq⟩ (first weight column) there,
        # for bracketing roots without evaluating the table.
        y_e = self.y0 + WIDTH * np.arange(n_pan + 1)
        k_e = np.exp(y_e)
        ex = self._sums(k_e)
        if ex is not None:
            self.edges = (y_e, ex[0], ex[1])
        else:
            exm = exact_moments(k_e, lam, cols[:, :1], ("q", "uq"))
            self.edges = (y_e, exm["q"][:, 0], exm["uq"][:, 0])

    def _exact(self, kx: np.ndarray, funcs: tuple[tuple[str, int], ...]) -> np.ndarray:
        """Exact sums of ``funcs`` at ``kx`` as (functions × points)."""
        ex = exact_moments(kx, self.lam, self.cols, tuple(dict.fromkeys(k for k, _ in funcs)))
        return np.stack([ex[k][:, j] for k, j in funcs]) if funcs else np.empty((0, kx.size))

    def _build(self, panels: np.ndarray) -> None:
        new = panels[~self.built[panels]]
        if new.size == 0:
            return
        centers = self.y0 + WIDTH * (new + 0.5)
        ynodes = centers[:, None] + 0.5 * WIDTH * self._x[None, :]
        k_nodes = np.exp(ynodes.ravel())
        vals = self._sums(k_nodes)  # (functions × nodes), or None outside its safe range
        if vals is None:
            vals = self._exact(k_nodes, self.funcs)
        vals = vals.reshape(self.n_fun, new.size, _NODES)  # (functions × panels × nodes)
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

    def _eval_sorted(self, ys: np.ndarray, ps: np.ndarray, fidx: np.ndarray) -> np.ndarray:
        """Functions ``fidx`` at y = log k for points sorted by panel (``ps`` non-decreasing; each
        panel built and good): (functions × points), one (functions × nodes) @ (nodes × points)
        product per panel, in chunks of points (the Chebyshev basis of a chunk is nodes × chunk: a
        small temporary that the allocator reuses, instead of a nodes × points one mapped afresh)."""
        m = ys.size
        res = np.empty((fidx.size, m))
        if m == 0:
            return res
        coef_t = np.ascontiguousarray(self.coef[:, :, fidx].transpose(0, 2, 1))  # (panels, f, nodes)
        bounds = np.searchsorted(ps, np.arange(self.n_pan + 1))
        for c0 in range(0, m, _EVAL_CHUNK):
            c1 = min(c0 + _EVAL_CHUNK, m)
            xs = ys[c0:c1] - ps[c0:c1] * WIDTH  # x = 2(y − y0 − width·panel)/width − 1
            xs -= self.y0 + 0.5 * WIDTH
            xs *= 2.0 / WIDTH
            T = _cheb_basis(xs, _NODES)
            for pnl in range(int(ps[c0]), int(ps[c1 - 1]) + 1):
                a, b = max(int(bounds[pnl]), c0), min(int(bounds[pnl + 1]), c1)
                if b > a:
                    np.matmul(coef_t[pnl], T[:, a - c0:b - c0], out=res[:, a:b])
        return res

    def __call__(
        self, kx: np.ndarray, kinds: tuple[str, ...] | None = None, first_column: bool = False,
        select: tuple[tuple[str, int], ...] | None = None,
    ) -> dict:
        """Moments at ``kx`` for ``kinds`` (all weight columns, or only the first one):
        ``{kind: (points × J)}``; or, with ``select`` = ((kind, column), ...), only those moments:
        ``{(kind, column): (points,)}`` (fewer table rows to evaluate). Every requested moment must
        be among the table's ``funcs`` (KeyError otherwise)."""
        kinds = self.kinds if kinds is None else kinds
        kx = np.asarray(kx, dtype=float)
        J = 1 if first_column else self.cols.shape[1]
        wanted = select if select is not None else tuple((k, j) for k in kinds for j in range(J))
        fidx = np.array([self.fpos[f] for f in wanted], dtype=np.int64)
        # Results are assembled function-major, (functions × points): each moment column handed out
        # is then a contiguous row.
        n = kx.size
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(kx)
        # (NaN fails both tests; k = 0 gives y = −inf)
        all_in = n > 0 and bool(y.min() >= self.y0) and bool(y.max() <= self.y1)
        if all_in:  # the usual case: no masks
            # (y − y0 >= 0, so the truncation of astype is the floor)
            pan = np.minimum(((y - self.y0) * (1.0 / WIDTH)).astype(np.int64), self.n_pan - 1)
            p0, p1 = int(pan.min()), int(pan.max())
            if not self.built[p0:p1 + 1].all():
                self._build(np.flatnonzero(np.bincount(pan, minlength=self.n_pan)))
            all_in = not (self.bad[p0:p1 + 1].any() and self.bad[pan].any())
        if all_in:
            # sort the points by panel (panel numbers as int16 when they fit: NumPy's stable argsort
            # is then a radix sort, 5x faster than on int64 at 10^4 points), evaluate, and undo the
            # sort with a gather (cheaper than a scatter)
            order = np.argsort(pan.astype(np.int16) if self.n_pan < 2**15 else pan, kind="stable")
            res = self._eval_sorted(y[order], pan[order], fidx)
            inv = np.empty_like(order)
            inv[order] = np.arange(n)
            out = np.take(res, inv, axis=1)
        else:
            out = np.empty((fidx.size, n))
            inside = (y >= self.y0) & (y <= self.y1)
            pan = np.full(n, -1, dtype=np.int64)
            pan[inside] = np.minimum(np.floor((y[inside] - self.y0) * (1.0 / WIDTH)).astype(np.int64),
                                     self.n_pan - 1)
            self._build(np.flatnonzero(np.bincount(pan[inside], minlength=self.n_pan)))
            inside[inside] = ~self.bad[pan[inside]]
            if not inside.all():
                out[:, ~inside] = self._exact(kx[~inside], wanted)
            idx = np.flatnonzero(inside)
            if idx.size:
                order = idx[np.argsort(pan[idx], kind="stable")]
                res = self._eval_sorted(y[order], pan[order], fidx)
                for i in range(fidx.size):
                    out[i][order] = res[i]
        if select is not None:
            return {sel: out[i] for i, sel in enumerate(select)}
        return {k: out[i * J:(i + 1) * J].T for i, k in enumerate(kinds)}  # (wanted is kind-major)
