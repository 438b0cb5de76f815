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

from dataclasses import dataclass, fields

import numpy as np

from ._errors import ConvergenceError
from ._solve import solve_increasing
from ._validation import check_parameter
from .activations import Activation, ActivationConstants, get_activation
from .spectra import Spectrum

__all__ = ["Asymptotics", "VarianceTerms", "asymptotics", "solve_kx"]

#: Target number of (point × atom) entries per block of work; keeps temporaries in cache.
_BLOCK = 1 << 17


@dataclass(frozen=True)
class VarianceTerms:
    """Fine-grained (ANOVA) variance over the sources W, X, ε (THEORY.md §7).

    ``w + x + eps + wx + w_eps + x_eps + wx_eps == variance``; ``eps`` and ``w_eps`` vanish.
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
    #: True where the ridgeless interpolation threshold makes the variance infinite.
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


# --- moments -------------------------------------------------------------------------------------


def _blocks(n_points: int, n_atoms: int) -> list[slice]:
    size = max(1, _BLOCK // max(n_atoms, 1))
    return [slice(i, min(i + size, n_points)) for i in range(0, n_points, size)]


def _fixed_point_moments(kx: np.ndarray, lam: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    """a1 = ⟨λ/(λ+k)⟩ and uq = ⟨u(1−u)⟩ = k⟨λ/(λ+k)²⟩ for k > 0 (u = k/(λ+k))."""
    a1 = np.empty_like(kx)
    uq = np.empty_like(kx)
    for sl in _blocks(kx.size, lam.size):
        k = kx[sl, None]
        inv = 1.0 / (lam + k)
        q = lam * inv
        a1[sl] = q @ p
        uq[sl] = (q * (k * inv)) @ p
    return a1, uq


def _all_moments(kx: np.ndarray, lam: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted sums over atoms of q=λ/(λ+k), q², d2=λ/(λ+k)², u=k/(λ+k), u², uq, for the weight
    columns ``cols`` (A × J). Exact at k = 0 (u = 1[λ=0], q = 1[λ>0], d2 = 1[λ>0]/λ)."""
    n, j = kx.size, cols.shape[1]
    out = {key: np.empty((n, j)) for key in ("q", "qq", "d2", "u", "uu", "uq")}
    pos = lam > 0
    inv_lam = np.where(pos, 1.0 / np.where(pos, lam, 1.0), 0.0)
    for sl in _blocks(n, lam.size):
        k = kx[sl, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / (lam + k)
            q = np.where(pos, lam * inv, 0.0)
            u = np.where(pos, k * inv, 1.0)
            d2 = np.where(pos, q * inv, 0.0)
        zero = kx[sl] == 0
        if zero.any():
            d2[zero] = inv_lam
        out["q"][sl] = q @ cols
        out["qq"][sl] = (q * q) @ cols
        out["d2"][sl] = d2 @ cols
        out["u"][sl] = u @ cols
        out["uu"][sl] = (u * u) @ cols
        out["uq"][sl] = (u * q) @ cols
    return out


# --- fixed point ---------------------------------------------------------------------------------


def solve_kx(
    spec: Spectrum,
    phi: np.ndarray,
    psi: np.ndarray,
    gamma: np.ndarray,
    mu1: float,
    mu_perp2: float,
) -> np.ndarray:
    """Physical root k_x >= 0 of the fixed point for 1-D arrays of (φ, ψ, γ) (THEORY.md §4).

    γ > 0: γ = μ1² k (1 − ψP)(1/φ − P) on the branch where both factors are >= 0 (the clipped
    residual is increasing, so the root is unique). γ = 0: P(k) = min(1/φ, 1/ψ) (ridgeless),
    with k = 0 when μ⊥² = 0 and min(1/φ, 1/ψ) >= μ(λ > 0) (linear activation: κ = ∞).
    Raises :class:`ConvergenceError` naming the parameters of any point that does not converge.
    """
    lam, p = spec.lam, spec.weights
    rho = mu1 * mu1
    n = phi.size
    with np.errstate(divide="ignore"):
        q_cap = np.minimum(1.0 / phi, np.where(psi > 0, 1.0 / np.where(psi > 0, psi, 1.0), np.inf))
    ridgeless = gamma == 0
    kx = np.zeros(n)
    pi_pos = float(p[lam > 0].sum())
    # Ridgeless linear-type case with the root at k = 0 (THEORY.md §4: κ = ∞).
    at_zero = ridgeless & (mu_perp2 == 0) & (q_cap >= pi_pos)
    todo = ~at_zero
    if not todo.any():
        return kx
    idx_all = np.flatnonzero(todo)
    ph, ps, ga, qc, rl = phi[idx_all], psi[idx_all], gamma[idx_all], q_cap[idx_all], ridgeless[idx_all]
    log_rho = np.log(rho)
    with np.errstate(divide="ignore"):
        log_gamma = np.log(ga)
        log_mup2 = np.log(mu_perp2) if mu_perp2 > 0 else -np.inf

    def fun(y: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.exp(y)
        a1, uq = _fixed_point_moments(k, lam, p)
        mterm = mu_perp2 / (rho * k)
        P = a1 + mterm
        mP_y = uq + mterm  # −dP/dy > 0
        f = np.empty_like(y)
        d = np.empty_like(y)
        r_ = rl[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            # ridge: log γ-residual, −inf where a factor is <= 0 (non-physical side)
            f1 = 1.0 - ps[idx] * P
            f2 = 1.0 / ph[idx] - P
            good = (f1 > 0) & (f2 > 0)
            fr = np.where(good, log_rho + y + np.log(np.where(good, f1, 1.0))
                          + np.log(np.where(good, f2, 1.0)) - log_gamma[idx], -np.inf)
            dr = 1.0 + ps[idx] * mP_y / f1 + mP_y / f2
            # ridgeless: μ⊥² > 0 → log(μ1² k (q − a1)) − log μ⊥²; μ⊥² = 0 → q − a1
            gap = qc[idx] - a1
            if mu_perp2 > 0:
                pos = gap > 0
                f0 = np.where(pos, log_rho + y + np.log(np.where(pos, gap, 1.0)) - log_mup2,
                              -np.inf)
                d0 = 1.0 + uq / gap
            else:
                f0 = gap
                d0 = uq
        f[:] = np.where(r_, f0, fr)
        d[:] = np.where(r_, d0, dr)
        return f, d

    y0 = np.full(idx_all.size, np.log(spec.s))
    y, ok = solve_increasing(fun, y0, ytol=1e-14)
    if not ok.all():
        bad = idx_all[~ok][0]
        raise ConvergenceError(
            "fixed point did not converge for "
            f"phi={phi[bad]!r}, psi={psi[bad]!r}, gamma={gamma[bad]!r} "
            f"({int((~ok).sum())} of {n} points failed; the root lies outside the float64 range "
            "or the bracket could not be found)"
        )
    kx[idx_all] = np.exp(y)
    return kx


# --- formulas ------------------------------------------------------------------------------------


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
    delta: np.ndarray,
    rho_beta: np.ndarray,
    mu1: float,
    mu_perp2: float,
    mterm2: np.ndarray,
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
    # Bias (THEORY.md §5): B* = ∫ λ* ((1 − r) + r u)² dμ
    bias = (1 - r) ** 2 * s_test + 2 * r * (1 - r) * b0u + r * r * c0u2
    # Ξ* = μ1*² k_x² c0* + μ⊥*²  and V_W = ψ a2 Ξ*/(μ1² v)   (THEORY.md §7)
    xi = mu1_t**2 * c0u2 + mu_perp2_t
    with np.errstate(divide="ignore", invalid="ignore"):
        v_w = psi * a2 * xi / (mu1 * mu1 * v)
        # D* = (φ/A)(Θ* − ψkΞ*/v) in a form that stays finite as k_x → 0 (derivation in docs/theory.md)
        d_star = (phi / (mu1 * mu1 * v)) * (
            mu1_t**2 * ((1 - psi * a1) * c1 + psi * c0 * b0u + psi * mterm2 * c0u2)
            + mu_perp2_t * (psi * c0 + psi * mterm2)
        )
        one_m_phi_a2 = 1.0 - phi * a2
        v_x = r * r * phi * c1 * (kx * uq) / one_m_phi_a2
        v_xe = r * r * phi * c1 * noise_var / one_m_phi_a2
        v_wx = (rho_beta / delta) * d_star - v_x
        v_wxe = (noise_var / delta) * d_star - v_xe
    zeros = np.zeros_like(v_w)
    terms = VarianceTerms(w=v_w, x=v_x, eps=zeros, wx=v_wx, w_eps=zeros, x_eps=v_xe, wx_eps=v_wxe)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = v_w + ((rho_beta + noise_var) / delta) * d_star  # V = V_W + τ² D*
    return bias, variance, terms


def _evaluate(
    spec: Spectrum,
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
    lam, p = spec.lam, spec.weights
    cols = np.stack([p, p * spec.lam_star, p * lam], axis=1)
    m = _all_moments(kx, lam, cols)
    a1, a2, c0, uq = m["q"][:, 0], m["qq"][:, 0], m["d2"][:, 0], m["uq"][:, 0]
    ridgeless = ga == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mterm = np.where(kx > 0, mup2 / (rho * kx), 0.0)  # μ⊥²/A
        mterm2 = np.where(kx > 0, mterm / kx, 0.0)  # μ⊥²/(A k_x)
        P = a1 + mterm
        # Factors 1 − ψP = t̄ and 1/φ − P = t/φ. On the side where one is small, use the fixed
        # point γ = μ1² k_x t̄ (t/φ) to avoid cancellation; in the ridgeless limit it is exactly 0.
        f1 = 1.0 - ps * P
        f2 = 1.0 / ph - P
        small_f2 = ph * f2 <= f1
        f2 = np.where(small_f2 & (kx > 0), ga / (rho * kx * f1), f2)
        f1 = np.where(~small_f2 & (kx > 0), ga / (rho * kx * f2), f1)
    t = ph * f2
    t_bar = f1
    v = 1.0 - ps * a2
    with np.errstate(divide="ignore", invalid="ignore"):
        # δ = 1 − df₂/m = φ(k' + ψk(P − a2)/v), with P − a2 = ⟨u(1−u)⟩ + μ⊥²/A
        delta = t + ph * t_bar * (uq + mterm) / v
        # ρ_β = k_x(a1 − ψk a2/v) = (k_x⟨u(1−u)⟩ + ψ a2 μ⊥²/μ1²)/v
        rho_beta = (kx * uq + ps * a2 * mup2 / rho) / v
    common = dict(kx=kx, phi=ph, psi=ps, noise_var=nv, a1=a1, a2=a2, c0=c0, uq=uq, v=v,
                  delta=delta, rho_beta=rho_beta, mu1=mu1, mu_perp2=mup2, mterm2=mterm2)
    bias, var, terms = _side(m, 1, s_test=spec.s_star, mu1_t=mu1_t, mu_perp2_t=mu_perp2_t,
                             **common)
    bias_id, var_id, terms_id = _side(m, 2, s_test=spec.s, mu1_t=mu1, mu_perp2_t=mup2, **common)

    # Ridgeless interpolation threshold: δ = 0 (ψ = φ, or a linear model at its rank threshold).
    # (At k_x = 0 — linear features of rank n0·μ(λ>0) below both m and n1 — ψ = φ is no threshold.)
    peak = ridgeless & (((ps == ph) & (kx > 0)) | ~(delta > 0) | ~(v > 0) | ~(1.0 - ph * a2 > 0))
    if peak.any():
        for arr in (var, var_id):
            arr[peak] = np.inf
        for tm in (terms, terms_id):
            for name in ("wx", "wx_eps"):
                getattr(tm, name)[peak] = np.inf
            for name in ("w", "x", "x_eps"):
                arr = getattr(tm, name)
                arr[peak & ~np.isfinite(arr)] = np.inf
        delta = np.where(peak, 0.0, delta)

    err, err_id = bias + var, bias_id + var_id
    finite_expected = ~peak
    for name, arr in (("error", err), ("error_id", err_id), ("k_x", kx)):
        bad = finite_expected & ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ConvergenceError(
                f"non-finite {name} at phi={ph[i]!r}, psi={ps[i]!r}, gamma={ga[i]!r}, "
                f"noise_var={nv[i]!r}; please report this configuration"
            )
    if (peak & (ga > 0)).any():  # pragma: no cover - theory guarantees δ, v > 0 for γ > 0
        i = int(np.flatnonzero(peak & (ga > 0))[0])
        raise ConvergenceError(f"degenerate denominator at phi={ph[i]!r}, psi={ps[i]!r}, gamma={ga[i]!r}")

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

    kx = solve_kx(spec, ph, ps, ga, mu1, mup2)

    flat = _evaluate(spec, kx, ph, ps, ga, nv, mu1=mu1, mu_perp2=mup2, mu1_t=te_c.mu1,
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
