"""Activation constants (THEORY.md §3) against 30-digit mpmath quadrature, closed forms and errors."""

from __future__ import annotations

import json
import math
import sys
from functools import cache
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from scipy import special

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


_BEND = ("0.125", "0.5", "2", "8", "32", "128")


@cache
def mp_constants(name: str, v: float, fn=None, bps=None) -> tuple[float, float, float]:
    """(μ0, μ1, μ⊥²) at variance v by mpmath tanh-sinh quadrature (30 digits plus 2 per decade of v
    below 1), split at the kinks and at the bend scale ±c/√v; μ⊥² is the mean squared residual."""
    f, b = (fn, bps) if fn is not None else _MP[name]
    with mp.workdps(30 + max(0, int(-2 * math.log10(v)) + 2)):
        sd = mp.sqrt(mp.mpf(v))
        cuts = {mp.mpf(0), *(mp.mpf(x) / sd for x in b)}
        for c in _BEND:
            if mp.mpf(c) / sd < 40:  # beyond, the Gaussian weight is < 1e-347
                cuts |= {mp.mpf(c) / sd, -mp.mpf(c) / sd}
        pts = [-mp.inf, *sorted(cuts), mp.inf]
        dens = 1 / mp.sqrt(2 * mp.pi)

        def expect(h):
            return mp.quad(lambda z: h(sd * z) * mp.exp(-z * z / 2), pts) * dens

        m0 = expect(f)
        m1 = expect(lambda x: x * f(x)) / v
        return float(m0), float(m1), float(expect(lambda x: (f(x) - m0 - m1 * x) ** 2))


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
    """Closed forms (relu, leaky_relu, erf, gelu, hardtanh, abs) vs the engine's own adaptive
    quadrature path (the same function wrapped in an Activation without a closed form). A linear
    callable is refused by that path (its μ⊥² = 0 is below float64 resolution: see below)."""
    for name, fn, bps in (
        ("relu", lambda x: np.maximum(x, 0.0), (0.0,)),
        ("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x), (0.0,)),
        ("erf", None, ()),
        ("gelu", lambda x: x * (1 + special.erf(x / np.sqrt(2))) / 2, ()),
        ("hardtanh", lambda x: np.clip(x, -1.0, 1.0), (-1.0, 1.0)),
        ("abs", np.abs, (0.0,)),
    ):
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


# --- extreme variances (issue 12): every built-in, v = 1e-12 .. 1e12 ---------------------------------

_TABLE = json.loads((Path(__file__).parent / "data" / "activation_reference.json").read_text())


def _errors(row: list[str], c) -> tuple[float, float, float]:
    """Relative errors against a reference row; an exactly-zero reference (a symmetry) is compared
    on the scale of σ, a reference μ⊥² below the normal float64 range absolutely against E σ²."""
    v, m0, m1, mp2 = (float(x) for x in row)
    second = m0 * m0 + v * m1 * m1 + mp2
    e0 = abs(c.mu0 - m0) / abs(m0) if m0 else abs(c.mu0) / math.sqrt(second)
    e1 = abs(c.mu1 - m1) / abs(m1) if m1 else abs(c.mu1) * math.sqrt(v / second)
    e2 = abs(c.mu_perp2 - mp2) / mp2 if mp2 >= sys.float_info.min else abs(c.mu_perp2 - mp2) / second
    return e0, e1, e2


def test_reference_table_covers_every_builtin_and_the_grid():
    assert set(_TABLE["values"]) == set(rf.available_activations())
    for rows in _TABLE["values"].values():
        vs = [float(r[0]) for r in rows]
        assert min(vs) <= 1e-12 and max(vs) >= 1e12 and len(vs) == 49


@pytest.mark.parametrize("name", sorted(_TABLE["values"]))
def test_constants_at_extreme_variances_match_mpmath_table(name):
    """μ0, μ1 to 1e-9 and μ⊥² to 1e-6 relative at 49 variances 1e-12..1e12 against the 25-digit table
    of tests/make_activation_reference.py (independent mpmath quadrature of the residual)."""
    for row in _TABLE["values"][name]:
        c = rf.activation_constants(name, float(row[0]))
        e0, e1, e2 = _errors(row, c)
        assert e0 <= 1e-9 and e1 <= 1e-9 and e2 <= 1e-6, (name, row, c)
        if float(row[3]) >= sys.float_info.min:  # a normal μ⊥² is never returned as 0
            assert c.mu_perp2 > 0


@pytest.mark.parametrize(("name", "v"), [
    ("tanh", 1e-12), ("erf", 1e-10), ("softplus", 1e9),
    pytest.param("elu", 1e-8, marks=pytest.mark.slow), pytest.param("gelu", 1e12, marks=pytest.mark.slow),
    pytest.param("silu", 1e-6, marks=pytest.mark.slow), pytest.param("sigmoid", 1e11, marks=pytest.mark.slow),
])
def test_extreme_variances_against_in_test_mpmath(name, v):
    """A few points recomputed here (not from the committed table)."""
    c = rf.activation_constants(name, v)
    m0, m1, mp2 = mp_constants(name, v)
    for got, want in ((c.mu0, m0), (c.mu1, m1)):
        assert abs(got - want) <= 1e-9 * abs(want) + 1e-20 * math.sqrt(v)
    assert c.mu_perp2 == pytest.approx(mp2, rel=1e-6)


def test_erf_small_variance_is_not_linear():
    """Issue 12: μ⊥²(erf, 1e-10) = (8/3π)v³ (1 + O(v)) = 8.49e-31, not 0; with it the ridgeless engine
    at Σ = 1e-10 I, φ = 0.5 gives error/v = 0.5 at ψ = 0.4 and inf at ψ = φ (as for any μ⊥² > 0)."""
    c = rf.activation_constants("erf", 1e-10)
    assert c.mu_perp2 == pytest.approx(8 / (3 * math.pi) * 1e-30, rel=1e-9)
    spec = rf.Spectrum.isotropic(1e-10)
    kw = dict(phi=0.5, gamma=0.0, noise_var=1e-11, activation="erf")
    assert rf.asymptotics(spec, psi=0.4, **kw).error / 1e-10 == pytest.approx(0.5, rel=1e-9)
    assert rf.asymptotics(spec, psi=0.5, **kw).error == np.inf


def test_hardtanh_tiny_nonlinear_part_is_resolved():
    """μ⊥²(hardtanh, v) ~ 4φ(1/√v) v^{5/2} is a normal float down to v ≈ 7.5e-4 and must not be 0."""
    c = rf.activation_constants("hardtanh", 1e-3)
    assert 1e-226 < c.mu_perp2 < 1e-224
    assert rf.activation_constants("hardtanh", 7.6e-4).mu_perp2 > 0


def test_symmetry_values_are_exact():
    for v in (1e-9, 1.0, 1e9):
        for name in ("tanh", "erf", "hardtanh"):
            assert rf.activation_constants(name, v).mu0 == 0.0
        for name in ("softplus", "gelu", "silu", "relu"):
            assert rf.activation_constants(name, v).mu1 == 0.5
        assert rf.activation_constants("sigmoid", v).mu0 == 0.5
        assert rf.activation_constants("abs", v).mu1 == 0.0


@pytest.mark.parametrize("v", [1e-6, 1e10])
def test_custom_activation_resolves_bends_and_small_variances(v):
    """A user tanh (no closed form): split at the bend scale it matches the built-in at large v; at
    small v its float64 values still resolve μ⊥² (relative uncertainty < 1e-6 at v = 1e-6)."""
    mine = rf.Activation(np.tanh, name=f"mytanh{v}", breakpoints=()).constants(v)
    ref = rf.activation_constants("tanh", v)
    assert mine.mu1 == pytest.approx(ref.mu1, rel=1e-9)
    assert mine.mu_perp2 == pytest.approx(ref.mu_perp2, rel=1e-6)


def test_custom_activation_below_float64_resolution_is_refused():
    """At v = 1e-12 a float64 tanh is linear to within rounding (μ⊥² ≈ 7e-37 against values ~1e-6):
    a clear error rather than a number with no correct digits; likewise an exactly linear callable."""
    with pytest.raises(ValueError, match="linear to within float64 rounding"):
        rf.Activation(np.tanh, name="tanh-small", breakpoints=()).constants(1e-12)
    with pytest.raises(ValueError, match=r"'twice'.*linear to within float64 rounding"):
        rf.Activation(lambda x: 2.0 * x, name="twice", breakpoints=()).constants(1.0)
    with pytest.warns(RuntimeWarning, match="resolved only to"):
        rf.Activation(np.tanh, name="tanh-small2", breakpoints=()).constants(1e-10)
