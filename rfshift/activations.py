"""Activation functions and their Gaussian-equivalence constants (THEORY.md §3).

For ``g ~ N(0, v)``::

    mu0(v)   = E σ(g)
    mu1(v)   = E[g σ(g)] / v            (= E σ'(g))
    mu_perp2 = E[(σ(g) - mu0 - mu1 g)^2] = E σ(g)^2 - mu0^2 - v mu1^2

The values are accurate at every variance (μ0, μ1 to ~1e-15 and μ⊥² to ~1e-13 relative for
v in [1e-12, 1e12], checked against a 25-digit mpmath table; docs/theory.md §17):

* μ⊥² is always the mean squared residual, never E σ² − μ0² − vμ1² (which cancels at small v);
* closed forms where they exist, in rearranged or series forms where they cancel (ReLU, leaky ReLU,
  abs, erf, GELU, hard tanh, linear, quadratic; sigmoid from tanh at v/4);
* tanh, softplus, SiLU and ELU by adaptive quadrature (``scipy.integrate.quad``) of their non-linear
  part h (σ = c0 + c1 x + h(x), h evaluated to full relative accuracy), split in z = g/√v at 0, the
  kinks and the bend scale ±c/√v, to 1e-13 relative;
* user activations by the same split quadrature of the residual, with an error when their float64
  values cannot resolve μ⊥² (the activation is linear to within rounding at that v).

Gauss–Hermite quadrature alone is *not* used: at a kink it is off by ~1e-3 with 200 nodes.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = [
    "Activation",
    "ActivationConstants",
    "activation_constants",
    "available_activations",
    "get_activation",
]


@dataclass(frozen=True)
class ActivationConstants:
    """Gaussian-equivalence constants of an activation at pre-activation variance ``v``."""

    v: float
    mu0: float
    mu1: float
    mu_perp2: float

    @property
    def second_moment(self) -> float:
        """E σ(g)^2 = mu0^2 + v mu1^2 + mu_perp2."""
        return self.mu0**2 + self.v * self.mu1**2 + self.mu_perp2


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation σ: R -> R applied elementwise to the pre-activations ``W x / sqrt(n0)``.

    Parameters
    ----------
    fn:
        Vectorised NumPy callable ``fn(x: ndarray) -> ndarray`` of the same shape.
    name:
        Display name.
    breakpoints:
        Points (in pre-activation units) where σ has a kink or jump; quadrature is split there.
    closed_form:
        Optional ``closed_form(v) -> (mu0, mu1, mu_perp2)``; used instead of quadrature (the built-ins
        use it for their accurate evaluators).

    Instances compare and hash by identity; constants are cached per instance and variance.
    """

    fn: Callable[[np.ndarray], np.ndarray]
    name: str = "custom"
    breakpoints: tuple[float, ...] = (0.0,)
    closed_form: Callable[[float], tuple[float, float, float]] | None = field(
        default=None, repr=False
    )

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"Activation fn must be callable, got {type(self.fn).__name__}")
        bps = tuple(sorted(float(b) for b in self.breakpoints))
        if not all(math.isfinite(b) for b in bps):
            raise ValueError(f"Activation breakpoints must be finite, got {self.breakpoints!r}")
        object.__setattr__(self, "breakpoints", bps)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x)

    def constants(self, v: float) -> ActivationConstants:
        """mu0, mu1, mu_perp2 at pre-activation variance ``v > 0`` (cached)."""
        v = float(v)
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"pre-activation variance v must be finite and > 0, got {v!r}")
        return _constants_cached(self, v)


# --- quadrature -----------------------------------------------------------------------------------

# φ(40) ≈ 1e-349 underflows in float64: beyond |z| = 40 the Gaussian weight is exactly 0, and the
# built-in activations grow at most quadratically, so [-40, 40] loses nothing for them.
_ZMAX = 40.0
# Where an activation with unit-scale features (tanh, softplus, ...) bends, in units of its input:
# splitting z = g/√v at ±c/√v for these c makes every piece smooth on its own length scale
# (docs/theory.md §17).
_BEND = (0.125, 0.5, 2.0, 8.0, 32.0, 128.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_EPS = float(np.finfo(float).eps)


def _npdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / _SQRT_2PI


def _z_cuts(sd: float, kinks: Sequence[float], zmax: float) -> list[float]:
    """Split points in z = g/√v: 0, the kinks and the bend scale ±c/√v, all inside (−zmax, zmax)."""
    pts = {0.0}
    for c in _BEND:
        if c / sd < zmax:
            pts.update((c / sd, -c / sd))
    pts.update(b / sd for b in kinks if abs(b / sd) < zmax)
    return sorted(pts)


def _quad_pieces(fz: Callable[[float], float], edges: Sequence[float], epsabs: float,
                 epsrel: float = 1e-13) -> tuple[float, float]:
    """Σ over consecutive edges of ∫ fz(z) φ(z) dz (scipy QUADPACK); returns (value, error bound)."""
    from scipy import integrate  # imported on first use: keeps `import rfshift` fast

    def integrand(z: float) -> float:
        w = _npdf(z)
        if w == 0.0:  # far quadrature nodes: the Gaussian weight underflows, σ may overflow
            return 0.0
        return fz(z) * w

    total, err_total = 0.0, 0.0
    each = epsabs / max(1, len(edges) - 1)
    for lo, hi in itertools.pairwise(edges):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            val, err = integrate.quad(integrand, lo, hi, epsabs=each, epsrel=epsrel, limit=400)[:2]
        total += val
        err_total += err
    return total, err_total


def _quad_constants(act: Activation, v: float) -> ActivationConstants:
    """Constants of a user activation (no closed form) by adaptive quadrature in z = g/√v.

    The z axis is split at 0, the declared kinks and the bend scale ±c/√v (so a feature at |g| ~ 1
    is resolved at any v); the tails run to ±∞. μ⊥² is the mean squared residual σ − μ0 − μ1 g.
    Float64 values of σ carry rounding ~eps·|σ|, so μ⊥² is resolved only down to a floor: when the
    activation is linear to within that rounding at this v (relative uncertainty of μ⊥² > 1e-3) a
    ``ValueError`` says so; between 1e-6 and 1e-3 a ``RuntimeWarning`` gives the uncertainty.
    """
    name = act.name
    probe = np.linspace(-6.0, 6.0, 25) * math.sqrt(v)
    with np.errstate(all="ignore"):
        out = np.asarray(act.fn(probe), dtype=float)
    if out.shape != probe.shape:
        raise ValueError(
            f"activation {name!r} must map an array to an array of the same shape; "
            f"got shape {out.shape} for input shape {probe.shape}"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"activation {name!r} returns NaN or inf on ordinary inputs")
    sd = math.sqrt(v)
    edges = [-math.inf, *_z_cuts(sd, act.breakpoints, _ZMAX), math.inf]

    def f(z: float) -> float:
        with np.errstate(all="ignore"):
            val = act.fn(np.asarray([sd * z], dtype=float))
        return float(np.asarray(val, dtype=float).reshape(-1)[0])

    def expect(fz: Callable[[float], float], what: str, scale: float) -> tuple[float, float]:
        """Integral and error estimate; ``scale``: the size below which an absolute error is fine."""
        val, err = _quad_pieces(fz, edges, 1e-15 * scale)
        if not (math.isfinite(val) and math.isfinite(err)):
            raise ValueError(
                f"activation {name!r}: {what} is not finite at variance v={v:g} "
                "(the activation returns NaN/inf or grows too fast for a Gaussian input)"
            )
        if err > 1e-8 * max(abs(val), scale):
            raise ValueError(
                f"activation {name!r}: {what} could not be integrated accurately at v={v:g} "
                f"(quadrature error estimate {err:.2e}); the Gaussian moment may be infinite"
            )
        return val, err

    def f2(z: float) -> float:
        y = f(z)
        return y * y  # inf, not OverflowError, for a huge value

    second = expect(f2, "E σ(g)^2", 0.0)[0]
    scale = math.sqrt(second)
    mu0 = expect(f, "E σ(g)", scale)[0]
    mu1 = expect(lambda z: z * f(z), "E g σ(g)", scale)[0] / sd
    floor = 8.0 * _EPS * scale  # rms rounding of σ(g) − μ0 − μ1 g in float64
    def resid2(z: float) -> float:
        y = f(z) - mu0 - mu1 * sd * z
        return y * y

    mup2, err = _quad_pieces(resid2, edges, floor * floor)
    if not (math.isfinite(mup2) and math.isfinite(err)):  # pragma: no cover - E σ² was finite
        raise ValueError(f"activation {name!r}: E σ(g)^2 is not finite at variance v={v:g}")
    resolution = floor * floor + 2.0 * floor * math.sqrt(mup2) + err
    uncertainty = resolution / mup2 if mup2 > 0 else math.inf
    if uncertainty > 1e-3:
        raise ValueError(
            f"activation {name!r} is linear to within float64 rounding at variance v={v:g}: its "
            f"non-linear part mu_perp2 = {mup2:.3g} is below the resolution {resolution:.2g} of its "
            "float64 values, so it cannot be computed from them. Pass closed_form=... (or use a "
            "built-in activation; a linear one is 'linear')"
        )
    if uncertainty > 1e-6:
        warnings.warn(
            f"activation {name!r}: mu_perp2 at v={v:g} is resolved only to {uncertainty:.1e} relative "
            "(float64 rounding of the activation's values); pass closed_form=... for more",
            RuntimeWarning, stacklevel=4,
        )
    return ActivationConstants(v=v, mu0=mu0, mu1=mu1, mu_perp2=mup2)


@lru_cache(maxsize=4096)
def _constants_cached(act: Activation, v: float) -> ActivationConstants:
    if act.closed_form is not None:
        mu0, mu1, mup2 = act.closed_form(v)
        return ActivationConstants(v=v, mu0=float(mu0), mu1=float(mu1), mu_perp2=float(mup2))
    return _quad_constants(act, v)


# --- closed forms --------------------------------------------------------------------------------

_LEAK = 0.01


def _relu_cf(v: float) -> tuple[float, float, float]:
    # mu0 = sqrt(v/2π), mu1 = 1/2, E σ² = v/2  =>  mu_perp2 = v (1/4 - 1/(2π))
    return math.sqrt(v / (2 * math.pi)), 0.5, v * (0.25 - 1.0 / (2 * math.pi))


def _leaky_relu_cf(v: float) -> tuple[float, float, float]:
    a = _LEAK
    # σ = a x + (1-a) relu(x): mu0 = (1-a) sqrt(v/2π), mu1 = (1+a)/2, mu_perp2 = (1-a)^2 relu's
    return (1 - a) * math.sqrt(v / (2 * math.pi)), (1 + a) / 2, (1 - a) ** 2 * v * (
        0.25 - 1.0 / (2 * math.pi)
    )


def _abs_cf(v: float) -> tuple[float, float, float]:
    # mu0 = E|g| = sqrt(2v/π), mu1 = 0 (even), E σ² = v  =>  mu_perp2 = v (1 - 2/π)
    return math.sqrt(2.0 * v / math.pi), 0.0, v * (1.0 - 2.0 / math.pi)


def _linear_cf(v: float) -> tuple[float, float, float]:
    return 0.0, 1.0, 0.0


def _quadratic_cf(v: float) -> tuple[float, float, float]:
    # σ = x²: E σ = v, E g σ = 0, E σ² = 3v²
    return v, 0.0, 2.0 * v * v


# --- built-in activations: accurate at every variance ------------------------------------------------


def _nonlinear_part_constants(h: Callable[[float], float], v: float, *, c0: float = 0.0,
                              c1: float = 0.0, kinks: Sequence[float] = (), parity: int = 0,
                              name: str) -> tuple[float, float, float]:
    """Constants of σ(x) = c0 + c1·x + h(x) by quadrature of the part h only (docs/theory.md §17).

    μ0 = c0 + E h, μ1 = c1 + E[g h]/v and μ⊥² = E[(h − E h − (E[g h]/v) g)²] (the residual, never
    E σ² − μ0² − v μ1²). With h evaluated to full relative accuracy every integrand is accurate to a
    few ulps, whatever the size of h against c1·x; ``parity`` = +1 (h even: E[g h] = 0) or −1 (h odd:
    E h = 0) skips an integral that is exactly zero. The z axis is split at 0, the kinks and the bend
    scale, and each integral is converged to 1e-13 relative (no absolute floor).
    """
    sd = math.sqrt(v)
    edges = [-_ZMAX, *_z_cuts(sd, kinks, _ZMAX), _ZMAX]

    def check(val: float, err: float, what: str) -> float:
        if not (math.isfinite(val) and err <= 1e-10 * abs(val)):  # pragma: no cover - a defect
            raise ArithmeticError(f"activation {name!r}: {what} did not converge at v={v!r} "
                                  f"(value {val!r}, error estimate {err!r})")
        return val

    mean_h = 0.0 if parity == -1 else check(*_quad_pieces(lambda z: h(sd * z), edges, 0.0), "E h")
    slope_h = 0.0 if parity == 1 else check(
        *_quad_pieces(lambda z: z * h(sd * z), edges, 0.0), "E[g h]") / sd  # E[g h]/v
    resid = check(*_quad_pieces(lambda z: (h(sd * z) - mean_h - slope_h * sd * z) ** 2, edges, 0.0),
                  "E[residual²]")
    return c0 + mean_h, c1 + slope_h, resid


def _taylor_tanh() -> tuple[float, ...]:
    """Odd Taylor coefficients a_1, a_3, ... of tanh from tanh' = 1 − tanh² (exact rationals)."""
    from fractions import Fraction

    a = {1: Fraction(1)}
    for n in range(2, 26, 2):  # (n+1) a_{n+1} = −Σ_{i+j=n} a_i a_j
        a[n + 1] = -sum((a[i] * a[n - i] for i in range(1, n, 2)), Fraction(0)) / (n + 1)
    return tuple(float(a[k]) for k in range(3, 27, 2))


_TANH_COEF = _taylor_tanh()  # a_3 .. a_25: |a_{k+2}/a_k| -> (2/π)² ≈ 0.405


def _tanh_minus_x(x: float) -> float:
    """tanh(x) − x to full relative accuracy (Taylor for |x| < 1/4: 12 terms, error < 1e-17)."""
    if abs(x) >= 0.25:
        return math.tanh(x) - x  # loses at most log10(3/x²) ≈ 1.7 digits
    x2 = x * x
    acc = 0.0
    for a in reversed(_TANH_COEF):
        acc = acc * x2 + a
    return acc * x2 * x


def _tanh_cf(v: float) -> tuple[float, float, float]:
    # σ = x + (tanh x − x) at small v (the linear part carried exactly), σ = tanh itself at v ≥ 1
    if v < 1.0:
        return _nonlinear_part_constants(_tanh_minus_x, v, c1=1.0, parity=-1, name="tanh")
    return _nonlinear_part_constants(math.tanh, v, parity=-1, name="tanh")


def _sigmoid_cf(v: float) -> tuple[float, float, float]:
    # sigmoid(x) = 1/2 + tanh(x/2)/2 and x/2 ~ N(0, v/4): μ0 = 1/2, μ1 = μ1_tanh(v/4)/4,
    # μ⊥² = μ⊥²_tanh(v/4)/4
    c = _constants_cached(_REGISTRY["tanh"], v / 4.0)
    return 0.5, c.mu1 / 4.0, c.mu_perp2 / 4.0


def _log_cosh(y: float) -> float:
    """log cosh y to full relative accuracy (½ log1p(sinh² y) near 0, |y| − log 2 + log1p(e^{−2|y|}))."""
    y = abs(y)
    if y < 1.0:
        return 0.5 * math.log1p(math.sinh(y) ** 2)
    return y - math.log(2.0) + math.log1p(math.exp(-2.0 * y))


def _softplus_cf(v: float) -> tuple[float, float, float]:
    # softplus(x) = log 2 + x/2 + log cosh(x/2): μ1 = E sigmoid(g) = 1/2 exactly (sigmoid − 1/2 odd)
    return _nonlinear_part_constants(lambda x: _log_cosh(0.5 * x), v, c0=math.log(2.0), c1=0.5,
                                     parity=1, name="softplus")


def _silu_cf(v: float) -> tuple[float, float, float]:
    # silu(x) = x/2 + (x/2) tanh(x/2): μ1 = 1/2 exactly (the second part is even)
    return _nonlinear_part_constants(lambda x: 0.5 * x * math.tanh(0.5 * x), v, c1=0.5, parity=1,
                                     name="silu")


_EXPM1_COEF = tuple(1.0 / math.factorial(k) for k in range(2, 19))


def _elu_minus_x(x: float) -> float:
    """elu(x) − x = (e^x − 1 − x)·[x < 0] to full relative accuracy (Taylor for −1/2 < x < 0)."""
    if x >= 0.0:
        return 0.0
    if x <= -0.5:
        return math.expm1(x) - x
    acc = 0.0
    for a in reversed(_EXPM1_COEF):
        acc = acc * x + a
    return acc * x * x


def _elu_cf(v: float) -> tuple[float, float, float]:
    return _nonlinear_part_constants(_elu_minus_x, v, c1=1.0, kinks=(0.0,), name="elu")


def _gelu_cf(v: float) -> tuple[float, float, float]:
    # gelu(x) = x/2 + h(x), h = x(Φ(x) − 1/2) even: μ1 = 1/2; μ0 = E h = v E φ(g) = v/√(2π(1+v));
    # E h² = v A(v) + v² A''... with A(v) = E(Φ(g) − 1/2)² = asin(v/(1+v))/(2π) (orthant probability),
    # E[g² F(g)] = v E F + v² E F'' (Stein) and E F'' = 2A'(v) = 1/(π(1+v)√(1+2v)):
    # μ⊥² = Var h = (v/2π) atan(v/√(1+2v)) + v²/(π(1+v)√(1+2v)) − v²/(2π(1+v))  (docs/theory.md §17)
    r = v / (1.0 + v)  # written with v·r instead of v² so that nothing overflows
    sq = math.sqrt(1.0 + 2.0 * v)
    mu0 = v / math.sqrt(2.0 * math.pi * (1.0 + v))
    mup2 = (v * math.atan(v / sq) / (2.0 * math.pi) + v * r / (math.pi * sq)
            - v * r / (2.0 * math.pi))
    return mu0, 0.5, mup2


def _erf_cf(v: float) -> tuple[float, float, float]:
    # μ1 = 2/√(π(1+2v)); E erf(g)² = (2/π) asin(2v/(1+2v)) = (2/π) atan(y), y = 2v/√(1+4v).
    # μ⊥² = (2/π)[atan y − 2v/(1+2v)] cancels to relative O(v²) at small v: there it is written as
    # (2/π)[(atan y − y) + 8v³/(√(1+4v)(1+2v)(1+2v+√(1+4v)))] with atan y − y by its Taylor series.
    mu1 = 2.0 / math.sqrt(math.pi * (1.0 + 2.0 * v))
    sq = math.sqrt(1.0 + 4.0 * v)
    y = 2.0 * v / sq
    if y >= 0.25:
        return 0.0, mu1, (2.0 / math.pi) * (math.atan(y) - 2.0 * v / (1.0 + 2.0 * v))
    y2 = y * y
    acc = 0.0
    for k in range(14, 0, -1):  # atan y − y = Σ_{k≥1} (−1)^k y^{2k+1}/(2k+1); y² ≤ 1/16
        acc = acc * y2 + (-1.0) ** k / (2 * k + 1)
    atan_minus_y = acc * y2 * y
    gap = 8.0 * v**3 / (sq * (1.0 + 2.0 * v) * (1.0 + 2.0 * v + sq))
    return 0.0, mu1, (2.0 / math.pi) * (atan_minus_y + gap)


def _hardtanh_cf(v: float) -> tuple[float, float, float]:
    # clip(g, −1, 1), a = 1/√v, T = P(|g| > 1) = erfc(a/√2): μ0 = 0, μ1 = 1 − T = erf(a/√2),
    # μ⊥² = v T(1 − T) + T − 2√v φ(a). Its terms cancel to relative O(v²) at small v and O(1/√v) at
    # large v, so it is evaluated as (docs/theory.md §17)
    #   a ≥ 1: 2φ(a)[D(a) − R T/a²], R = T/(2φ(a)) (Mills ratio), D = R(1 + 1/a²) − 1/a
    #          (D by its asymptotic series Σ_{n≥2} (−1)^n (2n−2)(2n−3)!! a^{−2n−1} for a ≥ 10);
    #   a < 1: T − (ε/a)² + S(a)/a, ε = erf(a/√2), S = ε/a − 2φ(a) by its Taylor series.
    sp = _special()
    a = 1.0 / math.sqrt(v)
    mu1 = float(sp.erf(a / math.sqrt(2.0)))
    tail = float(sp.erfc(a / math.sqrt(2.0)))
    if a >= 1.0:
        mills = math.sqrt(math.pi / 2.0) * float(sp.erfcx(a / math.sqrt(2.0)))
        if a >= 10.0:
            ia2 = 1.0 / (a * a)
            term, d = 1.0, 0.0  # term = (2n−3)!! a^{−2n}, starting at n = 2
            term = ia2 * ia2
            for n in range(2, 48):
                d += (-1) ** n * (2 * n - 2) * term
                term *= (2 * n - 1) * ia2
            d /= a
        else:
            d = mills * (1.0 + 1.0 / (a * a)) - 1.0 / a
        return 0.0, mu1, 2.0 * _npdf(a) * (d - mills * tail / (a * a))
    a2 = a * a
    s, term = 0.0, 1.0  # S(a) = 2φ(0) Σ_{k≥1} (−1)^{k+1} (2k) a^{2k} / ((2k+1) 2^k k!)
    for k in range(1, 25):
        term *= a2 / (2 * k)  # a^{2k}/(2^k k!)
        s += (-1) ** (k + 1) * (2 * k) / (2 * k + 1) * term
    s *= 2.0 / _SQRT_2PI
    return 0.0, mu1, tail - (mu1 / a) ** 2 + s / a


def _special():  # scipy.special, imported on first use
    from scipy import special

    return special


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return _special().expit(x)


def _erf(x: np.ndarray) -> np.ndarray:
    return _special().erf(x)


def _gelu(x: np.ndarray) -> np.ndarray:
    return x * _special().ndtr(x)


def _silu(x: np.ndarray) -> np.ndarray:
    return x * _special().expit(x)


_REGISTRY: dict[str, Activation] = {
    "relu": Activation(lambda x: np.maximum(x, 0.0), "relu", (0.0,), _relu_cf),
    "leaky_relu": Activation(lambda x: np.where(x > 0, x, _LEAK * x), "leaky_relu", (0.0,),
                             _leaky_relu_cf),
    "erf": Activation(_erf, "erf", (), _erf_cf),
    "linear": Activation(lambda x: np.asarray(x, dtype=float) * 1.0, "linear", (), _linear_cf),
    "quadratic": Activation(lambda x: np.asarray(x, dtype=float) ** 2, "quadratic", (),
                            _quadratic_cf),
    "tanh": Activation(np.tanh, "tanh", (), _tanh_cf),
    "sigmoid": Activation(_sigmoid, "sigmoid", (), _sigmoid_cf),
    "softplus": Activation(lambda x: np.logaddexp(0.0, x), "softplus", (), _softplus_cf),
    "gelu": Activation(_gelu, "gelu", (), _gelu_cf),
    "silu": Activation(_silu, "silu", (), _silu_cf),
    "elu": Activation(lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))), "elu", (0.0,),
                      _elu_cf),
    "hardtanh": Activation(lambda x: np.clip(x, -1.0, 1.0), "hardtanh", (-1.0, 1.0), _hardtanh_cf),
    "abs": Activation(np.abs, "abs", (0.0,), _abs_cf),
}
_ALIASES = {"identity": "linear", "swish": "silu", "hard_tanh": "hardtanh", "square": "quadratic"}


def available_activations() -> tuple[str, ...]:
    """Names accepted by :func:`get_activation` (aliases excluded)."""
    return tuple(sorted(_REGISTRY))


def get_activation(activation: str | Activation) -> Activation:
    """Resolve a name (case-insensitive) or pass an :class:`Activation` through.

    Raises ``ValueError`` for an unknown name and ``TypeError`` for anything else.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        hit = _REGISTRY.get(activation)  # (a registered name as given: no normalising)
        if hit is not None:
            return hit
        key = activation.strip().lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in _REGISTRY:
            return _REGISTRY[key]
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(available_activations())} "
            "or pass rfshift.Activation(callable, name=...)"
        )
    raise TypeError(
        f"activation must be a name or an rfshift.Activation, got {type(activation).__name__}"
    )


def activation_constants(activation: str | Activation, v: float) -> ActivationConstants:
    """Gaussian-equivalence constants of ``activation`` at pre-activation variance ``v``."""
    return get_activation(activation).constants(v)


#: Pre-activation variances at which :func:`_with_linear_part` and :func:`_zero_mean` probe the built-ins.
_PROBE_VARIANCES = tuple(float(v) for v in np.geomspace(1e-3, 1e3, 7))


def _builtins_where(test) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """Built-in names whose constants pass ``test(c, v)`` at every probe variance."""
    return tuple(name for name in available_activations()
                 if all(test(_REGISTRY[name].constants(v), v) for v in _PROBE_VARIANCES))


@lru_cache(maxsize=1)
def _with_linear_part() -> tuple[str, ...]:
    """Built-in activations with μ1(v) ≠ 0 at every probe variance v ∈ [1e-3, 1e3] — those the
    proportional limit accepts; the others (abs, quadratic: μ1 ≡ 0) carry no linear signal and the
    engine refuses them (its test: ``|μ1(s)| ≤ 1e-12·√(E σ²/s)``, THEORY.md §3). For pickers and help
    texts (app, CLI); the engine keeps its own check at the actual variance."""
    return _builtins_where(
        lambda c, v: abs(c.mu1) > 1e-12 * math.sqrt(max(c.second_moment, np.finfo(float).tiny) / v))


@lru_cache(maxsize=1)
def _zero_mean() -> tuple[str, ...]:
    """Built-in activations with Gaussian mean μ0(v) = 0 (``|μ0| ≤ 1e-10·√(E σ²)``, the engine's test
    for a teacher, ``rfshift.engine._teacher_parts``) at every probe variance v ∈ [1e-3, 1e3]: the
    single-index teachers f* the theory accepts (the odd ones: erf, hardtanh, linear, tanh)."""
    return _builtins_where(
        lambda c, v: abs(c.mu0) <= 1e-10 * math.sqrt(max(c.second_moment, np.finfo(float).tiny)))
