"""Asymptotic test error, bias and variance of random-feature ridge regression under covariate shift.

The engine solves the single scalar fixed point of THEORY.md §4 for every parameter point at once
(vectorised safeguarded Newton in ``log k_x``, bracket guaranteed) and evaluates the closed
formulas of THEORY.md §5 and §7 as array functions. It works in the input-space effective ridge
``k_x = φ/κ`` (THEORY-derivation.md §3–4), in which the fixed point reads

    γ = μ1² k_x (1 − ψ P)(1/φ − P),     P = a1(k_x) + μ⊥²/(μ1² k_x),   a1 = ⟨λ/(λ + k_x)⟩,

with the physical root the unique one where both factors are ≥ 0. In THEORY.md's variables
``κ = φ/k_x``, ``t = γτ = 1 − φP`` and ``t̄ = γτ̄ = 1 − ψP``.

Conventions: φ = n0/m, ψ = n0/n1, kernel K = FᵀF/n1 + γ I; errors exclude test-label noise
(``error_noisy`` adds ``noise_var``). ``gamma = 0`` is the exact ridgeless limit, ``psi = 0`` the
infinite-feature (kernel) limit. At the ridgeless interpolation threshold ``psi == phi`` the variance
and the error are ``inf`` (``interpolation_peak`` is True there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._anova import VarianceTerms, fine_terms, safe_div, safe_mul
from ._errors import ConvergenceError
from ._moments import KINDS, MARGIN, WIDTH, ChebyshevMoments, exact_moments
from ._solve import solve_increasing
from ._validation import check_parameter
from .activations import Activation, ActivationConstants, get_activation
from .spectra import Spectrum

__all__ = ["Asymptotics", "VarianceTerms", "asymptotics", "solve_kx"]


@dataclass(frozen=True)
class Asymptotics:
    """Result of :func:`asymptotics`; every array field has the broadcast shape of the parameters.

    OOD fields (``error``, ``bias``, ``variance``, ``variance_terms``) use the test covariance Σ*;
    the ``*_id`` fields test the same trained model on Σ.
    """

    phi: np.ndarray
    psi: np.ndarray
    gamma: np.ndarray
    noise_var: np.ndarray
    error: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    error_id: np.ndarray
    bias_id: np.ndarray
    variance_id: np.ndarray
    variance_terms: VarianceTerms
    variance_terms_id: VarianceTerms
    #: THEORY.md κ (solution of κ(ω + I_{1,1}) = 1 − t); ``inf`` where k_x = 0.
    kappa: np.ndarray
    #: Input-space effective ridge k_x = φ/κ.
    k_x: np.ndarray
    #: t = γτ = 1 − φP and t̄ = γτ̄ = 1 − ψP (THEORY.md §4).
    t: np.ndarray
    t_bar: np.ndarray
    #: 1 − df₂/m (THEORY-derivation.md §4); 0 at the interpolation peak.
    delta: np.ndarray
    #: True where a ridgeless threshold makes the OOD or the ID variance (and error) ``inf``.
    interpolation_peak: np.ndarray
    activation: Activation
    train_constants: ActivationConstants
    test_constants: ActivationConstants

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.error)

    @property
    def rho(self) -> float:
        """ρ = μ1(s)²."""
        return self.train_constants.mu1**2

    @property
    def omega(self) -> float:
        """ω = μ⊥²(s)/ρ."""
        return self.train_constants.mu_perp2 / self.rho

    @property
    def rho_star(self) -> float:
        """ρ* = μ1(s*)²."""
        return self.test_constants.mu1**2

    @property
    def omega_star(self) -> float:
        """ω* = μ⊥²(s*)/ρ* (``inf`` if μ1(s*) = 0)."""
        return self.test_constants.mu_perp2 / self.rho_star if self.rho_star else np.inf

    @property
    def r(self) -> float:
        """r = μ1(s*)/μ1(s)."""
        return self.test_constants.mu1 / self.train_constants.mu1

    @property
    def error_noisy(self) -> np.ndarray:
        """OOD error against noisy test labels: error + noise_var."""
        return self.error + self.noise_var

    @property
    def error_id_noisy(self) -> np.ndarray:
        """ID error against noisy test labels: error_id + noise_var."""
        return self.error_id + self.noise_var

    def _frame_args(self) -> tuple:
        extra = {"error_noisy": self.error_noisy, "error_id_noisy": self.error_id_noisy,
                 "rho": self.rho, "omega": self.omega, "rho_star": self.rho_star,
                 "omega_star": self.omega_star, "r": self.r}
        return self, self.shape, ("phi", "psi", "gamma", "noise_var"), extra

    def to_dataframe(self):  # -> pandas.DataFrame
        """One row per broadcast point: phi, psi, gamma, noise_var, then every per-point output
        (error, bias, variance, their ``_id`` twins, error_noisy, kappa, k_x, t, t_bar, delta,
        interpolation_peak, …) and the ANOVA terms as ``variance_w`` … ``variance_wx_eps`` and
        ``variance_id_w`` …; the activation and ρ, ω, ρ*, ω*, r in ``DataFrame.attrs``.

        Needs pandas (``pip install 'rfshift[frames]'``); raises ImportError naming it otherwise.

        >>> import rfshift as rf
        >>> res = rf.asymptotics(rf.Spectrum([1.5, .5], [.5, 1.5]), phi=0.5, psi=[0.25, 1.0], gamma=0.01)
        >>> res.to_dataframe()[["psi", "error", "variance_wx"]].shape
        (2, 3)
        """
        from ._frames import to_dataframe

        return to_dataframe(*self._frame_args())

    def to_xarray(self):  # -> xarray.Dataset
        """The results as an ``xarray.Dataset`` on the broadcast grid: each axis is named after the
        parameter that varies along it (``phi``, ``psi``, ``gamma``, ``noise_var``; ``axis<i>`` if
        none does) with that parameter's values as coordinates; variables as in :meth:`to_dataframe`.

        Needs xarray (``pip install 'rfshift[frames]'``); raises ImportError naming it otherwise.
        """
        from ._frames import to_xarray

        return to_xarray(*self._frame_args())


# --- moments -------------------------------------------------------------------------------------

MomentFn = Callable[..., dict[str, np.ndarray]]


def _columns(spec: Spectrum) -> np.ndarray:
    """Weight columns (p, pλ*, pλ) of ``spec`` as an (atoms × 3) array (cached on the spectrum)."""
    def make() -> np.ndarray:
        p = spec.weights
        cols = np.stack([p, p * spec.lam_star, p * spec.lam], axis=1)
        cols.flags.writeable = False
        return cols

    return spec._derived("engine.columns", make)


def _moment_source(spec: Spectrum, n_points: int) -> MomentFn:
    """Moments of ``spec`` for weight columns (p, pλ*, pλ): a Chebyshev table in log k_x when many
    points make it cheaper than direct sums (it is accurate to ~1e-15, see ``_moments``), else exact.

    The table is kept on the spectrum (``Spectrum._derived``), so the panels built for one call
    serve later calls on the same spectrum.
    """
    lam = spec.lam
    cols = _columns(spec)
    # The table is built lazily (only panels that roots visit); it pays off once there are more
    # points than panels it may have to build.
    pos = lam[lam > 0]
    n_panels = (np.log(pos.max() / pos.min()) + 2 * MARGIN) / WIDTH
    if n_points >= max(64.0, 2.0 * n_panels) and spec.n_atoms > 8:
        return spec._derived("engine.table", lambda: ChebyshevMoments(lam, cols))

    def exact(kx: np.ndarray, kinds: tuple[str, ...] = KINDS, first_column: bool = False) -> dict:
        return exact_moments(kx, lam, cols[:, :1] if first_column else cols, kinds)

    return exact


# --- fixed point ---------------------------------------------------------------------------------


def _factor_f2(g: np.ndarray, c: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """f2 = t/φ = 1/φ − P at the root: the positive root of ψ f2² + c f2 − g = 0 (THEORY.md §4's t(κ),
    rationalised so that neither branch cancels; c = 1 − ψ/φ, g = γ/(μ1² k_x) >= 0).

    The factors obey f1 − ψ f2 = c exactly and f1·f2 = g at the root (f1 = t̄ = 1 − ψP), so f2 is
    this root; 0 where g = 0 and c >= 0. Works on arrays (any broadcastable shapes).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = np.sqrt(c * c + 4.0 * psi * g)
        return np.where(c >= 0, 2.0 * g / np.where(c + disc > 0, c + disc, 1.0),
                        (disc - c) / (2.0 * np.where(psi > 0, psi, 1.0)))


def _hermite_root(f0: np.ndarray, f1: np.ndarray, m0: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """Root t in (0, 1) of the cubic Hermite interpolant with values f0 < 0 < f1 and slopes m0, m1 (in t)
    at t = 0, 1: regula falsi, then four Newton steps on the cubic kept inside (0, 1)."""
    t = f0 / (f0 - f1)
    with np.errstate(all="ignore"):
        for _ in range(4):
            t2 = t * t
            t3 = t2 * t
            h = (f0 * (2 * t3 - 3 * t2 + 1) + m0 * (t3 - 2 * t2 + t) + f1 * (3 * t2 - 2 * t3)
                 + m1 * (t3 - t2))
            dh = (f0 * (6 * t2 - 6 * t) + m0 * (3 * t2 - 4 * t + 1) + f1 * (6 * t - 6 * t2)
                  + m1 * (3 * t2 - 2 * t))
            t_new = t - h / dh
            t = np.where(np.isfinite(t_new) & (t_new > 0) & (t_new < 1), t_new, t)
    return t


def solve_kx(
    spec: Spectrum,
    phi: np.ndarray,
    psi: np.ndarray,
    gamma: np.ndarray,
    mu1: float,
    mu_perp2: float,
    moments: MomentFn | None = None,
) -> np.ndarray:
    """Physical root k_x >= 0 of the fixed point for 1-D arrays of (φ, ψ, γ) (THEORY.md §4).

    With P(k) = a1(k) + μ⊥²/(μ1² k) decreasing and q = min(1/φ, 1/ψ):

    * γ = 0: the boundary of the physical branch, P(k_b) = q, i.e. h(k) = μ1² k (q − a1) − μ⊥² = 0
      (THEORY-derivation.md §3, a single upward crossing), solved as the bounded increasing
      residual h/(μ1² k q + μ⊥²) in y = log k; k_b = 0 when μ⊥² = 0 and q >= μ(λ > 0) (linear
      features: κ = ∞).
    * γ > 0: the physical root of γ = μ1² k (1 − ψP)(1/φ − P). Eliminating the two factors with
      f1 − ψ f2 = c := 1 − ψ/φ and f1 f2 = g := γ/(μ1² k) gives f2(k) = :func:`_factor_f2` (> 0,
      decreasing in k), and the root is the unique zero of F(y) = 1/φ − P − f2, which increases
      strictly in y = log k from −∞ to min(1/φ, 1/ψ) (dF/dy = ⟨uq⟩ + μ⊥²/(μ1² k) + g/disc > 0 with
      disc = sqrt(c² + 4ψg)). It is solved as the bounded residual R = (2/φ)/S − 1 = F/S with
      S = 1/φ + P + f2 (dR/dy = 2 (dF/dy)/(φ S²)), in one stage.

    Both use the safeguarded Newton of ``_solve`` with brackets from the moment table's panel
    edges when there is a table. Raises :class:`ConvergenceError` naming the parameters of any
    point that does not converge.
    """
    lam, p = spec.lam, spec.weights
    rho = mu1 * mu1
    n = phi.size
    if moments is None:
        moments = _moment_source(spec, n)
    with np.errstate(divide="ignore"):
        q_cap = np.minimum(1.0 / phi, np.where(psi > 0, 1.0 / np.where(psi > 0, psi, 1.0), np.inf))
    pi_pos = float(p[lam > 0].sum())
    grid = getattr(moments, "edges", None)

    c_all = (phi - psi) / phi  # c = 1 − ψ/φ
    inv_phi = 1.0 / phi

    # Residuals in y = log k, given k and the moments a1 = ⟨q⟩, uq = ⟨uq⟩ there; the slope only with
    # ``deriv`` (the edge bisection needs signs only).
    def boundary_residual(k: np.ndarray, a1: np.ndarray, uq: np.ndarray, idx: np.ndarray,
                          deriv: bool = True):
        A = rho * k
        q = q_cap[idx]
        num = A * (q - a1) - mu_perp2
        den = A * q + mu_perp2
        if not deriv:
            return num / den, None
        dnum = A * (q - a1 + uq)
        return num / den, (dnum * den - num * A * q) / (den * den)

    def ridge_residual(k: np.ndarray, a1: np.ndarray, uq: np.ndarray, idx: np.ndarray,
                       deriv: bool = True):
        ps, c, ip = psi[idx], c_all[idx], inv_phi[idx]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            A = rho * k
            mterm = mu_perp2 / A
            g = gamma[idx] / A
            S = ip + a1 + mterm + _factor_f2(g, c, ps)
            f = (2.0 * ip) / S - 1.0
            if not deriv:
                return f, None
            d = 2.0 * ip * (uq + mterm + g / np.sqrt(c * c + 4.0 * ps * g)) / (S * S)
        return f, np.where(np.isfinite(d), d, 0.0)

    def solve(residual, idx: np.ndarray) -> np.ndarray:
        def fun(y: np.ndarray, sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            k = np.exp(y)
            mom = moments(k, ("q", "uq"), first_column=True)
            return residual(k, mom["q"][:, 0], mom["uq"][:, 0], idx[sub])

        m_pts = idx.size
        nan = np.full(m_pts, np.nan)
        lo, hi, f_lo, f_hi, d_lo, d_hi = (nan.copy() for _ in range(6))
        y0 = np.full(m_pts, np.log(spec.s))
        if grid is not None:
            # Bisection over the table's panel edges (moments known exactly there) ...
            y_e, a1_e, uq_e = grid
            k_e = np.exp(y_e)
            i_lo, i_hi = np.zeros(m_pts, dtype=np.int64), np.full(m_pts, y_e.size - 1)
            inside = (residual(k_e[i_lo], a1_e[i_lo], None, idx, False)[0] < 0) & \
                (residual(k_e[i_hi], a1_e[i_hi], None, idx, False)[0] > 0)
            while True:
                go = inside & (i_hi - i_lo > 1)
                if not go.any():
                    break
                mid = (i_lo + i_hi) // 2
                neg = residual(k_e[mid], a1_e[mid], None, idx, False)[0] < 0
                i_lo, i_hi = np.where(go & neg, mid, i_lo), np.where(go & ~neg, mid, i_hi)
            fl, dl = residual(k_e[i_lo], a1_e[i_lo], uq_e[i_lo], idx)
            fh, dh = residual(k_e[i_hi], a1_e[i_hi], uq_e[i_hi], idx)
            inside &= (fl < 0) & (fh > 0)
            lo, hi = np.where(inside, y_e[i_lo], nan), np.where(inside, y_e[i_hi], nan)
            f_lo, f_hi = np.where(inside, fl, nan), np.where(inside, fh, nan)
            d_lo, d_hi = np.where(inside, dl, nan), np.where(inside, dh, nan)
            # ... then one evaluation at the root of the cubic Hermite interpolant of the residual on
            # the bracket (error ~ width⁴), which becomes the near end of a tighter bracket.
            sub = np.flatnonzero(inside)
            if sub.size:
                y_h = lo[sub] + (hi[sub] - lo[sub]) * _hermite_root(
                    f_lo[sub], f_hi[sub], d_lo[sub] * (hi[sub] - lo[sub]), d_hi[sub] * (hi[sub] - lo[sub]))
                f_h, d_h = fun(y_h, sub)
                neg, pos = f_h < 0, f_h > 0
                lo[sub], f_lo[sub], d_lo[sub] = (np.where(neg, y_h, lo[sub]), np.where(neg, f_h, f_lo[sub]),
                                                 np.where(neg, d_h, d_lo[sub]))
                hi[sub], f_hi[sub], d_hi[sub] = (np.where(pos, y_h, hi[sub]), np.where(pos, f_h, f_hi[sub]),
                                                 np.where(pos, d_h, d_hi[sub]))
                # (an exact zero f_h == 0 leaves the bracket as it was; the solver converges in it)
        y, ok = solve_increasing(fun, y0, bracket=(lo, hi, f_lo, f_hi, d_lo, d_hi), ytol=1e-14)
        if not ok.all():
            bad = idx[~ok][0]
            raise ConvergenceError(
                "fixed point did not converge for "
                f"phi={phi[bad]!r}, psi={psi[bad]!r}, gamma={gamma[bad]!r} "
                f"({int((~ok).sum())} of {n} points failed; the root lies outside the float64 range "
                "or the bracket could not be found)"
            )
        return y

    kx = np.zeros(n)
    ridgeless = np.flatnonzero((gamma == 0) & ~((mu_perp2 == 0) & (q_cap >= pi_pos)))  # else k_b = 0
    if ridgeless.size:
        kx[ridgeless] = np.exp(solve(boundary_residual, ridgeless))
    ridge = np.flatnonzero(gamma > 0)
    if ridge.size:
        kx[ridge] = np.exp(solve(ridge_residual, ridge))
    return kx


# --- formulas ------------------------------------------------------------------------------------


# 0/0 := 0, x/0 := inf and 0·inf := 0 at the ridgeless thresholds (one home: rfshift._anova)
_ratio = safe_div
_product = safe_mul


#: The expanded bias (1 − r)² s* + 2r(1 − r)⟨λ*u⟩ + r²⟨λ*u²⟩ is re-evaluated atom by atom where it
#: keeps less than this fraction of the size of its terms (i.e. lost more than ~6 of 16 digits).
BIAS_CANCELLATION = 1e-6


def _bias(r: float, s_test: float, b0u: np.ndarray, c0u2: np.ndarray, kx: np.ndarray,
          lam: np.ndarray, test_w: np.ndarray) -> np.ndarray:
    """B* = ∫ λ* ((1 − r) + r u)² dμ (THEORY.md §5), non-negative by construction.

    Fast path: the expansion in the moments ⟨λ*u⟩, ⟨λ*u²⟩ (from the Chebyshev table or exact sums).
    It cancels when r is far from 1 (e.g. tanh at training variance 5.5e15: r = 5.6e7, and the
    expansion returned −0.5 for a true 0.401). Where the result is below ``BIAS_CANCELLATION`` times
    the sum of the absolute terms, it is recomputed as the exact per-atom sum
    Σ_k p_k λ*_k (1 − r λ_k/(λ_k + k_x))², a sum of squares (1 − u = λ/(λ + k_x) has no cancellation;
    u = 1 on λ = 0 atoms, u = 0 on λ > 0 atoms where k_x = 0). O(atoms) per such point only.
    """
    one_m_r = 1.0 - r
    bias = one_m_r**2 * s_test + 2.0 * r * one_m_r * b0u + r * r * c0u2
    size = one_m_r**2 * s_test + 2.0 * abs(r * one_m_r) * b0u + r * r * c0u2
    redo = np.flatnonzero(~(bias > BIAS_CANCELLATION * size))
    if redo.size:
        k = kx[redo][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            one_m_u = np.where(lam[None, :] > 0, lam[None, :] / (lam[None, :] + k), 0.0)
        bias = bias.copy()
        bias[redo] = ((1.0 - r * one_m_u) ** 2) @ test_w
    return bias


def _side(
    m: dict[str, np.ndarray],
    col: int,
    *,
    kx: np.ndarray,
    phi: np.ndarray,
    psi: np.ndarray,
    noise_var: np.ndarray,
    a1: np.ndarray,
    a2: np.ndarray,
    c0: np.ndarray,
    uq: np.ndarray,
    v: np.ndarray,
    one_m_phi_a2: np.ndarray,
    delta: np.ndarray,
    rho_beta: np.ndarray,
    mu1: float,
    mu_perp2: float,
    mterm: np.ndarray,
    mterm2: np.ndarray,
    lam: np.ndarray,
    test_w: np.ndarray,
    s_test: float,
    mu1_t: float,
    mu_perp2_t: float,
) -> tuple[np.ndarray, np.ndarray, VarianceTerms]:
    """Bias, variance and its split for one test law (column ``col`` of the moment table).

    THEORY-derivation.md §4, with the test moments ⟨λ* g(λ)⟩ taken from column ``col``.
    """
    r = mu1_t / mu1
    b0u = m["u"][:, col]  # ⟨λ* u⟩ = k_x b0*
    c0u2 = m["uu"][:, col]  # ⟨λ* u²⟩ = k_x² c0*
    c1 = m["d2"][:, col]  # ⟨λ* λ/(λ+k)²⟩ = c1*
    bias = _bias(r, s_test, b0u, c0u2, kx, lam, test_w)
    # Ξ* = μ1*² k_x² c0* + μ⊥*²  and V_W = ψ a2 Ξ*/(μ1² v)   (THEORY.md §7)
    xi = mu1_t**2 * c0u2 + mu_perp2_t
    # T* = D*, the seven ANOVA terms and V = V_W + τ²T*, each a sum of non-negative products
    # (rfshift._anova; derivation in docs/theory.md). Ridgeless thresholds that make δ, v or 1 − φa2
    # vanish give the limit 0 for a vanishing numerator (no noise, k_x = 0), else +inf.
    variance, terms = fine_terms(
        phi=phi, psi=psi, noise_var=noise_var, kx=kx, r=r, mu1=mu1, a2=a2, c0=c0, uq=uq,
        mterm=mterm, mterm2=mterm2, v=v, one_m_phi_a2=one_m_phi_a2, delta=delta, rho_beta=rho_beta,
        c1_t=c1, xi_t=xi)
    return bias, variance, terms


def _evaluate(
    spec: Spectrum,
    moments: MomentFn,
    kx: np.ndarray,
    ph: np.ndarray,
    ps: np.ndarray,
    ga: np.ndarray,
    nv: np.ndarray,
    *,
    mu1: float,
    mu_perp2: float,
    mu1_t: float,
    mu_perp2_t: float,
) -> dict[str, object]:
    """All closed formulas at solved k_x for 1-D parameter arrays (THEORY.md §5, §7)."""
    mup2 = mu_perp2
    rho = mu1 * mu1
    m = moments(kx)
    a1, a2, c0, uq = m["q"][:, 0], m["qq"][:, 0], m["d2"][:, 0], m["uq"][:, 0]
    ridgeless = ga == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mterm = np.where(kx > 0, mup2 / (rho * kx), 0.0)  # μ⊥²/A
        mterm2 = np.where(kx > 0, mterm / kx, 0.0)  # μ⊥²/(A k_x)
        # Factors t̄ = 1 − ψP and t/φ = 1/φ − P. They obey f1 − ψ f2 = c := 1 − ψ/φ exactly and, at
        # the root, f1·f2 = g := γ/(μ1² k_x); so f2 solves ψ f2² + c f2 − g = 0 (THEORY.md §4's t(κ),
        # rationalised), which avoids the cancellation in 1 − ψP near the interpolation threshold.
        g = np.where(kx > 0, ga / (rho * kx), 0.0)
        c = (ph - ps) / ph
        f2 = _factor_f2(g, c, ps)
        f1 = np.where(c >= 0, ps * f2 + c, g / np.where(f2 > 0, f2, 1.0))
        # k_x = 0 (linear features, ridgeless, P = μ(λ > 0)): evaluate the factors directly.
        P0 = a1 + mterm
        f1 = np.where(kx > 0, f1, 1.0 - ps * P0)
        f2 = np.where(kx > 0, f2, 1.0 / ph - P0)
    t = ph * f2
    t_bar = f1
    # v = 1 − ψa2 and 1 − φa2 as sums of non-negative terms (P − a2 = ⟨u(1−u)⟩ + μ⊥²/A ≥ 0):
    # v = t̄ + ψ(P − a2), 1 − φa2 = t + φ(P − a2); no cancellation as they approach 0.
    x_pa2 = uq + mterm
    v = np.where(kx > 0, t_bar + ps * x_pa2, 1.0 - ps * a2)
    one_m_phi_a2 = np.where(kx > 0, t + ph * x_pa2, 1.0 - ph * a2)
    if (kx == 0).any():
        # k_x = 0 (linear features, ridgeless): v = 1 − ψμ(λ>0) and 1 − φa2 = 1 − φμ(λ>0) exactly;
        # snap round-off at the rank thresholds to 0 so they are recognised.
        at0 = kx == 0
        v = np.where(at0 & (np.abs(v) <= 1e-12), 0.0, v)
        one_m_phi_a2 = np.where(at0 & (np.abs(one_m_phi_a2) <= 1e-12), 0.0, one_m_phi_a2)
        t = np.where(at0 & (np.abs(t) <= 1e-12), 0.0, t)
    # δ = 1 − df₂/m = φ(k' + ψk(P − a2)/v), with P − a2 = ⟨u(1−u)⟩ + μ⊥²/A
    delta = t + _ratio(ph * t_bar * (uq + mterm), v)
    # ρ_β = k_x(a1 − ψk a2/v) = (k_x⟨u(1−u)⟩ + ψ a2 μ⊥²/μ1²)/v
    rho_beta = _ratio(kx * uq + ps * a2 * mup2 / rho, v)
    common = dict(kx=kx, phi=ph, psi=ps, noise_var=nv, a1=a1, a2=a2, c0=c0, uq=uq, v=v,
                  one_m_phi_a2=one_m_phi_a2, delta=delta, rho_beta=rho_beta, mu1=mu1,
                  mu_perp2=mup2, mterm=mterm, mterm2=mterm2, lam=spec.lam)
    bias, var, terms = _side(m, 1, s_test=spec.s_star, mu1_t=mu1_t, mu_perp2_t=mu_perp2_t,
                             test_w=spec.weights * spec.lam_star, **common)
    bias_id, var_id, terms_id = _side(m, 2, s_test=spec.s, mu1_t=mu1, mu_perp2_t=mup2,
                                      test_w=spec.weights * spec.lam, **common)

    # Ridgeless interpolation threshold: δ = 0 (ψ = φ, or a linear model at a rank threshold) makes
    # the variance +inf; elsewhere every output must be finite.
    indeterminate = ridgeless & (kx == 0) & (v == 0) & (delta == 0) & (nv == 0)
    if indeterminate.any():
        i = int(np.flatnonzero(indeterminate)[0])
        raise ConvergenceError(
            f"the ridgeless limit at phi={ph[i]!r}, psi={ps[i]!r}, noise_var={nv[i]!r} is an "
            "indeterminate 0·inf form (linear features exactly at two rank thresholds at once, "
            "n1 = m = n0·μ(λ>0), without label noise) that the engine does not evaluate; "
            "use a small gamma > 0 instead (the limit is approached slowly, roughly like gamma**(1/3))"
        )
    err, err_id = bias + var, bias_id + var_id
    # +inf is a limit only in the ridgeless case (flagged per point, ID and OOD separately since test
    # mass on null training directions can diverge under Σ* alone); NaN, or inf with γ > 0, is a bug.
    for name, arr in (("error", err), ("error_id", err_id), ("k_x", kx)):
        bad = np.isnan(arr) | (np.isinf(arr) & ~ridgeless)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ConvergenceError(
                f"non-finite {name} at phi={ph[i]!r}, psi={ps[i]!r}, gamma={ga[i]!r}, "
                f"noise_var={nv[i]!r}; please report this configuration"
            )
    peak = ridgeless & (np.isinf(var) | np.isinf(var_id))

    with np.errstate(divide="ignore"):
        kappa = np.where(kx > 0, ph / np.where(kx > 0, kx, 1.0), np.inf)
    return dict(error=err, bias=bias, variance=var, error_id=err_id, bias_id=bias_id,
                variance_id=var_id, terms=terms, terms_id=terms_id, kappa=kappa, t=t,
                t_bar=t_bar, delta=delta, peak=peak)


def asymptotics(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    precision: int | None = None,
) -> Asymptotics:
    """Exact limiting test error, bias and variance (OOD under Σ* and ID under Σ).

    Parameters
    ----------
    spec:
        Joint spectral measure of (Σ, Σ*), see :class:`rfshift.Spectrum`.
    phi:
        φ = n0/m > 0 (input dimension over number of training samples).
    psi:
        ψ = n0/n1 >= 0 (input dimension over number of features); 0 is the kernel limit.
    gamma:
        Ridge γ >= 0 on the kernel FᵀF/n1 + γ I; 0 is the exact ridgeless limit.
    noise_var:
        Training label-noise variance σ² >= 0 (the reported errors use clean test labels).
    activation:
        A name (see :func:`rfshift.available_activations`) or an :class:`rfshift.Activation`.
    precision:
        ``None`` (default): float64, vectorised. An integer number of decimal digits re-solves one
        scalar point in arbitrary precision with mpmath and returns
        :class:`rfshift.symbolic.MPAsymptotics` (``mpf`` fields) instead — used to certify the
        float64 results near the interpolation peak.

    ``phi``, ``psi``, ``gamma`` and ``noise_var`` broadcast like NumPy arrays.

    Returns
    -------
    Asymptotics
        ``error = bias + variance`` (THEORY.md §5) and the same for ``*_id``; ``variance_terms``
        (THEORY.md §7); the solved ``kappa``/``k_x`` and auxiliary scalars.

    Raises
    ------
    ValueError, TypeError
        Invalid parameters, or an activation with μ1(s) = 0.
    rfshift.ConvergenceError
        The fixed point could not be solved (never a silent wrong value).

    Examples
    --------
    >>> import rfshift as rf
    >>> spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    >>> res = rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.25)
    >>> round(float(res.error), 8), round(float(res.error_id), 8)
    (0.63961156, 0.49037042)
    """
    if not isinstance(spec, Spectrum):
        raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
    if precision is not None:
        for name, val in (("phi", phi), ("psi", psi), ("gamma", gamma), ("noise_var", noise_var)):
            if np.ndim(val) != 0:
                raise ValueError(f"precision= re-solves a single point: {name} must be a scalar")
        from .symbolic import asymptotics_mp

        return asymptotics_mp(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise_var,  # type: ignore[return-value]
                              activation=activation, precision=precision)
    act = get_activation(activation)
    phi_a = check_parameter(phi, "phi", allow_zero=False, description="n0/m")
    psi_a = check_parameter(psi, "psi", allow_zero=True, description="n0/n1")
    gamma_a = check_parameter(gamma, "gamma", allow_zero=True, description="ridge")
    noise_a = check_parameter(noise_var, "noise_var", allow_zero=True, description="label noise")
    try:
        shape = np.broadcast_shapes(phi_a.shape, psi_a.shape, gamma_a.shape, noise_a.shape)
    except ValueError:
        raise ValueError(
            "phi, psi, gamma and noise_var must broadcast together, got shapes "
            f"{phi_a.shape}, {psi_a.shape}, {gamma_a.shape}, {noise_a.shape}"
        ) from None
    ph, ps, ga, nv = (np.broadcast_to(a, shape).ravel() for a in (phi_a, psi_a, gamma_a, noise_a))

    tr_c = act.constants(spec.s)
    te_c = act.constants(spec.s_star)
    mu1, mup2 = tr_c.mu1, tr_c.mu_perp2
    scale = np.sqrt(max(tr_c.second_moment, np.finfo(float).tiny) / spec.s)
    if abs(mu1) <= 1e-12 * scale:
        raise ValueError(
            f"activation {act.name!r} has mu1(s) = {mu1:.3g} at the training variance s = {spec.s:.6g}: "
            "its features carry no linear signal, which the theory does not support (THEORY.md §3)"
        )

    moments = _moment_source(spec, ph.size)
    kx = solve_kx(spec, ph, ps, ga, mu1, mup2, moments)

    flat = _evaluate(spec, moments, kx, ph, ps, ga, nv, mu1=mu1, mu_perp2=mup2, mu1_t=te_c.mu1,
                     mu_perp2_t=te_c.mu_perp2)

    def shaped(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=float).reshape(shape)
        return a[()] if a.ndim == 0 else a

    def shaped_terms(tm: VarianceTerms) -> VarianceTerms:
        return VarianceTerms(**{k: shaped(val) for k, val in tm.as_dict().items()})

    return Asymptotics(
        phi=shaped(ph), psi=shaped(ps), gamma=shaped(ga), noise_var=shaped(nv),
        error=shaped(flat["error"]), bias=shaped(flat["bias"]), variance=shaped(flat["variance"]),
        error_id=shaped(flat["error_id"]), bias_id=shaped(flat["bias_id"]),
        variance_id=shaped(flat["variance_id"]),
        variance_terms=shaped_terms(flat["terms"]), variance_terms_id=shaped_terms(flat["terms_id"]),
        kappa=shaped(flat["kappa"]), k_x=shaped(kx), t=shaped(flat["t"]), t_bar=shaped(flat["t_bar"]),
        delta=shaped(flat["delta"]), interpolation_peak=np.asarray(flat["peak"].reshape(shape))[()],
        activation=act, train_constants=tr_c, test_constants=te_c,
    )
