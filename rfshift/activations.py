"""Activation functions and their Gaussian-equivalence constants (THEORY.md §3).

For ``g ~ N(0, v)``::

    mu0(v)   = E σ(g)
    mu1(v)   = E[g σ(g)] / v            (= E σ'(g))
    mu_perp2 = E[(σ(g) - mu0 - mu1 g)^2] = E σ(g)^2 - mu0^2 - v mu1^2

Closed forms are used where they exist (ReLU, leaky ReLU, erf, linear, quadratic). Every other
activation is integrated by adaptive quadrature (``scipy.integrate.quad``) split at the
activation's kinks, to about 1e-13 relative. Gauss–Hermite quadrature alone is *not* used: at a
kink it is off by ~1e-3 with 200 nodes.
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
        Optional ``closed_form(v) -> (mu0, mu1, mu_perp2)``; used instead of quadrature.

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


def _gauss_expect(f: Callable[[np.ndarray], np.ndarray], v: float, bps: Sequence[float], what: str,
                  name: str) -> float:
    """E f(g) for g ~ N(0, v) by adaptive quadrature in z = g / sqrt(v), split at breakpoints."""
    sd = math.sqrt(v)
    cuts = sorted({b / sd for b in bps if abs(b / sd) < 40.0})
    edges = [-np.inf, *cuts, np.inf]

    def integrand(z: float) -> float:
        w = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        if w == 0.0:  # far quadrature nodes: the Gaussian weight underflows, σ may overflow
            return 0.0
        with np.errstate(all="ignore"):
            val = f(np.asarray([sd * z], dtype=float))
        return float(np.asarray(val, dtype=float).reshape(-1)[0]) * w

    from scipy import integrate  # imported on first use: keeps `import rfshift` fast

    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            val, err, _info = integrate.quad(
                integrand, lo, hi, epsabs=1e-15, epsrel=1e-13, limit=400, full_output=True
            )[:3]
        if not (math.isfinite(val) and math.isfinite(err)):
            raise ValueError(
                f"activation {name!r}: {what} is not finite at variance v={v:g} "
                "(the activation returns NaN/inf or grows too fast for a Gaussian input)"
            )
        if err > 1e-8 * max(1.0, abs(val)):
            raise ValueError(
                f"activation {name!r}: {what} could not be integrated accurately at v={v:g} "
                f"(quadrature error estimate {err:.2e}); the Gaussian moment may be infinite"
            )
        total += val
    return total


@lru_cache(maxsize=4096)
def _constants_cached(act: Activation, v: float) -> ActivationConstants:
    if act.closed_form is not None:
        mu0, mu1, mup2 = act.closed_form(v)
        return ActivationConstants(v=v, mu0=float(mu0), mu1=float(mu1), mu_perp2=float(mup2))
    probe = np.linspace(-6.0, 6.0, 25) * math.sqrt(v)
    with np.errstate(all="ignore"):
        out = np.asarray(act.fn(probe), dtype=float)
    if out.shape != probe.shape:
        raise ValueError(
            f"activation {act.name!r} must map an array to an array of the same shape; "
            f"got shape {out.shape} for input shape {probe.shape}"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"activation {act.name!r} returns NaN or inf on ordinary inputs")
    bps = act.breakpoints
    mu0 = _gauss_expect(act.fn, v, bps, "E σ(g)", act.name)
    mu1 = _gauss_expect(lambda x: x * act.fn(x), v, bps, "E g σ(g)", act.name) / v
    mup2 = _gauss_expect(lambda x: (act.fn(x) - mu0 - mu1 * x) ** 2, v, bps, "E σ(g)^2", act.name)
    return ActivationConstants(v=v, mu0=mu0, mu1=mu1, mu_perp2=max(mup2, 0.0))


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


def _erf_cf(v: float) -> tuple[float, float, float]:
    mu1 = 2.0 / math.sqrt(math.pi * (1 + 2 * v))
    second = (2.0 / math.pi) * math.asin(2 * v / (1 + 2 * v))
    return 0.0, mu1, max(second - v * mu1**2, 0.0)


def _linear_cf(v: float) -> tuple[float, float, float]:
    return 0.0, 1.0, 0.0


def _quadratic_cf(v: float) -> tuple[float, float, float]:
    # σ = x²: E σ = v, E g σ = 0, E σ² = 3v²
    return v, 0.0, 2.0 * v * v


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
    "tanh": Activation(np.tanh, "tanh", ()),
    "sigmoid": Activation(_sigmoid, "sigmoid", ()),
    "softplus": Activation(lambda x: np.logaddexp(0.0, x), "softplus", ()),
    "gelu": Activation(_gelu, "gelu", ()),
    "silu": Activation(_silu, "silu", ()),
    "elu": Activation(lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))), "elu", (0.0,)),
    "hardtanh": Activation(lambda x: np.clip(x, -1.0, 1.0), "hardtanh", (-1.0, 1.0)),
    "abs": Activation(np.abs, "abs", (0.0,)),
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
