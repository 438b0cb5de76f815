"""The one home of the variance assembly: the fine-grained (ANOVA) terms and the §5 three-part form.

Every module that turns solved moments into a variance imports from here (engine, analysis/_weights,
analysis/linear, symbolic), so each combination exists once. Quantities built later from the same
combinations (ensembles, disagreement between predictors that share some sources) should use
:meth:`VarianceTerms.shared` rather than re-adding terms.

1. :class:`VarianceTerms` and :func:`fine_terms` — THEORY.md §7: the seven ANOVA terms over the
   sources W (features), X (training inputs), ε (label noise). THEORY.md states V_WX = τ²_β T* − V_X
   and V_WXε = τ²_ε T* − V_Xε, differences of positive numbers that cancel (at ψ = 0 the true value
   is exactly 0 and the difference returned −5e-15·V). :func:`fine_terms` evaluates the same
   quantities in a subtraction-free form (derivation in docs/theory.md, "Non-negative forms of the
   fine-grained terms"), so every term is ≥ 0 by construction, and at ψ = 0 exactly 0.
2. :func:`variance_parts` — THEORY.md §5: V* = K[t I₂₂(ω* + φI*₁₂) + (σ² + I₁₁)(ω + φI₁₂)(ω* + I*₁₁)
   + (φ/ψ) t̄ (σ² + φI₁₂) I*₂₂] with K = ρ*ψκ/D, written with ``kp = K/ψ = ρ*κ/D`` so the kernel
   limit ψ = 0 is finite. Only ``+``, ``-``, ``*`` and ``/`` are used, so it accepts NumPy arrays,
   sympy expressions and mpmath numbers alike. It is linear in the test-side factors
   (ω_x, I^x_{1,1}, φI^x_{1,2}, I^x_{2,2}), which is how analysis/_weights reads off the §6
   coefficients of w(u).

Core module: imports only NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

__all__ = ["SOURCES", "VarianceTerms", "fine_terms", "fine_terms_test", "fine_terms_train", "safe_div",
           "safe_mul", "variance_parts"]

#: The sources of randomness of THEORY.md §7 and the term names (subsets of them) of VarianceTerms.
SOURCES = ("w", "x", "eps")
_SUBSETS = {"w": {"w"}, "x": {"x"}, "eps": {"eps"}, "wx": {"w", "x"}, "w_eps": {"w", "eps"},
            "x_eps": {"x", "eps"}, "wx_eps": {"w", "x", "eps"}}


@dataclass(frozen=True)
class VarianceTerms:
    """Fine-grained (ANOVA) variance over the sources W, X, ε (THEORY.md §7).

    ``w + x + eps + wx + w_eps + x_eps + wx_eps == variance``; ``eps`` and ``w_eps`` vanish. Every
    term is ≥ 0 (computed in a subtraction-free form, see :func:`fine_terms`). Fields have the
    broadcast shape of the parameters.
    """

    w: np.ndarray
    x: np.ndarray
    eps: np.ndarray
    wx: np.ndarray
    w_eps: np.ndarray
    x_eps: np.ndarray
    wx_eps: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """Sum of the seven terms (equals the variance)."""
        return self.w + self.x + self.eps + self.wx + self.w_eps + self.x_eps + self.wx_eps

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def shared(self, sources: Iterable[str]) -> np.ndarray:
        """Q_S − Q_∅: covariance of two predictors that share exactly the sources S (THEORY.md §7).

        The sum of the terms whose sources all lie in S (Möbius inversion of the §7 definition):
        ``shared(("w", "x", "eps")) == total`` and ``shared(()) == 0``. Two predictors that share S
        disagree by E[(ŷ₁ − ŷ₂)²] = 2 (total − shared(S)), and an average of K of them has variance
        shared(S) + (total − shared(S))/K.
        """
        s = set(sources)
        unknown = s - set(SOURCES)
        if unknown:
            raise ValueError(f"sources must be among {SOURCES}, got {sorted(unknown)}")
        out = np.zeros_like(np.asarray(self.w, dtype=float))
        for name, subset in _SUBSETS.items():
            if subset <= s:
                out = out + getattr(self, name)
        return out[()] if np.ndim(out) == 0 else out


_SCALARS = frozenset({float, np.float64})


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with 0/0 := 0 and (positive)/0 := +inf (limits at the ridgeless thresholds)."""
    if type(num) in _SCALARS and type(den) in _SCALARS:  # the engine's one-point path: no array calls
        return 0.0 if num == 0 else (np.inf if den == 0 else num / den)  # type: ignore[return-value]
    if type(den) is np.ndarray and den.size and den.min() > 0:
        # (the usual case: no zero — nor NaN, which fails the test — in ``den``; then num/den is
        # already the answer, 0/den = 0 included: one pass instead of five)
        with np.errstate(invalid="ignore"):  # (inf/inf stays NaN, as below)
            return num / den
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(num == 0, 0.0, np.where(den == 0, np.inf, out))


def safe_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a·b with 0·inf := 0 (a vanishing factor wins at the ridgeless thresholds)."""
    if type(a) in _SCALARS and type(b) in _SCALARS:
        return 0.0 if (a == 0 or b == 0) else a * b  # type: ignore[return-value]
    with np.errstate(invalid="ignore"):
        out = a * b
        if type(out) is np.ndarray and not np.isnan(np.add.reduce(out, axis=None)):
            # (no NaN in a·b, so no 0·inf: a·b is already the answer; a NaN sum — also from
            # +inf + −inf — takes the masked form below)
            return out
        return np.where((a == 0) | (b == 0), 0.0, out)


def fine_terms(
    *,
    phi: np.ndarray,
    psi: np.ndarray,
    noise_var: np.ndarray,
    kx: np.ndarray,
    r: float,
    mu1: float,
    a2: np.ndarray,
    c0: np.ndarray,
    uq: np.ndarray,
    mterm: np.ndarray,
    mterm2: np.ndarray,
    v: np.ndarray,
    one_m_phi_a2: np.ndarray,
    delta: np.ndarray,
    rho_beta: np.ndarray,
    c1_t: np.ndarray,
    xi_t: np.ndarray,
    a2_b: np.ndarray | None = None,
    uq_b: np.ndarray | None = None,
    lin2: float = 1.0,
    nonlin: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, VarianceTerms]:
    """(variance, terms) of one test law from the solved training moments (THEORY.md §7).

    Inputs (1-D arrays over points, the engine's names): a2 = ⟨λ²/(λ+k)²⟩, c0 = ⟨λ/(λ+k)²⟩,
    uq = ⟨u(1−u)⟩ = k c0, mterm = μ⊥²/(μ1² k), mterm2 = mterm/k (both 0 where k = 0), v = 1 − ψa2,
    one_m_phi_a2 = 1 − φa2, delta = δ = 1 − df₂/m, rho_beta = ρ_β; test side c1_t = c1* =
    ⟨λ*λ/(λ+k)²⟩, xi_t = Ξ* = μ1*²k²c0* + μ⊥*²; r = μ1*/μ1.

    With X = uq + mterm = P − a2 ≥ 0 (so 1 − φa2 = t + φX and δ = (1 − φa2) − φψX²/v) and
    E = φψ(c0 + mterm2)Ξ*/(μ1² v) ≥ 0, THEORY.md §7's T* = (φ/A)(Θ* − ψkΞ*/v) is

        T*    = φ r² c1* + E

    (no cancellation, unlike (1 − ψa1) near ψa1 = 1; at k_x = 0 and v = 0 it gives the limit
    φ r² c1*, or +inf when test mass sits on null training directions), and

        V_W   = ψ a2 Ξ*/(μ1² v)
        V_X   = r² φ c1* k uq/(1 − φa2),            V_Xε = r² φ c1* σ²/(1 − φa2)
        V_WX  = τ²_β T* − V_X  = ρ_β E/δ + r²φ c1* ψ k X [a2(1 − φa2) + φ uq X]/(v δ (1 − φa2))
        V_WXε = τ²_ε T* − V_Xε = σ² [E/δ + r²φ² ψ c1* X²/(v δ (1 − φa2))]
        V     = V_W + (τ²_β + τ²_ε) T*,             τ²_β = ρ_β/δ,  τ²_ε = σ²/δ.

    Every right side is a sum of products of non-negative factors (docs/theory.md, "Non-negative
    forms of the fine-grained terms", derives them). Zero denominators at ridgeless thresholds
    give 0 (vanishing numerator) or +inf, as in the engine.

    Structured and nonlinear targets (docs/theory.md §19): ``a2_b`` = ⟨bλ²/(λ+k)²⟩ and ``uq_b`` =
    ⟨b u(1−u)⟩ (default: a2, uq, i.e. b ≡ 1), ``lin2`` = c1² (the teacher's train-law linear
    coefficient squared; 1 without one; ``rho_beta`` must already include it) and ``nonlin`` = σ_g²
    (the target's nonlinear variance, label noise that lives on X). Then

        V_W   = ψ c1² a2_b Ξ*/(μ1² v),    V_X = r² φ c1* (c1² k uq_b + σ_g²)/(1 − φa2),
        V_WX  = (ρ_β + σ_g²) E/δ + r²φ c1* ψ X [c1² k (a2_b(1 − φa2) + φ uq_b X) + φ σ_g² X]/(v δ (1 − φa2))
              = (ρ_β + σ_g²) T*/δ − V_X,

    (the same subtraction-free algebra with ρ_β = c1²(k uq_b + ψ a2_b k X/v) and
    1/δ − 1/(1 − φa2) = φψX²/(vδ(1 − φa2))), and V_Xε, V_WXε keep σ² only.
    """
    train = fine_terms_train(phi=phi, psi=psi, noise_var=noise_var, kx=kx, mu1=mu1, a2=a2, c0=c0, uq=uq,
                             mterm=mterm, mterm2=mterm2, v=v, one_m_phi_a2=one_m_phi_a2, delta=delta,
                             rho_beta=rho_beta, a2_b=a2_b, uq_b=uq_b, lin2=lin2, nonlin=nonlin)
    return fine_terms_test(train, r=r, c1_t=c1_t, xi_t=xi_t)


def _has_nonzero(x: object) -> bool:
    if type(x) in _SCALARS or type(x) is int:
        return x != 0
    return bool(np.any(x))


def fine_terms_train(
    *,
    phi: np.ndarray,
    psi: np.ndarray,
    noise_var: np.ndarray,
    kx: np.ndarray,
    mu1: float,
    a2: np.ndarray,
    c0: np.ndarray,
    uq: np.ndarray,
    mterm: np.ndarray,
    mterm2: np.ndarray,
    v: np.ndarray,
    one_m_phi_a2: np.ndarray,
    delta: np.ndarray,
    rho_beta: np.ndarray,
    a2_b: np.ndarray | None = None,
    uq_b: np.ndarray | None = None,
    lin2: float = 1.0,
    nonlin: np.ndarray | float = 0.0,
) -> dict[str, Any]:
    """The training-side factors of :func:`fine_terms` (arguments as there), shared by every test
    law: pass the result to :func:`fine_terms_test` once per test law. With X = uq + mterm:

        G_W = ψ c1² a2_b,   G_E = φψ(c0 + mterm2),   G_X = c1² k uq_b + σ_g²,
        G_WX = ψ k X c1² (a2_b(1 − φa2) + φ uq_b X),   G_g = φψ σ_g² X²,   G_ε = φψ X²,

    and μ1² v, v δ (1 − φa2), (ρ_β + σ_g²)/δ and σ²/δ.
    """
    if a2_b is None:
        a2_b = a2
    if uq_b is None:
        uq_b = uq
    x_sum = uq + mterm
    x_sq = x_sum * x_sum
    rho_g = rho_beta + nonlin  # ρ_β + σ_g²
    return {
        "phi": phi, "noise_var": noise_var, "delta": delta, "one_m_phi_a2": one_m_phi_a2,
        "rho_g": rho_g,
        "mu1sq_v": mu1 * mu1 * v,
        "v_delta_q": safe_mul(safe_mul(v, delta), one_m_phi_a2),  # v δ (1 − φa2)
        "g_w": psi * (lin2 * a2_b),
        "g_x": lin2 * (kx * uq_b) + nonlin,
        "g_e": phi * psi * (c0 + mterm2),
        "g_wx": psi * kx * x_sum * (lin2 * (a2_b * one_m_phi_a2 + phi * uq_b * x_sum)),
        # (σ_g² ≡ 0, the usual case: its term is exactly 0 and skipped)
        "g_g": phi * psi * nonlin * x_sq if _has_nonzero(nonlin) else None,
        "g_eps": phi * psi * x_sq,
        "rho_g_delta": safe_div(rho_g, delta),
        "noise_delta": safe_div(noise_var, delta),
    }


def fine_terms_test(train: dict[str, Any], *, r: float, c1_t: np.ndarray,
                    xi_t: np.ndarray) -> tuple[np.ndarray, VarianceTerms]:
    """(variance, terms) of one test law (r = μ1*/μ1, c1_t = c1*, xi_t = Ξ*) from
    :func:`fine_terms_train`'s factors: the formulas of :func:`fine_terms`, with R = r²φc1*,
    E = G_E Ξ*/(μ1² v) and T* = R + E:

        V_W = G_W Ξ*/(μ1² v),   V_X = R G_X/(1 − φa2),   V_Xε = R σ²/(1 − φa2),
        V_WX = (ρ_β + σ_g²) E/δ + R (G_WX + G_g)/(v δ (1 − φa2)),
        V_WXε = σ² [E/δ + R G_ε/(v δ (1 − φa2))],
        V = V_W + ((ρ_β + σ_g²)/δ + σ²/δ) T*.
    """
    tr = train
    rpc = r * r * tr["phi"] * c1_t  # R = r² φ c1*
    v_w = safe_div(tr["g_w"] * xi_t, tr["mu1sq_v"])
    v_x = safe_div(rpc * tr["g_x"], tr["one_m_phi_a2"])
    v_xe = safe_div(rpc * tr["noise_var"], tr["one_m_phi_a2"])
    e_part = safe_div(tr["g_e"] * xi_t, tr["mu1sq_v"])  # T* − φ r² c1*
    d_star = rpc + e_part  # T*
    e_delta = safe_div(e_part, tr["delta"])
    v_wx = safe_mul(tr["rho_g"], e_delta) + safe_div(rpc * tr["g_wx"], tr["v_delta_q"])
    if tr["g_g"] is not None:
        v_wx = v_wx + safe_div(rpc * tr["g_g"], tr["v_delta_q"])
    v_wxe = safe_mul(tr["noise_var"], e_delta + safe_div(rpc * tr["g_eps"], tr["v_delta_q"]))
    tau_beta = safe_mul(tr["rho_g_delta"], d_star)  # τ²_β T* (with σ_g²)
    tau_eps = safe_mul(tr["noise_delta"], d_star)  # τ²_ε T*
    scalar = type(v_w) in _SCALARS  # the engine's one-point path: no array calls
    zeros = np.float64(0.0) if scalar else np.zeros_like(v_w)
    terms = VarianceTerms(w=v_w, x=v_x, eps=zeros, wx=v_wx, w_eps=zeros, x_eps=v_xe, wx_eps=v_wxe)
    # V = V_W + (τ²_β + τ²_ε) T*; where a threshold makes it +inf, the terms say which.
    tau = tau_beta + tau_eps
    if scalar:
        variance = terms.total if math.isfinite(tau) else v_w + tau_beta + tau_eps
    elif np.isfinite(tau).all():
        variance = terms.total
    else:
        variance = np.where(np.isfinite(tau), terms.total, v_w + tau_beta + tau_eps)
    return variance, terms


def variance_parts(
    kp: Any,
    *,
    phi: Any,
    psi: Any,
    t: Any,
    t_bar: Any,
    noise_var: Any,
    omega: Any,
    i11: Any,
    phi_i12: Any,
    i22: Any,
    omega_x: Any,
    ix11: Any,
    phi_ix12: Any,
    ix22: Any,
) -> tuple[Any, Any, Any]:
    """The three parts of THEORY.md §5's variance for one test law x (sum = V_x).

    ``kp`` = K/ψ = ρ_x κ/D with D = φγ + ρ(tψ + t̄φ)(ω + φI₁₂). Returns

        (ψ kp t I₂₂ (ω_x + φI^x₁₂),
         ψ kp (σ² + I₁₁)(ω + φI₁₂)(ω_x + I^x₁₁),
         φ kp t̄ (σ² + φI₁₂) I^x₂₂).

    Each part is a product of non-negative factors on the physical branch. Generic arithmetic:
    NumPy arrays, sympy expressions or mpmath numbers.
    """
    part_t = psi * kp * t * i22 * (omega_x + phi_ix12)
    part_n = psi * kp * (noise_var + i11) * (omega + phi_i12) * (omega_x + ix11)
    part_tb = phi * kp * t_bar * (noise_var + phi_i12) * ix22
    return part_t, part_n, part_tb
