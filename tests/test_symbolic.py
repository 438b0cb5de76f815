"""Tests of rfshift.symbolic: sympy formulas, exact polynomial fixed point, mpmath engine."""

from __future__ import annotations

import subprocess
import sys

import mpmath
import numpy as np
import pytest
import sympy as sp

import rfshift as rf
from rfshift.symbolic import (
    asymptotics_mp,
    equations,
    fixed_point_polynomial,
    isotropic_error_ridgeless,
    isotropic_ridgeless_kx,
    latex_equations,
    symbols,
)

# THEORY.md §10: (λ, λ*, p, φ, ψ, γ, σ², act, κ, E, B, V, E_ID)
REFERENCE = [
    ([1], [1], [1], 0.5, 0.25, 0.1, 0.1, "relu", 0.7557644831, 0.3233954427, 0.1585344379, 0.1648610047,
     0.3233954427),
    ([1.5, 0.5], [0.5, 1.5], [0.5, 0.5], 0.5, 0.25, 0.01, 0.25, "relu", 1.4840392096, 0.6396115554,
     0.1299572982, 0.5096542572, 0.4903704219),
    ([1], [2], [1], 0.8, 0.4, 0.05, 0.0, "erf", 1.6670180673, 0.6694108146, 0.4542724121, 0.2151384025,
     0.2642299828),
    ([2, 1, 0.25], [0.5, 1, 1.5], [0.25, 0.5, 0.25], 1.0, 0.3, 0.0, 0.2, "tanh", 3.3721406027,
     0.7596871105, 0.1315499717, 0.6281371388, 0.5259195858),
    ([3, 0.5], [1, 2], [0.2, 0.8], 0.5, 1.0, 0.0, 0.1, "relu", 0.7003029467, 2.0325104912, 0.5608272330,
     1.4716832582, 0.8011929822),
    ([2, 0.5], [1, 1], [0.5, 0.5], 0.7, 0.3, 0.1, 0.2, "linear", 3.3179918129, 0.2829315197, 0.0485787454,
     0.2343527743, 0.2464135294),
]


def test_import_rfshift_does_not_import_sympy() -> None:
    code = "import sys, rfshift; print('sympy' in sys.modules, 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# --- arbitrary precision ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", REFERENCE, ids=[f"R{i + 1}" for i in range(len(REFERENCE))])
def test_mp_matches_theory_reference_values(case: tuple) -> None:
    lam, lam_s, p, phi, psi, gamma, nv, act, kappa, err, bias, var, err_id = case
    res = asymptotics_mp(rf.Spectrum(lam, lam_s, p), phi=phi, psi=psi, gamma=gamma, noise_var=nv,
                         activation=act, precision=30)
    for got, want in ((res.kappa, kappa), (res.error, err), (res.bias, bias), (res.variance, var),
                      (res.error_id, err_id)):
        assert abs(float(got) - want) < 1.5e-10
    assert isinstance(res.error, mpmath.mpf)


def test_mp_is_stable_in_its_own_precision() -> None:
    spec = rf.Spectrum([2, 1, 0.25], [0.5, 1, 1.5], [0.25, 0.5, 0.25])
    a = asymptotics_mp(spec, phi=0.8, psi=0.8 * (1 - 1e-9), gamma=1e-12, noise_var=0.3, precision=40)
    b = asymptotics_mp(spec, phi=0.8, psi=0.8 * (1 - 1e-9), gamma=1e-12, noise_var=0.3, precision=70)
    for name in ("error", "error_id", "k_x", "t", "t_bar"):
        x, y = getattr(a, name), getattr(b, name)
        assert abs(x - y) <= mpmath.mpf(10) ** -36 * abs(y)


def test_mp_confirms_engine_on_random_configurations() -> None:
    rng = np.random.default_rng(5)
    for act in ("relu", "erf", "linear", "leaky_relu"):
        for _ in range(6):
            n = int(rng.integers(1, 5))
            spec = rf.Spectrum(rng.uniform(0.05, 3, n), rng.uniform(0, 3, n) + 0.01, rng.uniform(0.1, 1, n))
            phi, psi = 10 ** rng.uniform(-1, 0.7), 10 ** rng.uniform(-1, 0.7)
            gamma = float(rng.choice([0.0, 10 ** rng.uniform(-4, 1)]))
            nv = float(rng.uniform(0, 1))
            if gamma == 0 and abs(psi - phi) < 0.05:
                continue
            eng = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=nv, activation=act)
            mp_ = asymptotics_mp(spec, phi=phi, psi=psi, gamma=gamma, noise_var=nv, activation=act,
                                 precision=30)
            for name, val in (("error", eng.error), ("error_id", eng.error_id), ("k_x", eng.k_x),
                              ("variance", eng.variance)):
                ref = float(getattr(mp_, name))
                assert abs(float(val) - ref) <= 1e-11 * abs(ref), (act, name, phi, psi, gamma)


def test_mp_kernel_limit_and_peak() -> None:
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    eng = rf.asymptotics(spec, phi=0.5, psi=0.0, gamma=0.01, noise_var=0.25)
    mp_ = asymptotics_mp(spec, phi=0.5, psi=0, gamma=0.01, noise_var=0.25)
    assert abs(float(mp_.error) - eng.error) < 1e-13 * eng.error
    # THEORY.md §10 quotes E → 0.26259763 for R2 at ψ → 0 (8 digits; we get 0.2625976411)
    assert abs(float(mp_.error) - 0.26259763) < 2e-8
    peak = asymptotics_mp(spec, phi=0.5, psi=0.5, gamma=0, noise_var=0.25)
    assert peak.error == mpmath.inf and peak.variance == mpmath.inf and mpmath.isfinite(peak.bias)


SPEC_PEAK = rf.Spectrum([1.5, 0.5, 0.1], [0.5, 1.5, 1.0], [0.3, 0.5, 0.2])

@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("side", [-1.0, 1.0])
@pytest.mark.parametrize("gamma", [1e-8, 1e-12, 0.0])
def test_mp_confirms_engine_near_interpolation_peak(act: str, side: float, gamma: float) -> None:
    """|1 − ψ/φ| = 1e-6, γ ≤ 1e-8: the float64 engine agrees with 40-digit arithmetic to 1e-12.

    (This caught a loss of ~1e-16/|1 − ψ/φ| relative digits when t̄ = 1 − ψP was formed from P ≈ 1/φ;
    the engine now solves for t, t̄ from 1 − ψ/φ, see docs/analysis.md.)
    """
    phi = 0.8
    psi = phi * (1 + side * 1e-6)
    eng = rf.asymptotics(SPEC_PEAK, phi=phi, psi=psi, gamma=gamma, noise_var=0.1, activation=act)
    ref = asymptotics_mp(SPEC_PEAK, phi=phi, psi=psi, gamma=gamma, noise_var=0.1, activation=act,
                         precision=40)
    assert float(ref.error) > 100 * float(ref.bias)  # really next to the peak
    for name in ("error", "error_id", "variance", "k_x"):
        want = float(getattr(ref, name))
        assert abs(float(getattr(eng, name)) - want) <= 1e-12 * abs(want), name


def test_mp_rejects_bad_input() -> None:
    spec = rf.Spectrum([1.0], [1.0])
    with pytest.raises(ValueError, match="precision"):
        asymptotics_mp(spec, phi=1, psi=1, gamma=1, precision=5)
    with pytest.raises(ValueError, match="phi"):
        asymptotics_mp(spec, phi=0, psi=1, gamma=1)
    with pytest.raises(ValueError, match="gamma"):
        asymptotics_mp(spec, phi=1, psi=1, gamma=-1)
    custom = rf.Activation(np.tanh, name="mytanh")
    with pytest.raises(ValueError, match="arbitrary-precision"):
        asymptotics_mp(spec, phi=1, psi=1, gamma=1, activation=custom)
    with pytest.raises(ValueError, match="mu1"):
        asymptotics_mp(spec, phi=1, psi=1, gamma=1, activation="quadratic")
    with pytest.raises(ValueError, match="κ = ∞"):
        asymptotics_mp(spec, phi=0.5, psi=0.25, gamma=0, activation="linear")


def test_mp_smooth_activation_by_quadrature_matches_engine() -> None:
    spec = rf.Spectrum([2, 1, 0.25], [0.5, 1, 1.5], [0.25, 0.5, 0.25])
    for act in ("softplus", "elu"):  # (tanh: reference value R4; elu has a kink at 0)
        eng = rf.asymptotics(spec, phi=1.0, psi=0.3, gamma=0.05, noise_var=0.2, activation=act)
        mp_ = asymptotics_mp(spec, phi=1.0, psi=0.3, gamma=0.05, noise_var=0.2, activation=act, precision=16)
        assert abs(float(mp_.error) - eng.error) < 1e-11 * eng.error


# --- exact polynomial ------------------------------------------------------------------------------


def test_polynomial_root_matches_engine_and_mp_linear_activation() -> None:
    spec = rf.Spectrum([1.5, 0.5, 0.25], [1, 1, 1], [1, 2, 1])  # dyadic: same numbers in all paths
    fp = fixed_point_polynomial(spec, phi="0.7", psi="0.3", gamma="1/10", digits=40)
    assert fp.poly.degree() == 2 * 3 + 2
    assert all(c.is_Rational for c in fp.poly.all_coeffs())
    lo, hi = fp.interval
    assert sp.sign(fp.poly.eval(lo)) * sp.sign(fp.poly.eval(hi)) <= 0  # certified sign change
    assert hi - lo < sp.Rational(1, 10**39)
    eng = rf.asymptotics(spec, phi=0.7, psi=0.3, gamma=0.1, activation="linear")
    assert abs(float(fp.root) - eng.k_x) < 1e-14 * eng.k_x
    assert abs(float(fp.kappa) - eng.kappa) < 1e-13 * eng.kappa
    mp_ = asymptotics_mp(spec, phi=sp.Rational("0.7").__str__(), psi="3/10", gamma="1/10",
                         activation="linear", precision=40)
    with mpmath.workdps(40):
        assert abs(mp_.k_x - fp.root) < mpmath.mpf(10) ** -35
    # the physical root is the largest; every other positive root violates κ_f, κ_s >= 0
    top = max(fp.real_roots, key=lambda iv: iv[1])
    assert top[0] <= lo and hi <= top[1]


def test_polynomial_with_rational_relu_constants_matches_mp() -> None:
    lam = ["3/2", "1/2"]
    s = sp.Rational(1)
    with mpmath.workdps(60):
        mup2 = mpmath.mpf(1) / 4 - 1 / (2 * mpmath.pi)
        mup2_q = sp.Rational(mpmath.nstr(mup2, 55))  # rational to 55 digits
    fp = fixed_point_polynomial(lam=lam, phi="1/2", psi="1/4", gamma="1/100", rho="1/4", mu_perp2=mup2_q * s,
                                activation="relu", digits=45)
    mp_ = asymptotics_mp(rf.Spectrum([1.5, 0.5], [0.5, 1.5]), phi="1/2", psi="1/4", gamma="1/100",
                         noise_var=0.25, precision=45)
    with mpmath.workdps(45):
        assert abs(mp_.k_x - fp.root) < mpmath.mpf(10) ** -40 * fp.root
    assert abs(float(fp.kappa) - 1.4840392096) < 1e-10  # THEORY.md §10, R2
    with pytest.raises(ValueError, match="rational"):
        fixed_point_polynomial(lam=lam, phi=1, psi=1, gamma=1, activation="relu")


def test_polynomial_ridgeless_and_kernel_limit() -> None:
    spec = rf.Spectrum([2.0, 0.5], [1, 1])
    for psi, gamma in (("1/2", 0), (0, "1/10"), ("3", 0)):
        fp = fixed_point_polynomial(spec, phi="1.5", psi=psi, gamma=gamma, rho="1/4", mu_perp2="1/10",
                                    activation="custom")
        # compare with the engine using an activation with exactly these constants
        act = rf.Activation(lambda x: x, name="const", closed_form=lambda v: (0.0, 0.5, 0.1))
        eng = rf.asymptotics(spec, phi=1.5, psi=float(sp.Rational(psi)), gamma=float(sp.Rational(gamma)),
                             activation=act)
        assert abs(float(fp.root) - eng.k_x) < 1e-13 * eng.k_x


# --- closed forms and equations --------------------------------------------------------------------


def test_isotropic_closed_forms_match_engine() -> None:
    kx_expr, ks = isotropic_ridgeless_kx()
    err_over, es = isotropic_error_ridgeless(True)
    err_under, _ = isotropic_error_ridgeless(False)
    lam, lam_s, nv = 1.3, 0.7, 0.2
    act = "erf"
    c, cs = rf.activation_constants(act, lam), rf.activation_constants(act, lam_s)
    rho, rho_s = c.mu1**2, cs.mu1**2
    spec = rf.Spectrum([lam], [lam_s])
    for phi, psi, expr in ((0.8, 0.3, err_over), (0.8, 1.7, err_under)):
        q = 1 / max(phi, psi)
        kx = float(kx_expr.subs({ks["lam"]: lam, ks["q"]: q, ks["rho"]: rho, ks["mu_perp2"]: c.mu_perp2}))
        eng = rf.asymptotics(spec, phi=phi, psi=psi, gamma=0.0, noise_var=nv, activation=act)
        assert abs(kx - eng.k_x) < 1e-13 * eng.k_x
        val = float(expr.subs({es["lam"]: lam, es["lam_star"]: lam_s, es["phi"]: phi, es["psi"]: psi,
                               es["k_x"]: kx, es["rho"]: rho, es["omega"]: c.mu_perp2 / rho,
                               es["rho_star"]: rho_s, es["omega_star"]: cs.mu_perp2 / rho_s,
                               es["sigma2"]: nv}))
        assert abs(val - eng.error) < 1e-12 * eng.error


def _numeric_moments(spec: rf.Spectrum, res: rf.Asymptotics) -> dict:
    S = symbols()
    kx, phi = float(res.k_x), float(res.phi)
    kappa = phi / kx
    u = kx / (spec.lam + kx)
    p, lam, ls = spec.weights, spec.lam, spec.lam_star
    return {
        S["phi"]: phi, S["psi"]: float(res.psi), S["gamma"]: float(res.gamma), S["kappa"]: kappa,
        S["rho"]: res.rho, S["omega"]: res.omega, S["rho_star"]: res.rho_star,
        S["omega_star"]: res.omega_star, S["r"]: res.r, S["sigma2"]: float(res.noise_var),
        S["t"]: float(res.t), S["t_bar"]: float(res.t_bar),
        S["I11"]: p @ (lam * u), S["I12"]: p @ (lam * u**2) / phi, S["I22"]: p @ (lam * u * (1 - u)) / kappa,
        S["Is11"]: p @ (ls * u), S["Is12"]: p @ (ls * u**2) / phi, S["Is22"]: p @ (ls * u * (1 - u)) / kappa,
    }


def test_sympy_equations_evaluate_to_the_engine() -> None:
    eqs = equations()
    S = symbols()
    spec = rf.Spectrum([2, 1, 0.25], [0.5, 1, 1.5], [0.25, 0.5, 0.25])
    res = rf.asymptotics(spec, phi=1.0, psi=0.3, gamma=0.05, noise_var=0.2, activation="erf")
    vals = _numeric_moments(spec, res)
    D = float(eqs["D"].rhs.subs(vals))
    vals[S["D"]] = D
    assert abs(float(eqs["variance"].rhs.subs(vals)) - res.variance) < 1e-12 * res.variance
    assert abs(float(eqs["t"].rhs.subs(vals)) - res.t) < 1e-12
    assert abs(float(eqs["t_bar"].rhs.subs(vals)) - res.t_bar) < 1e-12
    fp = eqs["fixed_point"]
    assert abs(float(fp.lhs.subs(vals)) - float(fp.rhs.subs(vals))) < 1e-12
    # the split E* = F + ∫ w dν with K = ρ*ψκ/D
    vals[S["K"]] = res.rho_star * float(res.psi) * vals[S["kappa"]] / D
    w = sp.lambdify(S["u"], eqs["weight"].rhs.subs(vals), "numpy")
    u = float(res.k_x) / (spec.lam + float(res.k_x))
    total = float(eqs["F"].rhs.subs(vals)) + float(np.sum(spec.weights * spec.lam_star * w(u)))
    assert abs(total - res.error) < 1e-12 * res.error
    # ridgeless formulas
    res0 = rf.asymptotics(spec, phi=1.0, psi=0.3, gamma=0.0, noise_var=0.2, activation="erf")
    v0 = _numeric_moments(spec, res0)
    assert abs(float(eqs["variance_ridgeless_over"].rhs.subs(v0)) - res0.variance) < 1e-12 * res0.variance
    slope = float(eqs["linear_slope"].rhs.subs(v0))
    rel = rf.linear_relation(spec, phi=1.0, noise_var=0.2, activation="erf")
    assert abs(slope - rel.slope) < 1e-12 * rel.slope


def test_latex_equations_cover_every_formula() -> None:
    eqs = equations()
    tex = latex_equations()
    assert set(tex) == set(eqs)
    assert {"fixed_point", "variance", "bias", "weight", "linear_slope", "t"} <= set(tex)
    assert all(isinstance(v, str) and "=" in v for v in tex.values())
    assert r"\kappa" in tex["fixed_point"]
