"""Finite-size mode (rfshift.finite_size) and the engine's concentration diagnostic."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _numpy_sim import simulate_rf
from scipy import integrate

import rfshift as rf
from rfshift import _kernels
from rfshift.activations import Activation, get_activation


def power(n0: int, a: float) -> np.ndarray:
    lam = np.arange(1, n0 + 1, dtype=float) ** -a
    return lam / lam.mean()


# --- kernels ----------------------------------------------------------------------------------------

def _bivariate(fn, bps, v1, v2, c):
    """E σ(g)σ(h) by nested adaptive quadrature (independent of the Mehler series)."""
    a = c / math.sqrt(v1)
    b = math.sqrt(v2 - a * a)

    def pdf(t):
        return math.exp(-t * t / 2) / math.sqrt(2 * math.pi)

    def inner(z1):
        pts = [p for p in ((bp - a * z1) / b for bp in bps) if -12 < p < 12] or None
        val = integrate.quad(lambda z2: fn(np.array([a * z1 + b * z2]))[0] * pdf(z2), -12, 12, points=pts,
                             epsabs=1e-14, epsrel=1e-13, limit=200)[0]
        return fn(np.array([math.sqrt(v1) * z1]))[0] * val * pdf(z1)

    pts = [bp / math.sqrt(v1) for bp in bps] or None
    return integrate.quad(inner, -12, 12, points=pts, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


@pytest.mark.parametrize("name,rho", [("tanh", 0.99), ("hardtanh", -0.5)])
def test_mehler_series_matches_quadrature_within_its_bound(name, rho):
    act = get_activation(name)
    v1, v2 = 1.3, 0.8
    c = rho * math.sqrt(v1 * v2)
    fm = _kernels.feature_moments(act, np.array([[c]]), np.array([v1]), np.array([v2]))
    ref = _bivariate(act.fn, act.breakpoints, v1, v2, c)
    assert abs(fm.M[0, 0] - ref) <= max(fm.bound, 1e-11) * 1.5 + 1e-12


def test_closed_form_relu_and_erf_match_mehler():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 5))
    S = np.diag([3.0, 1.0, 0.5, 0.3, 0.2])
    C = W @ S @ W.T / 5
    v = np.diag(C).copy()
    for name in ("relu", "erf"):
        closed = get_activation(name)
        plain = Activation(closed.fn, name="plain-" + name, breakpoints=closed.breakpoints)
        a = _kernels.feature_moments(closed, C, v, v, same=True).M
        b = _kernels.feature_moments(plain, C, v, v, same=True, tol=1e-13)
        assert np.abs(a - b.M).max() <= max(b.bound, 1e-11) * 2
        assert np.allclose(_kernels.mean_slope(closed, v), _kernels.mean_slope(plain, v), rtol=1e-10)


# --- the deterministic equivalent vs Monte Carlo of the finite model --------------------------------

#: Documented accuracy of the deterministic equivalent itself at these sizes (docs/validation.md,
#: "Finite-size mode"): its residual is O(1/n), 0.1–2.5% on the validation table at n0 = 64–1000.
MODEL_RTOL = 0.025


@pytest.mark.slow
def test_matches_monte_carlo_on_a_concentrated_shifted_spectrum():
    n0, m, n1 = 64, 128, 96
    lam = power(n0, 1.0)
    S, Ss = np.diag(lam), np.diag(lam[::-1])
    mc = simulate_rf("relu", S, Ss, phi=n0 / m, psi=n0 / n1, gamma=0.05, noise_var=0.1, trials=50, seed=3)
    fs = rf.finite_size(S, Ss, m=m, n1=n1, gamma=0.05, noise_var=0.1, activation="relu", draws=8, seed=0)
    lim = rf.asymptotics(rf.Spectrum(lam, lam[::-1]), phi=n0 / m, psi=n0 / n1, gamma=0.05, noise_var=0.1)
    for val, se, ref, ref_se, limit in (
        (fs.error, fs.error_se, mc.error, mc.error_se, float(lim.error)),
        (fs.error_id, fs.error_id_se, mc.error_id, mc.error_id_se, float(lim.error_id)),
    ):
        assert abs(val - ref) <= 3.5 * math.hypot(se, ref_se) + MODEL_RTOL * ref
        # the limit misses this finite, concentrated case by far more than the finite-size mode does
        assert abs(limit - ref) > 2 * abs(val - ref)


def test_error_is_bias_plus_variance_and_signs():
    S = np.diag(power(60, 0.5))
    fs = rf.finite_size(S, 2 * S, m=90, n1=70, gamma=0.02, noise_var=0.2, draws=4, seed=1)
    assert fs.error == pytest.approx(fs.bias + fs.variance, rel=1e-12)
    assert fs.error_id == pytest.approx(fs.bias_id + fs.variance_id, rel=1e-12)
    assert 0 < fs.bias < fs.error and 0 < fs.bias_id < fs.error_id
    for k in ("error", "bias", "variance", "error_id", "bias_id", "variance_id"):
        assert math.isfinite(getattr(fs, k + "_se")) and getattr(fs, k + "_se") > 0
    assert fs.error_se == pytest.approx(fs.error_draws.std(ddof=1) / math.sqrt(fs.draws), rel=1e-10)
    assert (fs.n0, fs.m, fs.n1, fs.phi, fs.psi) == (60, 90, 70, 60 / 90, 60 / 70)


def test_in_distribution_equals_ood_when_sigma_star_is_sigma():
    S = np.diag(power(50, 1.0))
    fs = rf.finite_size(S, S, m=100, n1=60, gamma=0.01, noise_var=0.1, activation="tanh", draws=3)
    assert fs.error == pytest.approx(fs.error_id, rel=1e-12)
    assert fs.bias == pytest.approx(fs.bias_id, rel=1e-12)


def test_target_covariance_scales_the_noiseless_error():
    S = np.diag(power(40, 1.0))
    Ss = np.eye(40)
    base = rf.finite_size(S, Ss, m=60, n1=50, gamma=0.05, draws=3)
    scaled = rf.finite_size(S, Ss, m=60, n1=50, gamma=0.05, draws=3, target_cov=3.0 * np.ones(40))
    dense = rf.finite_size(S, Ss, m=60, n1=50, gamma=0.05, draws=3, target_cov=np.eye(40))
    assert scaled.error == pytest.approx(3 * base.error, rel=1e-10)
    assert scaled.bias_id == pytest.approx(3 * base.bias_id, rel=1e-10)
    assert dense.error == pytest.approx(base.error, rel=1e-12)


def test_ridgeless_interpolation_threshold_is_inf_and_rank_deficient_linear_is_finite():
    S = np.diag(power(30, 0.5))
    peak = rf.finite_size(S, S, m=40, n1=40, gamma=0.0, draws=3)
    assert peak.error == math.inf and peak.error_id == math.inf and peak.variance == math.inf
    assert math.isfinite(peak.bias)
    # linear features with n1 > n0 have rank n0 < m: least squares in the n0-dim span, κ = 0
    lin = rf.finite_size(S, S, m=60, n1=50, gamma=0.0, noise_var=0.1, activation="linear", draws=3)
    assert math.isfinite(lin.error) and lin.error > 0
    assert np.all(lin.kappa == 0.0)


def test_from_samples_agrees_with_gaussian_moments_for_gaussian_inputs():
    n0 = 30
    lam = power(n0, 1.0)
    rng = np.random.default_rng(5)
    Xa = rng.standard_normal((5000, n0)) * np.sqrt(lam)
    Xb = rng.standard_normal((5000, n0)) * np.sqrt(lam[::-1])
    g = rf.finite_size(np.diag(lam), np.diag(lam[::-1]), m=60, n1=45, gamma=0.05, noise_var=0.1, draws=3)
    s = rf.finite_size.from_samples(Xa, Xb, m=60, n1=45, gamma=0.05, noise_var=0.1, draws=3)
    assert s.source == "samples" and g.source == "gaussian"
    # same W draws; the difference is the moments' sampling error (~1/√N per entry)
    assert s.error == pytest.approx(g.error, rel=0.02)
    assert s.error_id == pytest.approx(g.error_id, rel=0.02)
    assert rf.finite_size_from_samples is rf.finite_size.from_samples


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(draws=2), ValueError, "draws"),
    (dict(m=0), ValueError, "m must be"),
    (dict(n1=1.5), TypeError, "n1"),
    (dict(gamma=-1.0), ValueError, "gamma"),
    (dict(noise_var=float("nan")), ValueError, "noise_var"),
    (dict(target_cov=np.ones(3)), ValueError, "target_cov"),
    (dict(activation="nope"), ValueError, "unknown activation"),
])
def test_bad_inputs(kwargs, exc, match):
    base = dict(m=10, n1=10, gamma=0.1)
    base.update(kwargs)
    with pytest.raises(exc, match=match):
        rf.finite_size(np.eye(4), np.eye(4), **base)


def test_bad_covariances():
    with pytest.raises(ValueError, match="same shape"):
        rf.finite_size(np.eye(3), np.eye(4), m=5, n1=5, gamma=0.1)
    with pytest.raises(ValueError, match="Sigma_star"):
        rf.finite_size(np.eye(3), np.zeros((3, 3)), m=5, n1=5, gamma=0.1)
    with pytest.raises(ValueError, match="columns"):
        rf.finite_size.from_samples(np.ones((5, 3)), np.ones((5, 2)), n1=5, gamma=0.1)


# --- the concentration diagnostic -------------------------------------------------------------------

def _warnings_of(spec):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        rf.asymptotics(spec, phi=0.5, psi=1.0, gamma=0.01, noise_var=0.25)
    return [w for w in rec if issubclass(w.category, rf.ConcentrationWarning)]


def test_warning_fires_on_heavy_tailed_and_spiked_covariances():
    lam = power(400, 1.0)
    got = _warnings_of(rf.Spectrum.from_covariances(np.diag(lam), np.diag(lam)))
    assert len(got) == 1 and "finite_size" in str(got[0].message) and "effective rank" in str(got[0].message)
    spike = np.full(200, 100 / 199)
    spike[0] = 100.0
    assert len(_warnings_of(rf.Spectrum.from_covariances(np.diag(spike), np.eye(200)))) == 1
    c = rf.concentration(rf.Spectrum.from_covariances(np.diag(spike), np.eye(200)))
    assert c.top_share == pytest.approx(0.5) and c.effective_rank < 4.1


def test_warning_silent_on_well_spread_spectra_and_bundled_shift_families():
    from rfshift import shifts

    for name, fam in shifts.FAMILIES.items():
        assert _warnings_of(fam()) == [], name
        assert rf.concentration(fam()) is None  # a bare atomic measure: no n0, nothing to check
    lam = np.linspace(0.5, 1.5, 400)
    assert _warnings_of(rf.Spectrum.from_covariances(np.diag(lam), np.diag(lam[::-1]))) == []
    assert _warnings_of(rf.Spectrum.from_covariances(np.eye(200), 2 * np.eye(200))) == []
    # an explicit n0 turns the check on for an atomic spectrum
    c = rf.concentration(rf.Spectrum([1.5, 0.5], [0.5, 1.5], n0=1000))
    assert c.effective_rank == pytest.approx(1000 * 1.0 / 1.25) and not c.concentrated


def test_bias_and_variance_approach_the_limit_on_a_well_spread_spectrum():
    # The W-averaged bias from pairs of draws vs the engine's bias (an independent formula, THEORY §5):
    # docs/validation.md §9.2 measures gaps of +0.5% at n0 = 100 and +0.03% at n0 = 1600.
    n0 = 150
    lam = np.linspace(0.5, 1.5, n0)
    fs = rf.finite_size(np.diag(lam), np.diag(lam[::-1]), m=2 * n0, n1=n0, gamma=0.05, noise_var=0.1,
                        draws=6, seed=2)
    lim = rf.asymptotics(rf.Spectrum(lam, lam[::-1]), phi=0.5, psi=1.0, gamma=0.05, noise_var=0.1)
    for k in ("error", "bias", "variance", "error_id", "bias_id", "variance_id"):
        val, se, ref = getattr(fs, k), getattr(fs, k + "_se"), float(getattr(lim, k))
        assert abs(val - ref) <= 3.5 * se + 0.01 * ref, k


def test_refuses_sizes_beyond_the_memory_limit():
    with pytest.raises(ValueError, match="GiB"):
        rf.finite_size(np.eye(3), np.eye(3), m=10, n1=200_000, gamma=0.1)


def test_cli_finite_prints_finite_size_and_limit(tmp_path, capsys):
    import json

    from rfshift.cli import main

    lam = power(40, 1.0)
    np.save(tmp_path / "S.npy", np.diag(lam))
    np.save(tmp_path / "Ss.npy", np.eye(40))
    argv = ["finite", "--sigma", str(tmp_path / "S.npy"), "--sigma-star", str(tmp_path / "Ss.npy"),
            "--m", "80", "--n1", "40", "--draws", "3", "--format", "json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    ref = rf.finite_size(np.diag(lam), np.eye(40), m=80, n1=40, gamma=0.01, noise_var=0.1, draws=3)
    assert out["finite_size"]["error"] == pytest.approx(ref.error, rel=1e-12)
    assert out["limit"]["error"] > 0 and out["concentration_warning"]  # r_eff = 10: warned
    assert main(["finite", "--sigma", str(tmp_path / "missing.npy"), "--m", "5", "--n1", "5"]) == 2
    assert "no such file" in capsys.readouterr().err
