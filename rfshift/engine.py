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

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from ._anova import VarianceTerms, fine_terms_test, fine_terms_train, safe_div, safe_mul
from ._diagnostics import warn_if_concentrated
from ._errors import ConvergenceError
from ._moments import KINDS, MARGIN, WIDTH, ChebyshevMoments, exact_moments, point_moments
from ._solve import polish_bracketed, solve_bracketed_point, solve_increasing
from ._validation import as_real_array, check_parameter, plain_scalar
from .activations import Activation, ActivationConstants, get_activation
from .spectra import Spectrum

__all__ = ["Asymptotics", "Disagreement", "Ensemble", "VarianceTerms", "asymptotics", "solve_kx"]


#: The data sources (training inputs X and label noise ε) of the ANOVA terms (docs/theory.md §18).
_DATA = ("x", "eps")


@dataclass(frozen=True)
class Disagreement:
    """Mean squared disagreement E_x[(f₁(x) − f₂(x))²] of two trained predictors (docs/theory.md §18).

    Both predictors see the same target β and test point x; they share

    * ``shared_data``: the training data (X, ε) but not the features W: 2(V_W + V_WX + V_Wε + V_WXε);
    * ``shared_features``: the features W but not the data: 2(V − V_W);
    * ``independent``: nothing: 2V.

    Each lies in [0, 2V]; ``+inf`` at a ridgeless threshold where the diverging terms enter it.
    Arrays have the broadcast shape of the result.
    """

    shared_data: np.ndarray
    shared_features: np.ndarray
    independent: np.ndarray


@dataclass(frozen=True)
class Ensemble:
    """Average of K predictors with independent features W trained on the same data (X, ε).

    ``variance = V_data + (V − V_data)/K`` with V_data = V_X + V_ε + V_Xε (the W-free ANOVA terms),
    ``bias`` is unchanged, ``error = error₁ − (1 − 1/K)(V − V_data)`` (docs/theory.md §18). K = 1 is
    the single model, K = ∞ the average over W (finite even at the ridgeless interpolation peak,
    where every finite K gives +inf). Arrays broadcast ``k`` against the result's shape.
    """

    k: np.ndarray
    error: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    error_id: np.ndarray
    bias_id: np.ndarray
    variance_id: np.ndarray


def _check_k(k: object) -> np.ndarray:
    """Validate the ensemble size: integers >= 1 or +inf (float64 array)."""
    arr = as_real_array(k, "k")
    if arr.size == 0:
        raise ValueError("k is empty; give at least one ensemble size")
    bad = np.isnan(arr) | (arr < 1) | (np.isfinite(arr) & (arr != np.floor(arr))) | (arr == -np.inf)
    if bad.any():
        raise ValueError(
            "k (ensemble size) must be an integer >= 1 or numpy.inf, "
            f"got {float(arr[bad].ravel()[0])!r}"
        )
    return arr

_TINY = float(np.finfo(float).tiny)
_TERM_NAMES = tuple(f.name for f in fields(VarianceTerms))


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
    #: Variance of the target's nonlinear part under the training law (explicit ``nonlinear_var``
    #: plus the teacher's μ⊥²(⟨bλ⟩)); acts as label noise living on X (docs/theory.md, targets).
    nonlinear_var: np.ndarray | float = 0.0
    #: The same under the test law (explicit ``nonlinear_var_test`` plus the teacher's μ⊥²(⟨bλ*⟩));
    #: counted in ``bias`` and ``error`` (irreducible).
    nonlinear_var_test: np.ndarray | float = 0.0
    #: The single-index teacher f*, if any, and its linear coefficients c1 = μ1(⟨bλ⟩) (train law)
    #: and c1* = μ1(⟨bλ*⟩) (test law); 1 and 1 without a teacher.
    teacher: Activation | None = None
    target_linear: float = 1.0
    target_linear_test: float = 1.0

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

    # --- disagreement, ensembles, training error (docs/theory.md §18) -----------------------------

    @property
    def disagreement(self) -> Disagreement:
        """OOD disagreement of two predictors sharing the data, the features, or nothing."""
        return _disagreement(self, self.variance_terms, self.variance, "disagreement")

    @property
    def disagreement_id(self) -> Disagreement:
        """ID twin of :attr:`disagreement` (test points from Σ)."""
        return _disagreement(self, self.variance_terms_id, self.variance_id, "disagreement_id")

    def ensemble(self, k: object) -> Ensemble:
        """Error, bias and variance of the average of ``k`` predictors with independent W, same data.

        ``k``: integer(s) >= 1 or ``numpy.inf``, broadcast against the result's shape (ValueError
        otherwise). K = 1 reproduces ``error`` exactly; K = ∞ is the average over W.
        """
        k_arr = _check_k(k)
        try:
            shape = np.broadcast_shapes(k_arr.shape, np.shape(self.error))
        except ValueError:
            raise ValueError(
                f"k of shape {k_arr.shape} does not broadcast against the result's shape "
                f"{np.shape(self.error)}"
            ) from None
        inv_k = np.where(np.isinf(k_arr), 0.0, 1.0 / k_arr)
        out = {}
        for sfx, terms, dis, err, bias in (
            ("", self.variance_terms, self.disagreement, self.error, self.bias),
            ("_id", self.variance_terms_id, self.disagreement_id, self.error_id, self.bias_id),
        ):
            w_part = 0.5 * dis.shared_data  # V − V_data = Σ of the terms involving W
            v_data = terms.shared(_DATA)  # V_X + V_ε + V_Xε
            with np.errstate(invalid="ignore"):
                e_k = err - (1.0 - inv_k) * w_part
                # w_part = +inf (ridgeless peak): +inf for finite K, the W-average for K = ∞.
                e_inf = bias + v_data + np.where(np.isfinite(err), err - bias - (v_data + w_part), 0.0)
                e_k = np.where(np.isinf(w_part), np.where(inv_k == 0, e_inf, np.inf), e_k)
                var_k = v_data + safe_mul(inv_k, w_part)
            out["error" + sfx] = np.broadcast_to(e_k, shape)
            out["variance" + sfx] = np.broadcast_to(var_k, shape)
            out["bias" + sfx] = np.broadcast_to(bias, shape)
        return Ensemble(k=np.broadcast_to(k_arr, shape)[()],
                        **{key: np.asarray(val, dtype=float)[()] for key, val in out.items()})

    @property
    def degrees_of_freedom(self) -> np.ndarray:
        """df/m = tr K(K + γ)^{-1}/m = 1 − t in the limit (THEORY.md §4: t = γτ); 1 when interpolating."""
        return 1.0 - self.t

    @property
    def training_error(self) -> np.ndarray:
        """Limit of (1/m)‖y − ŷ(X)‖², noisy training labels y, fitted values ŷ(X) = K(K + γ)^{-1}y.

        Equals t² · (error_id + noise_var) with t = 1 − df/m (docs/theory.md §18, by the leave-one-out
        identity). 0 for the ridgeless interpolator (ψ <= φ, t = 0; also at the peak ψ = φ, where
        error_id = inf: the limit is 0 from both sides); never above E y² = s + noise_var.
        """
        return safe_mul(self.t**2, self.error_id_noisy)

    @property
    def gcv(self) -> np.ndarray:
        """Limit of generalised cross-validation, GCV = training error/(1 − df/m)², df = tr K(K+γ)^{-1}.

        The limit is error_id + noise_var (the ID error against *noisy* test labels) wherever t > 0,
        and by continuity in γ at the ridgeless interpolator (where GCV itself is 0/0 at finite
        size). So GCV is consistent for ``error_id_noisy``; for the clean ``error_id`` its bias is
        +noise_var, and as an estimate of the OOD error ``error_noisy`` its bias is
        error_id − error (docs/theory.md §18).
        """
        return self.error_id_noisy

    def _frame_args(self) -> tuple:
        scalars = ("rho", "omega", "rho_star", "omega_star", "r")
        extra = {"error_noisy": self.error_noisy, "error_id_noisy": self.error_id_noisy,
                 **{name: getattr(self, name) for name in scalars}}
        params = ("phi", "psi", "gamma", "noise_var", "nonlinear_var", "nonlinear_var_test")
        return self, self.shape, params, extra, scalars

    def to_dataframe(self):  # -> pandas.DataFrame
        """One row per broadcast point: phi, psi, gamma, noise_var, nonlinear_var,
        nonlinear_var_test, then every per-point output (error, bias, variance, their ``_id``
        twins, error_noisy, kappa, k_x, t, t_bar, delta, interpolation_peak, …) and the ANOVA terms
        as ``variance_w`` … ``variance_wx_eps`` and ``variance_id_w`` …; the activation (and
        teacher) and ρ, ω, ρ*, ω*, r, target_linear, target_linear_test in ``DataFrame.attrs``,
        for a 0-d result as for arrays.

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
        parameter that varies along it (``phi``, ``psi``, ``gamma``, ``noise_var``,
        ``nonlinear_var``, ``nonlinear_var_test``; ``axis<i>`` if none does) with that parameter's
        values as coordinates (constant parameters: scalar coordinates); variables as in
        :meth:`to_dataframe`, whole-result scalars in ``Dataset.attrs``.

        Needs xarray (``pip install 'rfshift[frames]'``); raises ImportError naming it otherwise.
        """
        from ._frames import to_xarray

        return to_xarray(*self._frame_args())


def _disagreement(res: Asymptotics, terms: VarianceTerms, variance: np.ndarray, which: str) -> Disagreement:
    """Disagreements 2(Q_{WXε} − Q_S) for S = data, features, nothing (docs/theory.md §18).

    D_S = 2(V − (Q_S − Q_∅)) with Q_S − Q_∅ = ``terms.shared(S)`` (the one home of the ANOVA
    assembly, ``rfshift._anova``), so 0 <= D_S <= 2V; round-off beyond that range (at the 1e-11 level
    of the terms) is clipped, anything larger raises. The linear ridgeless model exactly at the
    data-side rank threshold φ·μ(λ>0) = 1 has V_X = +inf inside V = +inf (an ∞ − ∞ form whose limit
    is finite for the shared-data disagreement): that raises :class:`ConvergenceError`.
    """
    scale = sum(np.abs(np.asarray(t, dtype=float)) for t in terms.as_dict().values())
    var = np.asarray(variance, dtype=float)
    out = {}
    total = np.asarray(terms.total, dtype=float)
    for name, shared in (("shared_data", _DATA), ("shared_features", ("w",)), ("independent", ())):
        with np.errstate(invalid="ignore"):
            d = 2.0 * (total - np.asarray(terms.shared(shared), dtype=float))
            tol = 1e-11 * 2.0 * scale
            low, high = d < -tol, np.isfinite(var) & (d > 2.0 * var + tol)
        if np.isnan(d).any() or low.any() or high.any():
            bad = np.isnan(d) | low | high
            i = np.unravel_index(int(np.flatnonzero(bad)[0]), d.shape) if d.ndim else ()
            pars = ", ".join(f"{p}={float(np.asarray(getattr(res, p))[i])!r}"
                             for p in ("phi", "psi", "gamma", "noise_var"))
            what = ("an indeterminate inf - inf form (linear ridgeless features exactly at the "
                    "rank threshold phi*mu(lam>0) = 1); use a small gamma > 0 instead"
                    if np.isnan(d[i]) else f"a value {float(d[i])!r} outside [0, 2 * variance]")
            raise ConvergenceError(f"{which}.{name} at {pars} is {what}")
        d = np.clip(d, 0.0, np.where(np.isfinite(var), 2.0 * var, np.inf))
        if name == "shared_data":
            # ψ = 0 (infinitely many features): no term involving W survives; exactly 0, not round-off.
            d = np.where(np.asarray(res.psi) == 0, 0.0, d)
        out[name] = d[()]
    return Disagreement(**out)


# --- moments -------------------------------------------------------------------------------------

MomentFn = Callable[..., dict[str, np.ndarray]]


def _columns(spec: Spectrum) -> np.ndarray:
    """Weight columns (p, pλ*, pλ) of ``spec`` as an (atoms × 3) array, followed by the target-weighted
    (pb, pbλ*, pbλ) (atoms × 6) when b ≢ 1 (docs/theory.md §19); cached on the spectrum."""
    def make() -> np.ndarray:
        p = spec.weights
        cols = [p, p * spec.lam_star, p * spec.lam]
        if spec.has_target:
            pb = p * spec.b
            cols += [pb, pb * spec.lam_star, pb * spec.lam]
        cols = np.stack(cols, axis=1)
        cols.flags.writeable = False
        return cols

    return spec._derived("engine.columns", make)


def _table(spec: Spectrum) -> ChebyshevMoments:
    """The Chebyshev moment table of ``spec`` (cached on it): only the moments :func:`_evaluate`
    reads (``_SELECT``; the solver's ⟨q⟩ and ⟨uq⟩ among them), built panel by panel as roots land."""
    return spec._derived("engine.table", lambda: ChebyshevMoments(spec.lam, _columns(spec),
                                                                  funcs=_SELECT[spec.has_target]))


def _moment_source(spec: Spectrum, n_points: int) -> MomentFn:
    """Moments of ``spec`` for weight columns (p, pλ*, pλ), and (pb, pbλ*, pbλ) after them when the
    spectrum has a target power b ≢ 1 (docs/theory.md §19): a Chebyshev table in log k_x when many
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
        return _table(spec)

    def exact(kx: np.ndarray, kinds: tuple[str, ...] = KINDS, first_column: bool = False,
              select: tuple[tuple[str, int], ...] | None = None) -> dict:
        if select is not None:
            ex = exact_moments(kx, lam, cols, tuple(dict.fromkeys(k for k, _ in select)))
            return {(k, c): ex[k][:, c] for k, c in select}
        return exact_moments(kx, lam, cols[:, :1] if first_column else cols, kinds)

    return exact


# --- fixed point ---------------------------------------------------------------------------------


def _where(cond: object, a: object, b: object) -> object:
    """``np.where`` for arrays; a plain conditional for a scalar condition (the one-point path runs
    the same formulas on Python floats, where ``np.where`` would cost more than the arithmetic)."""
    if type(cond) is np.bool_ or type(cond) is bool:
        return a if cond else b
    return np.where(cond, a, b)


def _any(mask: object) -> bool:
    """``mask.any()``, without the reduction call for a scalar."""
    if type(mask) is np.bool_ or type(mask) is bool:
        return bool(mask)
    return bool(mask.any())  # type: ignore[attr-defined]


_QUIET = contextlib.nullcontext()
_SCALAR_TYPES = (float, np.float64)


def _finite(x: object) -> object:
    """``np.isfinite``, as ``math.isfinite`` for a scalar (one-point path)."""
    return math.isfinite(x) if type(x) in _SCALAR_TYPES else np.isfinite(x)  # type: ignore[arg-type]


def _invalid(x: object, ridgeless: object) -> object:
    """NaN, or ±inf where not ``ridgeless`` (only a ridgeless threshold makes a value infinite)."""
    if type(x) in _SCALAR_TYPES:
        return math.isnan(x) or (math.isinf(x) and not ridgeless)  # type: ignore[arg-type]
    return np.isnan(x) | (np.isinf(x) & ~ridgeless)


def _sqrt(x: object) -> object:
    """``np.sqrt``, as ``math.sqrt`` for a scalar (one-point path; its arguments are >= 0)."""
    return math.sqrt(x) if type(x) in _SCALAR_TYPES else np.sqrt(x)  # type: ignore[arg-type]


def _quiet(x: object) -> contextlib.AbstractContextManager:
    """``np.errstate`` silencing divide/invalid/overflow for arrays; nothing for scalars, whose
    one-point path runs inside a single such ``errstate`` (see :func:`_evaluate_point`)."""
    if type(x) in _SCALAR_TYPES:
        return _QUIET
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _factor_f2(g: np.ndarray, c: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """f2 = t/φ = 1/φ − P at the root: the positive root of ψ f2² + c f2 − g = 0 (THEORY.md §4's t(κ),
    rationalised so that neither branch cancels; c = 1 − ψ/φ, g = γ/(μ1² k_x) >= 0).

    The factors obey f1 − ψ f2 = c exactly and f1·f2 = g at the root (f1 = t̄ = 1 − ψP), so f2 is
    this root; 0 where g = 0 and c >= 0. Works on arrays (any broadcastable shapes) and on NumPy
    scalars.
    """
    with _quiet(g):
        disc = _sqrt(c * c + 4.0 * psi * g)
        return _where(c >= 0, 2.0 * g / _where(c + disc > 0, c + disc, 1.0),
                      (disc - c) / (2.0 * _where(psi > 0, psi, 1.0)))


def _boundary_residual(k: np.ndarray, a1: np.ndarray, uq: np.ndarray, q_cap: np.ndarray,
                       rho: float, mu_perp2: float, deriv: bool = True):
    """γ = 0: h/(μ1² k q + μ⊥²) with h = μ1² k (q − a1) − μ⊥² and its slope in y = log k (see
    :func:`solve_kx`); ``deriv=False`` returns ``(f, None)``."""
    with _quiet(k):  # far panel edges: den² may overflow (slope NaN: the solver then bisects)
        A = rho * k
        num = A * (q_cap - a1) - mu_perp2
        den = A * q_cap + mu_perp2
        if not deriv:
            return num / den, None
        # slope (dnum·den − num·A q)/den², written as ratios of comparable numbers: at k_x ~ μ⊥² ~ 1e-162
        # (hardtanh near the float64 underflow of μ⊥²) den² and the products are subnormal and the
        # quotient of products was off by 8%, so the Newton steps and their error estimate were wrong
        # and roots came back ~1e-8 off (solver sweep, docs/validation.md §4).
        f = num / den
        dnum = A * (q_cap - a1 + uq)
        return f, (dnum - f * (A * q_cap)) / den


def _ridge_residual(k: np.ndarray, a1: np.ndarray, uq: np.ndarray, psi: np.ndarray, c: np.ndarray,
                    inv_phi: np.ndarray, q_cap: np.ndarray, gamma: np.ndarray, rho: float,
                    mu_perp2: float, deriv: bool = True):
    """γ > 0: R = F/S = 2q/S − 1 and its slope in y = log k (see :func:`solve_kx`), with
    q = q_cap = min(1/φ, 1/ψ), F = 1/φ − P − f2 = q − P − h, S = q + P + h and
    h = 2g/(|c| + √(c² + 4ψg)) ≥ 0 — f2 itself for ψ <= φ, f2 − (1/φ − 1/ψ) for ψ > φ, so that
    the large 1/φ and f2 never cancel when ψ ≫ φ (c = 1 − ψ/φ, g = γ/(μ1² k)).

    ``deriv=False`` returns ``(s, None)`` with s of the sign of R only (for the edge bisection), read
    off the fixed point in product form: F > 0 ⟺ x0 := 1/φ − P > 0 and x0·(1 − ψP) > g (x0 > f2 iff
    ψx0² + c x0 − g > 0 for x0 > 0), so s = μ1² k x0 (1 − ψP) − γ where x0 > 0, else −γ.
    """
    with _quiet(k):
        A = rho * k
        mterm = mu_perp2 / A
        if not deriv:
            return _ridge_sign(A, a1 + mterm, psi, inv_phi, gamma), None
        g = gamma / A
        disc = _sqrt(c * c + 4.0 * psi * g)
        S = q_cap + a1 + mterm + 2.0 * g / (abs(c) + disc)
        f = (2.0 * q_cap) / S - 1.0
        d = 2.0 * q_cap * (uq + mterm + g / disc) / (S * S)
    return f, _where(_finite(d), d, 0.0)


def _ridge_sign(A: np.ndarray, P: np.ndarray, psi: np.ndarray, inv_phi: np.ndarray,
               gamma: np.ndarray) -> np.ndarray:
    """A number of the sign of :func:`_ridge_residual` from A = μ1² k and P = a1 + μ⊥²/A (the
    product form, see there): μ1² k x0 (1 − ψP) − γ where x0 = 1/φ − P > 0, else −γ."""
    x0 = inv_phi - P
    return _where(x0 > 0, A * x0 * (1.0 - psi * P) - gamma, -gamma)


#: Positions of ⟨q⟩ and ⟨uq⟩ (first weight column) among a ChebyshevMoments table's functions.
_Q_UQ = np.array([0, 1])


#: Newton steps on the cubic Hermite interpolant (one already gives the solver's iteration count on
#: the benchmark grid; the interpolation error ~ width⁴ dominates).
_HERMITE_STEPS = 2


def _hermite_root(f0: np.ndarray, f1: np.ndarray, m0: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """Root t in (0, 1) of the cubic Hermite interpolant with values f0 < 0 < f1 and slopes m0, m1 (in t)
    at t = 0, 1: regula falsi, then four Newton steps on the cubic kept inside (0, 1)."""
    t = f0 / (f0 - f1)
    with _quiet(t):
        # the interpolant f0 + m0 t + a2 t² + a3 t³ (Horner form), its slope m0 + b2 t + b3 t²
        a3 = 2.0 * (f0 - f1) + m0 + m1
        a2 = 3.0 * (f1 - f0) - 2.0 * m0 - m1
        b2, b3 = 2.0 * a2, 3.0 * a3
        for _ in range(_HERMITE_STEPS):
            h = ((a3 * t + a2) * t + m0) * t + f0
            dh = (b3 * t + b2) * t + m0
            t_new = t - h / dh
            t = _where(_finite(t_new) & (t_new > 0) & (t_new < 1), t_new, t)
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
      disc = sqrt(c² + 4ψg)). It is solved as the bounded residual R = F/S = 2q/S − 1 with
      q = min(1/φ, 1/ψ), F = q − P − h, S = q + P + h (dR/dy = 2q (dF/dy)/S²), in one stage, where
      h = 2g/(|c| + disc) is f2 (ψ <= φ) or f2 − (1/φ − 1/ψ) (ψ > φ): no cancellation of 1/φ
      against f2 when ψ ≫ φ (see :func:`_ridge_residual`).

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
    if grid is not None:  # A = μ1² k and P = a1 + μ⊥²/A at the panel edges, for the edge search
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            A_e = rho * np.exp(grid[0])
            P_e = grid[1] + mu_perp2 / A_e

    # Residuals in y = log k of the points ``idx`` (parameters gathered once), given k and the
    # moments a1 = ⟨q⟩, uq = ⟨uq⟩ there, at the points ``sub`` of ``idx`` (None: all of them); the
    # slope only with ``deriv`` (the edge search needs signs only).
    def boundary_residual(idx: np.ndarray):  # type: ignore[no-untyped-def]
        qc = q_cap[idx]

        def res(k, a1, uq, sub=None, deriv=True):  # type: ignore[no-untyped-def]
            return _boundary_residual(k, a1, uq, qc if sub is None else qc[sub], rho, mu_perp2, deriv)
        return res

    def ridge_residual(idx: np.ndarray):  # type: ignore[no-untyped-def]
        pars = tuple(a[idx] for a in (psi, c_all, inv_phi, q_cap, gamma))

        def res(k, a1, uq, sub=None, deriv=True):  # type: ignore[no-untyped-def]
            ps_, c_, ip_, qc_, ga_ = pars if sub is None else (a[sub] for a in pars)
            return _ridge_residual(k, a1, uq, ps_, c_, ip_, qc_, ga_, rho, mu_perp2, deriv)

        if grid is not None:
            def edge_sign(cand):  # type: ignore[no-untyped-def]
                # (the sign at panel edges ``cand``, from A and P precomputed per edge)
                with _quiet(inv_phi):
                    return _ridge_sign(A_e[cand], P_e[cand], pars[0], pars[2], pars[4])
            res.edge_sign = edge_sign  # type: ignore[attr-defined]
        return res

    def solve(make_residual, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        residual = make_residual(idx)
        in_panels = None  # the points' bracket panels, once they are sorted by them (table only)

        def fun(y: np.ndarray, sub: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            k = np.exp(y)
            if in_panels is not None and sub is None:
                # every y in its bracket panel, points in panel order: straight to the table's
                # Chebyshev series of ⟨q⟩ and ⟨uq⟩ (its functions 0 and 1), no sort
                m = moments._eval_sorted(y, in_panels, _Q_UQ)
                return residual(k, m[0], m[1], None)
            mom = moments(k, ("q", "uq"), first_column=True)
            return residual(k, mom["q"][:, 0], mom["uq"][:, 0], sub)

        m_pts = idx.size
        nan = np.full(m_pts, np.nan)
        y0 = np.full(m_pts, np.log(spec.s))
        if grid is None:
            lo, hi, f_lo, f_hi, d_lo, d_hi = (nan.copy() for _ in range(6))
        else:
            # Binary search over the table's panel edges (moments known exactly there; the residual
            # increases along them): the last edge with a negative residual, by steps 2^j, ..., 1 ...
            y_e, a1_e, uq_e = grid
            k_e = np.exp(y_e)
            last = y_e.size - 1
            i_lo = np.zeros(m_pts, dtype=np.int64)
            step = 1 << (last.bit_length() - 1)
            edge_sign = getattr(residual, "edge_sign", None)
            while step:
                cand = np.minimum(i_lo + step, last)
                if edge_sign is not None:
                    neg = edge_sign(cand) < 0
                else:
                    neg = residual(k_e[cand], a1_e[cand], None, None, False)[0] < 0
                i_lo = np.where(neg, cand, i_lo)
                step >>= 1
            table = type(moments) is ChebyshevMoments
            if table:  # points in the order of their bracket panels (radix sort on int16)
                perm = np.argsort(i_lo.astype(np.int16) if last < 2**15 else i_lo, kind="stable")
                idx, i_lo = idx[perm], i_lo[perm]
                residual = make_residual(idx)
            i_hi = np.minimum(i_lo + 1, last)
            # (a root outside the edges ends at an edge pair that fails the check with the full
            # residual below; such points get no bracket here)
            fl, dl = residual(k_e[i_lo], a1_e[i_lo], uq_e[i_lo])
            fh, dh = residual(k_e[i_hi], a1_e[i_hi], uq_e[i_hi])
            inside = (fl < 0) & (fh > 0)
            lo, hi = y_e[i_lo], y_e[i_hi]
            all_in = bool(inside.all())  # (the usual case: no masking, no gathers)
            if all_in:
                f_lo, f_hi, d_lo, d_hi = fl, fh, dl, dh
                if table:  # (all roots inside panels 0 .. n_pan − 1; build them, use them if good)
                    p0, p1 = int(i_lo[0]), int(i_lo[-1])
                    if not moments.built[p0:p1 + 1].all():
                        moments._build(np.flatnonzero(np.bincount(i_lo, minlength=moments.n_pan)))
                    if not moments.bad[p0:p1 + 1].any() or not moments.bad[i_lo].any():
                        in_panels = i_lo
            else:
                lo, hi = np.where(inside, lo, nan), np.where(inside, hi, nan)
                f_lo, f_hi = np.where(inside, fl, nan), np.where(inside, fh, nan)
                d_lo, d_hi = np.where(inside, dl, nan), np.where(inside, dh, nan)
            # ... then one evaluation at the root of the cubic Hermite interpolant of the residual on
            # the bracket (error ~ width⁴), which becomes the near end of a tighter bracket.
            # (an exact zero f_h == 0 leaves the bracket as it was; the solver converges in it)
            if all_in:
                w = hi - lo
                y_h = lo + w * _hermite_root(f_lo, f_hi, d_lo * w, d_hi * w)
                f_h, d_h = fun(y_h, None)
                neg, pos = f_h < 0, f_h > 0
                lo, f_lo, d_lo = np.where(neg, y_h, lo), np.where(neg, f_h, f_lo), np.where(neg, d_h, d_lo)
                hi, f_hi, d_hi = np.where(pos, y_h, hi), np.where(pos, f_h, f_hi), np.where(pos, d_h, d_hi)
            elif inside.any():
                sub = np.flatnonzero(inside)
                y_h = lo[sub] + (hi[sub] - lo[sub]) * _hermite_root(
                    f_lo[sub], f_hi[sub], d_lo[sub] * (hi[sub] - lo[sub]), d_hi[sub] * (hi[sub] - lo[sub]))
                f_h, d_h = fun(y_h, sub)
                neg, pos = f_h < 0, f_h > 0
                lo[sub], f_lo[sub], d_lo[sub] = (np.where(neg, y_h, lo[sub]), np.where(neg, f_h, f_lo[sub]),
                                                 np.where(neg, d_h, d_lo[sub]))
                hi[sub], f_hi[sub], d_hi[sub] = (np.where(pos, y_h, hi[sub]), np.where(pos, f_h, f_hi[sub]),
                                                 np.where(pos, d_h, d_hi[sub]))
        if grid is not None and all_in:  # every point bracketed: two whole-array Newton steps first
            y, ok = polish_bracketed(fun, (lo, hi, f_lo, f_hi, d_lo, d_hi), ytol=1e-14)
        else:
            y, ok = solve_increasing(fun, y0, bracket=(lo, hi, f_lo, f_hi, d_lo, d_hi), ytol=1e-14)
        if not ok.all():
            if make_residual is boundary_residual and mu_perp2 > 0:
                _refuse_root_below_range(moments, residual, idx, ~ok, phi, psi, mu_perp2)
            bad = idx[~ok][0]
            raise ConvergenceError(
                "fixed point did not converge for "
                f"phi={phi[bad]!r}, psi={psi[bad]!r}, gamma={gamma[bad]!r} "
                f"({int((~ok).sum())} of {n} points failed; the root lies outside the float64 range "
                "or the bracket could not be found)"
            )
        return y, idx

    kx = np.zeros(n)
    ridgeless = np.flatnonzero((gamma == 0) & ~((mu_perp2 == 0) & (q_cap >= pi_pos)))  # else k_b = 0
    if ridgeless.size:
        y, at = solve(boundary_residual, ridgeless)
        kx[at] = np.exp(y)
        _refuse_unresolved_threshold(moments, kx, ridgeless, phi, psi, q_cap, pi_pos, rho, mu_perp2,
                                     float(lam[lam > 0].min()) if pi_pos > 0 else math.nan)
    ridge = np.flatnonzero(gamma > 0)
    if ridge.size:
        y, at = solve(ridge_residual, ridge)
        kx[at] = np.exp(y)
    return kx


#: Smallest k_x the solver represents (y = log k_x >= -700; e^-700 = 9.9e-305, just above the normal
#: float64 range, so that k_x, μ1² k_x and the ratios of the residuals stay normal numbers).
_Y_MIN = -700.0


def _refuse_root_below_range(moments: MomentFn, residual, idx: np.ndarray, failed: np.ndarray,  # type: ignore[no-untyped-def]
                             phi: np.ndarray, psi: np.ndarray, mu_perp2: float) -> None:
    """γ = 0 with 0 < μ⊥² ≲ 1e-300 (hardtanh just above the float64 underflow of μ⊥², docs/theory.md
    §17): the ridgeless root k_b <= μ⊥²/(μ1²(q − μ(λ > 0))) can lie below e^-700, where float64 cannot
    hold it. Raises the documented ValueError (pointing to ``precision=``) if a failed point's increasing
    γ = 0 residual is still positive at k = e^-700 (root below the range); returns otherwise."""
    sub = np.flatnonzero(failed)
    k = np.full(sub.size, math.exp(_Y_MIN))
    mom = moments(k, ("q", "uq"), first_column=True)
    f = residual(k, mom["q"][:, 0], mom["uq"][:, 0], sub, False)[0]
    below = f > 0
    if below.any():
        i = idx[sub[np.flatnonzero(below)[0]]]
        raise ValueError(
            f"mu_perp2(s) = {mu_perp2:.3g} (the activation's nonlinear part at the training variance) is "
            f"so close to the float64 underflow that the ridgeless root k_x lies below e^-700 ≈ 1e-304 at "
            f"phi={float(phi[i])!r}, psi={float(psi[i])!r}, gamma=0.0 ({int(below.sum())} of "
            f"{failed.size} points): float64 cannot represent it. Use precision=30 (mpmath) for "
            "this point, or gamma > 0"
        )


#: γ = 0: a root is refused where the slope of the boundary residual, −dP/dy = ⟨uq⟩ + μ⊥²/(μ1² k_x),
#: is below this fraction of q = min(1/φ, 1/ψ): rounding of ⟨q⟩ (~1e-16 q) then moves k_x by more than
#: ~1e-9 relative (docs/theory.md §17).
THRESHOLD_SLOPE = 1e-7


def _refuse_unresolved_threshold(moments: MomentFn, kx: np.ndarray, ridgeless: np.ndarray,
                                 phi: np.ndarray, psi: np.ndarray, q_cap: np.ndarray, pi_pos: float,
                                 rho: float, mu_perp2: float, lam_min_pos: float = math.nan) -> None:
    """γ = 0 at a rank threshold, q = min(1/φ, 1/ψ) = μ(λ > 0) to within 1e-6 (n0·μ(λ>0) = min(m, n1)),
    with μ⊥² tiny (hardtanh at small s): q − ⟨q⟩(k) ≈ (q − μ(λ>0)) + k⟨1/λ⟩ is then far below the
    rounding of ⟨q⟩ at the root k_b ≈ √(μ⊥²/⟨1/λ⟩)/μ1, so float64 returns a k_x set by rounding
    (isotropic s = 2e-3, φ = 0.5, ψ = 1: 1.2e-31 instead of 1.2e-59; with λ* ≠ λ an OOD error 0.13
    instead of 1.4e69). Raises ValueError where −dP/dy at the returned root is below
    THRESHOLD_SLOPE·q; returns otherwise (the check costs one moment evaluation at those points only)."""
    near = ridgeless  # every ridgeless root: a near-null eigenvalue acts as a threshold too
    k = kx[near]
    mom = moments(k, ("q", "uq"), first_column=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = mom["uq"][:, 0] + np.where(k > 0, mu_perp2 / (rho * np.where(k > 0, k, 1.0)), np.inf)
    bad = slope < THRESHOLD_SLOPE * q_cap[near]
    if bad.any():
        i = near[np.flatnonzero(bad)[0]]
        at_rank = abs(float(q_cap[i]) - pi_pos) <= 1e-6 * float(q_cap[i])
        why = (f"min(1/phi, 1/psi) = {float(q_cap[i])!r} equals the training spectrum's mass on lambda > 0 "
               f"({pi_pos!r}) to within 1e-6 (a rank threshold, n0·μ(λ>0) = min(m, n1)) and "
               f"mu_perp2(s) = {mu_perp2:.3g} is so small that rounding fixes k_x" if at_rank else
               f"the residual's slope at the root is {float(slope[np.flatnonzero(bad)[0]]):.3g}, below "
               f"THRESHOLD_SLOPE·q (near-null eigenvalues act as a rank threshold: the smallest "
               f"positive lambda is {float(lam_min_pos):.3g}, mu_perp2(s) = {mu_perp2:.3g}), so rounding "
               "fixes k_x")
        raise ValueError(
            f"the ridgeless root k_x at phi={float(phi[i])!r}, psi={float(psi[i])!r}, gamma=0.0 is not "
            f"resolved in float64: {why} ({int(bad.sum())} of {ridgeless.size} ridgeless points). "
            "Use gamma > 0, or precision=30 (the mpmath path raises its working digits until this root "
            "is resolved)"
        )


# --- formulas ------------------------------------------------------------------------------------


# 0/0 := 0, x/0 := inf and 0·inf := 0 at the ridgeless thresholds (one home: rfshift._anova)
_ratio = safe_div
_product = safe_mul


#: The expanded bias (1 − r)² s* + 2r(1 − r)⟨λ*u⟩ + r²⟨λ*u²⟩ is re-evaluated atom by atom where it
#: keeps less than this fraction of the size of its terms (i.e. lost more than ~6 of 16 digits).
BIAS_CANCELLATION = 1e-6


def _bias(r: float, s_test: float, b0u: np.ndarray, c0u2: np.ndarray, kx: np.ndarray,
          lam: np.ndarray, test_w: np.ndarray, lin: float = 1.0, lin_t: float = 1.0) -> np.ndarray:
    """B* = ∫ λ* ((1 − r) + r u)² dμ (THEORY.md §5), non-negative by construction.

    With a target (docs/theory.md §19): B* = ∫ b λ* ((c1* − r c1) + r c1 u)² dμ; then ``s_test`` is
    ⟨bλ*⟩, ``b0u``/``c0u2`` are ⟨bλ*u⟩/⟨bλ*u²⟩, ``test_w`` = p b λ* and ``lin``/``lin_t`` = c1/c1*.

    Fast path: the expansion in the moments ⟨λ*u⟩, ⟨λ*u²⟩ (from the Chebyshev table or exact sums).
    It cancels when r is far from 1 (e.g. tanh at training variance 5.5e15: r = 5.6e7, and the
    expansion returned −0.5 for a true 0.401). Where the result is below ``BIAS_CANCELLATION`` times
    the sum of the absolute terms, it is recomputed as the exact per-atom sum
    Σ_k p_k λ*_k (1 − r λ_k/(λ_k + k_x))², a sum of squares (1 − u = λ/(λ + k_x) has no cancellation;
    u = 1 on λ = 0 atoms, u = 0 on λ > 0 atoms where k_x = 0). O(atoms) per such point only.
    """
    rl = r * lin
    one_m_r = lin_t - rl
    bias = one_m_r**2 * s_test + 2.0 * rl * one_m_r * b0u + rl * rl * c0u2
    size = one_m_r**2 * s_test + 2.0 * abs(rl * one_m_r) * b0u + rl * rl * c0u2
    kept = bias > BIAS_CANCELLATION * size
    redo_mask = (not kept) if type(kept) is bool else ~kept
    if not _any(redo_mask):
        return bias
    redo = np.flatnonzero(redo_mask)  # (the one-point path hands such a point to the array path)
    if redo.size:
        k = kx[redo][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            one_m_u = np.where(lam[None, :] > 0, lam[None, :] / (lam[None, :] + k), 0.0)
        bias = bias.copy()
        bias[redo] = ((lin_t - rl * one_m_u) ** 2) @ test_w
    return bias


def _side(
    m: dict[str, np.ndarray],
    col: int,
    tcol: int,
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
    a2_b: np.ndarray,
    uq_b: np.ndarray,
    lin: float,
    nonlin: np.ndarray,
    signal_test: float,
    lin_t: float,
    nonlin_t: np.ndarray,
    mu1_t: float,
    mu_perp2_t: float,
    train: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, VarianceTerms]:
    """Bias, variance and its split for one test law (column ``col`` of the moment table; the
    target-weighted test moments ⟨b λ* g(λ)⟩ in column ``tcol``, equal to ``col`` for b ≡ 1).

    THEORY-derivation.md §4 with the target terms of docs/theory.md ("Structured and nonlinear
    targets"): the target's linear coefficient is ``lin`` (c1) under the training law and ``lin_t``
    (c1*) under this test law; its nonlinear part has variance ``nonlin`` in training (extra label
    noise that lives on X) and ``nonlin_t`` at test (irreducible, counted in the bias). ``train``:
    the training-side factors of the variance (:func:`rfshift._anova.fine_terms_train` of these
    arguments) when already computed for the other test law.
    """
    r = mu1_t / mu1
    c0u2 = m["uu", col]  # ⟨λ* u²⟩ = k_x² c0*
    c1 = m["d2", col]  # ⟨λ* λ/(λ+k)²⟩ = c1*
    b0u_b = m["u", tcol]  # ⟨b λ* u⟩
    c0u2_b = m["uu", tcol]  # ⟨b λ* u²⟩
    # Bias: ∫ b λ* ((c1* − r c1) + r c1 u)² dμ + test nonlinear variance (docs/theory.md §19;
    # THEORY.md §5 for b ≡ 1, c1 = c1* = 1)
    bias = _bias(r, signal_test, b0u_b, c0u2_b, kx, lam, test_w, lin, lin_t) + nonlin_t
    # Ξ* = μ1*² k_x² c0* + μ⊥*²  and V_W = ψ c1² a2_b Ξ*/(μ1² v)   (THEORY.md §7, docs/theory.md §19)
    xi = mu1_t**2 * c0u2 + mu_perp2_t
    # T* = D*, the seven ANOVA terms and V = V_W + τ²T*, each a sum of non-negative products
    # (rfshift._anova; derivation in docs/theory.md). Ridgeless thresholds that make δ, v or 1 − φa2
    # vanish give the limit 0 for a vanishing numerator (no noise, k_x = 0), else +inf. The target's
    # nonlinear part σ_g² is training noise that lives on X: it lands in V_X and V_WX (§19.3).
    if train is None:
        train = fine_terms_train(
            phi=phi, psi=psi, noise_var=noise_var, kx=kx, mu1=mu1, a2=a2, c0=c0, uq=uq, mterm=mterm,
            mterm2=mterm2, v=v, one_m_phi_a2=one_m_phi_a2, delta=delta, rho_beta=rho_beta, a2_b=a2_b,
            uq_b=uq_b, lin2=lin * lin, nonlin=nonlin)
    variance, terms = fine_terms_test(train, r=r, c1_t=c1, xi_t=xi)
    return bias, variance, terms


def _test_weights(spec: Spectrum) -> tuple[np.ndarray, np.ndarray]:
    """Per-atom test weights (p b λ*, p b λ) of the exact bias sums (:func:`_bias`); cached."""
    def make() -> tuple[np.ndarray, np.ndarray]:
        pb = spec.weights * spec.b
        out = pb * spec.lam_star, pb * spec.lam
        for a in out:
            a.flags.writeable = False
        return out

    return spec._derived("engine.test_weights", make)


def _moments_used(target: bool) -> tuple[tuple[str, int], ...]:
    """The (kind, weight column) moments :func:`_evaluate` and :func:`_side` read (columns of
    :func:`_columns`: p, pλ*, pλ, then pb, pbλ*, pbλ with a target)."""
    t0 = 3 if target else 0
    sel = [("q", 0), ("qq", 0), ("d2", 0), ("uq", 0), ("qq", t0), ("uq", t0)]
    for col in (1, 2):
        sel += [("uu", col), ("d2", col), ("u", t0 + col), ("uu", t0 + col)]
    return tuple(dict.fromkeys(sel))


#: ``moments(kx, select=...)`` argument of :func:`_evaluate`, by ``spec.has_target``.
_SELECT = {False: _moments_used(False), True: _moments_used(True)}


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
    lin: float = 1.0,
    lin_t: float = 1.0,
    nl: np.ndarray | float = 0.0,
    nl_t: np.ndarray | float = 0.0,
) -> dict[str, object]:
    """All closed formulas at solved k_x for 1-D parameter arrays (THEORY.md §5, §7; target terms
    docs/theory.md "Structured and nonlinear targets": ``lin``/``lin_t`` the target's linear
    coefficient under the train/test law, ``nl``/``nl_t`` its nonlinear variance there)."""
    mup2 = mu_perp2
    rho = mu1 * mu1
    m = moments(kx, select=_SELECT[spec.has_target])
    a1, a2, c0, uq = m["q", 0], m["qq", 0], m["d2", 0], m["uq", 0]
    ridgeless = ga == 0
    kpos = kx > 0
    if type(kpos) is np.ndarray and kpos.all():
        kpos = True  # (the usual case: the k_x = 0 branches below are not evaluated)
    with _quiet(kx):
        mterm = _where(kpos, mup2 / (rho * kx), 0.0)  # μ⊥²/A
        mterm2 = _where(kpos, mterm / kx, 0.0)  # μ⊥²/(A k_x)
        # Factors t̄ = 1 − ψP and t/φ = 1/φ − P. They obey f1 − ψ f2 = c := 1 − ψ/φ exactly and, at
        # the root, f1·f2 = g := γ/(μ1² k_x); so f2 solves ψ f2² + c f2 − g = 0 (THEORY.md §4's t(κ),
        # rationalised), which avoids the cancellation in 1 − ψP near the interpolation threshold.
        g = _where(kpos, ga / (rho * kx), 0.0)
        c = (ph - ps) / ph
        f2 = _factor_f2(g, c, ps)
        f1 = _where(c >= 0, ps * f2 + c, g / _where(f2 > 0, f2, 1.0))
        if kpos is not True:
            # k_x = 0 (linear features, ridgeless, P = μ(λ > 0)): evaluate the factors directly.
            P0 = a1 + mterm
            f1 = _where(kpos, f1, 1.0 - ps * P0)
            f2 = _where(kpos, f2, 1.0 / ph - P0)
    t = ph * f2
    t_bar = f1
    # v = 1 − ψa2 and 1 − φa2 as sums of non-negative terms (P − a2 = ⟨u(1−u)⟩ + μ⊥²/A ≥ 0):
    # v = t̄ + ψ(P − a2), 1 − φa2 = t + φ(P − a2); no cancellation as they approach 0.
    x_pa2 = uq + mterm
    if kpos is True:
        v, one_m_phi_a2 = t_bar + ps * x_pa2, t + ph * x_pa2
    else:
        v = _where(kpos, t_bar + ps * x_pa2, 1.0 - ps * a2)
        one_m_phi_a2 = _where(kpos, t + ph * x_pa2, 1.0 - ph * a2)
    if kpos is not True and _any(kx == 0):
        # k_x = 0 (linear features, ridgeless): v = 1 − ψμ(λ>0) and 1 − φa2 = 1 − φμ(λ>0) exactly;
        # snap round-off at the rank thresholds to 0 so they are recognised.
        at0 = kx == 0
        v = _where(at0 & (np.abs(v) <= 1e-12), 0.0, v)
        one_m_phi_a2 = _where(at0 & (np.abs(one_m_phi_a2) <= 1e-12), 0.0, one_m_phi_a2)
        t = _where(at0 & (np.abs(t) <= 1e-12), 0.0, t)
    # δ = 1 − df₂/m = φ(k' + ψk(P − a2)/v), with P − a2 = ⟨u(1−u)⟩ + μ⊥²/A
    delta = t + _ratio(ph * t_bar * x_pa2, v)
    target = spec.has_target
    t0 = 3 if target else 0  # first target-weighted column (pb), or p itself for b ≡ 1
    a2_b, uq_b = m["qq", t0], m["uq", t0]
    if target:
        # ρ_β = k_x²⟨bλ/(λ+k)²⟩ + ψ a2_b (k_x² c0 + μ⊥²/μ1²)/v   (docs/theory.md, targets)
        rho_beta = _ratio(kx * uq_b * v + ps * a2_b * (kx * uq + mup2 / rho), v)
    else:
        # ρ_β = k_x(a1 − ψk a2/v) = (k_x⟨u(1−u)⟩ + ψ a2 μ⊥²/μ1²)/v
        rho_beta = _ratio(kx * uq + ps * a2 * mup2 / rho, v)
    rho_beta = (lin * lin) * rho_beta
    if type(kx) not in _SCALAR_TYPES:  # (the one-point path passes scalars)
        nl = np.broadcast_to(np.asarray(nl, dtype=float), kx.shape)
        nl_t = np.broadcast_to(np.asarray(nl_t, dtype=float), kx.shape)
    common = dict(kx=kx, phi=ph, psi=ps, noise_var=nv, a1=a1, a2=a2, c0=c0, uq=uq, v=v,
                  one_m_phi_a2=one_m_phi_a2, delta=delta, rho_beta=rho_beta, mu1=mu1,
                  mu_perp2=mup2, mterm=mterm, mterm2=mterm2, lam=spec.lam, a2_b=a2_b, uq_b=uq_b,
                  lin=lin, nonlin=nl)
    # the training-side factors of the variance terms, shared by both test laws
    common["train"] = fine_terms_train(
        phi=ph, psi=ps, noise_var=nv, kx=kx, mu1=mu1, a2=a2, c0=c0, uq=uq, mterm=mterm, mterm2=mterm2,
        v=v, one_m_phi_a2=one_m_phi_a2, delta=delta, rho_beta=rho_beta, a2_b=a2_b, uq_b=uq_b,
        lin2=lin * lin, nonlin=nl)
    w_ood, w_id = _test_weights(spec)
    bias, var, terms = _side(m, 1, t0 + 1, signal_test=spec.signal_star, lin_t=lin_t, nonlin_t=nl_t,
                             mu1_t=mu1_t, mu_perp2_t=mu_perp2_t, test_w=w_ood, **common)
    bias_id, var_id, terms_id = _side(m, 2, t0 + 2, signal_test=spec.signal, lin_t=lin, nonlin_t=nl,
                                      mu1_t=mu1, mu_perp2_t=mup2, test_w=w_id, **common)

    # Ridgeless interpolation threshold: δ = 0 (ψ = φ, or a linear model at a rank threshold) makes
    # the variance +inf; elsewhere every output must be finite.
    indeterminate = False if kpos is True else (
        ridgeless & (kx == 0) & (v == 0) & (delta == 0) & (nv == 0) & (nl == 0))
    if _any(indeterminate):
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
        bad = _invalid(arr, ridgeless)
        if _any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ConvergenceError(
                f"non-finite {name} at phi={ph[i]!r}, psi={ps[i]!r}, gamma={ga[i]!r}, "
                f"noise_var={nv[i]!r}; please report this configuration"
            )
    if type(var) in _SCALAR_TYPES and type(var_id) in _SCALAR_TYPES:
        peak = np.bool_(ridgeless and (math.isinf(var) or math.isinf(var_id)))
    else:
        peak = ridgeless & (np.isinf(var) | np.isinf(var_id))

    with _quiet(kx):
        kappa = ph / kx if kpos is True else _where(kpos, ph / _where(kpos, kx, 1.0), np.inf)
    return dict(error=err, bias=bias, variance=var, error_id=err_id, bias_id=bias_id,
                variance_id=var_id, terms=terms, terms_id=terms_id, kappa=kappa, t=t,
                t_bar=t_bar, delta=delta, peak=peak)


def _point_select(kx: float, spec: Spectrum, cols: np.ndarray, mask: np.ndarray | None) -> dict:
    """One point's moments as ``{(kind, column): float}``, the form :func:`_evaluate` reads from
    ``moments(kx, select=...)``, so that it runs unchanged on scalars."""
    pm = point_moments(kx, spec.lam, cols, mask)
    return {(k, c): float(pm[k][c]) for k, c in _SELECT[spec.has_target]}


def _point_data(spec: Spectrum) -> tuple:
    """Cached per-spectrum data of the one-point path: weight columns, the λ > 0 mask (None if all
    λ > 0), π(λ > 0) and the moment table's panel edges (y, k, exact ⟨q⟩, exact ⟨uq⟩ there)."""
    def make() -> tuple:
        lam = spec.lam
        pos = lam > 0
        cols = _columns(spec)
        y_e, a1_e, uq_e = _table(spec).edges
        # (edges as Python lists: the one-point path computes on Python floats)
        return (cols, None if pos.all() else pos, float(spec.weights[pos].sum()), y_e.tolist(),
                np.exp(y_e).tolist(), a1_e.tolist(), uq_e.tolist())

    return spec._derived("engine.point", make)


def _solve_kx_point(spec: Spectrum, ph: float, ps: float, ga: float, mu1: float,
                    mu_perp2: float) -> float | None:
    """k_x at one point (the residuals of :func:`solve_kx`, solved on Python floats): bracket from
    the table's panel edges, one step to the root of the Hermite interpolant, then
    :func:`solve_bracketed_point`. None where the edges do not bracket the root or the solve fails
    (the caller then uses :func:`solve_kx`, which searches further or raises)."""
    cols, mask, pi_pos, y_e, k_e, a1_e, uq_e = _point_data(spec)
    rho = mu1 * mu1
    q_cap = min(1.0 / ph, 1.0 / ps if ps > 0 else math.inf)
    if ga == 0:
        if mu_perp2 == 0 and q_cap >= pi_pos:
            return 0.0  # k_b = 0 (see solve_kx)
        if abs(q_cap - pi_pos) <= 1e-6 * q_cap:
            return None  # at a rank threshold: the array path checks that the root is resolved

        def residual(k, a1, uq, deriv=True):  # type: ignore[no-untyped-def]
            return _boundary_residual(k, a1, uq, q_cap, rho, mu_perp2, deriv)
    else:
        c, inv_phi = (ph - ps) / ph, 1.0 / ph

        def residual(k, a1, uq, deriv=True):  # type: ignore[no-untyped-def]
            return _ridge_residual(k, a1, uq, ps, c, inv_phi, q_cap, ga, rho, mu_perp2, deriv)

    # bisection over the panel edges (signs only), then the residual and slope at the two ends
    i_lo, i_hi = 0, len(y_e) - 1
    if not (residual(k_e[i_lo], a1_e[i_lo], None, False)[0] < 0 < residual(k_e[i_hi], a1_e[i_hi], None,
                                                                           False)[0]):
        return None
    while i_hi - i_lo > 1:
        mid = (i_lo + i_hi) // 2
        if residual(k_e[mid], a1_e[mid], None, False)[0] < 0:
            i_lo = mid
        else:
            i_hi = mid
    lo, hi = y_e[i_lo], y_e[i_hi]
    f_lo, d_lo = residual(k_e[i_lo], a1_e[i_lo], uq_e[i_lo])
    f_hi, d_hi = residual(k_e[i_hi], a1_e[i_hi], uq_e[i_hi])
    if not (f_lo < 0 < f_hi):
        return None
    col0 = cols[:, :1]

    def fun(y: float) -> tuple[float, float]:
        k = math.exp(y)
        m = point_moments(k, spec.lam, col0, mask, ("q", "uq"))
        return residual(k, float(m["q"][0]), float(m["uq"][0]))  # type: ignore[no-any-return]

    y_h = lo + (hi - lo) * _hermite_root(f_lo, f_hi, d_lo * (hi - lo), d_hi * (hi - lo))
    f_h, d_h = fun(y_h)
    if f_h < 0:
        lo, f_lo, d_lo = y_h, f_h, d_h
    elif f_h > 0:
        hi, f_hi, d_hi = y_h, f_h, d_h
    y, ok = solve_bracketed_point(fun, lo, hi, f_lo, f_hi, d_lo, d_hi, ytol=1e-14)
    if not ok:
        return None
    k = math.exp(y)
    if ga == 0:  # the resolution check of _refuse_unresolved_threshold: the array path raises there
        uq = float(point_moments(k, spec.lam, col0, mask, ("uq",))["uq"][0])
        if uq + (mu_perp2 / (rho * k) if k > 0 else math.inf) < THRESHOLD_SLOPE * q_cap:
            return None
    return k


def _evaluate_point(spec: Spectrum, ph: float, ps: float, ga: float, nv: float, nl: float, nlt: float,
                    mu1: float, mu_perp2: float, te_c: ActivationConstants) -> tuple | None:
    """(k_x, :func:`_evaluate` output) at one point, computed on Python floats by the same residuals
    and formulas as arrays; None hands the point to the array path (no bracket from the edges, or a
    case that raises there with its message). Python floats raise where NumPy would return inf or
    NaN with a warning (a division by zero, e.g. at k_x = 0; an overflowing power): such points
    are handed to the array path too, which evaluates the limits."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        try:
            kx = _solve_kx_point(spec, ph, ps, ga, mu1, mu_perp2)
            if kx is None:
                return None
            cols, mask = _point_data(spec)[:2]
            m = _point_select(kx, spec, cols, mask)
            flat = _evaluate(spec, lambda _k, select: m, kx, ph, ps, ga, nv, mu1=mu1, mu_perp2=mu_perp2,
                             mu1_t=te_c.mu1, mu_perp2_t=te_c.mu_perp2, nl=nl, nl_t=nlt)
        except (ConvergenceError, TypeError, IndexError, ZeroDivisionError, OverflowError, ValueError):
            return None  # the array path evaluates the point again and raises with the parameters
    return kx, flat


def _is_builtin_nonlinear(act: Activation) -> bool:
    """True for a built-in activation other than ``linear`` (μ⊥² > 0 at every variance)."""
    try:
        return act.name != "linear" and get_activation(act.name) is act
    except (ValueError, TypeError):
        return False


def asymptotics(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
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
    nonlinear_var:
        Variance σ_g² >= 0 of the target's nonlinear part g(x) (the part no linear function of x
        explains) under the training law. It acts as label noise in training, but lives on X: in
        ``variance_terms`` it lands in ``x`` and ``wx``, not in ``x_eps``/``wx_eps``. The ID error
        counts it as irreducible error. The linear part's power per atom is ``spec.target_power``.
    nonlinear_var_test:
        The same under the test law, counted in the OOD ``bias``/``error`` (irreducible); ``None``
        (default): equal to ``nonlinear_var``.
    teacher:
        A single-index teacher y = f*(βᵀx/√n0) + ε, f* a name or :class:`rfshift.Activation`. Its
        Hermite parts at the teacher's pre-activation variance ⟨bλ⟩ (train) and ⟨bλ*⟩ (test) give
        the linear coefficients c1, c1* and nonlinear variances μ⊥², which add to
        ``nonlinear_var``/``nonlinear_var_test``. The teacher must have zero Gaussian mean at both
        variances (e.g. linear, erf, tanh); a non-zero mean is refused (docs/theory.md, targets).
    activation:
        A name (see :func:`rfshift.available_activations`) or an :class:`rfshift.Activation`.
    precision:
        ``None`` (default): float64, vectorised. An integer number of decimal digits re-solves one
        scalar point in arbitrary precision with mpmath and returns
        :class:`rfshift.symbolic.MPAsymptotics` (``mpf`` fields) instead — used to certify the
        float64 results near the interpolation peak, and the answer where float64 refuses a point
        (μ⊥² underflow, rank thresholds). Every field is resolved to ``precision`` digits: the terms
        that vanish at a rank threshold are formed from exact rationals, and where the estimated
        rounding error still exceeds 10^-precision the working digits are raised (up to
        4·precision + 20; beyond, ValueError naming the ``precision`` that suffices; docs/theory.md
        §17, "The certificate at a rank threshold"). It supports only the isotropic linear
        target: with ``spec.target_power``, ``nonlinear_var``, ``nonlinear_var_test`` or
        ``teacher`` set it raises ValueError (use ``precision=None`` for those), and every
        parameter must be a scalar.

    ``phi``, ``psi``, ``gamma``, ``noise_var``, ``nonlinear_var`` and ``nonlinear_var_test``
    broadcast like NumPy arrays.

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
    ValueError
        ``precision=`` with a structured or nonlinear target (``spec.target_power``,
        ``nonlinear_var``, ``nonlinear_var_test``, ``teacher``) or with an array parameter.

    Warns
    -----
    rfshift.ConcentrationWarning
        (defined in ``rfshift._diagnostics``, a ``UserWarning``) when ``spec`` knows its input
        dimension n0 (``Spectrum.from_covariances``/``from_samples``/``from_data`` or ``n0=``) and
        is too concentrated for the proportional limit: effective rank (tr Σ)²/tr Σ² (or its test
        twin) below 50 (:func:`rfshift.concentration` gives the numbers). The result is still
        returned; for the error at the actual sizes use :func:`rfshift.finite_size`
        (docs/theory.md §20, docs/validation.md §9.3 for the calibration).

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
    # A Spectrum that knows its n0 (from covariances/samples) is checked for concentration:
    # rfshift.ConcentrationWarning points to rfshift.finite_size (rfshift/_diagnostics.py).
    warn_if_concentrated(spec, stacklevel=3)
    if precision is not None:
        if spec.has_target or teacher is not None or np.any(np.asarray(nonlinear_var) != 0) or (
                nonlinear_var_test is not None and np.any(np.asarray(nonlinear_var_test) != 0)):
            raise ValueError(
                "precision= (the mpmath path) supports only the isotropic linear target: "
                "target_power, nonlinear_var, nonlinear_var_test and teacher must be left at their "
                "defaults (use precision=None for structured or nonlinear targets)"
            )
        for name, val in (("phi", phi), ("psi", psi), ("gamma", gamma), ("noise_var", noise_var)):
            if np.ndim(val) != 0:
                raise ValueError(f"precision= re-solves a single point: {name} must be a scalar")
        from .symbolic import asymptotics_mp

        return asymptotics_mp(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise_var,  # type: ignore[return-value]
                              activation=activation, precision=precision)
    act = get_activation(activation)
    # One point given as plain numbers (no teacher): validated and solved without array overhead,
    # through the same residuals and formulas (see _evaluate_point).
    point = None
    if teacher is None:
        point = (plain_scalar(phi, allow_zero=False), plain_scalar(psi, allow_zero=True),
                 plain_scalar(gamma, allow_zero=True), plain_scalar(noise_var, allow_zero=True),
                 plain_scalar(nonlinear_var, allow_zero=True),
                 plain_scalar(nonlinear_var if nonlinear_var_test is None else nonlinear_var_test,
                              allow_zero=True))
        if None in point:
            point = None
    teach, lin, lin_t = None, 1.0, 1.0
    if point is not None:
        shape = ()
        ph, ps, ga, nv, nl, nlt = point  # Python floats
    else:
        phi_a = check_parameter(phi, "phi", allow_zero=False, description="n0/m")
        psi_a = check_parameter(psi, "psi", allow_zero=True, description="n0/n1")
        gamma_a = check_parameter(gamma, "gamma", allow_zero=True, description="ridge")
        noise_a = check_parameter(noise_var, "noise_var", allow_zero=True, description="label noise")
        nl_a = check_parameter(nonlinear_var, "nonlinear_var", allow_zero=True,
                               description="variance of the target's nonlinear part (train law)")
        nlt_a = nl_a if nonlinear_var_test is None else check_parameter(
            nonlinear_var_test, "nonlinear_var_test", allow_zero=True,
            description="variance of the target's nonlinear part (test law)")
        try:
            shape = np.broadcast_shapes(phi_a.shape, psi_a.shape, gamma_a.shape, noise_a.shape,
                                        nl_a.shape, nlt_a.shape)
        except ValueError:
            raise ValueError(
                "phi, psi, gamma, noise_var, nonlinear_var and nonlinear_var_test must broadcast "
                f"together, got shapes {phi_a.shape}, {psi_a.shape}, {gamma_a.shape}, {noise_a.shape}, "
                f"{nl_a.shape}, {nlt_a.shape}"
            ) from None
        ph, ps, ga, nv, nl, nlt = (np.broadcast_to(a, shape).ravel()
                                   for a in (phi_a, psi_a, gamma_a, noise_a, nl_a, nlt_a))
        teach, lin, lin_t = None, 1.0, 1.0
        if teacher is not None:
            teach, lin, lin_t, t_nl, t_nlt = _teacher_parts(teacher, spec)
            nl, nlt = nl + t_nl, nlt + t_nlt

    tr_c = act.constants(spec.s)
    te_c = act.constants(spec.s_star)
    mu1, mup2 = tr_c.mu1, tr_c.mu_perp2
    scale = math.sqrt(max(tr_c.second_moment, _TINY) / spec.s)
    if abs(mu1) <= 1e-12 * scale:
        raise ValueError(
            f"activation {act.name!r} has mu1(s) = {mu1:.3g} at the training variance s = {spec.s:.6g}: "
            "its features carry no linear signal, which the theory does not support (THEORY.md §3)"
        )
    if mup2 < _TINY and _is_builtin_nonlinear(act):
        # μ⊥²(s) > 0 mathematically but below the smallest normal float64 (hardtanh at v ≲ 7e-4, the
        # smooth built-ins far below): taking it as 0 would give the *linear* ridgeless limit, which
        # differs from the μ⊥² → 0⁺ limit (docs/theory.md §17). With γ > 0 the term μ⊥²/(μ1² k_x) is
        # negligible against the ridge, so 0 is the right float64 value there; so it is at ψ = 0, where
        # ω = μ⊥²/ρ enters the fixed point and the variance exactly like the ridge γ/ρ (THEORY.md §4–5
        # kernel limit), so its 0⁺ limit is the linear ridgeless one.
        if np.any((ga == 0) & (ps > 0)):
            raise ValueError(
                f"activation {act.name!r} has mu_perp2(s) = {mup2:.3g} at the training variance "
                f"s = {spec.s:.6g}, below the float64 range, and gamma = 0 with psi > 0 is requested: "
                "the ridgeless limit with finitely many features depends on mu_perp2 > 0, which float64 "
                "cannot represent here. Use precision=30 (mpmath) for this point, or gamma > 0"
            )
        mup2 = 0.0

    solved = None if point is None else _evaluate_point(spec, ph, ps, ga, nv, nl, nlt, mu1, mup2, te_c)
    if solved is not None:
        kx, flat = solved
    else:  # arrays, or a point the one-point path hands back (it then raises here with details)
        ph, ps, ga, nv, nl, nlt = (np.atleast_1d(a) for a in (ph, ps, ga, nv, nl, nlt))
        moments = _moment_source(spec, ph.size)
        kx = solve_kx(spec, ph, ps, ga, mu1, mup2, moments)
        flat = _evaluate(spec, moments, kx, ph, ps, ga, nv, mu1=mu1, mu_perp2=mup2, mu1_t=te_c.mu1,
                         mu_perp2_t=te_c.mu_perp2, lin=lin, lin_t=lin_t, nl=nl, nl_t=nlt)

    def shaped(a: np.ndarray) -> np.ndarray:
        if not shape:  # one point: a NumPy scalar, as for 0-d input on the array path
            if type(a) is float:
                return np.float64(a)
            return a if type(a) is np.float64 else np.asarray(a, dtype=float).reshape(())[()]
        a = np.asarray(a, dtype=float).reshape(shape)
        return a[()] if a.ndim == 0 else a

    def shaped_terms(tm: VarianceTerms) -> VarianceTerms:
        return VarianceTerms(**{k: shaped(getattr(tm, k)) for k in _TERM_NAMES})

    return Asymptotics(
        phi=shaped(ph), psi=shaped(ps), gamma=shaped(ga), noise_var=shaped(nv),
        error=shaped(flat["error"]), bias=shaped(flat["bias"]), variance=shaped(flat["variance"]),
        error_id=shaped(flat["error_id"]), bias_id=shaped(flat["bias_id"]),
        variance_id=shaped(flat["variance_id"]),
        variance_terms=shaped_terms(flat["terms"]), variance_terms_id=shaped_terms(flat["terms_id"]),
        kappa=shaped(flat["kappa"]), k_x=shaped(kx), t=shaped(flat["t"]), t_bar=shaped(flat["t_bar"]),
        delta=shaped(flat["delta"]), interpolation_peak=np.asarray(flat["peak"].reshape(shape))[()],
        activation=act, train_constants=tr_c, test_constants=te_c,
        nonlinear_var=shaped(nl), nonlinear_var_test=shaped(nlt), teacher=teach,
        target_linear=lin, target_linear_test=lin_t,
    )


def _teacher_parts(teacher: str | Activation, spec: Spectrum) -> tuple[Activation, float, float,
                                                                         float, float]:
    """Hermite parts of a single-index teacher f*(βᵀx/√n0) under both laws.

    The teacher's pre-activation βᵀx/√n0 has variance ⟨bλ⟩ (train) and ⟨bλ*⟩ (test). Returns
    (activation, c1, c1*, μ⊥²(train), μ⊥²(test)); a variance of 0 (no target power on any
    test-mass direction) has no linear or nonlinear part. Raises ValueError for a teacher with a
    non-zero Gaussian mean μ0 at either variance (docs/theory.md, targets: a label mean is not
    part of the theory; it would be learned or not depending on the features, and its change
    between the laws would add (Δμ0)² only if it were learned exactly).
    """
    try:
        t_act = get_activation(teacher)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"teacher: {exc}") from None
    out: list[float] = []
    for label, v in (("training", spec.signal), ("test", spec.signal_star)):
        if v > 0:
            c = t_act.constants(v)
            scale = math.sqrt(max(c.second_moment, np.finfo(float).tiny))
            mu0, mu1_v, mup2_v = c.mu0, c.mu1, c.mu_perp2
        else:
            mu0 = float(np.asarray(t_act(np.zeros(1)), dtype=float)[0])
            scale, mu1_v, mup2_v = max(abs(mu0), 1.0), 0.0, 0.0
        if abs(mu0) > 1e-10 * scale:
            raise ValueError(
                f"teacher {t_act.name!r} has a non-zero Gaussian mean mu0 = {mu0:.6g} at the {label} "
                f"signal variance {v:.6g}; rfshift needs zero-mean targets (a label mean, and its "
                "change between the laws, is not part of the theory). Use a centred/odd teacher "
                "(linear, erf, tanh, ...), or give the parts explicitly via target_power and "
                "nonlinear_var/nonlinear_var_test"
            )
        out += [mu1_v, mup2_v]
    c1, nl_tr, c1_t, nl_te = out
    return t_act, c1, c1_t, nl_tr, nl_te
