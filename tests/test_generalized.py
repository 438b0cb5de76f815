"""Generalized (x-dependent) deterministic equivalent given W (rfshift._generalized, theory.md §20.2)."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from rfshift import _generalized as gz
from rfshift.activations import get_activation

fsm = importlib.import_module("rfshift.finite_size")  # the module (rfshift.finite_size is also a function)


def _power(n0: int, a: float) -> np.ndarray:
    lam = np.arange(1, n0 + 1, dtype=float) ** -a
    return lam / lam.mean()


def _laws(S, Ss, act, W):
    a = get_activation(act)
    train, test = fsm._GaussianLaw(S, a), fsm._GaussianLaw(Ss, a)
    out = []
    for law in (test, train):  # OOD, ID
        st = law.prepare(W)
        PhiT, _ = law.second(st, st, True)
        out.append((PhiT, st["Psi"], law.target2(None)))
    st = train.prepare(W)
    return train, test, out, st


def _draw_de(train, test, W, m, n1, gamma, noise_var):
    """finite_size's own DE given W (either _draw signature)."""
    laws = (test, train)
    if hasattr(fsm, "_linear_target"):
        out, *_ = fsm._draw(train, laws, W, m, n1, gamma, noise_var, fsm._linear_target(None, laws))
        return [float(sum(o)) for o in out]
    out, *_ = fsm._draw(train, laws, W, m, n1, gamma, noise_var, None, train.target2(None),
                        (test.target2(None), train.target2(None)))
    return [float(o) for o in out]


@pytest.mark.parametrize(("m", "n1", "gamma"), [(60, 40, 0.05), (80, 40, 0.0), (40, 70, 0.0)])
def test_constant_reduction_is_the_current_equivalent(m, n1, gamma):
    """D, u, ρ frozen at their means: exactly §20 step 2 (ridge, ridgeless n1 < m, ridgeless n1 > m)."""
    n0 = 30
    S = np.diag(_power(n0, 1.0))
    Ss = np.diag(_power(n0, 0.5))
    W = np.random.default_rng(3).standard_normal((n1, n0))
    train, test, laws, st = _laws(S, Ss, "erf", W)
    Phi, _ = train.second(st, st, True)
    g = gz.constant_draw(Phi, st["Psi"], train.target2(None), laws, m=m, n1=n1, gamma=gamma, noise_var=0.2)
    ref = _draw_de(train, test, W, m, n1, gamma, 0.2)
    np.testing.assert_allclose(g.error, ref, rtol=1e-11)
    assert all(v > 0 for v in g.variance)


@pytest.mark.parametrize(("m", "n1", "gamma"), [(60, 40, 0.05), (80, 40, 0.0), (40, 70, 0.0)])
def test_constant_reduction_with_teacher_and_nonlinear_part(m, n1, gamma):
    """Targets (docs/theory.md §20.2, "Targets"): two sampled tanh teachers as label components with
    weight I/2, a nonlinear part σ_g² on the training labels and σ_g*² at test; D, u, ρ frozen at their
    means reproduce finite_size's Gaussian equivalent with the same blocks."""
    n0, nl, nl_t = 30, 0.15, 0.3
    S = np.diag(_power(n0, 1.0))
    Ss = np.diag(_power(n0, 0.5))
    rng = np.random.default_rng(4)
    W = rng.standard_normal((n1, n0))
    betas = rng.standard_normal((2, n0))
    a, f = get_activation("erf"), get_activation("tanh")
    train, test = fsm._GaussianLaw(S, a), fsm._GaussianLaw(Ss, a)

    def blocks(law, st):
        return [(P, None, t, b) for P, t, b in (law.teacher(st, f, beta) for beta in betas)]

    laws = (test, train)
    out, *_ = fsm._draw(train, laws, W, m, n1, gamma, 0.2, blocks, nl, (nl_t, nl))
    st = train.prepare(W)
    Phi, _ = train.second(st, st, True)
    tests = []
    for law, extra in zip(laws, (nl_t, nl), strict=True):
        stL = law.prepare(W)
        bl = blocks(law, stL)
        tests.append((law.second(stL, stL, True)[0], np.hstack([P for P, *_ in bl]),
                      float(np.mean([t for _, _, t, _ in bl])) + extra))
    bl = blocks(train, st)
    g = gz.constant_draw(Phi, np.hstack([P for P, *_ in bl]), float(np.mean([t for _, _, t, _ in bl])), tests,
                         m=m, n1=n1, gamma=gamma, noise_var=0.2, B=np.eye(2) / 2, nonlinear_var=nl)
    np.testing.assert_allclose(g.mean, [o[0] for o in out], rtol=1e-11)
    np.testing.assert_allclose(g.variance_noise, [o[1] for o in out], rtol=1e-11)
    np.testing.assert_allclose(g.variance_sampling, [o[2] for o in out], rtol=1e-11)


def test_generalized_nonlinear_var_is_label_noise_plus_irreducible_test_error():
    """The §20.1 convention holds exactly in the generalized equivalent too (same W, β and pools)."""
    import rfshift as rf

    S = np.diag(_power(16, 1.5))
    Ss = np.diag(_power(16, 0.5))
    common = dict(m=48, n1=24, gamma=0.01, activation="erf", draws=3, seed=2, equivalent="generalized",
                  pool=1000)
    g = rf.finite_size(S, Ss, noise_var=0.1, nonlinear_var=0.15, nonlinear_var_test=0.3, **common)
    e = rf.finite_size(S, Ss, noise_var=0.25, **common)
    assert g.error == pytest.approx(e.error + 0.3, rel=1e-9)
    assert g.error_id == pytest.approx(e.error_id + 0.15, rel=1e-9)
    assert g.bias == pytest.approx(e.bias + 0.3, rel=1e-9)
    assert g.variance == pytest.approx(e.variance, rel=1e-9)
    assert g.variance_noise == pytest.approx(e.variance_noise * 0.1 / 0.25, rel=1e-9)
    assert g.variance_noise + g.variance_sampling == pytest.approx(e.variance_noise + e.variance_sampling,
                                                                   rel=1e-9)


def test_generalized_teacher_runs_and_splits():
    """A tanh teacher through the generalized equivalent (Gaussian law and samples): finite, the ring
    identity holds, and the labels on the pool change the numbers from the Gaussian equivalent."""
    import rfshift as rf

    n0 = 16
    S = np.diag(_power(n0, 1.5))
    kw = dict(m=48, n1=24, gamma=0.01, noise_var=0.1, activation="erf", draws=3, seed=2, teacher="tanh")
    g = rf.finite_size(S, np.eye(n0), equivalent="generalized", pool=1000, **kw)
    d = rf.finite_size(S, np.eye(n0), **kw)
    assert g.teacher == "tanh" and g.equivalent == "generalized"
    for sfx in ("", "_id"):
        parts = [getattr(g, f"variance_{p}{sfx}") for p in ("w", "noise", "sampling")]
        assert sum(parts) == pytest.approx(getattr(g, "variance" + sfx), rel=1e-9)
        assert all(p > 0 for p in parts)
    assert g.variance_noise != pytest.approx(d.variance_noise, rel=1e-3)
    assert g.error == pytest.approx(d.error, rel=0.2)
    X = np.random.default_rng(0).standard_normal((1000, n0)) * np.sqrt(np.diag(S))
    s = rf.finite_size.from_samples(X, X[:500], equivalent="generalized", **kw)
    assert math.isfinite(s.error) and s.error > 0


def test_interpolation_threshold_refused():
    with pytest.raises(ValueError, match="interpolation threshold"):
        gz.regime(50, 50, 0.0)
    assert gz.regime(50, 100, 0.0) == (0.0, 1.0)
    assert gz.regime(100, 50, 0.0) == (1.0, 0.0)
    assert gz.regime(100, 50, 0.02) == (1.0, 0.01)


@pytest.mark.slow
def test_generalized_matches_real_features_where_the_gaussian_equivalent_misses():
    """Ridgeless under-parameterised erf on a steep spectrum (r_eff ≈ 5) at a fixed W: the Gaussian
    equivalent is off by several s.e. of a Monte Carlo of ridge on the real features; the
    generalized one is within |z| ≤ 3.5 (pool and Monte Carlo s.e. combined)."""
    n0, m, n1, noise_var = 32, 128, 64, 0.2
    S = np.diag(_power(n0, 1.5))
    Ss = np.eye(n0)
    rng = np.random.default_rng(11)
    W = rng.standard_normal((n1, n0))
    train, test, laws, st = _laws(S, Ss, "erf", W)
    Phi, _ = train.second(st, st, True)
    de = _draw_de(train, test, W, m, n1, 0.0, noise_var)
    act = get_activation("erf")
    lam, V = np.linalg.eigh(S)
    half = (V * np.sqrt(lam)) @ V.T
    gen = []
    for _ in range(3):  # independent pools: their spread is the pool's sampling error
        X = half @ rng.standard_normal((n0, 2500))
        F = act.fn(W @ X / math.sqrt(n0))
        gen.append(gz.generalized_draw(Phi, st["Psi"], F, X, laws, m=m, n1=n1, gamma=0.0,
                                       noise_var=noise_var).error)
    gen = np.array(gen)
    # Monte Carlo: least squares on the real features, exact test expectation over x, β, ε
    errs = []
    for _ in range(100):
        X = half @ rng.standard_normal((n0, m))
        F = act.fn(W @ X / math.sqrt(n0))
        G = np.linalg.solve(F @ F.T, F)  # â = G Y (n1 < m)
        H = X.T @ X / n0 + noise_var * np.eye(m)
        row = []
        for PhiT, PsiT, tT in laws:
            cross = float(np.sum(X * (G.T @ PsiT).T)) / math.sqrt(n0)
            row.append(tT - 2 * cross + float(np.sum((G @ H) * (PhiT @ G))))
        errs.append(row)
    errs = np.array(errs)
    mc, mc_se = errs.mean(axis=0), errs.std(axis=0, ddof=1) / math.sqrt(len(errs))
    g_mean, g_se = gen.mean(axis=0), gen.std(axis=0, ddof=1) / math.sqrt(len(gen))
    z_gen = (g_mean - mc) / np.hypot(mc_se, g_se)
    z_de = (np.array(de) - mc) / mc_se
    assert np.all(np.abs(z_gen) <= 3.5), (g_mean, mc, mc_se, g_se)
    assert abs(z_de[1]) > 3.5, (de, mc, mc_se)  # ID: the Gaussian equivalent misses here


def test_finite_size_option_runs_and_splits():
    """rf.finite_size(..., equivalent="generalized"): finite, error = bias + variance, the variance
    split adds up, and it differs from the Gaussian equivalent on a steep spectrum."""
    import rfshift as rf

    n0 = 16
    S = np.diag(_power(n0, 1.5))
    kw = dict(m=48, n1=24, gamma=0.01, noise_var=0.2, activation="erf", draws=3, seed=2)
    g = rf.finite_size(S, np.eye(n0), equivalent="generalized", pool=1000, **kw)
    d = rf.finite_size(S, np.eye(n0), **kw)
    assert g.equivalent == "generalized" and d.equivalent == "gaussian"
    for r in (g, d):
        for k in ("error", "error_id", "bias", "variance", "error_se", "variance_noise", "variance_sampling"):
            assert math.isfinite(getattr(r, k)) and getattr(r, k) >= 0, k
        assert r.error == pytest.approx(r.bias + r.variance, rel=1e-12)
        assert r.variance == pytest.approx(r.variance_w + r.variance_noise + r.variance_sampling, rel=1e-9)
    assert abs(g.error_id - d.error_id) > 1e-3  # the x-dependence matters here (r_eff ≈ 5)
    X = np.random.default_rng(0).standard_normal((1000, n0)) * np.sqrt(np.diag(S))
    s = rf.finite_size.from_samples(X, X[:500], equivalent="generalized", **kw)
    assert s.source == "samples" and math.isfinite(s.error) and s.error > 0


def test_finite_size_option_bad_input():
    import rfshift as rf

    S = np.eye(8)
    kw = dict(m=20, n1=10, gamma=0.1)
    with pytest.raises(ValueError, match="equivalent must be one of"):
        rf.finite_size(S, S, equivalent="elliptical", **kw)
    with pytest.raises(ValueError, match="pool must be >= 1000"):
        rf.finite_size(S, S, equivalent="generalized", pool=10, **kw)
    with pytest.raises(TypeError, match="pool must be an integer"):
        rf.finite_size(S, S, equivalent="generalized", pool=2000.5, **kw)
    with pytest.raises(ValueError, match="nonlinear_var"):
        rf.finite_size(S, S, equivalent="generalized", nonlinear_var=-0.1, **kw)
    with pytest.raises(ValueError, match="non-zero Gaussian mean"):
        rf.finite_size(S, S, equivalent="generalized", teacher="relu", **kw)


def test_finite_size_option_edge_cases(capsys, tmp_path):
    """Interpolation threshold: inf as with the default; ridgeless singular Φ: a clear error; the CLI
    passes --equivalent/--pool through."""
    import json

    import rfshift as rf
    from rfshift.cli import main

    S = np.diag([2.0, 1.0, 0.5, 0.5])
    res = rf.finite_size(S, S, m=8, n1=8, gamma=0.0, draws=3, equivalent="generalized", pool=1000)
    assert res.interpolation_peak and math.isinf(res.error)
    with pytest.raises(ValueError, match="singular feature second moment"):
        rf.finite_size(S, S, m=5, n1=8, gamma=0.0, draws=3, activation="linear", equivalent="generalized",
                       pool=1000)
    np.save(tmp_path / "S.npy", np.diag(_power(12, 1.0)))
    code = main(["finite", "--sigma", str(tmp_path / "S.npy"), "--m", "24", "--n1", "12", "--draws", "3",
                 "--equivalent", "generalized", "--pool", "1000", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["equivalent"] == "generalized" and doc["finite_size"]["error"] > 0


def test_generalized_refuses_the_jax_backend():
    pytest.importorskip("jax")
    import rfshift as rf

    with pytest.raises(ValueError, match="NumPy only"):
        rf.finite_size(np.eye(8), np.eye(8), m=20, n1=10, gamma=0.1, equivalent="generalized", backend="jax")


def test_concentration_warning_points_to_the_generalized_equivalent():
    import warnings

    import rfshift as rf

    lam = _power(40, 1.5)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        rf.asymptotics(rf.Spectrum.from_covariances(np.diag(lam), np.eye(40)), phi=0.5, psi=0.5, gamma=0.01)
    msgs = [str(w.message) for w in rec if issubclass(w.category, rf.ConcentrationWarning)]
    assert msgs and all('equivalent="generalized"' in m and "rfshift.finite_size" in m for m in msgs)


@pytest.mark.slow
def test_generalized_teacher_matches_monte_carlo_where_the_gaussian_equivalent_misses():
    """Ridgeless under-parameterised erf on a steep spectrum (r_eff ≈ 5), tanh teacher, W-averaged
    (docs/validation.md §9.10, first row, smaller): the generalized equivalent within |z| ≤ 3.5 of the
    Monte Carlo of the finite model (W, X, β sampled; x, ε exact); the Gaussian one misses the ID error."""
    sys_path = str(Path(__file__).resolve().parent)
    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from _numpy_sim import simulate_full, threadpool_limits

    import rfshift as rf

    n0, m, n1 = 32, 128, 64
    S = np.diag(_power(n0, 1.5))
    kw = dict(m=m, n1=n1, gamma=0.0, noise_var=0.2, activation="erf", draws=30, seed=1, teacher="tanh")
    mc = simulate_full("erf", S, np.eye(n0), phi=n0 / m, psi=n0 / n1, gamma=0.0, noise_var=0.2, trials=300,
                       seed=1, teacher="tanh", n_ens=1, ks=(1,))
    with threadpool_limits(1):  # n1 = 64: threads only contend
        g = rf.finite_size(S, np.eye(n0), equivalent="generalized", pool=1500, **kw)
        d = rf.finite_size(S, np.eye(n0), **kw)
    for sfx in ("", "_id"):
        x = mc.samples["error" + sfx]
        ref, ref_se = float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))
        z = (getattr(g, "error" + sfx) - ref) / math.hypot(getattr(g, "error" + sfx + "_se"), ref_se)
        assert abs(z) <= 3.5, (sfx, getattr(g, "error" + sfx), ref, z)
    z_d = (d.error_id - ref) / math.hypot(d.error_id_se, ref_se)
    assert z_d < -3.5, (d.error_id, ref, z_d)
