"""Quantities that are non-negative by construction stay non-negative (issue 12, fault 4 and kind).

The bias B* = ∫λ*((1−r)+ru)² dμ, the seven ANOVA terms of THEORY.md §7 and the error must never be
negative; each is computed in a subtraction-free form (rfshift._anova, engine ``_bias``), checked here
against independent arbitrary-precision evaluations.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import rfshift as rf
from rfshift._anova import VarianceTerms
from rfshift.symbolic import asymptotics_mp


def test_issue12_fault4_bias_is_the_sum_of_squares() -> None:
    spec = rf.Spectrum([1e16, 1e15], [1.0, 1.0])
    res = rf.asymptotics(spec, phi=0.5, psi=0.0, gamma=118875913.51288658, noise_var=0.0,
                         activation="tanh")
    # Independent: the per-atom sum of squares at the engine's own k_x and r, in 50 digits.
    with mp.workdps(50):
        kx, r = mp.mpf(float(res.k_x)), mp.mpf(res.test_constants.mu1) / mp.mpf(res.train_constants.mu1)
        exact = mp.fsum(mp.mpf(w) * mp.mpf(ls) * (1 - r * mp.mpf(lam) / (mp.mpf(lam) + kx)) ** 2
                        for lam, ls, w in zip(spec.lam, spec.lam_star, spec.weights, strict=True))
    assert float(res.bias) == pytest.approx(float(exact), rel=1e-9)  # 0.4010167 (was −0.5)
    assert float(res.bias) > 0.4 and float(res.error) > 0


def _random_case(rng: np.random.Generator, n_pts: int):
    n = int(rng.integers(1, 6))
    lam = rng.uniform(0.0, 3.0, n)
    lam[0] += 0.1
    spec = rf.Spectrum(lam, rng.uniform(0.01, 3.0, n), rng.uniform(0.1, 1.0, n))
    phi = 10 ** rng.uniform(-1, 1, n_pts)
    psi = 10 ** rng.uniform(-1, 1, n_pts)
    psi[: n_pts // 4] = 0.0
    gamma = 10 ** rng.uniform(-8, 1, n_pts)
    gamma[n_pts // 4: n_pts // 2] = 0.0
    noise = rng.uniform(0.0, 1.0, n_pts)
    noise[::5] = 0.0
    keep = ~((gamma == 0) & (np.abs(psi - phi) < 1e-3))
    return spec, dict(phi=phi[keep], psi=psi[keep], gamma=gamma[keep], noise_var=noise[keep])


@pytest.mark.parametrize("activation", ["relu", "tanh", "erf", "linear"])
def test_every_term_is_nonnegative_and_exactly_zero_without_features_randomness(activation) -> None:
    rng = np.random.default_rng(12)
    for _ in range(6):
        spec, kw = _random_case(rng, 200)
        res = rf.asymptotics(spec, activation=activation, **kw)
        for name in ("bias", "bias_id", "variance", "variance_id", "error", "error_id", "delta"):
            assert np.all(getattr(res, name) >= 0), name
        for terms, var in ((res.variance_terms, res.variance), (res.variance_terms_id, res.variance_id)):
            for name, val in terms.as_dict().items():
                assert np.all(val >= 0), name  # THEORY.md's V_WX = τ²T* − V_X gave −5e-15·V
            np.testing.assert_allclose(terms.total, var, rtol=1e-15)
            kernel = kw["psi"] == 0  # ψ = 0: no feature randomness, every W term is exactly 0
            for name in ("w", "wx", "w_eps", "wx_eps"):
                assert np.all(getattr(terms, name)[kernel] == 0.0), name


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_interaction_terms_match_high_precision(activation) -> None:
    """V_WX (σ²-free) and V_WXε (∝ σ²) against 30-digit variances: V(σ² = 0) − V_W − V_X and
    V(1) − V(0) − V_Xε. The other terms keep THEORY.md §7's (subtraction-free) formulas."""
    spec = rf.Spectrum([2.0, 1.0, 0.25], [0.5, 1.0, 1.5], [0.25, 0.5, 0.25])
    for phi, psi, gamma in ((2.0, 0.3, 0.0), (0.5, 0.8, 1e-3), (0.7, 0.69, 1e-6), (2.0, 4.0, 0.0)):
        r0 = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=0.0, activation=activation)
        r1 = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=1.0, activation=activation)
        m0, m1 = (asymptotics_mp(spec, phi=phi, psi=psi, gamma=gamma, noise_var=nv,
                                 activation=activation, precision=30) for nv in (0.0, 1.0))
        t0, t1 = r0.variance_terms, r1.variance_terms
        wx = float(m0.variance) - float(t0.w) - float(t0.x)
        assert float(t0.wx) == pytest.approx(wx, rel=1e-10, abs=1e-13 * float(m0.variance))
        wxe = float(m1.variance) - float(m0.variance) - float(t1.x_eps)
        assert float(t1.wx_eps) == pytest.approx(wxe, rel=1e-10, abs=1e-13 * float(m1.variance))
        assert float(t1.wx) == pytest.approx(float(t0.wx), rel=1e-13)  # σ²-free


def test_shared_sources_combinations() -> None:
    res = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.5, 1.5]), phi=0.5, psi=[0.25, 1.0], gamma=0.01,
                         noise_var=0.25)
    t = res.variance_terms
    assert isinstance(t, VarianceTerms) and rf.VarianceTerms is VarianceTerms
    np.testing.assert_array_equal(t.shared(()), 0.0)
    np.testing.assert_allclose(t.shared(("w", "x", "eps")), res.variance, rtol=1e-15)
    np.testing.assert_allclose(t.shared(("x", "eps")), t.x + t.eps + t.x_eps, rtol=1e-15)
    np.testing.assert_allclose(t.shared(("w",)), t.w, rtol=1e-15)
    with pytest.raises(ValueError, match="sources must be among"):
        t.shared(("features",))
