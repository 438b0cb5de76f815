"""Finite-size mode (rfshift.finite_size) and the engine's concentration diagnostic."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _numpy_sim import simulate_rf, threadpool_limits
from scipy import integrate

import rfshift as rf
from rfshift import _kernels
from rfshift.activations import Activation, get_activation


def power(n0: int, a: float) -> np.ndarray:
    lam = np.arange(1, n0 + 1, dtype=float) ** -a
    return lam / lam.mean()


# --- kernels ----------------------------------------------------------------------------------------

def _bivariate(fn, bps, v1, v2, c, fn2=None, bps2=None):
    """E σ(g)σ₂(h) by nested adaptive quadrature (independent of the Mehler series); σ₂ = σ by default."""
    fn2, bps2 = (fn, bps) if fn2 is None else (fn2, bps2)
    a = c / math.sqrt(v1)
    b = math.sqrt(v2 - a * a)

    def pdf(t):
        return math.exp(-t * t / 2) / math.sqrt(2 * math.pi)

    def inner(z1):
        pts = [p for p in ((bp - a * z1) / b for bp in bps2) if -12 < p < 12] or None
        val = integrate.quad(lambda z2: fn2(np.array([a * z1 + b * z2]))[0] * pdf(z2), -12, 12, points=pts,
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


# --- step 1 and step 2 checked separately, at one fixed W (docs/validation.md §9.4) ------------------

def _rotated_low_rank(n0: int, scale: float, seed: int) -> np.ndarray:
    """Q diag(λ) Qᵀ with λ_k ∝ k^-1.5 (effective rank ≈ 5): a non-diagonal, concentrated covariance."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n0, n0)))
    lam = power(n0, 1.5)
    return scale * (q * lam) @ q.T


def _law_moments(S, act, W):
    import importlib

    fsm = importlib.import_module("rfshift.finite_size")
    law = fsm._GaussianLaw(S, get_activation(act))
    st = law.prepare(W)
    Phi, _ = law.second(st, st, same=True)
    return law, Phi, st["Psi"]


@pytest.mark.parametrize("act", ["relu", "erf", "tanh"])
def test_feature_moments_match_brute_force_sampling_on_a_low_rank_rotated_covariance(act):
    """Φ = E σ(g)σ(g)ᵀ and Ψ = E σ(g)xᵀ/√n0 (step 1) against a plain sample average over x ~ N(0, S),
    per entry |z| with the sample s.e. — independent of the closed forms, Mehler and Stein."""
    n0, n1, N = 12, 8, 100_000
    S = _rotated_low_rank(n0, 0.3, seed=2)  # small variances, as Σ* of the 10×10 patches (tr/n0 = 0.29)
    W = np.random.default_rng(3).standard_normal((n1, n0))
    _, Phi, Psi = _law_moments(S, act, W)
    X = np.random.default_rng(4).standard_normal((N, n0)) @ np.linalg.cholesky(S + 1e-15 * np.eye(n0)).T
    F = get_activation(act).fn(X @ W.T / math.sqrt(n0))
    for prod, ref in (((F[:, :, None] * F[:, None, :]).reshape(N, -1), Phi.ravel()),
                      ((F[:, :, None] * X[:, None, :]).reshape(N, -1) / math.sqrt(n0), Psi.ravel())):
        z = (prod.mean(axis=0) - ref) / (prod.std(axis=0, ddof=1) / math.sqrt(N))
        assert np.abs(z).max() < 4.5, (act, np.abs(z).max())


def _gcm_monte_carlo(S, Ss, act, W, m, gamma, noise_var, trials, seed):
    """Ridge on *exactly Gaussian* features with the DE's own moments (the Gaussian covariate model
    given W): (f, x) jointly Gaussian with E ffᵀ = Φ, E f xᵀ = √n0 Ψ, E xxᵀ = S; the test error is
    exact in x, β and ε. Returns (mean, s.e.) per test law (OOD, ID) and the moments."""
    n0, n1 = S.shape[0], W.shape[0]
    train, Phi, Psi = _law_moments(S, act, W)
    test, PhiT, PsiT = _law_moments(Ss, act, W)
    J = np.block([[Phi, math.sqrt(n0) * Psi], [math.sqrt(n0) * Psi.T, S]])
    ev, V = np.linalg.eigh(J)
    half = (V * np.sqrt(np.maximum(ev, 0.0))) @ V.T
    rng = np.random.default_rng(seed)
    moments = ((PhiT, PsiT, test.target2(None)), (Phi, Psi, train.target2(None)))
    with threadpool_limits(1):  # small matrices: BLAS threads only contend on a busy machine
        out = [_gcm_trial(half, rng, n0, n1, m, gamma, noise_var, moments) for _ in range(trials)]
    out = np.array(out)
    return out.mean(axis=0), out.std(axis=0, ddof=1) / math.sqrt(trials), (train, test, Phi, Psi, PhiT, PsiT)


def _gcm_trial(half, rng, n0, n1, m, gamma, noise_var, moments):
    """One training set of the Gaussian covariate model; the exact test error per test law."""
    Z = half @ rng.standard_normal((n1 + n0, m))
    F, X = Z[:n1], Z[n1:]
    if n1 <= m:
        G = np.linalg.solve(F @ F.T + n1 * gamma * np.eye(n1), F)
    else:
        G = np.linalg.solve(F.T @ F + n1 * gamma * np.eye(m), F.T).T
    H = X.T @ X / n0
    H[np.diag_indices(m)] += noise_var
    return [t - 2 * float(np.sum(X * (G.T @ P).T)) / math.sqrt(n0) + float(np.sum((G @ H) * (M @ G)))
            for M, P, t in moments]


def _de_given_w(train, test, W, m, gamma, noise_var):
    import importlib

    fsm = importlib.import_module("rfshift.finite_size")
    laws = (test, train)
    out, _, _, _ = fsm._draw(train, laws, W, m, W.shape[0], gamma, noise_var, fsm._linear_target(None, laws))
    return np.array([sum(o) for o in out])


@pytest.mark.parametrize("act", ["erf", "tanh"])
def test_ridgeless_underparameterised_de_is_the_exact_gaussian_result_up_to_m_minus_n1_minus_1(act):
    """Least squares on Gaussian features (n1 < m, γ = 0) has the exact error
    E_T(θ*) + σ_e² tr(Φ_T Φ^{-1})/(m − n1 − 1) (inverse-Wishart mean); the deterministic equivalent is
    the same with m − n1. Checks the cross term (Ψ_T), Φ_T, κ = 0 and the noise σ_e² exactly, and the
    exact formula against a Monte Carlo of the Gaussian covariate model (|z| ≤ 3.5)."""
    n0, n1, m, noise = 30, 40, 120, 0.2
    S = np.diag(power(n0, 1.5))
    Ss = _rotated_low_rank(n0, 0.5, seed=1)  # non-commuting, low-rank test law
    W = np.random.default_rng(0).standard_normal((n1, n0))
    mean, se, (train, test, Phi, Psi, PhiT, PsiT) = _gcm_monte_carlo(S, Ss, act, W, m, 0.0, noise, 300, 1)
    A = np.linalg.solve(Phi, Psi)  # θ* = Φ^{-1}Ψβ
    sig_e = noise + train.target2(None) - float(np.sum(Psi * A))
    de = _de_given_w(train, test, W, m, 0.0, noise)
    for k, (M, P, t) in enumerate(((PhiT, PsiT, test.target2(None)), (Phi, Psi, train.target2(None)))):
        bias = t - 2 * float(np.sum(P * A)) + float(np.sum(A * (M @ A)))
        tr = float(np.trace(np.linalg.solve(Phi, M)))
        assert de[k] == pytest.approx(bias + sig_e * tr / (m - n1), rel=1e-9)
        exact = bias + sig_e * tr / (m - n1 - 1)
        assert abs(exact - mean[k]) <= 3.5 * se[k], (k, exact, mean[k], se[k])


@pytest.mark.slow
@pytest.mark.parametrize("act,m,n1,gamma", [("erf", 400, 50, 0.01), ("relu", 80, 200, 0.0)])
def test_de_given_w_matches_gaussian_covariate_model_monte_carlo(act, m, n1, gamma):
    """Step 2 alone: at a fixed W, the deterministic equivalent against ridge on exactly Gaussian
    features with the same moments (OOD with a non-commuting, low-rank Σ*; ridge and ridgeless
    over-parameterised, where κ solves df₁ = m). Allowed: 3.5 s.e. plus the DE's own O(1/m) residual,
    measured ≤ 0.6% here (1/(n1 − m) = 0.8% of the variance in the ridgeless case)."""
    n0 = 40
    S = np.diag(power(n0, 1.5))
    Ss = _rotated_low_rank(n0, 0.3, seed=5)
    W = np.random.default_rng(1).standard_normal((n1, n0))
    mean, se, (train, test, *_) = _gcm_monte_carlo(S, Ss, act, W, m, gamma, 0.1, 120, 2)
    de = _de_given_w(train, test, W, m, gamma, 0.1)
    for k in range(2):
        assert abs(de[k] - mean[k]) <= 3.5 * se[k] + 0.01 * mean[k], (k, de[k], mean[k], se[k])


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
    # the data variance diverges (no label noise: 0 · ∞ := 0), the variance over W does not
    assert peak.variance_sampling == math.inf and peak.variance_noise == 0.0
    assert math.isfinite(peak.variance_w) and peak.variance_w >= 0
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


# --- nonlinear targets and the variance split (docs/theory.md §20.1) -------------------------------

def test_variance_split_sums_to_the_variance_and_is_non_negative():
    S = np.diag(power(60, 1.0))
    for kw in ({}, {"teacher": "tanh"}, {"nonlinear_var": 0.1}):
        fs = rf.finite_size(S, S[::-1, ::-1], m=90, n1=70, gamma=0.02, noise_var=0.2, activation="erf",
                            draws=4, seed=1, **kw)
        for sfx in ("", "_id"):
            parts = [getattr(fs, f"variance_{p}{sfx}") for p in ("w", "noise", "sampling")]
            assert sum(parts) == pytest.approx(getattr(fs, "variance" + sfx), rel=1e-12, abs=1e-14)
            assert all(p > 0 for p in parts)
            for p in ("w", "noise", "sampling"):
                assert 0 < getattr(fs, f"variance_{p}{sfx}_se") < math.inf
    # no label noise: no label-noise variance; the sampling part alone carries the data variance
    clean = rf.finite_size(S, S, m=90, n1=70, gamma=0.02, draws=3, seed=1)
    assert clean.variance_noise == 0 and clean.variance_sampling > 0


def test_nonlinear_var_is_label_noise_on_x_plus_irreducible_test_error():
    # A number-valued nonlinear part g (uncorrelated with the features) trains like label noise and adds
    # σ_g*² (OOD) / σ_g² (ID) to the error and the bias, exactly; only the variance split differs.
    S = np.diag(power(50, 1.0))
    Ss = np.diag(power(50, 0.5))
    common = dict(m=80, n1=60, gamma=0.02, activation="relu", draws=3, seed=4)
    g = rf.finite_size(S, Ss, noise_var=0.1, nonlinear_var=0.15, nonlinear_var_test=0.3, **common)
    e = rf.finite_size(S, Ss, noise_var=0.25, **common)
    assert g.error == pytest.approx(e.error + 0.3, rel=1e-12)
    assert g.error_id == pytest.approx(e.error_id + 0.15, rel=1e-12)
    assert g.bias == pytest.approx(e.bias + 0.3, rel=1e-12)
    assert g.variance_w == pytest.approx(e.variance_w, rel=1e-12)
    assert g.variance == pytest.approx(e.variance, rel=1e-12)
    assert g.variance_noise == pytest.approx(e.variance_noise * 0.1 / 0.25, rel=1e-12)
    assert (g.nonlinear_var, g.nonlinear_var_test, g.teacher) == (0.15, 0.3, None)
    same = rf.finite_size(S, Ss, noise_var=0.1, nonlinear_var=0.15, **common)
    assert same.nonlinear_var_test == 0.15


def test_linear_teacher_agrees_with_the_exact_beta_average():
    # teacher="linear" samples β (two per draw); the default averages β ~ N(0, B) exactly: same W draws
    n0 = 40
    S = np.diag(power(n0, 0.5))
    b = np.linspace(2.0, 0.5, n0)
    common = dict(m=70, n1=50, gamma=0.05, noise_var=0.1, activation="erf", seed=2, target_cov=b)
    exact = rf.finite_size(S, np.eye(n0), draws=30, **common)
    sampled = rf.finite_size(S, np.eye(n0), draws=30, teacher="linear", **common)
    assert sampled.teacher == "linear"
    for k in ("error", "bias", "variance_w", "error_id", "bias_id"):
        val, se, ref, ref_se = (getattr(sampled, k), getattr(sampled, k + "_se"), getattr(exact, k),
                                getattr(exact, k + "_se"))
        assert abs(val - ref) <= 3.5 * math.hypot(se, ref_se), k
    # the label-noise part depends only on W (not on β): identical on the same W draws
    assert sampled.variance_noise == pytest.approx(exact.variance_noise, rel=1e-12)


def test_two_activation_kernel_matches_bivariate_quadrature():
    rng = np.random.default_rng(3)
    v = rng.uniform(0.5, 2.0, 5)
    vt = 1.3
    c = np.array([0.1, -0.4, 0.9, 0.95, 0.0])[:, None] * np.sqrt(v[:, None] * vt)
    for a, t in (("relu", "tanh"), ("tanh", "erf"), ("gelu", "linear")):
        act, teach = get_activation(a), get_activation(t)
        fm = _kernels.feature_moments(act, c, v, np.array([vt]), act2=teach)
        for i in (1, 2):
            ref = _bivariate(act.fn, act.breakpoints, v[i], vt, c[i, 0], teach.fn, teach.breakpoints)
            assert fm.M[i, 0] == pytest.approx(ref, abs=1e-9 + 10 * fm.bound), (a, t, i)


@pytest.mark.slow
def test_teacher_matches_monte_carlo_of_the_finite_model():
    from _numpy_sim import simulate_full

    # heavy-tailed shift, erf student, tanh teacher: error, bias, V_W and the data variance
    n0, m, n1 = 50, 100, 60
    lam = power(n0, 1.0)
    S, Ss = np.diag(lam), np.diag(lam[::-1])
    mc = simulate_full("erf", S, Ss, phi=n0 / m, psi=n0 / n1, gamma=0.02, noise_var=0.2, trials=40,
                       seed=0, teacher="tanh", n_ens=2, ks=(1,))
    fs = rf.finite_size(S, Ss, m=m, n1=n1, gamma=0.02, noise_var=0.2, activation="erf", draws=24, seed=0,
                        teacher="tanh")
    for sfx in ("", "_id"):
        s = mc.samples
        v = s["dis_independent" + sfx] / 2
        data = s["dis_shared_features" + sfx] / 2
        ref = {"error": s["error" + sfx], "bias": s["error" + sfx] - v, "variance_w": v - data,
               "variance_noise": s["noise_part" + sfx]}
        for k, x in ref.items():
            val, se = getattr(fs, k + sfx), getattr(fs, k + sfx + "_se")
            ref_m, ref_se = float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))
            assert abs(val - ref_m) <= 3.5 * math.hypot(se, ref_se) + MODEL_RTOL * abs(ref_m), (k + sfx)


def test_from_samples_teacher_agrees_with_gaussian_route_for_gaussian_inputs():
    n0 = 30
    lam = power(n0, 1.0)
    rng = np.random.default_rng(5)
    Xa = rng.standard_normal((8000, n0)) * np.sqrt(lam)
    Xb = rng.standard_normal((8000, n0)) * np.sqrt(lam[::-1])
    common = dict(m=60, n1=45, gamma=0.05, noise_var=0.1, draws=3, teacher="tanh", nonlinear_var=0.05)
    g = rf.finite_size(np.diag(lam), np.diag(lam[::-1]), **common)
    s = rf.finite_size.from_samples(Xa, Xb, **common)
    # same W and β draws: the difference is the moments' sampling error (~1/√N)
    for k in ("error", "bias", "variance_w", "variance_sampling", "error_id"):
        assert getattr(s, k) == pytest.approx(getattr(g, k), rel=0.03), k


def test_split_and_teacher_approach_the_limit_on_a_well_spread_spectrum():
    # docs/validation.md §9.8: at n0 = 150 the split is within 0.1% of the engine's ANOVA terms
    n0 = 150
    lam = np.linspace(0.5, 1.5, n0)
    fs = rf.finite_size(np.diag(lam), np.diag(lam[::-1]), m=2 * n0, n1=n0, gamma=0.05, noise_var=0.1,
                        draws=6, seed=2)
    lim = rf.asymptotics(rf.Spectrum(lam, lam[::-1]), phi=0.5, psi=1.0, gamma=0.05, noise_var=0.1)
    for sfx, tm in (("", lim.variance_terms), ("_id", lim.variance_terms_id)):
        for k, ref in (("w", tm.w), ("noise", tm.x_eps + tm.wx_eps), ("sampling", tm.x + tm.wx)):
            val, se = getattr(fs, f"variance_{k}{sfx}"), getattr(fs, f"variance_{k}{sfx}_se")
            assert abs(val - float(ref)) <= 3.5 * se + 0.01 * float(ref), k + sfx


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(teacher="relu"), ValueError, "teacher 'relu' has a non-zero Gaussian mean"),
    (dict(teacher="nope"), ValueError, "teacher"),
    (dict(nonlinear_var=-0.1), ValueError, "nonlinear_var"),
    (dict(nonlinear_var_test=float("inf")), ValueError, "nonlinear_var_test"),
    (dict(nonlinear_var=[0.1, 0.2]), ValueError, "nonlinear_var"),
])
def test_bad_target_inputs(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        rf.finite_size(np.eye(4), np.eye(4), m=10, n1=10, gamma=0.1, **kwargs)
    with pytest.raises(exc, match=match):
        rf.finite_size.from_samples(np.eye(4) + 0.1, np.eye(4), m=4, n1=10, gamma=0.1, **kwargs)


# --- field-trial fixes: what a user hits at the edges ---------------------------------------------

def test_negative_pair_bias_is_reported_as_zero_with_a_warning():
    """Near the ridgeless threshold with 3 draws the pair estimate of the bias is unresolved and can
    be negative; the bias cannot be, so it is reported as 0 (with the raw value in a warning) and the
    split still sums to the variance."""
    rng = np.random.default_rng(0)
    X, Xt = rng.standard_normal((60, 20)), rng.standard_normal((50, 20))
    with pytest.warns(RuntimeWarning, match="came out negative"):
        r = rf.finite_size.from_samples(X, Xt, n1=59, gamma=0.0, draws=3)
    for sfx in ("", "_id"):
        bias, var, err = (getattr(r, f + sfx) for f in ("bias", "variance", "error"))
        assert bias >= 0 and var >= 0 and var <= err
        split = sum(getattr(r, f"variance_{k}{sfx}") for k in ("w", "noise", "sampling"))
        assert split == pytest.approx(var, rel=1e-12)
        assert getattr(r, f"variance_w{sfx}") >= 0


@pytest.mark.parametrize("scale, noise", [(1e160, 0.0), (1.0, 1e300)])
def test_float64_overflow_is_refused_not_nan(scale, noise):
    S = np.eye(20) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's own overflow warnings on the way
        with pytest.raises(ValueError, match="overflows float64"):
            rf.finite_size(S, S, m=40, n1=30, gamma=0.1, draws=3, noise_var=noise)


def test_pool_refused_where_it_would_be_ignored_and_named_when_too_large():
    S = np.eye(5)
    with pytest.raises(ValueError, match="pool is used only by equivalent='generalized'"):
        rf.finite_size(S, S, m=10, n1=5, gamma=0.1, draws=3, pool=2000)  # "gaussian" has no pool
    X = np.random.default_rng(0).standard_normal((40, 5))
    with pytest.raises(ValueError, match="pool is the training rows"):
        rf.finite_size.from_samples(X, X, n1=5, gamma=0.1, draws=3, equivalent="generalized", pool=2000)
    assert rf.finite_size.DEFAULT_POOL == 8000
    with pytest.raises(ValueError, match=r"pool = 1000000000 .*use a smaller pool"):
        rf.finite_size(S, S, m=10, n1=5, gamma=0.1, draws=3, equivalent="generalized", pool=10**9)


def test_spectrum_instead_of_a_covariance_is_a_clear_type_error():
    with pytest.raises(TypeError, match="Sigma must be an n0 × n0 covariance matrix, got a Spectrum"):
        rf.finite_size(rf.Spectrum.isotropic(), np.eye(3), m=10, n1=5, gamma=0.1)


def test_refused_teacher_advice_names_this_functions_arguments():
    with pytest.raises(ValueError, match="target_cov and nonlinear_var") as info:
        rf.finite_size(np.eye(10), np.eye(10), m=20, n1=10, gamma=0.1, teacher="relu")
    assert "target_power" not in str(info.value)


def test_warning_on_a_small_well_spread_spectrum_blames_the_size_not_the_spectrum():
    from rfshift._diagnostics import concentration

    lam = np.linspace(0.5, 1.5, 16)
    c = concentration(rf.Spectrum(lam, lam, n0=16))
    assert c.concentrated and c.message().startswith("n0 = 16 is small for the proportional limit")
    lam = 1 / np.arange(1, 101)
    c = concentration(rf.Spectrum(lam, lam, n0=100))
    assert c.message().startswith("the spectrum is concentrated") and "generalized" in c.message()
