"""Partial order over covariate shifts (THEORY.md §6).

At fixed training side and test trace s*, the OOD error is E* = F(s*) + ∫ w(u(λ)) ν(dλ) with
ν(dλ) = λ* μ(dλ) and w a quadratic in u = k_x/(λ + k_x) (u decreases in λ). For two shifts a, b with
the same training spectrum:

* equal traces: E_a − E_b = ∫ w d(ν_a − ν_b). If ν_a puts more mass on larger λ
  (ν_a([0, λ]) ≤ ν_b([0, λ]) for all λ) and w∘u is non-increasing in λ on the support, E_a ≤ E_b;
  if w∘u is non-decreasing there, E_a ≥ E_b.
* different traces: allowed only when the test constants make E* linear in ν including its mass
  (μ1(s*_a) = μ1(s*_b) and μ⊥²(s*)/s* equal, e.g. ReLU, leaky ReLU, linear). Then E* = ∫ w̃ dν with
  w̃ = w + F/s* ≥ 0 and: ν_a([0, λ]) ≤ ν_b([0, λ]) ∀λ (λ = ∞ included) and w̃ non-increasing
  ⇒ E_a ≤ E_b; ν_a([λ, ∞)) ≤ ν_b([λ, ∞)) ∀λ and w̃ non-decreasing ⇒ E_a ≤ E_b.

Monotonicity test (THEORY.md §6): dw/du = c1 + 2c2 u is affine in u, so w∘u is non-increasing in λ on
the support iff dw/du ≥ 0 at u_min and u_max of the support (non-decreasing iff both ≤ 0).

An order is claimed only where this sufficient condition certifies it; everything else is
"not certified" (which is not the same as "no order": brute force may still show one).

With a structured or nonlinear target (docs/theory.md §19.5) the weight splits into a b-weighted
bias part and an unweighted variance part, w = b(λ)·w_β(u) + w_V(u): both shifts must share the
target (b a function of λ), monotonicity is checked directly on the support values (exact for
atomic measures; ``dw_du_min``/``dw_du_max`` are then the discrete slopes Δw/Δu at the two ends of
the support), and under a teacher the test signal energies ⟨bλ*⟩ must be equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..activations import Activation, get_activation
from ..engine import Asymptotics, asymptotics
from ..spectra import Spectrum
from ._weights import atom_u, target_weight_coefficients, weight_coefficients

__all__ = [
    "CertifiedRegion",
    "ShiftComparison",
    "ShiftEffect",
    "certified_region",
    "compare_shifts",
    "shift_effect",
]

#: Relative tolerance for "equal" traces, test constants and cumulative masses.
RTOL = 1e-12

_RELATIONS = ("a_better", "b_better", "equivalent", "not_certified")


@dataclass(frozen=True)
class ShiftComparison:
    """Result of :func:`compare_shifts`.

    ``verdict`` is ``"a_better"``/``"b_better"`` (a, resp. b, has OOD error no larger than the other at
    every point, certified, and strictly certified as an order at one point at least), ``"equivalent"``
    (certified equal errors everywhere) or ``"incomparable"`` (no single order certified at every point).
    Per-point fields have the broadcast shape of the hyperparameters; ``w`` has one more axis (support).
    """

    verdict: str
    reason: str
    relation: np.ndarray  #: per point: "a_better", "b_better", "equivalent", "not_certified"
    certified: np.ndarray  #: per point: relation != "not_certified"
    error_a: np.ndarray
    error_b: np.ndarray
    support: np.ndarray  #: training eigenvalues carrying test mass of a or b (sorted)
    cdf_a: np.ndarray  #: ν_a([0, λ]) at ``support``
    cdf_b: np.ndarray  #: ν_b([0, λ]) at ``support``
    crossings: np.ndarray  #: λ in ``support`` where ν_a([0,λ]) − ν_b([0,λ]) changes sign
    dominance: str  #: "equal", "a_dominates", "b_dominates" (more mass on larger λ) or "crossing"
    comparable: bool  #: False if traces differ and E* is not linear in ν (then nothing is certified)
    w: np.ndarray  #: w̃(u(λ)) = w + F/s* at ``support`` (per point × support)
    dw_du_min: np.ndarray  #: dw/du at u_min (largest λ of the support)
    dw_du_max: np.ndarray  #: dw/du at u_max (smallest λ of the support)
    monotone: np.ndarray  #: "non_increasing", "non_decreasing", "constant", "neither" or "undefined"
    phi: np.ndarray = field(repr=False)
    psi: np.ndarray = field(repr=False)
    gamma: np.ndarray = field(repr=False)
    noise_var: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.error_a)

    @property
    def fraction_certified(self) -> float:
        return float(np.mean(self.certified))


@dataclass(frozen=True)
class ShiftEffect:
    """Result of :func:`shift_effect`: the shift against no shift (ν against ν_ID = λ μ).

    ``verdict``: "helps", "harms", "neutral" (certified at every point) or "not_certified";
    ``effect`` per point: "helps", "harms", "neutral", "not_certified". ``error`` is the OOD error,
    ``error_id`` the ID error of the same trained model.
    """

    verdict: str
    effect: np.ndarray
    error: np.ndarray
    error_id: np.ndarray
    comparison: ShiftComparison


def _lambda_marginal(spec: Spectrum) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique λ, their total weights and test masses ν({λ}) = Σ p λ*."""
    lam_u, inv = np.unique(spec.lam, return_inverse=True)
    w = np.bincount(inv, weights=spec.weights, minlength=lam_u.size)
    nu = np.bincount(inv, weights=spec.weights * spec.lam_star, minlength=lam_u.size)
    return lam_u, w, nu


def _same_training(a: Spectrum, b: Spectrum) -> tuple[bool, np.ndarray, np.ndarray, np.ndarray]:
    la, wa, na = _lambda_marginal(a)
    lb, wb, nb = _lambda_marginal(b)
    grid = np.union1d(la, lb)
    pa = np.zeros(grid.size)
    pb = np.zeros(grid.size)
    nua = np.zeros(grid.size)
    nub = np.zeros(grid.size)
    pa[np.searchsorted(grid, la)] = wa
    pb[np.searchsorted(grid, lb)] = wb
    nua[np.searchsorted(grid, la)] = na
    nub[np.searchsorted(grid, lb)] = nb
    same = bool(np.all(np.abs(pa - pb) <= 1e-12))
    return same, grid, nua, nub


def _crossings(grid: np.ndarray, diff: np.ndarray, tol: float) -> np.ndarray:
    out = []
    prev = 0
    for lam, d in zip(grid, diff, strict=True):
        s = 0 if abs(d) <= tol else (1 if d > 0 else -1)
        if s != 0:
            if prev != 0 and s != prev:
                out.append(lam)
            prev = s
    return np.asarray(out, dtype=float)


def _comparable(act: Activation, sa: float, sb: float) -> tuple[bool, str]:
    if abs(sa - sb) <= RTOL * max(sa, sb):
        return True, "equal test traces"
    ca, cb = act.constants(sa), act.constants(sb)
    same_mu1 = abs(ca.mu1 - cb.mu1) <= RTOL * max(abs(ca.mu1), abs(cb.mu1))
    ra, rb = ca.mu_perp2 / sa, cb.mu_perp2 / sb
    same_perp = abs(ra - rb) <= RTOL * max(abs(ra), abs(rb), 1e-300)
    if same_mu1 and same_perp:
        return True, f"different test traces, but {act.name} makes the error linear in ν"
    return False, (
        f"test traces differ (s*_a = {sa:.6g}, s*_b = {sb:.6g}) and activation {act.name!r} does not "
        "make the error linear in the test-mass measure (needs μ1(s*) equal and μ⊥²(s*) ∝ s*, as for "
        "ReLU); the shift-independent part F(s*) differs, so no order is certified"
    )


def _target_on_support(spec: Spectrum, support: np.ndarray, name: str) -> np.ndarray:
    """b(λ) at the support points; ValueError if atoms of equal λ carry different target power."""
    b = spec.b
    out = np.zeros(support.size)
    idx = np.searchsorted(support, spec.lam)
    inside = (idx < support.size) & (support[np.minimum(idx, support.size - 1)] == spec.lam)
    for j in np.unique(idx[inside]):
        vals = b[inside & (idx == j) & (spec.weights > 0)]
        if vals.size and np.ptp(vals) > RTOL * max(float(np.abs(vals).max()), 1.0):
            raise ValueError(
                f"{name}: atoms with the same training eigenvalue λ = {support[j]:.6g} carry different "
                "target power b; the certificate needs b to be a function of λ (docs/theory.md §19.5)"
            )
        out[j] = vals[0] if vals.size else 0.0
    return out


def _targeted(spec_a: Spectrum, spec_b: Spectrum, res: Asymptotics) -> bool:
    return (spec_a.has_target or spec_b.has_target or res.teacher is not None
            or bool(np.any(np.asarray(res.nonlinear_var) != 0))
            or bool(np.any(np.asarray(res.nonlinear_var_test) != 0)))


def _flat(a: object, shape: tuple[int, ...]) -> np.ndarray:
    return np.ravel(np.broadcast_to(np.asarray(a, dtype=float), shape))


def _compare(
    spec_a: Spectrum, spec_b: Spectrum, res_a: Asymptotics, res_b: Asymptotics, act: Activation
) -> ShiftComparison:
    same, grid, nua, nub = _same_training(spec_a, spec_b)
    if not same:
        raise ValueError(
            "spec_a and spec_b must share the training spectrum (same λ atoms and weights): a shift "
            "comparison changes only the test covariance Σ*"
        )
    shape = res_a.shape
    n = int(np.prod(shape, dtype=int))
    keep = (nua + nub) > 0
    support, nua, nub = grid[keep], nua[keep], nub[keep]
    cdf_a, cdf_b = np.cumsum(nua), np.cumsum(nub)
    tol = RTOL * max(cdf_a[-1], cdf_b[-1])
    lower = cdf_a - cdf_b  # D(λ) = ν_a([0,λ]) − ν_b([0,λ]); last entry = total difference
    upper = np.cumsum((nua - nub)[::-1])[::-1]  # G(λ) = ν_a([λ,∞)) − ν_b([λ,∞))
    equal_nu = bool(np.all(np.abs(lower) <= tol))
    equal_total = abs(lower[-1]) <= tol
    lower_a = bool(np.all(lower <= tol))
    lower_b = bool(np.all(lower >= -tol))
    upper_a = bool(np.all(upper <= tol))
    upper_b = bool(np.all(upper >= -tol))
    if equal_nu:
        dominance = "equal"
    elif lower_a and (equal_total or upper_b):
        dominance = "a_dominates"
    elif lower_b and (equal_total or upper_a):
        dominance = "b_dominates"
    else:
        dominance = "crossing"
    crossings = _crossings(support, lower, tol)

    comparable, why = _comparable(act, spec_a.s_star, spec_b.s_star)
    if _targeted(spec_a, spec_b, res_a):
        # docs/theory.md §19.5: w = b(λ) w_β(u) + w_V(u), checked on the support values
        b_sup = _target_on_support(spec_a, support, "spec_a")
        if np.any(np.abs(_target_on_support(spec_b, support, "spec_b") - b_sup)
                  > RTOL * max(float(np.abs(b_sup).max()), 1.0)):
            raise ValueError(
                "spec_a and spec_b must carry the same target power on the training eigenvalues: a "
                "shift comparison changes only the test covariance Σ*"
            )
        if res_a.teacher is not None and abs(spec_a.signal_star - spec_b.signal_star) > RTOL * max(
                spec_a.signal_star, spec_b.signal_star):
            comparable, why = False, (
                f"the teacher's test signal energies differ (⟨bλ*⟩ = {spec_a.signal_star:.6g} vs "
                f"{spec_b.signal_star:.6g}), so its test-law linear coefficient c1* differs and the "
                "bias weights are not the same")
        tw = target_weight_coefficients(spec_a, res_a)
        tw_b = target_weight_coefficients(spec_b, res_b)
        valid = tw.valid & tw_b.valid
        u = atom_u(np.where(valid, tw.k_x, 1.0), support)
        w_t = tw.w(u, b_sup[None, :]) + (tw.F / spec_a.s_star)[:, None]
        if support.size > 1:
            dw = np.diff(w_t, axis=1)  # along increasing λ
            scale = np.abs(w_t).max(axis=1, keepdims=True)
            tol_w = 1e-12 * scale
            noninc = np.all(dw <= tol_w, axis=1)
            nondec = np.all(dw >= -tol_w, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                d_lo = (w_t[:, -2] - w_t[:, -1]) / (u[:, -2] - u[:, -1])
                d_hi = (w_t[:, 1] - w_t[:, 0]) / (u[:, 1] - u[:, 0])
            d_lo, d_hi = np.where(valid, d_lo, 0.0), np.where(valid, d_hi, 0.0)
        else:
            noninc = nondec = np.ones(n, dtype=bool)
            d_lo = d_hi = np.zeros(n)
    else:
        wc = weight_coefficients(spec_a, res_a)
        wc_b = weight_coefficients(spec_b, res_b)
        valid = wc.valid & wc_b.valid
        u = atom_u(np.where(valid, wc.k_x, 1.0), support)
        w_t = wc.w(u) + (wc.F / spec_a.s_star)[:, None]  # w̃ = w + F/s*
        umin, umax = u.min(axis=1, keepdims=True), u.max(axis=1, keepdims=True)
        d_lo = wc.dw_du(umin)[:, 0]  # at u_min = largest λ
        d_hi = wc.dw_du(umax)[:, 0]
        noninc = (d_lo >= 0) & (d_hi >= 0)
        nondec = (d_lo <= 0) & (d_hi <= 0)
    # w̃ >= 0 is needed when the totals differ (Abel summation); it always holds, but check it.
    w_last_ok = w_t[:, -1] >= 0
    w_first_ok = w_t[:, 0] >= 0
    a_le_b = (noninc & lower_a & w_last_ok) | (nondec & upper_a & w_first_ok)
    b_le_a = (noninc & lower_b & w_last_ok) | (nondec & upper_b & w_first_ok)
    relation = np.full(n, "not_certified", dtype=object)
    ok = valid & comparable
    relation[ok & a_le_b] = "a_better"
    relation[ok & b_le_a] = "b_better"
    relation[ok & a_le_b & b_le_a] = "equivalent"
    if equal_nu:
        relation[valid] = "equivalent"  # identical test laws: identical errors, whatever w is
    monotone = np.full(n, "neither", dtype=object)
    monotone[noninc] = "non_increasing"
    monotone[nondec] = "non_decreasing"
    monotone[noninc & nondec] = "constant"
    monotone[~valid] = "undefined"

    cert = relation != "not_certified"
    if np.all(relation == "equivalent"):
        verdict = "equivalent"
    elif np.all(np.isin(relation, ("a_better", "equivalent"))):
        verdict = "a_better"
    elif np.all(np.isin(relation, ("b_better", "equivalent"))):
        verdict = "b_better"
    else:
        verdict = "incomparable"
    if not comparable and not equal_nu:
        reason = why
    elif verdict != "incomparable":
        reason = f"certified at all {n} points ({why}; test-mass dominance: {dominance})"
    else:
        parts = []
        if dominance == "crossing":
            parts.append("the cumulative test-mass curves cross"
                         + (f" at λ = {', '.join(f'{c:.4g}' for c in crossings)}" if crossings.size else ""))
        if (~valid).any():
            parts.append(f"{int((~valid).sum())} point(s) at the interpolation peak or with κ = ∞")
        if (valid & ~noninc & ~nondec).any():
            n_nm = int((valid & ~noninc & ~nondec).sum())
            parts.append(f"w is not monotone on the support at {n_nm} point(s)")
        kinds = sorted({str(x) for x in relation} & {"a_better", "b_better"})
        if len(kinds) == 2:
            parts.append("the certified order flips between points")
        reason = "; ".join(parts) if parts else "not certified"

    def shaped(a: np.ndarray, extra: tuple[int, ...] = ()) -> np.ndarray:
        a = np.asarray(a).reshape(shape + extra)
        return a[()] if a.ndim == 0 else a

    return ShiftComparison(
        verdict=verdict, reason=reason,
        relation=shaped(relation), certified=shaped(cert),
        error_a=np.asarray(res_a.error), error_b=np.asarray(res_b.error),
        support=support, cdf_a=cdf_a, cdf_b=cdf_b, crossings=crossings, dominance=dominance,
        comparable=comparable or equal_nu,
        w=shaped(w_t, (support.size,)), dw_du_min=shaped(d_lo), dw_du_max=shaped(d_hi),
        monotone=shaped(monotone),
        phi=np.asarray(res_a.phi), psi=np.asarray(res_a.psi), gamma=np.asarray(res_a.gamma),
        noise_var=np.asarray(res_a.noise_var),
    )


def compare_shifts(
    spec_a: Spectrum,
    spec_b: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> ShiftComparison:
    """Certified comparison of the OOD errors of two shifts of the same training law (THEORY.md §6).

    E* = F(s*) + ∫ w(u(λ)) ν(dλ), ν = λ* μ. An order is claimed at a point only when first-order
    dominance of the test-mass curves and monotonicity of w on the support (dw/du at u_min and
    u_max) certify it; the overall ``verdict`` claims an order only if it is certified at every
    point (a set of hyperparameter points is a region). Hyperparameters broadcast as in
    :func:`rfshift.asymptotics`; ``error_a``/``error_b`` are the engine's OOD errors.
    ``nonlinear_var``, ``nonlinear_var_test`` and ``teacher`` are passed to the engine; with them or
    with a target power on the spectra the weight is b(λ)·w_β + w_V (docs/theory.md §19.5), and
    both spectra must carry the same target power on the training eigenvalues (ValueError).

    Examples
    --------
    >>> import rfshift as rf
    >>> lam = [0.3, 1.0, 3.0]
    >>> a, b = rf.Spectrum(lam, [0.5, 1.0, 1.5]), rf.Spectrum(lam, [1.5, 1.0, 0.5])
    >>> rf.compare_shifts(a, b, phi=1.0, psi=0.5, gamma=0.01, noise_var=0.1).verdict
    'a_better'
    >>> rf.compare_shifts(a, b, phi=5.0, psi=0.9, gamma=1.0, noise_var=100.0).verdict
    'b_better'
    """
    for name, s in (("spec_a", spec_a), ("spec_b", spec_b)):
        if not isinstance(s, Spectrum):
            raise TypeError(f"{name} must be an rfshift.Spectrum, got {type(s).__name__}")
    act = get_activation(activation)
    kw = dict(phi=phi, psi=psi, gamma=gamma, noise_var=noise_var, activation=act,
              nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test, teacher=teacher)
    res_a = asymptotics(spec_a, **kw)
    res_b = asymptotics(spec_b, **kw)
    return _compare(spec_a, spec_b, res_a, res_b, act)


def shift_effect(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> ShiftEffect:
    """Does the shift help or harm compared with no shift? (THEORY.md §6: ν against ν_ID = λ μ.)

    Same certificate as :func:`compare_shifts` with b = the in-distribution spectrum (λ* = λ).
    At different traces s* ≠ s this needs an activation that makes E* linear in ν (ReLU-like);
    otherwise every point is "not_certified".

    Examples
    --------
    >>> import rfshift as rf
    >>> spec = rf.Spectrum([0.3, 1.0, 3.0], [0.2, 1.0, 3.1])  # test mass moved to large λ
    >>> rf.shift_effect(spec, phi=1.0, psi=0.5, gamma=0.01, noise_var=0.1).verdict
    'helps'
    """
    if not isinstance(spec, Spectrum):
        raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
    cmp = compare_shifts(spec, spec.in_distribution(), phi=phi, psi=psi, gamma=gamma,
                         noise_var=noise_var, activation=activation, nonlinear_var=nonlinear_var,
                         nonlinear_var_test=nonlinear_var_test, teacher=teacher)
    names = {"a_better": "helps", "b_better": "harms", "equivalent": "neutral",
             "not_certified": "not_certified"}
    eff = np.vectorize(names.__getitem__, otypes=[object])(np.asarray(cmp.relation, dtype=object))
    verdict = {"a_better": "helps", "b_better": "harms", "equivalent": "neutral"}.get(
        cmp.verdict, "not_certified")
    return ShiftEffect(verdict=verdict, effect=eff[()] if eff.ndim == 0 else eff,
                       error=cmp.error_a, error_id=cmp.error_b, comparison=cmp)


@dataclass(frozen=True)
class CertifiedRegion:
    """Result of :func:`certified_region` on a grid over a box of hyperparameters.

    ``axes`` maps each varied hyperparameter to its grid (the grid axes follow its order);
    ``a_better``/``b_better``/``equivalent`` are boolean masks of certified points;
    ``bounds_a_better``/``bounds_b_better`` give, per varied parameter, the (min, max) over the
    certified grid points (``None`` if there are none).
    """

    axes: dict[str, np.ndarray]
    fixed: dict[str, float]
    comparison: ShiftComparison
    a_better: np.ndarray
    b_better: np.ndarray
    equivalent: np.ndarray
    bounds_a_better: dict[str, tuple[float, float]] | None
    bounds_b_better: dict[str, tuple[float, float]] | None

    @property
    def fraction_a_better(self) -> float:
        return float(np.mean(self.a_better))

    @property
    def fraction_b_better(self) -> float:
        return float(np.mean(self.b_better))

    def summary(self) -> str:
        n = self.a_better.size
        return (f"{n} grid points: a better certified at {int(self.a_better.sum())}, b better at "
                f"{int(self.b_better.sum())}, equivalent at {int(self.equivalent.sum())}, "
                f"not certified at {n - int((self.a_better | self.b_better | self.equivalent).sum())}")


_LOG_DEFAULT = {"phi": True, "psi": True, "gamma": True, "noise_var": False}


def certified_region(
    spec_a: Spectrum,
    spec_b: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    points: int = 9,
    log: dict[str, bool] | None = None,
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> CertifiedRegion:
    """Sub-region of a hyperparameter box where the order of two shifts is certified.

    Each of ``phi``, ``psi``, ``gamma``, ``noise_var`` is either a scalar (held fixed) or a pair
    ``(lo, hi)`` (an axis of the box, ``points`` grid values, geometric for φ, ψ, γ unless ``log``
    says otherwise, linear for σ²; a geometric axis needs lo > 0). The grid is compared with
    :func:`compare_shifts` and the certified masks are returned.

    Examples
    --------
    >>> import rfshift as rf
    >>> lam = [0.3, 1.0, 3.0]
    >>> a, b = rf.Spectrum(lam, [0.5, 1.0, 1.5]), rf.Spectrum(lam, [1.5, 1.0, 0.5])
    >>> reg = rf.certified_region(a, b, phi=1.0, psi=0.5, gamma=0.01, noise_var=(0.0, 100.0), points=5)
    >>> reg.a_better.shape
    (5,)
    """
    if not (isinstance(points, int) and points >= 2):
        raise ValueError(f"points must be an integer >= 2, got {points!r}")
    use_log = dict(_LOG_DEFAULT)
    if log:
        unknown = set(log) - set(use_log)
        if unknown:
            raise ValueError(f"log keys must be among {sorted(use_log)}, got {sorted(unknown)}")
        use_log.update(log)
    values = {"phi": phi, "psi": psi, "gamma": gamma, "noise_var": noise_var}
    axes: dict[str, np.ndarray] = {}
    fixed: dict[str, float] = {}
    for name, val in values.items():
        if isinstance(val, (tuple, list)) and len(val) == 2:
            lo, hi = (float(x) for x in val)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ValueError(f"{name} range must be finite with lo < hi, got {val!r}")
            if use_log[name]:
                if lo <= 0:
                    raise ValueError(f"{name} range {val!r} is geometric and needs lo > 0 "
                                     f"(or pass log={{'{name}': False}})")
                axes[name] = np.geomspace(lo, hi, points)
            else:
                axes[name] = np.linspace(lo, hi, points)
        else:
            fixed[name] = float(np.asarray(val, dtype=float))
    if not axes:
        raise ValueError("give at least one hyperparameter as a (lo, hi) range")
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    grid = {**fixed, **dict(zip(axes, mesh, strict=True))}
    cmp = compare_shifts(spec_a, spec_b, activation=activation, nonlinear_var=nonlinear_var,
                         nonlinear_var_test=nonlinear_var_test, teacher=teacher, **grid)
    rel = np.asarray(cmp.relation, dtype=object)
    a_m, b_m, e_m = rel == "a_better", rel == "b_better", rel == "equivalent"

    def bounds(mask: np.ndarray) -> dict[str, tuple[float, float]] | None:
        if not mask.any():
            return None
        return {k: (float(m[mask].min()), float(m[mask].max())) for k, m in zip(axes, mesh, strict=True)}

    return CertifiedRegion(axes=axes, fixed=fixed, comparison=cmp, a_better=a_m, b_better=b_m,
                           equivalent=e_m, bounds_a_better=bounds(a_m), bounds_b_better=bounds(b_m))


