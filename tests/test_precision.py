"""``rf.asymptotics(..., precision=N)`` re-solves a point in mpmath and certifies the float64 engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rfshift as rf


@pytest.mark.parametrize("ratio", [1 + 1e-6, 1 - 1e-6, 2.0])
def test_precision_path_confirms_float64_near_peak(ratio: float) -> None:
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    kw = dict(phi=0.5, psi=0.5 * ratio, gamma=1e-9, noise_var=0.25, activation="relu")
    hp = rf.asymptotics(spec, precision=50, **kw)
    fp = rf.asymptotics(spec, **kw)
    assert hp.precision == 50
    assert float(fp.error) == pytest.approx(float(hp.error), rel=1e-10)
    assert float(fp.error_id) == pytest.approx(float(hp.error_id), rel=1e-10)


def test_precision_needs_a_scalar_point() -> None:
    with pytest.raises(ValueError, match="psi must be a scalar"):
        rf.asymptotics(rf.Spectrum.isotropic(), phi=0.5, psi=[0.1, 0.2], gamma=0.1, precision=30)


# --- issue 12: the certificate at every variance, for every built-in ---------------------------------


def test_precision_path_resolves_the_bend_of_tanh() -> None:
    """s = 100: tanh bends at |z| ~ 0.1 of the standard-normal variable; unsplit tanh-sinh quadrature
    gave 56.6107. Right value 56.7242 (the float64 engine's)."""
    spec = rf.Spectrum([150.0, 50.0], [50.0, 150.0])
    kw = dict(phi=0.5, psi=0.25, gamma=1e-2, noise_var=10.0, activation="tanh")
    hp = rf.asymptotics(spec, precision=50, **kw)
    fp = rf.asymptotics(spec, **kw)
    assert float(hp.error) == pytest.approx(56.7242, abs=5e-5)
    assert float(fp.error) == pytest.approx(float(hp.error), rel=1e-12)
    assert float(fp.error_id) == pytest.approx(float(hp.error_id), rel=1e-12)


_CLOSED = ["relu", "leaky_relu", "erf", "linear", "gelu", "hardtanh", "elu"]  # closed forms in mpmath
_QUAD = ["tanh", "sigmoid", "softplus", "silu"]  # mpmath quadrature at the bend scale
_VARIANCES = [1e-12, 1e-6, 1.0, 1e6, 1e15]


def _compare(name: str, s: float, gamma_rel: float) -> None:
    """precision=30 against float64 at training variance s (Σ* ≠ Σ with tr Σ* = tr Σ), ridge
    γ = gamma_rel·E σ(g)² (the kernel's scale) and noise 0.1·s (the target's)."""
    spec = rf.Spectrum([1.6 * s, 0.4 * s], [0.4 * s, 1.6 * s])
    gamma = gamma_rel * rf.activation_constants(name, spec.s).second_moment
    kw = dict(phi=0.5, psi=0.25, gamma=gamma, noise_var=0.1 * s, activation=name)
    fp = rf.asymptotics(spec, **kw)
    hp = rf.asymptotics(spec, precision=30, **kw)
    for f in ("error", "error_id", "bias", "variance"):
        assert float(getattr(fp, f)) == pytest.approx(float(getattr(hp, f)), rel=1e-9), (name, s, f)


@pytest.mark.parametrize("s", _VARIANCES)
@pytest.mark.parametrize("name", _CLOSED)
@pytest.mark.parametrize("gamma_rel", [1e-2, 0.0])
def test_precision_matches_float64_closed_forms(name: str, s: float, gamma_rel: float) -> None:
    if name == "hardtanh" and s < 1e-3 and gamma_rel == 0:
        # float64 μ⊥² underflows to 0 here: the engine refuses (test_float64_refuses_an_underflowed_...)
        with pytest.raises(ValueError, match="mu_perp2"):
            _compare(name, s, gamma_rel)
        return
    if name == "linear" and gamma_rel == 0:
        pytest.skip("κ = ∞ (ridgeless linear, φ > ψ): asymptotics_mp does not evaluate that limit")
    _compare(name, s, gamma_rel)


@pytest.mark.parametrize(("name", "s"), [("tanh", 1e-12), ("tanh", 5.5e15), ("sigmoid", 1e6)])
def test_precision_matches_float64_quadrature_quick(name: str, s: float) -> None:
    _compare(name, s, 1e-2)


@pytest.mark.slow
@pytest.mark.parametrize("s", _VARIANCES)
@pytest.mark.parametrize("name", _QUAD)
def test_precision_matches_float64_quadrature(name: str, s: float) -> None:
    _compare(name, s, 1e-2)
    _compare(name, s, 0.0)


def test_precision_accepts_tanh_at_any_scale() -> None:
    """Acceptance of an activation does not depend on the input scale (μ1(s) ~ 0.8/√s for tanh)."""
    spec = rf.Spectrum.isotropic(5.5e15)
    kw = dict(phi=0.5, psi=0.25, gamma=1e-2, noise_var=0.1, activation="tanh")
    assert float(rf.asymptotics(spec, precision=30, **kw).error) == pytest.approx(
        float(rf.asymptotics(spec, **kw).error), rel=1e-9)
    with pytest.raises(ValueError, match="mu1"):  # an even activation is refused at every scale
        rf.asymptotics(spec, precision=30, **{**kw, "activation": "abs"})


def test_precision_keeps_an_underflowed_mu_perp2() -> None:
    """hardtanh at v = 1e-12: μ⊥² ~ e^{-5e11} is 0 in float64 but positive in mpmath, so the certificate
    gives the non-linear ridgeless limit (error/v = 0.5 at ψ = 0.4, inf at ψ = φ, as erf at small v)
    where the float64 engine, seeing μ⊥² = 0, gives the linear one (0.1)."""
    spec = rf.Spectrum.isotropic(1e-12)
    kw = dict(phi=0.5, gamma=0.0, noise_var=1e-13, activation="hardtanh")
    ridgeless = float(rf.asymptotics(spec, psi=0.4, precision=30, **kw).error)
    assert ridgeless / 1e-12 == pytest.approx(0.5, rel=1e-12)
    assert rf.asymptotics(spec, psi=0.5, precision=30, **kw).error == float("inf")


def test_float64_refuses_an_underflowed_mu_perp2_ridgeless() -> None:
    """hardtanh at v = 1e-12: μ⊥² underflows float64. Ridgeless, the engine would otherwise give the
    linear limit (error/v = 0.1 at ψ = 0.4) instead of the true μ⊥² → 0⁺ one (0.5, see above): it
    refuses and points to precision=; with a ridge the μ⊥² term is negligible and it answers."""
    spec = rf.Spectrum.isotropic(1e-12)
    kw = dict(phi=0.5, noise_var=1e-13, activation="hardtanh")
    with pytest.raises(ValueError, match=r"mu_perp2.*precision=30"):
        rf.asymptotics(spec, psi=0.4, gamma=0.0, **kw)
    with pytest.raises(ValueError, match="mu_perp2"):
        rf.asymptotics(spec, psi=[0.4, 0.2], gamma=[0.0, 1e-3], **kw)
    ridge = float(rf.asymptotics(spec, psi=0.4, gamma=1e-14, **kw).error)
    assert ridge == pytest.approx(float(rf.asymptotics(spec, psi=0.4, gamma=1e-14, precision=30, **kw).error),
                                  rel=1e-9)


def test_underflowed_mu_perp2_kernel_limit_is_the_linear_one() -> None:
    """At ψ = 0, ω = μ⊥²/ρ acts exactly like the ridge γ/ρ, so the μ⊥² → 0⁺ ridgeless limit is the linear
    one: the float64 engine answers there and agrees with the mpmath certificate."""
    spec = rf.Spectrum([0.00023, 1.1e-05, 0.0006], [0.00023, 1.1e-05, 0.0006])
    kw = dict(phi=0.024, psi=0.0, gamma=0.0, noise_var=1e-4)
    f64 = float(rf.asymptotics(spec, activation="hardtanh", **kw).error)
    assert f64 == pytest.approx(float(rf.asymptotics(spec, activation="hardtanh", precision=30, **kw).error),
                                rel=1e-12)


@pytest.mark.parametrize(("phi", "psi"), [(0.0018, 0.0), (0.63, 0.23), (0.0047, 0.00025)])
def test_ridgeless_root_just_above_the_mu_perp2_underflow(phi: float, psi: float) -> None:
    """hardtanh at s = 1.4058e-3: μ⊥² = 4.0e-162 is a normal float64, so the engine answers at γ = 0, with
    k_x ~ 1e-164. The slope of the γ = 0 residual used to be formed from products of size k_x² that are
    subnormal (den² ~ 1e-323, 8% off), so the Newton steps accepted roots 1.5e-8, 2.2e-9, 3.9e-9 off and
    errors 1.5e-8, 1.4e-9, 3.3e-9 off (solver sweep, docs/validation.md §4). Now both agree with the mpmath
    path to ≤ 1e-13 (measured ≤ 9e-14 for k_x, ≤ 7e-15 for the errors), one point and arrays."""
    spec = rf.Spectrum.isotropic(0.0014058)
    assert 1e-162 < rf.activation_constants("hardtanh", spec.s).mu_perp2 < 1e-161
    kw = dict(phi=phi, psi=psi, gamma=0.0, noise_var=1e-4, activation="hardtanh")
    ref = rf.asymptotics(spec, precision=30, **kw)
    one = rf.asymptotics(spec, **kw)
    arr = rf.asymptotics(spec, **{**kw, "phi": np.full(100, phi)})
    assert float(ref.k_x) < 1e-160
    for res in (one, arr):
        assert np.all(np.abs(np.asarray(res.k_x) / float(ref.k_x) - 1.0) < 1e-12)
        for f in ("error", "variance", "error_id"):
            assert np.all(np.abs(np.asarray(getattr(res, f)) / float(getattr(ref, f)) - 1.0) < 1e-12), f


def test_float64_refuses_a_ridgeless_root_below_its_range() -> None:
    """hardtanh at s = 7.33e-4: μ⊥² = 1.3e-304 is a normal float64, but at γ = 0 with small φ the root
    k_x ~ φμ⊥² (2.7e-306 at φ = 0.01, ψ = 0.02, from precision=30) lies below e^-700, the solver's range:
    the engine raises the documented ValueError (it used to raise ConvergenceError "did not converge"),
    for ψ > 0 and ψ = 0 alike; where the root is in range it answers and agrees with precision=30."""
    spec = rf.Spectrum.isotropic(7.33e-4)
    assert 1e-304 < rf.activation_constants("hardtanh", spec.s).mu_perp2 < 1e-303
    kw = dict(gamma=0.0, noise_var=1e-4, activation="hardtanh")
    for phi, psi in ((0.01, 0.02), (0.01, 0.0)):
        assert float(rf.asymptotics(spec, phi=phi, psi=psi, precision=30, **kw).k_x) < 1e-305
        with pytest.raises(ValueError, match=r"mu_perp2.*below e\^-700.*precision=30"):
            rf.asymptotics(spec, phi=phi, psi=psi, **kw)
        with pytest.raises(ValueError, match=r"mu_perp2.*below e\^-700.*precision=30"):
            rf.asymptotics(spec, phi=[0.5, phi], psi=[0.25, psi], **kw)
    ref = rf.asymptotics(spec, phi=0.5, psi=0.25, precision=30, **kw)
    assert 1e-304 < float(ref.k_x) < 1e-303
    res = rf.asymptotics(spec, phi=0.5, psi=0.25, **kw)
    assert float(res.k_x) == pytest.approx(float(ref.k_x), rel=1e-12)
    assert float(res.error) == pytest.approx(float(ref.error), rel=1e-12)


def test_float64_refuses_a_ridgeless_root_fixed_by_rounding_at_a_rank_threshold() -> None:
    """γ = 0 at ψ·μ(λ>0) = 1 (n1 = n0, all λ > 0) with μ⊥² tiny (hardtanh, s = 2e-3: μ⊥² = 7.5e-116):
    q − ⟨q⟩(k) = ⟨k/(λ + k)⟩ is 6e-57 at the true root k_b = √(μ⊥² λ)/μ1 = 1.227e-59, far below the
    rounding of ⟨q⟩, and float64 returned k_x = 1.2e-31 (with λ* = 8λ, s = 1.1e-3: an OOD error 0.13
    against 1.4e69 from precision=100). The engine now refuses it and points to precision=30, which
    has the digits (the certificate forms q − a1(k) from the exact q − μ(λ>0), docs/theory.md §17)."""
    spec = rf.Spectrum.isotropic(2e-3)
    kw = dict(phi=0.5, psi=1.0, gamma=0.0, noise_var=1e-4, activation="hardtanh")
    c = rf.activation_constants("hardtanh", 2e-3)
    assert float(rf.asymptotics(spec, precision=30, **kw).k_x) == pytest.approx(
        math.sqrt(c.mu_perp2 * 2e-3) / c.mu1, rel=1e-12)
    for k in ({}, {"phi": [0.5, 0.5], "psi": [1.0, 0.5]}):
        with pytest.raises(ValueError, match=r"not resolved in float64.*threshold.*gamma > 0.*precision=30"):
            rf.asymptotics(spec, **{**kw, **k})
    # one ulp away from the threshold in ψ is just as unresolved; 1e-3 away it is resolved and right
    with pytest.raises(ValueError, match="rank threshold"):
        rf.asymptotics(spec, **{**kw, "psi": math.nextafter(1.0, 2.0)})
    ok = dict(kw, psi=1.001)
    assert float(rf.asymptotics(spec, **ok).k_x) == pytest.approx(
        float(rf.asymptotics(spec, precision=30, **ok).k_x), rel=1e-12)


# --- the certificate itself at a rank threshold (docs/theory.md §17, "The certificate at a rank threshold")


def _rel(a: object, b: object) -> float:
    import mpmath as mp

    with mp.workdps(60):
        return float(abs(mp.mpf(a) / mp.mpf(b) - 1))


def test_precision_resolves_a_rank_threshold_with_tiny_mu_perp2() -> None:
    """hardtanh, s = 2e-3 (μ⊥² = 7.5e-116), γ = 0, φ = 0.5, ψ = 1 = μ(λ > 0): q − a1(k) = ⟨k/(λ + k)⟩ is
    6e-57 at the root. Formed as q − a1 it was rounding: precision=30 gave k_x = 2.6e-54 and precision=15
    1.5e-39 for the closed form √(μ⊥²λ)/μ1 = 1.227e-59. Now formed from the exact rational q − μ(λ>0)
    plus Σ p k/(λ + k): every precision has it (float64 μ⊥² is good to 1.3e-13, hence rel=1e-12)."""
    spec = rf.Spectrum.isotropic(2e-3)
    kw = dict(phi=0.5, psi=1.0, gamma=0.0, noise_var=1e-4, activation="hardtanh")
    c = rf.activation_constants("hardtanh", 2e-3)
    ref = rf.asymptotics(spec, precision=100, **kw)
    for p in (15, 30):
        res = rf.asymptotics(spec, precision=p, **kw)
        assert float(res.k_x) == pytest.approx(math.sqrt(c.mu_perp2 * 2e-3) / c.mu1, rel=1e-12)
        for f in ("k_x", "error", "variance", "error_id"):
            assert _rel(getattr(res, f), getattr(ref, f)) < 10.0 ** (2 - p), (p, f)


def test_precision_resolves_an_ood_error_at_a_rank_threshold() -> None:
    """One atom λ = 1.1e-3 (hardtanh μ⊥² = 2.5e-205), λ* = 8λ, γ = 0, φ = 0.5, ψ = 1: the OOD error is
    9.1197e70 (precision=100 and 150 agreed with the old code too). precision=30 gave 2.1e21 and
    precision=60 2.7e51, from rounding-set roots k_x = 1.3e-54, 1.0e-84 (true 1.66e-104)."""
    s = 1.1e-3
    spec = rf.Spectrum([s], [8 * s])
    kw = dict(phi=0.5, psi=1.0, gamma=0.0, noise_var=1e-4, activation="hardtanh")
    c = rf.activation_constants("hardtanh", s)
    ref = rf.asymptotics(spec, precision=100, **kw)
    assert 9.1e70 < float(ref.error) < 9.2e70
    res = rf.asymptotics(spec, precision=30, **kw)
    assert float(res.k_x) == pytest.approx(math.sqrt(c.mu_perp2 * s) / c.mu1, rel=1e-12)
    for f in ("k_x", "error", "bias", "variance", "error_id"):
        assert _rel(getattr(res, f), getattr(ref, f)) < 1e-28, f


def test_precision_resolves_the_peak_with_a_tiny_ridge() -> None:
    """At ψ = φ with γ = 1e-100 the factors t = t̄ = √(φγ/(ρk)) ~ 3e-50 were formed as differences of O(1)
    numbers: precision=30 gave error 1.69e42 for 1.0317e49 (precision=60 and up). Now t/φ and t̄ are the
    positive root of XY = γ/(ρk), Y − ψX = 1 − ψ/φ, free of cancellation."""
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    kw = dict(phi=0.5, psi=0.5, gamma="1e-100", noise_var=0.25, activation="relu")
    res = rf.asymptotics(spec, precision=30, **kw)
    ref = rf.asymptotics(spec, precision=120, **kw)
    for f in ("error", "error_id", "variance", "t", "t_bar", "k_x"):
        assert _rel(getattr(res, f), getattr(ref, f)) < 1e-28, f
    assert 1.03e49 < float(res.error) < 1.04e49


def test_precision_raises_its_working_digits_at_a_near_null_eigenvalue() -> None:
    """Linear features, Σ = diag(1, ε) with equal weights, φ = 2, ψ = 1, γ = 0: the ε atom acts as a rank
    threshold and k_x = √ε exactly (k/(1+k) + k/(ε+k) = 1). ε = 1e-80: at the default working digits
    (precision + 20) the root is only good to 3e-12; the rounding estimate asks for more digits and the
    result has all 30. ε = 1e-300 needs more than 4·30 + 20 working digits: ValueError naming precision,
    and the value it suggests works. (The float64 engine returns k_x = 6.2e-29 for ε = 1e-80, unrefused.)"""
    import mpmath as mp

    kw = dict(phi=2.0, psi=1.0, gamma=0.0, noise_var=0.25, activation="linear")
    eps = 1e-80
    res = rf.asymptotics(rf.Spectrum([1.0, eps], [1.0, eps]), precision=30, **kw)
    with mp.workdps(60):
        assert _rel(res.k_x, mp.sqrt(mp.mpf(eps))) < 1e-29
    spec = rf.Spectrum([1.0, 1e-300], [1.0, 1e-300])
    with pytest.raises(ValueError, match=r"precision=30: .*ill-conditioned.*pass precision=(\d+)") as ei:
        rf.asymptotics(spec, precision=30, **kw)
    import re

    p = int(re.search(r"pass precision=(\d+)", str(ei.value)).group(1))  # type: ignore[union-attr]
    with mp.workdps(60):
        assert _rel(rf.asymptotics(spec, precision=p, **kw).k_x, mp.sqrt(mp.mpf(1e-300))) < 10.0 ** (1 - p)


def test_float64_refuses_a_ridgeless_root_fixed_by_rounding_at_a_near_null_eigenvalue():
    """A near-null eigenvalue acts as a rank threshold: linear features, Σ = diag(1, ε), φ = 2, ψ = 1,
    γ = 0 (root k_x ≈ √ε). float64 returned k_x off by 8e-4 (ε = 1e-30) or by 12 orders (ε = 1e-80)
    without a word; now it refuses where rounding sets the root and answers (to 1e-9) where it does not,
    in the one-point and the array path alike."""
    kw = dict(phi=2.0, psi=1.0, gamma=0.0, activation="linear")
    for eps in (1e-20, 1e-30, 1e-80):
        spec = rf.Spectrum([1.0, eps], [1.0, eps])
        for phi in (2.0, np.array([2.0, 2.0])):
            with pytest.raises(ValueError, match="not resolved in float64.*precision=30"):
                rf.asymptotics(spec, **{**kw, "phi": phi})
    spec = rf.Spectrum([1.0, 1e-8], [1.0, 1e-8])
    ref = rf.asymptotics(spec, precision=30, **kw)
    got = rf.asymptotics(spec, **kw)
    for f in ("kappa", "error", "variance", "error_id"):
        assert float(getattr(got, f)) == pytest.approx(float(getattr(ref, f)), rel=1e-9), f
