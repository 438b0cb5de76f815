"""Spectrum: construction, validation, covariance and sample constructors (THEORY.md §2)."""

from __future__ import annotations

import numpy as np
import pytest

import rfshift as rf


def _rotation(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def test_basic_fields_and_normalisation():
    spec = rf.Spectrum([1.0, 2.0, 0.0], [3.0, 0.5, 1.0], weights=[1, 1, 2])
    np.testing.assert_array_equal(spec.weights, [0.25, 0.25, 0.5])
    assert spec.s == pytest.approx(0.75)
    assert spec.s_star == pytest.approx(0.25 * 3 + 0.25 * 0.5 + 0.5)
    assert spec.n_atoms == len(spec) == 3
    assert spec.lam.dtype == np.float64 and spec.lam_star.dtype == np.float64
    default = rf.Spectrum([1.0, 3.0], [1.0, 1.0])
    np.testing.assert_array_equal(default.weights, [0.5, 0.5])
    assert "n_atoms=3" in repr(spec)


def test_arrays_are_read_only_and_copied():
    lam = np.array([1.0, 2.0])
    spec = rf.Spectrum(lam, lam)
    lam[0] = 100.0
    assert spec.lam[0] == 1.0
    with pytest.raises(ValueError):
        spec.lam[0] = 5.0
    with pytest.raises(AttributeError):
        spec.lam = np.array([1.0])


def test_scalar_and_integer_input():
    spec = rf.Spectrum(2, 3)
    assert spec.lam.tolist() == [2.0] and spec.lam_star.tolist() == [3.0]
    assert rf.Spectrum(np.array([1, 2], dtype=np.int32), [1, 2]).lam.dtype == np.float64


def test_isotropic_and_in_distribution():
    iso = rf.Spectrum.isotropic()
    assert iso.lam.tolist() == [1.0] and iso.lam_star.tolist() == [1.0]
    sc = rf.Spectrum.isotropic(2.0, 3.0)
    assert (sc.s, sc.s_star) == (2.0, 3.0)
    spec = rf.Spectrum([1.0, 2.0], [3.0, 4.0], [0.3, 0.7])
    idd = spec.in_distribution()
    np.testing.assert_array_equal(idd.lam_star, spec.lam)
    np.testing.assert_array_equal(idd.weights, spec.weights)
    sw = spec.swapped()
    np.testing.assert_array_equal(sw.lam, spec.lam_star)


def test_test_mass_cdf():
    spec = rf.Spectrum([3.0, 1.0, 2.0], [1.0, 2.0, 4.0], [0.5, 0.25, 0.25])
    t, mass = spec.test_mass_cdf()
    np.testing.assert_array_equal(t, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(mass, [0.5, 1.5, 2.0])
    _t2, m2 = spec.test_mass_cdf([0.0, 1.5, 10.0])
    np.testing.assert_allclose(m2, [0.0, 0.5, spec.s_star])


@pytest.mark.parametrize("lam, lam_star, weights, exc, match", [
    ([1.0, -0.1], [1.0, 1.0], None, ValueError, "lam"),
    ([1.0, 1.0], [1.0, -2.0], None, ValueError, "lam_star"),
    ([1.0, np.nan], [1.0, 1.0], None, ValueError, "NaN"),
    ([1.0, np.inf], [1.0, 1.0], None, ValueError, "inf"),
    ([1.0, 1.0], [1.0, np.inf], None, ValueError, "inf"),
    ([1.0, 2.0], [1.0], None, ValueError, "same length"),
    ([1.0, 2.0], [1.0, 2.0], [1.0], ValueError, "weights"),
    ([1.0, 2.0], [1.0, 2.0], [0.0, 0.0], ValueError, "zero"),
    ([1.0, 2.0], [1.0, 2.0], [1.0, -1.0], ValueError, "weights"),
    ([1.0, 2.0], [1.0, 2.0], [1.0, np.nan], ValueError, "NaN"),
    ([], [], None, ValueError, "empty"),
    ([[1.0, 2.0]], [[1.0, 2.0]], None, ValueError, "one-dimensional"),
    ([0.0, 0.0], [1.0, 1.0], None, ValueError, "zero"),
    ([1.0, 1.0], [0.0, 0.0], None, ValueError, "zero"),
    ([1.0, 0.0], [0.0, 1.0], [1.0, 0.0], ValueError, "zero"),  # test mass only on a weightless atom
    (["1", "2"], [1.0, 2.0], None, TypeError, "lam"),
    ("abc", [1.0], None, TypeError, "lam"),
    ([1 + 1j], [1.0], None, TypeError, "complex"),
    ([True, False], [1.0, 1.0], None, TypeError, "boolean"),
    (True, 1.0, None, TypeError, "boolean"),
    (None, [1.0], None, TypeError, "None"),
    ([1.0], [object()], None, TypeError, "lam_star"),
])
def test_validation(lam, lam_star, weights, exc, match):
    with pytest.raises(exc, match=match):
        rf.Spectrum(lam, lam_star, weights)


def test_from_covariances_commuting():
    lam = np.array([3.0, 1.0, 0.5])
    ls = np.array([0.2, 2.0, 1.0])
    spec = rf.Spectrum.from_covariances(np.diag(lam), np.diag(ls))
    got = sorted(zip(spec.lam.tolist(), spec.lam_star.tolist(), strict=True))
    np.testing.assert_allclose(got, sorted(zip(lam, ls, strict=True)), atol=1e-14)


def test_from_covariances_non_commuting():
    """λ* = diag(Vᵀ Σ* V) in Σ's eigenbasis; the engine result only depends on those atoms."""
    n = 12
    rng = np.random.default_rng(4)
    V = _rotation(n, 1)
    lam = np.geomspace(0.1, 5, n)
    S = (V * lam) @ V.T
    A = rng.standard_normal((n, n))
    S_star = A @ A.T / n
    spec = rf.Spectrum.from_covariances(S, S_star)
    ref_ls = np.einsum("ik,ij,jk->k", V, S_star, V)
    order = np.argsort(spec.lam)
    np.testing.assert_allclose(spec.lam[order], lam, rtol=1e-12)
    np.testing.assert_allclose(spec.lam_star[order], ref_ls, rtol=1e-10, atol=1e-13)
    assert spec.s_star == pytest.approx(np.trace(S_star) / n, rel=1e-12)
    res = rf.asymptotics(spec, phi=0.7, psi=0.3, gamma=0.05, noise_var=0.1)
    res_diag = rf.asymptotics(rf.Spectrum(lam, ref_ls), phi=0.7, psi=0.3, gamma=0.05, noise_var=0.1)
    assert float(res.error) == pytest.approx(float(res_diag.error), rel=1e-11)
    # and a rotation of both matrices changes nothing
    U = _rotation(n, 9)
    spec_rot = rf.Spectrum.from_covariances(U @ S @ U.T, U @ S_star @ U.T)
    res_rot = rf.asymptotics(spec_rot, phi=0.7, psi=0.3, gamma=0.05, noise_var=0.1)
    assert float(res_rot.error) == pytest.approx(float(res.error), rel=1e-10)


def test_from_covariances_degenerate_eigenvalues():
    """With repeated eigenvalues of Σ the eigenbasis is not unique, but the atoms' error is:
    any choice inside the degenerate block gives the same answer (E is linear in λ* per λ)."""
    n = 6
    S = np.diag([2.0, 2.0, 2.0, 0.5, 0.5, 0.5])
    rng = np.random.default_rng(2)
    A = rng.standard_normal((n, n))
    S_star = A @ A.T / n
    spec = rf.Spectrum.from_covariances(S, S_star)
    ref = rf.Spectrum([2.0, 0.5], [np.trace(S_star[:3, :3]) / 3, np.trace(S_star[3:, 3:]) / 3])
    a = rf.asymptotics(spec, phi=0.5, psi=0.2, gamma=0.1, noise_var=0.2)
    b = rf.asymptotics(ref, phi=0.5, psi=0.2, gamma=0.1, noise_var=0.2)
    assert float(a.error) == pytest.approx(float(b.error), rel=1e-11)


@pytest.mark.parametrize("S, S_star, exc, match", [
    (np.array([[1.0, 0.5], [0.0, 1.0]]), np.eye(2), ValueError, "symmetric"),
    (np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]]), ValueError, "positive semi-definite"),
    (np.diag([1.0, -1.0]), np.eye(2), ValueError, "positive semi-definite"),
    (np.eye(2), np.eye(3), ValueError, "same shape"),
    (np.ones((2, 3)), np.ones((2, 3)), ValueError, "square"),
    (np.ones(3), np.ones(3), ValueError, "square"),
    (np.array([[np.nan, 0], [0, 1.0]]), np.eye(2), ValueError, "NaN"),
    (np.eye(2), np.array([[np.inf, 0], [0, 1.0]]), ValueError, "inf"),
    (np.zeros((0, 0)), np.zeros((0, 0)), ValueError, "empty"),
    (np.zeros((2, 2)), np.eye(2), ValueError, "zero"),
    (np.eye(2) * (1 + 1j), np.eye(2), TypeError, "complex"),
    (np.eye(2, dtype=bool), np.eye(2), TypeError, "boolean"),
    ([["a", "b"], ["c", "d"]], np.eye(2), TypeError, "Sigma"),
])
def test_from_covariances_validation(S, S_star, exc, match):
    with pytest.raises(exc, match=match):
        rf.Spectrum.from_covariances(S, S_star)


def test_from_covariances_tolerates_roundoff():
    n = 8
    V = _rotation(n, 3)
    lam = np.r_[np.zeros(3), np.linspace(1, 2, n - 3)]
    S = (V * lam) @ V.T  # PSD with exact zeros: round-off gives tiny negative eigenvalues
    spec = rf.Spectrum.from_covariances(S, S + 1e-13 * np.eye(n))
    assert np.all(spec.lam >= 0) and np.all(spec.lam_star >= 0)
    assert np.sum(spec.lam < 1e-12) == 3


def test_from_samples_matches_np_cov():
    rng = np.random.default_rng(0)
    n0 = 5
    Xa = rng.standard_normal((200, n0)) * np.array([1, 2, 3, 0.5, 1]) + 7.0
    Xb = rng.standard_normal((150, n0)) @ rng.standard_normal((n0, n0))
    spec = rf.Spectrum.from_samples(Xa, Xb)
    ref = rf.Spectrum.from_covariances(np.cov(Xa, rowvar=False), np.cov(Xb, rowvar=False))
    np.testing.assert_allclose(np.sort(spec.lam), np.sort(ref.lam), rtol=1e-12)
    assert spec.s_star == pytest.approx(np.trace(np.cov(Xb, rowvar=False)) / n0, rel=1e-12)
    # centred: shifting the data changes nothing
    shifted = rf.Spectrum.from_samples(Xa + 100.0, Xb - 3.0)
    np.testing.assert_allclose(np.sort(shifted.lam), np.sort(spec.lam), rtol=1e-9)


@pytest.mark.parametrize("Xa, Xb, exc, match", [
    (np.ones((1, 3)), np.ones((5, 3)), ValueError, "at least 2"),
    (np.ones((5, 3)), np.ones((5, 4)), ValueError, "columns"),
    (np.ones(5), np.ones((5, 1)), ValueError, "2-D"),
    (np.full((3, 2), np.nan), np.ones((3, 2)), ValueError, "NaN"),
    (np.zeros((4, 0)), np.zeros((4, 0)), ValueError, "columns"),
    (np.ones((5, 2)), np.ones((5, 2)), ValueError, "zero"),  # constant data: zero covariance
    ([["x", "y"], ["z", "w"]], np.ones((3, 2)), TypeError, "X_train"),
])
def test_from_samples_validation(Xa, Xb, exc, match):
    with pytest.raises(exc, match=match):
        rf.Spectrum.from_samples(Xa, Xb)
