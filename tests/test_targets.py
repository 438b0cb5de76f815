"""Structured and nonlinear targets (docs/theory.md, "Structured and nonlinear targets").

* b ≡ 1 and ``target_power=None`` reproduce the isotropic numbers (THEORY.md §10 R1–R6, random
  spectra) to 1e-13;
* linear features at ψ = 0 equal the linear-ridge deterministic equivalent with an anisotropic
  target under shift, written out here independently (own root finder), to 1e-10;
* identities: homogeneity in (b, σ², σ_g²), the nonlinear part as X-shared label noise, a linear
  teacher is no teacher, a tanh teacher is (c1² b, μ⊥²) when c1* = c1;
* bad input: clear errors naming the argument;
* Monte Carlo (tests/_target_sim.py, exact averages over the test point and ε, and over β for
  linear targets) on eight configurations, Richardson-extrapolated over n0 = 100, 200 like
  tests/test_engine.py: |z| <= 3.5.

Run ``python tests/test_targets.py`` to print the Monte Carlo table (docs/validation.md).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from scipy import optimize

import rfshift as rf
from rfshift.shifts import TARGETS, aligned_target, make_target, source_target

# THEORY.md §10 (λ, λ*, p, φ, ψ, γ, σ², activation)
R_CASES = [
    ([1], [1], [1], 0.5, 0.25, 0.1, 0.1, "relu"),
    ([1.5, 0.5], [0.5, 1.5], [0.5, 0.5], 0.5, 0.25, 0.01, 0.25, "relu"),
    ([1], [2], [1], 0.8, 0.4, 0.05, 0.0, "erf"),
    ([2, 1, 0.25], [0.5, 1, 1.5], [0.25, 0.5, 0.25], 1.0, 0.3, 0.0, 0.2, "tanh"),
    ([3, 0.5], [1, 2], [0.2, 0.8], 0.5, 1.0, 0.0, 0.1, "relu"),
    ([2, 0.5], [1, 1], [0.5, 0.5], 0.7, 0.3, 0.1, 0.2, "linear"),
]
FIELDS = ("error", "bias", "variance", "error_id", "bias_id", "variance_id", "k_x")
TERMS = ("w", "x", "eps", "wx", "w_eps", "x_eps", "wx_eps")


def _close(a, b, rtol, atol=0.0):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    ok = both_inf | (np.abs(a - b) <= rtol * np.abs(b) + atol)
    return bool(np.all(ok))


def _same(r0, r1, rtol):
    for f in FIELDS:
        assert _close(getattr(r1, f), getattr(r0, f), rtol), f
    for side in ("variance_terms", "variance_terms_id"):
        for t in TERMS:
            assert _close(getattr(getattr(r1, side), t), getattr(getattr(r0, side), t), rtol,
                          atol=1e-15), (side, t)


@pytest.mark.parametrize("case", R_CASES, ids=[f"R{i + 1}" for i in range(len(R_CASES))])
def test_unit_target_reproduces_isotropic(case):
    lam, ls, p, phi, psi, gamma, nv, act = case
    kw = dict(phi=phi, psi=psi, gamma=gamma, noise_var=nv, activation=act)
    r0 = rf.asymptotics(rf.Spectrum(lam, ls, p), **kw)
    r1 = rf.asymptotics(rf.Spectrum(lam, ls, p, target_power=np.ones(len(lam))), **kw)
    r2 = rf.asymptotics(rf.Spectrum(lam, ls, p), nonlinear_var=0.0, nonlinear_var_test=None,
                        teacher=None, **kw)
    _same(r0, r1, 1e-13)
    _same(r0, r2, 0.0)
    # b ≡ 1 + 1e-15 goes through the b-weighted columns: same numbers to 1e-13
    r3 = rf.asymptotics(rf.Spectrum(lam, ls, p, target_power=np.full(len(lam), 1 + 1e-15)), **kw)
    _same(r0, r3, 1e-13)


def test_unit_target_random_spectra():
    rng = np.random.default_rng(11)
    for act in ("relu", "erf", "tanh", "linear"):
        for _ in range(4):
            n = int(rng.integers(1, 7))
            lam = np.exp(rng.uniform(-3, 1.6, n))
            ls = np.exp(rng.uniform(-3, 1.6, n))
            p = rng.uniform(0.1, 1, n)
            k = 12
            phi, psi = np.exp(rng.uniform(-2, 2, k)), np.exp(rng.uniform(-2, 2, k))
            gamma = np.where(rng.random(k) < 0.3, 0.0, np.exp(rng.uniform(-6, 1, k)))
            psi = np.where(np.abs(psi - phi) < 0.05, psi * 1.2, psi)  # keep off the peak
            nv = rng.uniform(0, 1, k)
            kw = dict(phi=phi, psi=psi, gamma=gamma, noise_var=nv, activation=act)
            r0 = rf.asymptotics(rf.Spectrum(lam, ls, p), **kw)
            r1 = rf.asymptotics(rf.Spectrum(lam, ls, p, np.full(n, 1 + 1e-15)), **kw)
            _same(r0, r1, 1e-13)


# --- linear features, ψ = 0: linear ridge with an anisotropic target under shift ----------------


def _linear_ridge_anisotropic(lam, ls, b, p, phi, gamma, nv):
    """Linear ridge ŷ = xᵀ(XXᵀ/n0 + γ)^{-1}XYᵀ/n0, i.e. ridge φγ on the sample covariance XXᵀ/m,
    with β ~ N(0, diag b) (deterministic equivalent, Hastie et al. 2022 Thm 5 / Dobriban–Wager,
    written with the test covariance Σ* ≠ Σ): with k the effective ridge, φγ = k(1 − φ⟨λ/(λ+k)⟩),
        E = k²⟨b λ*/(λ+k)²⟩ + φ (σ² + k²⟨b λ/(λ+k)²⟩) ⟨λ* λ/(λ+k)²⟩ / (1 − φ⟨λ²/(λ+k)²⟩)
    (bias of the mean predictor + its X-variance from the bias residual and the noise)."""
    lam, ls, b, p = (np.asarray(a, dtype=float) for a in (lam, ls, b, p))
    p = p / p.sum()
    f = lambda k: k * (1 - phi * float(p @ (lam / (lam + k)))) - phi * gamma  # noqa: E731
    k = optimize.brentq(lambda y: f(math.exp(y)), -60, 30, xtol=1e-15, rtol=1e-15)
    k = math.exp(k)
    bias = k * k * float(p @ (b * ls / (lam + k) ** 2))
    c1s = float(p @ (ls * lam / (lam + k) ** 2))
    a2 = float(p @ (lam**2 / (lam + k) ** 2))
    var = phi * (nv + k * k * float(p @ (b * lam / (lam + k) ** 2))) * c1s / (1 - phi * a2)
    return bias + var, bias


@pytest.mark.parametrize("phi,gamma,nv", [(0.5, 0.1, 0.2), (2.0, 0.01, 0.0), (1.0, 1.0, 0.5),
                                          (3.0, 1e-3, 0.1)])
def test_linear_kernel_limit_anisotropic_target(phi, gamma, nv):
    lam, ls, p = [3.0, 1.0, 0.3, 0.05], [0.5, 1.0, 2.0, 1.5], [0.2, 0.3, 0.3, 0.2]
    for b in ([4.0, 1.0, 0.1, 0.0], [0.0, 0.2, 1.0, 5.0], [1.0, 0.0, 0.0, 3.0]):
        want, want_bias = _linear_ridge_anisotropic(lam, ls, b, p, phi, gamma, nv)
        res = rf.asymptotics(rf.Spectrum(lam, ls, p, b), phi=phi, psi=0.0, gamma=gamma, noise_var=nv,
                             activation="linear")
        assert float(res.error) == pytest.approx(want, rel=1e-10, abs=1e-14)
        assert float(res.bias) == pytest.approx(want_bias, rel=1e-10, abs=1e-14)
        # ID: λ* → λ
        want_id, _ = _linear_ridge_anisotropic(lam, lam, b, p, phi, gamma, nv)
        assert float(res.error_id) == pytest.approx(want_id, rel=1e-10, abs=1e-14)


# --- identities ------------------------------------------------------------------------------


def _points():
    phi = np.array([0.5, 2.0, 1.0, 0.3])
    psi = np.array([0.25, 0.5, 3.0, 0.0])
    gamma = np.array([0.01, 0.0, 0.1, 1e-3])
    return phi, psi, gamma


@pytest.mark.parametrize("act", ["relu", "erf", "tanh"])
def test_homogeneity_in_target_noise_and_nonlinear_var(act):
    """Everything is quadratic in the labels: (c b, c σ², c σ_g²) scales every error, bias, variance
    and variance term by c."""
    spec = rf.Spectrum([2.0, 1.0, 0.25], [0.5, 1.0, 1.5], [0.25, 0.5, 0.25], [2.0, 0.3, 0.0])
    phi, psi, gamma = _points()
    c = 3.7
    r1 = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=0.2, nonlinear_var=0.1,
                        nonlinear_var_test=0.05, activation=act)
    r2 = rf.asymptotics(spec.with_target(c * spec.b), phi=phi, psi=psi, gamma=gamma, noise_var=0.2 * c,
                        nonlinear_var=0.1 * c, nonlinear_var_test=0.05 * c, activation=act)
    for f in FIELDS[:-1]:
        np.testing.assert_allclose(getattr(r2, f), c * getattr(r1, f), rtol=1e-12)
    for t in TERMS:
        np.testing.assert_allclose(getattr(r2.variance_terms, t), c * getattr(r1.variance_terms, t),
                                   rtol=1e-11, atol=1e-15)


def test_nonlinear_part_is_label_noise_living_on_x():
    """σ_g² adds to the training noise (same total variance as noise_var + σ_g²), adds σ_g*² (OOD)
    and σ_g² (ID) to the bias, and its variance share lands in V_X / V_WX, not V_Xε / V_WXε."""
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5], None, [1.2, 0.4])
    phi, psi, gamma = _points()
    kw = dict(phi=phi, psi=psi, gamma=gamma, activation="erf")
    g = rf.asymptotics(spec, noise_var=0.1, nonlinear_var=0.3, nonlinear_var_test=0.2, **kw)
    n = rf.asymptotics(spec, noise_var=0.4, **kw)
    e = rf.asymptotics(spec, noise_var=0.1, **kw)
    np.testing.assert_allclose(g.variance, n.variance, rtol=1e-13)
    np.testing.assert_allclose(g.variance_id, n.variance_id, rtol=1e-13)
    np.testing.assert_allclose(g.bias, e.bias + 0.2, rtol=1e-13)
    np.testing.assert_allclose(g.bias_id, e.bias_id + 0.3, rtol=1e-13)
    vt, vn, ve = g.variance_terms, n.variance_terms, e.variance_terms
    np.testing.assert_allclose(vt.x_eps, ve.x_eps, rtol=1e-13)  # ε part only
    np.testing.assert_allclose(vt.wx_eps, ve.wx_eps, rtol=1e-13)
    np.testing.assert_allclose(vt.x + vt.x_eps, vn.x + vn.x_eps, rtol=1e-13)
    np.testing.assert_allclose(vt.wx + vt.wx_eps, vn.wx + vn.wx_eps, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(vt.total, g.variance, rtol=1e-13)
    # nonlinear_var_test=None: same as nonlinear_var
    same = rf.asymptotics(spec, noise_var=0.1, nonlinear_var=0.3, **kw)
    np.testing.assert_allclose(same.bias, e.bias + 0.3, rtol=1e-13)


def test_teacher_linear_equals_no_teacher_and_tanh_equals_explicit_parts():
    spec = rf.Spectrum([2.0, 0.5], [1.0, 1.5], None, [0.7, 1.6])
    phi, psi, gamma = _points()
    kw = dict(phi=phi, psi=psi, gamma=gamma, noise_var=0.1, activation="relu")
    r0 = rf.asymptotics(spec, **kw)
    r1 = rf.asymptotics(spec, teacher="linear", **kw)
    _same(r0, r1, 1e-14)
    # equal teacher variances ⟨bλ⟩ = ⟨bλ*⟩ ⇒ c1* = c1: the teacher is (c1² b, μ⊥², μ⊥²)
    spec_eq = rf.Spectrum([2.0, 1.0, 0.5], [1.0, 2.0, 0.5], None, [1.0, 1.0, 3.0])
    assert spec_eq.signal == pytest.approx(spec_eq.signal_star)
    t = rf.asymptotics(spec_eq, teacher="tanh", **kw)
    c = rf.activation_constants("tanh", spec_eq.signal)
    assert t.target_linear == pytest.approx(c.mu1) and t.target_linear_test == pytest.approx(c.mu1)
    e = rf.asymptotics(spec_eq.with_target(c.mu1**2 * spec_eq.b), nonlinear_var=c.mu_perp2, **kw)
    _same(e, t, 1e-12)


def test_teacher_test_law_coefficient_enters_bias_only():
    """c1* ≠ c1 changes only the bias: B = ⟨bλ*((c1* − r c1) + r c1 u)²⟩ + σ_g*²."""
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5], None, [1.5, 0.5])
    kw = dict(phi=0.5, psi=0.5, gamma=0.05, noise_var=0.1, activation="erf")
    t = rf.asymptotics(spec, teacher="tanh", **kw)
    c1, c1s = t.target_linear, t.target_linear_test
    assert abs(c1s - c1) > 0.05
    lin = rf.asymptotics(spec.with_target(c1**2 * spec.b), nonlinear_var=t.nonlinear_var,
                         nonlinear_var_test=t.nonlinear_var_test, **kw)
    assert float(t.variance) == pytest.approx(float(lin.variance), rel=1e-13)
    r, u = t.r, float(t.k_x) / (spec.lam + float(t.k_x))
    want = float(spec.weights @ (spec.b * spec.lam_star * ((c1s - r * c1) + r * c1 * u) ** 2))
    assert float(t.bias) == pytest.approx(want + t.nonlinear_var_test, rel=1e-12)


def test_teacher_with_nonzero_mean_is_refused():
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    with pytest.raises(ValueError, match="teacher 'relu' has a non-zero Gaussian mean"):
        rf.asymptotics(spec, phi=0.5, psi=0.5, gamma=0.1, teacher="relu")
    with pytest.raises(ValueError, match="teacher"):
        rf.asymptotics(spec, phi=0.5, psi=0.5, gamma=0.1, teacher="no-such-activation")


def test_shift_onto_target_free_directions_costs_variance_only():
    """Test mass moved onto a direction with b = 0: the bias only sees target-carrying directions."""
    kw = dict(phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1, activation="relu")
    a = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.5, 1.5], None, [2.0, 0.0]), **kw)
    b = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.5, 1.5], None, [0.0, 2.0]), **kw)
    assert float(a.bias) < float(b.bias)
    # all target power on a direction without test mass: zero bias (up to σ_g*²)
    c = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.0, 2.0], None, [1.0, 0.0]), **kw)
    assert float(c.bias) == 0.0


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad,match", [
    ([1.0, -0.1], r"target_power must be >= 0"),
    ([1.0, np.nan], r"target_power contains NaN"),
    ([1.0, np.inf], r"target_power contains inf"),
    ([0.0, 0.0], r"target_power is zero on every atom"),
    ([1.0, 1.0, 1.0], r"target_power must have the same length as lam"),
    ([[1.0, 1.0]], r"target_power must be one-dimensional"),
    ("abc", r"target_power"),
])
def test_bad_target_power(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        rf.Spectrum([1.0, 2.0], [1.0, 2.0], None, bad)


def test_bad_nonlinear_var():
    spec = rf.Spectrum([1.0], [1.0])
    for kw in ({"nonlinear_var": -1.0}, {"nonlinear_var_test": np.nan}, {"nonlinear_var": "x"}):
        with pytest.raises((ValueError, TypeError), match=next(iter(kw))):
            rf.asymptotics(spec, phi=0.5, psi=0.5, gamma=0.1, **kw)
    with pytest.raises(ValueError, match="precision="):
        rf.asymptotics(spec.with_target([2.0]), phi=0.5, psi=0.5, gamma=0.1, precision=30)


def test_from_covariances_target_cov():
    rng = np.random.default_rng(0)
    n0 = 6
    Q, _ = np.linalg.qr(rng.standard_normal((n0, n0)))
    lam = np.array([2.0, 2.0, 2.0, 0.5, 0.5, 0.1])  # degenerate eigenspaces
    b = np.array([3.0, 1.0, 0.0, 2.0, 0.5, 1.0])
    S, B = (Q * lam) @ Q.T, (Q * b) @ Q.T
    Ss = rng.standard_normal((n0, n0))
    Ss = Ss @ Ss.T / n0
    spec = rf.Spectrum.from_covariances(S, Ss, target_cov=B)
    # joint eigenbasis: the atoms reproduce tr(B Σ*) and tr(B Σ), and the (λ, b) pairs
    assert float(spec.weights @ (spec.b * spec.lam_star)) == pytest.approx(np.trace(B @ Ss) / n0)
    assert float(spec.weights @ (spec.b * spec.lam)) == pytest.approx(np.trace(B @ S) / n0)
    got = sorted(zip(np.round(spec.lam, 10), np.round(spec.b, 10), strict=True))
    assert got == sorted(zip(lam, b, strict=True))
    # without target_cov: no target
    assert rf.Spectrum.from_covariances(S, Ss).target_power is None
    # non-commuting target: refused, naming the argument
    with pytest.raises(ValueError, match="target_cov does not commute with Sigma"):
        rf.Spectrum.from_covariances(S, Ss, target_cov=Ss)
    with pytest.raises(ValueError, match="target_cov must have the same shape"):
        rf.Spectrum.from_covariances(S, Ss, target_cov=np.eye(3))
    with pytest.raises(ValueError, match="target_cov is not positive semi-definite"):
        rf.Spectrum.from_covariances(S, Ss, target_cov=-B)


def test_spectrum_methods_carry_the_target():
    spec = rf.Spectrum([2.0, 0.5], [1.0, 1.5], [0.3, 0.7], [2.0, 0.1])
    for derived in (spec.in_distribution(), spec.swapped()):
        np.testing.assert_array_equal(derived.target_power, spec.target_power)
    assert spec.signal == pytest.approx(0.3 * 4.0 + 0.7 * 0.05)
    assert spec.signal_star == pytest.approx(0.3 * 2.0 + 0.7 * 0.15)
    assert rf.Spectrum([1.0], [1.0]).b.tolist() == [1.0]


def test_target_families_normalised_and_ordered():
    base = rf.Spectrum(np.geomspace(0.1, 10, 8), np.geomspace(10, 0.1, 8) * 0.7 + 0.3)
    for name, fam in TARGETS.items():
        params = {k: v[0] for k, v in fam.params.items()}
        spec = make_target(base, name, **params)
        assert spec.signal == pytest.approx(base.s, rel=1e-12), name
    iso = float(rf.asymptotics(base, phi=0.5, psi=0.3, gamma=0.01).error)
    al = float(rf.asymptotics(aligned_target(base, 1.0), phi=0.5, psi=0.3, gamma=0.01).error)
    ag = float(rf.asymptotics(aligned_target(base, -1.0), phi=0.5, psi=0.3, gamma=0.01).error)
    assert ag < iso < al  # a target where the shift adds test mass is the harmful one
    easy = float(rf.asymptotics(source_target(base, 1.0), phi=0.5, psi=0.3, gamma=0.01).error_id)
    hard = float(rf.asymptotics(source_target(base, -1.0), phi=0.5, psi=0.3, gamma=0.01).error_id)
    assert easy < hard
    with pytest.raises(ValueError, match="alpha"):
        source_target(rf.Spectrum([1.0, 0.0], [1.0, 1.0]), -1.0)
    with pytest.raises(ValueError, match="unknown target family"):
        make_target(base, "nope")


# --- Monte Carlo -----------------------------------------------------------------------------


def _diag_case(lam, lam_star, b, p=None):
    lam, lam_star, b = (np.asarray(a, dtype=float) for a in (lam, lam_star, b))
    p = np.full(lam.size, 1 / lam.size) if p is None else np.asarray(p, dtype=float)

    def build(n0):
        counts = np.round(p * n0).astype(int)
        counts[-1] = n0 - counts[:-1].sum()
        S, Ss, B = (np.diag(np.repeat(a, counts)) for a in (lam, lam_star, b))
        return S, Ss, B, rf.Spectrum(lam, lam_star, counts / n0, b)

    return build


def _noncommuting_case(n0):
    """Σ with two degenerate eigenspaces, B commuting with Σ but not scalar inside them, and a dense
    Σ*; everything rotated so that no matrix is diagonal in the coordinate basis."""
    rng = np.random.default_rng(7)
    h = n0 // 2
    S = np.diag(np.repeat([2.0, 0.5], h))
    B = np.diag(np.concatenate([np.linspace(0.2, 3.0, h), np.linspace(1.5, 0.0, h)]))
    Q, _ = np.linalg.qr(rng.standard_normal((n0, n0)))
    Ss = Q @ np.diag(np.repeat([0.4, 1.6], h)) @ Q.T
    R = np.zeros((n0, n0))
    R[:h, :h], _ = np.linalg.qr(rng.standard_normal((h, h)))
    R[h:, h:], _ = np.linalg.qr(rng.standard_normal((h, h)))
    S, B, Ss = R @ S @ R.T, R @ B @ R.T, R @ Ss @ R.T
    return S, Ss, B, rf.Spectrum.from_covariances(S, Ss, target_cov=B)


# name: (builder, activation, φ, ψ, γ, σ², teacher, trials at n0 = 100, 200)
MC_CASES = {
    "relu-b-large-ridge-over": (_diag_case([2, 1, .25], [.5, 1, 1.5], [2.5, .4, .1]),
                                "relu", 1.0, 0.5, 0.05, 0.1, None, (24, 12)),
    "erf-b-small-ridgeless-under": (_diag_case([2, 1, .25], [.5, 1, 1.5], [.1, .4, 2.5]),
                                    "erf", 0.5, 1.0, 0.0, 0.1, None, (24, 12)),
    "tanh-shift-onto-b0-ridge": (_diag_case([1.5, .5], [.5, 1.5], [2.0, 0.0]),
                                 "tanh", 0.5, 0.25, 0.01, 0.1, None, (16, 8)),
    "linear-b-ridge-under": (_diag_case([2, .5], [1, 1], [.5, 2]),
                             "linear", 0.7, 1.4, 0.1, 0.2, None, (24, 12)),
    "relu-source-ridgeless-over": (_diag_case([3, 1, .3], [1, 1, 2.3], [3 / 1.433, 1 / 1.433, .3 / 1.433]),
                                   "relu", 1.0, 0.3, 0.0, 0.2, None, (24, 12)),
    "erf-noncommuting-ridge": (_noncommuting_case, "erf", 0.8, 0.4, 0.05, 0.1, None, (24, 12)),
    "erf-teacher-tanh-ridge": (_diag_case([1.5, .5], [.5, 1.5], [1.5, .5]),
                               "erf", 0.5, 0.5, 0.05, 0.1, "tanh", (32, 32)),
    "linear-teacher-erf-ridgeless-under": (_diag_case([2, .5], [1, 1.5], [1., 1.]),
                                           "linear", 0.5, 1.5, 0.0, 0.05, "erf", (48, 48)),
}


def run_mc_case(name: str, scale: float = 1.0):
    """Gaps MC − theory at n0 = 100 and 200, their Richardson extrapolation and its z-score, for the
    OOD error, the ID error and (teacher cases) the X-shared disagreement 2(V − V_X − V_ε)."""
    from _target_sim import simulate_target

    build, act, phi, psi, gamma, nv, teacher, trials = MC_CASES[name]
    rows = {}
    for j, (n0, tr) in enumerate(zip((100, 200), trials, strict=True)):
        S, Ss, B, spec = build(n0)
        mean, se = simulate_target(act, S, Ss, B, phi=phi, psi=psi, gamma=gamma, noise_var=nv,
                                   trials=max(4, int(tr * scale)), seed=500 + 17 * j + len(name),
                                   teacher=teacher, disagree=teacher is not None)
        m, n1 = round(n0 / phi), round(n0 / psi)
        th = rf.asymptotics(spec, phi=n0 / m, psi=n0 / n1, gamma=gamma, noise_var=nv, activation=act,
                            teacher=teacher)
        vals = [float(th.error), float(th.error_id)]
        if teacher is not None:
            vals.append(float(2 * (th.variance - th.variance_terms.x - th.variance_terms.eps)))
        for key, t, mc, s in zip(("ood", "id", "dis_x"), vals, mean, se, strict=False):
            rows.setdefault(key, []).append((n0, t, float(mc), float(s)))
    out = {}
    for key, rr in rows.items():
        g = [mc - t for _, t, mc, _ in rr]
        s = [se for *_, se in rr]
        extrap = 2 * g[1] - g[0]
        se = math.hypot(2 * s[1], s[0])
        out[key] = dict(rows=rr, extrap=extrap, se=se, z=extrap / se)
    return out


FAST = ["linear-teacher-erf-ridgeless-under"]


@pytest.mark.parametrize("name", FAST)
def test_monte_carlo_fast(name):
    res = run_mc_case(name, scale=0.5)
    for key, r in res.items():
        assert abs(r["z"]) <= 3.5, (key, r)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in MC_CASES if n not in FAST])
def test_monte_carlo_targets(name):
    """Tolerance as tests/test_engine.py::test_monte_carlo_agreement: the O(1/n0) finite-size gap
    is removed by Richardson extrapolation over n0 = 100, 200; |z| <= 3.5 and the raw gap at 200
    below 5% of the value."""
    res = run_mc_case(name)
    for key, r in res.items():
        assert abs(r["z"]) <= 3.5, (key, r)
        _, t, mc, _ = r["rows"][-1]
        assert abs(mc - t) < 0.05 * abs(t), (key, r)


if __name__ == "__main__":  # pragma: no cover - prints the table of docs/validation.md
    sys.path.insert(0, "tests")
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    print("| case | quantity | theory (n0=200) | MC n0=100 | MC n0=200 | extrapolated gap | z |")
    print("|---|---|---|---|---|---|---|")
    for name in MC_CASES:
        for key, r in run_mc_case(name, scale).items():
            (n_a, _, mc_a, se_a), (n_b, t_b, mc_b, se_b) = r["rows"]
            print(f"| {name} | {key} | {t_b:.5f} | {mc_a:.5f} ± {se_a:.5f} | {mc_b:.5f} ± {se_b:.5f} "
                  f"| {r['extrap']:+.5f} ± {r['se']:.5f} | {r['z']:+.2f} |", flush=True)


# --- analysis --------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["relu", "erf", "tanh", "linear"])
@pytest.mark.parametrize("teacher", [None, "tanh"])
def test_weight_split_reproduces_error(act, teacher):
    """docs/theory.md §19.5: E* = F + σ_g*² + ∫ [b w_β(u) + w_V(u)] dν, and b ≡ 1 gives §6's w."""
    from rfshift.analysis._weights import atom_u, target_weight_coefficients, weight_coefficients

    spec = rf.Spectrum([2, 1, .3, 0.05], [.5, 1, 2, 0.7], [.2, .3, .3, .2], [3, 0, 1, .5])
    phi, psi, gamma = _points()
    res = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=0.2, nonlinear_var=0.1,
                         nonlinear_var_test=0.3, activation=act, teacher=teacher)
    tw = target_weight_coefficients(spec, res)
    assert tw.valid.all()
    u = atom_u(tw.k_x, spec.lam)
    e = tw.F + tw.nonlinear_var_test + (tw.w(u, spec.b) * spec.lam_star) @ spec.weights
    np.testing.assert_allclose(e, res.error, rtol=1e-12)
    iso = spec.with_target(None)
    res = rf.asymptotics(iso, phi=phi, psi=psi, gamma=gamma, noise_var=0.2, activation=act)
    tw, wc = target_weight_coefficients(iso, res), weight_coefficients(iso, res)
    u = atom_u(tw.k_x, iso.lam)
    np.testing.assert_allclose(tw.w(u, 1.0), wc.w(u), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tw.F, wc.F, rtol=1e-12, atol=1e-15)


def test_certificate_with_target_is_sound():
    """Every certified order (shared target b(λ), equal traces) agrees with the engine's errors."""
    rng = np.random.default_rng(5)
    n_cert = n_checked = 0
    for trial in range(40):
        n = int(rng.integers(2, 6))
        lam = np.sort(np.exp(rng.uniform(-2, 1.5, n)))
        b = np.exp(rng.uniform(-2, 1.5, n)) * (rng.random(n) > 0.2)
        b[0] += 0.1
        la, lb = np.exp(rng.uniform(-1, 1, n)), np.exp(rng.uniform(-1, 1, n))
        lb *= la.sum() / lb.sum()
        a, c = rf.Spectrum(lam, la, None, b), rf.Spectrum(lam, lb, None, b)
        k = 6
        kw = dict(phi=np.exp(rng.uniform(-1.5, 1.5, k)), psi=np.exp(rng.uniform(-1.5, 1.5, k)),
                  gamma=np.exp(rng.uniform(-5, 0.5, k)), noise_var=rng.uniform(0, 2, k),
                  activation=["relu", "erf", "tanh"][trial % 3],
                  nonlinear_var=0.1 * (trial % 2))
        cmp = rf.compare_shifts(a, c, **kw)
        rel = np.asarray(cmp.relation)
        ea, eb = np.asarray(cmp.error_a), np.asarray(cmp.error_b)
        tol = 1e-12 * np.maximum(ea, eb)
        assert np.all(ea[rel == "a_better"] <= eb[rel == "a_better"] + tol[rel == "a_better"])
        assert np.all(eb[rel == "b_better"] <= ea[rel == "b_better"] + tol[rel == "b_better"])
        n_cert += int(np.isin(rel, ("a_better", "b_better")).sum())
        n_checked += k
    assert n_cert > 0.2 * n_checked


def test_target_changes_the_shift_verdict():
    """Test mass moved from λ = 1.5 onto λ = 0.5 harms; how much depends on where the target lives:
    on the direction the test mass moves onto, the OOD gap is 2.6× the isotropic one (0.31 vs 0.12);
    with b = 0 there, only the variance part w_V remains (gap 0.023) — still certified harmful."""
    kw = dict(phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1, activation="relu")
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    on_moved = rf.shift_effect(spec.with_target([0.0, 3.0]), **kw)
    away = rf.shift_effect(spec.with_target([1.0, 0.0]), **kw)
    iso = rf.shift_effect(spec, **kw)
    assert iso.verdict == "harms" and on_moved.verdict == "harms"
    gap = lambda e: float(e.error - e.error_id)  # noqa: E731
    assert gap(on_moved) > gap(iso)
    assert gap(away) < gap(iso)
    with pytest.raises(ValueError, match="same target power"):
        rf.compare_shifts(spec.with_target([1.0, 0.0]), rf.Spectrum([1.5, 0.5], [1, 1], None, [0, 1]),
                          phi=0.5, psi=0.25, gamma=0.01)


@pytest.mark.parametrize("teacher", [None, "tanh"])
def test_linear_relation_with_target(teacher):
    """E_OOD = slope·E_ID + intercept stays exact along ψ ∈ [0, φ) (γ = 0) with a target; the slope
    b_OOD/b_ID keeps THEORY.md §8's closed form (the training factor with b cancels)."""
    spec = rf.Spectrum([2, 1, .3], [.5, 1, 2], None, [3, 0.2, 1])
    kw = dict(noise_var=0.1, nonlinear_var=0.2, nonlinear_var_test=0.05, activation="erf",
              teacher=teacher)
    rel = rf.linear_relation(spec, phi=2.0, **kw)
    assert float(rel.b_ood / rel.b_id) == pytest.approx(float(rel.slope), rel=1e-10)
    psi = np.linspace(0.05, 1.9, 7)
    res = rf.asymptotics(spec, phi=2.0, psi=psi, gamma=0.0, **kw)
    np.testing.assert_allclose(rel.predict(res.error_id), res.error, rtol=1e-12)
    d = rf.analysis.deviation(spec, phi=2.0, psi=[0.5, 0.5], gamma=[0.0, 1e-2], **kw)
    assert abs(d[0]) < 1e-12 and abs(d[1]) > 1e-7


def test_robustness_and_optimal_ridge_pass_the_target():
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5], None, [0.2, 2.0])
    kw = dict(noise_var=0.1, nonlinear_var=0.3, nonlinear_var_test=0.1, activation="relu")
    cur = rf.robustness_curve(spec, phi=0.5, features_per_sample=[2.0, 8.0], **kw)
    res = rf.asymptotics(spec, phi=0.5, psi=[0.25, 0.0625], gamma=0.0, **kw)
    np.testing.assert_allclose(cur.error_ood, res.error, rtol=1e-14)
    opt = rf.optimal_ridge(spec, phi=0.5, psi=0.25, **kw)
    at = rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=float(opt.gamma), **kw)
    assert float(opt.error) == pytest.approx(float(at.error), rel=1e-12)
    # the nonlinear part acts as noise: more of it, larger optimal ridge
    opt2 = rf.optimal_ridge(spec, phi=0.5, psi=0.25, **{**kw, "nonlinear_var": 1.0})
    assert float(opt2.gamma_id) > float(opt.gamma_id)


# --- from_data -------------------------------------------------------------------------------


def test_from_data_recovers_target_and_noise():
    """Synthetic data with known truth (β drawn once per trial, so the truth is the realised
    (v_kᵀβ)² in Σ̂'s eigenbasis): over 12 trials the estimated noise, signal energy and predicted OOD
    error are unbiased within 3.5 s.e.; each trial's OOD prediction is within 15% of the oracle's."""
    rng = np.random.default_rng(1)
    n0, m = 60, 1200
    lam = np.repeat([3.0, 1.0, 0.3], 20)
    b = np.repeat([0.2, 1.0, 3.0], 20)
    ls = np.repeat([1.0, 1.0, 2.3], 20)
    kw = dict(phi=0.5, psi=0.25, gamma=0.01, noise_var=0.25)
    rel_nv, rel_sig, rel_err = [], [], []
    for _ in range(12):
        X = rng.standard_normal((m, n0)) * np.sqrt(lam)
        beta = rng.standard_normal(n0) * np.sqrt(b)
        y = X @ beta / np.sqrt(n0) + 0.5 * rng.standard_normal(m) + 3.0  # a label mean is removed
        Xt = rng.standard_normal((2000, n0)) * np.sqrt(ls) + 1.0  # so is an input mean
        ds = rf.Spectrum.from_data(X, y, Xt)
        spec, nv = ds
        assert ds.n_samples == m and ds.signal >= ds.signal_raw - 1e-12
        _, V = np.linalg.eigh(np.cov(X, rowvar=False))
        oracle = rf.Spectrum(spec.lam, spec.lam_star, None, (V.T @ beta) ** 2)
        rel_nv.append(nv / 0.25 - 1)
        rel_sig.append(spec.signal / oracle.signal - 1)
        e_est = float(rf.asymptotics(spec, **{**kw, "noise_var": nv}).error)
        e_or = float(rf.asymptotics(oracle, **kw).error)
        rel_err.append(e_est / e_or - 1)
    for name, a in (("noise", rel_nv), ("signal", rel_sig), ("error", rel_err)):
        a = np.asarray(a)
        se = a.std(ddof=1) / math.sqrt(a.size)
        assert abs(a.mean()) < 3.5 * se + 1e-3, (name, a.mean(), se)
    assert np.max(np.abs(rel_err)) < 0.15


def test_from_data_bad_input():
    X = np.random.default_rng(0).standard_normal((50, 10))
    with pytest.raises(ValueError, match="more training samples than input dimensions"):
        rf.Spectrum.from_data(X[:11], np.zeros(11), X)
    with pytest.raises(ValueError, match="y_train must be one-dimensional"):
        rf.Spectrum.from_data(X, np.zeros(49), X)
    with pytest.raises(ValueError, match="y_train contains NaN"):
        rf.Spectrum.from_data(X, np.full(50, np.nan), X)
    with pytest.raises(ValueError, match="X_test must have the same number of columns"):
        rf.Spectrum.from_data(X, np.zeros(50), X[:, :5])
    with pytest.raises(ValueError, match="no linear signal"):
        rf.Spectrum.from_data(X, np.zeros(50), X)


# --- CLI -------------------------------------------------------------------------------------


def test_cli_target_flags(capsys):
    from rfshift.cli import main

    assert main(["curve", "--num", "2", "--format", "csv", "--target", "power_law", "--target-param",
                 "alpha=1", "--teacher", "tanh", "--activation", "erf", "--nonlinear-var", "0.05"]) == 0
    out = capsys.readouterr().out.splitlines()
    spec = make_target(rf.shifts.make_shift("swap"), "power_law", alpha=1.0)
    want = rf.asymptotics(spec, phi=0.5, psi=0.05, gamma=0.01, noise_var=0.1, nonlinear_var=0.05,
                          teacher="tanh", activation="erf")
    assert float(out[1].split(",")[1]) == pytest.approx(float(want.error), rel=1e-12)
    assert main(["curve", "--num", "2", "--teacher", "relu"]) == 2
    assert "non-zero Gaussian mean" in capsys.readouterr().err
    assert main(["curve", "--num", "2", "--target-param", "alpha=1"]) == 2
    assert "--target-param needs --target" in capsys.readouterr().err
    assert main(["curve", "--num", "2", "--nonlinear-var", "-1"]) == 2
    assert "nonlinear_var" in capsys.readouterr().err


# --- io ----------------------------------------------------------------------------------------


def test_io_target_power_column_and_target_cov(tmp_path):
    from rfshift.io import SpectrumFileError, load_spectrum, spectrum_to_csv

    spec = rf.Spectrum([2.0, 0.5, 0.1], [1.0, 1.5, 0.2], [0.2, 0.5, 0.3], [3.0, 0.0, 1.0])
    back = load_spectrum(spectrum_to_csv(spec).encode(), name="s.csv")
    np.testing.assert_array_equal(back.target_power, spec.target_power)
    np.testing.assert_allclose(back.weights, spec.weights, rtol=1e-15)
    assert load_spectrum(spectrum_to_csv(spec.with_target(None)).encode(), name="s.csv").target_power is None
    bad = b"lam,lam_star,target_power\n1,1,-1\n2,1,1\n"
    with pytest.raises(SpectrumFileError, match="target_power must be >= 0"):
        load_spectrum(bad, name="s.csv")
    p = tmp_path / "atoms.npz"
    np.savez(p, lam=spec.lam, lam_star=spec.lam_star, target_power=spec.target_power)
    np.testing.assert_array_equal(load_spectrum(p).target_power, spec.target_power)
    S, Ss, B = np.diag([2.0, 1.0, 1.0]), np.eye(3), np.diag([0.0, 1.0, 3.0])
    p = tmp_path / "cov.npz"
    np.savez(p, Sigma=S, Sigma_star=Ss, target_cov=B)
    got = load_spectrum(p)
    assert sorted(got.b.tolist()) == [0.0, 1.0, 3.0]
    np.savez(p, Sigma=S, Sigma_star=Ss, target_cov=np.ones((3, 3)))
    with pytest.raises(SpectrumFileError, match="target_cov does not commute"):
        load_spectrum(p)
    np.savez(p, Sigma=S, Sigma_star=Ss, other=B)
    with pytest.raises(SpectrumFileError, match="unused arrays 'other'"):
        load_spectrum(p)


def test_shift_families_carry_target_power():
    from rfshift.shifts import isotropic_scaling, tilt

    b = [1.0, 0.0, 2.0]
    assert isotropic_scaling(2.0, lam=[1.0, 2.0, 3.0], target_power=b).target_power.tolist() == b
    assert tilt(1.0, lam=[1.0, 2.0, 3.0], target_power=b).target_power.tolist() == b


def test_mpmath_path_refuses_targets():
    from rfshift.symbolic import asymptotics_mp

    with pytest.raises(ValueError, match="isotropic linear target"):
        asymptotics_mp(rf.Spectrum([1.0, 2.0], [1.0, 1.0], None, [1.0, 3.0]), phi=0.5, psi=0.25,
                       gamma=0.1, noise_var=0.1, precision=30)
    # b ≡ 1 given explicitly is the isotropic target: accepted, same digits as the float engine
    mp = asymptotics_mp(rf.Spectrum([1.5, 0.5], [0.5, 1.5], None, [1.0, 1.0]), phi=0.5, psi=0.25,
                        gamma=0.01, noise_var=0.25, precision=30)
    assert float(mp.error) == pytest.approx(0.6396115554, abs=1e-10)


def test_nonlinear_part_resolves_the_noise_free_double_threshold():
    """Linear features at n1 = m = n0·μ(λ>0), ridgeless: without noise the limit is an indeterminate
    0·inf form (ConvergenceError); a nonlinear target part acts like label noise there (inf, flagged)."""
    spec = rf.Spectrum([2.0, 0.5], [1.0, 3.0])
    with pytest.raises(rf.ConvergenceError):
        rf.asymptotics(spec, phi=1.0, psi=1.0, gamma=0.0, activation="linear")
    r = rf.asymptotics(spec, phi=1.0, psi=1.0, gamma=0.0, activation="linear", nonlinear_var=0.1)
    assert np.isinf(r.error) and bool(r.interpolation_peak)
