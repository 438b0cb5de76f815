"""The Chebyshev moment table and the vectorised solver agree with exact sums and scalar brentq."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

import rfshift as rf
from rfshift import engine
from rfshift._moments import KINDS, ChebyshevMoments, exact_moments


def _random_spectrum(rng: np.random.Generator, n_atoms: int) -> rf.Spectrum:
    lam = np.exp(rng.uniform(-8, 8, n_atoms)) * (rng.random(n_atoms) > 0.1)
    lam[0] = 1.0
    lam_star = np.exp(rng.uniform(-3, 3, n_atoms)) * (rng.random(n_atoms) > 0.1)
    lam_star[0] += 0.1
    return rf.Spectrum(lam, lam_star, rng.random(n_atoms) + 0.01)


@pytest.mark.parametrize("seed", range(4))
def test_table_matches_exact_sums(seed: int) -> None:
    rng = np.random.default_rng(seed)
    spec = _random_spectrum(rng, 300)
    cols = np.stack([spec.weights, spec.weights * spec.lam_star, spec.weights * spec.lam], axis=1)
    table = ChebyshevMoments(spec.lam, cols)
    kx = np.exp(rng.uniform(-30, 30, 4000))  # inside and outside the tabulated range
    got = table(kx)
    want = exact_moments(kx, spec.lam, cols)
    for key in KINDS:
        rel = np.abs(got[key] - want[key]) / np.maximum(np.abs(want[key]), 1e-300)
        assert rel.max() < 1e-13, (key, rel.max())
    assert not table.bad.any()


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh", "linear"])
def test_vectorised_engine_matches_per_point_engine(activation: str) -> None:
    """Many points (table path) vs the same points in chunks of 10 (exact sums) away from the peak."""
    rng = np.random.default_rng(7)
    spec = _random_spectrum(rng, 200)
    n = 1000
    phi = np.exp(rng.uniform(-3, 3, n))
    psi = phi * np.exp(rng.choice([-1, 1], n) * rng.uniform(0.05, 5, n))
    psi[:100] = 0.0
    gamma = np.exp(rng.uniform(-20, 8, n))
    gamma[100:400] = 0.0
    noise = rng.uniform(0, 2, n)
    big = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise, activation=activation)
    assert isinstance(engine._moment_source(spec, n), ChebyshevMoments)
    small = np.concatenate([
        np.atleast_1d(rf.asymptotics(spec, phi=phi[i:i + 10], psi=psi[i:i + 10], gamma=gamma[i:i + 10],
                                     noise_var=noise[i:i + 10], activation=activation).error)
        for i in range(0, n, 10)
    ])
    np.testing.assert_allclose(big.error, small, rtol=1e-11, atol=0)


def test_solver_matches_scalar_brentq() -> None:
    """k_x from the vectorised solver equals an independent scalar brentq on THEORY.md §4."""
    spec = rf.Spectrum([3.0, 1.0, 0.2, 0.0], [1.0, 1.0, 2.0, 0.5], [0.2, 0.3, 0.4, 0.1])
    c = rf.activation_constants("relu", spec.s)
    rho, omega = c.mu1**2, c.mu_perp2 / c.mu1**2
    rng = np.random.default_rng(3)
    phi = np.exp(rng.uniform(-2, 2, 50))
    psi = np.exp(rng.uniform(-2, 2, 50))
    gamma = np.exp(rng.uniform(-10, 3, 50))
    res = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma)
    for i in range(50):
        ph, ps, ga = phi[i], psi[i], gamma[i]

        def g(kappa: float, ph: float = ph, ps: float = ps, ga: float = ga) -> float:
            i11 = ph * np.sum(spec.weights * spec.lam / (ph + kappa * spec.lam))
            disc = np.sqrt((ps - ph) ** 2 + 4 * kappa * ps * ph * ga / rho)
            t = (disc + ps - ph) / (2 * ps) if ps >= ph else 2 * kappa * ph * ga / rho / (disc + ph - ps)
            return kappa * (omega + i11) - 1 + t

        kappa = brentq(g, 1e-12, 1e6, xtol=1e-300, rtol=1e-15)
        assert res.kappa[i] == pytest.approx(kappa, rel=1e-12)


def test_table_of_selected_moments_matches_exact_sums_and_refuses_others() -> None:
    """A table built for a few (kind, column) moments (what the engine tabulates) returns them to
    1e-13 of the exact sums, also for λ = 0 atoms; a moment it does not hold raises KeyError."""
    rng = np.random.default_rng(11)
    spec = _random_spectrum(rng, 400)
    cols = np.stack([spec.weights, spec.weights * spec.lam_star, spec.weights * spec.lam], axis=1)
    funcs = (("qq", 0), ("d2", 1), ("u", 2), ("uu", 1))
    table = ChebyshevMoments(spec.lam, cols, funcs=funcs)
    assert table.funcs[:2] == (("q", 0), ("uq", 0))  # the solver's residual is always held
    kx = np.exp(rng.uniform(-30, 30, 3000))
    got = table(kx, select=(*funcs, ("q", 0)))
    want = exact_moments(kx, spec.lam, cols)
    for kind, j in (*funcs, ("q", 0)):
        rel = np.abs(got[kind, j] - want[kind][:, j]) / np.maximum(np.abs(want[kind][:, j]), 1e-300)
        assert rel.max() < 1e-13, (kind, j, rel.max())
    with pytest.raises(KeyError):
        table(kx, select=(("qq", 2),))


def test_node_sums_match_exact_sums_and_decline_outside_the_safe_range() -> None:
    """The node sums (one division and one square per atom) equal the direct kernel sums; with an
    eigenvalue below 1e-100 they decline (None) and the table falls back to exact sums."""
    from rfshift._moments import _NodeSums

    rng = np.random.default_rng(12)
    spec = _random_spectrum(rng, 300)
    cols = np.stack([spec.weights, spec.weights * spec.lam_star, spec.weights * spec.lam], axis=1)
    funcs = tuple((k, j) for k in KINDS for j in range(3))
    k = np.exp(rng.uniform(-20, 20, 500))
    sums = _NodeSums(spec.lam, cols, funcs)(k)
    want = exact_moments(k, spec.lam, cols)
    for i, (kind, j) in enumerate(funcs):
        np.testing.assert_allclose(sums[i], want[kind][:, j], rtol=2e-14, atol=0)
    tiny = rf.Spectrum(np.r_[spec.lam, 1e-120], np.r_[spec.lam_star, 1.0], np.r_[spec.weights, 0.1])
    cols_t = np.stack([tiny.weights, tiny.weights * tiny.lam_star, tiny.weights * tiny.lam], axis=1)
    assert _NodeSums(tiny.lam, cols_t, funcs)(k) is None
    table = ChebyshevMoments(tiny.lam, cols_t)
    kx = np.exp(rng.uniform(-200, 20, 500))
    got, want = table(kx), exact_moments(kx, tiny.lam, cols_t)
    for key in KINDS:
        rel = np.abs(got[key] - want[key]) / np.maximum(np.abs(want[key]), 1e-300)
        assert rel.max() < 1e-13, (key, rel.max())


@pytest.mark.parametrize("seed", range(3))
def test_polish_bracketed_equals_the_general_solver(seed: int) -> None:
    """The whole-array first steps (``polish_bracketed``) give the roots of ``solve_increasing``
    from the same brackets, also where a step leaves its bracket or two steps do not suffice."""
    from rfshift._solve import polish_bracketed, solve_increasing

    rng = np.random.default_rng(seed)
    n = 2000
    a = np.exp(rng.uniform(-3, 3, n))
    b = rng.uniform(-2, 2, n)
    c = np.exp(rng.uniform(-6, 1, n))

    def fun(y, idx):  # increasing: a·sinh(y − b) + c·y³
        sl = slice(None) if idx is None else idx
        yy = y - b[sl]
        return a[sl] * np.sinh(yy) + c[sl] * y**3, a[sl] * np.cosh(yy) + 3 * c[sl] * y * y

    width = rng.choice([0.01, 0.5, 3.0], n)
    root = np.array([brentq(lambda t, i=i: a[i] * np.sinh(t - b[i]) + c[i] * t**3, -10, 10,
                            xtol=1e-15) for i in range(n)])
    lo = root - width * rng.uniform(0.05, 0.95, n)
    hi = lo + width
    f_lo, d_lo = fun(lo, None)
    f_hi, d_hi = fun(hi, None)
    bracket = (lo, hi, f_lo, f_hi, d_lo, d_hi)
    y_p, ok_p = polish_bracketed(fun, bracket)
    y_s, ok_s = solve_increasing(lambda y, idx: fun(y, idx), lo, bracket=bracket)
    assert ok_p.all() and ok_s.all()
    np.testing.assert_allclose(y_p, y_s, rtol=0, atol=1e-13)
    np.testing.assert_allclose(y_p, root, rtol=0, atol=1e-12)
