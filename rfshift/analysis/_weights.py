"""Per-direction weight of the OOD error (THEORY.md §6), evaluated at the engine's solved fixed point.

With u(λ) = φ/(φ + κλ) = k_x/(λ + k_x), K = ρ*ψκ/D and D = φγ + ρ(tψ + t̄φ)(ω + φI_{1,2})::

    E* = F(s*) + ∫ w(u(λ)) ν(dλ),       ν(dλ) = λ* μ(dλ),
    w(u) = ((1−r) + r u)² + A2 u² + A1 u + Aq u(1 − u),
    A2 = K t I_{2,2},  A1 = K (σ² + I_{1,1})(ω + φI_{1,2}),  Aq = K (φ/(ψκ)) t̄ (σ² + φI_{1,2}),
    F  = K ω* [t I_{2,2} + (σ² + I_{1,1})(ω + φI_{1,2})] = ω* (A1 + A2).

The moments are computed here from the atoms (THEORY.md §4): I_{1,1} = ∫λu dμ, φI_{1,2} = ∫λu² dμ,
κI_{2,2} = ∫λu(1−u) dμ. ``K φ/(ψκ)`` is written as (ρ*κ/D)·k_x so that ψ = 0 (kernel limit) is finite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._anova import variance_parts
from ..engine import Asymptotics
from ..spectra import Spectrum

__all__ = ["TargetWeights", "WeightCoefficients", "atom_u", "target_weight_coefficients",
           "weight_coefficients"]


@dataclass(frozen=True)
class WeightCoefficients:
    """Terms of w(u) = ((1−r) + r u)² + A2 u² + A1 u + Aq u(1 − u) and the shift-independent part F.

    Arrays are per point (1-D). The terms are kept apart (not collected into powers of u) because
    A1 and Aq can differ by many orders of magnitude (e.g. tiny ridge, linear activation) and
    collecting them would cancel digits. ``valid`` is False where the decomposition is undefined
    (ridgeless interpolation peak, where the error is infinite, or κ = ∞ for a ridgeless linear model).
    """

    r: float
    A1: np.ndarray
    A2: np.ndarray
    Aq: np.ndarray
    F: np.ndarray
    k_x: np.ndarray
    valid: np.ndarray

    def w(self, u: np.ndarray) -> np.ndarray:
        """w(u) for ``u`` of shape (points, atoms)."""
        r = self.r
        return (((1.0 - r) + r * u) ** 2 + self.A2[:, None] * u * u + self.A1[:, None] * u
                + self.Aq[:, None] * u * (1.0 - u))

    def dw_du(self, u: np.ndarray) -> np.ndarray:
        """dw/du = 2r((1−r) + ru) + 2A2 u + A1 + Aq(1 − 2u) (affine in u, THEORY.md §6)."""
        r = self.r
        return (2.0 * r * ((1.0 - r) + r * u) + 2.0 * self.A2[:, None] * u + self.A1[:, None]
                + self.Aq[:, None] * (1.0 - 2.0 * u))


def atom_u(k_x: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """u = k_x/(λ + k_x) for points × atoms (u = 1 on λ = 0 atoms); requires k_x > 0."""
    k = np.asarray(k_x, dtype=float).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = k / (lam[None, :] + k)
    return np.where(lam[None, :] == 0, 1.0, u)


def weight_coefficients(spec: Spectrum, res: Asymptotics) -> WeightCoefficients:
    """THEORY.md §6 coefficients of w and F for the test law of ``spec`` at the points of ``res``."""
    phi, psi, gamma, nv = (np.ravel(np.broadcast_to(a, res.shape)).astype(float)
                           for a in (res.phi, res.psi, res.gamma, res.noise_var))
    kx = np.ravel(np.asarray(res.k_x, dtype=float))
    t = np.ravel(np.asarray(res.t, dtype=float))
    tb = np.ravel(np.asarray(res.t_bar, dtype=float))
    peak = np.ravel(np.asarray(res.interpolation_peak, dtype=bool))
    valid = ~peak & (kx > 0) & np.isfinite(kx)
    kx_safe = np.where(valid, kx, 1.0)
    lam, p = spec.lam, spec.weights
    u = atom_u(kx_safe, lam)
    i11 = (u * lam) @ p  # I_{1,1} = ∫ λ u dμ            (THEORY.md §4)
    phi_i12 = (u * u * lam) @ p  # φ I_{1,2} = ∫ λ u² dμ
    kappa = phi / kx_safe
    i22 = ((u * (1.0 - u) * lam) @ p) / kappa  # κ I_{2,2} = ∫ λ u(1−u) dμ
    rho, omega = res.rho, res.omega
    rho_s, omega_s, r = res.rho_star, res.omega_star, res.r
    with np.errstate(divide="ignore", invalid="ignore"):
        D = phi * gamma + rho * (t * psi + tb * phi) * (omega + phi_i12)  # THEORY.md §5
        kp = rho_s * kappa / D  # K/ψ
        # The §5 variance is linear in the test factors (ω*, I*₁₁, φI*₁₂, κI*₂₂) = (0, ∫u dν,
        # ∫u² dν, ∫u(1−u) dν); evaluating its three parts (rfshift._anova, the one home of that
        # assembly) at unit test factors gives the coefficients A2, A1, Aq of w(u).
        one = np.ones_like(phi)
        a2, a1, aq = variance_parts(kp, phi=phi, psi=psi, t=t, t_bar=tb, noise_var=nv, omega=omega,
                                    i11=i11, phi_i12=phi_i12, i22=i22, omega_x=0.0, ix11=one,
                                    phi_ix12=one, ix22=one / kappa)
    valid &= np.isfinite(a1) & np.isfinite(a2) & np.isfinite(aq) & (D > 0)
    zero = np.zeros_like(phi)

    def clean(a: np.ndarray) -> np.ndarray:
        return np.where(valid, a, zero)

    a1, a2, aq = clean(a1), clean(a2), clean(aq)
    F = omega_s * (a1 + a2)  # THEORY.md §6: F = K ω*[t I_{2,2} + (σ² + I_{1,1})(ω + φ I_{1,2})]
    return WeightCoefficients(r=float(r), A1=a1, A2=a2, Aq=aq, F=F, k_x=kx, valid=valid)


@dataclass(frozen=True)
class TargetWeights:
    """Per-direction weight with a structured/nonlinear target (docs/theory.md §19.5).

    E* = F + σ_g*² + ∫ [b·w_β(u) + w_V(u)] ν(dλ), with the bias part
    w_β(u) = ((c1* − r c1) + r c1 u)² (weighted by the target power b) and the variance part
    w_V(u) = μ1*² (C_Ξ u² + C_Θ u) (unweighted), F = μ⊥*² (C_Ξ + C_Θ). Arrays are per point (1-D).
    """

    r: float
    c1: float
    c1_test: float
    mu1_test_sq: float
    C_xi: np.ndarray
    C_theta: np.ndarray
    F: np.ndarray
    nonlinear_var_test: np.ndarray
    k_x: np.ndarray
    valid: np.ndarray

    def w_bias(self, u: np.ndarray) -> np.ndarray:
        """w_β(u) for ``u`` of shape (points, atoms)."""
        return ((self.c1_test - self.r * self.c1) + self.r * self.c1 * u) ** 2

    def w_var(self, u: np.ndarray) -> np.ndarray:
        """w_V(u) for ``u`` of shape (points, atoms)."""
        return self.mu1_test_sq * (self.C_xi[:, None] * u * u + self.C_theta[:, None] * u)

    def w(self, u: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per-atom weight b·w_β(u) + w_V(u); ``b`` broadcasts against ``u`` (atoms last)."""
        return b * self.w_bias(u) + self.w_var(u)


def target_weight_coefficients(spec: Spectrum, res: Asymptotics) -> TargetWeights:
    """docs/theory.md §19.5 coefficients for the test law of ``spec`` at the points of ``res``
    (``res`` computed on ``spec``, with its target power, teacher and nonlinear variances).

    V* = C_Ξ Ξ* + C_Θ Θ* with C_Ξ = (ψ c1² a2_b/μ1² − τ² φ t̄/A)/v, C_Θ = τ² φ/A, A = μ1² k_x,
    τ² = (ρ_β + σ² + σ_g²)/δ, ρ_β = c1²(k_x uq_b + ψ a2_b k_x X/v), X = ⟨u(1−u)⟩ + μ⊥²/A,
    v = 1 − ψ a2 (ψk = t̄). Moments are summed over the atoms.
    """
    phi, psi, nv, nl, nlt = (np.ravel(np.broadcast_to(np.asarray(a, dtype=float), res.shape))
                             for a in (res.phi, res.psi, res.noise_var, res.nonlinear_var,
                                       res.nonlinear_var_test))
    kx = np.ravel(np.asarray(res.k_x, dtype=float))
    tb = np.ravel(np.asarray(res.t_bar, dtype=float))
    delta = np.ravel(np.asarray(res.delta, dtype=float))
    peak = np.ravel(np.asarray(res.interpolation_peak, dtype=bool))
    valid = ~peak & (kx > 0) & np.isfinite(kx)
    kx_safe = np.where(valid, kx, 1.0)
    lam, p, b = spec.lam, spec.weights, spec.b
    u = atom_u(kx_safe, lam)
    q = 1.0 - u
    a2, a2_b = (q * q) @ p, (q * q) @ (p * b)
    uq, uq_b = (u * q) @ p, (u * q) @ (p * b)
    mu1 = res.train_constants.mu1
    A = mu1 * mu1 * kx_safe
    X = uq + res.train_constants.mu_perp2 / A
    c1, c1t = res.target_linear, res.target_linear_test
    with np.errstate(divide="ignore", invalid="ignore"):
        v = 1.0 - psi * a2
        rho_beta = c1 * c1 * (kx_safe * uq_b + psi * a2_b * kx_safe * X / v)
        tau2 = (rho_beta + nv + nl) / delta
        c_xi = (psi * c1 * c1 * a2_b / (mu1 * mu1) - tau2 * phi * tb / A) / v
        c_th = tau2 * phi / A
    valid &= np.isfinite(c_xi) & np.isfinite(c_th) & (delta > 0) & (v > 0)
    c_xi, c_th = np.where(valid, c_xi, 0.0), np.where(valid, c_th, 0.0)
    F = res.test_constants.mu_perp2 * (c_xi + c_th)
    return TargetWeights(r=float(res.r), c1=float(c1), c1_test=float(c1t),
                         mu1_test_sq=float(res.test_constants.mu1**2), C_xi=c_xi, C_theta=c_th, F=F,
                         nonlinear_var_test=nlt, k_x=kx, valid=valid)
