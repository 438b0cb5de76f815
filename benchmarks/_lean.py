"""The lean per-point baseline of the engine benchmarks: what a user would write with NumPy and SciPy.

One point = ``scipy.optimize.brentq`` in y = log k_x on the smooth increasing form of the fixed point
(THEORY.md §4; k_x = φ/κ)

    F(y) = 1/φ − P(k) − f2(k),   P = ⟨λ/(λ+k)⟩ + μ⊥²/(μ1² k),   f2 = t/φ > 0 solving ψf2² + c f2 = g,
    c = 1 − ψ/φ,  g = γ/(μ1² k),

over precomputed atom arrays (one NumPy dot product per residual, no Python loop over atoms),
followed by the closed formulas of THEORY.md §5 and §7 (bias, variance, OOD and ID) written as plain
NumPy dot products. It covers γ > 0 (the benchmark grids); it shares no code with ``rfshift`` and so
doubles as an independent check of the engine's numbers.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq


class LeanModel:
    """Precomputed atom arrays of one spectrum and activation (built once, reused for every point)."""

    def __init__(self, lam: np.ndarray, lam_star: np.ndarray, weights: np.ndarray, mu1: float,
                 mu_perp2: float, mu1_t: float, mu_perp2_t: float) -> None:
        self.lam, self.p = np.asarray(lam, float), np.asarray(weights, float)
        self.w_ood, self.w_id = self.p * lam_star, self.p * lam
        self.s, self.s_star = float(self.p @ lam), float(self.p @ lam_star)
        self.mu1, self.mup2, self.mu1_t, self.mup2_t = mu1, mu_perp2, mu1_t, mu_perp2_t
        self.rho = mu1 * mu1
        self.y_ref = math.log(self.s)

    def _f2(self, k: float, phi: float, psi: float, gamma: float) -> float:
        g = gamma / (self.rho * k)
        c = 1.0 - psi / phi
        disc = math.sqrt(c * c + 4.0 * psi * g)
        return 2.0 * g / (c + disc) if c >= 0 else (disc - c) / (2.0 * psi)

    def kx(self, phi: float, psi: float, gamma: float) -> float:
        lam, p, rho, mup2 = self.lam, self.p, self.rho, self.mup2

        def F(y: float) -> float:  # noqa: N802
            k = math.exp(y)
            P = float(p @ (lam / (lam + k))) + mup2 / (rho * k)
            return 1.0 / phi - P - self._f2(k, phi, psi, gamma)

        lo, hi, step = self.y_ref - 1.0, self.y_ref + 1.0, 2.0
        while F(lo) >= 0:
            lo -= step
            step *= 2
        step = 2.0
        while F(hi) <= 0:
            hi += step
            step *= 2
        return math.exp(brentq(F, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500))

    def point(self, phi: float, psi: float, gamma: float, noise_var: float) -> dict[str, float]:
        """error, error_id and κ at one point with γ > 0."""
        k = self.kx(phi, psi, gamma)
        lam, p, rho, mup2 = self.lam, self.p, self.rho, self.mup2
        inv = 1.0 / (lam + k)
        q = lam * inv
        u = k * inv
        d2 = q * inv
        a1, a2, c0, uq = float(p @ q), float(p @ (q * q)), float(p @ d2), float(p @ (u * q))
        mterm = mup2 / (rho * k)
        mterm2 = mterm / k
        g = gamma / (rho * k)
        f2 = self._f2(k, phi, psi, gamma)
        c = 1.0 - psi / phi
        f1 = psi * f2 + c if c >= 0 else g / f2
        v = 1.0 - psi * a2
        delta = phi * f2 + phi * f1 * (uq + mterm) / v
        rho_beta = (k * uq + psi * a2 * mup2 / rho) / v
        out = {"kappa": phi / k}
        for name, w, s_test, mu1_t, mup2_t in (("error", self.w_ood, self.s_star, self.mu1_t, self.mup2_t),
                                               ("error_id", self.w_id, self.s, self.mu1, mup2)):
            r = mu1_t / self.mu1
            b0u, c0u2, c1 = float(w @ u), float(w @ (u * u)), float(w @ d2)
            bias = (1 - r) ** 2 * s_test + 2 * r * (1 - r) * b0u + r * r * c0u2
            xi = mu1_t**2 * c0u2 + mup2_t
            d_num = phi * (mu1_t**2 * ((1 - psi * a1) * c1 + psi * c0 * b0u + psi * mterm2 * c0u2)
                           + mup2_t * (psi * c0 + psi * mterm2))
            v_w = psi * a2 * xi / (rho * v)
            d_star = d_num / (rho * v)
            out[name] = bias + v_w + (rho_beta + noise_var) / delta * d_star
        return out
