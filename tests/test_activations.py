"""Activation constants (THEORY.md §3) against 30-digit mpmath quadrature, closed forms and errors."""

from __future__ import annotations

import math
from functools import cache

import mpmath as mp
import numpy as np
import pytest

import rfshift as rf
from rfshift.activations import get_activation

# mpmath versions of the activations (independent of the package's NumPy callables)
_MP = {
    "relu": (lambda x: x if x > 0 else mp.mpf(0), (0.0,)),
    "leaky_relu": (lambda x: x if x > 0 else mp.mpf("0.01") * x, (0.0,)),
    "erf": (mp.erf, ()),
    "tanh": (mp.tanh, ()),
    "sigmoid": (lambda x: 1 / (1 + mp.exp(-x)), ()),
    "softplus": (lambda x: mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x)), ()),
    "gelu": (lambda x: x * (1 + mp.erf(x / mp.sqrt(2))) / 2, ()),
    "silu": (lambda x: x / (1 + mp.exp(-x)), ()),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), (0.0,)),
    "hardtanh": (lambda x: max(mp.mpf(-1), min(mp.mpf(1), x)), (-1.0, 1.0)),
    "abs": (lambda x: abs(x), (0.0,)),
    "linear": (lambda x: x, ()),
}


@cache
def mp_constants(name: str, v: float, fn=None, bps=None) -> tuple[float, float, float]:
    """(μ0, μ1, μ⊥²) at variance v by mpmath tanh-sinh quadrature split at the kinks (30 digits)."""
    f, b = (fn, bps) if fn is not None else _MP[name]
    with mp.workdps(30):
        sd = mp.sqrt(mp.mpf(v))
        pts = [-mp.inf, *sorted(mp.mpf(x) / sd for x in b), mp.inf]
        dens = 1 / mp.sqrt(2 * mp.pi)

        def expect(h):
            return mp.quad(lambda z: h(sd * z) * mp.exp(-z * z / 2), pts) * dens

        m0 = expect(f)
        m1 = expect(lambda x: x * f(x)) / v
        m2 = expect(lambda x: f(x) ** 2)
        return float(m0), float(m1), float(m2 - m0**2 - v * m1**2)


@pytest.mark.parametrize("name", sorted(_MP))
@pytest.mark.parametrize("v", [0.5, 2.0])
def test_constants_match_mpmath(name, v):
    c = rf.activation_constants(name, v)
    m0, m1, mp2 = mp_constants(name, v)
    second = m0**2 + v * m1**2 + mp2
    assert c.v == v
    assert c.mu0 == pytest.approx(m0, abs=1e-12)
    assert c.mu1 == pytest.approx(m1, abs=1e-12)
    assert c.mu_perp2 == pytest.approx(mp2, abs=1e-12 * max(1.0, second))
    assert c.second_moment == pytest.approx(second, abs=1e-12 * max(1.0, second))


@pytest.mark.parametrize("v", [0.3, 1.0, 4.0])
def test_closed_forms_match_adaptive_quadrature(v):
    """Closed forms (relu, leaky_relu, erf, linear) vs the engine's own adaptive quadrature path
    (the same function wrapped in an Activation without a closed form)."""
    for name, fn, bps in (
        ("relu", lambda x: np.maximum(x, 0.0), (0.0,)),
        ("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x), (0.0,)),
        ("erf", None, ()),
        ("linear", lambda x: 1.0 * x, ()),
    ):
        from scipy import special

        fn = special.erf if fn is None else fn
        closed = rf.activation_constants(name, v)
        quad = rf.Activation(fn, name=f"{name}-quad", breakpoints=bps).constants(v)
        for a, b in ((closed.mu0, quad.mu0), (closed.mu1, quad.mu1), (closed.mu_perp2, quad.mu_perp2)):
            assert a == pytest.approx(b, abs=1e-12 * max(1.0, v))


def test_relu_closed_form_values():
    """THEORY.md §3: ReLU μ0 = √(v/2π), μ1 = 1/2, ω = v(1 − 2/π)·... i.e. μ⊥² = v(1/4 − 1/(2π))."""
    for v in (0.1, 1.0, 3.0):
        c = rf.activation_constants("relu", v)
        assert c.mu0 == pytest.approx(math.sqrt(v / (2 * math.pi)), rel=1e-15)
        assert c.mu1 == 0.5
        assert c.mu_perp2 / c.mu1**2 == pytest.approx(v * (1 - 2 / math.pi), rel=1e-14)


def test_gauss_hermite_is_not_good_enough_for_relu():
    """Why the closed form/adaptive quadrature matter: 200-node Gauss–Hermite misses ReLU's μ⊥² by
    far more than 1e-12, while the engine matches the 30-digit value."""
    x, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / math.sqrt(2 * math.pi)
    f = np.maximum(x, 0.0)
    gh = f**2 @ w - (f @ w) ** 2 - (x * f @ w) ** 2
    exact = mp_constants("relu", 1.0)[2]
    assert abs(gh - exact) > 1e-6
    assert rf.activation_constants("relu", 1.0).mu_perp2 == pytest.approx(exact, abs=1e-14)


@pytest.mark.parametrize("shift", [0.3, -0.7])
def test_custom_activation_with_breakpoint(shift):
    fn = rf.Activation(lambda x: np.maximum(x - shift, 0.0), name="shifted", breakpoints=(shift,))
    ref = mp_constants("shifted", 1.3, fn=lambda x: x - shift if x > shift else mp.mpf(0),
                       bps=(shift,))
    c = fn.constants(1.3)
    np.testing.assert_allclose([c.mu0, c.mu1, c.mu_perp2], ref, rtol=0, atol=1e-12)
    res = rf.asymptotics(rf.Spectrum([1.3], [1.3]), phi=0.5, psi=0.5, gamma=0.1, activation=fn)
    assert np.isfinite(res.error) and res.activation is fn


def test_custom_closed_form_is_used():
    calls = []

    def cf(v):
        calls.append(v)
        return 0.1, 0.7, 0.2 * v

    act = rf.Activation(np.tanh, name="fake", breakpoints=(), closed_form=cf)
    c = act.constants(1.7)
    assert (c.mu0, c.mu1, c.mu_perp2) == (0.1, 0.7, pytest.approx(0.34))
    assert calls == [1.7]


def test_registry_and_aliases():
    names = rf.available_activations()
    for n in ("relu", "leaky_relu", "erf", "linear", "quadratic", "tanh", "sigmoid", "softplus", "gelu",
              "silu", "elu", "hardtanh", "abs"):
        assert n in names
    assert get_activation("identity") is get_activation("linear")
    assert get_activation("Swish") is get_activation("silu")
    assert get_activation(" ReLU ") is get_activation("relu")
    act = rf.Activation(np.tanh)
    assert get_activation(act) is act


def test_quadratic_constants_and_rejection():
    c = rf.activation_constants("quadratic", 2.0)
    assert (c.mu0, c.mu1, c.mu_perp2) == (2.0, 0.0, 8.0)
    with pytest.raises(ValueError, match="mu1"):
        rf.asymptotics(rf.Spectrum.isotropic(), phi=1.0, psi=1.0, gamma=0.1, activation="quadratic")
    # an even custom activation (μ1 = 0 by quadrature) is rejected too
    with pytest.raises(ValueError, match="mu1"):
        rf.asymptotics(rf.Spectrum.isotropic(), phi=1.0, psi=1.0, gamma=0.1,
                       activation=rf.Activation(np.cos, name="cos", breakpoints=()))


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'sinc'.*relu"):
        get_activation("sinc")
    with pytest.raises(ValueError):
        rf.asymptotics(rf.Spectrum.isotropic(), phi=1.0, psi=1.0, gamma=0.1, activation="")


@pytest.mark.parametrize("bad", [None, 3, 1.5, ["relu"], np.tanh])
def test_activation_wrong_type(bad):
    with pytest.raises(TypeError):
        get_activation(bad)


def test_activation_construction_errors():
    with pytest.raises(TypeError, match="callable"):
        rf.Activation(3)
    with pytest.raises(ValueError, match="breakpoints"):
        rf.Activation(np.tanh, breakpoints=(np.inf,))
    with pytest.raises(ValueError, match="v must be"):
        rf.activation_constants("tanh", 0.0)
    with pytest.raises(ValueError, match="v must be"):
        rf.activation_constants("relu", -1.0)
    with pytest.raises(ValueError):
        rf.activation_constants("tanh", float("nan"))


def test_activation_returning_nan():
    act = rf.Activation(lambda x: np.log(x), name="log", breakpoints=())
    with pytest.raises(ValueError, match="NaN"):
        act.constants(1.0)
    with pytest.raises(ValueError, match="NaN"):
        rf.asymptotics(rf.Spectrum.isotropic(), phi=1.0, psi=1.0, gamma=0.1, activation=act)


@pytest.mark.parametrize("fn", [lambda x: np.exp(x**2), lambda x: np.exp(0.3 * x**2) * x])
def test_activation_with_infinite_second_moment(fn):
    """E σ(g)² = ∞ for g ~ N(0, 1): a clear error, never a number."""
    act = rf.Activation(fn, name="explosive", breakpoints=())
    with pytest.raises(ValueError, match="explosive"):
        act.constants(1.0)
    with pytest.raises(ValueError):
        rf.asymptotics(rf.Spectrum.isotropic(), phi=1.0, psi=1.0, gamma=0.1, activation=act)


def test_activation_wrong_output_shape():
    act = rf.Activation(lambda x: float(np.sum(x)), name="scalar", breakpoints=())
    with pytest.raises(ValueError, match="same shape"):
        act.constants(1.0)




@pytest.mark.parametrize("v", [1.0, 4.0])
def test_exponential_activation(v):
    """σ = exp: μ0 = e^{v/2}, μ1 = e^{v/2}, E σ² = e^{2v} (all finite)."""
    c = rf.Activation(np.exp, name="exp", breakpoints=()).constants(v)
    assert c.mu0 == pytest.approx(math.exp(v / 2), rel=1e-10)
    assert c.mu1 == pytest.approx(math.exp(v / 2), rel=1e-10)
    assert c.second_moment == pytest.approx(math.exp(2 * v), rel=1e-10)


def test_heavy_but_finite_tail_is_accurate():
    """σ(x) = exp(x²/8): E σ² = E exp(g²/4) = √2 at v = 1 (finite), μ1 = 0 (even)."""
    act = rf.Activation(lambda x: np.exp(x**2 / 8), name="gauss-bump", breakpoints=())
    c = act.constants(1.0)
    assert c.mu0 == pytest.approx(1 / math.sqrt(1 - 0.25), rel=1e-10)
    assert c.second_moment == pytest.approx(math.sqrt(2.0), rel=1e-10)
    assert abs(c.mu1) < 1e-12


def test_activation_symmetries_in_the_engine():
    """Exact symmetries of the finite model that the limit must share:
    −σ gives the same predictor; σ + c only adds the μ0 mode (which does not enter the limit);
    c·σ with ridge c²γ equals σ with ridge γ (K scales by c², Fᵀf by c²)."""
    spec = rf.Spectrum([2.0, 1.0, 0.25], [0.5, 1.0, 1.5], [0.25, 0.5, 0.25])
    kw = dict(phi=np.array([0.5, 2.0, 0.8]), psi=np.array([0.3, 0.7, 1.6]), noise_var=0.2)
    base = rf.asymptotics(spec, gamma=np.array([0.05, 0.0, 0.1]), activation="tanh", **kw)
    neg = rf.asymptotics(spec, gamma=np.array([0.05, 0.0, 0.1]),
                         activation=rf.Activation(lambda x: -np.tanh(x), name="neg", breakpoints=()), **kw)
    shifted = rf.asymptotics(spec, gamma=np.array([0.05, 0.0, 0.1]),
                             activation=rf.Activation(lambda x: np.tanh(x) + 0.7, name="sh", breakpoints=()),
                             **kw)
    c = 3.0
    act_c = rf.Activation(lambda x: c * np.tanh(x), name="sc", breakpoints=())
    scaled = rf.asymptotics(spec, gamma=c**2 * np.array([0.05, 0.0, 0.1]), activation=act_c, **kw)
    for other in (neg, shifted, scaled):
        for f in ("error", "bias", "variance", "error_id"):
            np.testing.assert_allclose(getattr(other, f), getattr(base, f), rtol=1e-10)
