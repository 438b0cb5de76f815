"""Hypothesis property tests: identities of the engine and input validation (never NaN)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rfshift as rf

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACTS = st.sampled_from(["relu", "erf", "tanh", "linear", "gelu", "softplus"])

pos = st.floats(min_value=1e-3, max_value=1e2, allow_nan=False, allow_infinity=False)
nonneg = st.one_of(st.just(0.0), pos)


@st.composite
def spectra(draw, min_atoms=1, max_atoms=6):
    n = draw(st.integers(min_atoms, max_atoms))
    lam = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 50.0)), min_size=n, max_size=n))
    ls = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 50.0)), min_size=n, max_size=n))
    w = draw(st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n))
    lam, ls, w = np.array(lam), np.array(ls), np.array(w)
    assume(w @ lam > 1e-3 and w @ ls > 1e-3)
    return lam, ls, w


@st.composite
def params(draw):
    phi = draw(st.floats(0.05, 20.0))
    psi = draw(st.one_of(st.just(0.0), st.floats(0.05, 20.0)))
    gamma = draw(st.one_of(st.just(0.0), st.floats(1e-6, 100.0)))
    noise = draw(st.one_of(st.just(0.0), st.floats(0.0, 10.0)))
    if gamma == 0:
        assume(abs(psi - phi) > 1e-3 * phi)
    return phi, psi, gamma, noise


def _run(spec, p, act):
    phi, psi, gamma, noise = p
    # moderate parameters: a ConvergenceError here would be a bug, so it is not caught
    return rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise, activation=act)


@SETTINGS
@given(spectra(), params(), ACTS)
def test_error_is_bias_plus_variance_and_nonnegative(sp, p, act):
    lam, ls, w = sp
    res = _run(rf.Spectrum(lam, ls, w), p, act)
    for e, b, v in ((res.error, res.bias, res.variance), (res.error_id, res.bias_id, res.variance_id)):
        assert np.isfinite(e) and np.isfinite(b) and np.isfinite(v)
        assert b >= 0 and v >= -1e-15 * max(1.0, abs(e))
        assert e == pytest.approx(b + v, rel=1e-12, abs=1e-300)
    assert res.kappa > 0 and res.t >= 0 and res.t_bar >= 0
    assert res.variance_terms.w >= -1e-15 and res.variance_terms.x >= -1e-15
    assert res.variance_terms.x_eps >= -1e-15


@SETTINGS
@given(spectra(), params(), ACTS)
def test_no_shift_means_ood_equals_id(sp, p, act):
    lam, _, w = sp
    assume(w @ lam > 1e-3)
    res = _run(rf.Spectrum(lam, lam, w), p, act)
    assert res.error == res.error_id and res.bias == res.bias_id and res.variance == res.variance_id


@SETTINGS
@given(spectra(), params(), ACTS, st.floats(0.0, 5.0), st.floats(1e-3, 5.0))
def test_error_nondecreasing_in_noise(sp, p, act, nv, dnv):
    lam, ls, w = sp
    phi, psi, gamma, _ = p
    spec = rf.Spectrum(lam, ls, w)
    res = _run(spec, (phi, psi, gamma, np.array([nv, nv + dnv, nv + 2 * dnv])), act)
    e = np.asarray(res.error)
    assert e[1] >= e[0] * (1 - 1e-12) and e[2] >= e[1] * (1 - 1e-12)
    # and it is affine in the noise variance (the bias does not move)
    assert e[2] - e[1] == pytest.approx(e[1] - e[0], rel=1e-7, abs=1e-12 * max(1.0, e[2]))
    assert np.ptp(res.bias) <= 1e-14 * max(1.0, float(res.bias[0]))


@SETTINGS
@given(spectra(min_atoms=2), params(), ACTS, st.randoms(use_true_random=False))
def test_invariant_under_permuting_and_splitting_atoms(sp, p, act, rnd):
    lam, ls, w = sp
    base = _run(rf.Spectrum(lam, ls, w), p, act)
    perm = np.array(rnd.sample(range(lam.size), lam.size))
    permuted = _run(rf.Spectrum(lam[perm], ls[perm], w[perm]), p, act)
    k = rnd.randrange(lam.size)
    frac = rnd.uniform(0.1, 0.9)
    lam2, ls2 = np.append(lam, lam[k]), np.append(ls, ls[k])
    w2 = np.append(w, w[k] * (1 - frac))
    w2[k] *= frac
    split = _run(rf.Spectrum(lam2, ls2, w2), p, act)
    for other in (permuted, split):
        for f in ("error", "bias", "variance", "error_id", "kappa"):
            assert float(getattr(other, f)) == pytest.approx(float(getattr(base, f)), rel=1e-9), f


@SETTINGS
@given(spectra(), params(), st.sampled_from(["relu", "linear"]), st.floats(0.05, 20.0))
def test_homogeneous_activation_scaling(sp, p, act, c):
    """ReLU/linear are 1-homogeneous: scaling Σ, Σ* by c, the ridge by c and the noise by c scales
    every error by c (features and targets both scale by √c)."""
    lam, ls, w = sp
    phi, psi, gamma, noise = p
    a = _run(rf.Spectrum(lam, ls, w), p, act)
    b = _run(rf.Spectrum(c * lam, c * ls, w), (phi, psi, c * gamma, c * noise), act)
    for f in ("error", "bias", "variance", "error_id"):
        assert float(getattr(b, f)) == pytest.approx(c * float(getattr(a, f)), rel=1e-9, abs=1e-300), f


# --- validation: bad input raises ValueError/TypeError, never returns NaN ---------------------------

bad_scalars = st.one_of(
    st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False),
    st.just(float("nan")), st.just(float("inf")), st.just(float("-inf")),
    st.text(max_size=5), st.booleans(), st.complex_numbers(allow_nan=False, min_magnitude=1e-3).filter(
        lambda z: z.imag != 0),
    st.just(None), st.just([]), st.just([[0.5, float("nan")]]), st.just({"a": 1}),
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["phi", "psi", "gamma", "noise_var"]), bad_scalars)
def test_bad_hyperparameters_raise(name, bad):
    kw = dict(phi=0.5, psi=0.3, gamma=0.1, noise_var=0.1)
    kw[name] = bad
    with pytest.raises((ValueError, TypeError)):
        rf.asymptotics(rf.Spectrum.isotropic(), **kw)


bad_entries = st.one_of(
    st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False),
    st.just(float("nan")), st.just(float("inf")),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=5), st.data())
def test_bad_spectra_raise(good, data):
    n = len(good)
    which = data.draw(st.sampled_from(["lam", "lam_star", "weights"]))
    bad = list(good)
    bad[data.draw(st.integers(0, n - 1))] = data.draw(bad_entries)
    args = {"lam": list(good), "lam_star": list(good), "weights": [1.0] * n}
    args[which] = bad
    with pytest.raises((ValueError, TypeError)):
        rf.Spectrum(**args)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.floats(-1.0, -1e-3), st.integers(0, 10_000))
def test_non_psd_covariance_raises(n, neg, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = rng.uniform(0.5, 2.0, n)
    lam[0] = neg
    S = (q * lam) @ q.T
    with pytest.raises(ValueError, match="positive semi-definite"):
        rf.Spectrum.from_covariances(S, np.eye(n))
    with pytest.raises(ValueError, match="positive semi-definite"):
        rf.Spectrum.from_covariances(np.eye(n), S)


@settings(max_examples=40, deadline=None)
@given(spectra(), ACTS,
       st.floats(1e-4, 1e4), st.one_of(st.just(0.0), st.floats(1e-4, 1e4)),
       st.one_of(st.just(0.0), st.floats(1e-12, 1e6)), st.floats(0.0, 1e4))
def test_extreme_valid_inputs_never_nan(sp, act, phi, psi, gamma, noise):
    """Anywhere in the valid domain: finite numbers (inf only at the ridgeless peak) or a
    ConvergenceError — never NaN."""
    lam, ls, w = sp
    try:
        res = rf.asymptotics(rf.Spectrum(lam, ls, w), phi=phi, psi=psi, gamma=gamma, noise_var=noise,
                             activation=act)
    except rf.ConvergenceError:
        return
    peak = bool(res.interpolation_peak)
    for f in ("error", "bias", "variance", "error_id", "kappa", "t", "t_bar", "delta"):
        assert not math.isnan(float(getattr(res, f))), f
    assert res.t >= 0 and res.t_bar >= 0
    if not peak:
        assert math.isfinite(float(res.error)) and math.isfinite(float(res.error_id))
    else:
        assert gamma == 0
