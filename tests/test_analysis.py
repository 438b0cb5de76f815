"""Tests of rfshift.analysis against the engine (THEORY.md §6, §8) by brute-force evaluation."""

from __future__ import annotations

import numpy as np
import pytest

import rfshift as rf
from rfshift.analysis import deviation
from rfshift.analysis._weights import atom_u, weight_coefficients
from rfshift.shifts import tilt

LAM3 = [0.3, 1.0, 3.0]
A3 = rf.Spectrum(LAM3, [0.5, 1.0, 1.5])  # THEORY.md §6 example pair
B3 = rf.Spectrum(LAM3, [1.5, 1.0, 0.5])


def _random_spectrum(rng: np.random.Generator, n: int) -> rf.Spectrum:
    lam = rng.uniform(0.0, 3.0, n)
    lam[rng.random(n) < 0.15] = 0.0
    lam[0] += 0.1
    return rf.Spectrum(lam, rng.uniform(0.01, 3.0, n), rng.uniform(0.1, 1.0, n))


def _random_points(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    phi = 10 ** rng.uniform(-1, 1, n)
    psi = 10 ** rng.uniform(-1, 1, n)
    psi[: n // 10] = 0.0
    gamma = 10 ** rng.uniform(-6, 1, n)
    gamma[n // 10: n // 4] = 0.0
    noise = np.where(rng.random(n) < 0.4, 0.0, 10 ** rng.uniform(-2, 2, n))
    return dict(phi=phi, psi=psi, gamma=gamma, noise_var=noise)


# --- the decomposition E* = F(s*) + ∫ w dν ---------------------------------------------------------


@pytest.mark.parametrize("act", ["relu", "erf", "tanh", "linear"])
def test_weight_split_reproduces_engine_error(act: str) -> None:
    rng = np.random.default_rng(11)
    worst = 0.0
    for _ in range(8):
        spec = _random_spectrum(rng, int(rng.integers(1, 6)))
        res = rf.asymptotics(spec, activation=act, **_random_points(rng, 60))
        wc = weight_coefficients(spec, res)
        assert wc.valid.sum() > 40
        u = atom_u(np.where(wc.valid, wc.k_x, 1.0), spec.lam)
        split = wc.F + wc.w(u) @ (spec.lam_star * spec.weights)
        ok = wc.valid
        worst = max(worst, float(np.max(np.abs(split[ok] - res.error[ok]) / res.error[ok])))
    assert worst < 1e-12


def test_weight_split_marks_the_interpolation_peak_invalid() -> None:
    res = rf.asymptotics(A3, phi=1.0, psi=[1.0, 0.5], gamma=0.0, noise_var=0.1)
    assert list(weight_coefficients(A3, res).valid) == [False, True]


# --- partial order ---------------------------------------------------------------------------------


def test_theory_example_pair_flips_with_hyperparameters() -> None:
    low = rf.compare_shifts(A3, B3, phi=1.0, psi=0.5, gamma=0.01, noise_var=0.1)
    high = rf.compare_shifts(A3, B3, phi=5.0, psi=0.9, gamma=1.0, noise_var=100.0)
    assert low.verdict == "a_better" and low.dominance == "a_dominates"
    assert low.error_a < low.error_b
    assert high.verdict == "b_better"
    assert high.error_a > high.error_b
    assert low.monotone == "non_increasing" and high.monotone == "non_decreasing"
    both = rf.compare_shifts(A3, B3, phi=[1.0, 5.0], psi=[0.5, 0.9], gamma=[0.01, 1.0],
                             noise_var=[0.1, 100.0])
    assert both.verdict == "incomparable"
    assert list(both.relation) == ["a_better", "b_better"]
    assert "flips" in both.reason


def test_same_pair_flips_with_noise_level_only() -> None:
    reg = rf.certified_region(A3, B3, phi=5.0, psi=0.9, gamma=1.0, noise_var=(0.0, 100.0), points=11)
    assert reg.a_better[0] and reg.b_better[-1]
    assert reg.bounds_a_better["noise_var"][1] < reg.bounds_b_better["noise_var"][0]
    cmp = reg.comparison
    ea, eb = np.asarray(cmp.error_a), np.asarray(cmp.error_b)
    assert np.all(ea[reg.a_better] <= eb[reg.a_better])
    assert np.all(eb[reg.b_better] <= ea[reg.b_better])
    assert "grid points" in reg.summary()


def test_incomparable_pair_with_crossing_cumulative_curves() -> None:
    a = rf.Spectrum(LAM3, [1.0, 0.1, 1.9])
    b = rf.Spectrum(LAM3, [0.4, 1.6, 1.0])
    cmp = rf.compare_shifts(a, b, phi=[0.5, 1.0, 2.0], psi=0.5, gamma=0.01, noise_var=0.1)
    assert cmp.dominance == "crossing"
    assert cmp.crossings.size >= 1
    diff = cmp.cdf_a - cmp.cdf_b
    assert diff.min() < 0 < diff.max()
    assert cmp.verdict == "incomparable"
    assert not np.any(cmp.certified)
    assert "cross" in cmp.reason


def test_identical_test_laws_are_equivalent() -> None:
    spec = rf.Spectrum(LAM3, [0.5, 1.0, 1.5])
    other = rf.Spectrum([3.0, 0.3, 1.0], [1.5, 0.5, 1.0])  # same atoms, other order
    cmp = rf.compare_shifts(spec, other, phi=[0.5, 2.0], psi=0.3, gamma=[0.0, 1.0], noise_var=1.0)
    assert cmp.verdict == "equivalent"
    np.testing.assert_allclose(cmp.error_a, cmp.error_b, rtol=1e-13)


def test_clear_case_mass_moved_to_large_eigenvalues_is_certified() -> None:
    lam = np.geomspace(0.1, 10.0, 8)
    up = tilt(1.0, lam=lam)  # test mass tilted to large λ at equal trace
    down = tilt(-1.0, lam=lam)
    phi, psi, noise = np.meshgrid([0.3, 1.0, 3.0], [0.1, 0.5, 2.0], [0.0, 0.1, 0.5], indexing="ij")
    cmp = rf.compare_shifts(up, down, phi=phi, psi=psi, gamma=0.1, noise_var=noise)
    assert cmp.dominance == "a_dominates"
    assert cmp.verdict == "a_better", cmp.reason
    assert np.all(cmp.error_a < cmp.error_b)
    eff = rf.shift_effect(up, phi=phi, psi=psi, gamma=0.1, noise_var=noise)
    assert eff.verdict == "helps"
    assert np.all(eff.error <= eff.error_id)
    assert rf.shift_effect(down, phi=1.0, psi=0.5, gamma=0.1, noise_var=0.1).verdict == "harms"


def _dominating_pair(rng: np.random.Generator, n: int) -> tuple[rf.Spectrum, rf.Spectrum]:
    lam = np.sort(rng.uniform(0.0, 3.0, n))
    lam[-1] += 0.1
    p = rng.uniform(0.1, 1.0, n)
    la = rng.uniform(0.05, 3.0, n)
    lb = la.copy()
    i, j = sorted(rng.choice(n, 2, replace=False))
    dm = rng.uniform(0.1, 1.0) * la[i] * p[i]  # move test mass from λ_i to a larger λ_j
    lb[i] -= dm / p[i]
    lb[j] += dm / p[j]
    return rf.Spectrum(lam, la, p), rf.Spectrum(lam, lb, p)


def test_never_claims_an_order_contradicted_by_the_engine() -> None:
    rng = np.random.default_rng(2024)
    n_cert = n_checked = 0
    acts = ["relu", "erf", "tanh", "linear", "relu", "erf"]
    for it in range(60):
        act = acts[it % len(acts)]
        n = int(rng.integers(2, 6))
        if it % 2 == 0:
            a, b = _dominating_pair(rng, n)
            if it % 4 == 0:
                a, b = b, a
        else:
            a = _random_spectrum(rng, n)
            ls = rng.uniform(0.01, 3.0, n)
            if act != "relu" or it % 3 == 0:
                ls *= a.s_star / (a.weights @ ls)
            b = rf.Spectrum(a.lam, ls, a.weights)
        cmp = rf.compare_shifts(a, b, activation=act, **_random_points(rng, 120))
        ea, eb = np.asarray(cmp.error_a), np.asarray(cmp.error_b)
        tol = 1e-10 * np.maximum(np.abs(ea), np.abs(eb))
        rel = np.asarray(cmp.relation)
        assert not np.any((rel == "a_better") & (ea > eb + tol))
        assert not np.any((rel == "b_better") & (eb > ea + tol))
        assert not np.any((rel == "equivalent") & (np.abs(ea - eb) > tol))
        n_cert += int(np.sum(cmp.certified))
        n_checked += rel.size
    assert n_cert > 0.3 * n_checked  # the certificate is not vacuous


def test_monotonicity_condition_is_needed() -> None:
    """With a dominated pair but w not monotone, the naive dominance claim can be wrong."""
    rng = np.random.default_rng(7)
    naive_wrong = 0
    for _ in range(40):
        a, b = _dominating_pair(rng, 4)
        pts = _random_points(rng, 200)
        pts["noise_var"] = 10 ** rng.uniform(0, 2.5, 200)
        cmp = rf.compare_shifts(a, b, **pts)
        assert cmp.dominance in ("b_dominates", "a_dominates")
        better_dom = np.asarray(cmp.error_b if cmp.dominance == "b_dominates" else cmp.error_a)
        other = np.asarray(cmp.error_a if cmp.dominance == "b_dominates" else cmp.error_b)
        neither = np.asarray(cmp.monotone) == "neither"
        naive_wrong += int(np.sum(neither & (better_dom > other * (1 + 1e-9))))
        assert not np.any(np.asarray(cmp.certified) & (np.asarray(cmp.monotone) == "neither")
                          & (cmp.dominance != "equal"))
    assert naive_wrong > 0


def test_relu_compares_shifts_of_different_traces() -> None:
    base = rf.Spectrum(LAM3, [0.5, 1.0, 1.5])
    half = rf.Spectrum(LAM3, [0.25, 0.5, 0.75])  # ν halved: less mass below every λ
    cmp = rf.compare_shifts(half, base, phi=[0.5, 2.0], psi=[0.2, 1.0], gamma=[0.01, 0.0], noise_var=0.2)
    assert cmp.comparable
    assert cmp.verdict == "a_better", cmp.reason
    assert np.all(cmp.error_a < cmp.error_b)


def test_non_relu_with_different_traces_is_not_certified() -> None:
    base = rf.Spectrum(LAM3, [0.5, 1.0, 1.5])
    half = rf.Spectrum(LAM3, [0.25, 0.5, 0.75])
    cmp = rf.compare_shifts(half, base, phi=0.5, psi=0.2, gamma=0.01, noise_var=0.2, activation="erf")
    assert not cmp.comparable
    assert cmp.verdict == "incomparable"
    assert "traces differ" in cmp.reason
    assert not np.any(cmp.certified)


def test_compare_rejects_different_training_spectra_and_bad_types() -> None:
    with pytest.raises(ValueError, match="training spectrum"):
        rf.compare_shifts(A3, rf.Spectrum([0.3, 1.0, 2.0], [1, 1, 1]), phi=1, psi=1, gamma=1)
    with pytest.raises(TypeError, match="spec_a"):
        rf.compare_shifts("a", B3, phi=1, psi=1, gamma=1)
    with pytest.raises(ValueError, match="phi"):
        rf.compare_shifts(A3, B3, phi=-1, psi=1, gamma=1)
    with pytest.raises(ValueError, match="range"):
        rf.certified_region(A3, B3, phi=(2.0, 1.0), psi=1, gamma=1)
    with pytest.raises(ValueError, match="at least one"):
        rf.certified_region(A3, B3, phi=1.0, psi=1, gamma=1)


def test_interpolation_peak_is_never_certified() -> None:
    cmp = rf.compare_shifts(A3, B3, phi=1.0, psi=[1.0, 0.5], gamma=0.0, noise_var=0.1)
    assert list(cmp.relation) == ["not_certified", "a_better"]
    assert cmp.monotone[0] == "undefined"


# --- linear relation -------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["relu", "erf", "tanh", "linear"])
def test_linear_relation_exact_on_the_ridgeless_overparameterised_family(act: str) -> None:
    spec = rf.Spectrum([1.5, 0.5, 0.1, 0.0], [0.5, 1.5, 2.0, 0.3], [0.3, 0.3, 0.3, 0.1])
    for phi in ((2.0, 3.0) if act == "linear" else (0.5, 2.0)):  # linear, φ = 0.5: κ = ∞
        for noise in (0.0, 0.3):
            rel = rf.linear_relation(spec, phi=phi, noise_var=noise, activation=act)
            psi = np.linspace(0.0, 0.98 * phi, 30)
            res = rf.asymptotics(spec, phi=phi, psi=psi, gamma=0.0, noise_var=noise, activation=act)
            resid = res.error - rel.predict(res.error_id)
            assert np.max(np.abs(resid) / res.error) < 1e-10
            e_id, e_ood = rel.errors(psi)
            np.testing.assert_allclose(e_id, res.error_id, rtol=1e-10)
            np.testing.assert_allclose(e_ood, res.error, rtol=1e-10)


def test_linear_relation_slope_independent_of_noise_and_one_in_distribution() -> None:
    spec = rf.Spectrum([2.0, 1.0, 0.25], [0.5, 1.0, 1.5], [0.25, 0.5, 0.25])
    rel = rf.linear_relation(spec, phi=[0.7, 0.7, 0.7], noise_var=[0.0, 1.0, 10.0], activation="tanh")
    assert np.ptp(rel.slope) < 1e-13 * rel.slope[0]
    assert np.ptp(rel.intercept) > 1e-3  # the intercept does depend on the noise
    same = rf.linear_relation(spec.in_distribution(), phi=[0.3, 3.0], noise_var=[0.0, 2.0], activation="erf")
    np.testing.assert_allclose(same.slope, 1.0, rtol=1e-14)
    np.testing.assert_allclose(same.intercept, 0.0, atol=1e-14)
    scaled = rf.Spectrum(spec.lam, 3.0 * spec.lam, spec.weights)  # Σ* = 3Σ, ReLU: everything × 3
    rel3 = rf.linear_relation(scaled, phi=0.7, noise_var=0.4)
    assert abs(rel3.slope - 3.0) < 1e-13 and abs(rel3.intercept) < 1e-13


def test_linear_relation_rejects_the_infinite_kappa_case() -> None:
    spec = rf.Spectrum([1.5, 0.5, 0.0], [0.5, 1.5, 0.3])
    with pytest.raises(ValueError, match="κ = ∞"):
        rf.linear_relation(spec, phi=0.5, activation="linear")


def test_linear_relation_intercept_is_the_kernel_limit() -> None:
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    rel = rf.linear_relation(spec, phi=0.8, noise_var=0.2)
    res = rf.asymptotics(spec, phi=0.8, psi=0.0, gamma=0.0, noise_var=0.2)
    assert abs(rel.a_ood - res.error) < 1e-13 and abs(rel.a_id - res.error_id) < 1e-13
    assert abs(rel.intercept_noisy() - (rel.intercept + 0.2 * (1 - rel.slope))) < 1e-15


def test_deviation_zero_on_the_family_and_growing_off_it() -> None:
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    g = np.array([0.0, 1e-5, 1e-4, 1e-3])
    d = deviation(spec, phi=2.0, psi=0.5, gamma=g, noise_var=0.1)
    assert abs(d[0]) < 1e-13
    ratio = np.abs(d[2:] / d[1:-1])
    assert np.all((ratio > 5) & (ratio < 20))  # roughly ∝ γ
    under = deviation(spec, phi=2.0, psi=3.0, gamma=0.0, noise_var=0.1)
    assert abs(under) > 1e-4
    with pytest.raises(ValueError, match="interpolation peak"):
        deviation(spec, phi=2.0, psi=2.0, gamma=0.0)
    with pytest.raises(ValueError, match="psi < phi"):
        rf.linear_relation(spec, phi=2.0).errors(2.5)


# --- robustness ------------------------------------------------------------------------------------


def test_robustness_curve_matches_engine_and_gap_shrinks_with_features() -> None:
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    fps = np.geomspace(1.5, 100.0, 15)
    cur = rf.robustness_curve(spec, phi=0.5, features_per_sample=fps, noise_var=0.1)
    res = rf.asymptotics(spec, phi=0.5, psi=0.5 / fps, gamma=0.0, noise_var=0.1)
    np.testing.assert_allclose(cur.error_ood, res.error, rtol=1e-14)
    np.testing.assert_allclose(cur.gap, res.error - res.error_id, rtol=1e-12)
    np.testing.assert_allclose(cur.features_per_sample, fps, rtol=1e-14)
    np.testing.assert_allclose(cur.samples_per_dim, 2.0)
    rel = rf.linear_relation(spec, phi=0.5, noise_var=0.1)
    assert rel.slope > 1
    assert np.all(np.diff(cur.error_id) < 0) and np.all(np.diff(cur.gap) < 0)
    np.testing.assert_allclose(cur.gap, (rel.slope - 1) * cur.error_id + rel.intercept, rtol=1e-9)
    same = rf.robustness_curve(spec, phi=0.5, psi=0.5 / fps, noise_var=0.1)
    np.testing.assert_allclose(same.gap, cur.gap, rtol=1e-14)


def test_robustness_curve_rejects_peak_and_ambiguous_input() -> None:
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    with pytest.raises(ValueError, match="interpolation peak"):
        rf.robustness_curve(spec, phi=0.5, features_per_sample=[0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="exactly one"):
        rf.robustness_curve(spec, phi=0.5)
    ok = rf.robustness_curve(spec, phi=0.5, features_per_sample=[0.5, 1.0, 2.0], gamma=1e-3)
    assert np.all(np.isfinite(ok.ratio))


# --- optimal ridge ---------------------------------------------------------------------------------


def test_optimal_ridge_beats_a_dense_grid_and_regret_is_nonnegative() -> None:
    spec = rf.Spectrum([1.5, 0.5, 0.1], [0.3, 1.0, 2.5])
    psi = np.array([0.25, 1.0, 0.05, 3.0])
    noise = np.array([0.25, 0.0, 1.0, 0.5])
    opt = rf.optimal_ridge(spec, phi=0.5, psi=psi, noise_var=noise, target="ood")
    opt_id = rf.optimal_ridge(spec, phi=0.5, psi=psi, noise_var=noise, target="id")
    g = np.concatenate([[0.0], np.geomspace(1e-8, 1e3, 3001)])
    for i in range(psi.size):
        res = rf.asymptotics(spec, phi=0.5, psi=psi[i], gamma=g, noise_var=noise[i])
        assert opt.error[i] <= np.min(res.error) * (1 + 1e-9)
        assert opt_id.error[i] <= np.min(res.error_id) * (1 + 1e-9)
        at = rf.asymptotics(spec, phi=0.5, psi=psi[i], gamma=opt.gamma[i], noise_var=noise[i])
        assert abs(at.error - opt.error[i]) <= 1e-14 * opt.error[i]
    assert np.all(opt.regret >= 0) and np.any(opt.regret > 1e-6)
    np.testing.assert_allclose(opt.regret, opt_id.regret, rtol=1e-12)
    np.testing.assert_allclose(opt_id.gamma, opt.gamma_id, rtol=0)


def test_optimal_ridge_in_distribution_has_no_regret_and_validates() -> None:
    spec = rf.Spectrum([1.5, 0.5], [1.5, 0.5])
    opt = rf.optimal_ridge(spec, phi=[0.5, 2.0], psi=0.3, noise_var=0.5)
    np.testing.assert_allclose(opt.regret, 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="target"):
        rf.optimal_ridge(spec, phi=1, psi=1, target="test")
    with pytest.raises(ValueError, match="gamma_bounds"):
        rf.optimal_ridge(spec, phi=1, psi=1, gamma_bounds=(1.0, 0.1))


# --- issue 12: both sides of robustness; no NaN ratios -----------------------------------------------


def test_robustness_gap_falls_while_ratio_rises() -> None:
    """docs/analysis.md: the gap falls 0.182 -> 0.072 while the ratio rises 1.25 -> 1.63."""
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    fps = np.geomspace(1.5, 100.0, 12)
    cur = rf.robustness_curve(spec, phi=0.5, features_per_sample=fps, noise_var=0.1)
    assert np.all(np.diff(cur.gap) < 0) and np.all(np.diff(cur.ratio) > 0)
    np.testing.assert_allclose([cur.gap[0], cur.gap[-1]], [0.18230396, 0.07207794], rtol=1e-6)
    np.testing.assert_allclose([cur.ratio[0], cur.ratio[-1]], [1.24795130, 1.63016065], rtol=1e-6)
    rel = rf.linear_relation(spec, phi=0.5, noise_var=0.1)
    np.testing.assert_allclose(cur.ratio, rel.slope + rel.intercept / cur.error_id, rtol=1e-9)
    kernel = rf.robustness_curve(spec, phi=0.5, psi=0.0, noise_var=0.1)
    assert kernel.gap < cur.gap[-1] and kernel.ratio > cur.ratio[-1]  # the ψ -> 0 ends of both trends


def test_relative_regret_zero_over_zero_is_zero() -> None:
    """Issue 12 fault 5: regret exactly 0 at a zero OOD optimum gave NaN with a RuntimeWarning."""
    import warnings

    spec = rf.Spectrum([2.0, 1.0, 0.5], [0.5, 1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt = rf.optimal_ridge(spec, phi=0.5, psi=0.0, noise_var=0.0, activation="linear")
        assert opt.error_ood_at_gamma_ood == 0.0 and opt.regret == 0.0
        assert opt.relative_regret == 0.0
        # E_ID = E_OOD = 0: ratio 1 (equal errors); E_ID = 0 < E_OOD (test mass on a null
        # training direction): inf
        cur = rf.robustness_curve(spec, phi=0.5, psi=0.0, noise_var=0.0, activation="linear")
        assert cur.error_id == 0.0 and cur.error_ood == 0.0 and cur.ratio == 1.0
        null = rf.Spectrum([2.0, 1.0, 0.0], [0.5, 1.0, 2.0])
        cur = rf.robustness_curve(null, phi=0.5, psi=0.0, noise_var=0.0, activation="linear")
        assert cur.error_id == 0.0 and cur.error_ood == pytest.approx(2.0 / 3.0, rel=1e-14)
        assert cur.ratio == np.inf
        opt = rf.optimal_ridge(null, phi=0.5, psi=0.0, noise_var=0.0, activation="linear")
        assert opt.relative_regret == 0.0 and opt.regret == 0.0


def test_safe_ratio_kinds() -> None:
    from rfshift.analysis._ratio import safe_ratio

    out = safe_ratio([0.0, 1.0, 0.0, 3.0], [0.0, 0.0, 2.0, 2.0], zero_over_zero=0.5, name="x")
    np.testing.assert_array_equal(out, [0.5, np.inf, 0.0, 1.5])
    with pytest.raises(ValueError, match="x: numerator"):
        safe_ratio([np.nan], [1.0], zero_over_zero=0.0, name="x")
    with pytest.raises(ValueError, match="y: denominator"):
        safe_ratio([1.0], [-1.0], zero_over_zero=0.0, name="y")
