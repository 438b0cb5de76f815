"""Disagreement, K-ensembles, training error / GCV (engine) and disagreement-on-the-line (analysis).

Checks against something independent: exact identities of the ANOVA combinations (to 1e-12), a
closed form for the training error of linear ridge regression derived here from the Silverstein
equation of XᵀX/n0 (to 1e-10), the peer formulas of Lee et al. (ICML 2023) re-implemented in
benchmarks/peer_disagreement.py (to 1e-12 at equal κ), and an exact-expectation Monte Carlo
(tests/_disagreement_sim.py, Richardson-extrapolated gap within 3.5 SE). The larger Monte Carlo
table is in docs/validation.md (benchmarks/disagreement_mc.py).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

import rfshift as rf

SPECS = {
    "swap": rf.Spectrum([1.5, 0.5], [0.5, 1.5]),
    "three": rf.Spectrum([2.0, 1.0, 0.25], [0.5, 1.0, 1.5], [0.25, 0.5, 0.25]),
    "trace": rf.Spectrum([3.0, 0.5], [1.0, 2.0], [0.2, 0.8]),
    "null": rf.Spectrum([0.0, 0.5, 2.0], [1.0, 0.5, 1.5]),
}


def _grid(spec, act):
    psi = np.array([0.0, 0.05, 0.3, 0.5, 0.7, 1.0, 2.5])[:, None, None]
    gamma = np.array([0.0, 1e-3, 0.1])[None, :, None]
    noise = np.array([0.0, 0.3])[None, None, :]
    return rf.asymptotics(spec, phi=0.5, psi=psi, gamma=gamma, noise_var=noise, activation=act)


@pytest.mark.parametrize("act", ["relu", "erf", "tanh", "linear"])
@pytest.mark.parametrize("spec_name", sorted(SPECS))
def test_identities(act, spec_name):
    """K = 1 ensemble = error; nothing shared = 2V; 0 <= every disagreement <= 2V; ensembles
    improve with K; 0 <= training error <= E y²; GCV = training error/(1 − df/m)² — all to 1e-12,
    OOD and ID, including the ridgeless peak ψ = φ (inf) and the kernel limit ψ = 0."""
    spec = SPECS[spec_name]
    try:
        res = _grid(spec, act)
    except rf.ConvergenceError:  # linear ridgeless exactly at two thresholds at once (documented)
        pytest.skip("indeterminate linear ridgeless point in the grid")
    for sfx in ("", "_id"):
        var = getattr(res, "variance" + sfx)
        dis = getattr(res, "disagreement" + sfx)
        err = getattr(res, "error" + sfx)
        fin = np.isfinite(var)
        for name in ("shared_data", "shared_features", "independent"):
            d = getattr(dis, name)
            assert not np.isnan(d).any()
            assert (d >= 0).all() and (d[fin] <= 2 * var[fin] * (1 + 1e-12)).all(), name
            assert np.isinf(d[~fin]).all() or name != "independent"
        np.testing.assert_allclose(dis.independent[fin], 2 * var[fin], rtol=1e-12, atol=0)
        e1 = getattr(res.ensemble(1), "error" + sfx)
        np.testing.assert_allclose(e1[np.isfinite(err)], err[np.isfinite(err)], rtol=1e-12, atol=0)
        assert np.array_equal(np.isinf(e1), np.isinf(err))
        ks = [1, 2, 5, np.inf]
        ens = [getattr(res.ensemble(k), "error" + sfx) for k in ks]
        for lo, hi in zip(ens[1:], ens[:-1], strict=True):
            assert (lo <= hi * (1 + 1e-12) + 1e-300).all()
        assert np.isfinite(ens[-1]).all()  # K = ∞ is finite even at the interpolation peak
        # variance of the K-ensemble: V_data + (V − V_data)/K, with V − V_data = D_shared_data/2
        e2 = res.ensemble(2)
        v2 = getattr(e2, "variance" + sfx)
        np.testing.assert_allclose(v2[fin], var[fin] - dis.shared_data[fin] / 4, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(getattr(e2, "bias" + sfx), getattr(res, "bias" + sfx))
    tr = res.training_error
    assert np.isfinite(tr).all() and (tr >= 0).all()
    assert (tr <= (spec.s + res.noise_var) * (1 + 1e-12)).all()
    t = res.t
    pos = t > 0
    np.testing.assert_allclose(tr[pos] / t[pos] ** 2, res.gcv[pos], rtol=1e-12)
    ridgeless_over = (res.gamma == 0) & (res.psi <= res.phi) & (res.k_x > 0)
    assert (tr[ridgeless_over] == 0).all()


def test_ensemble_broadcasts_and_validates_k():
    res = rf.asymptotics(SPECS["swap"], phi=0.5, psi=[0.2, 0.4, 1.0], gamma=0.01, noise_var=0.1)
    ens = res.ensemble([[1], [3], [np.inf]])
    assert ens.error.shape == (3, 3) and ens.k.shape == (3, 3)
    np.testing.assert_allclose(ens.error[0], res.error, rtol=1e-13)
    assert float(rf.asymptotics(SPECS["swap"], phi=0.5, psi=0.2, gamma=0.01).ensemble(4).error) > 0
    for bad in (0, -1, 1.5, np.nan, -np.inf):
        with pytest.raises(ValueError, match="k"):
            res.ensemble(bad)
    with pytest.raises(TypeError):
        res.ensemble("2")
    with pytest.raises(ValueError, match="broadcast"):
        res.ensemble([1, 2])


def test_disagreement_known_cases():
    """ψ = 0 (infinitely many features): no W-variance, so sharing the data gives 0 disagreement
    and sharing W changes nothing; linear features spanning the data (ψ < 1, φ < 1, ridgeless)
    are ordinary least squares on x, identical for every W."""
    res = rf.asymptotics(SPECS["three"], phi=0.7, psi=0.0, gamma=0.05, noise_var=0.2, activation="erf")
    for d in (res.disagreement, res.disagreement_id):
        assert abs(float(d.shared_data)) < 1e-14
        assert float(d.shared_features) == pytest.approx(float(d.independent), rel=1e-13)
    lin = rf.asymptotics(SPECS["swap"], phi=0.3, psi=0.2, gamma=0.0, noise_var=0.1, activation="linear")
    assert float(lin.disagreement_id.shared_data) == 0.0


def test_indeterminate_linear_threshold_raises():
    """Linear ridgeless features exactly at φ·μ(λ>0) = 1: V_X and V_WX are ±inf; the shared-data
    disagreement (finite limit) is an inf − inf form and is refused, never NaN."""
    res = rf.asymptotics(SPECS["null"], phi=1.5, psi=0.2, gamma=0.0, noise_var=0.1, activation="linear")
    with pytest.raises(rf.ConvergenceError, match=r"phi=1\.5"):
        res.disagreement  # noqa: B018
    with pytest.raises(rf.ConvergenceError):
        res.ensemble(2)
    assert float(res.training_error) == 0.0  # n0·μ(λ>0) = m: the fit interpolates


# --- training error: independent closed form for linear ridge ----------------------------------------


def _linear_ridge_training_error(spec, phi, gamma, noise_var):
    """(1/m) E‖y − K(K + γ)^{-1}y‖², K = XᵀX/n0, derived independently of the engine.

    With g(γ) = tr(K + γ)^{-1}/m, the training error is γ²[tr K(K+γ)^{-2} + σ² tr(K+γ)^{-2}]/m
    = γ² g + γ² g'(γ − σ²). Sherman–Morrison over the n0 rank-one terms (λ_k/n0) g_k g_kᵀ of K gives
    the Silverstein equation g = 1/(γ + ⟨λ/(1 + λg/φ)⟩), and g' follows by implicit differentiation.
    """
    lam, p = spec.lam, spec.weights

    def h(g):
        return 1.0 / g - gamma - p @ (lam / (1.0 + lam * g / phi))

    g = optimize.brentq(h, 1e-300, 1.0 / gamma, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    dh_dg = -1.0 / g**2 + p @ (lam**2 / phi / (1.0 + lam * g / phi) ** 2)
    dg = 1.0 / dh_dg  # g' = −(∂h/∂γ)/(∂h/∂g), ∂h/∂γ = −1
    return gamma**2 * g + gamma**2 * dg * (gamma - noise_var)


@pytest.mark.parametrize("spec_name", ["swap", "three", "trace", "null"])
def test_training_error_linear_ridge_closed_form(spec_name):
    spec = SPECS[spec_name]
    for phi in (0.3, 1.0, 2.5):
        for gamma in (1e-3, 0.05, 1.0, 20.0):
            for nv in (0.0, 0.4):
                res = rf.asymptotics(spec, phi=phi, psi=0.0, gamma=gamma, noise_var=nv, activation="linear")
                ref = _linear_ridge_training_error(spec, phi, gamma, nv)
                assert float(res.training_error) == pytest.approx(ref, rel=1e-10, abs=0), (phi, gamma, nv)


def test_training_error_ridgeless_least_squares():
    """ψ = 0, linear, γ = 0: least squares on x. m > n0·μ(λ>0): the residual is the noise outside
    the column space, σ²(1 − φμ(λ>0)); otherwise the fit interpolates (0). And continuity: γ → 0."""
    for name in ("swap", "null"):
        spec = SPECS[name]
        pos = float(spec.weights[spec.lam > 0].sum())
        for phi in (0.3, 0.8, 1.3, 2.0):
            res = rf.asymptotics(spec, phi=phi, psi=0.0, gamma=0.0, noise_var=0.5, activation="linear")
            want = 0.5 * max(0.0, 1.0 - phi * pos)
            assert float(res.training_error) == pytest.approx(want, rel=1e-12, abs=1e-15)
    res = rf.asymptotics(SPECS["three"], phi=0.5, psi=2.0, gamma=[0.0, 1e-9], noise_var=0.3,
                         activation="tanh")
    assert res.training_error[0] > 0
    assert res.training_error[1] == pytest.approx(res.training_error[0], rel=1e-6)
    peak = rf.asymptotics(SPECS["three"], phi=0.5, psi=0.5, gamma=0.0, noise_var=0.3)
    assert peak.interpolation_peak and float(peak.training_error) == 0.0


# --- disagreement-on-the-line ---------------------------------------------------------------------


@pytest.mark.parametrize("act", ["relu", "erf", "tanh"])
def test_disagreement_relation_matches_engine(act):
    spec = SPECS["three"]
    nv = np.array([0.0, 0.3])
    psi = np.linspace(0.02, 1.95, 9)[:, None]
    res = rf.asymptotics(spec, phi=2.0, psi=psi, gamma=0.0, noise_var=nv, activation=act)
    lin = rf.linear_relation(spec, phi=2.0, noise_var=nv, activation=act)
    for kind in rf.analysis.DISAGREEMENT_KINDS:
        rel = rf.disagreement_relation(spec, phi=2.0, noise_var=nv, activation=act, kind=kind)
        d_id, d_ood = rel.disagreements(psi)
        np.testing.assert_allclose(d_id, getattr(res.disagreement_id, kind), rtol=1e-10)
        np.testing.assert_allclose(d_ood, getattr(res.disagreement, kind), rtol=1e-10)
        np.testing.assert_array_equal(rel.slope, lin.slope)  # the error line's slope, exactly
        dev = rel.departure(psi)
        if kind == "shared_features":
            assert not rel.is_line.any() and (np.abs(dev) > 1e-5).all()
            want = -(rel.c_ood - rel.slope * rel.c_id) * psi / (1 - psi * rel.a2)
            np.testing.assert_allclose(dev, want, rtol=1e-9)
        else:
            assert rel.is_line.all()
            scale = np.abs(getattr(res.disagreement, kind)) + 1.0
            assert (np.abs(dev) <= 1e-11 * scale).all()
        if kind == "shared_data":
            np.testing.assert_array_equal(rel.intercept, 0.0)
    # off the family: the line breaks (γ > 0, ψ > φ)
    dev = rf.analysis.disagreement_deviation(spec, phi=2.0, psi=[0.5, 0.5, 3.0], gamma=[0.0, 0.01, 0.0],
                                             noise_var=0.3, activation=act)
    assert abs(dev[0]) < 1e-12 and abs(dev[1]) > 1e-6 and abs(dev[2]) > 1e-4


def test_shared_features_line_for_scaled_relu():
    """ReLU with Σ* = cΣ: Ξ*, Θ*, B*, every λ* term scale by c, so all three kinds are lines of slope c."""
    spec = rf.Spectrum([2.0, 1.0, 0.25], [6.0, 3.0, 0.75], [0.25, 0.5, 0.25])
    rel = rf.disagreement_relation(spec, phi=1.5, noise_var=0.2, kind="shared_features")
    assert bool(rel.is_line) and float(rel.slope) == pytest.approx(3.0, rel=1e-13)
    assert abs(float(rel.departure(0.7))) < 1e-12


def test_label_free_estimate_and_its_bias():
    """Ê = ŝ·E_ID with ŝ = D^sd_OOD/D^sd_ID: on the family its bias is −(error intercept), the
    relation's ``estimator_bias``; the variance-based estimator's bias is ŝ·B_ID − B_OOD everywhere."""
    spec = SPECS["three"]
    for act in ("relu", "tanh"):
        rel = rf.disagreement_relation(spec, phi=2.0, noise_var=0.3, activation=act)
        psi = np.array([0.1, 0.9, 1.7])
        est = rf.ood_error_estimate(spec, phi=2.0, psi=psi, gamma=0.0, noise_var=0.3, activation=act)
        np.testing.assert_allclose(est.slope, rel.slope, rtol=1e-12)
        np.testing.assert_allclose(est.bias, rel.estimator_bias, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(est.bias, -rel.error_intercept, rtol=1e-9, atol=1e-13)
        res = rf.asymptotics(spec, phi=2.0, psi=[0.5, 3.0], gamma=[0.1, 0.0], noise_var=0.3, activation=act)
        var = rf.ood_error_estimate(spec, phi=2.0, psi=[0.5, 3.0], gamma=[0.1, 0.0], noise_var=0.3,
                                    activation=act, method="variance")
        np.testing.assert_allclose(var.bias, var.slope * res.bias_id - res.bias, rtol=1e-10, atol=1e-13)
    # unbiased for ReLU with Σ* = cΣ (every term scales by c)
    scaled = rf.Spectrum([2.0, 1.0], [5.0, 2.5])
    for m in ("ratio", "variance"):
        e = rf.ood_error_estimate(scaled, phi=1.0, psi=[0.3, 2.0], gamma=[0.0, 0.1], noise_var=0.0, method=m)
        np.testing.assert_allclose(e.bias, 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="0/0"):
        rf.ood_error_estimate(spec, phi=1.0, psi=0.0, gamma=0.1)
    with pytest.raises(ValueError, match="method"):
        rf.ood_error_estimate(spec, phi=1.0, psi=0.5, gamma=0.1, method="probit")
    with pytest.raises(ValueError, match="kind"):
        rf.disagreement_relation(spec, phi=1.0, kind="same")


# --- peer: Lee et al. (ICML 2023) -----------------------------------------------------------------


def _load_peer():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "peer_disagreement.py"
    spec = importlib.util.spec_from_file_location("peer_disagreement", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["peer_disagreement"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_peer_formulas_lee_2023():
    """Their I/SS/SW disagreements (ReLU, source and target) at rfshift's κ, on 24 configurations
    (ridgeless and ridge, over- and under-parameterised): equal to rounding."""
    peer = _load_peer()
    rows = peer.compare()
    assert len(rows) >= 20
    worst = max(r["rel_our_kappa"] for r in rows)
    assert worst < 1e-12, worst
    # with their own fixed-point solver (|Δκ| <= 1e-7) the difference is the solver's tolerance
    ok = [r for r in rows if math.isfinite(r["rel_peer_kappa"])]
    assert len(ok) >= 20 and max(r["rel_peer_kappa"] for r in ok) < 1e-6


# --- Monte Carlo ----------------------------------------------------------------------------------

MC_CONFIGS = [
    ("relu", "swap", 1.0, 0.5, 0.01, 0.25),   # ReLU, ridge, over
    ("relu", "trace", 0.5, 2.0, 0.0, 0.1),    # ReLU, ridgeless, under, tr Σ* ≠ tr Σ
    ("erf", "iso2", 0.8, 0.5, 0.05, 0.0),     # erf, ridge, over, noiseless
    ("erf", "three", 2.0, 0.5, 0.0, 0.2),     # erf, ridgeless, over
    ("tanh", "dense", 0.5, 1.0, 0.0, 0.1),    # tanh, ridgeless, under, non-commuting Σ*
    ("tanh", "swap", 0.5, 1.0, 0.1, 0.1),     # tanh, ridge, under
]


@pytest.mark.slow
@pytest.mark.parametrize("cfg", MC_CONFIGS, ids=[f"{c[0]}-{c[1]}" for c in MC_CONFIGS])
def test_monte_carlo(cfg):
    """Every new quantity against the exact-expectation Monte Carlo at n0 and 2n0: the
    Richardson-extrapolated gap 2g(2n0) − g(n0) within 3.5 SE (SE over trials)."""
    from _disagreement_sim import EXTRA_KEYS, covariances, simulate_extras, theory_extras

    act, kind, phi, psi, gamma, nv = cfg
    gaps, ses, th = {}, {}, {}
    for j, (n0, trials) in enumerate(((64, 24), (128, 12))):
        S, Ss = covariances(kind, n0, seed=j)
        mc = simulate_extras(act, S, Ss, phi=phi, psi=psi, gamma=gamma, noise_var=nv, trials=trials,
                             seed=500 + j)
        th = theory_extras(rf.asymptotics(rf.Spectrum.from_covariances(S, Ss), phi=mc.phi, psi=mc.psi,
                                          gamma=gamma, noise_var=nv, activation=act))
        for key in EXTRA_KEYS:
            gaps.setdefault(key, []).append(mc.mean[key] - th[key])
            ses.setdefault(key, []).append(mc.se[key])
    for key in EXTRA_KEYS:
        g, s = gaps[key], ses[key]
        if th[key] == 0.0:  # ridgeless interpolation: training error exactly 0, GCV not formed (0/0)
            assert key == "gcv" or max(abs(x) for x in g) < 1e-8, (key, g)
            continue
        if key == "gcv" and math.isnan(g[0]):
            continue
        z = (2 * g[1] - g[0]) / math.hypot(2 * s[1], s[0])
        assert abs(z) <= 3.5, f"{key}: gaps {g}, SE {s}, z = {z:.2f}"
        assert abs(g[1]) < 0.1 * abs(th[key]), (key, g, th[key])


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_curve_quantities(capsys):
    import csv
    import io

    from rfshift.cli import main

    code = main(["curve", "--format", "csv", "--num", "3", "--gamma", "0", "--start", "0.1", "--stop", "0.5",
                 "--quantities", "disagreement,ensemble,training_error", "--ensemble-k", "1,3,inf"])
    out = capsys.readouterr().out
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    res = rf.asymptotics(rf.shifts.swap(), phi=0.5, psi=[0.1, 0.3, 0.5], gamma=0.0, noise_var=0.1)
    assert float(rows[1]["disagreement_shared_data"]) == pytest.approx(float(res.disagreement.shared_data[1]))
    assert float(rows[1]["ensemble_k1_error"]) == pytest.approx(float(rows[1]["error"]), rel=1e-14)
    assert float(rows[1]["ensemble_k3_error_id"]) == pytest.approx(float(res.ensemble(3).error_id[1]))
    assert rows[2]["ensemble_k1_error"] == "inf" and math.isfinite(float(rows[2]["ensemble_kinf_error"]))
    assert float(rows[2]["training_error"]) == 0.0 and float(rows[0]["gcv"]) == pytest.approx(
        float(res.error_id_noisy[0]))
    for bad, msg in ((["--quantities", "foo"], "unknown"), (["--ensemble-k", "0"], "ensemble-k"),
                     (["--ensemble-k", "two"], "ensemble-k")):
        assert main(["curve", "--num", "2", "--quantities", "ensemble", *bad]) == 2
        assert msg in capsys.readouterr().err


@pytest.mark.slow
def test_monte_carlo_second_simulator():
    """A second, independently written simulator (tests/_numpy_sim.simulate_full, by the Monte Carlo
    module's author) on a non-commuting Σ*, erf, ridgeless, under-parameterised: disagreements, K = 1,
    2, 4, ∞ ensembles, training error, GCV and df/m, Richardson-extrapolated within 3.5 SE."""
    from _disagreement_sim import covariances
    from _numpy_sim import simulate_full

    act, kind, phi, psi, gamma, nv = "erf", "dense", 0.5, 1.5, 0.0, 0.2
    gaps, ses = {}, {}
    for j, (n0, trials) in enumerate(((64, 24), (128, 12))):
        S, Ss = covariances(kind, n0, seed=j)
        mc = simulate_full(act, S, Ss, phi=phi, psi=psi, gamma=gamma, noise_var=nv, trials=trials,
                           seed=900 + j)
        th = rf.asymptotics(rf.Spectrum.from_covariances(S, Ss), phi=mc.phi, psi=mc.psi, gamma=gamma,
                            noise_var=nv, activation=act)
        ref = {"training_error": th.training_error, "gcv": th.gcv}
        for sfx, d in (("", th.disagreement), ("_id", th.disagreement_id)):
            for name in ("shared_data", "shared_features", "independent"):
                ref[f"dis_{name}{sfx}"] = getattr(d, name)
            for k, tag in ((1, "1"), (2, "2"), (4, "4"), (np.inf, "_inf")):
                ref[f"ens{tag}{sfx}"] = getattr(th.ensemble(k), "error" + sfx)
        for key, val in ref.items():
            gaps.setdefault(key, []).append(mc.mean[key] - float(val))
            ses.setdefault(key, []).append(mc.se[key])
        assert mc.mean["df_ratio"] == pytest.approx(float(th.degrees_of_freedom), abs=1e-12)
    for key in gaps:
        g, s = gaps[key], ses[key]
        z = (2 * g[1] - g[0]) / math.hypot(2 * s[1], s[0])
        assert abs(z) <= 3.5, f"{key}: gaps {g}, SE {s}, z = {z:.2f}"


def test_every_variance_term_has_its_sources():
    """The disagreement combinations use VarianceTerms.shared (rfshift._anova's table of each term's
    sources); a term without an entry would be silently dropped, so the table must cover every field,
    and shared(all) must be the total."""
    from dataclasses import fields

    from rfshift._anova import _SUBSETS

    assert {f.name for f in fields(rf.VarianceTerms)} == set(_SUBSETS)
    res = rf.asymptotics(SPECS["three"], phi=0.7, psi=0.4, gamma=0.01, noise_var=0.2, activation="tanh")
    t = res.variance_terms
    assert float(t.shared(("w", "x", "eps"))) == pytest.approx(float(res.variance), rel=1e-13)
    assert float(res.disagreement.shared_features) == pytest.approx(2 * float(res.variance - t.w), rel=1e-12)


@pytest.mark.parametrize("kind", ["shared_data", "independent", "shared_features"])
def test_disagreement_relation_with_structured_nonlinear_target(kind):
    """With a structured target, a nonlinear part and a teacher (docs/theory.md §19) the relation still
    reproduces the engine's disagreements along ψ, its slope is the error line's, and the
    shared-data/independent points lie on the line (checked at ψ not used to build it)."""
    spec = rf.Spectrum([1.5, 0.5, 0.2], [0.5, 1.5, 1.0], [0.3, 0.3, 0.4]).with_target([2.0, 0.5, 1.0])
    kw = dict(phi=2.0, noise_var=0.2, activation="relu", nonlinear_var=0.1,
              nonlinear_var_test=0.15, teacher="tanh")
    psi = np.array([0.2, 0.7, 1.3, 1.8])
    rel = rf.disagreement_relation(spec, kind=kind, **kw)
    lin = rf.linear_relation(spec, **kw)
    assert rel.slope == lin.slope == rel.error_slope
    res = rf.asymptotics(spec, psi=psi, gamma=0.0, **kw)
    d_id, d_ood = getattr(res.disagreement_id, kind), getattr(res.disagreement, kind)
    assert np.all(d_id > 0)
    r_id, r_ood = rel.disagreements(psi)
    np.testing.assert_allclose(r_id, d_id, rtol=1e-10)
    np.testing.assert_allclose(r_ood, d_ood, rtol=1e-10)
    # an independent least-squares line through the engine's points has the error slope
    fit_slope = np.polyfit(d_id, d_ood, 1)[0]
    dev = rf.analysis.disagreement_deviation(spec, psi=psi, gamma=0.0, kind=kind, **kw)
    if kind == "shared_features":
        assert not np.all(rel.is_line)
        np.testing.assert_allclose(dev, rel.departure(psi), rtol=1e-9, atol=1e-13)
    else:
        assert abs(fit_slope - lin.slope) < 1e-10 * abs(lin.slope)
        np.testing.assert_allclose(dev, 0.0, atol=1e-12)
    # the target really changes the numbers (not the untargeted relation in disguise)
    plain = rf.disagreement_relation(spec.with_target(None), kind=kind, phi=2.0, noise_var=0.2)
    # (the slope is label-free; the coefficients and the error intercept are not)
    assert abs(float(plain.b_id) - float(rel.b_id)) > 1e-3 * abs(float(rel.b_id))
    assert abs(float(plain.error_intercept) - float(rel.error_intercept)) > 1e-3


def test_ood_error_estimate_with_target_has_constant_ratio_bias():
    spec = rf.Spectrum([1.5, 0.5, 0.2], [0.5, 1.5, 1.0], [0.3, 0.3, 0.4]).with_target([2.0, 0.5, 1.0])
    kw = dict(phi=2.0, noise_var=0.2, nonlinear_var=0.1, teacher="tanh")
    est = rf.ood_error_estimate(spec, psi=[0.2, 0.7, 1.3, 1.8], gamma=0.0, **kw)
    rel = rf.disagreement_relation(spec, **kw)
    np.testing.assert_allclose(est.slope, rel.slope, rtol=1e-10)
    np.testing.assert_allclose(est.bias, -rel.error_intercept, rtol=1e-9, atol=1e-13)
    res = rf.asymptotics(spec, psi=[0.2, 0.7, 1.3, 1.8], gamma=0.0, **kw)
    np.testing.assert_allclose(est.error, res.error, rtol=1e-12)
